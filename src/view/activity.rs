//! The recent-activity feed: segment outcomes and notices with their times, and its
//! wording.

use std::time::{Instant, SystemTime};

use crate::engine::events::{SegmentState, SegmentView};

/// One line of the recent-activity feed: a segment outcome or an engine notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    pub at: Instant,
    /// When it happened on the wall clock (kept through `attach`).
    pub wall: SystemTime,
    /// The segment's new state, `None` for a notice.
    pub state: Option<SegmentState>,
    pub text: String,
}

/// "segment 7 done: 9 created, 1 rejected" and the like, for the activity feed.
pub fn outcome_text(v: &SegmentView) -> String {
    let c = &v.counts;
    match v.state {
        SegmentState::Done | SegmentState::DoneWithRejects => {
            let mut parts = Vec::new();
            for (n, what) in [
                (c.created, "created"),
                (c.updated, "updated"),
                (c.unchanged, "unchanged"),
                (c.applied, "applied"),
                (c.rejected, "rejected"),
                (c.pulled, "pulled"),
            ] {
                if n > 0 {
                    parts.push(format!("{n} {what}"));
                }
            }
            let tries = if v.attempts > 1 {
                format!(" after {} attempts", v.attempts)
            } else {
                String::new()
            };
            format!("segment {} done{tries}: {}", v.index, parts.join(", "))
        }
        SegmentState::Retrying => format!(
            "segment {} retrying (attempt {}): {}",
            v.index,
            v.attempts,
            v.last_error.as_deref().unwrap_or("transient failure")
        ),
        SegmentState::Failed => format!(
            "segment {} failed: {}",
            v.index,
            v.last_error.as_deref().unwrap_or("attempts exhausted")
        ),
        SegmentState::Pending => format!("segment {} back to pending", v.index),
        SegmentState::Running => format!("segment {} running", v.index),
    }
}
