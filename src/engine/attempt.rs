//! The attempts of one segment request: wait at the gate, send, and on a transient failure
//! back off and try again, until it succeeds, fails for good, runs out of attempts, or the
//! run stops.

use std::future::Future;
use std::sync::Arc;

use super::events::{EngineEvent, SegmentState, SegmentView};
use super::probe::spawn_probe;
use super::retry::Retry;
use super::worker::{Fail, WorkerCtx};
use crate::api::ApiError;

/// 429s a segment accepts, as a multiple of `max_attempts`, before they count as attempts.
const RATE_LIMIT_CEILING: u32 = 10;

/// Runs `op` until it succeeds, backing off between transient failures; gives up after
/// `max_attempts`, at once on a permanent error, and stops the run on an auth failure.
pub(super) async fn attempt<T, F, Fut>(
    ctx: &Arc<WorkerCtx>,
    index: usize,
    records: u64,
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
        let n = retry.next_attempt();
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
        if let Ok(result) = &answer {
            let took = sent.elapsed();
            ctx.pace
                .sample(seq, took, records, result, &ctx.api, &ctx.emit);
        }
        let err = match answer {
            Err(_) => return Err(Fail::Abandoned),
            Ok(Ok(v)) => {
                ctx.gate.success();
                ctx.outage.success();
                return Ok((v, n));
            }
            Ok(Err(e)) => e,
        };
        if matches!(err, ApiError::Cancelled) {
            return Err(Fail::Abandoned);
        }
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
