//! The two OAuth2 grants of docs/API.md §1.3, through the `oauth2` crate, returning what the token
//! manager and `diagnose` need to know about each answer. Tokens come back as [`Secret`]s.

use std::time::{Duration, Instant};

use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse,
    BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, ExtraTokenFields, RefreshToken,
    RequestTokenError, Scope, StandardRevocableToken, StandardTokenResponse, TokenResponse,
    TokenUrl,
};
use serde::{Deserialize, Serialize};

use super::status::GrantKind;
use crate::config::{AuthStyle, Config};
use crate::secret::Secret;

/// Non-standard but common field: how long the refresh token lives.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RefreshExpiry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_expires_in: Option<u64>,
}
impl ExtraTokenFields for RefreshExpiry {}

type TokenResp = StandardTokenResponse<RefreshExpiry, BasicTokenType>;
type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    TokenResp,
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
    pub expires_in: Option<Duration>,
    pub refresh_expires_in: Option<Duration>,
    /// The `scope` the server says it granted (None when it did not say).
    pub granted_scopes: Option<Vec<String>>,
    /// When the request left: lifetimes count from here, never from the answer.
    pub sent_at: Instant,
    pub received_at: Instant,
}

/// Why a grant failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GrantError {
    /// The authorization server answered with an OAuth2 error.
    #[error("token endpoint refused the {grant} grant: {code}{}{}", .description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default(), rejected_hint(code))]
    Rejected {
        grant: GrantKind,
        code: String,
        description: Option<String>,
    },
    /// Network, TLS, timeout or a 5xx without an OAuth2 body.
    #[error("token endpoint unreachable for the {grant} grant: {message}")]
    Transport { grant: GrantKind, message: String },
    /// An answer that is not a token response (the body is not quoted: it may hold a token).
    #[error(
        "token endpoint gave an unreadable answer to the {grant} grant: {message}; check that auth.token_url is the OAuth2 token endpoint"
    )]
    Malformed { grant: GrantKind, message: String },
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
    /// Worth retrying later with backoff (transport failures, 5xx/429, and the RFC 6749
    /// codes a server uses for a temporary condition).
    pub fn is_transient(&self) -> bool {
        match self {
            GrantError::Transport { .. } => true,
            GrantError::Rejected { code, .. } => {
                code == "temporarily_unavailable" || code == "server_error"
            }
            GrantError::Malformed { .. } => false,
        }
    }
}

/// What the operator should check after a refusal, by OAuth2 error code.
fn rejected_hint(code: &str) -> &'static str {
    match code {
        "invalid_client" | "unauthorized_client" => {
            "; check auth.client_id, the client secret (SUPSYNC_CLIENT_SECRET or \
             auth.client_secret_file), auth.auth_style and auth.token_url"
        }
        "invalid_scope" => "; check auth.scopes against what the client may request",
        "unsupported_grant_type" => {
            "; the server does not allow this grant for the client: check its client settings"
        }
        _ => "",
    }
}

/// A token endpoint answer that is a server-side failure, not an OAuth2 answer: 5xx and 429
/// become transport errors (retry later) instead of "unreadable answer".
#[derive(Debug, thiserror::Error)]
enum HttpFailure {
    #[error(transparent)]
    Client(#[from] oauth2::HttpClientError<reqwest::Error>),
    #[error("HTTP {0}")]
    Status(reqwest::StatusCode),
}

/// The reqwest client as oauth2's HTTP client, with 5xx/429 turned into [`HttpFailure`].
struct Endpoint<'a>(&'a reqwest::Client);

impl<'c> oauth2::AsyncHttpClient<'c> for Endpoint<'_> {
    type Error = HttpFailure;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<oauth2::HttpResponse, HttpFailure>>
                + Send
                + Sync
                + 'c,
        >,
    >;

    fn call(&'c self, req: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let resp = oauth2::AsyncHttpClient::call(self.0, req).await?;
            let status = resp.status();
            if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                return Err(HttpFailure::Status(status));
            }
            Ok(resp)
        })
    }
}

/// The token endpoint of one configured client.
#[derive(Clone)]
pub struct TokenEndpoint {
    client: OAuthClient,
    http: reqwest::Client,
    scopes: Vec<String>,
}

impl std::fmt::Debug for TokenEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEndpoint")
            .field("token_url", &self.client.token_uri().as_str())
            .field("client_id", &self.client.client_id().as_str())
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl TokenEndpoint {
    /// `http` must not follow redirects (oauth2's advice); see [`http_client`].
    pub fn new(cfg: &Config, secret: &Secret, http: reqwest::Client) -> Result<Self, String> {
        let url = cfg.token_url();
        let token_url = TokenUrl::new(url.clone())
            .map_err(|e| format!("auth.token_url {url:?} is not a valid URL: {e}"))?;
        let auth_type = match cfg.auth.auth_style {
            AuthStyle::Basic => AuthType::BasicAuth,
            AuthStyle::Post => AuthType::RequestBody,
        };
        let client = oauth2::Client::new(ClientId::new(cfg.auth.client_id.clone()))
            .set_client_secret(ClientSecret::new(secret.expose().to_string()))
            .set_token_uri(token_url)
            .set_auth_type(auth_type);
        Ok(Self {
            client,
            http,
            scopes: cfg.auth.scopes.clone(),
        })
    }

    pub fn configured_scopes(&self) -> &[String] {
        &self.scopes
    }

    /// A new session. `scopes`: `None` asks for the configured scopes; `Some(&[])` sends no
    /// `scope` at all (the server's default TTL).
    pub async fn client_credentials(&self, scopes: Option<&[String]>) -> Result<Grant, GrantError> {
        let kind = GrantKind::ClientCredentials;
        let scopes = scopes.unwrap_or(&self.scopes);
        let sent_at = Instant::now();
        let resp = self
            .client
            .exchange_client_credentials()
            .add_scopes(scopes.iter().map(|s| Scope::new(s.clone())))
            .request_async(&Endpoint(&self.http))
            .await
            .map_err(|e| classify(kind, e))?;
        Ok(to_grant(kind, resp, sent_at))
    }

    /// Continue the session of `refresh_token`.
    pub async fn refresh(&self, refresh_token: &Secret) -> Result<Grant, GrantError> {
        let kind = GrantKind::RefreshToken;
        let rt = RefreshToken::new(refresh_token.expose().to_string());
        let sent_at = Instant::now();
        let resp = self
            .client
            .exchange_refresh_token(&rt)
            .request_async(&Endpoint(&self.http))
            .await
            .map_err(|e| classify(kind, e))?;
        Ok(to_grant(kind, resp, sent_at))
    }
}

fn to_grant(kind: GrantKind, resp: TokenResp, sent_at: Instant) -> Grant {
    Grant {
        kind,
        access_token: Secret::new(resp.access_token().secret().clone()),
        refresh_token: resp
            .refresh_token()
            .map(|t| Secret::new(t.secret().clone())),
        expires_in: resp.expires_in(),
        refresh_expires_in: resp
            .extra_fields()
            .refresh_expires_in
            .map(Duration::from_secs),
        granted_scopes: resp
            .scopes()
            .map(|s| s.iter().map(|x| x.to_string()).collect()),
        sent_at,
        received_at: Instant::now(),
    }
}

fn classify<RE: std::error::Error + 'static>(
    grant: GrantKind,
    err: RequestTokenError<RE, BasicErrorResponse>,
) -> GrantError {
    match err {
        RequestTokenError::ServerResponse(r) => GrantError::Rejected {
            grant,
            code: match r.error() {
                BasicErrorResponseType::Extension(s) => s.clone(),
                other => other.as_ref().to_string(),
            },
            description: r.error_description().cloned(),
        },
        RequestTokenError::Request(e) => GrantError::Transport {
            grant,
            message: error_chain(&e),
        },
        // The body is deliberately not included: it may hold a token.
        RequestTokenError::Parse(e, _body) => GrantError::Malformed {
            grant,
            message: e.to_string(),
        },
        RequestTokenError::Other(m) => GrantError::Transport { grant, message: m },
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
