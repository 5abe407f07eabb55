//! Listing runs for `status` and finding the run `resume` carries on by default.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::replay::{read_manifest, replay_file};
use super::{JOURNAL_FILE, JournalError, MANIFEST_FILE, validate_run_id};
use crate::run::{Counts, Direction, RunState, SegmentState};

/// One run, as its manifest and journal describe it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunListing {
    pub run_id: String,
    pub created_at: String,
    pub direction: Direction,
    pub source: Option<PathBuf>,
    pub output: Option<PathBuf>,
    /// The last run state journaled; `None` when the run never journaled one.
    pub last_state: Option<RunState>,
    pub segments_total: usize,
    pub segments_done: usize,
    pub segments_failed: usize,
    pub counts: Counts,
    /// The journal's last line was torn (a crash); the warning text.
    pub torn_tail: Option<String>,
    /// Lines that failed their checksum (never trusted; their segments run again).
    pub damaged_lines: Vec<u64>,
    /// The manifest or journal cannot be used (damage); the error text. When the manifest
    /// is the damaged part, the other fields are read from it as far as it still parses,
    /// unverified, only so the listing can show which run it is.
    pub problem: Option<String>,
}

impl RunListing {
    /// Not completed: `resume` has something to do (interrupted, failed, crashed).
    pub fn is_unfinished(&self) -> bool {
        !matches!(
            self.last_state,
            Some(RunState::Completed | RunState::CompletedWithFailures)
        )
    }
}

/// Every run under `<state_dir>/runs`, newest first. A directory without a manifest (not
/// a run, or one whose creation was cut short) is skipped with a warning in the log; a run
/// whose manifest or journal is damaged is listed with `problem` set, so the damage is
/// seen (and `resume` without a run id stops on it) rather than the run vanishing.
pub fn list_runs(state_dir: &Path) -> Result<Vec<RunListing>, JournalError> {
    let runs = state_dir.join("runs");
    let entries = match std::fs::read_dir(&runs) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(JournalError::io(&runs, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| JournalError::io(&runs, e))?;
        let Some(run_id) = entry.file_name().to_str().map(String::from) else {
            continue;
        };
        if validate_run_id(&run_id).is_err() || !entry.path().is_dir() {
            continue;
        }
        match listing(state_dir, &run_id, &entry.path()) {
            Ok(l) => out.push(l),
            Err(e) if entry.path().join(MANIFEST_FILE).is_file() => {
                out.push(damaged_manifest(&run_id, &entry.path(), e.to_string()));
            }
            Err(e) => tracing::warn!("skipping {}: {e}", entry.path().display()),
        }
    }
    out.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.run_id.cmp(&a.run_id))
    });
    Ok(out)
}

fn listing(state_dir: &Path, run_id: &str, dir: &Path) -> Result<RunListing, JournalError> {
    let m = read_manifest(state_dir, run_id, dir)?;
    let replayed = replay_file(&dir.join(JOURNAL_FILE), &m);
    let mut l = RunListing {
        run_id: m.run_id,
        created_at: m.created_at,
        direction: m.direction,
        source: m.source,
        output: m.output,
        last_state: None,
        segments_total: m.segments,
        segments_done: 0,
        segments_failed: 0,
        counts: Counts::default(),
        torn_tail: None,
        damaged_lines: Vec::new(),
        problem: None,
    };
    match replayed {
        Ok(s) => {
            let r = s.replay;
            l.last_state = r.last_run_state;
            l.counts = r.counts();
            for seg in r.segments.values() {
                match seg.state {
                    SegmentState::Done | SegmentState::DoneWithRejects => l.segments_done += 1,
                    SegmentState::Failed => l.segments_failed += 1,
                    _ => {}
                }
            }
            l.damaged_lines = r.damaged.iter().map(|d| d.line).collect();
            l.torn_tail = r.torn_tail;
        }
        Err(e) => l.problem = Some(e.to_string()),
    }
    Ok(l)
}

/// A listing for a run whose manifest cannot be used, from what of it still parses.
fn damaged_manifest(run_id: &str, dir: &Path, problem: String) -> RunListing {
    let raw: serde_json::Value =
        crate::safe_file::read_capped(&dir.join(MANIFEST_FILE), crate::safe_file::STATE_CAP)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
    let field = |k: &str| raw.get(k).cloned().unwrap_or_default();
    RunListing {
        run_id: run_id.to_string(),
        created_at: field("created_at").as_str().unwrap_or_default().to_string(),
        direction: serde_json::from_value(field("direction")).unwrap_or(Direction::Push),
        source: serde_json::from_value(field("source")).unwrap_or_default(),
        output: serde_json::from_value(field("output")).unwrap_or_default(),
        last_state: None,
        segments_total: field("segments").as_u64().unwrap_or_default() as usize,
        segments_done: 0,
        segments_failed: 0,
        counts: Counts::default(),
        torn_tail: None,
        damaged_lines: Vec::new(),
        problem: Some(problem),
    }
}

/// The newest run that is not completed, if any (what `resume` with no id carries on).
pub fn latest_unfinished(state_dir: &Path) -> Result<Option<String>, JournalError> {
    Ok(list_runs(state_dir)?
        .into_iter()
        .find(RunListing::is_unfinished)
        .map(|l| l.run_id))
}
