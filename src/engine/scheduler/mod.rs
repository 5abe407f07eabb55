//! The scheduler half of a run: which segments go out when, at most `concurrency` at once
//! (plus as many reading ahead), while honouring pause, stop and hard cancel. What each
//! outcome does to the books is the [`Ledger`]'s business; operator commands are in
//! `commands.rs`.

mod commands;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::RunParams;
use super::backoff::Backoff;
use super::control::Gate;
use super::emit::Emitter;
use super::events::{Command, Direction, EngineEvent, RunInfo, RunState};
use super::ledger::Ledger;
use super::outage::{Outage, OutageEnd};
use super::pace::Pace;
use super::plan::Plan;
use super::run::{End, final_state};
use super::worker::{SegmentResult, Work, run_segment};
use super::worker_ctx::WorkerCtx;
use crate::api::ApiClient;

pub(super) struct Scheduler {
    run_id: String,
    direction: Direction,
    ledger: Ledger,
    works: Vec<Work>,
    queue: VecDeque<usize>,
    tasks: JoinSet<(usize, SegmentResult)>,
    task_segment: HashMap<tokio::task::Id, usize>,
    ctx: Arc<WorkerCtx>,
    stay_alive: bool,
    stop_grace: Duration,
    local_invalid: u64,
    notices: Vec<String>,
    paused: bool,
    stopping: bool,
    /// Past `stopping`: when in-flight segments are abandoned.
    stop_deadline: Option<tokio::time::Instant>,
    fatal: Option<String>,
    auth_failure: bool,
    /// The idle state last reported while staying alive, so it is reported once.
    idle_reported: Option<RunState>,
    /// Since when the run has had nothing to do (staying alive for retries), and the
    /// earlier such spans: not part of the sync's duration.
    idle_since: Option<Instant>,
    idle_total: Duration,
    /// For `RunInfo`: where records come from and go to.
    source_label: String,
    target_label: String,
    /// The mapping's preset, shown beside the API (the engine only passes it on).
    api_style: String,
}

impl Scheduler {
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
            // Handed to the API client before the scheduler exists.
            continuations: _,
            pull_checks,
        } = plan;
        let ledger = Ledger::open(journal, &manifest, views, pull_checks, emit.clone())?;
        let sync = &params.config.sync;
        let backoff = Backoff::from_config(sync);
        let pace = Arc::new(Pace::from_config(sync));
        let ctx = Arc::new(WorkerCtx {
            api,
            gate: Arc::new(Gate::new(sync.retry_budget)),
            emit,
            backoff,
            max_attempts: sync.max_attempts.max(1),
            retry_budget: sync.retry_budget,
            outage: Arc::new(Outage::from_config(&params.config)),
            slots: pace.slots().clone(),
            pace,
            run_id: manifest.run_id.clone(),
            sink: ledger.sink(),
            planned_total: manifest.total_records,
            cancel: cancel.child_token(),
            stop: CancellationToken::new(),
        });
        let label = |p: &Option<std::path::PathBuf>| {
            p.as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        };
        let api_label = params.config.api.base_url.clone();
        let api_style = params
            .config
            .api
            .mapping
            .preset
            .clone()
            .unwrap_or_else(|| "contract".to_string());
        let (source_label, target_label) = match manifest.direction {
            Direction::Push => (label(&manifest.source), api_label),
            Direction::Pull => (api_label, label(&manifest.output)),
        };
        Ok(Self {
            run_id: manifest.run_id.clone(),
            direction: manifest.direction,
            queue: ledger.unfinished().collect(),
            ledger,
            works,
            tasks: JoinSet::new(),
            task_segment: HashMap::new(),
            ctx,
            stay_alive: params.stay_alive,
            stop_grace: Duration::from_secs(params.config.api.timeout_secs.max(5)),
            local_invalid,
            notices,
            paused: false,
            stopping: false,
            stop_deadline: None,
            fatal: None,
            auth_failure: false,
            idle_reported: None,
            idle_since: None,
            idle_total: Duration::ZERO,
            source_label,
            target_label,
            api_style,
        })
    }

    pub(super) async fn announce(&mut self) {
        let views = self.ledger.views();
        let info = RunInfo {
            run_id: self.run_id.clone(),
            direction: self.direction,
            source: self.source_label.clone(),
            target: self.target_label.clone(),
            total_records: views.iter().map(|v| v.records).sum(),
            segments: views.to_vec(),
            started_wall: SystemTime::now(),
            local_rejects: self.local_invalid,
            api_style: self.api_style.clone(),
        };
        self.ctx.emit.outcome(EngineEvent::RunStarted(info)).await;
        for n in std::mem::take(&mut self.notices) {
            self.ctx.emit.notice(n);
        }
        self.ctx.pace.show(&self.ctx.api, &self.ctx.emit);
        self.ctx
            .emit
            .outcome(EngineEvent::RunState(RunState::Running))
            .await;
    }

    /// Segments holding a slot (talking to the server), not those waiting for one.
    fn in_flight(&self) -> usize {
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
        // the first half is at the server, then waits for a slot (see `slots.rs`). Under
        // `auto` the limit of the moment; a fixed limit never moves.
        let limit = self.ctx.pace.limit().max(1);
        while self.tasks.len() < limit * 2 {
            let Some(i) = self.queue.pop_front() else {
                break;
            };
            let (Some(work), Some(records)) = (self.works.get(i), self.ledger.records(i)) else {
                continue;
            };
            let handle = self.tasks.spawn(run_segment(
                self.ctx.clone(),
                i,
                records,
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
        loop {
            // Commands first: a Pause or Stop that is already waiting must hold back the
            // segments `fill` would otherwise start.
            while commands_open && let Ok(c) = commands.try_recv() {
                self.on_command(c).await;
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
            let outage = self.ctx.outage.clone();
            // A paused run is not asking the server anything: it does not time out.
            let watch_outage = !self.stopping && !self.paused && self.fatal.is_none();
            tokio::select! {
                end = outage.expired(), if watch_outage => self.on_outage(end).await,
                Some(joined) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => {
                    match joined {
                        Ok((id, (i, outcome))) => {
                            self.task_segment.remove(&id);
                            // Start the next segment in the freed slot before this outcome's
                            // fsync: segments finishing together would otherwise wait on one
                            // another's journal syncs with the server's slots idle (17% over
                            // the ideal time in the efficiency bench). The outcome is still
                            // journaled before anyone is told of it.
                            if matches!(outcome, SegmentResult::Finished(_)) {
                                self.fill();
                            }
                            self.on_outcome(i, outcome).await;
                        }
                        Err(e) => {
                            let i = self.task_segment.remove(&e.id());
                            self.on_worker_crash(i, e).await;
                        }
                    }
                }
                cmd = commands.recv(), if commands_open => match cmd {
                    Some(c) => self.on_command(c).await,
                    None => {
                        // Nobody can steer any more: finish what is running and end.
                        commands_open = false;
                        if !self.stopping && (self.paused || self.stay_alive) {
                            self.on_command(Command::Stop).await;
                        }
                    }
                },
                _ = sleep_until_opt(self.stop_deadline), if self.stop_deadline.is_some() => {
                    self.ctx.emit.notice(format!(
                        "in-flight segments did not finish within {}s: abandoning them (they stay pending)",
                        self.stop_grace.as_secs()
                    ));
                    self.ctx.cancel.cancel();
                    self.stop_deadline = None;
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
        self.ledger.settle_unfinished();
    }

    async fn on_outcome(&mut self, i: usize, outcome: SegmentResult) {
        match outcome {
            SegmentResult::Finished(settled) => {
                if let Err(msg) = self.ledger.settle(i, settled).await {
                    self.fail_run(msg);
                }
            }
            SegmentResult::AuthFailure { error } => {
                if !self.auth_failure {
                    self.auth_failure = true;
                    self.fail_run(format!("authentication failed: {error}"));
                }
                self.ledger.set_pending(i);
            }
            SegmentResult::Abandoned => self.ledger.set_pending(i),
        }
    }

    /// A segment task ended without an outcome. Cancelled: it stays pending. Panicked: a
    /// bug, which may have struck after the server applied the batch, so nothing about the
    /// segment is booked (no "failed, 0 created"): it stays pending and a resume resends it
    /// under the same idempotency key. The run stops like Ctrl-C (in-flight requests finish)
    /// but as a failure naming the bug, since the same fault would likely strike again.
    async fn on_worker_crash(&mut self, i: Option<usize>, e: tokio::task::JoinError) {
        if let Some(i) = i {
            self.ledger.set_pending(i);
        }
        let payload = match e.try_into_panic() {
            Ok(payload) => payload,
            Err(_cancelled) => return,
        };
        let what = super::panic::message(payload.as_ref());
        let segment = i.map_or_else(|| "a segment".to_string(), |i| format!("segment {i}"));
        let msg = format!(
            "internal error (a bug) in {segment}: {what}; it stays pending and is resent \
             with the same idempotency key on resume, so nothing is stored twice"
        );
        tracing::error!(target: "supsync::engine", "{msg}");
        self.ctx.emit.notice(msg.clone());
        if self.fatal.is_none() {
            self.fatal = Some(msg);
        }
        if !self.stopping {
            self.begin_stop();
            self.ctx
                .emit
                .outcome(EngineEvent::RunState(RunState::Stopping))
                .await;
        }
    }

    /// The server stayed down past `sync.max_outage_secs`: stop as for Ctrl-C (requests in
    /// flight settle, the rest stays pending), but as a failure that says why.
    async fn on_outage(&mut self, end: OutageEnd) {
        self.fatal = Some(end.message);
        self.auth_failure = end.token_endpoint;
        self.begin_stop();
        self.ctx
            .emit
            .outcome(EngineEvent::RunState(RunState::Stopping))
            .await;
    }

    fn fail_run(&mut self, msg: String) {
        if self.fatal.is_none() {
            self.fatal = Some(msg);
        }
        // Nothing else can succeed: abandon what is in flight.
        self.ctx.cancel.cancel();
    }

    async fn report_idle(&mut self) {
        let state = self.ledger.idle_state();
        if self.idle_reported == Some(state) {
            return;
        }
        self.idle_reported = Some(state);
        // Finished: nothing is renewed or kept alive while the operator reads the result
        // (a retry wakes the client again), and the sync's clock stops.
        self.idle_since.get_or_insert_with(Instant::now);
        self.ctx.api.rest();
        self.ledger.run_state(state);
        self.ctx.emit.outcome(EngineEvent::RunState(state)).await;
    }

    /// The run has work again after resting (a retry).
    pub(super) fn busy_again(&mut self) {
        if let Some(since) = self.idle_since.take() {
            self.idle_total += since.elapsed();
        }
        self.ctx.api.wake();
    }

    /// Records the end in the journal and, for a complete pull, assembles the output.
    pub(super) async fn finish(mut self) -> End {
        self.ctx.cancel.cancel();
        let mut output_records = None;
        let mut shortfall = None;
        if self.ledger.has_output() {
            let all_done = self.ledger.all_done();
            if all_done && self.fatal.is_none() {
                match self.ledger.assemble_output().await {
                    Ok(n) => output_records = n,
                    Err(e) => self.fatal = Some(e),
                }
                // Written whatever the server's pages did, and said plainly when they did
                // not add up: a pull that fell short is never a clean success.
                shortfall = self.ledger.pull_shortfall(output_records);
                if let Some(why) = &shortfall {
                    self.ctx.emit.notice(why.clone());
                }
            } else if !all_done {
                self.ctx.emit.notice(format!(
                    "{} not written yet: it is assembled once every segment is done",
                    self.target_label
                ));
            }
        }
        let mut state = final_state(self.fatal.is_some(), self.ledger.views());
        if shortfall.is_some() && state == RunState::Completed {
            state = RunState::CompletedWithFailures;
        }
        let reason = self.fatal.clone().or_else(|| shortfall.clone());
        self.ledger.run_ended(state, reason, self.auth_failure);
        End {
            run_id: self.run_id,
            direction: self.direction,
            views: self.ledger.into_views(),
            fatal: self.fatal,
            auth_failure: self.auth_failure,
            renewals: 0,
            sessions: 0,
            shortfall,
            output_records,
            idle: self.idle_total + self.idle_since.map_or(Duration::ZERO, |s| s.elapsed()),
        }
    }
}

async fn sleep_until_opt(t: Option<tokio::time::Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
