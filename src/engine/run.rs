//! A run from start to summary: plan, connect, hand over to the [`Scheduler`], summarize.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::backoff::Backoff;
use super::emit::Emitter;
use super::events::{
    Command, Counts, Direction, EngineEvent, RunState, RunSummary, SegmentState, SegmentView,
};
use super::plan;
use super::retry::Retry;
use super::scheduler::Scheduler;
use super::{RunMode, RunParams};
use crate::api::{ApiClient, ApiError, ConnectOptions};
use crate::config::AuthKind;

/// The longest `Retry-After` the engine sees as sent (a week); longer ones read as a week.
const RETRY_AFTER_SEEN: u64 = 7 * 24 * 3600;

/// How the run ended, before it is turned into a summary.
pub(super) struct End {
    pub(super) run_id: String,
    pub(super) direction: Direction,
    pub(super) views: Vec<SegmentView>,
    pub(super) fatal: Option<String>,
    pub(super) auth_failure: bool,
    pub(super) renewals: u32,
    pub(super) sessions: u32,
    /// A pull that finished but does not add up: why (the run completed with failures).
    pub(super) shortfall: Option<String>,
    /// A pull's output as written: its record count, the one "pulled" reports.
    pub(super) output_records: Option<u64>,
    /// Time spent with nothing to do, waiting for a retry or a quit: not the sync's.
    pub(super) idle: Duration,
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
            // No first token at all, refused or unreachable after retries: exit 4 (README).
            auth_failure: e
                .downcast_ref::<ApiError>()
                .is_some_and(|a| a.is_auth_failure() || matches!(a, ApiError::Auth(_))),
            renewals: 0,
            sessions: 0,
            shortfall: None,
            output_records: None,
            idle: Duration::ZERO,
        },
    };
    let active = started.elapsed().saturating_sub(end.idle);
    let mut summary = summarize(end, active);
    if cancel.is_cancelled() && summary.state == RunState::Failed && summary.segments_total == 0 {
        // Stopped on purpose while planning or connecting: not a failure.
        summary.state = RunState::Interrupted;
        summary.error = Some("stopped before any segment started".into());
    }
    emit.outcome(EngineEvent::RunState(summary.state)).await;
    emit.outcome(EngineEvent::Finished(summary.clone())).await;
    summary
}

pub(super) fn mode_run_id(mode: &RunMode) -> String {
    match mode {
        RunMode::Push { run_id, .. } | RunMode::Pull { run_id, .. } => {
            run_id.clone().unwrap_or_default()
        }
        RunMode::Resume { run_id } | RunMode::Retry { run_id, .. } => run_id.clone(),
    }
}

pub(super) fn mode_direction(mode: &RunMode) -> Direction {
    match mode {
        RunMode::Pull { .. } => Direction::Pull,
        _ => Direction::Push,
    }
}

/// How a run with these segments ended; `fatal`: it was stopped by an error.
pub(super) fn final_state(fatal: bool, views: &[SegmentView]) -> RunState {
    if fatal {
        return RunState::Failed;
    }
    if views.iter().any(|v| !v.state.is_finished()) {
        return RunState::Interrupted;
    }
    if views.iter().any(|v| v.state == SegmentState::Failed) {
        RunState::CompletedWithFailures
    } else {
        RunState::Completed
    }
}

fn summarize(end: End, duration: Duration) -> RunSummary {
    let mut state = final_state(end.fatal.is_some(), &end.views);
    if end.shortfall.is_some() && state == RunState::Completed {
        state = RunState::CompletedWithFailures;
    }
    let mut counts = Counts::default();
    for v in &end.views {
        counts.add(&v.counts);
    }
    // The file is the truth: segments de-duplicate as they write, so these agree, and
    // should a part from an older version hold a repeat, the file's count still wins.
    if let Some(n) = end.output_records {
        counts.pulled = n;
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
        error: end.fatal.or(end.shortfall),
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
    // Always given: with `auth.token_cache = "none"` the client keeps no tokens there, but
    // a session login's budget of refused logins still lives beside it.
    let opts = ConnectOptions {
        token_cache: Some(params.state_dir.join("token-cache")),
        audit_log: audit_dir.map(|d| d.join("token-audit.jsonl")),
    };
    // The client parses Retry-After up to this ceiling, not ours: the engine itself caps
    // each wait at sync.max_retry_after_secs, and must see a longer wish to report it (a
    // day-long Retry-After says the server is down, not busy).
    let mut config = params.config.clone();
    config.sync.max_retry_after_secs = config.sync.max_retry_after_secs.max(RETRY_AFTER_SEEN);
    let mut retry = Retry::new(Backoff::from_config(&params.config.sync), &cancel);
    retry
        .call(params.config.sync.max_attempts, || {
            ApiClient::connect(
                &config,
                params.client_secret.clone(),
                opts.clone(),
                cancel.clone(),
            )
        })
        .await
        .inspect(|api| {
            api.tokens()
                .honour_retry_after_up_to(std::time::Duration::from_secs(
                    params.config.sync.max_retry_after_secs,
                ))
        })
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
    let words = connect_words(&params.config);
    let connect_err = |e: ApiError| anyhow!(e).context(words);
    let (plan, api) = match &params.mode {
        RunMode::Pull { output, run_id } => {
            plan::check_output(output)?;
            let api = connect(params, None, api_cancel.clone())
                .await
                .map_err(connect_err)?;
            (
                plan::pull_new(params, output, run_id.clone(), &api, &api_cancel).await?,
                api,
            )
        }
        mode => {
            let plan = match mode {
                RunMode::Push { source, run_id } => {
                    plan::push_new(params, source, run_id.clone()).await?
                }
                RunMode::Resume { run_id } => plan::open(params, run_id, None).await?,
                RunMode::Retry { run_id, segments } => {
                    plan::open(params, run_id, Some(segments)).await?
                }
                // Handled by the arm above; an error rather than a panic all the same.
                RunMode::Pull { .. } => anyhow::bail!("internal: pull planned twice"),
            };
            match connect(params, Some(plan.journal.run_dir()), api_cancel.clone()).await {
                Ok(api) => (plan, api),
                Err(e) => return Ok(connect_failed(plan, e, words)),
            }
        }
    };
    forward_token_status(&api, emit.clone(), api_cancel.clone());
    forward_token_log(&api, emit.clone(), api_cancel.clone());
    let mut plan = plan;
    let points = std::mem::take(&mut plan.continuations);
    if !points.is_empty() {
        let taken = api.resume_chain(points).await;
        tracing::debug!(target: "supsync::engine", "{taken} journaled chain point(s) taken back");
    }
    let mut scheduler = Scheduler::new(params, plan, api.clone(), emit.clone(), cancel)?;
    scheduler.announce().await;
    scheduler.run_loop(commands, cancel).await;
    let status = api.token_status().borrow().clone();
    let mut end = scheduler.finish().await;
    end.renewals = status.renewals;
    end.sessions = status.sessions;
    // No renewal or keep-alive may race the logout (nor log in again after it).
    api_cancel.cancel();
    api.end_session().await;
    Ok(end)
}

/// What a failed connect could not get, for the error's first words.
fn connect_words(cfg: &crate::config::Config) -> &'static str {
    match cfg.auth.kind {
        AuthKind::Session => "cannot log in to the API (auth.kind = \"session\")",
        AuthKind::TokenLogin => "cannot log in to the API (auth.kind = \"token_login\")",
        AuthKind::ApiKey => "cannot use the API key (auth.kind = \"api_key\")",
        AuthKind::Oauth2 => "cannot get a token from the authorization server",
    }
}

/// The run exists (journal and all) but got no first token: it ends Failed, and its id and
/// segments go into the summary so the operator can resume it once the cause is fixed.
fn connect_failed(mut plan: plan::Plan, e: ApiError, words: &str) -> End {
    let auth_failure = e.is_auth_failure() || matches!(e, ApiError::Auth(_));
    let fatal = format!("{words}: {e}");
    // Best effort: the run state is a convenience for `status`; segments are what count.
    let _ = plan.journal.append(&crate::journal::Entry::run_ended(
        RunState::Failed,
        Some(fatal.clone()),
        auth_failure,
    ));
    End {
        run_id: plan.manifest.run_id.clone(),
        direction: plan.manifest.direction,
        views: plan.views,
        fatal: Some(fatal),
        auth_failure,
        renewals: 0,
        sessions: 0,
        shortfall: None,
        output_records: None,
        idle: Duration::ZERO,
    }
}

/// Token events become refresh-log events, those from before the engine listened first.
fn forward_token_log(api: &ApiClient, emit: Emitter, cancel: CancellationToken) {
    let (backlog, mut rx) = api.token_log();
    tokio::spawn(async move {
        for line in backlog {
            emit.progress(EngineEvent::TokenLog(line));
        }
        loop {
            tokio::select! {
                line = rx.recv() => match line {
                    Ok(line) => emit.progress(EngineEvent::TokenLog(line)),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return,
                },
                _ = cancel.cancelled() => return,
            }
        }
    });
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
