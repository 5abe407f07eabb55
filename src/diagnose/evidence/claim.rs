//! The claims evidence is made of: each measurement as one claim with its source and an
//! id (`F1`, `F2`…) that the verdict cites.

use serde::Serialize;

use super::findings::{CallFinding, ErrorAt, Findings, LoginFailure};
use super::said::{DeadBy, read_401};
pub use crate::diagnose::verdict::SignalKind;

/// Where a finding comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The token answer's `expires_in`.
    ExpiresIn,
    /// The JWT's `exp − iat` (decoded without verification).
    JwtClaims,
    /// The JWT's `exp` against the server's `Date`, and `Date` against the local clock.
    ServerDate,
    /// `X-Token-Expires-In` over successive calls.
    ExpiryHeader,
    /// `refresh_expires_in` across a refresh.
    RefreshExpiresIn,
    /// Granted vs requested `scope`, and TTLs per scope set.
    Scope,
    /// A 401/403 of the API, in the server's words.
    ApiRefusal,
    /// The outcome of one refresh grant.
    Refresh,
    /// The outcome of a second client-credentials grant.
    Regrant,
    /// The first API call with a fresh token.
    FirstApiCall,
    /// A pooled connection left idle.
    Connection,
    /// The token endpoint's answer to the configured client authentication.
    ClientAuth,
    /// The token endpoint's refusal of the first grant.
    TokenEndpoint,
    /// What the probe could not see in its time.
    ProbeLimit,
    /// The first page read with the API mapping.
    ApiMapping,
    /// The API's answer to a dead token.
    ExpirySignal,
    /// Refreshes refused as too early, and asked for again later.
    RefreshWindow,
    /// The session login (`auth.kind = "session"`): how the session was had.
    SessionLogin,
    /// The token cache's session entry.
    TokenCache,
    /// The login budget file and the server's lockout.
    LoginBudget,
    /// A second login, and the first session's next call.
    SecondLogin,
    /// The logouts of the sessions diagnose made.
    Logout,
}

impl Source {
    /// The name `--json` uses, for the text report too.
    pub fn label(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

/// What one finding says, in terms the verdict reasons with. Seconds are from a token's
/// issue (or its session's start).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Claim {
    /// A token for the configured scopes lives `secs`.
    Ttl {
        secs: u64,
    },
    /// The answer stated no lifetime: supsync plans with `auth.expected_ttl_secs`.
    NoLifetimeStated,
    /// The token ends by `secs` counting every clock (first API call's header).
    EndsBy {
        secs: u64,
    },
    /// A token asked for with `scope` (`None`: no `scope` parameter) lives `secs`;
    /// `granted` is what the server said it granted.
    ScopeTtl {
        scope: Option<String>,
        secs: u64,
        granted: Option<Vec<String>>,
    },
    /// Requested but not granted.
    ScopesNotGranted {
        scopes: Vec<String>,
    },
    /// A sliding idle window of `secs`.
    IdleWindow {
        secs: u64,
    },
    /// An unused credential died after `died_secs` without the server naming its window,
    /// while quiet times of `survived_secs` were survived (0: none measured): an idle
    /// window between the two, at most `died_secs`.
    IdleAtMost {
        survived_secs: u64,
        died_secs: u64,
    },
    /// An unused token survived `secs`: an idle window, if any, is longer.
    IdleLongerThan {
        secs: u64,
    },
    /// The header tracked the TTL: no idle window or session end before `secs`.
    NothingShorterThan {
        secs: u64,
    },
    /// A session's absolute end, `secs` after its client-credentials grant.
    SessionEnd {
        secs: u64,
    },
    /// The refresh token itself expires `secs` after it is issued.
    RefreshTokenExpiry {
        secs: u64,
    },
    RefreshToken {
        issued: bool,
        offline_access_requested: bool,
        /// A grant with `offline_access` added brought one (`None`: not tried).
        with_offline_access: Option<bool>,
    },
    Refresh {
        ok: bool,
        rotated: Option<bool>,
        error: Option<String>,
    },
    NewSession {
        ok: bool,
        error: Option<String>,
    },
    /// The server revoked a token in use (after `after_uses` calls, when counted).
    Revoked {
        after_uses: Option<u64>,
    },
    /// `uses` calls in a row on one token were all answered.
    NoRevocationWithin {
        uses: u64,
    },
    /// Server clock minus local clock.
    ClockSkew {
        secs: i64,
    },
    /// No `X-Token-Expires-In` on API answers.
    NoExpiryHeader,
    /// The first API call: `ok` when answered 2xx.
    FirstApiCall {
        ok: bool,
        status: Option<u16>,
        location: Option<String>,
        error: Option<String>,
    },
    /// A fresh token refused for a reason no clock explains.
    FreshTokenRefused {
        description: String,
    },
    /// Idle connections were cut after about `idle_secs` (not the token).
    ConnectionCut {
        idle_secs: u64,
    },
    /// A connection dropped once, not repeatably.
    ConnectionDrop,
    /// The configured client authentication was refused; `accepted` when another worked.
    ClientAuthMismatch {
        configured: String,
        refused_with: String,
        accepted: Option<String>,
    },
    /// The first page read with the API mapping; `key` is the `[api]` key that does not
    /// fit, when the misfit names one.
    MappingRead {
        ok: bool,
        records: usize,
        key: Option<String>,
        error: Option<String>,
    },
    /// How the API answers a dead token; see `evidence_signal.rs`.
    ExpirySignal(Signal),
    /// The token endpoint accepts a refresh only close to expiry; see `evidence_signal.rs`.
    RefreshWindow(Window),
    /// A session was had: `logins` login requests by diagnose that worked, or a live one
    /// from the token cache (`borrowed`).
    SessionLogin {
        logins: u32,
        borrowed: bool,
    },
    /// The token cache held a session the API refused; `cleared` when it was forgotten.
    DeadCachedSession {
        cleared: bool,
    },
    /// No session with the configuration as it is.
    LoginFailed {
        reason: LoginFailure,
        http_status: Option<u16>,
        message: String,
    },
    /// The login budget: refused logins in a row counted for this password, of `max`;
    /// the failed logins that lock the account when a 423 named them; `locked` when one
    /// was seen.
    LoginBudget {
        refused: u32,
        max: u32,
        lockout_after: Option<u32>,
        locked: bool,
    },
    /// A second login ended the first session (`single`), or left it alive.
    SingleSession {
        single: bool,
    },
    /// Whether a second login ends the first was not tested, and why.
    SingleSessionUntested {
        why: String,
    },
    /// A session kept alive with calls lived past `secs` after its login: a cap, if any,
    /// is later.
    NoCapWithin {
        secs: u64,
    },
    /// Something else ended a session during the probes (a newer login of another
    /// process, a logout, a revocation), in the server's words.
    SessionEnded {
        description: String,
    },
    /// The logouts of the sessions diagnose made.
    Logout {
        configured: bool,
        made: u32,
        ended: u32,
        failed: u32,
    },
    /// No token at all.
    TokenRefused {
        code: Option<String>,
        description: Option<String>,
        http_status: Option<u16>,
        message: String,
    },
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub id: String,
    pub source: Source,
    /// The measurement in words (the server's own words quoted where it gave any).
    pub says: String,
    pub claim: Claim,
}

/// Numbers the findings as they are added.
#[derive(Default)]
pub(crate) struct Collector(pub(crate) Vec<Evidence>);

impl Collector {
    pub(crate) fn add(&mut self, source: Source, says: impl Into<String>, claim: Claim) {
        let id = format!("F{}", self.0.len() + 1);
        self.0.push(Evidence {
            id,
            source,
            says: says.into(),
            claim,
        });
    }
}

/// What the credential is: "token", or "session" for a session login.
pub(crate) fn noun(f: &Findings) -> &'static str {
    if f.session.is_some() {
        "session"
    } else {
        "token"
    }
}

/// What a refusal on `call` (a 401, a 403, a 200 carrying an error) says, as `(words,
/// clock)`.
pub(crate) fn refusal(call: &CallFinding) -> Option<(String, DeadBy)> {
    if !call.is_refusal() {
        return None;
    }
    let desc = call.error.clone().unwrap_or_default();
    let mut words = format!("HTTP {}", call.status.unwrap_or_default());
    match (&call.error_code, &call.error_at) {
        (Some(code), _) => words.push_str(&format!(" {code}")),
        (None, Some(at)) => words.push_str(&format!(" with an error in its body ({})", shown(at))),
        (None, None) => {}
    }
    if !desc.is_empty() {
        words.push_str(&format!(" \"{desc}\""));
    }
    if let Some(w) = &call.www_authenticate {
        words.push_str(&format!(", WWW-Authenticate: {w}"));
    }
    Some((words, read_401(&desc)))
}

/// How the token of a [`Signal`] was dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Death {
    /// Refused after earlier calls with it were answered.
    RefusedInUse,
    /// Left unused past its lifetime.
    Expired,
    /// Never issued by this server: a stand-in when no token died in the probe's time.
    NeverIssued,
}

/// How the API answers a dead token.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signal {
    pub how: Death,
    pub form: SignalKind,
    pub status: Option<u16>,
    /// Where the body names the error, and the code there.
    pub error_at: Option<ErrorAt>,
    /// The configured `auth.expired_when` rule that matches the answer.
    pub matched_rule: Option<String>,
    /// A rule made from the answer and checked to match it.
    pub rule: Option<String>,
    /// For a never-issued token: the seconds the shortest-lived real token had left.
    pub shortest_left_secs: Option<u64>,
}

/// When the token endpoint accepts a refresh: only within `secs` of the access token's
/// expiry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    /// The window the server named ("within N s").
    pub stated_secs: Option<u64>,
    /// The least time left at which a refresh was refused as too early.
    pub too_early_left_secs: Option<f64>,
    /// The time left at which a refresh was accepted.
    pub accepted_left_secs: Option<f64>,
    /// The window this finding stands for: the one named, unless a refusal came well
    /// inside it; else at least the whole seconds left at the accepted refresh. `None`
    /// when neither tells it.
    pub secs: Option<u64>,
}

/// The error a body names, as JSON: `{"error":{"code":"TOKEN_EXPIRED"}}`.
pub fn shown(at: &ErrorAt) -> String {
    let mut v = at
        .value
        .clone()
        .unwrap_or_else(|| serde_json::Value::String("…".into()));
    for seg in at.pointer.rsplit('/').filter(|s| !s.is_empty()) {
        v = match seg.parse::<usize>() {
            Ok(_) => serde_json::Value::Array(vec![v]),
            Err(_) => serde_json::json!({ seg: v }),
        };
    }
    v.to_string()
}
