//! Which runs are live on this machine: every run directory under the state dir (and the
//! demo's) with a control socket that answers. A socket nobody answers on is the leftover
//! of a killed run: not live.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::client::{self, Look};
use super::socket::socket_path;
use crate::run::{Direction, SegmentState};

/// One live run, as `ps` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveRun {
    pub run_id: String,
    pub pid: u32,
    pub direction: Option<Direction>,
    /// The run state's word, as the console and `status` write it.
    pub state: String,
    pub records_done: u64,
    pub records_total: u64,
    /// Finished segments (done, done with rejects, failed).
    pub segments_finished: usize,
    pub segments_failed: usize,
    pub segments_total: usize,
    /// `none`, `valid`, `refreshing` or `failed`.
    pub token_phase: Option<String>,
    /// Seconds until the token's earliest known death, when there is a token.
    pub token_expires_in_secs: Option<f64>,
    /// Seconds until the planned renewal.
    pub token_refresh_in_secs: Option<f64>,
    /// "8 in flight · lowered after 429", when the run has said.
    pub pace: Option<String>,
    /// The run's ETA in seconds over its active time (the console's and `--json`'s figure).
    pub eta_secs: Option<f64>,
    /// Why the ETA is not counting down ("paused", "holding: …").
    pub stalled: Option<String>,
    pub socket: PathBuf,
}

impl LiveRun {
    pub fn from_look(look: Look, socket: PathBuf) -> LiveRun {
        let segments = look.info.as_ref().map_or(&[][..], |i| &i.segments[..]);
        let total = look.info.as_ref().map_or(0, |i| i.total_records);
        let done: u64 = segments.iter().map(|s| s.counts.processed()).sum();
        let state = look
            .summary
            .as_ref()
            .map(|s| s.state)
            .or(look.state)
            .map_or_else(|| "planning".to_string(), |s| s.to_string());
        LiveRun {
            run_id: look.run_id,
            pid: look.pid,
            direction: look.info.as_ref().map(|i| i.direction),
            state,
            records_done: if total > 0 { done.min(total) } else { done },
            records_total: total,
            segments_finished: segments.iter().filter(|s| s.state.is_finished()).count(),
            segments_failed: segments
                .iter()
                .filter(|s| s.state == SegmentState::Failed)
                .count(),
            segments_total: segments.len(),
            token_phase: look.token.as_ref().map(|t| {
                serde_json::to_value(t.phase)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default()
            }),
            token_expires_in_secs: look.token.as_ref().and_then(|t| t.expires_in_secs()),
            token_refresh_in_secs: look.token.as_ref().and_then(|t| t.next_refresh_in_secs),
            pace: look.pace.as_ref().map(|p| p.line()),
            eta_secs: look.history.as_ref().and_then(|h| h.eta_secs),
            stalled: look.history.as_ref().and_then(|h| h.stalled.clone()),
            socket,
        }
    }
}

/// Where runs live under `state_dir`: its own and the demo's (`supsync demo` keeps its
/// runs in `<state_dir>/demo`).
pub fn run_roots(state_dir: &Path) -> [PathBuf; 2] {
    [state_dir.join("runs"), state_dir.join("demo").join("runs")]
}

/// Every socket file under the run roots, whether anyone answers on it or not.
fn sockets(state_dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for root in run_roots(state_dir) {
        let Ok(entries) = std::fs::read_dir(&root) else {
            continue;
        };
        for entry in entries.flatten() {
            let sock = socket_path(&entry.path());
            if std::fs::symlink_metadata(&sock).is_ok() {
                out.push(sock);
            }
        }
    }
    out.sort();
    out
}

/// The live runs under `state_dir`, by run id. Each socket is asked at the same time, so
/// a wedged one costs its timeout once, not once per run.
pub async fn live_runs(state_dir: &Path) -> Vec<LiveRun> {
    let looks = sockets(state_dir).into_iter().map(|sock| async move {
        match client::look(&sock).await {
            Ok(look) => Some(LiveRun::from_look(look, sock)),
            Err(e) => {
                tracing::debug!("{}: not live ({e:#})", sock.display());
                None
            }
        }
    });
    let mut runs: Vec<LiveRun> = futures::future::join_all(looks)
        .await
        .into_iter()
        .flatten()
        .collect();
    runs.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    runs
}
