//! The append-only run journal (issue 4).
//!
//! One directory per run, `<state_dir>/runs/<run_id>/`:
//! - `manifest.json`: what the run is ([`Manifest`]), written once, atomically.
//! - `journal.jsonl`: one [`Entry`] per line, appended and fsynced (`sync_data`) before
//!   [`Journal::append`] returns, so an outcome is durable before anyone is told of it.
//!   The file stays open in append mode: entry 20,000 costs what entry 1 did.
//! - `run.lock`: held (OS file lock, `flock`) by the one process working on the run, and
//!   holding its pid for the error the next one gets. The OS drops the lock when the
//!   process dies, even by `kill -9`, so a stale lock never blocks a resume.
//! - `rejects.jsonl`, `parts/`: written by `source` (rejects, pull parts).
//!
//! Replay: the latest entry per segment wins. A torn or corrupt *last* line (a crash while
//! writing it) is ignored and reported ([`Replay::torn_tail`]); [`Journal::open`] also cuts
//! it off (keeping a copy in `journal.torn`) so the next append starts on a clean line.
//! A bad line in the *middle* cannot come from a crash of an append-only writer: it is
//! reported as damage ([`JournalError::Corrupt`]) naming the line.
//! Entries and the manifest carry no secrets; the manifest's config is also scrubbed of
//! any key that names a secret, as a second guard.

mod listing;
mod lock;
mod replay;
mod run_id;
mod store;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::engine::events::{Counts, Direction, RunState, SegmentState};

pub use listing::{RunListing, latest_unfinished, list_runs};
pub use replay::read;
pub use run_id::{new_run_id, validate_run_id};
pub use store::Journal;

pub const MANIFEST_VERSION: u32 = 1;
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    Segment {
        index: usize,
        state: SegmentState,
        attempts: u32,
        counts: Counts,
        error: Option<String>,
        at: String,
    },
    Run {
        state: RunState,
        at: String,
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
        }
    }

    /// A run state change stamped now.
    pub fn run(state: RunState) -> Entry {
        Entry::Run {
            state,
            at: now_rfc3339(),
        }
    }
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
}

/// What the journal says, replayed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replay {
    /// The latest entry per segment.
    pub segments: BTreeMap<usize, SegmentRecord>,
    pub last_run_state: Option<RunState>,
    /// Set when the last line was cut or corrupt and ignored: a warning for the operator.
    pub torn_tail: Option<String>,
    /// Complete entries replayed.
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

    /// Counts summed over the latest entry of every segment.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for r in self.segments.values() {
            c.add(&r.counts);
        }
        c
    }
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
    #[error("journal {} is damaged at line {line} ({detail}); it is append-only, so this is not a crash: restore it from a backup or start a new run", path.display())]
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

/// `<state_dir>/runs/<run_id>` after checking the id is a safe path component.
pub fn run_dir(state_dir: &std::path::Path, run_id: &str) -> Result<PathBuf, JournalError> {
    validate_run_id(run_id)?;
    Ok(state_dir.join("runs").join(run_id))
}
