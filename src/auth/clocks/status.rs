//! What the token manager publishes on its `watch` channel: everything the countdown pane,
//! the headless reporter and the audit log need to know about the current token, and
//! nothing secret (only a fingerprint).

use std::time::{Duration, Instant, SystemTime};

pub use crate::auth::kinds::{GrantKind, LifetimeSource};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenPhase {
    /// No token yet.
    #[default]
    None,
    Valid,
    /// A renewal is in flight (the current token, if any, is still usable).
    Refreshing,
    /// The last attempt to get a token failed; `last_error` says why.
    Failed,
}

/// How the API said a token was dead: a 401, a 403 matching `auth.expired_when`, or a 200
/// whose body carries an error matching it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiredKind {
    Status401,
    Status403,
    Body200,
}

impl std::fmt::Display for ExpiredKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ExpiredKind::Status401 => "401",
            ExpiredKind::Status403 => "403",
            ExpiredKind::Body200 => "200",
        })
    }
}

/// Expired answers seen by callers, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExpiredCounts {
    pub status_401: u32,
    pub status_403: u32,
    pub body_200: u32,
}

impl ExpiredCounts {
    pub fn bump(&mut self, kind: ExpiredKind) {
        let c = match kind {
            ExpiredKind::Status401 => &mut self.status_401,
            ExpiredKind::Status403 => &mut self.status_403,
            ExpiredKind::Body200 => &mut self.body_200,
        };
        *c = c.saturating_add(1);
    }

    pub fn total(&self) -> u32 {
        self.status_401
            .saturating_add(self.status_403)
            .saturating_add(self.body_200)
    }
}

/// Which of the clocks of docs/API.md §2 is the binding one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingClock {
    Ttl,
    Idle,
    Session,
    /// `X-Token-Expires-In` from the server, which counts all three.
    Server,
}

/// Snapshot of the token state. Deadlines are monotonic `Instant`s so the countdown is
/// immune to wall-clock jumps; render code subtracts a `now` it is given.
#[derive(Debug, Clone, Default)]
pub struct TokenStatus {
    pub phase: TokenPhase,
    /// Short fingerprint of the access token (never the token).
    pub fingerprint: Option<String>,
    pub grant: Option<GrantKind>,
    pub issued_at: Option<Instant>,
    pub issued_at_wall: Option<SystemTime>,
    /// The lifetime in force (`expires_in`, else a fallback: see `lifetime_source`).
    pub lifetime: Option<Duration>,
    /// Where `lifetime` came from (`None` before the first token).
    pub lifetime_source: Option<LifetimeSource>,
    /// Death by TTL: request sent + `expires_in`.
    pub ttl_deadline: Option<Instant>,
    /// Death by idle window, when known (observed sliding or configured).
    pub idle_deadline: Option<Instant>,
    pub idle_window: Option<Duration>,
    /// Death by the session's absolute limit, when known.
    pub session_deadline: Option<Instant>,
    pub session_started_at: Option<Instant>,
    /// Latest `X-Token-Expires-In`, as a deadline.
    pub server_deadline: Option<Instant>,
    /// Refresh token expiry (`refresh_expires_in`), when a refresh token exists.
    pub refresh_deadline: Option<Instant>,
    pub has_refresh_token: bool,
    /// When the manager plans to renew.
    pub next_refresh_at: Option<Instant>,
    /// The margin in force (what turns the countdown amber).
    pub margin: Duration,
    /// Renewals so far in this process (refresh grants + new sessions after the first).
    pub renewals: u32,
    /// Sessions started (client-credentials grants, session logins).
    pub sessions: u32,
    /// Human-readable result of the last renewal, e.g. "refreshed (refresh_token) in 12 ms".
    pub last_result: Option<String>,
    pub last_error: Option<String>,
    /// Expired answers seen by callers (401s and the `auth.expired_when` kinds).
    pub unauthorized_seen: u32,
    /// The same, by kind.
    pub expired_seen: ExpiredCounts,
    /// The server's refresh window (configured, or learned from a "too early" refusal).
    pub refresh_window: Option<Duration>,
}

impl TokenStatus {
    /// The earliest known death, and which clock it is.
    pub fn effective_deadline(&self) -> Option<(Instant, BindingClock)> {
        [
            (self.ttl_deadline, BindingClock::Ttl),
            (self.idle_deadline, BindingClock::Idle),
            (self.session_deadline, BindingClock::Session),
            (self.server_deadline, BindingClock::Server),
        ]
        .into_iter()
        .filter_map(|(d, c)| d.map(|d| (d, c)))
        .min_by_key(|(d, _)| *d)
    }

    /// Time left at `now` (zero once dead).
    pub fn remaining(&self, now: Instant) -> Option<Duration> {
        self.effective_deadline()
            .map(|(d, _)| d.saturating_duration_since(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_deadline_is_the_earliest_clock() {
        let now = Instant::now();
        let s = TokenStatus {
            ttl_deadline: Some(now + Duration::from_secs(900)),
            idle_deadline: Some(now + Duration::from_secs(300)),
            session_deadline: Some(now + Duration::from_secs(3600)),
            ..Default::default()
        };
        let (d, c) = s.effective_deadline().unwrap();
        assert_eq!(c, BindingClock::Idle);
        assert_eq!(d, now + Duration::from_secs(300));
        assert_eq!(
            s.remaining(now + Duration::from_secs(400)),
            Some(Duration::ZERO)
        );
    }
}
