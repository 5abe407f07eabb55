//! The control socket's wire format: one JSON object per line, each with a `type` (server
//! to client) or a `command` (client to server).
//!
//! Server to client: `hello` first, then a snapshot of the run (`run_started` with every
//! segment as it stands, `run_state`, `token`, `hold` while holding, `history`: the recent
//! outcomes and notices and the refresh log with their times, the run's rate and ETA;
//! `finished` when the run is over), then `live`, then every event as the engine sends it.
//!
//! The engine's token status holds monotonic `Instant`s, which mean nothing in another
//! process: on the wire each deadline is "seconds from now" as of the moment the line was
//! written (negative for the past), and the reader turns it back into an `Instant` against
//! its own clock, so the countdowns run unchanged (off by the transit time, milliseconds).
//! The token status carries no token, only its fingerprint; nothing here is secret.

use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::auth::status::{GrantKind, LifetimeSource, TokenPhase, TokenStatus};
use crate::engine::events::{
    Command, EngineEvent, Hold, PaceView, RunInfo, RunSummary, SegmentView,
};
use crate::engine::pace::PaceChange;
use crate::run::RunState;

/// Bumped when a change would confuse an older reader (2: the snapshot's `history`, token
/// log and hold lines).
pub const PROTOCOL: u32 = 2;

/// One line from the run to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// Always the first line.
    Hello {
        protocol: u32,
        pid: u32,
        run_id: String,
        /// The supsync version serving the run.
        version: String,
    },
    RunStarted {
        info: RunInfo,
    },
    Segment {
        segment: SegmentView,
    },
    Token {
        token: WireToken,
    },
    RunState {
        state: RunState,
    },
    Notice {
        text: String,
    },
    Pace {
        pace: PaceView,
    },
    Finished {
        summary: RunSummary,
    },
    /// A token event for the refresh log, with the time it happened.
    TokenLog {
        line: crate::auth::audit::AuditLine,
    },
    /// The run holds while the server is down, or (`null`) carries on.
    Hold {
        hold: Option<Hold>,
    },
    /// In the snapshot: the recent outcomes and the refresh log with their times, and the
    /// run's active time, rate and ETA.
    History {
        history: Box<crate::view::History>,
    },
    /// The snapshot is complete; what follows is live.
    Live,
    /// A line the client sent could not be used.
    Error {
        message: String,
    },
}

impl ServerMsg {
    /// The wire form of an engine event, deadlines taken relative to `now`.
    pub fn from_event(ev: &EngineEvent, now: Instant) -> ServerMsg {
        match ev {
            EngineEvent::RunStarted(info) => ServerMsg::RunStarted { info: info.clone() },
            EngineEvent::Segment(v) => ServerMsg::Segment { segment: v.clone() },
            EngineEvent::Token(t) => ServerMsg::Token {
                token: WireToken::from_status(t, now),
            },
            EngineEvent::RunState(s) => ServerMsg::RunState { state: *s },
            EngineEvent::Notice(n) => ServerMsg::Notice { text: n.clone() },
            EngineEvent::Pace(v) => ServerMsg::Pace { pace: v.clone() },
            EngineEvent::Holding(h) => ServerMsg::Hold { hold: h.clone() },
            EngineEvent::Finished(s) => ServerMsg::Finished { summary: s.clone() },
            EngineEvent::TokenLog(l) => ServerMsg::TokenLog { line: l.clone() },
        }
    }

    /// The engine event this line carries, deadlines placed against `now`; `None` for the
    /// lines that are about the connection (hello, live, error).
    pub fn into_event(self, now: Instant) -> Option<EngineEvent> {
        Some(match self {
            ServerMsg::RunStarted { info } => EngineEvent::RunStarted(info),
            ServerMsg::Segment { segment } => EngineEvent::Segment(segment),
            ServerMsg::Token { token } => EngineEvent::Token(token.into_status(now)),
            ServerMsg::RunState { state } => EngineEvent::RunState(state),
            ServerMsg::Notice { text } => EngineEvent::Notice(text),
            ServerMsg::Pace { pace } => EngineEvent::Pace(pace),
            ServerMsg::Finished { summary } => EngineEvent::Finished(summary),
            ServerMsg::TokenLog { line } => EngineEvent::TokenLog(line),
            ServerMsg::Hold { hold } => EngineEvent::Holding(hold),
            ServerMsg::Hello { .. }
            | ServerMsg::Live
            | ServerMsg::Error { .. }
            | ServerMsg::History { .. } => return None,
        })
    }

    /// One line, newline included. Serialising these plain types cannot fail; should it
    /// ever, the client gets an error line rather than a torn one.
    pub fn line(&self) -> String {
        let mut s = serde_json::to_string(self).unwrap_or_else(|e| {
            format!(r#"{{"type":"error","message":"cannot encode an event: {e}"}}"#)
        });
        s.push('\n');
        s
    }
}

/// One line from a client to the run: an operator command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum WireCommand {
    Pause,
    Resume,
    ForceRefresh,
    RetrySegment { segment: usize },
    RetryAllFailed,
    Pace { change: PaceChange },
    Stop,
}

impl From<&Command> for WireCommand {
    fn from(c: &Command) -> Self {
        match c {
            Command::Pause => WireCommand::Pause,
            Command::Resume => WireCommand::Resume,
            Command::ForceRefresh => WireCommand::ForceRefresh,
            Command::RetrySegment(i) => WireCommand::RetrySegment { segment: *i },
            Command::RetryAllFailed => WireCommand::RetryAllFailed,
            Command::Pace(change) => WireCommand::Pace { change: *change },
            Command::Stop => WireCommand::Stop,
        }
    }
}

impl From<WireCommand> for Command {
    fn from(c: WireCommand) -> Self {
        match c {
            WireCommand::Pause => Command::Pause,
            WireCommand::Resume => Command::Resume,
            WireCommand::ForceRefresh => Command::ForceRefresh,
            WireCommand::RetrySegment { segment } => Command::RetrySegment(segment),
            WireCommand::RetryAllFailed => Command::RetryAllFailed,
            WireCommand::Pace { change } => Command::Pace(change),
            WireCommand::Stop => Command::Stop,
        }
    }
}

/// The wire's own words for the token's phase and grant, so the auth types need no serde.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WirePhase {
    None,
    Valid,
    Refreshing,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireGrant {
    ClientCredentials,
    RefreshToken,
    SessionLogin,
    TokenLogin,
    ApiKey,
}

/// [`TokenStatus`] with every `Instant` as seconds from the moment it was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireToken {
    pub phase: WirePhase,
    pub fingerprint: Option<String>,
    pub grant: Option<WireGrant>,
    pub issued_in_secs: Option<f64>,
    pub issued_at_wall: Option<SystemTime>,
    pub lifetime: Option<Duration>,
    /// Where the lifetime came from (`expires_in`, a JWT's `exp`, the configured guess).
    #[serde(default)]
    pub lifetime_source: Option<LifetimeSource>,
    pub ttl_in_secs: Option<f64>,
    pub idle_in_secs: Option<f64>,
    pub idle_window: Option<Duration>,
    pub session_in_secs: Option<f64>,
    pub session_started_in_secs: Option<f64>,
    pub server_in_secs: Option<f64>,
    pub refresh_in_secs: Option<f64>,
    pub has_refresh_token: bool,
    pub next_refresh_in_secs: Option<f64>,
    pub margin: Duration,
    pub renewals: u32,
    pub sessions: u32,
    pub last_result: Option<String>,
    pub last_error: Option<String>,
    pub unauthorized_seen: u32,
    /// Expired answers by kind (401, 403, 200 with an error); absent from older peers.
    #[serde(default)]
    pub expired_seen: crate::auth::status::ExpiredCounts,
    #[serde(default)]
    pub refresh_window: Option<Duration>,
}

/// `at` as seconds after `now` (negative when it has passed).
fn secs_from(now: Instant, at: Option<Instant>) -> Option<f64> {
    at.map(|at| match at.checked_duration_since(now) {
        Some(ahead) => ahead.as_secs_f64(),
        None => -now.saturating_duration_since(at).as_secs_f64(),
    })
}

/// Back to an `Instant` on this side's clock. A value no clock can hold (NaN, or before
/// this machine booted) becomes `now`, which is what a countdown would show anyway.
fn instant_at(now: Instant, secs: Option<f64>) -> Option<Instant> {
    let secs = secs?;
    let off = Duration::try_from_secs_f64(secs.abs()).unwrap_or_default();
    Some(if secs >= 0.0 {
        now.checked_add(off).unwrap_or(now)
    } else {
        now.checked_sub(off).unwrap_or(now)
    })
}

impl WireToken {
    pub fn from_status(t: &TokenStatus, now: Instant) -> WireToken {
        WireToken {
            phase: match t.phase {
                TokenPhase::None => WirePhase::None,
                TokenPhase::Valid => WirePhase::Valid,
                TokenPhase::Refreshing => WirePhase::Refreshing,
                TokenPhase::Failed => WirePhase::Failed,
            },
            fingerprint: t.fingerprint.clone(),
            grant: t.grant.map(|g| match g {
                GrantKind::ClientCredentials => WireGrant::ClientCredentials,
                GrantKind::RefreshToken => WireGrant::RefreshToken,
                GrantKind::SessionLogin => WireGrant::SessionLogin,
                GrantKind::TokenLogin => WireGrant::TokenLogin,
                GrantKind::ApiKey => WireGrant::ApiKey,
            }),
            issued_in_secs: secs_from(now, t.issued_at),
            issued_at_wall: t.issued_at_wall,
            lifetime: t.lifetime,
            lifetime_source: t.lifetime_source,
            ttl_in_secs: secs_from(now, t.ttl_deadline),
            idle_in_secs: secs_from(now, t.idle_deadline),
            idle_window: t.idle_window,
            session_in_secs: secs_from(now, t.session_deadline),
            session_started_in_secs: secs_from(now, t.session_started_at),
            server_in_secs: secs_from(now, t.server_deadline),
            refresh_in_secs: secs_from(now, t.refresh_deadline),
            has_refresh_token: t.has_refresh_token,
            next_refresh_in_secs: secs_from(now, t.next_refresh_at),
            margin: t.margin,
            renewals: t.renewals,
            sessions: t.sessions,
            last_result: t.last_result.clone(),
            last_error: t.last_error.clone(),
            unauthorized_seen: t.unauthorized_seen,
            expired_seen: t.expired_seen,
            refresh_window: t.refresh_window,
        }
    }

    pub fn into_status(self, now: Instant) -> TokenStatus {
        TokenStatus {
            phase: match self.phase {
                WirePhase::None => TokenPhase::None,
                WirePhase::Valid => TokenPhase::Valid,
                WirePhase::Refreshing => TokenPhase::Refreshing,
                WirePhase::Failed => TokenPhase::Failed,
            },
            fingerprint: self.fingerprint,
            grant: self.grant.map(|g| match g {
                WireGrant::ClientCredentials => GrantKind::ClientCredentials,
                WireGrant::RefreshToken => GrantKind::RefreshToken,
                WireGrant::SessionLogin => GrantKind::SessionLogin,
                WireGrant::TokenLogin => GrantKind::TokenLogin,
                WireGrant::ApiKey => GrantKind::ApiKey,
            }),
            issued_at: instant_at(now, self.issued_in_secs),
            issued_at_wall: self.issued_at_wall,
            lifetime: self.lifetime,
            lifetime_source: self.lifetime_source,
            ttl_deadline: instant_at(now, self.ttl_in_secs),
            idle_deadline: instant_at(now, self.idle_in_secs),
            idle_window: self.idle_window,
            session_deadline: instant_at(now, self.session_in_secs),
            session_started_at: instant_at(now, self.session_started_in_secs),
            server_deadline: instant_at(now, self.server_in_secs),
            refresh_deadline: instant_at(now, self.refresh_in_secs),
            has_refresh_token: self.has_refresh_token,
            next_refresh_at: instant_at(now, self.next_refresh_in_secs),
            margin: self.margin,
            renewals: self.renewals,
            sessions: self.sessions,
            last_result: self.last_result,
            last_error: self.last_error,
            unauthorized_seen: self.unauthorized_seen,
            expired_seen: self.expired_seen,
            refresh_window: self.refresh_window,
        }
    }

    /// Seconds until the earliest known death of the token, at the moment it was written.
    pub fn expires_in_secs(&self) -> Option<f64> {
        [
            self.ttl_in_secs,
            self.idle_in_secs,
            self.session_in_secs,
            self.server_in_secs,
        ]
        .into_iter()
        .flatten()
        .min_by(f64::total_cmp)
    }
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
