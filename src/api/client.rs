//! The calls of docs/API.md §3: each takes a token from the manager, reports activity
//! and `X-Token-Expires-In` back to it, and replays once after a premature 401.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::classify::{self, Rejection};
use super::headers::extra_headers;
use super::keepalive;
use super::{ApiClient, ApiError, ConnectOptions, PushResult, config_error};
use crate::auth::answer::parse_secs_header;
use crate::auth::audit::Audit;
use crate::auth::cache::TokenCache;
use crate::auth::client_auth::{self, Peer, presents_certificate};
use crate::auth::grant::TokenEndpoint;
use crate::auth::login_budget;
use crate::auth::status::{ExpiredKind, TokenStatus};
use crate::auth::{AccessToken, ManagerSettings, TokenManager};
use crate::config::{AuthKind, Carry, Config, TokenCacheMode, check_transport};
use crate::record::Supplier;
use crate::secret::Secret;

/// How long a token has left as of a response, per docs/API.md §3.1.
pub const EXPIRES_IN_HEADER: &str = "x-token-expires-in";

enum CallResult {
    Ok(Reply),
    /// The token is dead: a 401, or a 403 or 200 matching `auth.expired_when`.
    Unauthorized(ExpiredKind, Rejection),
}

/// A successful answer, or a non-success one the caller asked to read itself (a
/// per-record reject or "already exists").
pub(super) struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
    /// The URL answered (next links are relative to it).
    pub url: reqwest::Url,
}

impl ApiClient {
    /// Gets the first token (from the cache or a new session) and starts the background
    /// refresh and keep-alive tasks, which stop when `cancel` fires.
    pub async fn connect(
        cfg: &Config,
        client_secret: Secret,
        opts: ConnectOptions,
        cancel: CancellationToken,
    ) -> Result<Arc<ApiClient>, ApiError> {
        let allow = cfg.api.allow_insecure_http;
        let session = cfg.auth.kind == AuthKind::Session;
        let token_login = cfg.auth.kind == AuthKind::TokenLogin;
        check_transport(&cfg.api.base_url, allow)
            .map_err(|e| config_error(format!("api.base_url: {e}")))?;
        let auth_key = match cfg.auth.kind {
            AuthKind::Session => "auth.session.login_path",
            AuthKind::TokenLogin => "auth.token_login.login_path",
            AuthKind::ApiKey => "api.base_url",
            AuthKind::Oauth2 => "auth.token_url",
        };
        check_transport(&cfg.auth_url(), allow)
            .map_err(|e| config_error(format!("{auth_key}: {e}")))?;
        // Checked by config validation; built again here so a caller that skipped it
        // still cannot send a request with a mapping that cannot work.
        let mapping = crate::mapping::ApiMapping::build(&cfg.api.mapping, &cfg.api.batch_path)
            .map_err(|problems| {
                let shown: Vec<String> = problems
                    .iter()
                    .map(|p| format!("api.{}: {}", p.key, p.message))
                    .collect();
                config_error(shown.join("; "))
            })?;
        let base_url = reqwest::Url::parse(&cfg.api.base_url)
            .map_err(|e| config_error(format!("api.base_url: {e}")))?;
        let timeout = Duration::from_secs(cfg.api.timeout_secs.max(1));
        // One client when both peers see the same identity (shared connection pool).
        let token_http =
            client_auth::http_client(cfg, Peer::TokenEndpoint, timeout).map_err(config_error)?;
        let http = if presents_certificate(cfg, Peer::Api)
            == presents_certificate(cfg, Peer::TokenEndpoint)
        {
            token_http.clone()
        } else {
            client_auth::http_client(cfg, Peer::Api, timeout).map_err(config_error)?
        };
        let headers = extra_headers(cfg)?;
        // Checked by config validation; parsed again so a skipped check cannot run wrong.
        let expired_when = crate::config::expired_when::parse_all(&cfg.auth.expired_when)
            .map_err(|p| config_error(format!("auth.expired_when: {}", p.join("; "))))?;
        // A session login's credential (cache entry, lock, login budget): kind, login URL
        // and user name.
        let credential = match token_login {
            true => crate::auth::token_login::credential_of(cfg),
            false => crate::auth::session_login::credential_of(cfg),
        };
        let budget_file = opts
            .token_cache
            .as_deref()
            .filter(|_| session || token_login)
            .map(|path| login_budget::file_beside(path, &credential));
        let endpoint =
            TokenEndpoint::with_login_budget(cfg, &client_secret, token_http, budget_file)
                .map_err(config_error)?;
        if let Some(login) = endpoint.session() {
            // Server text that echoes a login field loses it, as for api.headers.
            for (name, value) in login.fields() {
                endpoint
                    .redactor()
                    .pin(&format!("{name} login field"), value.expose());
            }
        }
        let client_auth = endpoint.client_auth().clone();
        if let Some(w) = client_auth.expiry_warning(std::time::SystemTime::now()) {
            tracing::warn!("{w}");
        }
        let entry = match session || token_login {
            true => credential.clone(),
            false => crate::auth::cache::client_entry(
                &cfg.token_url(),
                &cfg.auth.client_id,
                &cfg.auth.scopes,
            ),
        };
        // A static key has nothing to share or renew: no shared store for it.
        let remote = match cfg.auth.kind {
            AuthKind::ApiKey => None,
            _ => crate::auth::cache::redis_cache(cfg, &entry).map_err(config_error)?,
        };
        let cache = match (
            &cfg.auth.token_cache,
            opts.token_cache
                .filter(|_| cfg.auth.kind != AuthKind::ApiKey),
            session || token_login,
        ) {
            (TokenCacheMode::Redis(_), _, _) => remote.map(|(cache, password)| {
                if let Some(p) = password {
                    endpoint.redactor().pin("Redis password", p.expose());
                }
                cache
            }),
            (TokenCacheMode::Encrypted, Some(path), true) => {
                Some(TokenCache::for_session(path, &credential))
            }
            (TokenCacheMode::Encrypted, Some(path), false) => Some(TokenCache::new(
                path,
                &cfg.token_url(),
                &cfg.auth.client_id,
                &cfg.auth.scopes,
            )),
            _ => None,
        };
        let carry = match cfg.auth.kind {
            AuthKind::Session => Carry::parse(&cfg.auth.session.send_as)
                .map_err(|m| config_error(format!("auth.session.send_as: {m}")))?,
            AuthKind::TokenLogin => {
                crate::config::token_login::parse_send_as(&cfg.auth.token_login.send_as)
                    .map_err(|m| config_error(format!("auth.token_login.send_as: {m}")))?
            }
            AuthKind::ApiKey => crate::config::api_key::parse_send_as(&cfg.auth.api_key.send_as)
                .map_err(|m| config_error(format!("auth.api_key.send_as: {m}")))?,
            AuthKind::Oauth2 => Carry::Bearer,
        };
        let optional_url = |path: &str| (!path.is_empty()).then(|| cfg.api_url(path));
        let settings = ManagerSettings {
            refresh_margin: Duration::from_secs(cfg.auth.refresh_margin_secs),
            keepalive: Duration::from_secs(cfg.auth.keepalive_secs.max(1)),
            idle_hint: (cfg.auth.idle_timeout_secs > 0)
                .then(|| Duration::from_secs(cfg.auth.idle_timeout_secs)),
            session_hint: (cfg.auth.session_limit_secs > 0)
                .then(|| Duration::from_secs(cfg.auth.session_limit_secs)),
            min_renew_interval: Duration::from_millis(cfg.auth.min_token_interval_ms),
            refresh_window: (cfg.auth.refresh_window_secs > 0)
                .then(|| Duration::from_secs(cfg.auth.refresh_window_secs)),
            single_session: session && cfg.auth.session.single,
            refresh_window_text: cfg.auth.refresh_window_text.clone(),
            max_retry_after: Duration::from_secs(cfg.sync.max_retry_after_secs),
        };
        let tokens = TokenManager::new(
            endpoint,
            settings,
            cache,
            Audit::open(opts.audit_log.as_deref()),
        );
        for (name, value) in &headers {
            // Server text that echoes the header loses it (error bodies, 401 reasons).
            if let Ok(v) = value.to_str() {
                tokens.redactor().pin(&format!("{name} header"), v);
            }
        }
        let background = cancel.child_token();
        tokens.start(background.clone()).await?;
        let client = Arc::new(ApiClient {
            http,
            headers,
            client_auth,
            tokens: Arc::clone(&tokens),
            carry,
            health_url: cfg.api_url(&cfg.api.health_path),
            keepalive_url: optional_url(&cfg.auth.session.keepalive_path)
                .filter(|_| session)
                .unwrap_or_else(|| cfg.api_url(&cfg.api.health_path)),
            keepalive_method: match session && !cfg.auth.session.keepalive_path.is_empty() {
                true => cfg.auth.session.keepalive_method.as_reqwest(),
                false => reqwest::Method::GET,
            },
            logout_url: match token_login {
                true => optional_url(&cfg.auth.token_login.logout_path),
                false => optional_url(&cfg.auth.session.logout_path).filter(|_| session),
            },
            // A token login's logout is a POST; a session's takes its configured method.
            logout_method: match token_login {
                true => reqwest::Method::POST,
                false => cfg.auth.session.logout_method.as_reqwest(),
            },
            batch_url: cfg.api_url(&cfg.api.batch_path),
            mapping: Arc::new(mapping),
            base: base_url,
            page_size: cfg.sync.segment_size.max(1),
            chain: Default::default(),
            max_retry_after: Duration::from_secs(cfg.sync.max_retry_after_secs),
            pacer: super::ratelimit::Pacer::new(cfg.sync.max_requests_per_sec),
            max_answer_bytes: cfg.api.max_page_bytes,
            expired_when,
            redactor: Arc::clone(tokens.redactor()),
            error_body_seen: Default::default(),
            cancel: cancel.clone(),
            background: std::sync::Mutex::new(Some(background.clone())),
        });
        if let Some(ender) = client.session_ender() {
            tokens.set_session_ender(ender);
        }
        tokio::spawn(keepalive::run(Arc::downgrade(&client), tokens, background));
        Ok(client)
    }

    pub async fn health(&self) -> Result<(), ApiError> {
        self.call(self.http.get(&self.health_url)).await.map(|_| ())
    }

    /// The keep-alive call: `auth.session.keepalive_path` when set, else health.
    pub async fn keep_alive(&self) -> Result<(), ApiError> {
        self.call(
            self.http
                .request(self.keepalive_method.clone(), &self.keepalive_url),
        )
        .await
        .map(|_| ())
    }

    /// What the keep-alive calls, for the log.
    pub(super) fn keepalive_url(&self) -> &str {
        &self.keepalive_url
    }

    /// `results` are in the order of `records`.
    pub async fn push_batch(
        &self,
        idempotency_key: &str,
        records: &[Supplier],
    ) -> Result<Vec<PushResult>, ApiError> {
        self.push(idempotency_key, &self.prepare_push(records)?)
            .await
    }

    /// Token state, published by the token manager on every change (renewal, failure,
    /// 401, a noticeable move of the server's deadline). `renewals` and `sessions` are the
    /// run's `token_renewals` and `sessions`; `sessions` is 0 when the run continued a
    /// cached session.
    pub fn token_status(&self) -> watch::Receiver<TokenStatus> {
        self.tokens.status()
    }

    /// The token events (renewals, failures, keep-alive) so far and to come.
    pub fn token_log(
        &self,
    ) -> (
        Vec<crate::auth::audit::AuditLine>,
        tokio::sync::broadcast::Receiver<crate::auth::audit::AuditLine>,
    ) {
        self.tokens.token_log()
    }

    /// Renew the token now (operator's `f`).
    pub async fn force_refresh(&self) -> Result<(), ApiError> {
        tokio::select! {
            _ = self.cancel.cancelled() => Err(ApiError::Cancelled),
            r = self.tokens.force_refresh() => r.map_err(ApiError::Auth),
        }
    }

    /// How the client authenticates (method, certificate and its expiry), for the token
    /// pane, `status` and `diagnose`.
    pub fn client_auth(&self) -> &client_auth::ClientAuthInfo {
        &self.client_auth
    }

    /// The token manager behind this client (renewal counters are in its status).
    /// "RateLimit: 120/min" once the server has stated its quota.
    pub fn paced_by(&self) -> Option<String> {
        self.pacer.label()
    }

    pub fn tokens(&self) -> &Arc<TokenManager> {
        &self.tokens
    }

    /// One call with at most one replay after a 401 (the request is cloned per attempt).
    async fn call(&self, req: reqwest::RequestBuilder) -> Result<Vec<u8>, ApiError> {
        self.call_reading(req, &|_| false).await.map(|r| r.body)
    }

    /// [`Self::call`], but non-success statuses for which `read` holds come back as a
    /// [`Reply`] for the caller to interpret.
    pub(super) async fn call_reading(
        &self,
        req: reqwest::RequestBuilder,
        read: &(dyn Fn(u16) -> bool + Sync),
    ) -> Result<Reply, ApiError> {
        let req = req
            .build()
            .map_err(|e| config_error(format!("cannot build the request: {e}")))?;
        let attempt = async {
            // The permit is let go before any renewal: a single-session renewal waits for
            // every call holding one.
            let (token, permit) = self.tokens.call_token().await?;
            let first = self.send(&req, &token, read).await;
            drop(permit);
            let first = match first? {
                CallResult::Ok(body) => return Ok(body),
                CallResult::Unauthorized(kind, r) => (kind, r),
            };
            // The token died early: renew (or take what another caller renewed) and
            // replay once.
            self.tokens
                .on_unauthorized(token.generation, first.0, &first.1.description)
                .await?;
            let (token, permit) = self.tokens.call_token().await?;
            let second = self.send(&req, &token, read).await;
            drop(permit);
            match second? {
                CallResult::Ok(body) => Ok(body),
                CallResult::Unauthorized(kind, second) => {
                    if let Some(fatal) =
                        self.tokens
                            .note_unauthorized(token.generation, kind, &second.description)
                    {
                        return Err(ApiError::Auth(fatal));
                    }
                    Err(ApiError::Unauthorized {
                        description: second.description,
                    })
                }
            }
        };
        tokio::select! {
            _ = self.cancel.cancelled() => Err(ApiError::Cancelled),
            r = attempt => r,
        }
    }

    async fn send(
        &self,
        req: &reqwest::Request,
        token: &AccessToken,
        read: &(dyn Fn(u16) -> bool + Sync),
    ) -> Result<CallResult, ApiError> {
        let mut req = req
            .try_clone()
            .ok_or_else(|| config_error("request body cannot be replayed".into()))?;
        for (name, value) in &self.headers {
            req.headers_mut().insert(name.clone(), value.clone());
        }
        // Named before a key joins the query, so no message can show it.
        let req_line = super::body::RequestLine::of(&req);
        super::session::attach_credential(req.headers_mut(), &self.carry, &token.secret)?;
        let key_in_url = match &self.carry {
            Carry::Query(name) => {
                req.url_mut()
                    .query_pairs_mut()
                    .append_pair(name, token.secret.expose());
                true
            }
            _ => false,
        };
        // Inside the configured cap and the quota the server stated.
        let wait = self.pacer.reserve(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        self.tokens.note_activity();
        let resp = self.http.execute(req).await.map_err(|e| {
            // reqwest's words carry the URL, and with it a key in the query.
            let e = if key_in_url { e.without_url() } else { e };
            classify::transport_error(&e)
        })?;
        let at = Instant::now();
        let url = resp.url().clone();
        let status = resp.status();
        let headers = resp.headers().clone();
        self.pacer.observe(&headers, at);
        // Bounded (a year at most): the header is the server's word, not to be trusted
        // with a deadline computation.
        if let Some(secs) = headers
            .get(EXPIRES_IN_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_secs_header)
        {
            self.tokens.observe_expires_in(token.generation, at, secs);
        }
        // A body that breaks off (a connection cut mid-answer) is transient like any cut;
        // one larger than the cap is refused before it is held whole.
        let body = super::body::read_capped(resp, self.max_answer_bytes, req_line).await?;
        let expired = if status == reqwest::StatusCode::UNAUTHORIZED {
            Some(ExpiredKind::Status401)
        } else if status == reqwest::StatusCode::FORBIDDEN && self.tokens.is_api_key() {
            // A static key that is forbidden stays forbidden: a definite refusal.
            Some(ExpiredKind::Status403)
        } else {
            let code = status.as_u16();
            self.expired_when
                .iter()
                .find(|r| r.matches(code, &body))
                .map(|r| match r.status {
                    403 => ExpiredKind::Status403,
                    200 => ExpiredKind::Body200,
                    _ => ExpiredKind::Status401,
                })
        };
        if let Some(kind) = expired {
            return Ok(CallResult::Unauthorized(
                kind,
                classify::expired_rejection(kind, &headers, &body, &self.redactor),
            ));
        }
        if status.is_success()
            || (status.is_client_error() && status != reqwest::StatusCode::FORBIDDEN)
        {
            self.tokens.note_accepted(token.generation);
        }
        if status.is_success() || read(status.as_u16()) {
            Ok(CallResult::Ok(Reply {
                status: status.as_u16(),
                headers,
                body: body.to_vec(),
                url,
            }))
        } else {
            Err(classify::status_error(
                status,
                &headers,
                &body,
                self.max_retry_after,
                &self.redactor,
            ))
        }
    }
}
