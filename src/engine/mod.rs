//! The sync engine: planner, segment workers with bounded concurrency, backoff,
//! pause/resume, operator commands, journal. It knows nothing of the terminal: the TUI,
//! the headless reporter and tests are three consumers of the same [`EngineHandle`].
//!
//! How a consumer drives it: `start(params)` returns an [`EngineHandle`]; read `events` until
//! `EngineEvent::Finished` (or until the channel closes); send [`Command`]s on `commands`;
//! fire `cancel` for a hard stop. With `stay_alive` the run does not end when every segment
//! is finished (so failed ones can still be retried); it ends on `Command::Stop`, on
//! `cancel`, or when `commands` is dropped.
//!
//! Event order: `RunState(Planning)`, `RunStarted` (every segment, replayed states included;
//! absent when the run failed before planning or connecting), `RunState(Running)`, then
//! `Segment` views (Running/Retrying are progress and may be dropped if the consumer lags;
//! outcomes are sent only after the journal has them, fsynced), `Token` on every status
//! change, `Notice`s, `RunState` on pause/resume/stop (and, with `stay_alive`, the
//! Completed/CompletedWithFailures state when everything is finished), and last the final
//! `RunState` and `Finished(summary)`.

mod attempt;
pub mod backoff;
mod control;
mod emit;
pub mod events;
mod ledger;
mod outage;
pub mod pace;
pub(crate) mod panic;
mod plan;
mod probe;
mod retry;
mod run;
mod scheduler;
pub(crate) mod shard_plan;
mod slots;
mod worker;

use std::path::PathBuf;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::secret::Secret;
use events::{Command, EngineEvent, RunSummary};

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
    /// Keep the run open after every segment has finished, until `Command::Stop`, `cancel`
    /// or the command sender is dropped (the console, so `r`/`R` can still retry).
    /// Headless and tests: false, the run ends when nothing is pending or running.
    pub stay_alive: bool,
    /// This process's slice of the source when the run is one of several shards; a
    /// resume of a run recorded as another shard is refused.
    pub shard: Option<crate::run::Shard>,
    /// The name the shards of one logical run share (`--run-id`); without one, the plan
    /// derives it from the source (see `shard_plan::group`).
    pub shard_group: Option<String>,
}

impl RunParams {
    pub fn new(config: Config, client_secret: Secret, state_dir: PathBuf, mode: RunMode) -> Self {
        Self {
            config,
            client_secret,
            state_dir,
            mode,
            stay_alive: false,
            shard: None,
            shard_group: None,
        }
    }
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
/// a `Finished` summary with state `Failed`, never as a panic; a bug that panics does too.
pub fn start(params: RunParams) -> EngineHandle {
    let (ev_tx, events) = mpsc::channel(1024);
    let (commands, cmd_rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let emit = emit::Emitter::new(ev_tx);
    let (run_id, direction) = (
        run::mode_run_id(&params.mode),
        run::mode_direction(&params.mode),
    );
    let run = run::run(params, emit.clone(), cmd_rx, cancel.clone());
    let task = tokio::spawn(panic::contain(run, emit, run_id, direction));
    EngineHandle {
        events,
        commands,
        cancel,
        task,
    }
}
