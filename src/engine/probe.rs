//! While the gate is tripped, one probe asks the server's health endpoint whether it is back,
//! and reopens the gate on the first answer. Probes back off like any retry (full jitter,
//! the server's `Retry-After` honoured), so a server that is down is not polled every
//! second; how long it may stay down is the outage clock's business, which the probe
//! feeds. The token manager's keep-alive keeps the token meanwhile.

use std::sync::Arc;

use super::retry::Retry;
use super::worker_ctx::WorkerCtx;

pub(crate) fn spawn_probe(ctx: Arc<WorkerCtx>) {
    ctx.emit.notice(format!(
        "the server failed {} requests in a row: holding all segments and checking its \
         health, backing off up to {:.1}s between checks, instead of spending their attempts",
        ctx.retry_budget,
        ctx.backoff.max.as_secs_f64()
    ));
    tokio::spawn(async move {
        let mut retry = Retry::new(ctx.backoff, &ctx.cancel).or_stop(&ctx.stop);
        let mut retry_after = None;
        loop {
            retry.next_attempt();
            if retry.sleep(retry.delay(retry_after)).await.is_err() {
                return;
            }
            let Ok(answer) = retry.until_cancelled(ctx.api.health()).await else {
                return;
            };
            match answer {
                Ok(()) => {
                    ctx.outage.success();
                    ctx.gate.reopen();
                    if ctx.gate.hold_ended() {
                        ctx.emit.holding(None);
                    }
                    ctx.emit
                        .notice("the server answers again: carrying on".to_string());
                    return;
                }
                Err(e) => {
                    tracing::debug!(target: "supsync::engine", "probe failed: {e}");
                    if let Some(note) = ctx.outage.failure(&e) {
                        ctx.emit.notice(note);
                    }
                    retry_after = e.retry_after();
                }
            }
        }
    });
}
