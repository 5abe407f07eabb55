//! Keep-alive: while no other call is made (paused, between segments, waiting on backoff),
//! call health (or a session's `auth.session.keepalive_path`) before the server's sliding
//! idle window closes. Cadence: at least every
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
    // A static API key has no window to keep open.
    if tokens.is_api_key() {
        return;
    }
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
            r = c.keep_alive() => r,
        };
        let what = match c.keepalive_url() == c.health_url {
            true => "health call".to_string(),
            false => format!("call to {}", c.keepalive_url()),
        };
        drop(c);
        let fp = tokens.fingerprint();
        let session = tokens.is_session();
        match result {
            Ok(()) if session => tokens.audit().record(
                EventKind::KeepAlive,
                fp.as_deref(),
                None,
                &format!(
                    "session kept alive: {what} after {:.1}s without calls",
                    idle.as_secs_f64()
                ),
            ),
            Ok(()) => tokens.audit().record(
                EventKind::KeepAlive,
                fp.as_deref(),
                None,
                &format!(
                    "keep-alive {what} after {:.1}s without calls",
                    idle.as_secs_f64()
                ),
            ),
            Err(e) => {
                tokens.audit().record(
                    EventKind::Warning,
                    fp.as_deref(),
                    None,
                    &format!("keep-alive {what} failed: {e}"),
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
