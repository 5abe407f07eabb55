//! The logins of the session probes, each after a look in the token cache under the
//! credential's lock: the first session (a live one from the cache is used as it is, else
//! one had through the run's own client, which reads the first page with it), and the
//! second login (only when `--logins` allows it, made by that client's own renewal) that
//! tells whether the server allows one session per user — never made while the cache
//! holds a live session, which it would end.

use std::sync::Arc;
use std::time::Instant;

use super::calls::{Target, health_with_retry};
use super::mapping::connect_and_read;
use super::session_access::{Access, PAUSE, TRANSIENT_RETRIES, login_error};
use crate::api::{ApiClient, ApiError, ConnectOptions};
use crate::auth::grant::Grant;
use crate::auth::status::{GrantKind, LifetimeSource};
use crate::config::Config;
use crate::diagnose::evidence::findings::*;
use crate::secret::Secret;

pub(super) const LIVE_IN_CACHE: &str =
    "a live session in the cache: a second login would end a running sync's session";

/// What the run's own login path needs: the config it connects with (no token cache, so
/// that no running sync takes a session diagnose will log out), the password, the page
/// to read and where the login budget and lock live.
pub(super) struct RunPath<'c> {
    pub cfg: Config,
    pub password: &'c Secret,
    pub url: String,
    pub connect: ConnectOptions,
}

/// The first session, and the run's client that had it (`None`: borrowed from the cache).
pub(super) struct FirstSession {
    pub grant: Grant,
    /// The first page, when the run's client read it.
    pub read: Option<PageRead>,
    pub client: Option<Arc<ApiClient>>,
}

/// A live session from the cache (looked at under the credential's lock), else one had
/// the way a run has it ([`connect_and_read`]), with the first page read on it. `None`
/// (with the reason in `s.login_error`) when no session can be had.
pub(super) async fn first_session(
    access: &mut Access<'_>,
    s: &mut SessionFindings,
    run: &RunPath<'_>,
) -> Option<FirstSession> {
    {
        let Ok(_lock) = access.hold(s).await else {
            s.login_error = Some(LoginErrorSeen {
                reason: LoginFailure::LockBusy,
                http_status: None,
                message: format!(
                    "another supsync process has held this credential's login lock ({}) for \
                     over {} s: no login tried, so that a session it is logging in is not ended",
                    s.lock.path.as_deref().unwrap_or("?"),
                    crate::auth::manager::LOCK_WAIT.as_secs()
                ),
            });
            return None;
        };
        let (found, live) = access.look_in_cache().await;
        s.cache = found;
        if let Some(g) = live {
            s.borrowed = true;
            return Some(FirstSession {
                grant: g,
                read: None,
                client: None,
            });
        }
        // The lock is given back here: the run's login path takes it itself.
    }
    let mut transient = TRANSIENT_RETRIES;
    loop {
        if access.logins_left(s) == 0 {
            return None;
        }
        // Without a budget file the run's client counts refusals in its own memory.
        let before = access.budget_seen().filter(|_| access.lock_path.is_some());
        let purpose = "first session (the run's login path), first page read";
        match connect_and_read(&run.cfg, run.password, run.url.clone(), run.connect.clone()).await {
            Ok(got) => {
                let Some(t) = got.client.tokens().current_token() else {
                    s.login_error = Some(LoginErrorSeen {
                        reason: LoginFailure::Unusable,
                        http_status: None,
                        message: "the run's client connected without a session".into(),
                    });
                    return None;
                };
                access.record(purpose, Ok(&t.secret), before, s);
                // A read refused on a fresh session makes the client log in again: the
                // server saw those logins too.
                let started = got.client.token_status().borrow().sessions;
                let again = started.saturating_sub(1);
                for _ in 0..again {
                    s.logins.push(LoginTry {
                        purpose: "first page read (the run's client logged in again)".into(),
                        sent: true,
                        ok: true,
                        refused: false,
                        result: "by the run's client".into(),
                        http_status: None,
                    });
                }
                let grant = session_grant(t.secret, got.sent_at, got.received_at);
                return Some(FirstSession {
                    grant,
                    read: Some(got.read),
                    client: Some(got.client),
                });
            }
            Err(ApiError::Auth(e)) => {
                access.record(purpose, Err(&e), before, s);
                let retry = e.is_transient() && transient > 0 && access.logins_left(s) > 0;
                s.login_error = Some(login_error(&e));
                if !retry {
                    return None;
                }
                transient -= 1;
                tokio::time::sleep(PAUSE).await;
            }
            Err(other) => {
                s.login_error = Some(LoginErrorSeen {
                    reason: LoginFailure::Unusable,
                    http_status: None,
                    message: other.to_string(),
                });
                return None;
            }
        }
    }
}

/// The second login, made by the run's own renewal (the token manager of the client that
/// had the first session: the credential's lock, the login budget, the login request),
/// after a look in the cache under the lock showed no running sync's session; then the
/// first session's next call.
pub(super) async fn second_login(
    access: &mut Access<'_>,
    s: &mut SessionFindings,
    http: &reqwest::Client,
    at: Target<'_>,
    first: &Grant,
    client: &ApiClient,
) -> (SecondLogin, Option<Grant>) {
    let cache_checked = {
        let Ok(_lock) = access.hold(s).await else {
            return (
                SecondLogin::Skipped {
                    why: "another supsync process held the credential's login lock".into(),
                },
                None,
            );
        };
        let (found, live) = access.look_in_cache().await;
        if live.is_some() {
            return (
                SecondLogin::Skipped {
                    why: LIVE_IN_CACHE.into(),
                },
                None,
            );
        }
        // The lock is given back here: the run's renewal takes it itself.
        !matches!(found, CacheRead::Disabled | CacheRead::Unreadable { .. })
    };
    let tokens = client.tokens();
    if tokens.is_single_session() {
        // Such a renewal logs the first session out before it logs in: whatever the
        // first session's next call says would be diagnose's own doing.
        return (
            SecondLogin::Skipped {
                why: "auth.session.single = true: a renewal logs the session out before it \
                      logs in again, so a second login ends no session"
                    .into(),
            },
            None,
        );
    }
    let before = access.budget_seen().filter(|_| access.lock_path.is_some());
    let sent_at = Instant::now();
    let renewed = tokens.force_refresh().await;
    let received_at = Instant::now();
    let purpose = "second login (the run's renewal)";
    let g = match (renewed, tokens.current_token()) {
        (Ok(()), Some(t)) if t.secret != first.access_token => {
            access.record(purpose, Ok(&t.secret), before, s);
            session_grant(t.secret, sent_at, received_at)
        }
        (Ok(()), _) => {
            return (
                SecondLogin::Failed {
                    error: "the run's renewal made no new session".into(),
                },
                None,
            );
        }
        (Err(e), _) => {
            access.record(purpose, Err(&e), before, s);
            return (
                SecondLogin::Failed {
                    error: e.to_string(),
                },
                None,
            );
        }
    };
    let after = health_with_retry(http, at, &first.access_token, first.sent_at).await;
    let ended = after.call.is_refusal();
    (
        SecondLogin::Tested {
            first_after: Box::new(after.call),
            ended,
            cache_checked,
        },
        Some(g),
    )
}

/// A session id as a grant of the probes (a session has no lifetime of its own).
fn session_grant(id: Secret, sent_at: Instant, received_at: Instant) -> Grant {
    Grant {
        kind: GrantKind::SessionLogin,
        access_token: id,
        refresh_token: None,
        expires_in: None,
        lifetime: None,
        lifetime_source: LifetimeSource::Session,
        refresh_expires_in: None,
        granted_scopes: None,
        sent_at,
        received_at,
    }
}

#[cfg(test)]
mod tests {
    /// The session probes log in only through the run's own path (`ApiClient::connect`
    /// and the token manager's renewal): no file of theirs sends a login itself, so a
    /// change to how a run logs in is what diagnose measures.
    #[test]
    fn the_session_probes_keep_no_login_path_of_their_own() {
        let files = [
            ("session.rs", include_str!("session.rs")),
            ("session_access.rs", include_str!("session_access.rs")),
            ("session_logins.rs", include_str!("session_logins.rs")),
            ("session_watch.rs", include_str!("session_watch.rs")),
            ("calls.rs", include_str!("calls.rs")),
        ];
        for (name, text) in files {
            let code = text.split("#[cfg(test)]").next().unwrap_or(text);
            for login in [
                "client_credentials(",
                "SessionLogin::new",
                ".login(",
                ".request(http",
                "login_url()).",
            ] {
                assert!(
                    !code.contains(login),
                    "{name} logs in by itself ({login}): use the run's client or its renewal"
                );
            }
        }
    }
}
