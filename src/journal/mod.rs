//! The append-only run journal: every segment outcome made durable before it is
//! reported, so an interrupted run resumes without losing or repeating work.
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

use crate::run::{Counts, Direction, RunState, SegmentState};

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
pub(crate) mod tests {
    use super::*;

    pub(crate) fn manifest(run_id: &str, created_at: &str) -> Manifest {
        Manifest {
            version: MANIFEST_VERSION,
            run_id: run_id.into(),
            direction: Direction::Push,
            source: Some("suppliers.csv".into()),
            source_hash: Some("ab".repeat(32)),
            output: None,
            base_url: "http://127.0.0.1:9".into(),
            segment_size: 50,
            total_records: 200,
            segments: 4,
            created_at: created_at.into(),
            config: serde_json::json!({"auth": {"client_id": "supplier-sync", "client_secret": "change-me"}}),
        }
    }

    fn done(index: usize, created: u64) -> Entry {
        let counts = Counts {
            created,
            ..Counts::default()
        };
        Entry::segment(index, SegmentState::Done, 1, counts, None)
    }

    #[test]
    fn create_append_open_replays_latest_entry_per_segment() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest("r1", "2026-11-25T22:00:00Z");
        {
            let mut j = Journal::create(dir.path(), &m).unwrap();
            j.append(&Entry::run(RunState::Running)).unwrap();
            let failed = Entry::segment(
                0,
                SegmentState::Failed,
                5,
                Counts::default(),
                Some("503".into()),
            );
            j.append(&failed).unwrap();
            j.append(&done(1, 50)).unwrap();
            j.append(&done(0, 50)).unwrap();
            j.append(&Entry::run(RunState::Interrupted)).unwrap();
            assert!(matches!(
                Journal::create(dir.path(), &m),
                Err(JournalError::RunExists { .. })
            ));
        }
        let (_j, read_back, replay) = Journal::open(dir.path(), "r1").unwrap();
        assert_eq!(read_back.run_id, "r1");
        assert_eq!(read_back.config["auth"]["client_secret"], "[redacted]");
        assert_eq!(replay.entries, 5);
        assert_eq!(replay.segments.len(), 2);
        assert_eq!(replay.segments[&0].state, SegmentState::Done);
        assert_eq!(replay.counts().created, 100);
        assert_eq!(replay.last_run_state, Some(RunState::Interrupted));
        assert_eq!(replay.torn_tail, None);
        let text = std::fs::read_to_string(dir.path().join("runs/r1/journal.jsonl")).unwrap();
        assert!(
            text.starts_with(r#"{"kind":"run","state":"running","at":""#),
            "{text}"
        );
        assert!(!text.contains("change-me"));
    }

    #[test]
    fn damage_in_the_middle_is_an_error_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        drop(Journal::create(dir.path(), &manifest("r2", "2026-11-25T22:00:00Z")).unwrap());
        let path = dir.path().join("runs/r2/journal.jsonl");
        let good = serde_json::to_string(&done(0, 1)).unwrap();
        std::fs::write(&path, format!("{good}\n{{garbage\n{good}\n")).unwrap();
        let err = read(dir.path(), "r2").unwrap_err().to_string();
        assert!(err.contains("damaged at line 2"), "{err}");
        assert!(Journal::open(dir.path(), "r2").is_err());
    }

    #[test]
    fn torn_tail_is_cut_on_open_and_appends_continue_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        drop(Journal::create(dir.path(), &manifest("r3", "2026-11-25T22:00:00Z")).unwrap());
        let path = dir.path().join("runs/r3/journal.jsonl");
        let good = serde_json::to_string(&done(0, 1)).unwrap();
        // A whole entry cut just before its newline, then (second case) a torn one.
        std::fs::write(&path, &good).unwrap();
        {
            let (mut j, _, r) = Journal::open(dir.path(), "r3").unwrap();
            assert_eq!((r.entries, r.torn_tail.is_none()), (1, true));
            j.append(&done(1, 1)).unwrap();
        }
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(&good[..10]);
        std::fs::write(&path, &text).unwrap();
        {
            let (mut j, _, r) = Journal::open(dir.path(), "r3").unwrap();
            assert_eq!(r.entries, 2);
            assert!(r.torn_tail.unwrap().contains("line 3"));
            j.append(&done(2, 1)).unwrap();
        }
        let (_, r) = read(dir.path(), "r3").unwrap();
        assert_eq!((r.entries, r.torn_tail), (3, None));
        let torn = std::fs::read_to_string(dir.path().join("runs/r3").join(TORN_FILE)).unwrap();
        assert_eq!(torn.trim_end(), &good[..10]);
    }

    #[test]
    fn listing_is_newest_first_and_finds_the_latest_unfinished_run() {
        let dir = tempfile::tempdir().unwrap();
        assert!(list_runs(dir.path()).unwrap().is_empty());
        assert_eq!(latest_unfinished(dir.path()).unwrap(), None);
        let mut a = Journal::create(dir.path(), &manifest("a", "2026-11-25T20:00:00Z")).unwrap();
        a.append(&done(0, 3)).unwrap();
        a.append(&Entry::run(RunState::Interrupted)).unwrap();
        let mut b = Journal::create(dir.path(), &manifest("b", "2026-11-25T21:00:00Z")).unwrap();
        b.append(&Entry::run(RunState::Completed)).unwrap();
        std::fs::create_dir_all(dir.path().join("runs/not-a-run")).unwrap();
        let runs = list_runs(dir.path()).unwrap();
        let ids: Vec<_> = runs.iter().map(|r| r.run_id.as_str()).collect();
        assert_eq!(ids, ["b", "a"]);
        assert_eq!((runs[1].segments_done, runs[1].counts.created), (1, 3));
        assert_eq!(latest_unfinished(dir.path()).unwrap().as_deref(), Some("a"));
        assert!(matches!(
            read(dir.path(), "zzz"),
            Err(JournalError::NoSuchRun { .. })
        ));
        assert!(matches!(
            read(dir.path(), "../etc"),
            Err(JournalError::InvalidRunId { .. })
        ));
    }
}
