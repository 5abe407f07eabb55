//! Terminal set-up and restore. Restore happens exactly once whatever the exit path:
//! the guard's `Drop` (normal return, `?` errors, unwinding) and the panic hook share one
//! atomic flag, so whichever comes first restores and the other does nothing.
//!
//! We install our own panic hook rather than `ratatui::init`'s: that one restores on a
//! panic in *any* thread, so an engine task panicking (which tokio catches, and the console
//! reports) would tear the screen down under a console that keeps running. Ours restores
//! only when the panic is on the thread that drives the console, and then prints it; a
//! panic elsewhere while the console is up goes to the log (file and pane), not over the
//! screen: the engine reports it as an internal error and the run ends as a failure.

use std::io::{Stdout, Write, stdout};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::ThreadId;

use anyhow::Context;
use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{
    BeginSynchronizedUpdate, EndSynchronizedUpdate, EnterAlternateScreen, LeaveAlternateScreen,
    disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// True while the terminal is in raw mode on the alternate screen.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The thread that set the terminal up (the panic hook's business).
static UI_THREAD: Mutex<Option<ThreadId>> = Mutex::new(None);
static HOOK: std::sync::Once = std::sync::Once::new();

pub type Term = Terminal<CrosstermBackend<TermOut>>;

/// stdout for the console. After the first failed write (the terminal hung up) every later
/// write is swallowed: the console has already been told once and stops drawing, and
/// ratatui's `Terminal` would otherwise `eprintln!` its failure to show the cursor when
/// dropped, which panics on the same dead terminal.
pub struct TermOut {
    out: Stdout,
    dead: bool,
}

impl TermOut {
    /// Passes `r` on; a failure other than an interruption marks the terminal gone.
    fn note<T>(&mut self, r: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &r
            && e.kind() != std::io::ErrorKind::Interrupted
        {
            self.dead = true;
        }
        r
    }
}

impl Write for TermOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.dead {
            return Ok(buf.len());
        }
        let r = self.out.write(buf);
        self.note(r)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.dead {
            return Ok(());
        }
        let r = self.out.flush();
        self.note(r)
    }
}

pub struct TerminalGuard {
    pub terminal: Term,
}

impl TerminalGuard {
    pub fn init() -> anyhow::Result<Self> {
        install_panic_hook();
        if let Ok(mut t) = UI_THREAD.lock() {
            *t = Some(std::thread::current().id());
        }
        enable_raw_mode().context("could not switch the terminal to raw mode")?;
        ACTIVE.store(true, Ordering::SeqCst);
        // From here on, Drop restores whatever happens next.
        let mut out = stdout();
        let guard_on_error = |e: std::io::Error| {
            restore();
            anyhow::Error::new(e).context("could not enter the alternate screen")
        };
        execute!(out, EnterAlternateScreen, Hide).map_err(guard_on_error)?;
        let out = TermOut { out, dead: false };
        let terminal = Terminal::new(CrosstermBackend::new(out)).map_err(guard_on_error)?;
        Ok(Self { terminal })
    }

    /// Draws one frame inside a synchronized update, so the terminal shows it whole.
    pub fn draw(&mut self, f: impl FnOnce(&mut ratatui::Frame)) -> anyhow::Result<()> {
        let backend = self.terminal.backend_mut();
        // A terminal without synchronized updates ignores the sequence.
        execute!(backend, BeginSynchronizedUpdate).context("writing to the terminal")?;
        let drawn = self.terminal.draw(f).map(|_| ());
        let backend = self.terminal.backend_mut();
        execute!(backend, EndSynchronizedUpdate).context("writing to the terminal")?;
        drawn.context("drawing the console")
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        // Through ratatui first: on a dead terminal this failure marks `TermOut` dead, so
        // the `Terminal`'s own drop, which tries again and `eprintln!`s a failure (a panic
        // on that same dead terminal), finds a writer that swallows.
        let _ = self.terminal.show_cursor();
        restore();
    }
}

/// Leaves raw mode and the alternate screen, once; later calls do nothing.
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    // Best effort: the terminal may be gone (SIGHUP); nothing useful to do on error.
    let _ = disable_raw_mode();
    let mut out = stdout();
    let _ = execute!(out, LeaveAlternateScreen, Show);
    let _ = out.flush();
}

pub fn is_active() -> bool {
    ACTIVE.load(Ordering::SeqCst)
}

fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let on_ui_thread = UI_THREAD
                .lock()
                .map(|t| *t == Some(std::thread::current().id()))
                .unwrap_or(true);
            if on_ui_thread {
                // Restore first, so the message lands on the normal screen.
                restore();
            } else if is_active() {
                let thread = std::thread::current();
                let at = info
                    .location()
                    .map(|l| format!(" at {}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                tracing::error!(
                    target: "supsync::panic",
                    "internal error (a bug): thread '{}' panicked{at}: {}",
                    thread.name().unwrap_or("unnamed"),
                    crate::engine::panic::message(info.payload())
                );
                return;
            }
            previous(info);
        }));
    });
}
