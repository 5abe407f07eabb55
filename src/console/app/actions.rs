//! [`App::handle`]: operator actions, and the engine commands they ask for.

use super::{App, Overlay};
use crate::console::keys::Action;
use crate::engine::events::{Command, RunState, SegmentState};

impl App {
    /// Applies an operator action; returns the engine commands it asks for.
    pub fn handle(&mut self, action: Action) -> Vec<Command> {
        use Action::*;
        self.flash = None;
        if let Some(a) = self.attached
            && let Some(cmds) = self.handle_attached(a, action)
        {
            return cmds;
        }
        match action {
            Up | Down | Left | Right | PageUp | PageDown | Home | End => {
                self.navigate(action);
                Vec::new()
            }
            Details => {
                self.overlay = match self.overlay {
                    Overlay::Details => Overlay::None,
                    _ => Overlay::Details,
                };
                Vec::new()
            }
            ToggleHelp => {
                self.overlay = match self.overlay {
                    Overlay::Help => Overlay::None,
                    _ => Overlay::Help,
                };
                Vec::new()
            }
            ToggleLog => {
                self.log_expanded = !self.log_expanded;
                Vec::new()
            }
            Close => {
                if self.overlay != Overlay::None {
                    self.overlay = Overlay::None;
                } else if self.log_expanded {
                    self.full_log
                        .transition(tui_logger::TuiWidgetEvent::EscapeKey);
                    self.log_expanded = false;
                }
                Vec::new()
            }
            TogglePause => self.toggle_pause(),
            ForceRefresh => {
                self.flash = Some("token refresh requested".into());
                vec![Command::ForceRefresh]
            }
            RetrySelected => self.retry_selected(),
            NextFailed => {
                self.next_failed();
                Vec::new()
            }
            RetryAllFailed => {
                let n = self.view.totals.count(SegmentState::Failed);
                if n == 0 {
                    self.flash = Some("no failed segments to retry".into());
                    return Vec::new();
                }
                self.flash = Some(format!("retrying {n} failed segment(s)"));
                vec![Command::RetryAllFailed]
            }
            PaceUp | PaceDown | PaceConfigured => self.pace(action),
            Verify => self.verify(),
            Quit => self.quit(),
            Confirm => {
                self.overlay = Overlay::None;
                self.stopping = true;
                self.flash = Some("stopping: waiting for in-flight segments…".into());
                vec![Command::Stop]
            }
            Deny => {
                self.overlay = Overlay::None;
                Vec::new()
            }
        }
    }

    fn navigate(&mut self, action: Action) {
        if self.log_expanded {
            // The expanded log scrolls by pages; its widget keeps its own scroll state.
            use tui_logger::TuiWidgetEvent as W;
            match action {
                Action::PageUp | Action::Up => self.full_log.transition(W::PrevPageKey),
                Action::PageDown | Action::Down => self.full_log.transition(W::NextPageKey),
                Action::End => self.full_log.transition(W::EscapeKey),
                _ => {}
            }
            return;
        }
        if self.view.segments.is_empty() {
            return;
        }
        let g = self.geometry;
        let cell = g.cell_of(self.cursor);
        let page = self.grid_size.1.max(1) as isize;
        let to = match action {
            Action::Up => g.step(cell, 0, -1),
            Action::Down => g.step(cell, 0, 1),
            Action::Left => g.step(cell, -1, 0),
            Action::Right => g.step(cell, 1, 0),
            Action::PageUp => g.step(cell, 0, -page),
            Action::PageDown => g.step(cell, 0, page),
            Action::Home => 0,
            _ => g.cells().saturating_sub(1),
        };
        self.cursor = g.range(to).start;
    }

    fn next_failed(&mut self) {
        let after = self.selected().end;
        let n = self.view.segments.len();
        let found = (0..n)
            .map(|k| (after + k) % n)
            .find(|&i| self.view.segments[i].state == SegmentState::Failed);
        match found {
            Some(i) => {
                self.cursor = self.geometry.range(self.geometry.cell_of(i)).start;
                self.log_expanded = false;
            }
            None => self.flash = Some("no failed segments".into()),
        }
    }

    fn toggle_pause(&mut self) -> Vec<Command> {
        match self.view.state {
            RunState::Running => {
                self.flash = Some("pause requested: in-flight segments finish".into());
                vec![Command::Pause]
            }
            RunState::Paused => {
                self.flash = Some("resume requested".into());
                vec![Command::Resume]
            }
            _ => {
                self.flash = Some("nothing to pause: the sync is not running".into());
                Vec::new()
            }
        }
    }

    fn retry_selected(&mut self) -> Vec<Command> {
        let failed = self.failed_in(self.selected());
        if failed.is_empty() {
            self.flash = Some("the selected segment has not failed".into());
            return Vec::new();
        }
        self.flash = Some(match failed.as_slice() {
            [one] => format!("retrying segment {one}"),
            many => format!("retrying {} failed segments", many.len()),
        });
        failed.into_iter().map(Command::RetrySegment).collect()
    }

    /// `v`: once a push has finished, quit and verify it; otherwise say when it can.
    fn verify(&mut self) -> Vec<Command> {
        // A finished run may be kept alive for retries: its state says it ended before
        // its summary arrives.
        let finished = !self.sync_running();
        let push = self
            .view
            .info
            .as_ref()
            .filter(|i| finished && i.direction == crate::run::Direction::Push)
            .map(|i| i.run_id.clone());
        match push {
            Some(id) if self.attached.is_none() => {
                self.verify_after = true;
                self.flash = Some(format!("quitting to verify {id}…"));
                self.quit()
            }
            Some(id) => {
                self.flash = Some(format!("verify from a shell: {} verify {id}", self.command));
                Vec::new()
            }
            None => {
                self.flash = Some("verify is offered once a push has finished".into());
                Vec::new()
            }
        }
    }

    fn quit(&mut self) -> Vec<Command> {
        if self.stopping {
            // Second quit while stopping: stop waiting (the loop cancels the engine).
            self.should_exit = true;
            return Vec::new();
        }
        if self.sync_running() {
            self.overlay = Overlay::ConfirmQuit;
            return Vec::new();
        }
        self.should_exit = true;
        // The engine may still be alive (kept for retries): tell it to end.
        vec![Command::Stop]
    }

    /// `+`, `-`, `=`: the engine answers with the new pace, which the header shows.
    fn pace(&mut self, action: Action) -> Vec<Command> {
        use crate::engine::pace::PaceChange;
        if self.view.state.is_terminal() {
            self.flash = Some("the run has finished: nothing to pace".into());
            return Vec::new();
        }
        let (change, words) = match action {
            Action::PaceUp => (PaceChange::Up, "one more segment at the server"),
            Action::PaceDown => (PaceChange::Down, "one fewer segment at the server"),
            _ => (PaceChange::Configured, "back to the configured pace"),
        };
        self.flash = Some(words.into());
        vec![Command::Pace(change)]
    }

    /// A command could not reach the engine.
    pub fn command_failed(&mut self, cmd: &Command) {
        let run_id = self.view.info.as_ref().map_or("", |i| i.run_id.as_str());
        self.flash = Some(match cmd {
            Command::RetrySegment(_) | Command::RetryAllFailed => {
                format!(
                    "the engine has finished: use `{} retry {run_id}`",
                    self.command
                )
            }
            _ => "the engine is not taking commands (finished or busy)".into(),
        });
    }
}
