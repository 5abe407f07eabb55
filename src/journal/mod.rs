//! The append-only run journal: every segment outcome made durable before it is
//! reported, so an interrupted run resumes without losing or repeating work.
//!
//! One directory per run, `<state_dir>/runs/<run_id>/` (files mode 0600 on Unix: they name
//! sources and endpoints):
//! - `manifest.json`: what the run is ([`Manifest`]), written once, atomically, sealed
//!   with a checksum (see [`integrity`](self) below).
//! - `journal.jsonl`: one [`Entry`] per line, each sealed with its own checksum, appended
//!   and fsynced (`sync_data`) before [`Journal::append`] returns, so an outcome is durable
//!   before anyone is told of it. The file stays open in append mode: entry 20,000 costs
//!   what entry 1 did.
//! - `run.lock`: held (OS file lock, `flock`) by the one process working on the run, and
//!   holding its pid for the error the next one gets. The OS drops the lock when the
//!   process dies, even by `kill -9`, so a stale lock never blocks a resume.
//! - `rejects.jsonl`, `parts/`: written by `source` (rejects, pull parts).
//!
//! Replay: the latest trusted entry per segment wins. A torn last line (a crash while
//! writing it) is ignored and reported ([`Replay::torn_tail`]); [`Journal::open`] also cuts
//! it off (keeping a copy in `journal.torn`) so the next append starts on a clean line.
//! A whole line that fails its checksum (disk damage, a stray edit) is never trusted: it
//! is reported by line number ([`Replay::damaged`]) and the segment it appears to name
//! loses its recorded outcome, so `resume` runs that segment again. A resend is safe: it
//! carries the same `Idempotency-Key`, and the server answers with its first outcome.
//! Journals written before checksums are read as unverified legacy and still resume.
//! Entries and the manifest carry no secrets; the manifest's config is also scrubbed of
//! any key that names a secret, as a second guard.

mod integrity;
mod listing;
mod lock;
#[cfg(test)]
mod proptests;
mod replay;
mod run_id;
mod store;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::run::{Counts, Direction, PullCheck, RunState, SegmentState};

pub use listing::{RunListing, latest_unfinished, list_runs};
pub use lock::holder as lock_holder;
pub use replay::read;
pub use run_id::{new_run_id, validate_run_id};
pub use store::Journal;

/// Version 2: the manifest and every journal line carry a CRC-32C. Version 1 runs (no
/// checksums) are still read and resumed, as unverified legacy.
pub const MANIFEST_VERSION: u32 = 2;
pub const MANIFEST_FILE: &str = "manifest.json";
pub const JOURNAL_FILE: &str = "journal.jsonl";
pub const LOCK_FILE: &str = "run.lock";
/// Where a torn tail cut off by [`Journal::open`] is kept, for the curious.
pub const TORN_FILE: &str = "journal.torn";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub run_id: String,
    pub direction: Direction,
    /// Push: the source file.
    pub source: Option<PathBuf>,
    /// Push: SHA-256 hex of the source file when the run started.
    pub source_hash: Option<String>,
    /// Pull: the output file.
    pub output: Option<PathBuf>,
    pub base_url: String,
    pub segment_size: usize,
    pub total_records: u64,
    pub segments: usize,
    /// RFC 3339.
    pub created_at: String,
    /// The effective config, without secrets.
    pub config: serde_json::Value,
    /// The slice of the source this run takes, when the run is one of several shards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::run::Shard>,
    /// What the shards of one logical run share (`status --shards` sums them by it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_group: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
// Unknown fields are refused so that a legacy (unsealed) reading of a line whose seal
// was damaged cannot pass: the damaged `"crc"` member would be an unknown field.
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Entry {
    Segment {
        index: usize,
        state: SegmentState,
        attempts: u32,
        counts: Counts,
        error: Option<String>,
        at: String,
        /// Pull: where the server's chain of pages goes on after this segment, so a resume
        /// does not walk the chain again from its first page. Absent in journals from
        /// before it existed, and for APIs paged by position.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        continuation: Option<Continuation>,
        /// Pull: what the server's pages gave for the segment (repeats, a short chain, a
        /// changed total), so `status` and a resumed run can tell whether the pull adds up.
        /// Absent for a push and in journals from before it existed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pull: Option<PullCheck>,
    },
    Run {
        state: RunState,
        at: String,
        /// Why a run stopped (`Failed`): the error the operator saw, already cleaned of
        /// secrets. Absent on other states and in journals written before it existed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// The run stopped because authentication failed (exit 4, not 1).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        auth_failure: bool,
    },
}

impl Entry {
    /// A segment outcome stamped now.
    pub fn segment(
        index: usize,
        state: SegmentState,
        attempts: u32,
        counts: Counts,
        error: Option<String>,
    ) -> Entry {
        Entry::Segment {
            index,
            state,
            attempts,
            counts,
            error,
            at: now_rfc3339(),
            continuation: None,
            pull: None,
        }
    }

    /// A run state change stamped now.
    pub fn run(state: RunState) -> Entry {
        Entry::run_ended(state, None, false)
    }

    /// A run's end stamped now, with why it stopped when it failed.
    pub fn run_ended(state: RunState, reason: Option<String>, auth_failure: bool) -> Entry {
        Entry::Run {
            state,
            at: now_rfc3339(),
            reason,
            auth_failure,
        }
    }

    /// The entry as one journal line (without its `\n`), sealed with its checksum: what
    /// `Journal::append` writes, for tools and benches that build journals directly.
    pub fn to_line(&self) -> serde_json::Result<String> {
        integrity::encode_line(self).map(|b| String::from_utf8_lossy(&b).into_owned())
    }
}

/// A point of a pull's chain of pages: the page starting at record `offset` is asked for
/// with `next`, a cursor or next link as the API client gave it (opaque here). The client
/// hands out only links on the configured origin without credentials in them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Continuation {
    pub offset: u64,
    pub next: String,
}

/// The current UTC time, RFC 3339 with seconds (what journals and manifests carry).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A segment as the journal last recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRecord {
    pub state: SegmentState,
    pub attempts: u32,
    pub counts: Counts,
    pub error: Option<String>,
    pub continuation: Option<Continuation>,
    pub pull: Option<PullCheck>,
}

/// A journal line that failed its integrity check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DamagedLine {
    /// 1-based line number in `journal.jsonl`.
    pub line: u64,
    pub reason: String,
    /// The segment the line appears to name (unverified): it runs again.
    pub segment: Option<usize>,
}

/// What the journal says, replayed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replay {
    /// The latest trusted entry per segment.
    pub segments: BTreeMap<usize, SegmentRecord>,
    pub last_run_state: Option<RunState>,
    /// Why the last recorded run state came about, when the run failed.
    pub last_run_reason: Option<String>,
    /// The last recorded run state was an authentication failure.
    pub last_run_auth_failure: bool,
    /// Set when the last line was cut or corrupt and ignored: a warning for the operator.
    pub torn_tail: Option<String>,
    /// Whole lines that failed their checksum, in file order: never trusted.
    pub damaged: Vec<DamagedLine>,
    /// Lines written before checksums existed, taken as written (unverified).
    pub legacy_lines: u64,
    /// The journal file replayed (named in warnings).
    pub path: PathBuf,
    /// Trusted entries replayed (verified, or legacy).
    pub entries: u64,
}

impl Replay {
    /// Segments whose latest state is finished (done, done with rejects, failed).
    pub fn finished(&self) -> impl Iterator<Item = (usize, &SegmentRecord)> {
        self.segments
            .iter()
            .filter(|(_, r)| r.state.is_finished())
            .map(|(i, r)| (*i, r))
    }

    /// Everything the operator should hear about this journal (torn tail, damaged lines,
    /// unverified legacy lines), one sentence each, joined; `None` when all is well.
    pub fn warning(&self) -> Option<String> {
        let mut parts: Vec<String> = self.torn_tail.iter().cloned().collect();
        if !self.damaged.is_empty() {
            parts.push(damage_warning(&self.path, &self.damaged));
        }
        if self.legacy_lines > 0 {
            parts.push(format!(
                "{}: {} line(s) were written by an older supsync without checksums and \
                 are taken as written (unverified)",
                self.path.display(),
                self.legacy_lines
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// The chain points that finished segments recorded (a resumed pull starts from them).
    pub fn continuations(&self) -> impl Iterator<Item = &Continuation> {
        self.finished().filter_map(|(_, r)| r.continuation.as_ref())
    }

    /// Counts summed over the latest entry of every segment.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for r in self.segments.values() {
            c.add(&r.counts);
        }
        c
    }
}

/// At most this many damaged lines are named one by one in a warning.
const DAMAGED_SHOWN: usize = 5;

fn damage_warning(path: &std::path::Path, damaged: &[DamagedLine]) -> String {
    let shown: Vec<String> = damaged
        .iter()
        .take(DAMAGED_SHOWN)
        .map(|d| match d.segment {
            Some(s) => format!("line {} ({}; it reads as segment {s})", d.line, d.reason),
            None => format!("line {} ({})", d.line, d.reason),
        })
        .collect();
    let more = match damaged.len().saturating_sub(DAMAGED_SHOWN) {
        0 => String::new(),
        n => format!(" and {n} more line(s)"),
    };
    format!(
        "{}: {}{more} failed the integrity check and {} not trusted; every segment \
         without a trusted outcome runs again on resume (safe: a resend carries the same \
         Idempotency-Key)",
        path.display(),
        shown.join(", "),
        if damaged.len() == 1 { "was" } else { "were" },
    )
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("run {run_id} already exists in {}; pick another --run-id or resume it", path.display())]
    RunExists { run_id: String, path: PathBuf },
    #[error("no run {run_id} in {}; `supsync status` lists the runs", state_dir.display())]
    NoSuchRun { run_id: String, state_dir: PathBuf },
    #[error("run {run_id} is in use by another supsync process{}; wait for it to finish or stop it first", pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    InUse { run_id: String, pid: Option<u32> },
    #[error("invalid run id {id:?}: {reason}")]
    InvalidRunId { id: String, reason: String },
    #[error("cannot use manifest {}: {detail}", path.display())]
    Manifest { path: PathBuf, detail: String },
    #[error("journal {} cannot be used at line {line} ({detail}); restore it from a backup or start a new run", path.display())]
    Corrupt {
        path: PathBuf,
        line: u64,
        detail: String,
    },
}

impl JournalError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        JournalError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The manifest of a run, without its journal or its lock (what `resume` and `retry` read
/// to carry a run on with the configuration it recorded).
pub fn read_manifest(state_dir: &std::path::Path, run_id: &str) -> Result<Manifest, JournalError> {
    let dir = run_dir(state_dir, run_id)?;
    replay::read_manifest(state_dir, run_id, &dir)
}

/// `<state_dir>/runs/<run_id>` after checking the id is a safe path component.
pub fn run_dir(state_dir: &std::path::Path, run_id: &str) -> Result<PathBuf, JournalError> {
    validate_run_id(run_id)?;
    Ok(state_dir.join("runs").join(run_id))
}

#[cfg(test)]
pub(crate) mod tests;
