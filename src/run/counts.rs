//! Per-segment record counts, summed into run totals.

use serde::{Deserialize, Serialize};

/// Per-segment record counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Taken by the server without it saying whether it created, changed or kept the
    /// record (a PUT answered 200 or 204, a batch answered without per-record results).
    /// Absent from journals written before it existed.
    #[serde(default)]
    pub applied: u64,
    /// Rejected by the server or by local validation.
    pub rejected: u64,
    /// Pull: records written to the output.
    pub pulled: u64,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.created += o.created;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
        self.applied += o.applied;
        self.rejected += o.rejected;
        self.pulled += o.pulled;
    }
    /// Records this segment has dealt with, whatever the outcome.
    pub fn processed(&self) -> u64 {
        self.created + self.updated + self.unchanged + self.applied + self.rejected + self.pulled
    }
}
