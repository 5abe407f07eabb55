//! The attempts of one segment request: wait at the gate, send, and on a transient failure
//! back off and try again, until it succeeds, fails for good, runs out of attempts, or the
//! run stops.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::events::Counts;
use super::events::{EngineEvent, Hold, SegmentState, SegmentView};
use super::probe::spawn_probe;
use super::retry::Retry;
use super::slots::Slot;
use super::worker_ctx::WorkerCtx;
use crate::api::ApiError;
use crate::api::retry_after::words;

/// 429s a segment accepts, as a multiple of `max_attempts`, before they count as attempts.
const RATE_LIMIT_CEILING: u32 = 10;

/// How the attempts of one operation ended, short of success.
pub(super) enum Fail {
    Exhausted {
        attempts: u32,
        error: String,
    },
    /// A push that failed after the server had applied some of its records: those are
    /// counted (the figures say what the server holds); rejects are booked only when the
    /// segment ends, as a retry sends every record again.
    PartlyDone {
        attempts: u32,
        error: String,
        counts: Counts,
    },
    Auth(String),
    Abandoned,
}

/// Runs `op` until it succeeds, backing off between transient failures; gives up after
/// `max_attempts`, at once on a permanent error, and stops the run on an auth failure.
/// `slot` is the segment's place at the server, given up while a request refused by
/// `auto`'s probing waits.
pub(super) async fn attempt<T, F, Fut>(
    ctx: &Arc<WorkerCtx>,
    index: usize,
    records: u64,
    slot: &mut Slot<'_>,
    mut op: F,
) -> Result<(T, u32), Fail>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    // A graceful stop lets a request in flight finish but starts no new one.
    let mut retry = Retry::new(ctx.backoff, &ctx.cancel).or_stop(&ctx.stop);
    // Attempts counted against `max_attempts` (429s are not, see below).
    let mut spent = 0u32;
    // Failures waited out as an outage (the run held): not attempts at all.
    let mut holds = 0u32;
    let mut last_error = None;
    loop {
        if retry.is_stopped() {
            return Err(Fail::Abandoned);
        }
        if !matches!(
            retry.until_stopped(ctx.gate.wait_open(&ctx.cancel)).await,
            Ok(true)
        ) {
            return Err(Fail::Abandoned);
        }
        let n = retry.next_attempt().saturating_sub(holds);
        ctx.emit.progress(view(
            index,
            records,
            SegmentState::Running,
            n,
            last_error.clone(),
        ));
        let seq = ctx.pace.start();
        let sent = std::time::Instant::now();
        let answer = retry.until_cancelled(op()).await;
        let mut probed = false;
        if let Ok(result) = &answer {
            let took = sent.elapsed();
            // Only a first try's time tells the server's load (see `LoadSignal::CleanUntimed`).
            let timed = (spent == 0 && holds == 0).then_some(records);
            probed = ctx
                .pace
                .sample(seq, took, timed, result, &ctx.api, &ctx.emit);
        }
        let err = match answer {
            Err(_) => return Err(Fail::Abandoned),
            Ok(Ok(v)) => {
                ctx.gate.success();
                ctx.outage.success();
                if ctx.gate.hold_ended() {
                    ctx.emit.holding(None);
                }
                return Ok((v, n));
            }
            Ok(Err(e)) => e,
        };
        if matches!(err, ApiError::Cancelled) {
            return Err(Fail::Abandoned);
        }
        tracing::debug!(target: "supsync::engine", "segment {index}: try {n} failed: {err}");
        if err.is_auth_failure() {
            return Err(Fail::Auth(err.to_string()));
        }
        if let ApiError::ErrorBody { hint, .. } = &err
            && ctx.api.first_error_body()
        {
            // Once per run: the operator learns which rule would tell these answers apart.
            ctx.emit.notice(format!("segment {index}: {err}. {hint}"));
        }
        if !err.is_retryable() {
            return Err(Fail::Exhausted {
                attempts: n,
                error: err.to_string(),
            });
        }
        // `auto` asked one request too many: the limit is already lower. This one steps
        // aside and goes again at the next clean answer (or after Retry-After), the run
        // goes on. Bounded like the holds below.
        if probed && holds < ctx.max_attempts.saturating_mul(RATE_LIMIT_CEILING) {
            holds += 1;
            last_error = Some(err.to_string());
            ctx.emit.progress(view(
                index,
                records,
                SegmentState::Retrying,
                n.saturating_sub(1),
                last_error.clone(),
            ));
            if !step_aside(ctx, &retry, slot, &err).await {
                return Err(Fail::Abandoned);
            }
            continue;
        }
        // The server's own words call it temporary: the run holds, and this segment waits
        // at the gate with the others instead of spending an attempt. Bounded like the
        // 429s below, so a server that only ever answers so still ends the segment; the
        // outage clock bounds the run.
        if holds < ctx.max_attempts.saturating_mul(RATE_LIMIT_CEILING)
            && let Some(hold) = hold_for(ctx, &err)
        {
            holds += 1;
            if let Some(note) = ctx.outage.failure(&err) {
                ctx.emit.notice(note);
            }
            hold_run(ctx, hold, &err);
            last_error = Some(err.to_string());
            ctx.emit.progress(view(
                index,
                records,
                SegmentState::Retrying,
                n.saturating_sub(1),
                last_error.clone(),
            ));
            continue;
        }
        // A 429 is the server pacing us (the request was not processed), not a failure of
        // the segment: it waits out Retry-After without spending an attempt, up to a ceiling
        // so a server that only ever answers 429 still ends the segment. A wait longer than
        // we honour is not pacing we can follow: that 429 spends an attempt.
        let honoured = err
            .retry_after()
            .is_none_or(|d| d <= ctx.backoff.max_retry_after);
        let paced = matches!(err, ApiError::RateLimited { .. })
            && honoured
            && n < ctx.max_attempts.saturating_mul(RATE_LIMIT_CEILING);
        if !paced {
            spent += 1;
        }
        if let Some(note) = ctx.outage.failure(&err) {
            ctx.emit.notice(note);
        }
        if ctx.gate.transient_failure() {
            spawn_probe(ctx.clone());
        }
        if spent >= ctx.max_attempts {
            return Err(Fail::Exhausted {
                attempts: n,
                error: format!("{err} (after {n} attempts)"),
            });
        }
        let wait = retry.delay(err.retry_after());
        last_error = Some(err.to_string());
        ctx.emit.progress(view(
            index,
            records,
            SegmentState::Retrying,
            n,
            last_error.clone(),
        ));
        if retry.sleep(wait).await.is_err() {
            return Err(Fail::Abandoned);
        }
    }
}

/// Waits off the server after a probing 429: until the next clean answer from the rest of
/// the flight, or the server's `Retry-After` (our first backoff without one), whichever
/// comes first; then queues for a place again. False when the run stopped meanwhile.
async fn step_aside(ctx: &WorkerCtx, retry: &Retry, slot: &mut Slot<'_>, err: &ApiError) -> bool {
    let mut clean = ctx.pace.next_clean();
    slot.step_aside();
    let wait = err
        .retry_after()
        .unwrap_or(ctx.backoff.initial)
        .min(ctx.backoff.max_retry_after);
    let waited = retry
        .until_stopped(async {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = clean.changed() => {}
            }
        })
        .await;
    waited.is_ok() && matches!(retry.until_stopped(slot.retake()).await, Ok(true))
}

/// How the run waits out a failure the server calls temporary.
enum HoldKind {
    /// As long as the server asked (`Retry-After`, within `sync.max_retry_after_secs`).
    Wait(Duration),
    /// Until a health check answers: the connection was refused or cut by a server that
    /// has answered this run before.
    Probe,
}

fn hold_for(ctx: &WorkerCtx, err: &ApiError) -> Option<HoldKind> {
    let said = matches!(
        err,
        ApiError::RateLimited { .. } | ApiError::Transient { .. } | ApiError::Auth(_)
    );
    // The API's waits arrive cut to `sync.max_retry_after_secs`: one at that bound may be
    // a longer wish cut short, which is not a wait we can follow (it spends attempts, and
    // the outage clock bounds the run).
    if let Some(wait) = err.retry_after().filter(|_| said)
        && wait < ctx.backoff.max_retry_after
    {
        return Some(HoldKind::Wait(wait));
    }
    (err.is_connection_lost() && ctx.outage.has_answered()).then_some(HoldKind::Probe)
}

/// Holds the run (every segment waits at the gate) and says so once per hold.
fn hold_run(ctx: &Arc<WorkerCtx>, hold: HoldKind, err: &ApiError) {
    let what = if matches!(err, ApiError::Auth(_)) {
        ctx.outage.credential_source()
    } else {
        "the API"
    };
    match hold {
        HoldKind::Wait(wait) => {
            // Never a hot loop on a wait that is all but over (the token manager passes on
            // what is left of the token endpoint's): our own first backoff at the least.
            let wait = wait.max(ctx.backoff.initial);
            if ctx.gate.hold_for(wait) {
                ctx.gate.hold_reported();
                ctx.emit.holding(Some(Hold {
                    reason: format!("{what} asks to wait {} ({err})", words(wait)),
                    until: SystemTime::now().checked_add(wait),
                }));
            }
        }
        HoldKind::Probe => {
            if ctx.gate.trip() {
                ctx.gate.hold_reported();
                ctx.emit.holding(Some(Hold {
                    reason: format!("{what} stopped answering ({err})"),
                    until: None,
                }));
                spawn_probe(ctx.clone());
            }
        }
    }
}

fn view(
    index: usize,
    records: u64,
    state: SegmentState,
    attempts: u32,
    last_error: Option<String>,
) -> EngineEvent {
    EngineEvent::Segment(SegmentView {
        state,
        attempts,
        last_error,
        ..SegmentView::pending(index, records)
    })
}
