//! [`RunView`]: what is known of a run, folded from its [`EngineEvent`]s in one place.
//! Counts, segment states, clocks (elapsed and active), rates, the ETA and why it is
//! stalled, the outcome, the recent segment outcomes and the refresh log, each with the time
//! it happened. The console, the headless reporter, `--json`, the control socket (and so
//! `ps` and `attach`) and the metrics all read one of these, so they cannot disagree.
//! Plain data: no I/O, no clock reads (every `now` is passed in).

pub mod activity;
mod history;
mod recorded;
pub mod throughput;
pub mod totals;

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use crate::auth::audit::AuditLine;
use crate::auth::status::{TokenPhase, TokenStatus};
use crate::engine::events::{EngineEvent, Hold, PaceView, RunInfo, RunSummary, SegmentView};
use crate::run::{Outcome, RunState, SegmentState};
pub use activity::Activity;
pub use history::{History, WireActivity};
use throughput::Throughput;
pub use totals::{Totals, state_index};

/// Notices kept for the footer and the full log.
const KEEP_NOTICES: usize = 50;
/// Renewals kept for the token pane's timeline.
const KEEP_RENEWALS: usize = 64;
/// Activity lines kept (the details pane shows what fits).
const KEEP_ACTIVITY: usize = 100;
/// Refresh-log lines kept.
const KEEP_LOG: usize = 200;

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

/// Time the run spent able to work: not paused, not holding, not waiting for a token.
#[derive(Debug, Clone, Copy, Default)]
pub struct ActiveClock {
    before: Duration,
    /// Since when it has been active, while it is.
    since: Option<Instant>,
}

impl ActiveClock {
    fn set(&mut self, active: bool, now: Instant) {
        match (active, self.since) {
            (true, None) => self.since = Some(now),
            (false, Some(s)) => {
                self.before += now.saturating_duration_since(s);
                self.since = None;
            }
            _ => {}
        }
    }

    pub fn at(&self, now: Instant) -> Duration {
        self.before
            + self
                .since
                .map_or(Duration::ZERO, |s| now.saturating_duration_since(s))
    }

    /// Starts over at `elapsed` of active time (a run seen from another process).
    fn restart(&mut self, elapsed: Duration, now: Instant, active: bool) {
        self.before = elapsed;
        self.since = None;
        self.set(active, now);
    }
}

/// The one view of a run. Fed by [`RunView::apply`]; read by everything that shows a run.
#[derive(Debug, Clone)]
pub struct RunView {
    pub info: Option<RunInfo>,
    pub segments: Vec<SegmentView>,
    pub totals: Totals,
    pub state: RunState,
    pub token: TokenStatus,
    pub summary: Option<RunSummary>,
    pub started_at: Option<Instant>,
    pub finished_at: Option<Instant>,
    pub active: ActiveClock,
    pub throughput: Throughput,
    /// Holding while the server is down, with when it next asks.
    pub hold: Option<(Hold, Instant)>,
    /// The limit on segments at the server, and why (fixed, auto or the operator's).
    pub pace: Option<PaceView>,
    pub renewals: VecDeque<Renewal>,
    pub notices: VecDeque<String>,
    /// Recent segment outcomes and notices, newest last.
    pub recent: VecDeque<Activity>,
    /// Token events (renewals, failures, keep-alive), newest last.
    pub refresh_log: VecDeque<AuditLine>,
    /// The run is another process's (`attach`): its clock starts at the run's start.
    pub remote: bool,
}

impl Default for RunView {
    fn default() -> Self {
        Self {
            info: None,
            segments: Vec::new(),
            totals: Totals::default(),
            state: RunState::Planning,
            token: TokenStatus::default(),
            summary: None,
            started_at: None,
            finished_at: None,
            active: ActiveClock::default(),
            throughput: Throughput::default(),
            hold: None,
            pace: None,
            renewals: VecDeque::new(),
            notices: VecDeque::new(),
            recent: VecDeque::new(),
            refresh_log: VecDeque::new(),
            remote: false,
        }
    }
}

impl RunView {
    /// A view of a run in another process (its elapsed time counts from its start).
    pub fn remote() -> Self {
        Self {
            remote: true,
            ..Self::default()
        }
    }

    /// Folds one engine event in.
    pub fn apply(&mut self, ev: &EngineEvent, now: Instant) {
        match ev {
            EngineEvent::RunStarted(info) => {
                self.totals = Totals::default();
                self.segments = info.segments.clone();
                for s in &self.segments {
                    self.totals.add(s, 1);
                }
                let started = if self.remote {
                    started_before(now, info.started_wall)
                } else {
                    now
                };
                self.started_at.get_or_insert(started);
                self.finished_at = None;
                self.summary = None;
                self.state = RunState::Running;
                self.info = Some(info.clone());
            }
            EngineEvent::Segment(view) => self.update_segment(view, now),
            EngineEvent::Token(status) => self.update_token(status, now),
            EngineEvent::RunState(state) => {
                // The engine's clock starts with planning (reading the source, the first
                // token): so does the run's elapsed time, as in its summary.
                if *state == RunState::Planning && !self.remote && self.info.is_none() {
                    self.started_at.get_or_insert(now);
                }
                self.state = *state;
                if state.is_terminal() {
                    // The engine kept alive for retries reports the end without `Finished`.
                    self.finished_at.get_or_insert(now);
                    self.hold = None;
                } else {
                    // A retry after the end runs again.
                    self.finished_at = None;
                }
            }
            EngineEvent::Notice(text) => {
                self.record(now, SystemTime::now(), None, text.clone());
                self.notices.push_back(text.clone());
                while self.notices.len() > KEEP_NOTICES {
                    self.notices.pop_front();
                }
            }
            EngineEvent::Finished(summary) => {
                self.state = summary.state;
                self.finished_at.get_or_insert(now);
                self.hold = None;
                self.summary = Some(summary.clone());
            }
            EngineEvent::TokenLog(line) => {
                self.refresh_log.push_back(line.clone());
                while self.refresh_log.len() > KEEP_LOG {
                    self.refresh_log.pop_front();
                }
            }
            EngineEvent::Holding(hold) => {
                let wall = SystemTime::now();
                self.hold = hold.as_ref().map(|h| {
                    let left = h.until.and_then(|t| t.duration_since(wall).ok());
                    (h.clone(), now + left.unwrap_or_default())
                });
                let text = Hold::say(hold.as_ref(), wall);
                self.record(now, wall, None, text.clone());
                self.notices.push_back(text);
                while self.notices.len() > KEEP_NOTICES {
                    self.notices.pop_front();
                }
            }
            EngineEvent::Pace(pace) => self.pace = Some(pace.clone()),
        }
        self.active.set(self.is_active(), now);
        self.tick(now);
    }

    /// The clock moved on: sample throughput (the active time is read at `now`).
    pub fn tick(&mut self, now: Instant) {
        if self.info.is_some() {
            let processed = self.processed();
            self.throughput.sample(self.active.at(now), processed);
        }
    }

    fn is_active(&self) -> bool {
        self.info.is_some()
            && self.finished_at.is_none()
            && matches!(self.state, RunState::Running | RunState::Stopping)
            && self.hold.is_none()
            && self.token.phase != TokenPhase::Failed
    }

    fn update_segment(&mut self, view: &SegmentView, now: Instant) {
        let i = view.index;
        if i >= self.segments.len() {
            // A segment the plan did not announce: grow rather than drop it.
            for j in self.segments.len()..=i {
                let p = SegmentView::pending(j, 0);
                self.totals.add(&p, 1);
                self.segments.push(p);
            }
        }
        if view.state != self.segments[i].state && view.state != SegmentState::Running {
            let text = activity::outcome_text(view);
            self.record(now, SystemTime::now(), Some(view.state), text);
        }
        self.totals.add(&self.segments[i], -1);
        self.totals.add(view, 1);
        self.segments[i] = view.clone();
    }

    pub(crate) fn record(
        &mut self,
        at: Instant,
        wall: SystemTime,
        state: Option<SegmentState>,
        text: String,
    ) {
        self.recent.push_back(Activity {
            at,
            wall,
            state,
            text,
        });
        while self.recent.len() > KEEP_ACTIVITY {
            self.recent.pop_front();
        }
    }

    fn update_token(&mut self, status: &TokenStatus, now: Instant) {
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
        self.token = status.clone();
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

    /// Wall time since the run started, frozen at its end.
    pub fn elapsed(&self, now: Instant) -> Duration {
        match (self.started_at, self.finished_at) {
            (Some(s), Some(f)) => f.saturating_duration_since(s),
            (Some(s), None) => now.saturating_duration_since(s),
            _ => Duration::ZERO,
        }
    }

    /// records/s over the last stretch of active time.
    pub fn rate(&self) -> Option<f64> {
        self.throughput.rate(throughput::RATE_WINDOW)
    }

    /// Time left at the active rate: paused or held time is not counted, so a pause does
    /// not move it. Zero once every record is dealt with.
    pub fn eta(&self) -> Option<Duration> {
        let remaining = self.total_records().saturating_sub(self.processed());
        throughput::eta(remaining, self.rate())
    }

    /// Why the ETA is not counting down, while it is not: "paused", "holding: API down,
    /// next try in 12 s", "holding: token renewal failing".
    pub fn stalled(&self, now: Instant) -> Option<String> {
        if self.finished_at.is_some() || self.info.is_none() {
            return None;
        }
        if self.state == RunState::Paused {
            return Some("paused".into());
        }
        if let Some((h, until)) = &self.hold {
            let next = until.saturating_duration_since(now).as_secs_f64().ceil();
            return Some(match h.until {
                Some(_) => format!("holding: {}, next try in {next:.0} s", h.reason),
                None => format!("holding: {}", h.reason),
            });
        }
        (self.token.phase == TokenPhase::Failed).then(|| "holding: token renewal failing".into())
    }

    /// The ETA as every view writes it: `mm:ss`, with the reason while stalled, `done` at
    /// the end, `–` while unknown.
    pub fn eta_text(&self, now: Instant) -> String {
        if self.finished_at.is_some() || self.state.is_terminal() {
            return "done".into();
        }
        let eta = self.eta().map_or("–".to_string(), throughput::clock);
        match self.stalled(now) {
            Some(why) => format!("{eta} ({why})"),
            None => eta,
        }
    }

    /// How the run ended, once it has: from the engine's summary when there is one, else
    /// from the state the engine reported on finishing its last segment (it stays open
    /// for retries until `q`).
    pub fn outcome(&self) -> Option<Outcome> {
        if let Some(s) = &self.summary {
            return Some(s.outcome());
        }
        if !self.state.is_terminal() {
            return None;
        }
        Some(Outcome::of(
            self.state,
            self.totals.counts.rejected,
            self.totals.count(SegmentState::Failed),
            false,
        ))
    }

    /// Segments in flight (running or retrying).
    pub fn in_flight(&self) -> usize {
        self.totals.count(SegmentState::Running) + self.totals.count(SegmentState::Retrying)
    }

    pub fn failed(&self) -> usize {
        self.totals.count(SegmentState::Failed)
    }

    /// The run's plan with every segment as it stands now.
    pub fn current_info(&self) -> Option<RunInfo> {
        self.info.as_ref().map(|i| RunInfo {
            segments: self.segments.clone(),
            ..i.clone()
        })
    }
}

/// `now` moved back by how long ago `wall` was (clamped: a clock that jumped, or a time
/// before this machine booted, gives `now`).
pub fn started_before(now: Instant, wall: SystemTime) -> Instant {
    let ago = SystemTime::now().duration_since(wall).unwrap_or_default();
    now.checked_sub(ago).unwrap_or(now)
}

#[cfg(test)]
mod tests;
