//! The two OAuth2 grants of docs/API.md §1.3, through the `oauth2` crate, returning what the token
//! manager and `diagnose` need to know about each answer. Tokens come back as [`Secret`]s.
//! With `auth.kind = "session"` the same endpoint logs in instead (docs/API.md §7): every
//! new session is a login, and there is no refresh.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
};
use oauth2::{
    AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, RefreshToken, Scope,
    StandardRevocableToken, TokenResponse, TokenUrl,
};

use super::answer::{self, LenientTokenResponse};
use super::client_auth::{ASSERTION_TYPE, AssertionSigner, ClientAuthInfo};
pub use super::grant_error::{GrantError, error_chain, head_too_large};
pub use super::granted::Grant;
pub use super::http::{POOL_IDLE_TIMEOUT, http_client, http_client_builder};
use super::kinds::{GrantKind, LifetimeSource};
use super::session_login::SessionLogin;
use super::token_login::TokenLogin;
use super::wire::{Endpoint, classify};
use crate::config::{AuthKind, ClientAuthMethod, Config};
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

/// The token endpoint of one configured client, or (`auth.kind = "session"`) its login.
#[derive(Clone)]
pub struct TokenEndpoint {
    flavor: Flavor,
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

/// How a new credential is had: OAuth2 grants, or a session login (whose "new session" is
/// a login, and which has no refresh).
#[derive(Clone)]
enum Flavor {
    OAuth2(Box<OAuthClient>),
    Session(Arc<SessionLogin>),
    /// `auth.kind = "token_login"`: a new session is a login, a refresh goes to its
    /// refresh endpoint.
    TokenLogin(Arc<TokenLogin>),
    /// `auth.kind = "api_key"`: the key is the credential; nothing is ever asked for.
    ApiKey(Secret),
}

impl std::fmt::Debug for TokenEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.flavor {
            Flavor::OAuth2(client) => f
                .debug_struct("TokenEndpoint")
                .field("token_url", &client.token_uri().as_str())
                .field("client_id", &client.client_id().as_str())
                .field("scopes", &self.scopes)
                .field("method", &self.info.method)
                .finish_non_exhaustive(),
            Flavor::Session(s) => f
                .debug_struct("TokenEndpoint")
                .field("session", s)
                .finish_non_exhaustive(),
            Flavor::TokenLogin(t) => f
                .debug_struct("TokenEndpoint")
                .field("token_login", t)
                .finish_non_exhaustive(),
            Flavor::ApiKey(k) => f
                .debug_struct("TokenEndpoint")
                .field("api_key", k)
                .finish_non_exhaustive(),
        }
    }
}

impl TokenEndpoint {
    /// `http` must not follow redirects (oauth2's advice); see [`http_client`]. With
    /// `tls_client_auth` it must present the client certificate: build it with
    /// [`super::client_auth::http_client`]. `secret` is used only by the secret methods
    /// (`auth.method`), or is the session password with `auth.kind = "session"`; the
    /// other methods read their key files here. A session login counts refused logins in
    /// memory; see [`TokenEndpoint::with_login_budget`] to keep them in a file.
    pub fn new(cfg: &Config, secret: &Secret, http: reqwest::Client) -> Result<Self, String> {
        Self::with_login_budget(cfg, secret, http, None)
    }

    /// [`TokenEndpoint::new`], a session login's refused logins counted in
    /// `login_budget_file` too (see [`super::login_budget::file_beside`]), so later
    /// processes respect them. The caller holds the credential's lock around logins.
    pub fn with_login_budget(
        cfg: &Config,
        secret: &Secret,
        http: reqwest::Client,
        login_budget_file: Option<PathBuf>,
    ) -> Result<Self, String> {
        let redactor = Arc::new(Redactor::new());
        let base = |flavor, signer| Self {
            flavor,
            http,
            scopes: cfg.auth.scopes.clone(),
            fallback_ttl_secs: cfg.auth.expected_ttl_secs,
            redactor: Arc::clone(&redactor),
            signer,
            extra_params: cfg
                .auth
                .extra_params
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            extra_on_refresh: cfg.auth.extra_params_on_refresh,
            info: super::client_auth::info(cfg),
        };
        if cfg.auth.kind == AuthKind::Session {
            redactor.pin("session password", secret.expose());
            // As a JSON login body carries it, should a server echo the body.
            if let Ok(quoted) = serde_json::to_string(secret.expose())
                && let Some(inner) = quoted.strip_prefix('"').and_then(|q| q.strip_suffix('"'))
            {
                redactor.pin("session password", inner);
            }
            let login = SessionLogin::new(cfg, secret, login_budget_file)?;
            return Ok(base(Flavor::Session(Arc::new(login)), None));
        }
        if cfg.auth.kind == AuthKind::TokenLogin {
            redactor.pin("token login password", secret.expose());
            if let Ok(quoted) = serde_json::to_string(secret.expose())
                && let Some(inner) = quoted.strip_prefix('"').and_then(|q| q.strip_suffix('"'))
            {
                redactor.pin("token login password", inner);
            }
            let login = TokenLogin::new(cfg, secret, login_budget_file)?;
            return Ok(base(Flavor::TokenLogin(Arc::new(login)), None));
        }
        if cfg.auth.kind == AuthKind::ApiKey {
            redactor.pin("API key", secret.expose());
            return Ok(base(Flavor::ApiKey(secret.clone()), None));
        }
        let url = cfg.token_url();
        let token_url = TokenUrl::new(url.clone())
            .map_err(|e| format!("auth.token_url {url:?} is not a valid URL: {e}"))?;
        let method = cfg.client_auth_method();
        let client =
            oauth2::Client::new(ClientId::new(cfg.auth.client_id.clone())).set_token_uri(token_url);
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
        Ok(base(Flavor::OAuth2(Box::new(client)), signer))
    }

    /// The session login, with `auth.kind = "session"`.
    pub fn session(&self) -> Option<&SessionLogin> {
        match &self.flavor {
            Flavor::Session(s) => Some(s),
            Flavor::OAuth2(_) | Flavor::TokenLogin(_) | Flavor::ApiKey(_) => None,
        }
    }

    /// The token login, with `auth.kind = "token_login"`.
    pub fn token_login(&self) -> Option<&TokenLogin> {
        match &self.flavor {
            Flavor::TokenLogin(t) => Some(t),
            _ => None,
        }
    }

    /// True with `auth.kind = "api_key"`: no renewal, and a refusal is final.
    pub fn is_api_key(&self) -> bool {
        matches!(self.flavor, Flavor::ApiKey(_))
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

    /// Which credential this is (token endpoint and client, or login and user), e.g. for
    /// pacing requests.
    pub fn credential(&self) -> String {
        match &self.flavor {
            Flavor::OAuth2(client) => format!(
                "{} {}",
                client.token_uri().as_str(),
                client.client_id().as_str()
            ),
            Flavor::Session(s) => s.credential(),
            Flavor::TokenLogin(t) => t.credential(),
            Flavor::ApiKey(k) => format!("API key {}", k.fingerprint()),
        }
    }

    pub fn configured_scopes(&self) -> &[String] {
        &self.scopes
    }

    /// A new session. `scopes`: `None` asks for the configured scopes; `Some(&[])` sends no
    /// `scope` at all (the server's default TTL). With a session login: a login (scopes do
    /// not apply), within the login budget.
    pub async fn client_credentials(&self, scopes: Option<&[String]>) -> Result<Grant, GrantError> {
        let kind = GrantKind::ClientCredentials;
        let client = match &self.flavor {
            Flavor::OAuth2(c) => c,
            Flavor::Session(s) => return s.login(&self.http, &self.redactor).await,
            Flavor::TokenLogin(t) => return t.login(&self.http, &self.redactor).await,
            Flavor::ApiKey(k) => return Ok(static_key(k)),
        };
        let scopes = scopes.unwrap_or(&self.scopes);
        let mut req = client
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
        let endpoint = Endpoint::new(&self.http);
        let resp = req
            .request_async(&endpoint)
            .await
            .map_err(|e| classify(kind, e, &self.redactor))?;
        let server_now = endpoint.server_now(SystemTime::now());
        Ok(self.to_grant(kind, resp, sent_at, server_now))
    }

    /// Continue the session of `refresh_token`.
    pub async fn refresh(&self, refresh_token: &Secret) -> Result<Grant, GrantError> {
        let kind = GrantKind::RefreshToken;
        let client = match &self.flavor {
            Flavor::OAuth2(c) => c,
            // A session is never refreshed (it has no refresh token): the caller logs in.
            Flavor::Session(_) => {
                return Err(GrantError::Malformed {
                    grant: GrantKind::SessionLogin,
                    message: "internal: a session login has no refresh".into(),
                });
            }
            Flavor::TokenLogin(t) => {
                return t.refresh(&self.http, &self.redactor, refresh_token).await;
            }
            Flavor::ApiKey(_) => {
                return Err(GrantError::Malformed {
                    grant: GrantKind::ApiKey,
                    message: "internal: an API key is never refreshed".into(),
                });
            }
        };
        let rt = RefreshToken::new(refresh_token.expose().to_string());
        let mut req = client.exchange_refresh_token(&rt);
        let extra: &[(String, String)] = if self.extra_on_refresh {
            &self.extra_params
        } else {
            &[]
        };
        for (k, v) in extra.iter().chain(&self.assertion_params(kind)?) {
            req = req.add_extra_param(k.clone(), v.clone());
        }
        let sent_at = Instant::now();
        let endpoint = Endpoint::new(&self.http);
        let resp = req
            .request_async(&endpoint)
            .await
            .map_err(|e| classify(kind, e, &self.redactor))?;
        let server_now = endpoint.server_now(SystemTime::now());
        Ok(self.to_grant(kind, resp, sent_at, server_now))
    }
}

impl TokenEndpoint {
    /// `server_now`: the answer's own clock, which a JWT `exp` without `iat` is read against.
    fn to_grant(
        &self,
        kind: GrantKind,
        resp: LenientTokenResponse,
        sent_at: Instant,
        server_now: SystemTime,
    ) -> Grant {
        let access = resp.access_token().secret().clone();
        let (lifetime, lifetime_source) = answer::lifetime(
            resp.expires_in_secs(),
            &access,
            self.fallback_ttl_secs,
            server_now,
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

/// The "grant" of a static key: the key itself, with no lifetime (nothing renews it).
fn static_key(key: &Secret) -> Grant {
    let now = Instant::now();
    Grant {
        kind: GrantKind::ApiKey,
        access_token: key.clone(),
        refresh_token: None,
        expires_in: None,
        lifetime: None,
        lifetime_source: LifetimeSource::Static,
        refresh_expires_in: None,
        granted_scopes: None,
        sent_at: now,
        received_at: now,
    }
}
