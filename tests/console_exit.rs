//! How the console ends when the operator is not the one ending it: the real binary
//! (`supsync demo`) in a pseudo-terminal, read back through a vt100 parser. An external
//! SIGINT restores the terminal and prints the resume hint (exit 5); a hung-up terminal (the
//! pty master closed) ends the run resumably without a panic; a resize is redrawn without
//! asking the terminal for its cursor position, which this harness, like some terminals,
//! never answers.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, ExitStatus, MasterPty, PtySize, native_pty_system};

const ROWS: u16 = 40;
const COLS: u16 = 160;
/// Generous bound for anything the console does within a second or two.
const LONG: Duration = Duration::from_secs(30);

/// The cursor-position query (DSR 6). Nothing here answers it.
const CURSOR_QUERY: &str = "\x1b[6n";
const LEAVE_ALT_SCREEN: &str = "\x1b[?1049l";
const SHOW_CURSOR: &str = "\x1b[?25h";
/// Ends every frame (the console draws inside synchronized updates).
const END_OF_FRAME: &str = "\x1b[?2026l";

struct Console {
    parser: Arc<Mutex<vt100::Parser>>,
    /// Every byte the program wrote.
    raw: Arc<Mutex<Vec<u8>>>,
    master: Option<Box<dyn MasterPty + Send>>,
    /// Taken on the first key: portable-pty's writer sends "\n" + EOF when dropped, which
    /// the hang-up test must not type.
    writer: Option<Box<dyn Write + Send>>,
    /// Tells the reader thread to close its end of the pty (its master fd).
    hang_up: Arc<AtomicBool>,
    child: Box<dyn Child + Send + Sync>,
}

impl Console {
    fn start(args: &[&str], state_dir: &std::path::Path) -> Console {
        let pair = native_pty_system()
            .openpty(size(ROWS, COLS))
            .expect("a pty opens");
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_supsync"));
        cmd.args(args);
        cmd.env("SUPSYNC_STATE_DIR", state_dir);
        cmd.env("TERM", "xterm-256color");
        cmd.env_remove("NO_COLOR");
        cmd.env_remove("RUST_LOG");
        let child = pair.slave.spawn_command(cmd).expect("supsync starts");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("a pty reader");
        let parser = Arc::new(Mutex::new(vt100::Parser::new(nz(ROWS), nz(COLS), 0)));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let hang_up = Arc::new(AtomicBool::new(false));
        let (p, r, h) = (parser.clone(), raw.clone(), hang_up.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            // The console draws every tick, so a read returns often enough to see the flag.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || h.load(Ordering::SeqCst) {
                    break;
                }
                p.lock().unwrap().process(&buf[..n]);
                r.lock().unwrap().extend_from_slice(&buf[..n]);
            }
            // `reader` drops here: with the master and no writer, the last fd of the pty.
        });
        Console {
            parser,
            raw,
            master: Some(pair.master),
            writer: None,
            hang_up,
            child,
        }
    }

    fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// The first three rows of the screen and its last row, as shown.
    fn top_and_bottom(&self) -> (String, String) {
        let p = self.parser.lock().unwrap();
        let (_, cols) = p.screen().size();
        let rows: Vec<String> = p.screen().rows(0, cols.get()).collect();
        (
            rows.iter().take(3).cloned().collect::<Vec<_>>().join("\n"),
            rows.last().cloned().unwrap_or_default(),
        )
    }

    /// Whether the pty is in canonical mode with echo, as a shell wants it (raw mode left).
    fn cooked(&self) -> bool {
        let m = self.master.as_ref().expect("the pty is open");
        let fd = m.as_raw_fd().expect("a unix pty");
        // SAFETY: tcgetattr writes into the termios we own; fd is the open master.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::tcgetattr(fd, &mut t) }, 0, "tcgetattr");
        t.c_lflag & (libc::ICANON | libc::ECHO) == (libc::ICANON | libc::ECHO)
    }

    fn raw(&self) -> String {
        String::from_utf8_lossy(&self.raw.lock().unwrap()).to_string()
    }

    fn press(&mut self, keys: &str) {
        if self.writer.is_none() {
            let m = self.master.as_ref().expect("the pty is open");
            self.writer = Some(m.take_writer().expect("a pty writer"));
        }
        let w = self.writer.as_mut().expect("taken above");
        w.write_all(keys.as_bytes()).unwrap();
        w.flush().unwrap();
    }

    /// Resizes the pty (the program gets SIGWINCH) and the parser with it.
    fn resize(&mut self, rows: u16, cols: u16) {
        // The parser first: the console may redraw as soon as the pty changes.
        self.parser.lock().unwrap().set_size(nz(rows), nz(cols));
        let m = self.master.as_ref().expect("the pty is open");
        m.resize(size(rows, cols)).expect("the pty resizes");
    }

    /// Closes every master fd, as a terminal emulator does when its window is closed.
    fn hang_up(&mut self) {
        self.hang_up.store(true, Ordering::SeqCst);
        self.master = None;
        assert!(self.writer.is_none(), "dropping the writer would type EOF");
    }

    /// Waits until the screen satisfies `ok`; fails with the screen when it does not.
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            assert!(
                start.elapsed() < LONG,
                "timed out after {LONG:?} waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_exit(&mut self, after: &str) -> ExitStatus {
        let start = Instant::now();
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            assert!(start.elapsed() < LONG, "no exit after {after}");
            std::thread::sleep(Duration::from_millis(100));
        };
        std::thread::sleep(Duration::from_millis(300)); // the reader takes the last bytes
        status
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.process_id().expect("the child has a pid");
        let sent = std::process::Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill {sig} {pid}");
    }
}

fn nz(n: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(n).unwrap()
}

fn size(rows: u16, cols: u16) -> PtySize {
    PtySize {
        rows,
        cols,
        pixel_width: 0,
        pixel_height: 0,
    }
}

/// The demo names its own state dir in the hint: `supsync --state-dir DIR resume RUN_ID`.
fn prints_resume_command(screen: &str) -> bool {
    screen
        .lines()
        .any(|l| l.contains("supsync --state-dir ") && l.contains(" resume "))
}

/// The demo's console log (`<state>/demo/console.log`).
fn console_log(state: &std::path::Path) -> String {
    std::fs::read_to_string(state.join("demo/console.log")).unwrap_or_default()
}

#[test]
fn external_sigint_stops_like_ctrl_c_and_restores_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Console::start(&["demo", "--records", "300"], dir.path());
    c.wait_for("the run to start", |s| s.contains("RUNNING"));
    c.signal("-INT");
    let status = c.wait_exit("SIGINT");

    let raw = c.raw();
    let after = c.screen();
    // Leaving the alternate screen and showing the cursor come after the last frame drawn,
    // and raw mode is off again.
    let left = raw
        .rfind(LEAVE_ALT_SCREEN)
        .expect("left the alternate screen");
    assert_eq!(raw.matches(LEAVE_ALT_SCREEN).count(), 1, "restored once");
    let shown = raw.rfind(SHOW_CURSOR).expect("showed the cursor");
    let last_frame = raw.rfind(END_OF_FRAME).expect("frames were drawn");
    assert!(left > last_frame, "restored after the last frame");
    assert!(shown > last_frame, "cursor shown after the last frame");
    assert!(c.cooked(), "raw mode left");
    assert!(after.contains("interrupted"), "{after}");
    assert!(prints_resume_command(&after), "{after}");
    assert!(!raw.contains("panicked"), "{after}");
    assert_eq!(status.exit_code(), 5, "{after}");
    assert!(
        console_log(dir.path()).contains("SIGINT"),
        "the log says why"
    );
}

#[test]
fn a_closed_terminal_ends_the_run_resumably_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Console::start(&["demo", "--records", "300"], dir.path());
    c.wait_for("the run to start", |s| s.contains("RUNNING"));
    c.hang_up();
    let status = c.wait_exit("the hang-up");

    let code = status.exit_code();
    let log = console_log(dir.path());
    assert_ne!(
        code, 101,
        "a panic (writing to the dead terminal?); log:\n{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
    assert_eq!(code, 5, "interrupted, resumable; log:\n{log}");
    assert!(
        log.contains("SIGHUP") || log.contains("the terminal is gone"),
        "the log says why: {log}"
    );
}

#[test]
fn a_resize_redraws_without_asking_for_the_cursor_and_keeps_running() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Console::start(&["demo", "--records", "300"], dir.path());
    c.wait_for("the run to start", |s| s.contains("RUNNING"));
    let before = c.raw.lock().unwrap().len();

    // The header (RUNNING) is at the top, the footer (`q quit`) the bottom row. Shrinking
    // the screen cuts the old frame's top rows off, so both show only once the console
    // has drawn a frame at the new size.
    let fits =
        |(top, bottom): &(String, String)| top.contains("RUNNING") && bottom.contains("quit");
    assert!(fits(&c.top_and_bottom()), "{}", c.screen());
    c.resize(30, 100);
    let start = Instant::now();
    while !fits(&c.top_and_bottom()) {
        assert!(start.elapsed() < LONG, "no frame at 30x100: {}", c.screen());
        std::thread::sleep(Duration::from_millis(100));
    }
    // An unanswered cursor query used to end the console after its 2 s timeout; stay up
    // past it, still drawing.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        c.child.try_wait().unwrap().is_none(),
        "the console ended after the resize: {}",
        c.screen()
    );
    let drawn = c.raw.lock().unwrap().len();
    assert!(drawn > before, "frames after the resize");
    assert!(
        !c.raw().contains(CURSOR_QUERY),
        "the console asked for the cursor position"
    );

    c.press("q");
    c.wait_for("the quit question", |s| {
        s.contains("Stop the sync and quit?")
    });
    c.press("y");
    let status = c.wait_exit("q y");
    let after = c.screen();
    assert!(prints_resume_command(&after), "{after}");
    assert_eq!(status.exit_code(), 5, "{after}");
}
