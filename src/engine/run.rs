//! The run loop: plans, connects, hands segments to workers (at most `concurrency` at
//! once), journals each outcome before telling anyone, and obeys operator commands.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::anyhow;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::backoff::Backoff;
use super::control::Gate;
use super::emit::Emitter;
use super::events::{
    Command, Counts, Direction, EngineEvent, RunInfo, RunState, RunSummary, SegmentState,
    SegmentView,
};
use super::plan::{self, Plan};
use super::worker::{Origin, Outcome, RejectRow, WorkerCtx, run_segment};
use super::{RunMode, RunParams};
use crate::api::{ApiClient, ApiError, ConnectOptions};
use crate::config::TokenCacheMode;
use crate::journal::Entry;
use crate::source::{PullSink, RejectEntry, RejectOrigin, RejectsWriter};

/// How the run ended, before it is turned into a summary.
struct End {
    run_id: String,
    direction: Direction,
    views: Vec<SegmentView>,
    fatal: Option<String>,
    auth_failure: bool,
    renewals: u32,
    sessions: u32,
}

pub(crate) async fn run(
    params: RunParams,
    emit: Emitter,
    commands: mpsc::Receiver<Command>,
    cancel: CancellationToken,
) -> RunSummary {
    let started = Instant::now();
    emit.progress(EngineEvent::RunState(RunState::Planning));
    let end = match prepare_and_run(&params, &emit, commands, &cancel).await {
        Ok(end) => end,
        Err(e) => End {
            run_id: mode_run_id(&params.mode),
            direction: mode_direction(&params.mode),
            views: Vec::new(),
            fatal: Some(format!("{e:#}")),
            auth_failure: e
                .downcast_ref::<ApiError>()
                .is_some_and(ApiError::is_auth_failure),
            renewals: 0,
            sessions: 0,
        },
    };
    let summary = summarize(end, started.elapsed());
    emit.outcome(EngineEvent::RunState(summary.state)).await;
    emit.outcome(EngineEvent::Finished(summary.clone())).await;
    summary
}

fn mode_run_id(mode: &RunMode) -> String {
    match mode {
        RunMode::Push { run_id, .. } | RunMode::Pull { run_id, .. } => {
            run_id.clone().unwrap_or_default()
        }
        RunMode::Resume { run_id } | RunMode::Retry { run_id, .. } => run_id.clone(),
    }
}

fn mode_direction(mode: &RunMode) -> Direction {
    match mode {
        RunMode::Pull { .. } => Direction::Pull,
        _ => Direction::Push,
    }
}

fn final_state(end: &End) -> RunState {
    if end.fatal.is_some() {
        return RunState::Failed;
    }
    if end.views.iter().any(|v| !v.state.is_finished()) {
        return RunState::Interrupted;
    }
    if end.views.iter().any(|v| v.state == SegmentState::Failed) {
        RunState::CompletedWithFailures
    } else {
        RunState::Completed
    }
}

fn summarize(end: End, duration: Duration) -> RunSummary {
    let state = final_state(&end);
    let mut counts = Counts::default();
    for v in &end.views {
        counts.add(&v.counts);
    }
    RunSummary {
        state,
        counts,
        segments_total: end.views.len(),
        segments_done: end
            .views
            .iter()
            .filter(|v| matches!(v.state, SegmentState::Done | SegmentState::DoneWithRejects))
            .count(),
        segments_failed: end
            .views
            .iter()
            .filter(|v| v.state == SegmentState::Failed)
            .count(),
        token_renewals: end.renewals,
        sessions: end.sessions,
        duration,
        error: end.fatal,
        auth_failure: end.auth_failure,
        run_id: end.run_id,
        direction: end.direction,
    }
}

/// Gets the first token, retrying while the server is only temporarily unreachable.
async fn connect(
    params: &RunParams,
    audit_dir: Option<&std::path::Path>,
    cancel: CancellationToken,
) -> Result<Arc<ApiClient>, ApiError> {
    let opts = ConnectOptions {
        token_cache: match params.config.auth.token_cache {
            TokenCacheMode::Encrypted => Some(params.state_dir.join("token-cache")),
            TokenCacheMode::None => None,
        },
        audit_log: audit_dir.map(|d| d.join("token-audit.jsonl")),
    };
    let backoff = Backoff::from_config(&params.config.sync);
    let mut n = 0;
    loop {
        n += 1;
        let r = ApiClient::connect(
            &params.config,
            params.client_secret.clone(),
            opts.clone(),
            cancel.clone(),
        )
        .await;
        match r {
            Err(e) if e.is_retryable() && n < params.config.sync.max_attempts.max(1) => {
                tokio::select! {
                    _ = tokio::time::sleep(backoff.delay(n, e.retry_after())) => {}
                    _ = cancel.cancelled() => return Err(ApiError::Cancelled),
                }
            }
            other => return other,
        }
    }
}

async fn prepare_and_run(
    params: &RunParams,
    emit: &Emitter,
    commands: mpsc::Receiver<Command>,
    cancel: &CancellationToken,
) -> anyhow::Result<End> {
    // The client's background refresh and keep-alive end with the run.
    let api_cancel = cancel.child_token();
    let _stop_client = api_cancel.clone().drop_guard();
    let connect_err =
        |e: ApiError| anyhow!(e).context("cannot get a token from the authorization server");
    let (plan, api) = match &params.mode {
        RunMode::Push { source, run_id } => {
            let plan = plan::push_new(params, source, run_id.clone()).await?;
            let api = connect(params, Some(plan.journal.run_dir()), api_cancel.clone())
                .await
                .map_err(connect_err)?;
            (plan, api)
        }
        RunMode::Pull { output, run_id } => {
            plan::check_output(output)?;
            let api = connect(params, None, api_cancel.clone())
                .await
                .map_err(connect_err)?;
            (
                plan::pull_new(params, output, run_id.clone(), &api).await?,
                api,
            )
        }
        RunMode::Resume { run_id } => {
            let plan = plan::open(params, run_id, None).await?;
            let api = connect(params, Some(plan.journal.run_dir()), api_cancel.clone())
                .await
                .map_err(connect_err)?;
            (plan, api)
        }
        RunMode::Retry { run_id, segments } => {
            let plan = plan::open(params, run_id, Some(segments)).await?;
            let api = connect(params, Some(plan.journal.run_dir()), api_cancel.clone())
                .await
                .map_err(connect_err)?;
            (plan, api)
        }
    };
    forward_token_status(&api, emit.clone(), api_cancel.clone());
    let mut runner = Runner::new(params, plan, api.clone(), emit.clone(), cancel)?;
    runner.announce().await;
    runner.run_loop(commands, cancel).await;
    let status = api.token_status().borrow().clone();
    runner.finish().await;
    Ok(End {
        run_id: runner.run_id.clone(),
        direction: runner.direction,
        views: runner.views,
        fatal: runner.fatal,
        auth_failure: runner.auth_failure,
        renewals: status.renewals,
        sessions: status.sessions,
    })
}

/// Token status changes become events (the latest wins when the consumer lags).
fn forward_token_status(api: &ApiClient, emit: Emitter, cancel: CancellationToken) {
    let mut rx = api.token_status();
    tokio::spawn(async move {
        loop {
            let status = rx.borrow_and_update().clone();
            emit.progress(EngineEvent::Token(status));
            tokio::select! {
                changed = rx.changed() => if changed.is_err() { return },
                _ = cancel.cancelled() => return,
            }
        }
    });
}

struct Runner {
    run_id: String,
    direction: Direction,
    journal: crate::journal::Journal,
    rejects: Option<RejectsWriter>,
    sink: Option<Arc<PullSink>>,
    views: Vec<SegmentView>,
    works: Vec<super::worker::Work>,
    queue: VecDeque<usize>,
    tasks: JoinSet<(usize, Outcome)>,
    task_segment: HashMap<tokio::task::Id, usize>,
    ctx: Arc<WorkerCtx>,
    concurrency: usize,
    stay_alive: bool,
    stop_grace: Duration,
    local_invalid: u64,
    notices: Vec<String>,
    paused: bool,
    stopping: bool,
    fatal: Option<String>,
    auth_failure: bool,
    /// The idle state last reported while staying alive, so it is reported once.
    idle_reported: Option<RunState>,
    /// For `RunInfo`: where records come from and go to.
    source_label: String,
    target_label: String,
}

impl Runner {
    fn new(
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

    async fn announce(&mut self) {
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

    /// Nothing more will start: everything finished, or we are stopping / failed.
    fn idle(&self) -> bool {
        self.tasks.is_empty() && (self.queue.is_empty() || self.stopping || self.fatal.is_some())
    }

    fn fill(&mut self) {
        if self.paused || self.stopping || self.fatal.is_some() {
            return;
        }
        while self.tasks.len() < self.concurrency {
            let Some(i) = self.queue.pop_front() else {
                break;
            };
            let (Some(work), Some(view)) = (self.works.get(i), self.views.get(i)) else {
                continue;
            };
            let handle =
                self.tasks
                    .spawn(run_segment(self.ctx.clone(), i, view.records, work.clone()));
            self.task_segment.insert(handle.id(), i);
        }
    }

    async fn run_loop(
        &mut self,
        mut commands: mpsc::Receiver<Command>,
        cancel: &CancellationToken,
    ) {
        let mut commands_open = true;
        let mut stop_deadline: Option<tokio::time::Instant> = None;
        loop {
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

    fn journal_run_state(&mut self, state: RunState) {
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

    async fn on_outcome(&mut self, i: usize, outcome: Outcome) {
        match outcome {
            Outcome::Finished {
                state,
                attempts,
                counts,
                error,
                rejects,
                duration,
            } => {
                self.write_rejects(i, &rejects);
                // Journal (fsynced) first; only then may anyone see the outcome.
                let entry = Entry::Segment {
                    index: i,
                    state,
                    attempts,
                    counts,
                    error: error.clone(),
                    at: crate::journal::now_rfc3339(),
                };
                if let Err(e) = self.journal.append(&entry) {
                    self.fail_run(format!(
                        "cannot write the journal ({e}); stopping so no outcome goes unrecorded"
                    ));
                    self.set_pending(i).await;
                    return;
                }
                if let Some(v) = self.views.get_mut(i) {
                    v.state = state;
                    v.attempts = attempts;
                    v.counts = counts;
                    v.last_error = error;
                    v.duration = Some(duration);
                    v.rejects = rejects
                        .iter()
                        .take(5)
                        .map(|r| super::events::Reject {
                            supplier_id: r.supplier_id.clone(),
                            line: r.line,
                            reason: r.reason.clone(),
                        })
                        .collect();
                    let ev = EngineEvent::Segment(v.clone());
                    self.ctx.emit.outcome(ev).await;
                }
            }
            Outcome::AuthFailure { error } => {
                if !self.auth_failure {
                    self.auth_failure = true;
                    self.fail_run(format!("authentication failed: {error}"));
                }
                self.set_pending(i).await;
            }
            Outcome::Abandoned => self.set_pending(i).await,
        }
    }

    async fn on_worker_crash(&mut self, i: Option<usize>, e: &tokio::task::JoinError) {
        if e.is_cancelled() {
            if let Some(i) = i {
                self.set_pending(i).await;
            }
            return;
        }
        // A bug, not a server problem: record it as a failed segment the operator can retry.
        let msg = format!("internal error in the segment worker: {e}");
        match i {
            Some(i) => {
                let outcome = Outcome::Finished {
                    state: SegmentState::Failed,
                    attempts: self.views.get(i).map(|v| v.attempts).unwrap_or(0),
                    counts: Counts::default(),
                    error: Some(msg),
                    rejects: Vec::new(),
                    duration: Duration::ZERO,
                };
                Box::pin(self.on_outcome(i, outcome)).await;
            }
            None => self.ctx.emit.notice(msg),
        }
    }

    fn write_rejects(&mut self, i: usize, rejects: &[RejectRow]) {
        let Some(w) = self.rejects.as_mut() else {
            return;
        };
        for r in rejects {
            let entry = RejectEntry {
                segment: i,
                line: r.line,
                supplier_id: r.supplier_id.clone(),
                reason: r.reason.clone(),
                origin: match r.origin {
                    Origin::Local => RejectOrigin::Local,
                    Origin::Server => RejectOrigin::Server,
                },
            };
            if let Err(e) = w.write(&entry) {
                self.ctx
                    .emit
                    .notice(format!("cannot write to the rejects file: {e}"));
                return;
            }
        }
        if !rejects.is_empty()
            && let Err(e) = w.flush()
        {
            self.ctx
                .emit
                .notice(format!("cannot write to the rejects file: {e}"));
        }
    }

    async fn set_pending(&mut self, i: usize) {
        if let Some(v) = self.views.get_mut(i) {
            if v.state.is_finished() {
                return;
            }
            v.state = SegmentState::Pending;
            let ev = EngineEvent::Segment(v.clone());
            self.ctx.emit.progress(ev);
        }
    }

    fn fail_run(&mut self, msg: String) {
        if self.fatal.is_none() {
            self.fatal = Some(msg);
        }
        // Nothing else can succeed: abandon what is in flight.
        self.ctx.cancel.cancel();
    }

    async fn on_command(&mut self, cmd: Command, stop_deadline: &mut Option<tokio::time::Instant>) {
        let emit = self.ctx.emit.clone();
        match cmd {
            Command::Pause if !self.paused && !self.stopping => {
                self.paused = true;
                self.ctx.gate.set_paused(true);
                emit.outcome(EngineEvent::RunState(RunState::Paused)).await;
                emit.notice(format!(
                    "paused: {} in-flight segment(s) finish, no new requests start; the token is kept alive",
                    self.tasks.len()
                ));
            }
            Command::Resume if self.paused => {
                self.paused = false;
                self.ctx.gate.set_paused(false);
                emit.outcome(EngineEvent::RunState(RunState::Running)).await;
            }
            Command::ForceRefresh => {
                let api = self.ctx.api.clone();
                tokio::spawn(async move {
                    match api.force_refresh().await {
                        Ok(()) => emit.notice("token renewed on request".into()),
                        Err(e) => emit.notice(format!("forced token renewal failed: {e}")),
                    }
                });
            }
            Command::RetrySegment(i) => {
                let n = self.retry(|v| v.index == i).await;
                if n == 0 {
                    emit.notice(format!("segment {i} is not failed; nothing to retry"));
                }
            }
            Command::RetryAllFailed => {
                let n = self.retry(|_| true).await;
                emit.notice(if n == 0 {
                    "no failed segments to retry".into()
                } else {
                    format!("retrying {n} failed segment(s)")
                });
            }
            Command::Stop if !self.stopping => {
                self.stopping = true;
                self.ctx.stop.cancel();
                // A paused run must let its in-flight work end too.
                self.ctx.gate.set_paused(false);
                *stop_deadline = Some(tokio::time::Instant::now() + self.stop_grace);
                emit.outcome(EngineEvent::RunState(RunState::Stopping))
                    .await;
            }
            // Pause while paused, resume while running, stop while stopping: nothing to do.
            Command::Pause | Command::Resume | Command::Stop => {}
        }
    }

    /// Failed segments matching `which` go back to pending with fresh attempts.
    async fn retry(&mut self, which: impl Fn(&SegmentView) -> bool) -> usize {
        if self.stopping || self.fatal.is_some() {
            return 0;
        }
        let mut n = 0;
        for i in 0..self.views.len() {
            let v = &mut self.views[i];
            if v.state == SegmentState::Failed && which(v) {
                *v = SegmentView::pending(v.index, v.records);
                let ev = EngineEvent::Segment(v.clone());
                self.queue.push_back(i);
                self.ctx.emit.outcome(ev).await;
                n += 1;
            }
        }
        if n > 0 && self.idle_reported.take().is_some() {
            self.ctx
                .emit
                .outcome(EngineEvent::RunState(RunState::Running))
                .await;
        }
        n
    }

    /// Records the end in the journal and, for a complete pull, assembles the output.
    async fn finish(&mut self) {
        self.ctx.cancel.cancel();
        let all_done = self
            .views
            .iter()
            .all(|v| matches!(v.state, SegmentState::Done | SegmentState::DoneWithRejects));
        if let Some(sink) = self.sink.clone() {
            if all_done && self.fatal.is_none() {
                let segments = self.views.len();
                let r = tokio::task::spawn_blocking(move || {
                    sink.finish(segments).map_err(|e| e.to_string())
                })
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r);
                if let Err(e) = r {
                    self.fatal = Some(format!("cannot assemble the output file: {e}"));
                }
            } else if !all_done {
                self.ctx.emit.notice(format!(
                    "{} not written yet: it is assembled once every segment is done",
                    self.target_label
                ));
            }
        }
        let end = End {
            run_id: String::new(),
            direction: self.direction,
            views: self.views.clone(),
            fatal: self.fatal.clone(),
            auth_failure: self.auth_failure,
            renewals: 0,
            sessions: 0,
        };
        self.journal_run_state(final_state(&end));
    }
}

async fn sleep_until_opt(t: Option<tokio::time::Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
