//! The console state: [`App`], the only place it changes ([`App::apply`] for engine
//! events, [`App::handle`] for operator actions, [`App::tick`] for the clock), selection
//! and the derived figures the panes show. Plain data: no terminal, no I/O, no clock
//! reads (every `now` is passed in), so all of it is unit-tested.

mod actions;
mod activity;
mod attached;
pub mod credentials;
mod ending;
pub mod grid;
mod outcome;
pub mod stats;
mod totals;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ratatui::layout::Rect;

use crate::auth::status::{TokenPhase, TokenStatus};
use crate::console::keys::{Bindings, KeyMode};
use crate::engine::events::{EngineEvent, RunInfo, RunSummary, SegmentView};
use crate::run::{RunState, SegmentState};
use activity::outcome_text;
use grid::Geometry;
use stats::Throughput;
pub use totals::{Totals, state_index};

/// Notices kept for the footer and the full log.
const KEEP_NOTICES: usize = 50;
/// Renewals kept for the token pane's timeline.
const KEEP_RENEWALS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    Details,
    ConfirmQuit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenewalKind {
    /// A refresh grant continued the session.
    Refresh,
    /// A client-credentials grant started a new session.
    NewSession,
    /// An attempt to get a token failed.
    Failure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Renewal {
    pub at: Instant,
    pub kind: RenewalKind,
}

/// One line of the recent-activity feed: a segment outcome or an engine notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    pub at: Instant,
    /// The segment's new state, `None` for a notice.
    pub state: Option<SegmentState>,
    pub text: String,
}

/// The console watches a run in another process over its control socket (`attach`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attached {
    /// Control keys (pause, refresh, retry) are ignored; the footer says so.
    pub read_only: bool,
    /// The connection closed before the run said it finished.
    pub lost: bool,
}

/// Activity lines kept (the details pane shows what fits).
const KEEP_ACTIVITY: usize = 100;

/// The whole console state. Owned by the event loop; render borrows it immutably.
pub struct App {
    pub info: Option<RunInfo>,
    /// The limit on segments at the server and why (the header shows it).
    pub pace: Option<crate::engine::events::PaceView>,
    pub segments: Vec<SegmentView>,
    pub totals: Totals,
    pub state: RunState,
    pub token: TokenStatus,
    /// When the client certificate and the client secret end (unknown: `None`).
    pub credentials: credentials::Credentials,
    pub summary: Option<RunSummary>,
    pub started_at: Option<Instant>,
    pub finished_at: Option<Instant>,
    pub throughput: Throughput,
    pub renewals: VecDeque<Renewal>,
    pub notices: VecDeque<String>,
    /// The latest notice while it still holds: a run-state change ends it, so a "paused: …"
    /// explanation is not shown after the run has resumed or completed.
    pub footer_notice: Option<String>,
    /// Recent segment outcomes and notices, newest last.
    pub activity: VecDeque<Activity>,
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
    /// tui-logger view of the token target (refresh-log pane) and of everything (full log).
    pub token_log: tui_logger::TuiWidgetState,
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
            info: None,
            segments: Vec::new(),
            totals: Totals::default(),
            state: RunState::Planning,
            token: TokenStatus::default(),
            credentials: credentials::Credentials::default(),
            summary: None,
            started_at: None,
            finished_at: None,
            throughput: Throughput::default(),
            renewals: VecDeque::new(),
            notices: VecDeque::new(),
            footer_notice: None,
            activity: VecDeque::new(),
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
            token_log: TuiWidgetState::new()
                .set_default_display_level(LevelFilter::Off)
                .set_level_for_target(crate::logging::TOKEN_TARGET, LevelFilter::Debug),
            full_log: TuiWidgetState::new().set_default_display_level(LevelFilter::Info),
            attached: None,
            verify_after: false,
            pace: None,
        }
    }

    /// Folds one engine event into the state.
    pub fn apply(&mut self, ev: EngineEvent, now: Instant) {
        match ev {
            EngineEvent::RunStarted(info) => {
                self.totals = Totals::default();
                self.segments = info.segments.clone();
                for s in &self.segments {
                    self.totals.add(s, 1);
                }
                // Attached to a run that started before we looked: its clock, not ours.
                let started = match self.attached {
                    Some(_) => started_before(now, info.started_wall),
                    None => now,
                };
                self.started_at.get_or_insert(started);
                self.finished_at = None;
                self.summary = None;
                self.state = RunState::Running;
                self.throughput = Throughput::default();
                self.throughput.sample(now, self.processed());
                self.info = Some(info);
                self.refit();
            }
            EngineEvent::Segment(view) => self.update_segment(view, now),
            EngineEvent::Token(status) => self.update_token(status, now),
            EngineEvent::RunState(state) => {
                if state != self.state {
                    // "pause requested" and the like are answered now. A resume says so:
                    // otherwise the footer falls back to the engine's last notice, which
                    // is the "paused: …" that no longer holds.
                    self.flash = (self.state == RunState::Paused && state == RunState::Running)
                        .then(|| "resumed".to_string());
                    self.footer_notice = None;
                }
                self.state = state;
                if state.is_terminal() {
                    // The engine kept alive for retries reports the end without `Finished`.
                    self.finished_at.get_or_insert(now);
                    self.throughput.sample(now, self.processed());
                } else {
                    // A retry after the end runs again.
                    self.finished_at = None;
                }
            }
            EngineEvent::Pace(view) => self.pace = Some(view),
            EngineEvent::Notice(text) => {
                self.record(now, None, text.clone());
                self.notice(text);
            }
            EngineEvent::Holding(hold) => {
                let text =
                    crate::engine::events::Hold::say(hold.as_ref(), std::time::SystemTime::now());
                self.record(now, None, text.clone());
                self.notice(text);
            }
            EngineEvent::Finished(summary) => {
                self.state = summary.state;
                self.finished_at.get_or_insert(now);
                self.throughput.sample(now, self.processed());
                self.summary = Some(summary);
                if self.stopping {
                    self.should_exit = true;
                }
            }
        }
    }

    fn update_segment(&mut self, view: SegmentView, now: Instant) {
        let i = view.index;
        if i >= self.segments.len() {
            // A segment the plan did not announce: grow rather than drop it.
            for j in self.segments.len()..=i {
                let p = SegmentView::pending(j, 0);
                self.totals.add(&p, 1);
                self.segments.push(p);
            }
            self.refit();
        }
        if view.state != self.segments[i].state && view.state != SegmentState::Running {
            let text = outcome_text(&view);
            self.record(now, Some(view.state), text);
        }
        self.totals.add(&self.segments[i], -1);
        self.totals.add(&view, 1);
        self.segments[i] = view;
    }

    fn record(&mut self, at: Instant, state: Option<SegmentState>, text: String) {
        self.activity.push_back(Activity { at, state, text });
        while self.activity.len() > KEEP_ACTIVITY {
            self.activity.pop_front();
        }
    }

    fn update_token(&mut self, status: TokenStatus, now: Instant) {
        let prev = &self.token;
        let kind = if status.sessions > prev.sessions && prev.sessions > 0 {
            Some(RenewalKind::NewSession)
        } else if status.renewals > prev.renewals {
            Some(RenewalKind::Refresh)
        } else if status.phase == TokenPhase::Failed
            && (prev.phase != TokenPhase::Failed || status.last_error != prev.last_error)
        {
            Some(RenewalKind::Failure)
        } else {
            None
        };
        if let Some(kind) = kind {
            self.renewals.push_back(Renewal { at: now, kind });
            while self.renewals.len() > KEEP_RENEWALS {
                self.renewals.pop_front();
            }
        }
        self.token = status;
    }

    /// The clock ticked: sample throughput (the countdown is recomputed at render).
    pub fn tick(&mut self, now: Instant) {
        if self.finished_at.is_none() && self.info.is_some() {
            self.throughput.sample(now, self.processed());
        }
    }

    /// The terminal was resized: refit the grid to its pane.
    pub fn resize(&mut self, area: Rect) {
        self.area = area;
        self.refit();
    }

    fn refit(&mut self) {
        let inner = super::layout::grid_inner(self.area, self.segments.len());
        self.grid_size = (inner.width, inner.height);
        let (w, h) = self.grid_size;
        self.geometry = Geometry::new(self.segments.len(), w, h);
        self.cursor = self.cursor.min(self.segments.len().saturating_sub(1));
        self.cursor = self
            .geometry
            .range(self.geometry.cell_of(self.cursor))
            .start;
    }

    /// Records dealt with so far (sent and answered, or rejected locally).
    pub fn processed(&self) -> u64 {
        // Local rejects are in their segment's counts already (`RunInfo::local_rejects`
        // is the same records, counted once more for the summary).
        let done = self.totals.counts.processed();
        match self.total_records() {
            0 => done,
            total => done.min(total),
        }
    }

    pub fn total_records(&self) -> u64 {
        self.info.as_ref().map_or(0, |i| i.total_records)
    }

    pub fn elapsed(&self, now: Instant) -> Duration {
        match (self.started_at, self.finished_at) {
            (Some(s), Some(f)) => f.saturating_duration_since(s),
            (Some(s), None) => now.saturating_duration_since(s),
            _ => Duration::ZERO,
        }
    }

    pub fn rate(&self) -> Option<f64> {
        self.throughput.rate(stats::RATE_WINDOW)
    }

    pub fn eta(&self) -> Option<Duration> {
        let remaining = self.total_records().saturating_sub(self.processed());
        stats::eta(remaining, self.rate())
    }

    /// Segments under the cursor's cell.
    pub fn selected(&self) -> std::ops::Range<usize> {
        self.geometry.range(self.geometry.cell_of(self.cursor))
    }

    pub fn failed_in(&self, range: std::ops::Range<usize>) -> Vec<usize> {
        self.segments[range.start.min(self.segments.len())..range.end.min(self.segments.len())]
            .iter()
            .filter(|s| s.state == SegmentState::Failed)
            .map(|s| s.index)
            .collect()
    }

    /// Keeps a notice for the footer (until the run state changes) and the recent list.
    pub(super) fn notice(&mut self, text: String) {
        self.footer_notice = Some(text.clone());
        self.notices.push_back(text);
        while self.notices.len() > KEEP_NOTICES {
            self.notices.pop_front();
        }
    }

    /// The footer's one line of feedback: the last action's answer, else the engine's
    /// latest notice.
    pub fn feedback(&self) -> Option<&str> {
        self.flash.as_deref().or(self.footer_notice.as_deref())
    }

    /// The run is still going (quitting needs a confirmation).
    pub fn sync_running(&self) -> bool {
        self.summary.is_none() && !self.state.is_terminal()
    }

    pub fn key_mode(&self) -> KeyMode {
        if self.overlay == Overlay::ConfirmQuit {
            KeyMode::ConfirmQuit
        } else {
            KeyMode::Normal
        }
    }
}

/// `now` moved back by how long ago `wall` was (clamped: a clock that jumped, or a time
/// before this machine booted, gives `now`).
fn started_before(now: Instant, wall: std::time::SystemTime) -> Instant {
    let ago = std::time::SystemTime::now()
        .duration_since(wall)
        .unwrap_or_default();
    now.checked_sub(ago).unwrap_or(now)
}

#[cfg(test)]
mod tests;
