//! The sync engine (issue 4): planner, segment workers with bounded concurrency, backoff,
//! pause/resume, operator commands, journal. It knows nothing of the terminal: the TUI,
//! the headless reporter and tests are three consumers of the same [`EngineHandle`].
//!
//! SKELETON: `start` and the handle are the contract the console and headless mode use.

pub mod events;

use std::path::PathBuf;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::secret::Secret;
use events::{Command, EngineEvent, RunState, RunSummary};

/// What to run.
#[derive(Debug, Clone)]
pub enum RunMode {
    /// Push the records of a CSV / JSON Lines file.
    Push {
        source: PathBuf,
        run_id: Option<String>,
    },
    /// Pull every supplier into a file.
    Pull {
        output: PathBuf,
        run_id: Option<String>,
    },
    /// Carry on with an unfinished run.
    Resume { run_id: String },
    /// Retry failed segments of a run (all when `segments` is empty).
    Retry {
        run_id: String,
        segments: Vec<usize>,
    },
}

#[derive(Debug, Clone)]
pub struct RunParams {
    pub config: Config,
    pub client_secret: Secret,
    pub state_dir: PathBuf,
    pub mode: RunMode,
}

/// A running sync. Events arrive on `events` until `Finished`; commands go in on `commands`.
pub struct EngineHandle {
    pub events: mpsc::Receiver<EngineEvent>,
    pub commands: mpsc::Sender<Command>,
    /// Hard stop (second Ctrl-C): in-flight requests are abandoned; the journal stays consistent.
    pub cancel: CancellationToken,
    /// Resolves to the summary (also sent as `EngineEvent::Finished`).
    pub task: JoinHandle<RunSummary>,
}

/// Starts the run on the current tokio runtime. Failures (bad source, no token…) arrive as
/// a `Finished` summary with state `Failed`, never as a panic.
pub fn start(params: RunParams) -> EngineHandle {
    let (ev_tx, events) = mpsc::channel(1024);
    let (commands, _cmd_rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(async move {
        let summary = RunSummary {
            run_id: String::new(),
            direction: events::Direction::Push,
            state: RunState::Failed,
            counts: Default::default(),
            segments_total: 0,
            segments_done: 0,
            segments_failed: 0,
            token_renewals: 0,
            sessions: 0,
            duration: Default::default(),
            error: Some(format!("engine not built yet (issue 4): {:?}", params.mode)),
            auth_failure: false,
        };
        // Ignored on purpose: nobody may be listening any more.
        let _ = ev_tx.send(EngineEvent::Finished(summary.clone())).await;
        summary
    });
    EngineHandle {
        events,
        commands,
        cancel,
        task,
    }
}
