//! The token manager's bookkeeping, without any I/O: what the current token is, when each
//! clock kills it, when to renew and with which grant, and the published snapshot. Kept
//! pure so the timing rules are unit-tested with made-up instants.

use std::time::{Duration, Instant, SystemTime};

use super::answer::{MAX_LIFETIME_SECS, bounded_secs};
use super::grant::{Grant, GrantError};
use super::status::{ExpiredCounts, GrantKind, LifetimeSource, TokenPhase, TokenStatus};
use crate::secret::Secret;

/// Renew when the remaining time drops under the margin, but never use more than this
/// share of a token's life as margin (a 2 s token is renewed with ~0.7 s left).
pub const MARGIN_FRACTION: u32 = 3;
/// The margin inside a refresh window is this share of it (3/4): our deadline comes from
/// when the token request was sent, a little before the server's, so a refresh planned at
/// the window's very edge would be refused as too early.
const WINDOW_SHARE_NUM: u32 = 3;
const WINDOW_SHARE_DEN: u32 = 4;
/// A refresh window learned without the server naming it is never taken as smaller.
const MIN_LEARNED_WINDOW: Duration = Duration::from_millis(500);
/// Upper bound of the slack below which a token is no longer handed out.
const MAX_SLACK: Duration = Duration::from_secs(2);
/// `X-Token-Expires-In` has whole seconds: a fixed deadline seen through it wobbles by
/// under a second, so only a move later than this proves a sliding (idle) window.
const SLIDE_PROOF: Duration = Duration::from_millis(1250);
/// Observations of one token spanning this long without a slide: the server's deadline is
/// fixed (TTL or session), so renewal can and must beat it.
const FIXED_PROOF: Duration = Duration::from_millis(1500);
/// `refresh_expires_in` has whole seconds: a rotated refresh token whose deadline lands
/// within this of the previous one did not get a fresh `refresh_ttl`, the session capped it.
const PIN_TOLERANCE: Duration = Duration::from_secs(2);
/// Two refreshes closer than this cannot tell a pinned deadline from one that moved by the
/// short time between them.
const PIN_MIN_GAP: Duration = Duration::from_secs(4);

#[derive(Debug)]
pub struct Current {
    pub access: Secret,
    pub fingerprint: String,
    pub generation: u64,
    pub grant: GrantKind,
    pub sent_at: Instant,
    pub issued_wall: SystemTime,
    pub lifetime: Option<Duration>,
    pub lifetime_source: LifetimeSource,
    pub ttl_deadline: Option<Instant>,
    /// Latest `X-Token-Expires-In`: when read, its value, the deadline it implies.
    pub server: Option<(Instant, u64, Instant)>,
    /// Earliest server deadline and first observation of this token (slide detection).
    pub server_first: Option<(Instant, Instant)>,
    pub server_fixed: bool,
    /// A 401 named this token: it is dead whatever the clocks say.
    pub invalid: bool,
    /// The API accepted this token at least once (a fresh token refused is a sign that
    /// the client lacks a scope or permission, not that the token died).
    pub accepted: bool,
}

#[derive(Debug)]
pub struct Session {
    pub started_at: Instant,
    pub started_wall: SystemTime,
    pub refresh: Option<Secret>,
    pub refresh_deadline: Option<Instant>,
}

/// Why a renewal chooses the grant it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenewalPlan {
    Refresh(Secret),
    NewSession(String),
}

#[derive(Debug)]
pub struct State {
    pub current: Option<Current>,
    pub session: Option<Session>,
    /// The server's sliding idle window, once seen sliding.
    pub idle_window: Option<Duration>,
    /// A shorter-than-TTL server deadline of unknown cause on this token (maybe idle).
    pub idle_hint: Option<Duration>,
    /// The session's absolute limit, learned when a refresh was refused as "session" or
    /// from a refresh-token expiry pinned by it.
    pub session_limit: Option<Duration>,
    /// The operator's word (config `[auth]`) on the idle window and the session limit:
    /// used while nothing better was observed.
    pub idle_configured: Option<Duration>,
    pub session_configured: Option<Duration>,
    pub margin_cfg: Duration,
    pub generation: u64,
    pub grants: u32,
    pub sessions: u32,
    pub unauthorized_seen: u32,
    pub expired_seen: ExpiredCounts,
    /// The server accepts a refresh only this close to expiry (configured or learned).
    pub refresh_window: Option<Duration>,
    pub phase: TokenPhase,
    pub last_result: Option<String>,
    pub last_error: Option<String>,
    pub last_failure: Option<(Instant, GrantError)>,
    pub last_activity: Instant,
    pub published_server: Option<Instant>,
    /// When the last renewal started (renewals are paced).
    pub last_renewal_at: Option<Instant>,
    /// Fresh tokens refused by the API in a row (never accepted before their 401).
    pub fresh_refused: u32,
    /// Set once too many fresh tokens were refused: renewing cannot help any more.
    pub refused_by_api: Option<GrantError>,
}

impl State {
    pub fn new(margin_cfg: Duration) -> Self {
        State {
            current: None,
            session: None,
            idle_window: None,
            idle_hint: None,
            session_limit: None,
            idle_configured: None,
            session_configured: None,
            margin_cfg,
            generation: 0,
            grants: 0,
            sessions: 0,
            unauthorized_seen: 0,
            expired_seen: ExpiredCounts::default(),
            refresh_window: None,
            phase: TokenPhase::None,
            last_result: None,
            last_error: None,
            last_failure: None,
            last_activity: Instant::now(),
            published_server: None,
            last_renewal_at: None,
            fresh_refused: 0,
            refused_by_api: None,
        }
    }

    /// `min(refresh_margin_secs, lifetime / 3)`, and inside the refresh window when the
    /// server has one. A credential without a lifetime of its own (a session id) counts
    /// the server's word, else the session limit, as its lifetime.
    /// The token's use ends by the shortest clock a renewal beats (a session limit or a
    /// fixed server deadline shorter than the TTL), and the margin is a share of that: a
    /// margin longer than the use would plan each new token's renewal at once.
    pub fn margin(&self) -> Duration {
        let life = self.current.as_ref().and_then(|c| {
            let own = c
                .lifetime
                .or_else(|| c.server.map(|(_, s, _)| Duration::from_secs(s)));
            let server = self
                .server_deadline(c)
                .filter(|&(secs, _)| !self.server_is_idle(c, secs))
                .map(|(_, d)| d.saturating_duration_since(c.sent_at));
            [own, self.session_limit(), server]
                .into_iter()
                .flatten()
                .min()
        });
        let cfg = self.margin_cfg.min(bounded_secs(MAX_LIFETIME_SECS));
        let m = match life {
            Some(l) => cfg.min(l / MARGIN_FRACTION),
            None => cfg,
        };
        match self.refresh_window {
            Some(w) => m.min(w * WINDOW_SHARE_NUM / WINDOW_SHARE_DEN),
            None => m,
        }
    }

    /// A refresh was refused as too early. `said`: the window the server named, if it did;
    /// otherwise the window is taken to be half the margin that was too early.
    pub fn learn_refresh_window(&mut self, said: Option<Duration>) -> Duration {
        let learned = said
            .unwrap_or_else(|| (self.margin() / 2).max(MIN_LEARNED_WINDOW))
            .max(MIN_LEARNED_WINDOW);
        let w = self.refresh_window.map_or(learned, |old| old.min(learned));
        self.refresh_window = Some(w);
        w
    }

    /// A token with less than this left is not handed out any more.
    pub fn slack(&self) -> Duration {
        MAX_SLACK.min(self.margin() / 3)
    }

    /// The idle window in force: observed, else configured.
    pub fn idle(&self) -> Option<Duration> {
        self.idle_window.or(self.idle_configured)
    }

    /// The session limit in force: observed, else configured.
    pub fn session_limit(&self) -> Option<Duration> {
        self.session_limit.or(self.session_configured)
    }

    pub fn session_deadline(&self) -> Option<Instant> {
        let s = self.session.as_ref()?;
        self.session_limit().map(|l| later(s.started_at, l))
    }

    /// When the refresh token dies. Not a deadline of the access token: a refresh token
    /// that lapses first only means the next renewal is a new grant.
    fn refresh_deadline(&self) -> Option<Instant> {
        self.session.as_ref().and_then(|s| {
            s.refresh.as_ref()?;
            s.refresh_deadline
        })
    }

    /// The latest server deadline when it says more than the TTL does. The header has whole
    /// seconds (a server may floor them), so a value within a second of our own TTL
    /// deadline is that same clock, already known more precisely.
    fn server_deadline(&self, c: &Current) -> Option<(u64, Instant)> {
        let (_, secs, d) = c.server?;
        match c.ttl_deadline {
            Some(ttl) if d + Duration::from_secs(1) >= ttl => None,
            _ => Some((secs, d)),
        }
    }

    /// Whether a server deadline shorter than the TTL is the idle window (kept open by
    /// calls and the keep-alive, so renewing would not move it). Until the window is known,
    /// a deadline not yet proven fixed is assumed to be idle.
    fn server_is_idle(&self, c: &Current, secs: u64) -> bool {
        match self.idle() {
            Some(w) => secs + 1 >= w.as_secs(),
            None => !c.server_fixed,
        }
    }

    /// The earliest end of the access token's use that a renewal can beat: TTL, session
    /// limit and the server's word unless that is the idle window. The refresh token's
    /// expiry is not among them: renewing for it would buy a new refresh token that again
    /// dies first, a renewal every time the pacing allows, for nothing the access token
    /// needed (the plan takes a new grant once the refresh token has lapsed).
    pub fn renew_deadline(&self) -> Option<Instant> {
        let c = self.current.as_ref()?;
        let server = self
            .server_deadline(c)
            .filter(|&(secs, _)| !self.server_is_idle(c, secs))
            .map(|(_, d)| d);
        [c.ttl_deadline, server, self.session_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// The earliest death by a clock that calls do not push back: TTL and session (and
    /// the server's word when it is one of those). A token within the slack
    /// of it is not handed out.
    pub fn hard_death(&self) -> Option<Instant> {
        self.renew_deadline()
    }

    /// The earliest death by any clock, the idle window included. A call sent before it
    /// pushes the idle window back, so it only needs to be in the future (the header is
    /// floored, which already leaves up to a second).
    pub fn death(&self) -> Option<Instant> {
        let c = self.current.as_ref()?;
        let idle = self.idle().map(|w| later(self.last_activity, w));
        let server = self.server_deadline(c).map(|(_, d)| d);
        [self.renew_deadline(), server, idle]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn next_refresh_at(&self) -> Option<Instant> {
        let d = self.renew_deadline()?;
        Some(d.checked_sub(self.margin()).unwrap_or(d))
    }

    /// The token to hand out now, if it is alive with slack to spare.
    pub fn usable(&self, now: Instant) -> Option<(Secret, u64)> {
        let c = self.current.as_ref().filter(|c| !c.invalid)?;
        if self.hard_death().is_some_and(|d| d <= now + self.slack())
            || self.death().is_some_and(|d| d <= now)
        {
            return None;
        }
        Some((c.access.clone(), c.generation))
    }

    pub fn current_generation(&self) -> Option<u64> {
        self.current.as_ref().map(|c| c.generation)
    }

    /// Which grant the next renewal uses, and why a new session when it is one.
    pub fn plan(&self, now: Instant) -> RenewalPlan {
        let margin = self.margin();
        let Some(s) = &self.session else {
            return RenewalPlan::NewSession("no session yet".into());
        };
        let Some(rt) = &s.refresh else {
            return RenewalPlan::NewSession("the server issued no refresh token".into());
        };
        if let Some(d) = s.refresh_deadline
            && d <= now + margin
        {
            return RenewalPlan::NewSession(if d <= now {
                "the refresh token has lapsed".to_string()
            } else {
                format!(
                    "refresh token expires in {}, too close to refresh with",
                    secs(d.saturating_duration_since(now))
                )
            });
        }
        if let Some(d) = self.session_deadline()
            && d <= now + margin
        {
            return RenewalPlan::NewSession(format!(
                "session limit reached in {}",
                secs(d.saturating_duration_since(now))
            ));
        }
        // A refreshed token would die with the session, long before its lifetime: it
        // would need a renewal of its own soon, a new session now saves that one.
        if let (Some(d), Some(life)) = (
            self.session_deadline(),
            self.current.as_ref().and_then(|c| c.lifetime),
        ) && d < later(now, life)
        {
            return RenewalPlan::NewSession(format!(
                "the session ends in {}, before a refreshed token would",
                secs(d.saturating_duration_since(now))
            ));
        }
        RenewalPlan::Refresh(rt.clone())
    }

    /// A fresh grant becomes the current token. `new_session` restarts the session clock.
    pub fn install(&mut self, g: &Grant, new_session: bool, now_wall: SystemTime) -> u64 {
        let issued_wall = now_wall
            .checked_sub(g.received_at.saturating_duration_since(g.sent_at))
            .unwrap_or(now_wall);
        if new_session || self.session.is_none() {
            self.session = Some(Session {
                started_at: g.sent_at,
                started_wall: issued_wall,
                refresh: None,
                refresh_deadline: None,
            });
        }
        if let Some(limit) = self.pinned_session_limit(g, new_session) {
            self.session_limit = Some(limit);
        }
        if let Some(s) = self.session.as_mut() {
            if let Some(rt) = &g.refresh_token {
                s.refresh = Some(rt.clone());
                s.refresh_deadline = g.refresh_expires_in.map(|d| later(g.sent_at, d));
            } else if new_session {
                s.refresh = None;
                s.refresh_deadline = None;
            }
            // A refresh without a new refresh token keeps the old one (RFC 6749 §6).
        }
        self.generation += 1;
        self.grants += 1;
        if matches!(
            g.kind,
            GrantKind::ClientCredentials
                | GrantKind::SessionLogin
                | GrantKind::TokenLogin
                | GrantKind::ApiKey
        ) {
            self.sessions += 1;
        }
        self.idle_hint = None;
        self.current = Some(Current {
            access: g.access_token.clone(),
            fingerprint: g.access_token.fingerprint(),
            generation: self.generation,
            grant: g.kind,
            sent_at: g.sent_at,
            issued_wall,
            lifetime: g.lifetime,
            lifetime_source: g.lifetime_source,
            ttl_deadline: g.lifetime.map(|d| later(g.sent_at, d)),
            server: None,
            server_first: None,
            server_fixed: false,
            invalid: false,
            accepted: false,
        });
        self.phase = TokenPhase::Valid;
        self.last_error = None;
        self.last_failure = None;
        self.generation
    }

    /// The server caps a refresh token's life at the session's end (docs/API.md §2.4). A refresh
    /// in the same session that rotated the refresh token but left its deadline where it
    /// was (although time passed) shows that cap: the session ends at that deadline.
    fn pinned_session_limit(&self, g: &Grant, new_session: bool) -> Option<Duration> {
        if new_session || g.kind != GrantKind::RefreshToken {
            return None;
        }
        let s = self.session.as_ref()?;
        let (old_rt, new_rt) = (s.refresh.as_ref()?, g.refresh_token.as_ref()?);
        // Without rotation the same refresh token keeps its fixed deadline: no evidence.
        if old_rt == new_rt {
            return None;
        }
        let prev = s.refresh_deadline?;
        let new = later(g.sent_at, g.refresh_expires_in?);
        let since = g
            .sent_at
            .saturating_duration_since(self.current.as_ref()?.sent_at);
        let moved = new.max(prev) - new.min(prev);
        if since < PIN_MIN_GAP || moved > PIN_TOLERANCE {
            return None;
        }
        let limit = new.saturating_duration_since(s.started_at);
        // Under a second is a measuring error, not a policy (see learn_session_limit).
        (limit >= Duration::from_secs(1)).then_some(limit)
    }

    /// An `X-Token-Expires-In` read at `at` for token `generation`. Returns whether the
    /// published status should change (a noticeable move, or something learned).
    pub fn observe(&mut self, generation: u64, at: Instant, secs: u64) -> bool {
        let Some(c) = self.current.as_mut().filter(|c| c.generation == generation) else {
            return false;
        };
        let secs = secs.min(MAX_LIFETIME_SECS);
        let deadline = later(at, Duration::from_secs(secs));
        let mut learned = false;
        match c.server_first {
            None => c.server_first = Some((deadline, at)),
            Some((min_d, first_at)) => {
                if deadline > min_d + SLIDE_PROOF {
                    // The deadline moved later on its own: a sliding idle window.
                    let w = Duration::from_secs(secs.max(1));
                    if self.idle_window.is_none_or(|old| w > old) {
                        self.idle_window = Some(w);
                        learned = true;
                    }
                } else if !c.server_fixed && at.saturating_duration_since(first_at) >= FIXED_PROOF {
                    c.server_fixed = true;
                    learned = true;
                }
                if deadline < min_d {
                    c.server_first = Some((deadline, first_at));
                }
            }
        }
        c.server = Some((at, secs, deadline));
        // Field by field (not `idle()`): `c` still borrows `self.current`.
        let idle_known = self.idle_window.or(self.idle_configured).is_some();
        if !idle_known
            && c.ttl_deadline
                .is_some_and(|t| deadline + Duration::from_secs(1) < t)
        {
            let h = Duration::from_secs(secs.max(1));
            if self.idle_hint.is_none_or(|old| h < old) {
                self.idle_hint = Some(h);
            }
        }
        let moved = self
            .published_server
            .is_none_or(|p| p.max(deadline) - p.min(deadline) > Duration::from_millis(500));
        moved || learned
    }

    /// Keep-alive cadence: at least every `keepalive`, and twice per idle window.
    pub fn keepalive_interval(&self, keepalive: Duration) -> Duration {
        match self.idle().or(self.idle_hint) {
            Some(w) => keepalive.min((w / 2).max(Duration::from_millis(200))),
            None => keepalive,
        }
    }

    /// A refresh refused because the session ended: remember roughly how long sessions
    /// last, so later sessions are renewed before they end. The server's last deadline for
    /// the session, when it had one, is the better measure.
    pub fn learn_session_limit(&mut self, now: Instant) {
        let Some(s) = &self.session else { return };
        let end = self
            .current
            .as_ref()
            .and_then(|c| c.server.map(|(_, _, d)| d))
            .filter(|d| *d <= now)
            .unwrap_or(now);
        let limit = end.saturating_duration_since(s.started_at);
        // Under a second is a measuring error (a session restored from the cache), not a
        // policy: ignore it rather than renew in a loop.
        if limit >= Duration::from_secs(1) {
            self.session_limit = Some(limit);
        }
    }

    pub fn snapshot(&mut self) -> TokenStatus {
        let margin = self.margin();
        let next_refresh_at = self.next_refresh_at();
        let session_deadline = self.session_deadline();
        let idle_window = self.idle();
        let c = self.current.as_ref();
        let server_deadline = c.and_then(|c| c.server.map(|(_, _, d)| d));
        self.published_server = server_deadline;
        TokenStatus {
            phase: self.phase,
            fingerprint: c.map(|c| c.fingerprint.clone()),
            grant: c.map(|c| c.grant),
            issued_at: c.map(|c| c.sent_at),
            issued_at_wall: c.map(|c| c.issued_wall),
            lifetime: c.and_then(|c| c.lifetime),
            lifetime_source: c.map(|c| c.lifetime_source),
            ttl_deadline: c.and_then(|c| c.ttl_deadline),
            idle_deadline: idle_window.map(|w| later(self.last_activity, w)),
            idle_window,
            session_deadline,
            session_started_at: self.session.as_ref().map(|s| s.started_at),
            server_deadline,
            refresh_deadline: self.refresh_deadline(),
            has_refresh_token: self.session.as_ref().is_some_and(|s| s.refresh.is_some()),
            next_refresh_at,
            margin,
            renewals: self.grants.saturating_sub(1),
            sessions: self.sessions,
            last_result: self.last_result.clone(),
            last_error: self.last_error.clone(),
            unauthorized_seen: self.unauthorized_seen,
            expired_seen: self.expired_seen,
            refresh_window: self.refresh_window,
        }
    }
}

/// `base + d` with `d` bounded (see [`bounded_secs`]), so no lifetime from a server or a
/// config can overflow a deadline. Should even that overflow, the deadline is `base`: the
/// token counts as dead and is renewed, which is safe.
pub fn later(base: Instant, d: Duration) -> Instant {
    let d = d.min(bounded_secs(MAX_LIFETIME_SECS));
    base.checked_add(d).unwrap_or(base)
}

/// "12.3s" for log lines.
pub fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "renewal_plan_tests.rs"]
mod renewal_plan_tests;
