//! One credential, many processes: every renewal holds the credential's lock in the token
//! cache and reads the cache again once it holds it. A process that finds a token another
//! process wrote since it last looked, with more life left than its renewal margin, takes
//! it instead of asking for one; one that finds a newer refresh token continues with that
//! one, so a refresh token rotated (and spent) by another process is never presented.
//!
//! The lock wait is bounded: a holder stuck past it (a hung token request, a stopped
//! process) is not waited for. The renewal then goes ahead alone, with a warning, and as a
//! new session rather than a refresh: the holder may be spending the very refresh token
//! this process would present, and with reuse detection that would revoke both.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use super::{TokenManager, Trigger};
use crate::auth::audit::EventKind;
use crate::auth::cache::{CachedAccess, CachedSession, CredentialLock, RedisLease, lock_within};
use crate::auth::grant::GrantError;
use crate::auth::state::{Current, Session, State, later, secs};
use crate::auth::status::{GrantKind, TokenPhase};

/// Default bound on the wait for another process's renewal. A renewal normally takes
/// milliseconds to a second; a token request that hangs is cut by the HTTP timeout.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

/// What the wait for the credential's lock gave.
pub(super) enum LockHold {
    /// Kept only for its drop, which releases the lock.
    Held(#[allow(dead_code)] CredentialLock),
    /// The lock in Redis (a cache shared by several machines).
    Remote(RedisLease),
    /// Still busy at the deadline: renew alone, and not with a refresh token.
    Busy,
    /// No lock to be had (no cache, or the lock file cannot be opened): renew as before.
    None,
}

impl TokenManager {
    /// A renewal as one of possibly several processes on this credential.
    pub(super) async fn renew_shared(&self, trigger: &Trigger) -> Result<(), GrantError> {
        let hold = self.hold().await;
        if let Some(entry) = self.read_cache().await
            && self.take_shared(entry, trigger)
        {
            return Ok(());
        }
        let result = self
            .renew_once(trigger, matches!(hold, LockHold::Busy))
            .await;
        // Released only now: the new token is in the cache for the next holder.
        hold.release().await;
        result
    }

    pub(super) async fn hold(&self) -> LockHold {
        let wait = Duration::from_millis(self.lock_wait_ms.load(Ordering::Relaxed));
        if let Some(store) = self.cache.as_ref().and_then(|c| c.remote()) {
            // A holder that died loses the lock at its expiry: wait past it, so that the
            // others then renew with the lock rather than alone.
            let wait = wait.max(store.lock_ttl() + store.lock_ttl() / 4);
            return match self.through_outage(|| store.lock_within(wait)).await {
                Ok(Some(lease)) => LockHold::Remote(lease),
                Ok(None) => {
                    self.busy(&store.place(), wait);
                    LockHold::Busy
                }
                // own_login: already told.
                Err(_) => LockHold::None,
            };
        }
        // A session login's budget file has the same lock, cache or not.
        let path = match self.cache.as_ref() {
            Some(cache) => cache.lock_path(),
            None => match self.endpoint.session().and_then(|s| s.budget().lock_path()) {
                Some(path) => path,
                None => return LockHold::None,
            },
        };
        match lock_within(&path, wait).await {
            Ok(Some(lock)) => LockHold::Held(lock),
            Ok(None) => {
                self.busy(&path.display().to_string(), wait);
                LockHold::Busy
            }
            Err(e) => {
                if !self.lock_warned.swap(true, Ordering::Relaxed) {
                    self.audit.record(
                        EventKind::Warning,
                        None,
                        None,
                        &format!(
                            "cannot use the credential lock {}: {e}; other supsync processes on \
                             this credential may renew at the same time",
                            path.display()
                        ),
                    );
                }
                LockHold::None
            }
        }
    }

    fn busy(&self, place: &str, wait: Duration) {
        self.audit.record(
            EventKind::Warning,
            None,
            None,
            &format!(
                "another supsync process has held this credential's lock ({place}) for over \
                 {}: renewing without it, with a new session so that no refresh token it may \
                 be using is presented",
                secs(wait)
            ),
        );
    }

    /// Takes what another process left in the cache: its refresh token when newer, and its
    /// access token when also fresh enough. Returns whether the access token was taken (no
    /// request needed).
    fn take_shared(&self, entry: CachedSession, trigger: &Trigger) -> bool {
        let now = Instant::now();
        let now_wall = SystemTime::now();
        let mut st = self.lock();
        let seen = self.seen_serial.load(Ordering::SeqCst);
        // At start anything cached is news; later only what was written since we looked.
        let newer = st.current.is_none() || entry.serial > seen;
        if !newer {
            return false;
        }
        self.seen_serial.store(entry.serial, Ordering::SeqCst);
        if let Some(rt) = &entry.refresh_token {
            // A server echoing the refresh request must not show this token either.
            self.endpoint.redactor().remember_token(rt.expose());
            let age = now_wall
                .duration_since(entry.session_started)
                .unwrap_or(Duration::ZERO);
            st.session = Some(Session {
                started_at: now.checked_sub(age).unwrap_or(now),
                started_wall: entry.session_started,
                refresh: Some(rt.clone()),
                refresh_deadline: entry
                    .refresh_expires_at
                    .map(|t| later(now, t.duration_since(now_wall).unwrap_or(Duration::ZERO))),
            });
        }
        // The operator asked for a new token: the refresh token is taken, the access token
        // is not.
        if *trigger == Trigger::Forced {
            return false;
        }
        let Some(access) = entry.access else {
            return false;
        };
        let ours = st
            .current
            .as_ref()
            .is_some_and(|c| c.access == access.token);
        // A session id has no lifetime of its own: the session limit, when known, from
        // when that session started (its idle window is unknown here: a dead one is
        // refused by the API at its first call, and then replaced by a login).
        let session = access.grant == GrantKind::SessionLogin;
        let lifetime = match session {
            true => st.session_limit(),
            false => access.lifetime,
        };
        let expires_at = match session {
            true => lifetime.and_then(|l| entry.session_started.checked_add(l)),
            false => access.expires_at(),
        };
        let left = expires_at.map(|t| t.duration_since(now_wall).unwrap_or(Duration::ZERO));
        let margin = margin_for(&st, lifetime);
        if ours || left.is_some_and(|l| l <= margin) {
            return false;
        }
        self.endpoint
            .redactor()
            .remember_token(access.token.expose());
        let fp = access.token.fingerprint();
        adopt(&mut st, &access, entry.session_started, now, now_wall);
        let left = left.map_or_else(|| "lifetime unknown".to_string(), secs);
        let text = match session {
            true => format!(
                "session taken from the cache ({trigger}): a live session of this user, logged \
                 in by supsync before; no login needed ({left} left by its cap)"
            ),
            false => format!(
                "token taken from the cache ({trigger}): another supsync process on this \
                 credential renewed it; {left} left"
            ),
        };
        st.last_result = Some(text.clone());
        self.publish(&mut st);
        drop(st);
        self.audit
            .record(EventKind::Shared, Some(&fp), Some(access.grant), &text);
        true
    }

    /// How long a renewal waits for another process holding the credential's lock.
    pub fn set_lock_wait(&self, wait: Duration) {
        self.lock_wait_ms
            .store(wait.as_millis() as u64, Ordering::Relaxed);
    }
}

impl LockHold {
    /// Gives the lock back (a Redis lock with a round trip; a file lock by its drop).
    pub(super) async fn release(self) {
        if let LockHold::Remote(lease) = self {
            lease.release().await;
        }
    }
}

/// The renewal margin a token of `lifetime` gets (as [`State::margin`] computes it).
fn margin_for(st: &State, lifetime: Option<Duration>) -> Duration {
    let cfg = st.margin_cfg;
    match lifetime {
        Some(l) => cfg.min(l / crate::auth::state::MARGIN_FRACTION),
        None => cfg,
    }
}

/// Makes another process's token current. It counts as a renewal of this process's token
/// (the token changed) but not as a session or a request of its own. A session id brings
/// its own session (started when it logged in).
fn adopt(
    st: &mut State,
    a: &CachedAccess,
    session_started: SystemTime,
    now: Instant,
    now_wall: SystemTime,
) {
    let age = now_wall
        .duration_since(a.issued_at)
        .unwrap_or(Duration::ZERO);
    let sent_at = now.checked_sub(age).unwrap_or(now);
    st.generation += 1;
    st.grants += 1;
    st.idle_hint = None;
    st.current = Some(Current {
        access: a.token.clone(),
        fingerprint: a.token.fingerprint(),
        generation: st.generation,
        grant: a.grant,
        sent_at,
        issued_wall: a.issued_at,
        lifetime: a.lifetime,
        lifetime_source: a.lifetime_source,
        ttl_deadline: a.lifetime.map(|d| later(sent_at, d)),
        server: None,
        server_first: None,
        server_fixed: false,
        invalid: false,
        // Not ours to judge: a 401 on it says nothing about this client's rights, so it
        // must not count towards "the API refuses fresh tokens".
        accepted: true,
    });
    if a.grant == GrantKind::SessionLogin {
        let age = now_wall
            .duration_since(session_started)
            .unwrap_or(Duration::ZERO);
        st.session = Some(Session {
            started_at: now.checked_sub(age).unwrap_or(now),
            started_wall: session_started,
            refresh: None,
            refresh_deadline: None,
        });
    } else if st.session.is_none() {
        st.session = Some(Session {
            started_at: sent_at,
            started_wall: a.issued_at,
            refresh: None,
            refresh_deadline: None,
        });
    }
    st.phase = TokenPhase::Valid;
    st.last_error = None;
    st.last_failure = None;
}
