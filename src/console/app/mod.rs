//! The console state: [`App`], the only place it changes ([`App::apply`] for engine
//! events, [`App::handle`] for operator actions, [`App::tick`] for the clock), selection
//! and the derived figures the panes show. Plain data: no terminal, no I/O, no clock
//! reads (every `now` is passed in), so all of it is unit-tested.

mod actions;
mod attached;
pub mod credentials;
mod ending;
pub mod grid;
mod outcome;

use std::time::Instant;

use ratatui::layout::Rect;

use crate::console::keys::{Bindings, KeyMode};
use crate::engine::events::EngineEvent;
use crate::run::{RunState, SegmentState};
use crate::view::RunView;
use grid::Geometry;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    Details,
    ConfirmQuit,
}

/// The console watches a run in another process over its control socket (`attach`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attached {
    /// Control keys (pause, refresh, retry) are ignored; the footer says so.
    pub read_only: bool,
    /// The connection closed before the run said it finished.
    pub lost: bool,
}

/// The whole console state. Owned by the event loop; render borrows it immutably.
pub struct App {
    /// The run as its events tell it: every pane reads the run from here.
    pub view: RunView,
    /// When the client certificate and the client secret end (unknown: `None`).
    pub credentials: credentials::Credentials,
    /// The latest notice while it still holds: a run-state change ends it, so a "paused: …"
    /// explanation is not shown after the run has resumed or completed.
    pub footer_notice: Option<String>,
    /// Index of the selected segment (the first of its cell when cells aggregate).
    pub cursor: usize,
    pub geometry: Geometry,
    /// The terminal's area, from the last resize (the grid is fitted into its pane).
    area: Rect,
    /// Inner size of the grid pane for that area and this run.
    grid_size: (u16, u16),
    pub overlay: Overlay,
    pub log_expanded: bool,
    /// Stop sent after the operator confirmed quitting; waiting for the engine.
    pub stopping: bool,
    /// The event loop ends when this is set.
    pub should_exit: bool,
    /// One line of feedback for the last action ("pause requested"…).
    pub flash: Option<String>,
    /// False under `NO_COLOR`: states then differ by symbol only.
    pub color: bool,
    pub bindings: Bindings,
    /// How to invoke supsync in hints (`supsync --state-dir …` when the run needs it).
    pub command: String,
    /// tui-logger's view of everything this process logs (the expanded log, `l`).
    pub full_log: tui_logger::TuiWidgetState,
    /// Set when attached to a run in another process: quitting detaches, the run goes on.
    pub attached: Option<Attached>,
    /// The operator asked (`v`) to verify the finished push once the console is gone.
    pub verify_after: bool,
}

impl App {
    pub fn new(color: bool) -> Self {
        use tui_logger::{LevelFilter, TuiWidgetState};
        Self {
            view: RunView::default(),
            credentials: credentials::Credentials::default(),
            footer_notice: None,
            cursor: 0,
            geometry: Geometry::new(0, 1, 1),
            area: Rect::new(0, 0, 1, 1),
            grid_size: (1, 1),
            overlay: Overlay::None,
            log_expanded: false,
            stopping: false,
            should_exit: false,
            flash: None,
            color,
            bindings: Bindings::default(),
            command: "supsync".into(),
            full_log: TuiWidgetState::new().set_default_display_level(LevelFilter::Info),
            attached: None,
            verify_after: false,
        }
    }

    /// Folds one engine event into the state: the run view takes it, the console keeps
    /// what is its own (the footer's feedback, the grid's fit, the exit after a stop).
    pub fn apply(&mut self, ev: EngineEvent, now: Instant) {
        let segments = self.view.segments.len();
        match &ev {
            EngineEvent::RunStarted(_) => self.view.remote = self.attached.is_some(),
            EngineEvent::RunState(state) if *state != self.view.state => {
                // "pause requested" and the like are answered now. A resume says so:
                // otherwise the footer falls back to the engine's last notice, which
                // is the "paused: …" that no longer holds.
                self.flash = (self.view.state == RunState::Paused && *state == RunState::Running)
                    .then(|| "resumed".to_string());
                self.footer_notice = None;
            }
            EngineEvent::Notice(text) => self.footer_notice = Some(text.clone()),
            EngineEvent::Holding(hold) => {
                self.footer_notice = Some(crate::engine::events::Hold::say(
                    hold.as_ref(),
                    std::time::SystemTime::now(),
                ));
            }
            _ => {}
        }
        let finished = matches!(ev, EngineEvent::Finished(_));
        let started = matches!(ev, EngineEvent::RunStarted(_));
        self.view.apply(&ev, now);
        if started || self.view.segments.len() != segments {
            self.refit();
        }
        if finished && self.stopping {
            self.should_exit = true;
        }
    }

    /// The clock ticked: sample throughput (the countdown is recomputed at render).
    pub fn tick(&mut self, now: Instant) {
        self.view.tick(now);
    }

    /// The terminal was resized: refit the grid to its pane.
    pub fn resize(&mut self, area: Rect) {
        self.area = area;
        self.refit();
    }

    fn refit(&mut self) {
        let n = self.view.segments.len();
        let inner = super::layout::grid_inner(self.area, n);
        self.grid_size = (inner.width, inner.height);
        let (w, h) = self.grid_size;
        self.geometry = Geometry::new(n, w, h);
        self.cursor = self.cursor.min(n.saturating_sub(1));
        self.cursor = self
            .geometry
            .range(self.geometry.cell_of(self.cursor))
            .start;
    }

    /// Segments under the cursor's cell.
    pub fn selected(&self) -> std::ops::Range<usize> {
        self.geometry.range(self.geometry.cell_of(self.cursor))
    }

    pub fn failed_in(&self, range: std::ops::Range<usize>) -> Vec<usize> {
        let segments = &self.view.segments;
        segments[range.start.min(segments.len())..range.end.min(segments.len())]
            .iter()
            .filter(|s| s.state == SegmentState::Failed)
            .map(|s| s.index)
            .collect()
    }

    /// Keeps a notice for the footer (until the run state changes) and the recent list.
    pub(super) fn notice(&mut self, text: String) {
        self.footer_notice = Some(text.clone());
        self.view.notices.push_back(text);
    }

    /// The footer's one line of feedback: the last action's answer, else the engine's
    /// latest notice.
    pub fn feedback(&self) -> Option<&str> {
        self.flash.as_deref().or(self.footer_notice.as_deref())
    }

    /// The run is still going (quitting needs a confirmation).
    pub fn sync_running(&self) -> bool {
        self.view.summary.is_none() && !self.view.state.is_terminal()
    }

    pub fn key_mode(&self) -> KeyMode {
        if self.overlay == Overlay::ConfirmQuit {
            KeyMode::ConfirmQuit
        } else {
            KeyMode::Normal
        }
    }
}

#[cfg(test)]
mod tests;
