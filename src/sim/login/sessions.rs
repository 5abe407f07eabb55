//! The login server's memory (docs/API.md §7): live sessions with their two clocks (a
//! sliding idle window and an absolute cap from the login), how each one ended, and per
//! user the failed-login count, the lock and the logins in flight.
//!
//! Every method takes `now`, so the clock arithmetic is unit-tested without sleeping.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::sim::jwt::random_b64;
use crate::sim::session_profile::SessionProfile;
use crate::sim::tokens::{long, short};

/// Why a login is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginRefused {
    /// Wrong user name or password. `locked_now`: this failure locked the user.
    Invalid { locked_now: bool },
    /// The user is locked for `left` more.
    Locked { left: Duration },
}

/// A successful login.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    pub id: String,
    /// Live sessions of the user ended by this login (`single_session`).
    pub ended_others: u64,
    /// Live sessions of the user now, this one included.
    pub live: u64,
}

/// A session id refused by the clocks: the description names what ended it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub description: String,
    /// The session was ended by a newer login of its user (a second holder still using it).
    pub by_newer_login: bool,
}

/// How a session ended before its clocks ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EndedBy {
    NewerLogin,
    LoggedOut,
    Revoked,
}

struct Live {
    user: String,
    started: Instant,
    last_used: Instant,
    ended: Option<(EndedBy, Instant)>,
}

#[derive(Default)]
struct User {
    failures: u32,
    locked_until: Option<Instant>,
    in_flight: u64,
}

/// What ends a session first.
enum SessionDeath {
    Idle,
    Cap,
    Ended(EndedBy),
}

pub struct SessionStore {
    idle: Option<Duration>,
    cap: Option<Duration>,
    cap_text: String,
    idle_text: String,
    single_session: bool,
    lockout_after: u32,
    lockout: Duration,
    live: HashMap<String, Live>,
    users: HashMap<String, User>,
    logins_since_prune: u32,
}

impl SessionStore {
    pub fn new(cfg: &SessionProfile) -> Self {
        let secs = |s: u64| (s > 0).then(|| Duration::from_secs(s));
        Self {
            idle: secs(cfg.idle_secs),
            cap: secs(cfg.cap_secs),
            cap_text: cfg.cap_text.clone(),
            idle_text: cfg.idle_text.clone(),
            single_session: cfg.single_session,
            lockout_after: cfg.lockout_after,
            lockout: Duration::from_secs(cfg.lockout_secs),
            live: HashMap::new(),
            users: HashMap::new(),
            logins_since_prune: 0,
        }
    }

    /// A login request of `user` arrives; returns how many of the user's logins are in
    /// flight now, this one included. Pair with [`SessionStore::login_done`].
    pub fn login_started(&mut self, user: &str) -> u64 {
        let u = self.users.entry(user.to_string()).or_default();
        u.in_flight += 1;
        u.in_flight
    }

    pub fn login_done(&mut self, user: &str) {
        if let Some(u) = self.users.get_mut(user) {
            u.in_flight = u.in_flight.saturating_sub(1);
        }
    }

    /// Checks a login. `expected` is the user's password, `None` for an unknown user
    /// (refused the same way, counted for nothing). A lock is checked before the password
    /// and is never extended by a login during it.
    pub fn login(
        &mut self,
        user: &str,
        expected: Option<&str>,
        password: &str,
        now: Instant,
    ) -> Result<LoggedIn, LoginRefused> {
        let Some(expected) = expected else {
            return Err(LoginRefused::Invalid { locked_now: false });
        };
        let u = self.users.entry(user.to_string()).or_default();
        if let Some(until) = u.locked_until {
            if now < until {
                return Err(LoginRefused::Locked { left: until - now });
            }
            // A lock that ran out starts the count afresh.
            u.locked_until = None;
            u.failures = 0;
        }
        if password != expected {
            u.failures += 1;
            let locked_now = self.lockout_after > 0 && u.failures >= self.lockout_after;
            if locked_now {
                u.locked_until = Some(now + self.lockout);
            }
            return Err(LoginRefused::Invalid { locked_now });
        }
        u.failures = 0;
        self.prune(now);
        let mut ended_others = 0;
        if self.single_session {
            let (idle, cap) = (self.idle, self.cap);
            for s in self.live.values_mut().filter(|s| s.user == user) {
                if alive(idle, cap, s, now) {
                    s.ended = Some((EndedBy::NewerLogin, now));
                    ended_others += 1;
                }
            }
        }
        let id = random_b64(32);
        self.live.insert(
            id.clone(),
            Live {
                user: user.to_string(),
                started: now,
                last_used: now,
                ended: None,
            },
        );
        let live = self
            .live
            .values()
            .filter(|s| s.user == user && alive(self.idle, self.cap, s, now))
            .count() as u64;
        Ok(LoggedIn {
            id,
            ended_others,
            live,
        })
    }

    /// Checks the clocks; a live session's idle window slides to `now + idle`. Returns the
    /// session's user.
    pub fn authenticate(&mut self, id: &str, now: Instant) -> Result<String, Refused> {
        let Some(s) = self.live.get(id) else {
            return Err(Refused {
                description: "Session is not known to this server".into(),
                by_newer_login: false,
            });
        };
        if let Some((death, _)) = death(self.idle, self.cap, s).filter(|(_, when)| *when <= now) {
            let description = match death {
                SessionDeath::Idle if !self.idle_text.is_empty() => self.idle_text.clone(),
                SessionDeath::Idle => format!(
                    "Session idle for {} (idle timeout {})",
                    long(now.saturating_duration_since(s.last_used)),
                    short(self.idle.unwrap_or_default())
                ),
                SessionDeath::Cap if !self.cap_text.is_empty() => self.cap_text.clone(),
                SessionDeath::Cap => format!(
                    "Session expired after {}",
                    long(self.cap.unwrap_or_default())
                ),
                SessionDeath::Ended(EndedBy::NewerLogin) => "Session ended by a newer login".into(),
                SessionDeath::Ended(EndedBy::LoggedOut) => "Session logged out".into(),
                SessionDeath::Ended(EndedBy::Revoked) => "Session revoked".into(),
            };
            return Err(Refused {
                description,
                by_newer_login: matches!(death, SessionDeath::Ended(EndedBy::NewerLogin)),
            });
        }
        let user = s.user.clone();
        if let Some(s) = self.live.get_mut(id) {
            s.last_used = now;
        }
        Ok(user)
    }

    /// Whole seconds the session has left as of `now`, idle and cap counted (floor);
    /// `None` when neither clock is on and nothing ended it.
    pub fn remaining_secs(&self, id: &str, now: Instant) -> Option<u64> {
        match self.live.get(id) {
            None => Some(0),
            Some(s) => death(self.idle, self.cap, s)
                .map(|(_, when)| when.saturating_duration_since(now).as_secs()),
        }
    }

    /// Ends the session now (a logout). Returns whether it was alive until now.
    pub fn logout(&mut self, id: &str, now: Instant) -> bool {
        let (idle, cap) = (self.idle, self.cap);
        match self.live.get_mut(id) {
            Some(s) if alive(idle, cap, s, now) => {
                s.ended = Some((EndedBy::LoggedOut, now));
                true
            }
            _ => false,
        }
    }

    /// Ends every live session now (`/_sim/revoke`). Returns how many.
    pub fn revoke_all(&mut self, now: Instant) -> usize {
        let (idle, cap) = (self.idle, self.cap);
        let mut n = 0;
        for s in self.live.values_mut() {
            if alive(idle, cap, s, now) {
                s.ended = Some((EndedBy::Revoked, now));
                n += 1;
            }
        }
        n
    }

    /// Forgets sessions dead for over a day, so a simulator left running for days does not
    /// grow without bound. Runs every few thousand logins.
    fn prune(&mut self, now: Instant) {
        self.logins_since_prune += 1;
        if self.logins_since_prune < 4096 {
            return;
        }
        self.logins_since_prune = 0;
        let day = Duration::from_secs(86_400);
        let dead: Vec<String> = self
            .live
            .iter()
            .filter(|(_, s)| {
                death(self.idle, self.cap, s).is_some_and(|(_, when)| when + day < now)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in dead {
            self.live.remove(&id);
        }
    }
}

/// What ends the session first, and when; on a tie the order idle, cap, ended. `None`:
/// neither clock is on and nothing ended it.
fn death(
    idle: Option<Duration>,
    cap: Option<Duration>,
    s: &Live,
) -> Option<(SessionDeath, Instant)> {
    let mut candidates = Vec::with_capacity(3);
    if let Some(idle) = idle {
        candidates.push((SessionDeath::Idle, s.last_used + idle));
    }
    if let Some(cap) = cap {
        candidates.push((SessionDeath::Cap, s.started + cap));
    }
    if let Some((how, when)) = s.ended {
        candidates.push((SessionDeath::Ended(how), when));
    }
    candidates.into_iter().min_by_key(|(_, when)| *when)
}

fn alive(idle: Option<Duration>, cap: Option<Duration>, s: &Live, now: Instant) -> bool {
    death(idle, cap, s).is_none_or(|(_, when)| when > now)
}

#[cfg(test)]
#[path = "sessions_tests.rs"]
mod tests;
