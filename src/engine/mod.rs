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
mod params;
mod plan;
mod probe;
mod retry;
mod run;
mod scheduler;
pub(crate) mod shard_plan;
mod slots;
mod worker;
mod worker_ctx;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use events::{Command, EngineEvent, RunSummary};
pub use params::{RunMode, RunParams};

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
