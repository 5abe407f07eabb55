//! The verdict's types, at the bottom of diagnose: every clock that ends a token within a
//! sync of the configured length, whether supsync handles it or it kills the sync, what to
//! change and whom to ask. Plain data; `judge` fills it from the evidence, `report` words it.
//! Imports no other part of diagnose.

use serde::Serialize;

mod signal;

pub use signal::{SignalKind, SignalVerdict};

/// The configuration the findings are judged against.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Context {
    pub sync_secs: u64,
    pub expected_ttl_secs: u64,
    pub keepalive_secs: u64,
    pub refresh_margin_secs: u64,
    pub idle_hint_secs: u64,
    pub requested_scopes: Vec<String>,
    pub client_id: String,
    pub token_url: String,
    pub health_url: String,
    pub auth_method: String,
    pub probe_secs: u64,
    pub probe_calls: u64,
    /// `auth.expired_when` as written.
    pub expired_when: Vec<String>,
    /// `auth.refresh_window_secs` (0 = not set).
    pub refresh_window_secs: u64,
    /// `--wait-secs`.
    pub wait_secs: u64,
    /// The shortest lifetime that can carry one request: a second of whole-second
    /// rounding plus a token request and an API call.
    pub min_workable_secs: f64,
    /// `auth.kind = "session"`: the credential is a session id from a login.
    pub session: bool,
    /// `auth.session_limit_secs` (0 = not set).
    pub session_limit_hint_secs: u64,
    /// `auth.max_failed_logins`.
    pub max_failed_logins: u32,
}

impl Context {
    /// What the credential is: "token", or "session" for a session login.
    pub fn noun(&self) -> &'static str {
        if self.session { "session" } else { "token" }
    }

    /// What supsync does on a dead one: renew the token, or log in again.
    pub fn renews(&self) -> &'static str {
        if self.session {
            "logs in again"
        } else {
            "renews the token"
        }
    }
}

/// What ends a token, a session or the sync itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    /// The configured client authentication is refused.
    ClientAuth,
    /// No token at all.
    TokenEndpoint,
    /// The first API call did not answer 2xx.
    FirstApiCall,
    /// The first page read with the API mapping does not fit it.
    ApiMapping,
    /// Tokens revoked while in use.
    Revocation,
    Ttl,
    Idle,
    Session,
    RefreshExpiry,
    /// Something between here and the server cuts idle connections.
    ConnectionCut,
    /// No session: the login is refused, its budget spent, the account locked.
    SessionLogin,
    /// A dead token or session is answered in a form supsync does not take for dead (a
    /// 403 or a 200 carrying an error, and no `auth.expired_when` rule matches): the call
    /// fails instead of renewing.
    ExpirySignal,
}

/// Whom to ask for a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Who {
    /// A setting on the authorization or API server.
    ServerAdmin,
    /// The client's registration on the authorization server.
    ClientRegistration,
    /// A supsync configuration key.
    SupsyncConfig,
    /// Whoever runs the proxy, load balancer or firewall in between.
    Network,
}

impl std::fmt::Display for Who {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Who::ServerAdmin => "server admin",
            Who::ClientRegistration => "client registration",
            Who::SupsyncConfig => "supsync config",
            Who::Network => "network",
        })
    }
}

/// One change, and whom to ask for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fix {
    pub who: Who,
    pub change: String,
}

/// One clock within the sync.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Clock {
    pub kind: ClockKind,
    /// Seconds after a token's issue (or a session's start); `None` for what is not timed.
    pub secs: Option<u64>,
    pub what: String,
    /// It kills the configured sync: supsync cannot work around it as configured.
    pub kills: bool,
    /// How supsync handles it, when it does.
    pub handled: Option<String>,
    pub fix: Option<Fix>,
    pub cites: Vec<String>,
}

/// A sentence of the verdict and the findings it rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub text: String,
    pub cites: Vec<String>,
}

impl Line {
    pub fn new(text: impl Into<String>, cites: Vec<String>) -> Line {
        Line {
            text: text.into(),
            cites,
        }
    }
}

/// Findings that disagree, and which of them the verdict trusts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    pub text: String,
    pub findings: Vec<String>,
    pub trusted: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Conclusion {
    /// Every clock within the sync is handled (exit 0).
    Sustainable,
    /// A clock kills the sync as configured (exit 3).
    CannotSustain,
    /// The token works but the API did not answer the first call properly (exit 3).
    ApiNotVerified,
    /// No token with the configuration as it is (exit 4).
    NoToken,
}

/// How supsync renews here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RenewalPath {
    RefreshToken,
    ClientCredentials,
    /// A new session login.
    SessionLogin,
    None,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub exit_code: i32,
    pub outcome: Conclusion,
    pub summary: Line,
    /// The clock that kills the sync first, else the first clock within it.
    pub killer: Option<ClockKind>,
    /// Clocks within the sync: untimed blockers first, then shortest first.
    pub clocks: Vec<Clock>,
    /// What to change, the changes that make the sync work first.
    pub changes: Vec<Line>,
    /// Other facts the verdict rests on.
    pub reasons: Vec<Line>,
    /// What the probe could not see, and what would measure it.
    pub unknowns: Vec<Line>,
    pub conflicts: Vec<Conflict>,
    /// The self-check found the verdict contradicting its findings (named among the
    /// conflicts as "verdict check: …"): the exit code is then never 0.
    pub self_check_failed: bool,
    pub renewal: RenewalPath,
    /// The TTL the verdict trusts.
    pub token_lifetime_secs: Option<u64>,
    pub shortening_scope: Option<String>,
    pub default_ttl_secs: Option<u64>,
    pub idle_window_secs: Option<u64>,
    pub session_secs: Option<u64>,
    /// How the API answers a dead token, and whether supsync renews on it as configured.
    pub expiry_signal: Option<SignalVerdict>,
    /// The server's refresh window: a refresh is accepted only this close to expiry.
    pub refresh_window_secs: Option<u64>,
    /// A session login: whether a second login ended the first (`None`: not tested).
    pub single_session: Option<bool>,
    /// A session login: the failed logins in a row that lock the account, when a 423
    /// named them.
    pub lockout_after: Option<u32>,
}

/// The verdict on a token login (`auth.kind = "token_login"`): the clock that ends its
/// access tokens and how supsync renews ahead of it, the refresh, what to change, and the
/// outcome with its exit code. `judge::token_login` fills it.
#[derive(Debug, Clone, Serialize)]
pub struct TokenLoginVerdict {
    pub outcome: Conclusion,
    pub exit_code: i32,
    pub summary: String,
    /// The access token's lifetime the verdict trusts, and where it comes from.
    pub lifetime_secs: Option<f64>,
    pub lifetime_from: Option<String>,
    /// The age at which the API first refused a token (the clock that ends it).
    pub died_at_secs: Option<f64>,
    /// Renewals refresh (`true`) or log in again (`false`).
    pub refreshes: bool,
    pub rotates: Option<bool>,
    /// Facts the verdict rests on, in the order a reader checks them.
    pub facts: Vec<String>,
    /// What to change, the change that makes the sync work first.
    pub changes: Vec<Fix>,
}
