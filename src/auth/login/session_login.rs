//! The session login of `auth.kind = "session"` (docs/API.md §7): one request with the
//! user name and password (JSON or form, POST or PUT), and the session id read from the
//! answer's body (a JSON pointer), a header or a cookie. Read leniently, like token
//! answers (`answer.rs`): any content type, a number for an id, a quoted cookie value.
//!
//! The password and the id are [`Secret`]s; a refusal quotes the server's words only
//! after the redactor has cut both out. Whether a refused login may be tried again is the
//! login budget's call (`login_budget.rs`), not this file's.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, SET_COOKIE};

use super::answer::{MAX_ANSWER_BYTES, MAX_TOKEN_BYTES, error_text};
use super::grant_error::{GrantError, error_chain, head_too_large};
use super::granted::Grant;
use super::kinds::{GrantKind, LifetimeSource};
use super::login_budget::{LoginBudget, file_beside};
use crate::config::{Config, IdSource, LoginBody, LoginMethod};
use crate::secret::Secret;
use crate::server_text::Redactor;

const GRANT: GrantKind = GrantKind::SessionLogin;

/// How a login went wrong, before the login budget has its say.
#[derive(Debug, Clone)]
pub enum LoginError {
    /// 401 or 403: the credentials were refused. `text` is cleaned.
    Refused { status: u16, text: String },
    /// 423: the account is locked. `text` is cleaned.
    Locked {
        text: String,
        retry_after: Option<Duration>,
    },
    /// Anything else (unreachable, 5xx, a 400, an answer without an id).
    Other(GrantError),
}

/// The credential of `cfg`'s session login: kind, login URL and user name. It names the
/// token cache entry, the credential's lock and the login budget file.
pub fn credential_of(cfg: &Config) -> String {
    format!("session {} {}", cfg.login_url(), cfg.auth.session.username)
}

/// The login budget file of `cfg`'s session login beside the token cache `cache`
/// (`<state dir>/token-cache`): what `run`, `resume` and `diagnose` all read.
pub fn login_budget_file(cache: &Path, cfg: &Config) -> PathBuf {
    file_beside(cache, &credential_of(cfg))
}

/// The configured login of one user.
pub struct SessionLogin {
    url: String,
    method: reqwest::Method,
    body: LoginBody,
    user: String,
    user_field: String,
    password_field: String,
    password: Secret,
    id_from: IdSource,
    budget: LoginBudget,
    /// `auth.session.login_fields`, resolved: sent with every login.
    fields: Vec<(String, Secret)>,
}

impl std::fmt::Debug for SessionLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionLogin")
            .field("url", &self.url)
            .field("user", &self.user)
            .field("password", &self.password)
            .field("id_from", &self.id_from)
            .finish_non_exhaustive()
    }
}

impl SessionLogin {
    /// `budget_file`: where refused logins are counted across processes (else in memory).
    pub fn new(
        cfg: &Config,
        password: &Secret,
        budget_file: Option<PathBuf>,
    ) -> Result<Self, String> {
        let s = &cfg.auth.session;
        let id_from = IdSource::parse(&s.session_from)
            .map_err(|m| format!("auth.session.session_from: {m}"))?;
        let url = cfg.login_url();
        reqwest::Url::parse(&url)
            .map_err(|e| format!("auth.session.login_path {url:?} is not a valid URL: {e}"))?;
        if password.is_empty() {
            return Err("the session password is empty".into());
        }
        let fields = s
            .login_fields
            .iter()
            .map(|(name, source)| {
                source
                    .resolve_as("login field", name)
                    .map(|v| (name.clone(), v))
                    .map_err(|m| format!("auth.session.login_fields: {m}"))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let credential = credential_of(cfg);
        let mut budget = LoginBudget::new(
            &credential,
            &s.username,
            cfg.auth.max_failed_logins,
            password,
        );
        if let Some(file) = budget_file {
            budget = budget.with_file(file);
        }
        Ok(SessionLogin {
            budget,
            url,
            method: match s.login_method {
                LoginMethod::Post => reqwest::Method::POST,
                LoginMethod::Put => reqwest::Method::PUT,
            },
            body: s.login_body,
            user: s.username.clone(),
            user_field: s.username_field.clone(),
            password_field: s.password_field.clone(),
            password: password.clone(),
            id_from,
            fields,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn password(&self) -> &Secret {
        &self.password
    }

    /// The cache entry, lock and login budget of this credential: kind, login URL, user
    /// (see [`credential_of`]).
    pub fn credential(&self) -> String {
        format!("session {} {}", self.url, self.user)
    }

    /// `auth.session.login_fields`, resolved (their values are secrets like header values).
    pub fn fields(&self) -> &[(String, Secret)] {
        &self.fields
    }

    pub fn budget(&self) -> &LoginBudget {
        &self.budget
    }

    /// A login within the budget: none at all while it is spent (or the account locked);
    /// a refusal counted, and reported as what the budget makes of it.
    pub async fn login(
        &self,
        http: &reqwest::Client,
        redactor: &Redactor,
    ) -> Result<Grant, GrantError> {
        self.budget.check(SystemTime::now())?;
        match self.request(http, redactor).await {
            Ok(g) => {
                self.budget.succeeded();
                Ok(g)
            }
            Err(LoginError::Refused { status, text }) => Err(self.budget.refused(status, &text)),
            Err(LoginError::Locked { text, retry_after }) => {
                Err(self.budget.locked(&text, retry_after, SystemTime::now()))
            }
            Err(LoginError::Other(e)) => Err(e),
        }
    }

    /// One login request. On success the id is remembered by `redactor`.
    pub async fn request(
        &self,
        http: &reqwest::Client,
        redactor: &Redactor,
    ) -> Result<Grant, LoginError> {
        let other = LoginError::Other;
        let req = http
            .request(self.method.clone(), &self.url)
            .header(reqwest::header::ACCEPT, "application/json");
        let req = match self.body {
            LoginBody::Json => {
                let mut body = serde_json::Map::new();
                for (name, value) in &self.fields {
                    body.insert(name.clone(), value.expose().into());
                }
                body.insert(self.user_field.clone(), self.user.clone().into());
                body.insert(self.password_field.clone(), self.password.expose().into());
                let body = serde_json::Value::Object(body);
                req.header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.to_string())
            }
            LoginBody::Form => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.append_pair(&self.user_field, &self.user)
                    .append_pair(&self.password_field, self.password.expose());
                for (name, value) in &self.fields {
                    form.append_pair(name, value.expose());
                }
                let body = form.finish();
                req.header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(body)
            }
        };
        let sent_at = Instant::now();
        let transport = |e: reqwest::Error| {
            other(match head_too_large(&e) {
                Some(what) => GrantError::TooLarge { grant: GRANT, what },
                None => GrantError::Transport {
                    grant: GRANT,
                    message: redactor.clean(&error_chain(&e)),
                },
            })
        };
        let mut resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(other(GrantError::TooLarge {
                    grant: GRANT,
                    what: format!("its body is larger than {} KiB", MAX_ANSWER_BYTES / 1024),
                }));
            }
            body.extend_from_slice(&chunk);
        }
        let received_at = Instant::now();
        let words = || redactor.clean(&error_text(&body));
        match status {
            200..=299 => {
                let id = read_id(&self.id_from, &headers, &body).map_err(|message| {
                    other(GrantError::Malformed {
                        grant: GRANT,
                        message,
                    })
                })?;
                redactor.remember_token(id.expose());
                Ok(Grant {
                    kind: GRANT,
                    access_token: id,
                    refresh_token: None,
                    expires_in: None,
                    lifetime: None,
                    lifetime_source: LifetimeSource::Session,
                    refresh_expires_in: None,
                    granted_scopes: None,
                    sent_at,
                    received_at,
                })
            }
            401 | 403 => Err(LoginError::Refused {
                status,
                text: words(),
            }),
            423 => Err(LoginError::Locked {
                text: words(),
                retry_after: retry_after(&headers),
            }),
            429 | 500..=599 => Err(other(GrantError::Server {
                grant: GRANT,
                status,
                text: words(),
                retry_after: retry_after(&headers),
            })),
            300..=399 => Err(other(GrantError::Malformed {
                grant: GRANT,
                message: format!(
                    "HTTP {status} (a redirect, not followed: it could carry the password \
                     elsewhere)"
                ),
            })),
            _ => {
                let (code, description) = error_fields(&body);
                Err(other(GrantError::Rejected {
                    grant: GRANT,
                    code: redactor.clean_to(&code.unwrap_or_else(|| format!("HTTP {status}")), 60),
                    description: description.map(|d| redactor.clean(&d)),
                }))
            }
        }
    }
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    crate::retry_after::asked_in(headers, SystemTime::now())
}

/// `error` and `error_description` (or `message`) of a JSON error body, raw.
fn error_fields(body: &[u8]) -> (Option<String>, Option<String>) {
    let v: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field = |k: &str| {
        v.as_ref()
            .and_then(|v| v.get(k))
            .and_then(|x| x.as_str())
            .map(String::from)
    };
    (
        field("error"),
        field("error_description").or_else(|| field("message")),
    )
}

/// The session id where `from` says the answer carries it. Errors say where it was looked
/// for and what was there, never the body itself (it may hold the id or a token).
pub fn read_id(from: &IdSource, headers: &HeaderMap, body: &[u8]) -> Result<Secret, String> {
    let raw = match from {
        IdSource::Body(pointer) => {
            let json: serde_json::Value = serde_json::from_slice(body).map_err(|_| {
                let ct = headers
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("no content type");
                format!(
                    "the login answer is not JSON ({}, {} bytes), so {from} finds no session id",
                    crate::server_text::cap(&crate::server_text::strip_controls(ct), 60),
                    body.len()
                )
            })?;
            match json.pointer(pointer) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Number(n)) => n.to_string(),
                Some(other) => {
                    return Err(format!(
                        "the login answer has {} at {from}, not a session id",
                        json_kind(other)
                    ));
                }
                None => return Err(format!("the login answer has nothing at {from}")),
            }
        }
        IdSource::Header(name) => headers
            .get(name.as_str())
            .ok_or_else(|| format!("the login answer has no {name} header ({from})"))?
            .to_str()
            .map_err(|_| format!("the login answer's {name} header is not text"))?
            .to_string(),
        IdSource::Cookie(name) => cookie(headers, name)
            .ok_or_else(|| format!("the login answer sets no cookie {name} ({from})"))?,
    };
    let id = raw.trim();
    if id.is_empty() {
        return Err(format!(
            "the login answer has an empty session id at {from}"
        ));
    }
    if id.len() > MAX_TOKEN_BYTES {
        return Err(format!(
            "the session id at {from} is {} KiB; ids over {} KiB are refused",
            id.len() / 1024,
            MAX_TOKEN_BYTES / 1024
        ));
    }
    // It goes back in a header or a cookie: visible ASCII, no cookie separator.
    if !id.bytes().all(|b| b.is_ascii_graphic() && b != b';') {
        return Err(format!(
            "the session id at {from} has characters a header or cookie cannot carry"
        ));
    }
    Ok(Secret::new(id))
}

/// The value of cookie `name` set by the answer (`Set-Cookie: name=value; Path=/…`); a
/// cookie set to an empty value (a deletion) does not count.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| {
            let pair = v.split(';').next()?;
            let (n, value) = pair.split_once('=')?;
            let value = value.trim().trim_matches('"');
            (n.trim() == name && !value.is_empty()).then(|| value.to_string())
        })
        .next_back()
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
        _ => "a value",
    }
}

#[cfg(test)]
#[path = "session_login_tests.rs"]
mod tests;
