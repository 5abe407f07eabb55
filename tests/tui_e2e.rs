//! The real binary in a pseudo-terminal: `supsync demo` against its in-process simulator.
//! Keys are typed into the pty and the screen is read back through a vt100 parser, the way
//! an operator would see it: `p` pauses (PAUSED) and resumes, `f` renews the token (the
//! renewal count goes up), `r` answers about the selected segment, `q` asks before
//! stopping, `y` stops; the terminal is restored and the resume command printed.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::pty::Pty;

const ROWS: u16 = 40;
const COLS: u16 = 160;

/// `supsync ARGS` in a 40×160 pty with its own state dir, colours on.
fn console(args: &[&str], state_dir: &std::path::Path) -> Pty {
    let state = state_dir.to_string_lossy().to_string();
    Pty::start(args, &[("SUPSYNC_STATE_DIR", state.as_str())], ROWS, COLS)
}

/// The simulator's address as the header shows it (`→ 127.0.0.1:PORT`).
fn sim_addr(screen: &str) -> Option<String> {
    let at = screen.find("→ 127.0.0.1:")? + "→ ".len();
    let addr: String = screen[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
        .collect();
    Some(addr)
}

/// `POST /_sim/outage?seconds=N`: every call answers 503 for N seconds.
fn outage(addr: &str, seconds: u32) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /_sim/outage?seconds={seconds} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 2"), "outage refused: {answer}");
}

/// Failed segments as the header counts them (` · N failed`), 0 when none.
fn failed(screen: &str) -> u32 {
    screen
        .lines()
        .take(5)
        .find_map(|l| {
            let end = l.find(" failed")?;
            l[..end].rsplit(' ').next()?.parse().ok()
        })
        .unwrap_or(0)
}

/// The number after `renewals` in the token pane.
fn renewals(screen: &str) -> Option<u32> {
    let rest = &screen[screen.find("renewals")? + "renewals".len()..];
    rest.split_whitespace().next()?.parse().ok()
}

#[test]
fn demo_console_answers_p_f_r_q() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = console(&["demo", "--records", "400"], dir.path());
    let long = Duration::from_secs(30);

    let s = c.wait_for("the run to start", long, |s| {
        s.contains("RUNNING") && s.contains("segments") && renewals(s).is_some()
    });
    assert!(s.contains("token"), "{s}");
    assert!(s.contains("q quit"), "footer lists the keys: {s}");

    c.press("p");
    c.wait_for("PAUSED", long, |s| s.contains("PAUSED"));
    c.press("p");
    c.wait_for("RUNNING again", long, |s| s.contains("RUNNING"));

    let before = renewals(&c.screen()).unwrap_or(0);
    c.press("f");
    c.wait_for("a forced renewal", long, |s| {
        renewals(s).is_some_and(|n| n > before)
    });

    // The cursor starts on segment 0, which has not failed: the console says so.
    c.press("r");
    c.wait_for("the answer to r", long, |s| s.contains("has not failed"));

    // An outage longer than the demo's attempts (Retry-After capped at 2 s, 5 attempts)
    // makes the segment in flight fail.
    let addr = sim_addr(&c.screen()).expect("the header shows the simulator's address");
    outage(&addr, 12);
    c.wait_for("a failed segment", long, |s| {
        failed(s) > 0 && s.contains("✗")
    });
    std::thread::sleep(Duration::from_secs(5)); // the outage ends
    let before = failed(&c.screen());
    c.press("n"); // jump to it
    c.press("r");
    c.wait_for("the retry", long, |s| s.contains("retrying segment"));
    c.wait_for("one failed segment fewer", long, |s| failed(s) < before);

    c.press("q");
    c.wait_for("the quit question", long, |s| {
        s.contains("Stop the sync and quit?")
    });
    c.press("y");
    let status = {
        let start = Instant::now();
        loop {
            if let Some(st) = c.child.try_wait().unwrap() {
                break st;
            }
            assert!(start.elapsed() < long, "the console did not exit after y");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    std::thread::sleep(Duration::from_millis(300)); // let the reader take the last bytes
    let raw = c.raw();
    // Entered and left the alternate screen exactly once: restored once, not twice.
    assert_eq!(raw.matches("\x1b[?1049h").count(), 1, "entered once");
    assert_eq!(
        raw.matches("\x1b[?1049l").count(),
        1,
        "restored exactly once"
    );
    let after = c.screen();
    assert!(
        prints_resume_command(&after),
        "prints the resume command after restoring: {after}"
    );
    assert_eq!(status.exit_code(), 5, "interrupted: {after}");
}

#[test]
fn sigterm_restores_the_terminal_once_and_prints_the_resume_command() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = console(&["demo", "--records", "300"], dir.path());
    let long = Duration::from_secs(30);
    c.wait_for("the run to start", long, |s| s.contains("RUNNING"));
    let pid = c.child.process_id().expect("the child has a pid");
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let start = Instant::now();
    let status = loop {
        if let Some(st) = c.child.try_wait().unwrap() {
            break st;
        }
        assert!(start.elapsed() < long, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    std::thread::sleep(Duration::from_millis(300));
    let raw = c.raw();
    assert_eq!(
        raw.matches("\x1b[?1049l").count(),
        1,
        "restored exactly once"
    );
    let after = c.screen();
    assert!(after.contains("interrupted"), "{after}");
    assert!(prints_resume_command(&after), "{after}");
    assert_eq!(status.exit_code(), 5, "{after}");
}

/// The demo names its own state dir in the hint: `supsync --state-dir DIR resume RUN_ID`.
fn prints_resume_command(screen: &str) -> bool {
    screen
        .lines()
        .any(|l| l.contains("supsync --state-dir ") && l.contains(" resume "))
}
