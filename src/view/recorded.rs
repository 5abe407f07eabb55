//! A run as its journal recorded it, for `status`: the same [`RunView`] the run's own
//! screens read, fed from the manifest and the replayed journal instead of live events, so
//! `status` counts, groups and words a run exactly as the run's summary did.

use std::time::{Instant, SystemTime};

use super::RunView;
use crate::engine::events::{EngineEvent, RunInfo, RunSummary, SegmentView};
use crate::journal::{Manifest, Replay};
use crate::run::{Direction, SegmentState};

impl RunView {
    /// The run as its journal tells it. Only outcomes are journaled, so a segment that was
    /// in flight when the journal was read is pending here (as a resume would see it). The
    /// journal does not hold per-segment record counts nor when each process ran: segment
    /// `records` are 0, and the view has no duration (its clocks start and stop at `now`).
    pub fn from_journal(m: &Manifest, r: &Replay, now: Instant) -> Self {
        let segments = (0..m.segments)
            .map(|i| {
                let mut v = SegmentView::pending(i, 0);
                if let Some(rec) = r.segments.get(&i).filter(|s| s.state.is_finished()) {
                    v.state = rec.state;
                    v.attempts = rec.attempts;
                    v.counts = rec.counts;
                    v.last_error = rec.error.clone();
                }
                v
            })
            .collect();
        let path = |p: &Option<std::path::PathBuf>| {
            p.as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        };
        let (source, target) = match m.direction {
            Direction::Push => (path(&m.source), m.base_url.clone()),
            Direction::Pull => (m.base_url.clone(), path(&m.output)),
        };
        let started_wall = chrono::DateTime::parse_from_rfc3339(&m.created_at)
            .map(SystemTime::from)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut view = RunView::default();
        view.apply(
            &EngineEvent::RunStarted(RunInfo {
                run_id: m.run_id.clone(),
                direction: m.direction,
                source,
                target,
                total_records: m.total_records,
                segments,
                started_wall,
                local_rejects: 0,
                api_style: String::new(),
            }),
            now,
        );
        match r.last_run_state {
            Some(state) if state.is_terminal() => {
                let summary = RunSummary {
                    run_id: m.run_id.clone(),
                    direction: m.direction,
                    state,
                    counts: view.totals.counts,
                    segments_total: view.segments.len(),
                    segments_done: view.done(),
                    segments_failed: view.failed(),
                    token_renewals: 0,
                    sessions: 0,
                    duration: Default::default(),
                    error: r.last_run_reason.clone(),
                    auth_failure: r.last_run_auth_failure,
                };
                view.apply(&EngineEvent::Finished(summary), now);
            }
            Some(state) => view.apply(&EngineEvent::RunState(state), now),
            None => {}
        }
        view
    }

    /// Segments finished without failing (done, or done with rejects).
    pub fn done(&self) -> usize {
        self.totals.count(SegmentState::Done) + self.totals.count(SegmentState::DoneWithRejects)
    }

    /// Segments with nothing journaled as their outcome yet.
    pub fn unfinished(&self) -> usize {
        self.segments.len().saturating_sub(self.totals.finished())
    }
}
