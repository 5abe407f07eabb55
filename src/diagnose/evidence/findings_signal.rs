//! What the probes measured about how the server says "this token is dead" (its expiry
//! signal, docs/API.md §2.5) and when its token endpoint accepts a refresh (its refresh
//! window, §1.3). Plain data like the rest of the findings: fingerprints, pointers and
//! short codes, never a token or a whole body.

use serde::Serialize;

use super::findings_call::CallFinding;

/// How the token of [`SignalFinding`] came to be dead.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeadHow {
    /// Refused in a probe after earlier calls with it had been answered (`which` probe).
    RefusedInUse { which: String },
    /// Left unused until its `expires_in` had passed.
    Expired { ttl_secs: u64 },
    /// A token this server never issued (no token died within the probe's wait).
    NeverIssued,
}

/// The answer to a dead token: the server's expiry signal.
#[derive(Debug, Clone, Serialize)]
pub struct SignalFinding {
    pub how: DeadHow,
    /// Fingerprint of the dead token (a made-up token has one too: it is no secret).
    pub token: String,
    pub call: CallFinding,
    /// For a never-issued token: the seconds the shortest-lived real token still had when
    /// the probes ended (what `--wait-secs` would have to cover to watch one die).
    pub shortest_left_secs: Option<u64>,
}

/// One refresh asked for while probing the refresh window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowTry {
    /// Seconds the access token had left by its `expires_in` when the refresh was sent.
    pub left_secs: f64,
    pub outcome: TryOutcome,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TryOutcome {
    Accepted,
    /// Refused as too early; `within_secs`: the window the refusal named, if it did.
    TooEarly {
        within_secs: Option<u64>,
    },
    /// Refused for another reason, or no answer: probing stops.
    Failed {
        error: String,
    },
}

/// A refresh refused as too early, and what asking again later showed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RefreshWindowFinding {
    /// The server's words when it first refused.
    pub said: String,
    /// Every refresh asked for, the refused one first.
    pub tries: Vec<WindowTry>,
}

impl RefreshWindowFinding {
    /// The window the server named ("within N s"), from its first refusal that named one.
    pub fn stated_secs(&self) -> Option<u64> {
        self.tries.iter().find_map(|t| match t.outcome {
            TryOutcome::TooEarly { within_secs } => within_secs,
            _ => None,
        })
    }

    /// The most time left at which a refresh was accepted: the window is at least this.
    pub fn accepted_left_secs(&self) -> Option<f64> {
        self.tries
            .iter()
            .filter(|t| t.outcome == TryOutcome::Accepted)
            .map(|t| t.left_secs)
            .reduce(f64::max)
    }

    /// The least time left at which a refresh was refused as too early: the window is
    /// shorter than this.
    pub fn too_early_left_secs(&self) -> Option<f64> {
        self.tries
            .iter()
            .filter(|t| matches!(t.outcome, TryOutcome::TooEarly { .. }))
            .map(|t| t.left_secs)
            .reduce(f64::min)
    }
}
