//! The operator's console, one room: the state ([`app`]), what keys mean ([`keys`]), where
//! each pane goes ([`layout`]), the pure render ([`panes`]), the event loop and the
//! terminal ([`terminal`]). [`run_console`] is what the drive path calls when stdout is a
//! terminal.
//!
//! Before calling it, route logs away from the terminal with
//! [`crate::logging::init_console`]: nothing may write to stdout or stderr while the
//! console is up.

pub mod app;
mod event_loop;
pub mod keys;
pub mod layout;
pub mod panes;
pub mod terminal;

use std::time::Duration;

pub use app::App;
pub use event_loop::{CANCEL_GRACE, STOP_GRACE};

use crate::config::UiConfig;
use crate::engine::EngineHandle;
use crate::engine::events::EngineEvent;

/// How a console session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// The process exit code of the run (`crate::exit`).
    pub exit_code: i32,
    /// For stdout once the terminal is restored: the run's summary with the command that
    /// carries on, when there is one.
    pub text: String,
    /// The operator asked (`v`) to verify this push run once the terminal is restored.
    pub verify: Option<String>,
}

/// Runs the console over a started engine until the operator quits. The terminal is
/// restored before this returns, on every path; the caller then prints [`Ended::text`].
/// `command` is how to invoke supsync in the hints (e.g. with `--state-dir`). Start the
/// engine with `stay_alive` so `r`/`R` work after the last segment.
pub async fn run_console(
    mut handle: EngineHandle,
    ui: &UiConfig,
    command: &str,
    credentials: app::credentials::Credentials,
) -> anyhow::Result<Ended> {
    let mut app = App::new(color_wanted());
    app.command = command.to_string();
    app.credentials = credentials;
    let result = {
        let mut term = terminal::TerminalGuard::init()?;
        event_loop::run(&mut term, &mut app, &mut handle, ui).await
        // `term` drops here: the terminal is restored before anything is printed.
    };
    if app.view.summary.is_none() {
        // The engine ends after the Stop the console sent (a finished run kept alive for
        // retries ends at once); past a short wait, cancel it and wait a bounded time more
        // so the exit code and the hints are right.
        let done = match tokio::time::timeout(Duration::from_secs(2), &mut handle.task).await {
            Ok(done) => Some(done),
            Err(_) => {
                handle.cancel.cancel();
                tokio::time::timeout(CANCEL_GRACE, &mut handle.task)
                    .await
                    .ok()
            }
        };
        // An engine task that died (a bug) is a failure with its reason, never "interrupted".
        let summary = done.map(|d| d.unwrap_or_else(|e| crate::engine::panic::join_failed(&e)));
        if let Some(summary) = summary {
            app.apply(EngineEvent::Finished(summary), std::time::Instant::now());
        }
    }
    result?;
    let verify = app
        .view
        .info
        .as_ref()
        .filter(|_| app.verify_after)
        .map(|i| i.run_id.clone());
    Ok(Ended {
        exit_code: app.exit_code(),
        text: app.end_text(),
        verify,
    })
}

/// Runs the console over a run in another process (`handle` from
/// the control socket's client, `control::client::attach`) until the operator detaches with `q`. The same
/// panes and keys as [`run_console`]; quitting never stops the run, and `read_only`
/// refuses the control keys. The terminal is restored before this returns.
pub async fn attach_console(
    handle: EngineHandle,
    snapshot: Vec<EngineEvent>,
    history: Option<crate::view::History>,
    ui: &UiConfig,
    command: &str,
    read_only: bool,
) -> anyhow::Result<Ended> {
    let mut handle = handle;
    let mut app = App::new(color_wanted());
    app.command = command.to_string();
    app.attached = Some(app::Attached {
        read_only,
        lost: false,
    });
    app.replay(snapshot, history.as_ref(), std::time::Instant::now());
    let result = {
        let mut term = terminal::TerminalGuard::init()?;
        event_loop::run(&mut term, &mut app, &mut handle, ui).await
    };
    // Closes the connection; the run goes on.
    handle.cancel.cancel();
    handle.task.abort();
    result?;
    Ok(Ended {
        exit_code: app.exit_code(),
        text: app.end_text(),
        verify: None,
    })
}

/// `NO_COLOR` (any non-empty value) turns colours off; symbols still tell states apart.
pub fn color_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
