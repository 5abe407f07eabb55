//! The two helpers every judge builds with: the findings a claim matches, and a clock
//! that neither kills nor is handled until its judge says so.

use crate::diagnose::evidence::{Claim, Evidence};
use crate::diagnose::verdict::{Clock, ClockKind};

/// Ids of the findings whose claim matches.
pub(super) fn ids(ev: &[Evidence], pred: impl Fn(&Claim) -> bool) -> Vec<String> {
    ev.iter()
        .filter(|e| pred(&e.claim))
        .map(|e| e.id.clone())
        .collect()
}

/// A clock at `secs`, not yet judged.
pub(super) fn clock(kind: ClockKind, secs: Option<u64>, what: String, cites: Vec<String>) -> Clock {
    Clock {
        kind,
        secs,
        what,
        kills: false,
        handled: None,
        fix: None,
        cites,
    }
}
