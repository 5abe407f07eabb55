//! The token server's memory: sessions, access tokens, refresh tokens, and the three
//! clocks of docs/API.md §2 (TTL, sliding idle window, absolute session limit).
//!
//! Every method takes `now`, so the clock arithmetic is unit-tested without sleeping.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::sim::jwt::{jwt, random_b64};
use crate::sim::profile::{IssueRefreshToken, Tokens};

/// What the token endpoint hands back on success.
#[derive(Debug, Clone)]
pub struct Issued {
    pub access_token: String,
    pub expires_in: u64,
    pub scope: Vec<String>,
    pub refresh_token: Option<String>,
    pub refresh_expires_in: Option<u64>,
}

/// Why a refresh grant is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshError {
    InvalidGrant(String),
    InvalidScope(String),
    /// A spent refresh token came back: the session is revoked (reuse detection on).
    Reuse,
    /// Before the refresh window: the access token still has `left`.
    TooEarly {
        left: Duration,
        window: Duration,
    },
}

/// A token that passed the three clocks.
#[derive(Debug, Clone)]
pub struct Authed {
    pub client_id: String,
}

struct TokenSession {
    started: Instant,
    revoked_at: Option<Instant>,
    /// When the session's latest access token's TTL ends (the refresh window counts back
    /// from it).
    access_expires: Option<Instant>,
}

struct IssuedAccess {
    sid: u64,
    client_id: String,
    issued: Instant,
    ttl: Duration,
    last_used: Instant,
    /// Admitted resource calls made with it (for `revoke_after_uses`).
    uses: u64,
    /// Revoked after this many admitted calls (`early_death_every` picked it).
    dies_after_uses: Option<u64>,
}

/// Admitted calls a token picked by `early_death_every` lives for.
const EARLY_DEATH_USES: u64 = 3;

struct Refresh {
    sid: u64,
    client_id: String,
    scope: Vec<String>,
    expires: Instant,
    spent: bool,
}

pub struct TokenStore {
    cfg: Tokens,
    sessions: HashMap<u64, TokenSession>,
    access: HashMap<String, IssuedAccess>,
    refresh: HashMap<String, Refresh>,
    next_sid: u64,
    issued_since_prune: u32,
    /// Access tokens issued so far (for `early_death_every`).
    issued_total: u64,
}

/// How a token died: the clock and when it hit.
enum TokenDeath {
    Ttl,
    Idle,
    Session,
    Revoked,
}

impl TokenStore {
    pub fn new(cfg: Tokens) -> Self {
        Self {
            cfg,
            sessions: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            next_sid: 1,
            issued_since_prune: 0,
            issued_total: 0,
        }
    }

    /// A new session: TTL from the scope hierarchy, a refresh token per `issue_refresh_token`.
    pub fn client_credentials(
        &mut self,
        client_id: &str,
        scope: Vec<String>,
        now: Instant,
    ) -> Issued {
        let sid = self.next_sid;
        self.next_sid += 1;
        self.sessions.insert(
            sid,
            TokenSession {
                started: now,
                revoked_at: None,
                access_expires: None,
            },
        );
        let wants_refresh = match self.cfg.issue_refresh_token {
            IssueRefreshToken::Never => false,
            IssueRefreshToken::Always => true,
            IssueRefreshToken::OfflineAccess => scope.iter().any(|s| s == "offline_access"),
        };
        let (refresh_token, refresh_expires_in) = if wants_refresh {
            let (rt, left) = self.new_refresh(sid, client_id, scope.clone(), now);
            (Some(rt), Some(left))
        } else {
            (None, None)
        };
        let (access_token, expires_in) = self.new_access(sid, client_id, &scope, now);
        Issued {
            access_token,
            expires_in,
            scope,
            refresh_token,
            refresh_expires_in,
        }
    }

    /// Continues the refresh token's session (rotation and reuse detection per profile).
    pub fn refresh(
        &mut self,
        client_id: &str,
        token: &str,
        scope: Option<Vec<String>>,
        now: Instant,
    ) -> Result<Issued, RefreshError> {
        let invalid = |m: &str| Err(RefreshError::InvalidGrant(m.to_string()));
        let Some(rt) = self.refresh.get(token) else {
            return invalid("refresh token is unknown");
        };
        if rt.client_id != client_id {
            return invalid("refresh token was issued to another client");
        }
        let sid = rt.sid;
        let Some(session) = self.sessions.get(&sid) else {
            return invalid("refresh token is unknown");
        };
        if session.revoked_at.is_some() {
            return invalid("refresh token revoked");
        }
        if self.session_end(session).is_some_and(|end| now >= end) {
            return invalid("session expired");
        }
        if rt.spent {
            if self.cfg.reuse_detection {
                if let Some(s) = self.sessions.get_mut(&sid) {
                    s.revoked_at = Some(now);
                }
                return Err(RefreshError::Reuse);
            }
            return invalid("refresh token already used");
        }
        if now >= rt.expires {
            return invalid("refresh token expired");
        }
        if self.cfg.refresh_window_secs > 0
            && let Some(expires) = session.access_expires
        {
            let window = Duration::from_secs(self.cfg.refresh_window_secs);
            let left = expires.saturating_duration_since(now);
            if left > window {
                return Err(RefreshError::TooEarly { left, window });
            }
        }
        let granted = match scope {
            None => rt.scope.clone(),
            Some(asked) => {
                if let Some(extra) = asked.iter().find(|s| !rt.scope.contains(s)) {
                    return Err(RefreshError::InvalidScope(format!(
                        "scope {extra:?} was not granted to this session"
                    )));
                }
                asked
            }
        };
        let original_scope = rt.scope.clone();
        let expires = rt.expires;
        let (refresh_token, refresh_left) = if self.cfg.rotate_refresh_tokens {
            if let Some(old) = self.refresh.get_mut(token) {
                old.spent = true;
            }
            self.new_refresh(sid, client_id, original_scope, now)
        } else {
            (
                token.to_string(),
                expires.saturating_duration_since(now).as_secs(),
            )
        };
        let (access_token, expires_in) = self.new_access(sid, client_id, &granted, now);
        Ok(Issued {
            access_token,
            expires_in,
            scope: granted,
            refresh_token: Some(refresh_token),
            refresh_expires_in: Some(refresh_left),
        })
    }

    /// Checks the three clocks; a live token's idle deadline slides to `now + idle`.
    /// The error is the 401 description naming the clock that hit first.
    pub fn authenticate(&mut self, token: &str, now: Instant) -> Result<Authed, String> {
        let Some(at) = self.access.get(token) else {
            return Err("Token is not known to this server".into());
        };
        if let Some((death, _)) = self.first_death(at).filter(|(_, when)| *when <= now) {
            let idle = Duration::from_secs(self.cfg.idle_timeout_secs);
            return Err(match death {
                TokenDeath::Ttl => format!("Token expired after {}", long(at.ttl)),
                TokenDeath::Idle => format!(
                    "Token idle for {} (idle timeout {})",
                    long(now.saturating_duration_since(at.last_used)),
                    short(idle)
                ),
                TokenDeath::Session => format!(
                    "Session expired after {}",
                    long(Duration::from_secs(self.cfg.absolute_timeout_secs))
                ),
                TokenDeath::Revoked => "Token revoked".into(),
            });
        }
        let limit = self.cfg.revoke_after_uses;
        if (limit > 0 && at.uses >= limit) || at.dies_after_uses.is_some_and(|n| at.uses >= n) {
            return Err("Token revoked".into());
        }
        let client_id = at.client_id.clone();
        if let Some(at) = self.access.get_mut(token) {
            at.last_used = now;
            at.uses += 1;
        }
        Ok(Authed { client_id })
    }

    /// Whole seconds the token has left as of `now`, counting all three clocks (floor).
    pub fn remaining_secs(&self, token: &str, now: Instant) -> u64 {
        self.access
            .get(token)
            .and_then(|at| self.first_death(at))
            .map(|(_, when)| when.saturating_duration_since(now).as_secs())
            .unwrap_or(0)
    }

    /// The client a refresh token was issued to (a token login's user), if it is known.
    pub fn refresh_owner(&self, token: &str) -> Option<String> {
        self.refresh.get(token).map(|r| r.client_id.clone())
    }

    /// Revokes the session of an access or refresh token (a logout). Returns whether one
    /// was live.
    pub fn revoke_session_of(&mut self, token: &str, now: Instant) -> bool {
        let sid = self
            .access
            .get(token)
            .map(|a| a.sid)
            .or_else(|| self.refresh.get(token).map(|r| r.sid));
        match sid.and_then(|sid| self.sessions.get_mut(&sid)) {
            Some(s) if s.revoked_at.is_none() => {
                s.revoked_at = Some(now);
                true
            }
            _ => false,
        }
    }

    /// Revokes every session, so every access and refresh token, now. Returns how many.
    pub fn revoke_all(&mut self, now: Instant) -> usize {
        let mut n = 0;
        for s in self
            .sessions
            .values_mut()
            .filter(|s| s.revoked_at.is_none())
        {
            s.revoked_at = Some(now);
            n += 1;
        }
        n
    }

    fn session_end(&self, s: &TokenSession) -> Option<Instant> {
        (self.cfg.absolute_timeout_secs > 0)
            .then(|| s.started + Duration::from_secs(self.cfg.absolute_timeout_secs))
    }

    /// The clock that ends this token first, and when (revocation counts as a clock).
    fn first_death(&self, at: &IssuedAccess) -> Option<(TokenDeath, Instant)> {
        let session = self.sessions.get(&at.sid)?;
        let mut candidates = vec![(TokenDeath::Ttl, at.issued + at.ttl)];
        if self.cfg.idle_timeout_secs > 0 {
            let idle = Duration::from_secs(self.cfg.idle_timeout_secs);
            candidates.push((TokenDeath::Idle, at.last_used + idle));
        }
        if let Some(end) = self.session_end(session) {
            candidates.push((TokenDeath::Session, end));
        }
        if let Some(r) = session.revoked_at {
            candidates.push((TokenDeath::Revoked, r));
        }
        candidates.into_iter().min_by_key(|(_, when)| *when)
    }

    /// TTL hierarchy: the shortest TTL among requested scopes that have one, else default.
    pub fn ttl_for(&self, scope: &[String]) -> u64 {
        scope
            .iter()
            .filter_map(|s| self.cfg.scope_ttl_secs.get(s).copied())
            .min()
            .unwrap_or(self.cfg.default_ttl_secs)
    }

    fn new_access(
        &mut self,
        sid: u64,
        client_id: &str,
        scope: &[String],
        now: Instant,
    ) -> (String, u64) {
        self.prune(now);
        let ttl = self.ttl_for(scope);
        let token = if crate::sim::quirks::opaque_tokens(&self.cfg.token_quirks) {
            random_b64(32)
        } else {
            jwt(client_id, sid, scope, ttl, self.cfg.clock_skew_secs)
        };
        if let Some(s) = self.sessions.get_mut(&sid) {
            s.access_expires = Some(now + Duration::from_secs(ttl));
        }
        self.issued_total += 1;
        let every = self.cfg.early_death_every;
        let dies_after_uses =
            (every > 0 && self.issued_total.is_multiple_of(every)).then_some(EARLY_DEATH_USES);
        self.access.insert(
            token.clone(),
            IssuedAccess {
                sid,
                client_id: client_id.to_string(),
                issued: now,
                ttl: Duration::from_secs(ttl),
                last_used: now,
                uses: 0,
                dies_after_uses,
            },
        );
        (token, ttl)
    }

    /// A refresh token that lives `refresh_ttl`, never past the session limit.
    fn new_refresh(
        &mut self,
        sid: u64,
        client_id: &str,
        scope: Vec<String>,
        now: Instant,
    ) -> (String, u64) {
        let mut expires = now + Duration::from_secs(self.cfg.refresh_ttl_secs);
        if let Some(end) = self.sessions.get(&sid).and_then(|s| self.session_end(s)) {
            expires = expires.min(end);
        }
        let token = random_b64(32);
        self.refresh.insert(
            token.clone(),
            Refresh {
                sid,
                client_id: client_id.to_string(),
                scope,
                expires,
                spent: false,
            },
        );
        (token, expires.saturating_duration_since(now).as_secs())
    }

    /// Forgets tokens dead for over a day, so a simulator left running for a week of
    /// benchmarks does not grow without bound. Runs every few thousand issues.
    fn prune(&mut self, now: Instant) {
        self.issued_since_prune += 1;
        if self.issued_since_prune < 4096 {
            return;
        }
        self.issued_since_prune = 0;
        let day = Duration::from_secs(86_400);
        let dead_long = |when: Instant| when + day < now;
        let deaths: Vec<String> = self
            .access
            .iter()
            .filter(|(_, at)| self.first_death(at).is_none_or(|(_, w)| dead_long(w)))
            .map(|(k, _)| k.clone())
            .collect();
        for k in deaths {
            self.access.remove(&k);
        }
        self.refresh.retain(|_, rt| !dead_long(rt.expires));
        let live: std::collections::HashSet<u64> = self
            .access
            .values()
            .map(|a| a.sid)
            .chain(self.refresh.values().map(|r| r.sid))
            .collect();
        self.sessions.retain(|sid, _| live.contains(sid));
    }
}

/// `15m 02s`: the form of docs/API.md §2.5 (minutes never roll over into hours).
pub fn long(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}m {:02}s", s / 60, s % 60)
}

/// `15m`, `2s`, `1m 30s`: the idle timeout as a setting.
pub fn short(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 60, s % 60) {
        (0, sec) => format!("{sec}s"),
        (m, 0) => format!("{m}m"),
        (m, sec) => format!("{m}m {sec:02}s"),
    }
}

#[cfg(test)]
#[path = "tokens_tests.rs"]
mod tests;
