//! The console attached to a run in another process (`supsync attach`): quitting detaches
//! and the run goes on; with `--read-only` the control keys are refused here, never sent.

use super::{App, Attached};
use crate::console::keys::Action;
use crate::engine::events::Command;

impl App {
    /// What an action means when attached; `None` when it means what it always does.
    pub(super) fn handle_attached(&mut self, a: Attached, action: Action) -> Option<Vec<Command>> {
        match action {
            // Quit, and the stop a signal or a lost terminal asks for: the run is not ours
            // to stop. Leave it running.
            Action::Quit | Action::Confirm => {
                self.should_exit = true;
                Some(Vec::new())
            }
            Action::TogglePause
            | Action::ForceRefresh
            | Action::RetrySelected
            | Action::RetryAllFailed
                if a.read_only =>
            {
                self.flash = Some("read-only: control keys are ignored".into());
                Some(Vec::new())
            }
            _ => None,
        }
    }

    /// The socket closed. Without the run's summary that says nothing about the run: it
    /// may well be going on.
    pub(super) fn connection_lost(&mut self) {
        if let Some(a) = self.attached.as_mut()
            && self.view.summary.is_none()
        {
            a.lost = true;
            let text = format!(
                "lost the connection to the run; it may still be going (`{} ps`)",
                self.command
            );
            self.notice(text);
        }
    }

    /// What `attach` prints once the terminal is restored.
    pub(super) fn attached_end_text(&self, a: Attached) -> String {
        let id = self.view.info.as_ref().map_or("", |i| i.run_id.as_str());
        match &self.view.summary {
            Some(s) => crate::summary::text(s, &self.command),
            None if a.lost => format!(
                "lost the connection to run {id}; it may still be going: `{c} ps` lists live runs",
                c = self.command
            ),
            None => format!(
                "detached from run {id}; it goes on (`{c} attach {id}` to look again)",
                c = self.command
            ),
        }
    }

    /// The run's snapshot: its plan and states, then its history (recent lines and the
    /// refresh log keep their times; the rate and ETA continue the run's own).
    pub fn replay(
        &mut self,
        events: Vec<crate::engine::events::EngineEvent>,
        history: Option<&crate::view::History>,
        now: std::time::Instant,
    ) {
        for ev in events {
            self.apply(ev, now);
        }
        if let Some(h) = history {
            self.view.replay(h, now);
        }
    }

    /// Attached and only watching.
    pub fn read_only(&self) -> bool {
        self.attached.is_some_and(|a| a.read_only)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant, SystemTime};

    use super::*;
    use crate::engine::events::{EngineEvent, RunInfo, SegmentView};
    use crate::run::{Direction, RunState};

    fn info(started_wall: SystemTime) -> RunInfo {
        RunInfo {
            run_id: "r".into(),
            direction: Direction::Push,
            source: "s.csv".into(),
            target: "h".into(),
            total_records: 20,
            segments: (0..2).map(|i| SegmentView::pending(i, 10)).collect(),
            started_wall,
            local_rejects: 0,
            api_style: String::new(),
        }
    }

    fn running_app() -> App {
        let mut app = App::new(false);
        app.apply(
            EngineEvent::RunStarted(info(SystemTime::now())),
            Instant::now(),
        );
        app
    }

    #[test]
    fn an_attached_console_counts_elapsed_time_from_the_runs_start() {
        let now = Instant::now();
        let mut app = App::new(false);
        app.attached = Some(Attached {
            read_only: true,
            lost: false,
        });
        let wall = SystemTime::now() - Duration::from_secs(120);
        app.apply(EngineEvent::RunStarted(info(wall)), now);
        let e = app.view.elapsed(now).as_secs_f64();
        assert!((e - 120.0).abs() < 2.0, "{e}");
        // Its own run starts now, whatever the wall clock says.
        let mut own = App::new(false);
        own.apply(EngineEvent::RunStarted(info(wall)), now);
        assert_eq!(own.view.elapsed(now), Duration::ZERO);
    }

    #[test]
    fn quitting_an_attached_console_detaches_without_a_stop() {
        let mut app = running_app();
        app.attached = Some(Attached {
            read_only: false,
            lost: false,
        });
        assert!(app.sync_running());
        assert_eq!(app.handle(Action::Quit), Vec::<Command>::new());
        assert!(app.should_exit);
        assert!(!app.stopping);
        // A signal or a lost terminal asks for a stop the same way: still only a detach.
        let mut app = running_app();
        app.attached = Some(Attached {
            read_only: false,
            lost: false,
        });
        assert_eq!(app.handle(Action::Confirm), Vec::<Command>::new());
        assert!(app.should_exit && !app.stopping);
    }

    #[test]
    fn a_lost_connection_is_not_the_end_of_the_run() {
        let mut app = running_app();
        app.attached = Some(Attached {
            read_only: false,
            lost: false,
        });
        app.engine_gone(Instant::now());
        assert_eq!(
            app.view.state,
            RunState::Running,
            "the run's state is unknown, not over"
        );
        assert!(app.feedback().unwrap().contains("lost the connection"));
        assert!(app.end_text().starts_with("lost the connection to run r;"));
        assert_eq!(app.exit_code(), crate::exit::OK);
    }

    #[test]
    fn the_end_of_the_run_while_attached_is_its_summary() {
        let mut app = running_app();
        app.attached = Some(Attached {
            read_only: false,
            lost: false,
        });
        let summary = crate::engine::events::RunSummary {
            run_id: "r".into(),
            direction: Direction::Push,
            state: RunState::Completed,
            counts: Default::default(),
            segments_total: 2,
            segments_done: 2,
            segments_failed: 0,
            token_renewals: 0,
            sessions: 1,
            duration: Duration::from_secs(3),
            error: None,
            auth_failure: false,
        };
        app.apply(EngineEvent::Finished(summary.clone()), Instant::now());
        app.engine_gone(Instant::now());
        assert!(!app.should_exit, "the final state stays on screen until q");
        assert_eq!(app.handle(Action::Quit), Vec::<Command>::new());
        assert!(app.should_exit);
        assert_eq!(app.end_text(), crate::summary::text(&summary, "supsync"));
    }

    #[test]
    fn attached_control_keys_are_sent() {
        let mut app = running_app();
        app.attached = Some(Attached {
            read_only: false,
            lost: false,
        });
        assert_eq!(app.handle(Action::TogglePause), vec![Command::Pause]);
        assert_eq!(
            app.handle(Action::ForceRefresh),
            vec![Command::ForceRefresh]
        );
    }

    #[test]
    fn read_only_refuses_control_keys_and_says_so() {
        let mut app = running_app();
        app.attached = Some(Attached {
            read_only: true,
            lost: false,
        });
        for a in [
            Action::TogglePause,
            Action::ForceRefresh,
            Action::RetrySelected,
            Action::RetryAllFailed,
        ] {
            assert_eq!(app.handle(a), Vec::<Command>::new(), "{a:?}");
            assert_eq!(
                app.flash.as_deref(),
                Some("read-only: control keys are ignored")
            );
        }
        assert_eq!(app.view.state, RunState::Running);
        assert_eq!(
            app.end_text(),
            "detached from run r; it goes on (`supsync attach r` to look again)"
        );
        // Looking around still works.
        app.handle(Action::ToggleHelp);
        assert_eq!(app.overlay, crate::console::app::Overlay::Help);
    }
}
