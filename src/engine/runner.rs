//! The scheduler half of a run: which segments go out when, at most `concurrency` at once,
//! while honouring pause, stop and hard cancel. Outcomes and commands are handled in
//! `outcome.rs` and `commands.rs`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::anyhow;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::RunParams;
use super::backoff::Backoff;
use super::control::Gate;
use super::emit::Emitter;
use super::events::{
    Command, Direction, EngineEvent, RunInfo, RunState, SegmentState, SegmentView,
};
use super::plan::Plan;
use super::slots::Slots;
use super::worker::{Outcome, WorkerCtx, run_segment};
use crate::api::ApiClient;
use crate::journal::Entry;
use crate::source::{PullSink, RejectsWriter};

pub(super) struct Runner {
    pub(super) run_id: String,
    pub(super) direction: Direction,
    pub(super) journal: crate::journal::Journal,
    pub(super) rejects: Option<RejectsWriter>,
    pub(super) sink: Option<Arc<PullSink>>,
    pub(super) views: Vec<SegmentView>,
    pub(super) works: Vec<super::worker::Work>,
    pub(super) queue: VecDeque<usize>,
    pub(super) tasks: JoinSet<(usize, Outcome)>,
    pub(super) task_segment: HashMap<tokio::task::Id, usize>,
    pub(super) ctx: Arc<WorkerCtx>,
    pub(super) concurrency: usize,
    pub(super) stay_alive: bool,
    pub(super) stop_grace: Duration,
    pub(super) local_invalid: u64,
    pub(super) notices: Vec<String>,
    pub(super) paused: bool,
    pub(super) stopping: bool,
    pub(super) fatal: Option<String>,
    pub(super) auth_failure: bool,
    /// The idle state last reported while staying alive, so it is reported once.
    pub(super) idle_reported: Option<RunState>,
    /// For `RunInfo`: where records come from and go to.
    pub(super) source_label: String,
    pub(super) target_label: String,
}

impl Runner {
    pub(super) fn new(
        params: &RunParams,
        plan: Plan,
        api: Arc<ApiClient>,
        emit: Emitter,
        cancel: &CancellationToken,
    ) -> anyhow::Result<Self> {
        let Plan {
            journal,
            manifest,
            works,
            views,
            local_invalid,
            notices,
        } = plan;
        let run_dir = journal.run_dir().to_path_buf();
        let (rejects, sink) = match manifest.direction {
            Direction::Push => (Some(RejectsWriter::new(&run_dir)?), None),
            Direction::Pull => {
                let output = manifest.output.clone().ok_or_else(|| {
                    anyhow!("run {}: its manifest names no output", manifest.run_id)
                })?;
                (None, Some(Arc::new(PullSink::new(&run_dir, &output)?)))
            }
        };
        let sync = &params.config.sync;
        let backoff = Backoff::from_config(sync);
        let ctx = Arc::new(WorkerCtx {
            api,
            gate: Arc::new(Gate::new(sync.retry_budget)),
            emit,
            backoff,
            max_attempts: sync.max_attempts.max(1),
            retry_budget: sync.retry_budget,
            probe_every: backoff
                .max
                .clamp(Duration::from_millis(200), Duration::from_secs(30)),
            slots: Slots::new(sync.concurrency),
            run_id: manifest.run_id.clone(),
            sink: sink.clone(),
            cancel: cancel.child_token(),
            stop: CancellationToken::new(),
        });
        let (source_label, target_label) = match manifest.direction {
            Direction::Push => (
                manifest
                    .source
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                params.config.api.base_url.clone(),
            ),
            Direction::Pull => (
                params.config.api.base_url.clone(),
                manifest
                    .output
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ),
        };
        let queue = views
            .iter()
            .filter(|v| !v.state.is_finished())
            .map(|v| v.index)
            .collect();
        Ok(Self {
            run_id: manifest.run_id.clone(),
            direction: manifest.direction,
            journal,
            rejects,
            sink,
            views,
            works,
            queue,
            tasks: JoinSet::new(),
            task_segment: HashMap::new(),
            ctx,
            concurrency: sync.concurrency.max(1),
            stay_alive: params.stay_alive,
            stop_grace: Duration::from_secs(params.config.api.timeout_secs.max(5)),
            local_invalid,
            notices,
            paused: false,
            stopping: false,
            fatal: None,
            auth_failure: false,
            idle_reported: None,
            source_label,
            target_label,
        })
    }

    pub(super) async fn announce(&mut self) {
        let info = RunInfo {
            run_id: self.run_id.clone(),
            direction: self.direction,
            source: self.source_label.clone(),
            target: self.target_label.clone(),
            total_records: self.views.iter().map(|v| v.records).sum(),
            segments: self.views.clone(),
            started_wall: SystemTime::now(),
            local_rejects: self.local_invalid,
        };
        self.ctx.emit.outcome(EngineEvent::RunStarted(info)).await;
        for n in std::mem::take(&mut self.notices) {
            self.ctx.emit.notice(n);
        }
        self.ctx
            .emit
            .outcome(EngineEvent::RunState(RunState::Running))
            .await;
    }

    /// Segments holding a slot (talking to the server), not those waiting for one.
    pub(super) fn in_flight(&self) -> usize {
        self.ctx.slots.in_use()
    }

    /// Nothing more will start: everything finished, or we are stopping / failed.
    fn idle(&self) -> bool {
        self.tasks.is_empty() && (self.queue.is_empty() || self.stopping || self.fatal.is_some())
    }

    fn fill(&mut self) {
        if self.paused || self.stopping || self.fatal.is_some() {
            return;
        }
        // Twice `concurrency` tasks: the second half reads and encodes its segment while
        // the first half is at the server, then waits for a slot (see `slots.rs`).
        while self.tasks.len() < self.concurrency * 2 {
            let Some(i) = self.queue.pop_front() else {
                break;
            };
            let (Some(work), Some(view)) = (self.works.get(i), self.views.get(i)) else {
                continue;
            };
            let handle = self.tasks.spawn(run_segment(
                self.ctx.clone(),
                i,
                view.records,
                work.clone(),
                self.ctx.slots.ticket(),
            ));
            self.task_segment.insert(handle.id(), i);
        }
    }

    pub(super) async fn run_loop(
        &mut self,
        mut commands: mpsc::Receiver<Command>,
        cancel: &CancellationToken,
    ) {
        let mut commands_open = true;
        let mut stop_deadline: Option<tokio::time::Instant> = None;
        loop {
            // Commands first: a Pause or Stop that is already waiting must hold back the
            // segments `fill` would otherwise start.
            while commands_open && let Ok(c) = commands.try_recv() {
                self.on_command(c, &mut stop_deadline).await;
            }
            self.fill();
            if self.idle() {
                let can_wait =
                    self.stay_alive && commands_open && !self.stopping && self.fatal.is_none();
                if !can_wait {
                    break;
                }
                self.report_idle().await;
            }
            tokio::select! {
                Some(joined) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => {
                    match joined {
                        Ok((id, (i, outcome))) => {
                            self.task_segment.remove(&id);
                            // Start the next segment in the freed slot before this outcome's
                            // fsync: segments finishing together would otherwise wait on one
                            // another's journal syncs with the server's slots idle (17% over
                            // the ideal time in the efficiency bench). The outcome is still
                            // journaled before anyone is told of it.
                            if matches!(outcome, super::worker::Outcome::Finished { .. }) {
                                self.fill();
                            }
                            self.on_outcome(i, outcome).await;
                        }
                        Err(e) => {
                            let i = self.task_segment.remove(&e.id());
                            self.on_worker_crash(i, &e).await;
                        }
                    }
                }
                cmd = commands.recv(), if commands_open => match cmd {
                    Some(c) => self.on_command(c, &mut stop_deadline).await,
                    None => {
                        // Nobody can steer any more: finish what is running and end.
                        commands_open = false;
                        if !self.stopping && (self.paused || self.stay_alive) {
                            self.on_command(Command::Stop, &mut stop_deadline).await;
                        }
                    }
                },
                _ = sleep_until_opt(stop_deadline), if stop_deadline.is_some() => {
                    self.ctx.emit.notice(format!(
                        "in-flight segments did not finish within {}s: abandoning them (they stay pending)",
                        self.stop_grace.as_secs()
                    ));
                    self.ctx.cancel.cancel();
                    stop_deadline = None;
                }
                _ = cancel.cancelled() => {
                    // Hard stop: abandon in-flight work. Only completed outcomes were
                    // journaled, so the journal is consistent and those segments stay pending.
                    self.tasks.abort_all();
                    while self.tasks.join_next().await.is_some() {}
                    self.task_segment.clear();
                    break;
                }
            }
        }
        for v in self.views.iter_mut() {
            if matches!(v.state, SegmentState::Running | SegmentState::Retrying) {
                v.state = SegmentState::Pending;
            }
        }
    }

    async fn report_idle(&mut self) {
        let state = if self.views.iter().any(|v| v.state == SegmentState::Failed) {
            RunState::CompletedWithFailures
        } else {
            RunState::Completed
        };
        if self.idle_reported == Some(state) {
            return;
        }
        self.idle_reported = Some(state);
        self.journal_run_state(state);
        self.ctx.emit.outcome(EngineEvent::RunState(state)).await;
    }

    pub(super) fn journal_run_state(&mut self, state: RunState) {
        let entry = Entry::Run {
            state,
            at: crate::journal::now_rfc3339(),
        };
        if let Err(e) = self.journal.append(&entry) {
            self.ctx
                .emit
                .notice(format!("cannot record the run state in the journal: {e}"));
        }
    }
}

async fn sleep_until_opt(t: Option<tokio::time::Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
