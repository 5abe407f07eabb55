//! Configuration: the shape and its defaults here; in submodules the key schema, layering
//! (`merge`), provenance, validation, the client secret, and loading. Precedence is
//! `--set` > `SUPSYNC_<SECTION>_<KEY>` env > file > default; `config.example.toml`
//! documents every key.
//!
//! Every section is `deny_unknown_fields` so a typo is an error naming the key and line.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

mod error;
pub mod load;
pub mod provenance;
mod secrets;
mod sections;
mod suggest;
pub mod validate;
pub(in crate::config) use load::file_layer;
pub use load::merge;
pub use load::recorded;
pub use load::schema;
pub(in crate::config) use load::typed;
pub use secrets::client_secret;
pub use secrets::key_material;
pub use sections::api_key;
pub use sections::expired_when;
pub use sections::headers;
pub(in crate::config) use sections::observe;
pub use sections::session;
pub use sections::token_cache;
pub use sections::token_login;
pub(in crate::config) use validate::pace_checks;
pub(in crate::config) use validate::validate_api_key;
pub(in crate::config) use validate::validate_auth;
pub use validate::validate_observe;
pub(in crate::config) use validate::validate_session;
pub(in crate::config) use validate::validate_token_cache;
pub(in crate::config) use validate::validate_token_login;

pub use error::ConfigError;
pub use load::{LoadedConfig, default_config_path, load, load_for_run, load_from, state_dir};
pub use provenance::{Origin, Provenance};
pub use secrets::client_secret::{ResolvedSecret, SecretSource};
pub use sections::headers::HeaderSource;
pub use sections::observe::{ALERT_KINDS, MetricsConfig, NotifyConfig, redacted_url};
pub use sections::session::{
    AuthKind, CallMethod, Carry, IdSource, LoginBody, LoginMethod, SessionConfig,
};

use crate::secret::Secret;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[derive(Default)]
pub struct Config {
    pub api: ApiConfig,
    pub auth: AuthConfig,
    pub sync: SyncConfig,
    pub ui: UiConfig,
    pub notify: NotifyConfig,
    pub metrics: MetricsConfig,
}

/// Not `deny_unknown_fields`: serde cannot combine that with the flattened mapping keys;
/// the file, env and `--set` layers refuse unknown keys against the schema instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiConfig {
    /// Base URL of the supplier API, e.g. `https://qms.example.com`.
    pub base_url: String,
    pub health_path: String,
    pub batch_path: String,
    /// Per-request timeout.
    pub timeout_secs: u64,
    /// The largest answer body read from the API (a page, a push answer); larger ones are
    /// refused unread.
    pub max_page_bytes: u64,
    /// Allow bearer tokens and secrets over plain http:// to non-loopback hosts.
    pub allow_insecure_http: bool,
    /// How `supsync verify` reads the server back: `list` (a pull of the collection),
    /// `per_id` (a GET on each record's path, for an API with no listing) or `auto` (the
    /// list: every mapping has a pull path).
    pub verify_read: String,
    /// How the API looks (docs/API.md §6): `preset` and per-key overrides, all optional.
    #[serde(flatten)]
    pub mapping: crate::mapping::MappingKeys,
    /// A PEM file of extra trust roots (a private CA) for the API and the token endpoint.
    pub ca_file: Option<PathBuf>,
    /// Present the client certificate (`auth.client_cert_file`) to the resource API too,
    /// for servers that bind tokens to the certificate (RFC 8705 §3).
    pub client_identity: bool,
    /// Headers sent on every resource call (e.g. an `apiKey`); each value inline (warned
    /// about), `{ env = "VAR" }` or `{ file = "/path" }`, and handled like a secret.
    pub headers: BTreeMap<String, HeaderSource>,
}

/// 32 MiB: a page of thousands of records with room to spare; far below what hurts.
pub const DEFAULT_MAX_PAGE_BYTES: u64 = 32 << 20;

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            base_url: "http://127.0.0.1:8080".into(),
            health_path: "/api/v1/health".into(),
            batch_path: "/api/v1/suppliers/batch".into(),
            timeout_secs: 30,
            max_page_bytes: DEFAULT_MAX_PAGE_BYTES,
            allow_insecure_http: false,
            verify_read: "auto".into(),
            mapping: crate::mapping::MappingKeys::default(),
            ca_file: None,
            client_identity: false,
            headers: BTreeMap::new(),
        }
    }
}

/// How the client proves who it is to the token endpoint (docs/API.md §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    /// RFC 6749 §2.3.1: id and secret form-encoded, then HTTP Basic.
    #[default]
    ClientSecretBasic,
    /// RFC 6749 §2.3.1: `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// RFC 7523: a JWT signed with the client's private key.
    PrivateKeyJwt,
    /// RFC 8705: a client certificate on the TLS connection.
    TlsClientAuth,
}

impl ClientAuthMethod {
    /// The name as in `auth.method` and RFC 8414's `token_endpoint_auth_methods_supported`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuthMethod::ClientSecretBasic => "client_secret_basic",
            ClientAuthMethod::ClientSecretPost => "client_secret_post",
            ClientAuthMethod::PrivateKeyJwt => "private_key_jwt",
            ClientAuthMethod::TlsClientAuth => "tls_client_auth",
        }
    }

    /// Whether the method needs the client secret.
    pub fn uses_secret(self) -> bool {
        matches!(
            self,
            ClientAuthMethod::ClientSecretBasic | ClientAuthMethod::ClientSecretPost
        )
    }
}

impl std::fmt::Display for ClientAuthMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JWS algorithm of a `private_key_jwt` client assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (an RSA key).
    #[default]
    RS256,
    /// RSASSA-PSS with SHA-256 (an RSA key).
    PS256,
    /// ECDSA on P-256 with SHA-256 (an EC P-256 key).
    ES256,
}

impl SigningAlg {
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::RS256 => "RS256",
            SigningAlg::PS256 => "PS256",
            SigningAlg::ES256 => "ES256",
        }
    }

    /// The kind of key the algorithm signs with, for messages.
    pub fn key_kind(self) -> &'static str {
        match self {
            SigningAlg::RS256 | SigningAlg::PS256 => "an RSA key",
            SigningAlg::ES256 => "an EC P-256 key",
        }
    }
}

/// The former name of `auth.method` for the two secret methods; still read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AuthStyle {
    /// `client_secret_basic`: HTTP Basic authentication.
    #[default]
    Basic,
    /// `client_secret_post`: id and secret in the form body.
    Post,
}

pub use token_cache::{TokenCacheFallback, TokenCacheMode};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// OAuth2 grants (the default) or a session login (`[auth.session]`).
    pub kind: AuthKind,
    /// `kind = "session"`: consecutive refused logins before the run stops (exit 4), so a
    /// wrong password never locks the account.
    pub max_failed_logins: u32,
    /// Token endpoint: absolute URL, or a path joined to `api.base_url`.
    pub token_url: String,
    pub client_id: String,
    /// Inline secret: allowed, but warned about. Prefer `SUPSYNC_CLIENT_SECRET` or a file.
    #[serde(skip_serializing)]
    pub client_secret: Option<Secret>,
    /// File holding the client secret (first line, trimmed).
    pub client_secret_file: Option<PathBuf>,
    /// When the client secret expires (RFC 3339 date or date-time, e.g. `2027-03-31`):
    /// warned about 14 days ahead, shown by `status --json`, exported as a metric.
    pub secret_expires_at: Option<String>,
    /// Client authentication at the token endpoint.
    pub method: ClientAuthMethod,
    /// Deprecated: `basic` or `post`, read as `auth.method` when that is left at its default.
    pub auth_style: Option<AuthStyle>,
    /// `private_key_jwt`: the PEM private key (PKCS#8, or PKCS#1 for RSA) that signs.
    pub private_key_file: Option<PathBuf>,
    /// `private_key_jwt`: RS256, PS256 or ES256; it must fit the key.
    pub signing_alg: SigningAlg,
    /// `private_key_jwt`: the `kid` header, when the server holds several of our keys.
    pub key_id: Option<String>,
    /// `private_key_jwt`: the assertion's `aud`; the token endpoint URL when unset.
    pub assertion_audience: Option<String>,
    /// `tls_client_auth`: the client certificate (PEM, leaf first, chain may follow).
    pub client_cert_file: Option<PathBuf>,
    /// `tls_client_auth`: the certificate's private key (PEM).
    pub client_key_file: Option<PathBuf>,
    /// Extra form parameters on every new session (e.g. `audience`, `resource`).
    pub extra_params: BTreeMap<String, String>,
    /// Send `extra_params` on refreshes too (some servers want them on every grant).
    pub extra_params_on_refresh: bool,
    pub scopes: Vec<String>,
    /// Refresh this long before the token dies (capped to a fraction of the token lifetime).
    pub refresh_margin_secs: u64,
    /// What the server is believed to be configured for; `diagnose` compares against it,
    /// and a token answer that states no lifetime (no `expires_in`, no JWT `exp`) is
    /// planned with it.
    pub expected_ttl_secs: u64,
    /// Call health at least this often while no other call is made.
    pub keepalive_secs: u64,
    /// The server's idle timeout, when the operator knows it (0 = unknown). Used until the
    /// token manager observes the window itself.
    pub idle_timeout_secs: u64,
    /// The server's absolute session limit, when the operator knows it (0 = unknown). Used
    /// until the token manager observes the limit itself.
    pub session_limit_secs: u64,
    /// Token renewals start at least this far apart (0 = no limit), so a server that
    /// hands out 0-second tokens or refuses every fresh token is not flooded.
    pub min_token_interval_ms: u64,
    pub token_cache: TokenCacheMode,
    /// A Redis token cache that cannot be reached: `wait` for it, or `own_login`.
    pub token_cache_fallback: TokenCacheFallback,
    /// A Redis token cache's encryption key file (a mounted secret, 32 bytes); "" = the
    /// passphrase in `SUPSYNC_CACHE_KEY`.
    pub token_cache_key_file: String,
    /// File holding the Redis password (first line); "" = `SUPSYNC_REDIS_PASSWORD`, if set.
    pub redis_password_file: String,
    /// How long a Redis renewal lock lives when its holder dies without releasing it.
    pub redis_lock_ttl_ms: u64,
    /// How the server says a token is dead besides a 401 (see `expired_when.rs`), e.g.
    /// `["403 /error = token_expired", "200 /error/code = TOKEN_EXPIRED"]`.
    pub expired_when: Vec<String>,
    /// The server accepts a refresh only this close to the token's expiry (0 = anywhere;
    /// a "too early" refusal still teaches it).
    pub refresh_window_secs: u64,
    /// Words of this server's refusal of an early refresh, besides those supsync knows
    /// ("too early", "not allowed yet", "only within N seconds"…); "" = none.
    pub refresh_window_text: String,
    /// The login of `kind = "session"` (docs/API.md §7).
    pub session: SessionConfig,
    /// The login of `kind = "token_login"` (docs/API.md §8).
    pub token_login: token_login::TokenLoginConfig,
    /// The key of `kind = "api_key"` (`api_key.rs`).
    pub api_key: api_key::ApiKeyConfig,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            kind: AuthKind::Oauth2,
            max_failed_logins: 3,
            token_url: "/oauth/token".into(),
            client_id: "supplier-sync".into(),
            client_secret: None,
            client_secret_file: None,
            secret_expires_at: None,
            method: ClientAuthMethod::ClientSecretBasic,
            auth_style: None,
            private_key_file: None,
            signing_alg: SigningAlg::RS256,
            key_id: None,
            assertion_audience: None,
            client_cert_file: None,
            client_key_file: None,
            extra_params: BTreeMap::new(),
            extra_params_on_refresh: false,
            scopes: vec!["supplier_mgmt".into(), "offline_access".into()],
            refresh_margin_secs: 120,
            expected_ttl_secs: 3600,
            keepalive_secs: 60,
            idle_timeout_secs: 0,
            session_limit_secs: 0,
            min_token_interval_ms: 1000,
            token_cache: TokenCacheMode::Encrypted,
            token_cache_fallback: TokenCacheFallback::Wait,
            token_cache_key_file: String::new(),
            redis_password_file: String::new(),
            redis_lock_ttl_ms: 30_000,
            expired_when: Vec::new(),
            refresh_window_secs: 0,
            refresh_window_text: String::new(),
            session: SessionConfig::default(),
            token_login: token_login::TokenLoginConfig::default(),
            api_key: api_key::ApiKeyConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncConfig {
    /// Records per segment (one push request or one pull page).
    pub segment_size: usize,
    /// Segments in flight at once; [`AUTO_CONCURRENCY`] (written `"auto"`) lets the engine
    /// find the server's capacity between `min_concurrency` and `max_concurrency`.
    #[serde(with = "concurrency_value")]
    pub concurrency: usize,
    /// Bounds of `concurrency = "auto"`.
    pub min_concurrency: usize,
    pub max_concurrency: usize,
    /// A cap on requests per second, whatever the server says (0: none).
    pub max_requests_per_sec: u32,
    /// Attempts per segment before it is marked failed.
    pub max_attempts: u32,
    /// Backoff bounds (full jitter between them, doubling per attempt).
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    /// Upper bound on a server's `Retry-After` that we honour.
    pub max_retry_after_secs: u64,
    /// Consecutive transient failures across the run before it pauses hammering a dead server.
    pub retry_budget: u32,
    /// How long the server (API or token endpoint) may fail every request before the run
    /// stops, resumably, instead of waiting for it forever.
    pub max_outage_secs: u64,
    /// Expected length of a sync; `diagnose` judges the token clocks against it.
    pub expected_duration_secs: u64,
}

/// `sync.concurrency = "auto"`, held in the number's place (no fixed count is this large).
pub const AUTO_CONCURRENCY: usize = usize::MAX;

impl SyncConfig {
    /// True when `sync.concurrency = "auto"`.
    pub fn concurrency_is_auto(&self) -> bool {
        self.concurrency == AUTO_CONCURRENCY
    }

    /// The most segments that can be at the server at once.
    pub fn concurrency_ceiling(&self) -> usize {
        match self.concurrency_is_auto() {
            true => self.max_concurrency.max(1),
            false => self.concurrency.max(1),
        }
    }
}

/// `sync.concurrency` is a number or the word `"auto"`.
mod concurrency_value {
    use super::AUTO_CONCURRENCY;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(n: &usize, s: S) -> Result<S::Ok, S::Error> {
        match *n {
            AUTO_CONCURRENCY => s.serialize_str("auto"),
            n => s.serialize_u64(n as u64),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u64),
        Word(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
        match Raw::deserialize(d)
            .map_err(|_| serde::de::Error::custom("expected a number of segments or \"auto\""))?
        {
            Raw::Number(n) => Ok(usize::try_from(n)
                .unwrap_or(usize::MAX - 1)
                .min(usize::MAX - 1)),
            Raw::Word(w) if w.trim().eq_ignore_ascii_case("auto") => Ok(AUTO_CONCURRENCY),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "expected a number of segments or \"auto\", found {w:?}"
            ))),
        }
    }
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            segment_size: 50,
            concurrency: AUTO_CONCURRENCY,
            min_concurrency: 1,
            max_concurrency: 32,
            max_requests_per_sec: 0,
            max_attempts: 5,
            backoff_initial_ms: 500,
            backoff_max_ms: 30_000,
            max_retry_after_secs: 120,
            retry_budget: 10,
            max_outage_secs: 600,
            expected_duration_secs: 3600,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiConfig {
    /// Countdown tick.
    pub tick_ms: u64,
    /// Frame-rate cap for redraws caused by engine events.
    pub max_fps: u32,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            tick_ms: 1000,
            max_fps: 20,
        }
    }
}

impl Serialize for Secret {
    /// Secrets serialize as their fingerprint: a config dump never leaks them.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.fingerprint())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

impl Config {
    /// The token endpoint: `auth.token_url` when absolute, else joined to `api.base_url`.
    pub fn token_url(&self) -> String {
        join_url(&self.api.base_url, &self.auth.token_url)
    }

    /// The client authentication in force: `auth.method`, or the deprecated
    /// `auth.auth_style = "post"` when `auth.method` is left at its default.
    pub fn client_auth_method(&self) -> ClientAuthMethod {
        match (self.auth.method, self.auth.auth_style) {
            (ClientAuthMethod::ClientSecretBasic, Some(AuthStyle::Post)) => {
                ClientAuthMethod::ClientSecretPost
            }
            (m, _) => m,
        }
    }

    /// The `aud` of a client assertion: `auth.assertion_audience`, else the token endpoint.
    pub fn assertion_audience(&self) -> String {
        self.auth
            .assertion_audience
            .clone()
            .unwrap_or_else(|| self.token_url())
    }

    /// The session login: `auth.session.login_path` when absolute, else joined to
    /// `api.base_url`.
    pub fn login_url(&self) -> String {
        join_url(&self.api.base_url, &self.auth.session.login_path)
    }

    /// Where credentials go: the login URL with `auth.kind = "session"`, else the token
    /// endpoint.
    pub fn auth_url(&self) -> String {
        match self.auth.kind {
            AuthKind::Session => self.login_url(),
            AuthKind::TokenLogin => self.api_url(&self.auth.token_login.login_path),
            // The key goes to the API itself.
            AuthKind::ApiKey => self.api.base_url.clone(),
            AuthKind::Oauth2 => self.token_url(),
        }
    }

    /// An API URL for one of the configured paths.
    pub fn api_url(&self, path: &str) -> String {
        join_url(&self.api.base_url, path)
    }
}

fn join_url(base: &str, path: &str) -> String {
    if path.starts_with("http://") || path.starts_with("https://") {
        return path.to_string();
    }
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// A client secret (`auth.secret_expires_at`) is warned about this long before its end.
pub const SECRET_EXPIRY_WARNING: std::time::Duration = std::time::Duration::from_secs(14 * 86_400);

/// A credential's expiry as configured: an RFC 3339 date-time, or a date (that day's
/// start, UTC: warned about a little early rather than late).
pub fn parse_expiry(text: &str) -> Result<std::time::SystemTime, String> {
    let t = text.trim();
    let at = match chrono::DateTime::parse_from_rfc3339(t) {
        Ok(dt) => dt.with_timezone(&chrono::Utc),
        Err(_) => chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .map_err(|_| {
                format!("{t:?} is not an RFC 3339 date or date-time (e.g. 2027-03-31 or 2027-03-31T18:00:00Z)")
            })?
            .and_time(chrono::NaiveTime::MIN)
            .and_utc(),
    };
    Ok(at.into())
}

/// Bearer tokens and secrets travel only over TLS or to loopback hosts, unless allowed.
pub fn check_transport(url: &str, allow_insecure_http: bool) -> Result<(), String> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a valid URL: {e}"))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if allow_insecure_http || is_loopback_host(&parsed) => Ok(()),
        "http" => Err(format!(
            "{url} uses plain http:// to a non-loopback host; tokens and secrets would travel in clear. \
             Use https://, or set api.allow_insecure_http = true if you really mean it"
        )),
        other => Err(format!("{url}: unsupported scheme {other:?}, use https://")),
    }
}

fn is_loopback_host(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_url_joins_relative_paths() {
        let mut c = Config::default();
        c.api.base_url = "https://qms.example.com/".into();
        assert_eq!(c.token_url(), "https://qms.example.com/oauth/token");
        c.auth.token_url = "https://idp.example.com/token".into();
        assert_eq!(c.token_url(), "https://idp.example.com/token");
    }

    #[test]
    fn expiry_dates_and_date_times_parse() {
        let day = parse_expiry("2027-03-31").unwrap();
        let noon = parse_expiry("2027-03-31T12:00:00+02:00").unwrap();
        assert_eq!(noon.duration_since(day).unwrap().as_secs(), 10 * 3600);
        let err = parse_expiry("31.03.2027").unwrap_err();
        assert!(err.contains("RFC 3339"), "{err}");
        assert!(parse_expiry("2027-02-30").is_err());
    }

    #[test]
    fn plain_http_only_to_loopback_unless_allowed() {
        assert!(check_transport("https://qms.example.com", false).is_ok());
        assert!(check_transport("http://127.0.0.1:8080", false).is_ok());
        assert!(check_transport("http://127.3.0.1:8080", false).is_ok());
        assert!(check_transport("http://localhost:8080", false).is_ok());
        assert!(check_transport("http://[::1]:8080", false).is_ok());
        let err = check_transport("http://qms.example.com", false).unwrap_err();
        assert!(err.contains("allow_insecure_http"));
        assert!(check_transport("http://qms.example.com", true).is_ok());
        assert!(check_transport("ftp://x", true).is_err());
    }
}
