//! What a view of a run in another process needs beyond the run's plan and states: the
//! recent segment outcomes and the refresh log with the times they happened, and the run's
//! own active time, rate, ETA and why it is stalled. The control socket sends it to `ps`
//! and `attach`, so an attached console looks like the one that started the run and shows
//! the same ETA.

use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use super::{Activity, RunView};
use crate::auth::audit::AuditLine;
use crate::run::SegmentState;

/// One recent line, its time as "seconds ago" (monotonic clocks mean nothing in another
/// process) and as the wall clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireActivity {
    pub ago_secs: f64,
    pub wall: SystemTime,
    pub state: Option<SegmentState>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct History {
    pub recent: Vec<WireActivity>,
    pub refresh_log: Vec<AuditLine>,
    /// The run's active time so far (paused and held time left out).
    pub active_secs: f64,
    /// records/s over active time, as the run computes it.
    pub rate: Option<f64>,
    /// The run's ETA in seconds (`None`: not known yet).
    pub eta_secs: Option<f64>,
    /// Why the ETA is not counting down ("paused", "holding: …").
    pub stalled: Option<String>,
}

impl RunView {
    /// The history a newcomer needs, as of `now`.
    pub fn history(&self, now: Instant) -> History {
        History {
            recent: self
                .recent
                .iter()
                .map(|a| WireActivity {
                    ago_secs: now.saturating_duration_since(a.at).as_secs_f64(),
                    wall: a.wall,
                    state: a.state,
                    text: a.text.clone(),
                })
                .collect(),
            refresh_log: self.refresh_log.iter().cloned().collect(),
            active_secs: self.active.at(now).as_secs_f64(),
            rate: self.rate(),
            eta_secs: self.eta().map(|d| d.as_secs_f64()),
            stalled: self.stalled(now),
        }
    }

    /// Takes in the history another process sent (after its plan and states were
    /// applied): the recent lines and the refresh log keep their times, and the active
    /// clock and rate continue the run's, so the ETA is the run's own.
    pub fn replay(&mut self, h: &History, now: Instant) {
        self.recent = h
            .recent
            .iter()
            .map(|w| Activity {
                at: now
                    .checked_sub(Duration::try_from_secs_f64(w.ago_secs).unwrap_or_default())
                    .unwrap_or(now),
                wall: w.wall,
                state: w.state,
                text: w.text.clone(),
            })
            .collect();
        self.notices = self
            .recent
            .iter()
            .filter(|a| a.state.is_none())
            .map(|a| a.text.clone())
            .collect();
        self.refresh_log = h.refresh_log.iter().cloned().collect();
        let active = Duration::try_from_secs_f64(h.active_secs).unwrap_or_default();
        let is_active = self.is_active();
        self.active.restart(active, now, is_active);
        let processed = self.processed();
        match h.rate {
            Some(rate) => self.throughput.seed(active, processed, rate),
            None => self.throughput = Default::default(),
        }
        self.tick(now);
    }
}
