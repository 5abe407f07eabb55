//! What the session probes see around their logins (docs/API.md §7.6). The logins
//! themselves are the run's own (`session_logins.rs`: the run's client and its token
//! manager, within the login budget, under the credential's lock); this holds what
//! diagnose adds: the lock and the token cache looked at first (a live session of another
//! process is used as it is, since a second login would end it on a server with one
//! session per user; a cached session the API refuses is forgotten, so no run tries it),
//! each login recorded as the server saw it and counted against `--logins`, and the
//! sessions diagnose made logged out at the end, best effort.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::calls::{Target, health_with_retry};
use crate::auth::cache::{CredentialLock, TokenCache, lock_within};
use crate::auth::grant::{Grant, GrantError, TokenEndpoint};
use crate::auth::manager::LOCK_WAIT;
use crate::auth::manager::SessionEnder;
use crate::auth::status::{GrantKind, LifetimeSource};
use crate::diagnose::evidence::findings::*;
use crate::secret::Secret;

/// Transport failures and 5xx retried for the first session, while `--logins` allows.
pub(super) const TRANSIENT_RETRIES: u32 = 2;
/// Between logins: a refused one, or one without an answer.
pub(super) const PAUSE: Duration = Duration::from_millis(300);

pub(super) struct Access<'a> {
    pub(super) endpoint: TokenEndpoint,
    pub(super) api_http: reqwest::Client,
    pub(super) at: Target<'a>,
    pub(super) cache: Option<Arc<TokenCache>>,
    pub(super) lock_path: Option<PathBuf>,
    /// The run's logout request for a given session (`auth.session.logout_*`).
    pub(super) logout: Option<SessionEnder>,
    /// The sessions diagnose logged in, for the logouts.
    made: Vec<Secret>,
    /// Login requests allowed with this password (`--logins`).
    allowed: u32,
}

/// The lock could not be had in time: another process is logging in.
pub(super) struct Busy;

impl<'a> Access<'a> {
    pub(super) fn new(
        endpoint: TokenEndpoint,
        api_http: reqwest::Client,
        at: Target<'a>,
        cache: Option<TokenCache>,
        lock_path: Option<PathBuf>,
        logout: Option<SessionEnder>,
        allowed: u32,
    ) -> Self {
        Access {
            allowed: allowed.max(1),
            endpoint,
            api_http,
            at,
            cache: cache.map(Arc::new),
            lock_path,
            logout,
            made: Vec::new(),
        }
    }

    /// The credential's lock, waited for as a run waits for it. `Ok(None)`: no lock to be
    /// had (no state dir, or the file cannot be used), so logins go ahead as a run's do.
    pub(super) async fn hold(
        &self,
        s: &mut SessionFindings,
    ) -> Result<Option<CredentialLock>, Busy> {
        let Some(path) = &self.lock_path else {
            s.lock.outcome = LockOutcome::NoStateDir;
            return Ok(None);
        };
        s.lock.path = Some(path.display().to_string());
        let started = Instant::now();
        let got = lock_within(path, LOCK_WAIT).await;
        s.lock.waited_secs = s.lock.waited_secs.max(secs(started.elapsed()));
        match got {
            Ok(Some(lock)) => {
                if s.lock.outcome != LockOutcome::Unavailable {
                    s.lock.outcome = LockOutcome::Held;
                }
                Ok(Some(lock))
            }
            Ok(None) => {
                s.lock.outcome = LockOutcome::Busy;
                Err(Busy)
            }
            Err(e) => {
                s.lock.outcome = LockOutcome::Unavailable;
                s.lock.error = Some(e.to_string());
                Ok(None)
            }
        }
    }

    /// What the cache holds for this credential, its session checked with one call: a
    /// live one comes back to be used; a refused one is forgotten (the caller holds the
    /// lock, so no process stores a new one meanwhile).
    pub(super) async fn look_in_cache(&self) -> (CacheRead, Option<Grant>) {
        let Some(cache) = self.cache.clone() else {
            return (CacheRead::Disabled, None);
        };
        let entry = match tokio::task::spawn_blocking(move || cache.load()).await {
            Ok(Ok(Some(e))) => e,
            Ok(Ok(None)) => return (CacheRead::Empty, None),
            Ok(Err(e)) => {
                return (
                    CacheRead::Unreadable {
                        error: e.to_string(),
                    },
                    None,
                );
            }
            Err(e) => {
                return (
                    CacheRead::Unreadable {
                        error: e.to_string(),
                    },
                    None,
                );
            }
        };
        let Some(access) = entry.access.filter(|a| a.grant == GrantKind::SessionLogin) else {
            return (CacheRead::Empty, None);
        };
        // Server text that echoes it must not show it.
        self.endpoint
            .redactor()
            .remember_token(access.token.expose());
        let age = SystemTime::now()
            .duration_since(entry.session_started)
            .unwrap_or(Duration::ZERO);
        let now = Instant::now();
        let started = now.checked_sub(age).unwrap_or(now);
        let fingerprint = access.token.fingerprint();
        let h = health_with_retry(&self.api_http, self.at, &access.token, started).await;
        if h.call.is_refusal() {
            let cleared = self.forget(&access.token).await;
            return (
                CacheRead::Dead {
                    fingerprint,
                    answer: Box::new(h.call),
                    cleared,
                },
                None,
            );
        }
        let grant = Grant {
            kind: GrantKind::SessionLogin,
            access_token: access.token,
            refresh_token: None,
            expires_in: None,
            lifetime: None,
            lifetime_source: LifetimeSource::Session,
            refresh_expires_in: None,
            granted_scopes: None,
            sent_at: started,
            received_at: started,
        };
        (
            CacheRead::Live {
                fingerprint,
                age_secs: age.as_secs(),
            },
            Some(grant),
        )
    }

    /// Removes the cache entry when it still holds `id`.
    async fn forget(&self, id: &Secret) -> bool {
        let Some(cache) = self.cache.clone() else {
            return false;
        };
        let id = id.clone();
        tokio::task::spawn_blocking(move || match cache.load() {
            Ok(Some(e)) if e.access.as_ref().is_some_and(|a| a.token == id) => {
                cache.clear().is_ok()
            }
            _ => false,
        })
        .await
        .unwrap_or(false)
    }

    /// Login requests `--logins` still allows with this password.
    pub(super) fn logins_left(&self, s: &SessionFindings) -> u32 {
        let sent = s.logins.iter().filter(|l| l.sent).count() as u32;
        self.allowed.saturating_sub(sent)
    }

    /// What the login budget recorded so far (a file shared with the run's login path).
    pub(super) fn budget_seen(&self) -> Option<crate::auth::login_budget::BudgetRecord> {
        self.endpoint.session().map(|l| l.budget().recorded())
    }

    /// Records one login attempt the run's own login path made for a probe, and a
    /// session it made for the logouts. `before`/`after`: the
    /// budget's record around it, which tells a login the budget stopped before any
    /// request from one the server refused.
    pub(super) fn record(
        &mut self,
        purpose: &str,
        result: Result<&Secret, &GrantError>,
        before: Option<crate::auth::login_budget::BudgetRecord>,
        s: &mut SessionFindings,
    ) {
        let after = self.budget_seen();
        // The budget refuses a login before any request when it is spent or the
        // account is locked; a refusal the server gave is counted, so the count moved.
        let sent = match result {
            Err(
                GrantError::LoginBudgetSpent { .. }
                | GrantError::LoginDenied { .. }
                | GrantError::AccountLocked { .. },
            ) => before != after,
            _ => true,
        };
        let refused = sent
            && matches!(
                result,
                Err(GrantError::LoginRefused { .. }
                    | GrantError::LoginBudgetSpent { .. }
                    | GrantError::LoginDenied { .. }
                    | GrantError::AccountLocked { .. })
            );
        let mut tried = LoginTry {
            purpose: purpose.to_string(),
            sent,
            ok: result.is_ok(),
            refused,
            ..Default::default()
        };
        match result {
            Ok(id) => {
                tried.result = format!("session {}", id.fingerprint());
                // The run's client has a redactor of its own: server text diagnose reads
                // (a logout's refusal echoing the id) must not show it either.
                self.endpoint.redactor().remember_token(id.expose());
                self.made.push(id.clone());
            }
            Err(e) => {
                tried.result = e.to_string();
                tried.http_status = e.http_status();
            }
        }
        s.logins.push(tried);
        if let Err(GrantError::AccountLocked {
            text, retry_after, ..
        }) = result
            && sent
        {
            s.locked = Some(LockedSeen {
                words: text.clone(),
                lockout_after: lockout_after(text),
                retry_after_secs: retry_after.map(|d| d.as_secs()),
                now: true,
            });
        }
    }

    /// Logs out every session diagnose made, best effort; returns the last one, for a
    /// call that shows how the API answers a logged-out session.
    pub(super) async fn logout_all(&mut self, s: &mut SessionFindings) -> Option<Secret> {
        s.logout.configured = self.logout.is_some();
        s.logout.made += self.made.len() as u32;
        let logout = self.logout.clone()?;
        let mut last = None;
        for id in std::mem::take(&mut self.made) {
            match logout(id.clone()).await {
                Ok(_) => {
                    s.logout.ended += 1;
                    last = Some(id);
                }
                Err(e) => s
                    .logout
                    .failed
                    .push(format!("session {}: {e}", id.fingerprint())),
            }
        }
        last
    }
}

/// The failed logins in a row that lock the account, when a 423's words name them
/// ("locked for 30 s after 5 failed logins").
pub(super) fn lockout_after(words: &str) -> Option<u32> {
    let lower = words.to_ascii_lowercase();
    let at = lower.find("failed")?;
    let before = lower[..at].trim_end();
    let digits: String = before
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().ok().filter(|n| *n > 0)
}

/// Why no session: in the words a run stops with, and the kind of failure.
pub(super) fn login_error(e: &GrantError) -> LoginErrorSeen {
    let reason = match e {
        GrantError::LoginBudgetSpent { .. } => LoginFailure::BudgetSpent,
        GrantError::AccountLocked { .. } => LoginFailure::Locked,
        GrantError::LoginRefused { .. } | GrantError::LoginDenied { .. } => LoginFailure::Refused,
        GrantError::Transport { .. } => LoginFailure::Unreachable,
        GrantError::Server { .. } => LoginFailure::ServerError,
        GrantError::Malformed { .. } | GrantError::TooLarge { .. } => LoginFailure::Unusable,
        GrantError::Rejected { .. } | GrantError::RefusedByApi { .. } => LoginFailure::Rejected,
    };
    LoginErrorSeen {
        reason,
        http_status: e.http_status(),
        message: e.to_string(),
    }
}

pub(super) fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lockout_threshold_is_read_from_the_words_of_a_423() {
        assert_eq!(
            lockout_after("account_locked: locked for 30 s after 5 failed logins"),
            Some(5)
        );
        assert_eq!(lockout_after("Locked after 10 FAILED attempts"), Some(10));
        assert_eq!(lockout_after("too many failed logins"), None);
        assert_eq!(lockout_after("account locked"), None);
        assert_eq!(lockout_after("0 failed"), None);
    }
}
