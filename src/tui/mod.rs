//! Terminal set-up, restore and the event loop (issue 5). [`run_console`] is what
//! `supsync run/resume/demo` call when stdout is a terminal.
//!
//! Before calling it, route logs away from the terminal with
//! [`crate::logging::init_console`]: nothing may write to stdout or stderr while the
//! console is up.

mod event_loop;
pub mod terminal;

use std::io::Write;
use std::time::Duration;

use crate::app::App;
use crate::app::summary::epilogue;
use crate::config::UiConfig;
use crate::engine::EngineHandle;

pub use event_loop::{CANCEL_GRACE, STOP_GRACE};

/// Runs the console over a started engine until the operator quits; returns the exit code
/// of the run (`crate::exit`). The terminal is restored before this returns, on every path,
/// and then the run's one-line summary (and the resume command when the run can carry on)
/// goes to stdout.
pub async fn run_console(mut handle: EngineHandle, ui: &UiConfig) -> anyhow::Result<i32> {
    let mut app = App::new(color_wanted());
    let result = {
        let mut term = terminal::TerminalGuard::init()?;
        event_loop::run(&mut term, &mut app, &mut handle, ui).await
        // `term` drops here: the terminal is restored before anything is printed.
    };
    if app.summary.is_none() {
        // Quit before the end: the engine winds down on its own; wait for its summary a
        // bounded time so the exit code and the resume hint are right.
        handle.cancel.cancel();
        if let Ok(Ok(summary)) = tokio::time::timeout(CANCEL_GRACE, &mut handle.task).await {
            app.apply(
                crate::engine::events::EngineEvent::Finished(summary),
                std::time::Instant::now(),
            );
        }
    } else if !handle.task.is_finished() {
        // The engine kept alive for retries: it was told to stop; give it a moment.
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut handle.task).await;
    }
    result?;
    let run_id = app.info.as_ref().map(|i| i.run_id.clone());
    let mut out = std::io::stdout().lock();
    for line in epilogue(run_id.as_deref(), app.summary.as_ref()) {
        // The terminal is restored: this is ordinary output. A closed stdout is not an error
        // worth failing the run for.
        let _ = writeln!(out, "{line}");
    }
    Ok(app.exit_code())
}

/// `NO_COLOR` (any non-empty value) turns colours off; symbols still tell states apart.
pub fn color_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
