//! What an operator is told about a run: the alert kinds, the JSON payload the hook command
//! and the webhook receive, and the [`Tracker`] that derives alerts from engine events.
//!
//! A payload is built only from fields that never hold a secret (token fingerprints, never
//! tokens), and every free text in it passes the [`SecretMasker`] as a second line of defence.

use std::time::SystemTime;

use serde::Serialize;

use crate::auth::status::{GrantKind, TokenStatus};
use crate::engine::events::{
    Counts, Direction, EngineEvent, RunState, RunSummary, SegmentState, SegmentView,
};
use crate::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    RunStarted,
    RunSucceeded,
    RunFinishedWithRejects,
    SegmentsFailed,
    TokenRenewalFailed,
    /// A renewal succeeded after a `TokenRenewalFailed` episode: the page can be closed.
    TokenRenewalRecovered,
    /// The authorization server refused us for good: someone must fix the credentials.
    AuthFailed,
    RunInterrupted,
    RunFailed,
    /// A long-lived credential (client secret, client certificate) expires within 14 days.
    CredentialExpiring,
}

/// Which dead-man's-switch ping an alert means, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ping {
    Start,
    Success,
    Fail,
}

impl AlertKind {
    pub const ALL: [AlertKind; 10] = [
        AlertKind::RunStarted,
        AlertKind::RunSucceeded,
        AlertKind::RunFinishedWithRejects,
        AlertKind::SegmentsFailed,
        AlertKind::TokenRenewalFailed,
        AlertKind::TokenRenewalRecovered,
        AlertKind::AuthFailed,
        AlertKind::RunInterrupted,
        AlertKind::RunFailed,
        AlertKind::CredentialExpiring,
    ];

    /// The name in payloads, `SUPSYNC_EVENT` and `notify.events`.
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::RunStarted => "run_started",
            AlertKind::RunSucceeded => "run_succeeded",
            AlertKind::RunFinishedWithRejects => "run_finished_with_rejects",
            AlertKind::SegmentsFailed => "segments_failed",
            AlertKind::TokenRenewalFailed => "token_renewal_failed",
            AlertKind::TokenRenewalRecovered => "token_renewal_recovered",
            AlertKind::AuthFailed => "auth_failed",
            AlertKind::RunInterrupted => "run_interrupted",
            AlertKind::RunFailed => "run_failed",
            AlertKind::CredentialExpiring => "credential_expiring",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Rejected records are the data's problem, not the job's: the run did its work, so
    /// the switch hears "success". Everything that leaves work undone is "fail".
    pub fn ping(self) -> Option<Ping> {
        match self {
            AlertKind::RunStarted => Some(Ping::Start),
            AlertKind::RunSucceeded | AlertKind::RunFinishedWithRejects => Some(Ping::Success),
            AlertKind::SegmentsFailed
            | AlertKind::AuthFailed
            | AlertKind::RunInterrupted
            | AlertKind::RunFailed => Some(Ping::Fail),
            AlertKind::TokenRenewalFailed
            | AlertKind::TokenRenewalRecovered
            | AlertKind::CredentialExpiring => None,
        }
    }

    /// The alert a finished run raises (the same order of precedence as its exit code).
    pub fn for_summary(s: &RunSummary) -> Self {
        match s.state {
            RunState::Failed if s.auth_failure => AlertKind::AuthFailed,
            RunState::Failed | RunState::Planning | RunState::Running => AlertKind::RunFailed,
            RunState::Interrupted | RunState::Stopping | RunState::Paused => {
                AlertKind::RunInterrupted
            }
            RunState::CompletedWithFailures => AlertKind::SegmentsFailed,
            RunState::Completed if s.segments_failed > 0 => AlertKind::SegmentsFailed,
            RunState::Completed if s.counts.rejected > 0 => AlertKind::RunFinishedWithRejects,
            RunState::Completed => AlertKind::RunSucceeded,
        }
    }
}

impl Alert {
    /// The dead-man's-switch ping this alert sends: the run's outcome pings, a failed
    /// segment reported while the run goes on does not (the run may still recover it).
    pub fn ping(&self) -> Option<Ping> {
        let midway = self.event == AlertKind::SegmentsFailed && self.outcome.is_none();
        self.event.ping().filter(|_| !midway)
    }
}

/// One event as the hook command (stdin, one line) and the webhook (POST body) get it.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    /// Payload layout version; bumped only for incompatible changes.
    pub version: u32,
    pub event: AlertKind,
    /// RFC 3339, UTC.
    pub at: String,
    pub run_id: Option<String>,
    pub direction: Option<Direction>,
    /// Host (and port) of the API the run talks to.
    pub destination_host: String,
    /// One line for a human.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<OutcomeInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<CredentialInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutcomeInfo {
    pub state: RunState,
    pub exit_code: i32,
    pub counts: Counts,
    pub segments_total: usize,
    pub segments_done: usize,
    pub segments_failed: usize,
    pub token_renewals: u32,
    pub duration_secs: f64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    /// Fingerprint of the current access token (never the token).
    pub fingerprint: Option<String>,
    pub grant: Option<GrantKind>,
    pub renewals: u32,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CredentialInfo {
    /// `client_secret` or `client_certificate`.
    pub kind: String,
    /// RFC 3339, UTC.
    pub expires_at: String,
    pub days_left: i64,
}

/// Replaces known secrets in free text with their fingerprint. Messages come from our own
/// errors, which never carry a secret; this catches the day one does.
#[derive(Debug, Clone, Default)]
pub struct SecretMasker {
    secrets: Vec<Secret>,
}

impl SecretMasker {
    pub fn new(secrets: Vec<Secret>) -> Self {
        // A very short "secret" would shred ordinary words; such a secret is refused by
        // any real authorization server anyway.
        let secrets = secrets
            .into_iter()
            .filter(|s| s.expose().len() >= 4)
            .collect();
        Self { secrets }
    }

    pub fn clean(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.expose()) {
                out = out.replace(s.expose(), &format!("<secret {}>", s.fingerprint()));
            }
        }
        out
    }
}

/// Folds engine events into alerts: one `run_started`, one alert per token-renewal failure
/// episode (an outage is one alert, not one per retry) and a recovery alert when a renewal
/// succeeds again, `segments_failed` at the first failed segment of an episode (re-armed
/// once every failed segment was retried successfully), and the outcome alert at the end.
#[derive(Debug)]
pub struct Tracker {
    run_id: Option<String>,
    direction: Option<Direction>,
    destination_host: String,
    redact: SecretMasker,
    started: bool,
    renewal_failing: bool,
    /// Segments failed now (a retry that succeeds takes one out).
    failed: std::collections::BTreeSet<usize>,
}

impl Tracker {
    pub fn new(destination_host: String, redact: SecretMasker) -> Self {
        Self {
            run_id: None,
            direction: None,
            destination_host,
            redact,
            started: false,
            renewal_failing: false,
            failed: std::collections::BTreeSet::new(),
        }
    }

    pub fn on_event(&mut self, ev: &EngineEvent, now: SystemTime) -> Option<Alert> {
        match ev {
            EngineEvent::RunStarted(info) => {
                self.run_id = Some(info.run_id.clone());
                self.direction = Some(info.direction);
                if std::mem::replace(&mut self.started, true) {
                    return None;
                }
                let msg = format!(
                    "{} run {} started: {} records in {} segments, {} → {}",
                    info.direction,
                    info.run_id,
                    info.total_records,
                    info.segments.len(),
                    info.source,
                    info.target
                );
                Some(self.alert(AlertKind::RunStarted, msg, now))
            }
            EngineEvent::Token(t) => self.on_token(t, now),
            EngineEvent::Finished(s) => Some(self.on_finished(s, now)),
            EngineEvent::Segment(v) => self.on_segment(v, now),
            EngineEvent::RunState(_)
            | EngineEvent::Notice(_)
            | EngineEvent::Holding(_)
            | EngineEvent::Pace(_)
            | EngineEvent::TokenLog(_) => None,
        }
    }

    /// The first failed segment of an episode, while the run goes on.
    fn on_segment(&mut self, v: &SegmentView, now: SystemTime) -> Option<Alert> {
        if v.state != SegmentState::Failed {
            self.failed.remove(&v.index);
            return None;
        }
        let first = self.failed.is_empty();
        self.failed.insert(v.index);
        if !first {
            return None;
        }
        let msg = format!(
            "segment {} failed after {} attempt(s): {}; the run goes on, and the segment can \
             be retried (`r` in the console, `supsync retry`)",
            v.index,
            v.attempts,
            v.last_error.as_deref().unwrap_or("unknown error")
        );
        Some(self.alert(AlertKind::SegmentsFailed, msg, now))
    }

    fn on_token(&mut self, t: &TokenStatus, now: SystemTime) -> Option<Alert> {
        let Some(err) = &t.last_error else {
            // A renewal went through: the end of a failure episode is news too.
            if !std::mem::replace(&mut self.renewal_failing, false) {
                return None;
            }
            let mut a = self.alert(
                AlertKind::TokenRenewalRecovered,
                format!(
                    "token renewal works again ({} renewal(s) so far)",
                    t.renewals
                ),
                now,
            );
            a.token = Some(TokenInfo {
                fingerprint: t.fingerprint.clone(),
                grant: t.grant,
                renewals: t.renewals,
                error: None,
            });
            return Some(a);
        };
        if std::mem::replace(&mut self.renewal_failing, true) {
            return None;
        }
        let usable =
            if t.fingerprint.is_some() && t.phase != crate::auth::status::TokenPhase::Failed {
                "the current token is still usable; supsync keeps retrying"
            } else {
                "no usable token; requests wait while supsync keeps retrying"
            };
        let mut a = self.alert(
            AlertKind::TokenRenewalFailed,
            format!("token renewal failed: {err}; {usable}"),
            now,
        );
        a.token = Some(TokenInfo {
            fingerprint: t.fingerprint.clone(),
            grant: t.grant,
            renewals: t.renewals,
            error: Some(self.redact.clean(err)),
        });
        Some(a)
    }

    fn on_finished(&mut self, s: &RunSummary, now: SystemTime) -> Alert {
        if !s.run_id.is_empty() {
            self.run_id = Some(s.run_id.clone());
        }
        self.direction = Some(s.direction);
        let kind = AlertKind::for_summary(s);
        let c = &s.counts;
        let mut msg = format!(
            "run {} {}: {} created, {} updated, {} unchanged, {} applied, {} rejected, \
             {} pulled; {}/{} segments done, {} failed",
            s.run_id,
            kind.name().trim_start_matches("run_").replace('_', " "),
            c.created,
            c.updated,
            c.unchanged,
            c.applied,
            c.rejected,
            c.pulled,
            s.segments_done,
            s.segments_total,
            s.segments_failed
        );
        if let Some(e) = &s.error {
            msg.push_str(&format!("; {e}"));
        }
        let mut a = self.alert(kind, msg, now);
        a.outcome = Some(OutcomeInfo {
            state: s.state,
            exit_code: s.exit_code(),
            counts: s.counts,
            segments_total: s.segments_total,
            segments_done: s.segments_done,
            segments_failed: s.segments_failed,
            token_renewals: s.token_renewals,
            duration_secs: s.duration.as_secs_f64(),
            error: s.error.as_deref().map(|e| self.redact.clean(e)),
        });
        a
    }

    /// A long-lived credential nearing its end (`kind`: `client_secret`, `client_certificate`).
    pub fn credential_expiring(&self, kind: &str, expires: SystemTime, now: SystemTime) -> Alert {
        let left = expires
            .duration_since(now)
            .map_or(0, |d| (d.as_secs() / 86_400) as i64);
        let at = rfc3339(expires);
        let msg = if expires <= now {
            format!("the {} expired at {at}; replace it", kind.replace('_', " "))
        } else {
            format!(
                "the {} expires at {at} ({left} days left); replace it before then",
                kind.replace('_', " ")
            )
        };
        let mut a = self.alert(AlertKind::CredentialExpiring, msg, now);
        a.credential = Some(CredentialInfo {
            kind: kind.to_string(),
            expires_at: at,
            days_left: left,
        });
        a
    }

    fn alert(&self, event: AlertKind, message: String, now: SystemTime) -> Alert {
        Alert {
            version: 1,
            event,
            at: rfc3339(now),
            run_id: self.run_id.clone(),
            direction: self.direction,
            destination_host: self.destination_host.clone(),
            message: self.redact.clean(&message),
            outcome: None,
            token: None,
            credential: None,
        }
    }
}

pub(crate) fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
#[path = "alerts_tests.rs"]
mod tests;
