//! Figures kept up to date on every segment event, so render only reads them.

use crate::engine::events::SegmentView;
use crate::run::{Counts, SegmentState};

/// Counts kept up to date on every segment event, so render only reads them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub counts: Counts,
    /// Segments per state, indexed by [`state_index`].
    pub by_state: [usize; 6],
    /// Segments that needed more than one attempt.
    pub retried: usize,
}

pub fn state_index(s: SegmentState) -> usize {
    match s {
        SegmentState::Pending => 0,
        SegmentState::Running => 1,
        SegmentState::Retrying => 2,
        SegmentState::Done => 3,
        SegmentState::DoneWithRejects => 4,
        SegmentState::Failed => 5,
    }
}

impl Totals {
    pub(crate) fn add(&mut self, v: &SegmentView, sign: i64) {
        let bump = |x: &mut u64, d: u64| {
            *x = if sign > 0 {
                *x + d
            } else {
                x.saturating_sub(d)
            }
        };
        bump(&mut self.counts.created, v.counts.created);
        bump(&mut self.counts.updated, v.counts.updated);
        bump(&mut self.counts.unchanged, v.counts.unchanged);
        bump(&mut self.counts.applied, v.counts.applied);
        bump(&mut self.counts.rejected, v.counts.rejected);
        bump(&mut self.counts.pulled, v.counts.pulled);
        let i = state_index(v.state);
        let r = usize::from(v.attempts > 1);
        if sign > 0 {
            self.by_state[i] += 1;
            self.retried += r;
        } else {
            self.by_state[i] = self.by_state[i].saturating_sub(1);
            self.retried = self.retried.saturating_sub(r);
        }
    }

    pub fn count(&self, s: SegmentState) -> usize {
        self.by_state[state_index(s)]
    }

    pub fn finished(&self) -> usize {
        self.count(SegmentState::Done)
            + self.count(SegmentState::DoneWithRejects)
            + self.count(SegmentState::Failed)
    }
}
