//! One session per user: on such a server a login ends the user's other sessions, so a
//! renewal that logs in while calls are in flight cancels the session those calls carry
//! (they are refused and replayed, and some servers file the cancelled session as a
//! security event). With `auth.session.single` (or once a refusal has said a session was
//! ended by another login) a renewal first stops new calls and waits, bounded, for those
//! in flight; then ends the old session (when a logout is configured), logs in, and lets
//! calls go on with the new session.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard};

use super::{AccessToken, TokenManager};
use crate::auth::audit::EventKind;
use crate::auth::grant::GrantError;
use crate::secret::Secret;

/// How long a renewal waits for the calls in flight. A call is bounded by the HTTP
/// timeout; past this the renewal goes ahead and says so.
pub const DRAIN_WAIT: Duration = Duration::from_secs(30);

/// Ends a session at the server (the configured logout): the HTTP status, or why not.
pub type SessionEnder =
    Arc<dyn Fn(Secret) -> BoxFuture<'static, Result<u16, String>> + Send + Sync>;

/// Held by a call from before it takes its credential until its answer is read, so that
/// a single-session renewal knows when no call is using the old session.
pub struct CallPermit {
    _read: Option<OwnedRwLockReadGuard<()>>,
    count: Option<Arc<AtomicUsize>>,
}

impl Drop for CallPermit {
    fn drop(&mut self) {
        if let Some(c) = &self.count {
            c.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl CallPermit {
    fn none() -> Self {
        CallPermit {
            _read: None,
            count: None,
        }
    }
}

/// Whether an expired answer's words say the session was ended by another login of the
/// same user (the server keeps one session per user).
pub fn says_replaced_by_login(description: &str) -> bool {
    let d = description.to_ascii_lowercase();
    [
        "newer login",
        "another login",
        "new login",
        "logged in elsewhere",
        "logged in from another",
        "replaced by",
        "superseded",
        "concurrent login",
        "another session",
    ]
    .iter()
    .any(|w| d.contains(w))
}

impl TokenManager {
    /// The server keeps one session per user (configured, or learned this run).
    pub fn is_single_session(&self) -> bool {
        self.single.load(Ordering::SeqCst)
    }

    /// How a single-session renewal ends the old session (the API client's logout).
    pub fn set_session_ender(&self, ender: SessionEnder) {
        let _ = self.ender.set(ender);
    }

    /// A valid token and the permit to use it: on a single-session server the call waits
    /// here while a renewal drains, and then takes the new session.
    pub async fn call_token(&self) -> Result<(AccessToken, CallPermit), GrantError> {
        for _ in 0..3 {
            let token = self.token().await?;
            if !self.is_single_session() {
                return Ok((token, CallPermit::none()));
            }
            let read = Arc::clone(&self.dispatch).read_owned().await;
            self.in_flight.fetch_add(1, Ordering::SeqCst);
            let permit = CallPermit {
                _read: Some(read),
                count: Some(Arc::clone(&self.in_flight)),
            };
            // A renewal may have run while this call waited at the gate.
            if let Some(t) = self.usable() {
                return Ok((t, permit));
            }
        }
        Ok((self.token().await?, CallPermit::none()))
    }

    /// An expired answer said the session was ended by another login: from now on this
    /// run renews as on a single-session server.
    pub(super) fn learn_single(&self, description: &str) {
        if self.is_session()
            && says_replaced_by_login(description)
            && !self.single.swap(true, Ordering::SeqCst)
        {
            self.audit.record(
                EventKind::Warning,
                self.fingerprint().as_deref(),
                None,
                "the server ended a session because of another login of this user: it keeps \
                 one session per user, so renewals from now on stop new calls, wait for those \
                 in flight, log out and then log in (set auth.session.single = true to start \
                 that way)",
            );
        }
    }

    /// Before a single-session login: stops new calls, waits for those in flight and ends
    /// the old session. Returns the gate (held until the new session is in place) and
    /// what was done, for the refresh log.
    pub(super) async fn drain_and_end(&self) -> (Option<OwnedRwLockWriteGuard<()>>, String) {
        let waiting = self.in_flight.load(Ordering::SeqCst);
        let gate = tokio::time::timeout(DRAIN_WAIT, Arc::clone(&self.dispatch).write_owned())
            .await
            .ok();
        let drained = match &gate {
            Some(_) => format!("drained {waiting} call{}", plural(waiting)),
            None => {
                let left = self.in_flight.load(Ordering::SeqCst);
                format!(
                    "{left} call{} still in flight after {} s, renewing anyway",
                    plural(left),
                    DRAIN_WAIT.as_secs()
                )
            }
        };
        let ended = match (self.ender.get(), self.current_token()) {
            (None, _) => "no logout configured".to_string(),
            (_, None) => "no live session to log out".to_string(),
            (Some(end), Some(t)) => match end(t.secret.clone()).await {
                Ok(_) => {
                    let mut st = self.lock();
                    if let Some(c) = st.current.as_mut().filter(|c| c.generation == t.generation) {
                        c.invalid = true;
                    }
                    "logged out".to_string()
                }
                Err(e) => format!("logout failed ({e})"),
            },
        };
        (
            gate,
            format!("single session: {drained}, {ended}, logged in"),
        )
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_that_name_another_login_are_recognised() {
        assert!(says_replaced_by_login(
            "invalid_session: Session ended by a newer login"
        ));
        assert!(says_replaced_by_login("You have logged in elsewhere"));
        assert!(says_replaced_by_login("session superseded"));
        assert!(!says_replaced_by_login("Session expired after 1m 00s"));
        assert!(!says_replaced_by_login("Session logged out"));
    }
}
