//! The two OAuth2 grants of docs/API.md §1.3, through the `oauth2` crate, returning what the token
//! manager and `diagnose` need to know about each answer. Tokens come back as [`Secret`]s.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
};
use oauth2::{
    AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, RefreshToken, Scope,
    StandardRevocableToken, TokenResponse, TokenUrl,
};

use super::answer::{self, LenientTokenResponse};
use super::client_auth::{ASSERTION_TYPE, AssertionSigner, ClientAuthInfo};
use super::status::{GrantKind, LifetimeSource};
use super::wire::{Endpoint, classify};
use crate::config::{ClientAuthMethod, Config};
use crate::secret::Secret;
use crate::server_text::Redactor;

type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    LenientTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// One successful token response.
#[derive(Debug, Clone)]
pub struct Grant {
    pub kind: GrantKind,
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    /// `expires_in` as the server stated it (clamped); `None` when it did not say.
    pub expires_in: Option<Duration>,
    /// The lifetime to plan renewals with: `expires_in`, else a fallback; `None` when the
    /// server's lifetime is too short to plan with (renew when the API refuses it).
    pub lifetime: Option<Duration>,
    pub lifetime_source: LifetimeSource,
    pub refresh_expires_in: Option<Duration>,
    /// The `scope` the server says it granted (None when it did not say).
    pub granted_scopes: Option<Vec<String>>,
    /// When the request left: lifetimes count from here, never from the answer.
    pub sent_at: Instant,
    pub received_at: Instant,
}

/// Why a grant failed. Every server-supplied text in it has been cleaned (control
/// sequences stripped, secrets redacted, length capped).
#[derive(Debug, Clone, thiserror::Error)]
pub enum GrantError {
    /// The authorization server answered with an OAuth2 error.
    #[error("token endpoint refused the {grant} grant: {code}{}{}", .description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default(), rejected_hint(code))]
    Rejected {
        grant: GrantKind,
        code: String,
        description: Option<String>,
    },
    /// No answer: network, TLS, timeout, connection cut.
    #[error("token endpoint unreachable for the {grant} grant: {message}")]
    Transport { grant: GrantKind, message: String },
    /// The server answered 429 or 5xx: it is there, but busy or failing.
    #[error("token endpoint answered the {grant} grant with HTTP {status}{}{}", server_words(text), .retry_after.map(|r| format!(" (it asks to wait {} s)", r.as_secs())).unwrap_or_default())]
    Server {
        grant: GrantKind,
        status: u16,
        text: String,
        /// `Retry-After` as the server asked (bounded, not yet capped to our maximum).
        retry_after: Option<Duration>,
    },
    /// An answer that is not a token response (the body is not quoted: it may hold a token).
    #[error(
        "token endpoint gave an unusable answer to the {grant} grant: {message}; check that auth.token_url is the OAuth2 token endpoint"
    )]
    Malformed { grant: GrantKind, message: String },
    /// Fresh tokens keep being refused by the API: renewing again will not help.
    #[error(
        "the API refused {rejected} fresh tokens in a row (last: {description}): it refuses valid tokens, so the client likely lacks a scope or permission; check auth.scopes and the client's rights on the server, then resume"
    )]
    RefusedByApi { rejected: u32, description: String },
}

fn server_words(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

impl GrantError {
    pub fn code(&self) -> Option<&str> {
        match self {
            GrantError::Rejected { code, .. } => Some(code),
            _ => None,
        }
    }
    /// Refresh refused: the session is over or the token was spent; start a new session.
    pub fn is_invalid_grant(&self) -> bool {
        self.code() == Some("invalid_grant")
    }
    /// Wrong client id or secret: retrying will not help.
    pub fn is_invalid_client(&self) -> bool {
        self.code() == Some("invalid_client")
    }
    /// How long the server asked us to wait before asking again (429, 503).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            GrantError::Server { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
    /// The HTTP status of a server that answered without a token (429, 5xx).
    pub fn http_status(&self) -> Option<u16> {
        match self {
            GrantError::Server { status, .. } => Some(*status),
            _ => None,
        }
    }
    /// Worth retrying later with backoff (transport failures, 5xx/429, and the RFC 6749
    /// codes a server uses for a temporary condition).
    pub fn is_transient(&self) -> bool {
        match self {
            GrantError::Transport { .. } | GrantError::Server { .. } => true,
            GrantError::Rejected { code, .. } => {
                code == "temporarily_unavailable" || code == "server_error"
            }
            GrantError::Malformed { .. } | GrantError::RefusedByApi { .. } => false,
        }
    }
}

/// What the operator should check after a refusal, by OAuth2 error code.
fn rejected_hint(code: &str) -> &'static str {
    match code {
        "invalid_client" | "unauthorized_client" => {
            "; check auth.client_id, auth.method and its credential (the client secret from \
             SUPSYNC_CLIENT_SECRET or auth.client_secret_file, auth.private_key_file or \
             auth.client_cert_file) and auth.token_url"
        }
        "invalid_scope" => "; check auth.scopes against what the client may request",
        "unsupported_grant_type" => {
            "; the server does not allow this grant for the client: check its client settings"
        }
        _ => "",
    }
}

/// The token endpoint of one configured client.
#[derive(Clone)]
pub struct TokenEndpoint {
    client: OAuthClient,
    http: reqwest::Client,
    scopes: Vec<String>,
    /// `auth.expected_ttl_secs`: the lifetime assumed when an answer states none.
    fallback_ttl_secs: u64,
    redactor: Arc<Redactor>,
    /// `private_key_jwt`: signs a fresh assertion for every request.
    signer: Option<Arc<AssertionSigner>>,
    /// `auth.extra_params`, on every new session (and refresh when `extra_on_refresh`).
    extra_params: Vec<(String, String)>,
    extra_on_refresh: bool,
    info: ClientAuthInfo,
}

impl std::fmt::Debug for TokenEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEndpoint")
            .field("token_url", &self.client.token_uri().as_str())
            .field("client_id", &self.client.client_id().as_str())
            .field("scopes", &self.scopes)
            .field("method", &self.info.method)
            .finish_non_exhaustive()
    }
}

impl TokenEndpoint {
    /// `http` must not follow redirects (oauth2's advice); see [`http_client`]. With
    /// `tls_client_auth` it must present the client certificate: build it with
    /// [`super::client_auth::http_client`]. `secret` is used only by the secret methods
    /// (`auth.method`); the others read their key files here.
    pub fn new(cfg: &Config, secret: &Secret, http: reqwest::Client) -> Result<Self, String> {
        let url = cfg.token_url();
        let token_url = TokenUrl::new(url.clone())
            .map_err(|e| format!("auth.token_url {url:?} is not a valid URL: {e}"))?;
        let method = cfg.client_auth_method();
        let client =
            oauth2::Client::new(ClientId::new(cfg.auth.client_id.clone())).set_token_uri(token_url);
        let redactor = Arc::new(Redactor::new());
        // Without a secret, oauth2 sends `client_id` in the body, as RFC 7523 §3 and
        // RFC 8705 §2 have it.
        let (client, signer) = match method {
            ClientAuthMethod::ClientSecretBasic | ClientAuthMethod::ClientSecretPost => {
                redactor.pin_client_secret(&cfg.auth.client_id, secret.expose());
                let auth_type = if method == ClientAuthMethod::ClientSecretBasic {
                    AuthType::BasicAuth
                } else {
                    AuthType::RequestBody
                };
                let client = client
                    .set_client_secret(ClientSecret::new(secret.expose().to_string()))
                    .set_auth_type(auth_type);
                (client, None)
            }
            ClientAuthMethod::PrivateKeyJwt => (
                client.set_auth_type(AuthType::RequestBody),
                Some(Arc::new(AssertionSigner::from_config(cfg)?)),
            ),
            ClientAuthMethod::TlsClientAuth => (client.set_auth_type(AuthType::RequestBody), None),
        };
        Ok(Self {
            client,
            http,
            scopes: cfg.auth.scopes.clone(),
            fallback_ttl_secs: cfg.auth.expected_ttl_secs,
            redactor,
            signer,
            extra_params: cfg
                .auth
                .extra_params
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            extra_on_refresh: cfg.auth.extra_params_on_refresh,
            info: super::client_auth::info(cfg),
        })
    }

    /// The client authentication in use (method, signing algorithm, certificate).
    pub fn client_auth(&self) -> &ClientAuthInfo {
        &self.info
    }

    /// The form parameters that authenticate the client beyond what `oauth2` sends: a
    /// fresh signed assertion with `private_key_jwt`, nothing otherwise.
    fn assertion_params(&self, grant: GrantKind) -> Result<Vec<(String, String)>, GrantError> {
        let Some(signer) = &self.signer else {
            return Ok(Vec::new());
        };
        let assertion = signer
            .sign(SystemTime::now())
            .map_err(|message| GrantError::Malformed { grant, message })?;
        // An echoing server must not show it: it is a credential until it expires.
        self.redactor.remember_token(assertion.expose());
        Ok(vec![
            ("client_assertion_type".into(), ASSERTION_TYPE.into()),
            ("client_assertion".into(), assertion.expose().to_string()),
        ])
    }

    /// Knows the client secret and every token this endpoint issued: server text that
    /// passes through it loses them (see [`crate::server_text`]).
    pub fn redactor(&self) -> &Arc<Redactor> {
        &self.redactor
    }

    /// Which credential this is (token endpoint and client), e.g. for pacing requests.
    pub fn credential(&self) -> String {
        format!(
            "{} {}",
            self.client.token_uri().as_str(),
            self.client.client_id().as_str()
        )
    }

    pub fn configured_scopes(&self) -> &[String] {
        &self.scopes
    }

    /// A new session. `scopes`: `None` asks for the configured scopes; `Some(&[])` sends no
    /// `scope` at all (the server's default TTL).
    pub async fn client_credentials(&self, scopes: Option<&[String]>) -> Result<Grant, GrantError> {
        let kind = GrantKind::ClientCredentials;
        let scopes = scopes.unwrap_or(&self.scopes);
        let mut req = self
            .client
            .exchange_client_credentials()
            .add_scopes(scopes.iter().map(|s| Scope::new(s.clone())));
        for (k, v) in self
            .extra_params
            .iter()
            .chain(&self.assertion_params(kind)?)
        {
            req = req.add_extra_param(k.clone(), v.clone());
        }
        let sent_at = Instant::now();
        let resp = req
            .request_async(&Endpoint(&self.http))
            .await
            .map_err(|e| classify(kind, e, &self.redactor))?;
        Ok(self.to_grant(kind, resp, sent_at))
    }

    /// Continue the session of `refresh_token`.
    pub async fn refresh(&self, refresh_token: &Secret) -> Result<Grant, GrantError> {
        let kind = GrantKind::RefreshToken;
        let rt = RefreshToken::new(refresh_token.expose().to_string());
        let mut req = self.client.exchange_refresh_token(&rt);
        let extra: &[(String, String)] = if self.extra_on_refresh {
            &self.extra_params
        } else {
            &[]
        };
        for (k, v) in extra.iter().chain(&self.assertion_params(kind)?) {
            req = req.add_extra_param(k.clone(), v.clone());
        }
        let sent_at = Instant::now();
        let resp = req
            .request_async(&Endpoint(&self.http))
            .await
            .map_err(|e| classify(kind, e, &self.redactor))?;
        Ok(self.to_grant(kind, resp, sent_at))
    }
}

impl TokenEndpoint {
    fn to_grant(&self, kind: GrantKind, resp: LenientTokenResponse, sent_at: Instant) -> Grant {
        let access = resp.access_token().secret().clone();
        let (lifetime, lifetime_source) = answer::lifetime(
            resp.expires_in_secs(),
            &access,
            self.fallback_ttl_secs,
            SystemTime::now(),
        );
        let refresh_token = resp
            .refresh_token()
            .map(|t| Secret::new(t.secret().clone()));
        self.redactor.remember_token(&access);
        if let Some(rt) = &refresh_token {
            self.redactor.remember_token(rt.expose());
        }
        Grant {
            kind,
            access_token: Secret::new(access),
            refresh_token,
            expires_in: resp.expires_in(),
            lifetime,
            lifetime_source,
            refresh_expires_in: resp.refresh_expires_in(),
            granted_scopes: resp
                .scopes()
                .map(|s| s.iter().map(|x| x.to_string()).collect()),
            sent_at,
            received_at: Instant::now(),
        }
    }
}

/// An error and its sources on one line, e.g. "request failed: connection refused".
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        src = s.source();
    }
    out
}

/// The shared HTTP client: rustls, no redirects (a redirect could carry a bearer token to
/// another host), a request timeout.
pub fn http_client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    http_client_builder(timeout).build()
}

/// Idle pooled connections are dropped after this long: shorter than the idle cut of common
/// load balancers and proxies (30–60 s), so we rarely send on a connection a proxy already
/// closed. When it still happens the request fails as transient and the engine retries it
/// with the same `Idempotency-Key`.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(20);

/// The builder behind [`http_client`], for callers that add settings.
pub fn http_client_builder(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .user_agent(concat!("supsync/", env!("CARGO_PKG_VERSION")))
}
