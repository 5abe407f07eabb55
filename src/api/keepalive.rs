//! Keep-alive: while no other call is made (paused, between segments, waiting on backoff),
//! call health before the server's sliding idle window closes. Cadence: at least every
//! `keepalive_secs`, and twice per idle window once the window is known (inferred from
//! `X-Token-Expires-In` sliding back up, see `auth/state.rs`). It lives with the API client
//! because a keep-alive is an API call; the token manager only says when one is due.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::ApiClient;
use crate::auth::TokenManager;
use crate::auth::audit::EventKind;

pub(crate) async fn run(
    client: Weak<ApiClient>,
    tokens: Arc<TokenManager>,
    cancel: CancellationToken,
) {
    loop {
        let interval = tokens.keepalive_interval();
        let idle = tokens.idle_for();
        if idle < interval {
            // Re-check at least every second: a window learned meanwhile may shorten it.
            let wait = (interval - idle).min(Duration::from_secs(1));
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(wait) => continue,
            }
        }
        let Some(c) = client.upgrade() else { return };
        let result = tokio::select! {
            _ = cancel.cancelled() => return,
            r = c.health() => r,
        };
        drop(c);
        let fp = tokens.fingerprint();
        match result {
            Ok(()) => tokens.audit().record(
                EventKind::KeepAlive,
                fp.as_deref(),
                None,
                &format!(
                    "keep-alive health call after {:.1}s without calls",
                    idle.as_secs_f64()
                ),
            ),
            Err(e) => {
                tokens.audit().record(
                    EventKind::Warning,
                    fp.as_deref(),
                    None,
                    &format!("keep-alive health call failed: {e}"),
                );
                // Back off a little so a dead server is not hammered by keep-alives.
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(interval.max(Duration::from_secs(1))) => {}
                }
            }
        }
    }
}
