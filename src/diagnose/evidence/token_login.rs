//! What the token-login probe measured (`auth.kind = "token_login"`), plain data: the one
//! login, the lifetimes the answer and the JWT state, the first call, the token watched
//! until the API refused it, the refresh and whether it rotates, and the logout. Tokens
//! appear only as fingerprints.

use serde::Serialize;

use super::findings::CallFinding;

/// The configuration the findings are judged against, as written.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TokenLoginSetup {
    pub base_url: String,
    pub login_url: String,
    pub user: String,
    pub send_as: String,
    /// `None` without `auth.token_login.refresh_path`.
    pub refresh_url: Option<String>,
    /// `auth.token_login.refresh_token_at` ("" = none is issued).
    pub refresh_token_at: String,
    /// `auth.token_login.lifetime_at` ("" = none) and its unit as written.
    pub lifetime_at: String,
    pub lifetime_unit: String,
    /// `auth.token_login.lifetime_secs` (0 = not set).
    pub lifetime_hint_secs: u64,
    /// `sync.expected_duration_secs`.
    pub sync_secs: u64,
    /// `--wait-secs`: how long the token is watched.
    pub wait_secs: u64,
    pub logout_configured: bool,
}

/// How the one login went.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum LoginResult {
    #[default]
    NotTried,
    Ok {
        request_secs: f64,
    },
    /// A definite refusal (400, 401, 403): never tried again, it counts toward a lockout.
    Refused {
        /// The status and the server's cleaned words (`HTTP 401: Invalid user …`).
        answer: String,
    },
    /// No login sent: the budget of refused logins for this password is spent.
    BudgetSpent {
        message: String,
    },
    /// Unreachable, busy, or an answer without a usable token.
    Failed {
        message: String,
    },
}

/// The token watched with calls from its login until the API refused it or the wait ended.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeathWatch {
    pub every_secs: f64,
    pub calls: u32,
    /// Age (since the login was sent) of the last call the API answered 2xx.
    pub last_alive_secs: Option<f64>,
    /// The first refusal, and the token's age then.
    pub dead: Option<CallFinding>,
    pub dead_age_secs: Option<f64>,
    /// A call that was neither 2xx nor a refusal stopped the watch.
    pub stopped_by: Option<CallFinding>,
}

/// How the refresh went.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum RefreshResult {
    /// No `auth.token_login.refresh_path`: every renewal is a login.
    #[default]
    NotConfigured,
    /// The login's answer held no refresh token (at `refresh_token_at`).
    NoRefreshToken,
    Ok {
        /// A new refresh token came back, different from the one presented.
        rotated: bool,
        /// The refresh answer kept the old refresh token (none at the pointer).
        kept: bool,
        stated_lifetime_secs: Option<f64>,
        /// A call with the refreshed access token.
        call_after: Option<Box<CallFinding>>,
    },
    Refused {
        status: String,
        words: Option<String>,
    },
    Failed {
        message: String,
    },
}

/// The spent refresh token presented once more (only when the refresh rotated it; the
/// chain is diagnose's own, so no run's tokens are touched).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReuseCheck {
    /// The server refused the spent refresh token.
    pub refused: bool,
    /// The refreshed access token was refused afterwards: the reuse revoked the chain.
    pub chain_revoked: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TokenLoginFindings {
    pub setup: TokenLoginSetup,
    /// Login requests diagnose sent (one at most).
    pub logins: u32,
    pub login: LoginResult,
    pub token: Option<String>,
    /// The lifetime the login's answer states (at `lifetime_at`), in seconds.
    pub stated_lifetime_secs: Option<f64>,
    /// The access token's JWT `exp`, less now (no signature check).
    pub jwt_lifetime_secs: Option<f64>,
    /// What a run plans renewals with, and where it comes from (`LifetimeSource`).
    pub planned_lifetime_secs: Option<f64>,
    pub planned_from: Option<String>,
    pub refresh_token_issued: bool,
    /// The refresh token's own lifetime, when the answer states it.
    pub refresh_lifetime_secs: Option<u64>,
    pub first_call: Option<CallFinding>,
    pub watch: Option<DeathWatch>,
    pub refresh: RefreshResult,
    pub reuse: Option<ReuseCheck>,
    /// `None`: no logout path; else what the logout said.
    pub logout: Option<String>,
}
