//! The run's vocabulary, shared by every room above it: which way records go
//! ([`Direction`]), where a segment and a run stand ([`SegmentState`], [`RunState`]), what
//! a segment did ([`Counts`]), a record that was refused ([`Reject`]) and how a run ended
//! ([`Outcome`], with its exit code).
//!
//! It sits on the ground floor: the journal (the on-disk format), the source, the engine,
//! the console and the commands all import it, and it imports none of them. Each state has
//! one word, its `Display`, read the same in the console, the headless summary and
//! `status`; the journal stores that same word with `_` for its spaces.

mod counts;
mod outcome;
mod pull_check;
mod reject;
mod shard;
mod state;

pub use counts::Counts;
pub use outcome::Outcome;
pub use pull_check::{PullCheck, pull_shortfall};
pub use reject::{Reject, RejectOrigin};
pub use shard::{MAX_SHARDS, Shard, fnv1a};
pub use state::{Direction, RunState, SegmentState};
