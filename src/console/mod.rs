//! Terminal set-up, restore and the event loop (issue 5). [`run_console`] is what
//! `supsync run/resume/demo` call when stdout is a terminal.
//!
//! Before calling it, route logs away from the terminal with
//! [`crate::logging::init_console`]: nothing may write to stdout or stderr while the
//! console is up.

pub mod app;
mod event_loop;
pub mod keys;
pub mod panes;
pub mod terminal;

use std::io::Write;
use std::time::Duration;

use crate::config::UiConfig;
use crate::console::app::App;
use crate::engine::EngineHandle;
use crate::headless::{HeadlessOptions, summary_text};

pub use event_loop::{CANCEL_GRACE, STOP_GRACE};

/// Runs the console over a started engine until the operator quits; returns the exit code
/// of the run (`crate::exit`). The terminal is restored before this returns, on every path,
/// and then the run's summary (with the command that carries on, when there is one) goes
/// to stdout. Start the engine with `stay_alive` so `r`/`R` work after the last segment.
pub async fn run_console(handle: EngineHandle, ui: &UiConfig) -> anyhow::Result<i32> {
    run_console_with(handle, ui, &HeadlessOptions::default()).await
}

/// [`run_console`] with the command prefix the printed hints use (e.g. with `--state-dir`).
pub async fn run_console_with(
    mut handle: EngineHandle,
    ui: &UiConfig,
    opts: &HeadlessOptions,
) -> anyhow::Result<i32> {
    let mut app = App::new(color_wanted());
    app.command = opts.command.clone();
    let result = {
        let mut term = terminal::TerminalGuard::init()?;
        event_loop::run(&mut term, &mut app, &mut handle, ui).await
        // `term` drops here: the terminal is restored before anything is printed.
    };
    if app.summary.is_none() {
        // The engine ends after the Stop the console sent (a finished run kept alive for
        // retries ends at once); past a short wait, cancel it and wait a bounded time more
        // so the exit code and the hints are right.
        let summary = match tokio::time::timeout(Duration::from_secs(2), &mut handle.task).await {
            Ok(done) => done.ok(),
            Err(_) => {
                handle.cancel.cancel();
                tokio::time::timeout(CANCEL_GRACE, &mut handle.task)
                    .await
                    .ok()
                    .and_then(Result::ok)
            }
        };
        if let Some(summary) = summary {
            let now = std::time::Instant::now();
            app.apply(crate::engine::events::EngineEvent::Finished(summary), now);
        }
    }
    result?;
    let text = match (&app.summary, &app.info) {
        (Some(s), _) => summary_text(s, opts),
        (None, Some(info)) => format!(
            "run {id} stopped before the end\nto carry on: {} resume {id}",
            opts.command,
            id = info.run_id
        ),
        (None, None) => "the run stopped before it started".to_string(),
    };
    // The terminal is restored: this is ordinary output. A closed stdout is no reason to
    // fail the run.
    let _ = writeln!(std::io::stdout().lock(), "{text}");
    Ok(app.exit_code())
}

/// `NO_COLOR` (any non-empty value) turns colours off; symbols still tell states apart.
pub fn color_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
