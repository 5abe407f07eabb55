//! How a console session ends: the exit code, and the text printed once the terminal is
//! restored.

use std::time::Instant;

use super::App;
use crate::run::RunState;

impl App {
    /// The engine's event channel closed without a summary (it crashed or was cancelled).
    pub fn engine_gone(&mut self, now: Instant) {
        if self.attached.is_some() {
            return self.connection_lost();
        }
        if self.view.summary.is_none() {
            self.view.finished_at.get_or_insert(now);
            if !self.view.state.is_terminal() {
                self.view.state = RunState::Interrupted;
            }
            self.notice(
                "the engine stopped without a summary; the journal has the progress".into(),
            );
        }
        if self.stopping {
            self.should_exit = true;
        }
    }

    /// Exit code of the run (see `crate::exit`).
    pub fn exit_code(&self) -> i32 {
        if self.attached.is_some() {
            // `attach` did its job; the run's outcome is the run's own exit code.
            return crate::exit::OK;
        }
        match &self.view.summary {
            Some(s) => s.exit_code(),
            None => crate::exit::INTERRUPTED,
        }
    }

    /// What goes to stdout after the console: the run's summary with the command that
    /// carries on, or what is known when the engine ended without one.
    pub fn end_text(&self) -> String {
        if let Some(a) = self.attached {
            return self.attached_end_text(a);
        }
        match (&self.view.summary, &self.view.info) {
            (Some(s), _) => crate::summary::text(s, &self.command),
            (None, Some(info)) => format!(
                "run {id} stopped before the end\n{}",
                crate::summary::resume_hint(&self.command, &info.run_id),
                id = info.run_id
            ),
            (None, None) => "the run stopped before it started".to_string(),
        }
    }
}
