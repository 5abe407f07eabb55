//! The login of `auth.kind = "token_login"` (docs/API.md §8): a user name and password
//! buy an access token and a refresh token, read from the answer at JSON pointers, with a
//! lifetime from the answer (seconds, milliseconds or an absolute time), else the JWT's
//! `exp`, else learned from the first expired answer. The refresh endpoint rotates both
//! tokens; the token manager treats it like an OAuth2 refresh (single flight, the cache
//! written before the new token is used, a refused refresh falling back to a login).
//!
//! Passwords and tokens are [`Secret`]s; server words are quoted only after the redactor
//! has cut them out.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::answer::{MAX_ANSWER_BYTES, MAX_LIFETIME_SECS, MAX_TOKEN_BYTES, MIN_LIFETIME_SECS};
use super::answer::{error_text, jwt_lifetime};
use super::grant_error::{GrantError, error_chain};
use super::granted::Grant;
use super::kinds::{GrantKind, LifetimeSource};
use super::login_budget::LoginBudget;
use crate::config::token_login::{LifetimeUnit, TokenLoginConfig};
use crate::config::{Config, LoginBody, LoginMethod};
use crate::secret::Secret;
use crate::server_text::Redactor;

/// The credential of `cfg`'s token login: it names the cache entry, the lock and the
/// login budget file.
pub fn credential_of(cfg: &Config) -> String {
    format!(
        "token_login {} {}",
        cfg.auth_url(),
        cfg.auth.token_login.username
    )
}

pub struct TokenLogin {
    cfg: TokenLoginConfig,
    url: String,
    refresh_url: Option<String>,
    password: Secret,
    budget: LoginBudget,
    /// A lifetime learned from the first expired answer when the server states none.
    learned: Mutex<Option<Duration>>,
}

impl std::fmt::Debug for TokenLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenLogin")
            .field("url", &self.url)
            .field("user", &self.cfg.username)
            .field("password", &self.password)
            .field("refresh_url", &self.refresh_url)
            .finish_non_exhaustive()
    }
}

fn method(m: LoginMethod) -> reqwest::Method {
    match m {
        LoginMethod::Post => reqwest::Method::POST,
        LoginMethod::Put => reqwest::Method::PUT,
    }
}

impl TokenLogin {
    pub fn new(
        cfg: &Config,
        password: &Secret,
        budget_file: Option<PathBuf>,
    ) -> Result<Self, String> {
        let t = &cfg.auth.token_login;
        let url = cfg.auth_url();
        reqwest::Url::parse(&url)
            .map_err(|e| format!("auth.token_login.login_path {url:?} is not a valid URL: {e}"))?;
        let refresh_url = (!t.refresh_path.is_empty()).then(|| cfg.api_url(&t.refresh_path));
        if let Some(r) = &refresh_url {
            reqwest::Url::parse(r).map_err(|e| {
                format!("auth.token_login.refresh_path {r:?} is not a valid URL: {e}")
            })?;
        }
        if password.is_empty() {
            return Err("the token login password is empty".into());
        }
        let mut budget = LoginBudget::new(
            &credential_of(cfg),
            &t.username,
            cfg.auth.max_failed_logins,
            password,
        )
        .with_keys(super::login_budget::TOKEN_LOGIN_KEYS);
        if let Some(file) = budget_file {
            budget = budget.with_file(file);
        }
        Ok(TokenLogin {
            cfg: t.clone(),
            url,
            refresh_url,
            password: password.clone(),
            budget,
            learned: Mutex::new(None),
        })
    }

    pub fn credential(&self) -> String {
        format!("token_login {} {}", self.url, self.cfg.username)
    }

    pub fn user(&self) -> &str {
        &self.cfg.username
    }

    /// Whether renewals can refresh (else each is a login).
    pub fn refreshes(&self) -> bool {
        self.refresh_url.is_some()
    }

    /// A token whose lifetime nobody stated died `age` after it was asked for: later tokens
    /// are planned with that lifetime.
    pub fn learn_lifetime(&self, age: Duration) -> bool {
        if age < Duration::from_secs(MIN_LIFETIME_SECS) {
            return false;
        }
        let mut l = self.learned.lock().unwrap_or_else(|p| p.into_inner());
        let new = l.is_none_or(|old| age < old);
        if new {
            *l = Some(age);
        }
        new
    }

    /// Whether the budget of refused logins allows a login now (`diagnose` tells "no login
    /// sent" from "refused" with it).
    pub fn may_log_in(&self) -> Result<(), GrantError> {
        self.budget.check(SystemTime::now())
    }

    /// A login within the budget: none while it is spent; a refusal counted.
    pub async fn login(
        &self,
        http: &reqwest::Client,
        redactor: &Redactor,
    ) -> Result<Grant, GrantError> {
        self.budget.check(SystemTime::now())?;
        let mut fields = vec![
            (self.cfg.username_field.clone(), self.cfg.username.clone()),
            (
                self.cfg.password_field.clone(),
                self.password.expose().to_string(),
            ),
        ];
        fields.extend(self.cfg.login_extra.clone());
        let grant = GrantKind::TokenLogin;
        let req = body(
            http.request(method(self.cfg.login_method), &self.url),
            self.cfg.login_body,
            &fields,
        );
        match self.exchange(req, grant, redactor).await {
            Ok(g) => {
                self.budget.succeeded();
                Ok(g)
            }
            Err(Failed::Refused(status, text)) => Err(self.budget.refused(status, &text)),
            Err(Failed::Other(e)) => Err(e),
        }
    }

    /// Presents `refresh_token` once; a refusal is [`GrantError::Rejected`] (the manager
    /// then logs in anew), a busy or unreachable server transient.
    pub async fn refresh(
        &self,
        http: &reqwest::Client,
        redactor: &Redactor,
        refresh_token: &Secret,
    ) -> Result<Grant, GrantError> {
        let grant = GrantKind::RefreshToken;
        let Some(url) = &self.refresh_url else {
            return Err(GrantError::Malformed {
                grant,
                message: "internal: no auth.token_login.refresh_path to refresh at".into(),
            });
        };
        let mut fields = vec![(
            self.cfg.refresh_field.clone(),
            refresh_token.expose().to_string(),
        )];
        fields.extend(self.cfg.refresh_extra.clone());
        let req = body(
            http.request(method(self.cfg.refresh_method), url),
            self.cfg.refresh_body,
            &fields,
        );
        match self.exchange(req, grant, redactor).await {
            Ok(g) => Ok(g),
            Err(Failed::Refused(status, text)) => Err(GrantError::Rejected {
                grant,
                code: format!("HTTP {status}"),
                description: (!text.is_empty()).then_some(text),
            }),
            Err(Failed::Other(e)) => Err(e),
        }
    }

    async fn exchange(
        &self,
        req: reqwest::RequestBuilder,
        grant: GrantKind,
        redactor: &Redactor,
    ) -> Result<Grant, Failed> {
        let other = |e| Failed::Other(e);
        let transport = |e: reqwest::Error| {
            other(GrantError::Transport {
                grant,
                message: redactor.clean(&error_chain(&e)),
            })
        };
        let sent_at = Instant::now();
        let mut resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| crate::retry_after::asked(v, SystemTime::now()));
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(other(GrantError::Malformed {
                    grant,
                    message: format!("the answer is larger than {} KiB", MAX_ANSWER_BYTES / 1024),
                }));
            }
            bytes.extend_from_slice(&chunk);
        }
        let received_at = Instant::now();
        let words =
            || redactor.clean(&platform_words(&bytes).unwrap_or_else(|| error_text(&bytes)));
        match status {
            200..=299 => {}
            400 | 401 | 403 => return Err(Failed::Refused(status, words())),
            429 | 500..=599 => {
                return Err(other(GrantError::Server {
                    grant,
                    status,
                    text: words(),
                    retry_after,
                }));
            }
            _ => {
                return Err(other(GrantError::Malformed {
                    grant,
                    message: format!("HTTP {status} (redirects are not followed)"),
                }));
            }
        }
        let malformed = |message: String| other(GrantError::Malformed { grant, message });
        let json: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|_| malformed(format!("the answer is not JSON ({} bytes)", bytes.len())))?;
        let access = token_at(&json, &self.cfg.access_token_at, "access_token_at")
            .map_err(&malformed)?
            .ok_or_else(|| {
                malformed(format!(
                    "the answer has no access token at {} (auth.token_login.access_token_at)",
                    self.cfg.access_token_at
                ))
            })?;
        redactor.remember_token(access.expose());
        let refresh_token = match self.cfg.refresh_token_at.as_str() {
            "" => None,
            p => token_at(&json, p, "refresh_token_at").map_err(&malformed)?,
        };
        if let Some(rt) = &refresh_token {
            redactor.remember_token(rt.expose());
        }
        let stated = match self.cfg.lifetime_at.as_str() {
            "" => None,
            p => json
                .pointer(p)
                .and_then(|v| lifetime_of(v, self.cfg.lifetime_unit, SystemTime::now())),
        };
        let (lifetime, source) = match stated {
            Some(d) => (Some(d), LifetimeSource::ExpiresIn),
            None => match jwt_lifetime(access.expose(), SystemTime::now()) {
                Some(s) => (Some(Duration::from_secs(s)), LifetimeSource::JwtExp),
                None => match *self.learned.lock().unwrap_or_else(|p| p.into_inner()) {
                    Some(d) => (Some(d), LifetimeSource::Learned),
                    None => (None, LifetimeSource::Unstated),
                },
            },
        };
        // The operator's figure wins when it is shorter: a server may overstate.
        let (lifetime, source) = match (self.cfg.lifetime_secs, lifetime) {
            (0, l) => (l, source),
            (n, Some(l)) if l <= Duration::from_secs(n) => (Some(l), source),
            (n, _) => (Some(Duration::from_secs(n)), LifetimeSource::Configured),
        };
        let lifetime = lifetime.map(|d| d.min(Duration::from_secs(MAX_LIFETIME_SECS)));
        let (lifetime, source) = match lifetime {
            Some(d) if d < Duration::from_secs(MIN_LIFETIME_SECS) => {
                (None, LifetimeSource::TooShort)
            }
            l => (l, source),
        };
        Ok(Grant {
            kind: grant,
            access_token: access,
            refresh_token,
            expires_in: stated,
            lifetime,
            lifetime_source: source,
            refresh_expires_in: refresh_lifetime(&json, &self.cfg.access_token_at),
            granted_scopes: None,
            sent_at,
            received_at,
        })
    }
}

enum Failed {
    /// 400, 401 or 403, with the server's cleaned words.
    Refused(u16, String),
    Other(GrantError),
}

fn body(
    req: reqwest::RequestBuilder,
    shape: LoginBody,
    fields: &[(String, String)],
) -> reqwest::RequestBuilder {
    let req = req.header(reqwest::header::ACCEPT, "application/json");
    match shape {
        LoginBody::Json => {
            let map: serde_json::Map<String, serde_json::Value> = fields
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            req.header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(serde_json::Value::Object(map).to_string())
        }
        LoginBody::Form => {
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in fields {
                s.append_pair(k, v);
            }
            req.header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(s.finish())
        }
    }
}

/// A token at `pointer`: `None` when absent or null; an error for anything unusable.
fn token_at(json: &serde_json::Value, pointer: &str, key: &str) -> Result<Option<Secret>, String> {
    match json.pointer(pointer) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => {
            let t = s.trim();
            if t.is_empty() {
                Ok(None)
            } else if t.len() > MAX_TOKEN_BYTES {
                Err(format!(
                    "the token at {pointer} is over {} KiB",
                    MAX_TOKEN_BYTES / 1024
                ))
            } else if !t.bytes().all(|b| b.is_ascii_graphic()) {
                Err(format!(
                    "the token at {pointer} has characters a header cannot carry"
                ))
            } else {
                Ok(Some(Secret::new(t)))
            }
        }
        Some(_) => Err(format!(
            "the answer has no text at {pointer} (auth.token_login.{key})"
        )),
    }
}

/// The refresh token's own lifetime when the answer states it, in seconds, beside the
/// access token (`refresh_expires_in` as OAuth2 servers spell it, or
/// `refresh_token_expires_in`); the token manager then logs in again before it ends.
pub fn refresh_lifetime(json: &serde_json::Value, access_token_at: &str) -> Option<Duration> {
    let parent = access_token_at.rsplit_once('/').map_or("", |(p, _)| p);
    let holder = json.pointer(parent)?;
    ["refresh_expires_in", "refresh_token_expires_in"]
        .iter()
        .find_map(|k| holder.get(k))
        .and_then(|v| lifetime_of(v, LifetimeUnit::S, SystemTime::now()))
        .filter(|d| !d.is_zero())
        .map(|d| d.min(Duration::from_secs(MAX_LIFETIME_SECS)))
}

/// The lifetime a value at `lifetime_at` states, counted from `now`.
pub fn lifetime_of(v: &serde_json::Value, unit: LifetimeUnit, now: SystemTime) -> Option<Duration> {
    let number = match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match (unit, number) {
        (LifetimeUnit::S, Some(n)) if n >= 0.0 => Some(Duration::from_secs_f64(n.min(1e12))),
        (LifetimeUnit::Ms, Some(n)) if n >= 0.0 => {
            Some(Duration::from_secs_f64(n.min(1e15) / 1000.0))
        }
        (LifetimeUnit::At, Some(n)) if n >= 0.0 => {
            let secs = if n > 1e11 { n / 1000.0 } else { n };
            let at = UNIX_EPOCH + Duration::from_secs_f64(secs.min(1e12));
            Some(at.duration_since(now).unwrap_or_default())
        }
        (LifetimeUnit::At, None) => {
            let at = chrono::DateTime::parse_from_rfc3339(v.as_str()?.trim()).ok()?;
            let at: SystemTime = at.with_timezone(&chrono::Utc).into();
            Some(at.duration_since(now).unwrap_or_default())
        }
        _ => None,
    }
}

/// The words of a data platform's error body: `{"errors":[{"message", "extensions":
/// {"code"}}]}` (Directus, GraphQL) or `{"error": {"message"}}`; raw, for the redactor.
pub fn platform_words(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let first = v
        .pointer("/errors/0")
        .or_else(|| v.get("error").filter(|e| e.is_object()))?;
    let message = first.get("message").and_then(|m| m.as_str());
    let code = first
        .pointer("/extensions/code")
        .or_else(|| first.get("code"))
        .and_then(|c| c.as_str());
    match (message, code) {
        (Some(m), Some(c)) => Some(format!("{m} ({c})")),
        (Some(m), None) => Some(m.to_string()),
        (None, Some(c)) => Some(c.to_string()),
        (None, None) => None,
    }
}

#[cfg(test)]
#[path = "token_login_tests.rs"]
mod tests;
