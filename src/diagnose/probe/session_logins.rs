//! The logins of the session probes, each under the credential's lock and after a look
//! in the token cache: the first session (a live one from the cache is used as it is),
//! and the second login that tells whether the server allows one session per user — never
//! made while the cache holds a live session, which it would end.

use super::calls::{Target, health_with_retry};
use super::session_access::{Access, login_error};
use crate::auth::grant::Grant;
use crate::diagnose::evidence::findings::*;

pub(super) const LIVE_IN_CACHE: &str =
    "a live session in the cache: a second login would end a running sync's session";

/// A live session from the cache, else a login, each under the credential's lock.
/// `None` (with the reason in `s.login_error`) when no session can be had.
pub(super) async fn first_session(
    access: &mut Access<'_>,
    s: &mut SessionFindings,
) -> Option<Grant> {
    let Ok(_lock) = access.hold(s).await else {
        s.login_error = Some(LoginErrorSeen {
            reason: LoginFailure::LockBusy,
            http_status: None,
            message: format!(
                "another supsync process has held this credential's login lock ({}) for over \
                 {} s: no login tried, so that a session it is logging in is not ended",
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
        return Some(g);
    }
    match access.login("first session", s).await {
        Ok(g) => Some(g),
        Err(e) => {
            s.login_error = Some(login_error(&e));
            None
        }
    }
}

/// The second login under the lock, after the cache showed no running sync's session,
/// and the first session's next call.
pub(super) async fn second_login(
    access: &mut Access<'_>,
    s: &mut SessionFindings,
    http: &reqwest::Client,
    at: Target<'_>,
    first: &Grant,
) -> (SecondLogin, Option<Grant>) {
    let Ok(lock) = access.hold(s).await else {
        return (
            SecondLogin::Skipped {
                why: "another supsync process held the credential's login lock".into(),
            },
            None,
        );
    };
    let (found, live) = access.look_in_cache().await;
    let cache_checked = !matches!(found, CacheRead::Disabled | CacheRead::Unreadable { .. });
    if live.is_some() {
        return (
            SecondLogin::Skipped {
                why: LIVE_IN_CACHE.into(),
            },
            None,
        );
    }
    let g = match access.login("second login", s).await {
        Ok(g) => g,
        Err(e) => {
            return (
                SecondLogin::Failed {
                    error: e.to_string(),
                },
                None,
            );
        }
    };
    drop(lock);
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

/// Whether the cache holds a live session now (looked at under the lock).
pub(super) async fn live_in_cache(access: &Access<'_>, s: &mut SessionFindings) -> bool {
    match access.hold(s).await {
        Ok(_lock) => access.look_in_cache().await.1.is_some(),
        // Someone is logging in right now: take what it stores rather than log in.
        Err(_) => true,
    }
}
