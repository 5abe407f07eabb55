//! What the probes measured: plain data, no secrets (fingerprints only), durations in
//! seconds. The probe fills it in, `verdict` reasons over it, `report` prints it; the JSON
//! form is these field names, so they are part of `diagnose --json`'s contract.

use serde::Serialize;

pub use super::findings_call::*;
pub use super::findings_session::*;
pub use super::findings_signal::*;
use super::jwt::JwtClaims;

/// Everything one `diagnose` run found out.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Findings {
    pub base_url: String,
    pub token_url: String,
    pub client_id: String,
    pub requested_scopes: Vec<String>,
    /// `auth.expected_ttl_secs`: what the server is believed to hand out.
    pub expected_ttl_secs: u64,
    /// `sync.expected_duration_secs`: how long the token must be kept alive.
    pub sync_duration_secs: u64,
    pub refresh_margin_secs: u64,
    pub keepalive_secs: u64,
    /// `auth.idle_timeout_secs` (0 = not set): the operator's word on the idle window.
    pub idle_hint_secs: u64,
    /// `auth.expired_when`: the rules that say which 403s and 200s mean a dead token.
    pub expired_when: Vec<String>,
    /// `auth.refresh_window_secs` (0 = not set).
    pub refresh_window_secs: u64,
    /// How long a probe may wait for a token to die or a refresh window to open
    /// (`--wait-secs`).
    pub wait_secs: u64,
    /// The client authentication method configured (`client_secret_basic`…).
    pub auth_method: String,
    /// The health URL the API calls went to.
    pub health_url: String,
    /// How long the idle probe was allowed to leave a token unused (`--probe-secs`).
    pub probe_secs: u64,
    /// The configured method was refused and another was tried.
    pub client_auth: Option<ClientAuthFinding>,
    /// Back-to-back calls on the configured-scope token (a revocation after some uses).
    pub use_probe: UseProbe,
    /// The token for the configured scopes; `None` when none could be obtained.
    pub token: Option<TokenFinding>,
    /// Why no token could be obtained (then `token` is `None`).
    pub token_error: Option<GrantFailure>,
    pub scope_ttls: ScopeTtls,
    pub refresh: RefreshFinding,
    pub new_session: NewSessionFinding,
    pub clock_skew: ClockSkew,
    pub idle_probe: IdleProbe,
    pub connection: ConnectionProbe,
    /// The API mapping in use and one read of the first page with it.
    pub mapping: MappingFinding,
    /// How the API answered a dead token; `None` when no token was had.
    pub expiry_signal: Option<SignalFinding>,
    /// With `auth.kind = "session"`: the login, its budget, a second login, the session's
    /// clocks watched and the logouts. `None` for OAuth2.
    pub session: Option<SessionFindings>,
}

/// The API mapping in use (`[api]`, docs/API.md §6) and the first page read with it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MappingFinding {
    /// The mapping, one line per part (push, pull, fields, idempotency, answers).
    pub describe: Vec<String>,
    /// The first page of a pull; `None` when not tried (no token, or the first API call
    /// failed, which would only repeat its failure).
    pub first_page: Option<PageRead>,
}

/// One read of the first page through the mapping.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PageRead {
    /// The collection the mapping pulls from (`api.pull_path` on `api.base_url`).
    pub url: String,
    pub ok: bool,
    /// Records read from the page (at most one is asked for).
    pub records: usize,
    /// What did not fit, in the client's words (pointers and top-level keys only, never
    /// record contents).
    pub error: Option<String>,
    /// The `[api]` key to change, when the misfit names one.
    pub key: Option<String>,
    /// The listing answered 405 (a push-only API): what the push's own path said to the
    /// credential instead, in words; `None` when the API lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_listing: Option<String>,
}

/// The configured client authentication method was refused; what another method got.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClientAuthFinding {
    pub configured: String,
    /// The server's refusal of the configured method.
    pub refused_with: String,
    /// The method tried instead.
    pub tried: String,
    /// The other method got a token.
    pub other_works: bool,
    pub other_error: Option<String>,
}

/// Calls made one after another with one fresh token, up to `planned`; stops at the
/// first refusal.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UseProbe {
    pub planned: u32,
    /// Calls made with the token before this probe (the first API call).
    pub earlier_uses: u32,
    pub calls: Vec<CallFinding>,
}

/// A token endpoint refusal or failure, in the server's words (never the body: it could
/// hold a token).
#[derive(Debug, Clone, Default, Serialize)]
pub struct GrantFailure {
    /// OAuth2 `error` code (`invalid_client`, `invalid_scope`…) when the server gave one.
    pub code: Option<String>,
    pub description: Option<String>,
    /// The whole message, e.g. "token endpoint unreachable …".
    pub message: String,
    /// The HTTP status when the server answered without a token (429, 5xx): it is there.
    pub http_status: Option<u16>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TokenFinding {
    /// Fingerprint of the access token (never the token).
    pub fingerprint: String,
    pub expires_in_secs: Option<u64>,
    /// Where supsync takes the token's lifetime from (`expires_in`, else the JWT's `exp`,
    /// else `auth.expected_ttl_secs`).
    pub lifetime_source: Option<crate::auth::status::LifetimeSource>,
    /// The `scope` the server says it granted; `None` when it did not say (RFC 6749 §5.1:
    /// then the requested scopes were granted).
    pub granted_scopes: Option<Vec<String>>,
    /// Requested but not granted.
    pub missing_scopes: Vec<String>,
    /// Granted but not requested.
    pub extra_scopes: Vec<String>,
    /// Fingerprint of the refresh token, when one came.
    pub refresh_token: Option<String>,
    pub refresh_expires_in_secs: Option<u64>,
    /// Round trip of the token request.
    pub request_secs: f64,
    /// JWT claims, decoded WITHOUT signature verification; `None` for opaque tokens.
    pub jwt: Option<JwtClaims>,
    /// The first API call (health) made with this token.
    pub first_call: Option<CallFinding>,
}

/// TTL of a token per scope set: the per-scope TTL hierarchy of docs/API.md §2.1.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScopeTtls {
    /// No `scope` parameter: the server's default TTL.
    pub no_scope: ScopeTtl,
    /// Each configured scope alone.
    pub alone: Vec<ScopeTtl>,
    /// All configured scopes together (the token of `Findings::token`).
    pub all_secs: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ScopeTtl {
    /// Empty for "no scope".
    pub scope: String,
    pub expires_in_secs: Option<u64>,
    /// The `scope` the server said it granted (`None`: it did not say).
    pub granted: Option<Vec<String>>,
    /// Why this grant failed (e.g. `invalid_scope`).
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RefreshFinding {
    /// A refresh token came with the configured-scope token.
    pub issued: bool,
    /// Outcome of one refresh: `None` when not attempted (no refresh token).
    pub ok: Option<bool>,
    pub error: Option<String>,
    /// The refresh returned a different refresh token (the old one is then spent).
    pub rotated: Option<bool>,
    /// Seconds between the first grant and the refresh request.
    pub after_secs: Option<f64>,
    pub expires_in_secs: Option<u64>,
    pub refresh_expires_in_secs: Option<u64>,
    /// No refresh token came and `offline_access` was not requested: whether a grant
    /// with it added brought one (`None`: not tried).
    pub with_offline_access: Option<bool>,
    /// The refresh was refused as too early (a refresh window): the tries and the
    /// server's words. A too-early refusal alone is no failed refresh (`ok` stays `None`).
    pub too_early: Option<RefreshWindowFinding>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct NewSessionFinding {
    /// A second client-credentials grant for the configured scopes.
    pub ok: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ClockSkew {
    /// Server `Date` minus the local clock (positive: server ahead), ±1 s.
    pub date_skew_secs: Option<i64>,
    pub date_header: Option<String>,
    /// JWT `iat` minus the local clock when the token was issued, ±1 s.
    pub jwt_iat_skew_secs: Option<i64>,
    /// JWT `exp` minus the server's `Date` of the first API call: the time left by the
    /// server's own clock, and the token's age then.
    pub jwt_exp_minus_date_secs: Option<i64>,
    pub at_token_age_secs: Option<f64>,
}

/// Two health calls some seconds apart on one token, to see whether the server's
/// `X-Token-Expires-In` slides back up (idle window) or keeps falling (a fixed end).
#[derive(Debug, Clone, Default, Serialize)]
pub struct IdleProbe {
    /// Which token was used, e.g. "no scope".
    pub token: String,
    pub token_ttl_secs: Option<u64>,
    pub first: Option<CallFinding>,
    pub second: Option<CallFinding>,
    /// Seconds between the two responses.
    pub waited_secs: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionOutcome {
    /// The pooled connection left idle still worked.
    #[default]
    NotObserved,
    /// It failed at the transport level while a fresh connection worked: something between
    /// here and the server (proxy, load balancer, NAT) cuts idle connections.
    IdleConnectionCut,
    /// A drop that did not repeat on a second idle connection, or fresh connections
    /// failing too: not tied to idleness.
    RandomDrops,
    /// No probe was possible (no token).
    NotTested,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ConnectionProbe {
    pub outcome: ConnectionOutcome,
    /// How long the pooled connection was left idle.
    pub idle_secs: f64,
    pub detail: Option<String>,
}

/// Requested scopes the server did not grant, and granted ones nobody asked for.
pub fn scope_difference(requested: &[String], granted: &[String]) -> (Vec<String>, Vec<String>) {
    let missing = requested
        .iter()
        .filter(|s| !granted.contains(s))
        .cloned()
        .collect();
    let extra = granted
        .iter()
        .filter(|s| !requested.contains(s))
        .cloned()
        .collect();
    (missing, extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn scope_difference_finds_missing_and_extra() {
        let (missing, extra) = scope_difference(
            &v(&["supplier_mgmt", "offline_access"]),
            &v(&["supplier_mgmt", "read"]),
        );
        assert_eq!(missing, v(&["offline_access"]));
        assert_eq!(extra, v(&["read"]));
        let (missing, extra) = scope_difference(&v(&["a"]), &v(&["a"]));
        assert!(missing.is_empty() && extra.is_empty());
    }
}
