//! The background renewal task: sleeps until the next planned refresh (or until the plan
//! changes), renews, and on failure waits as long as the token endpoint asked
//! (`Retry-After`), else backs off, so a dead token endpoint is never hammered.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{TokenManager, Trigger};

const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

impl TokenManager {
    /// Renews ahead of time; backs off on failures, never spins.
    pub(super) async fn background(self: Arc<Self>, cancel: CancellationToken) {
        let mut backoff = BACKOFF_MIN;
        loop {
            let due = self.lock().next_refresh_at();
            let sleep = async {
                match due {
                    Some(t) => tokio::time::sleep_until(t.into()).await,
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = self.replan.notified() => continue,
                _ = sleep => {}
            }
            let generation = self.lock().current_generation();
            match self.renew(Trigger::Proactive, generation).await {
                Ok(()) => {
                    backoff = BACKOFF_MIN;
                    // A token that is due again at once must not make a tight loop.
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    }
                }
                Err(e) => {
                    // The token endpoint's `Retry-After` is the next try, not our schedule:
                    // earlier would be refused again, later leaves calls waiting.
                    let wait = e
                        .retry_after()
                        .map_or(backoff, |said| said.min(self.max_retry_after()));
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(wait) => {}
                    }
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    }
}
