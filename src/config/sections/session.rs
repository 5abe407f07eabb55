//! `auth.kind = "session"` (docs/API.md §7): the API wants a session id from a login with a
//! user name and password instead of an OAuth2 bearer token. The shape of `[auth.session]`
//! is here, and the two small languages in it: where the login answer puts the id
//! (`session_from`) and how calls carry it (`send_as`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// How supsync authenticates to the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AuthKind {
    /// OAuth2 grants at `auth.token_url` (docs/API.md §1), a bearer token on every call.
    #[default]
    Oauth2,
    /// A login at `auth.session.login_path`; a session id on every call.
    Session,
    /// A login at `auth.token_login.login_path` for an access and a refresh token
    /// (`token_login.rs`).
    #[serde(rename = "token_login")]
    TokenLogin,
    /// A static key from `SUPSYNC_API_KEY` or `auth.api_key.key_file` on every call
    /// (`api_key.rs`); no renewal.
    #[serde(rename = "api_key")]
    ApiKey,
}

impl AuthKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthKind::Oauth2 => "oauth2",
            AuthKind::Session => "session",
            AuthKind::TokenLogin => "token_login",
            AuthKind::ApiKey => "api_key",
        }
    }
}

/// The login request's HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum LoginMethod {
    #[default]
    #[serde(rename = "POST", alias = "post")]
    Post,
    #[serde(rename = "PUT", alias = "put")]
    Put,
}

/// The HTTP method of the logout and the keep-alive calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallMethod {
    #[serde(rename = "GET", alias = "get")]
    Get,
    #[serde(rename = "POST", alias = "post")]
    Post,
    #[serde(rename = "PUT", alias = "put")]
    Put,
    #[serde(rename = "DELETE", alias = "delete")]
    Delete,
}

impl CallMethod {
    pub fn as_reqwest(self) -> reqwest::Method {
        match self {
            CallMethod::Get => reqwest::Method::GET,
            CallMethod::Post => reqwest::Method::POST,
            CallMethod::Put => reqwest::Method::PUT,
            CallMethod::Delete => reqwest::Method::DELETE,
        }
    }
}

/// How the login request's body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LoginBody {
    /// `{"username": "…", "password": "…"}` as `application/json`.
    #[default]
    Json,
    /// `username=…&password=…` as `application/x-www-form-urlencoded`.
    Form,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// The login: absolute URL, or a path joined to `api.base_url`.
    pub login_path: String,
    pub login_method: LoginMethod,
    pub login_body: LoginBody,
    pub username: String,
    pub username_field: String,
    pub password_field: String,
    /// Inline password: allowed, but warned about. Prefer `SUPSYNC_SESSION_PASSWORD` or a file.
    #[serde(skip_serializing)]
    pub password: Option<Secret>,
    /// File holding the password (first line, trimmed).
    pub password_file: Option<PathBuf>,
    /// `body:<JSON pointer>`, `header:<name>` or `cookie:<name>`.
    pub session_from: String,
    /// `header:<name>` or `cookie:<name>`.
    pub send_as: String,
    /// "" = `api.health_path`; else a path (GET) that slides the idle window.
    pub keepalive_path: String,
    /// "" = no logout; else called, best effort, at the end of a run (and before a renewal
    /// of a single-session login).
    pub logout_path: String,
    /// The logout's method (POST by default; some vendors want PUT or DELETE).
    pub logout_method: CallMethod,
    /// The keep-alive call's method (GET by default).
    pub keepalive_method: CallMethod,
    /// Fields the login carries besides the user name and password (a tenant or workspace
    /// id), each a value, `{ env = "VAR" }` or `{ file = "/path" }` like `api.headers`.
    pub login_fields: BTreeMap<String, crate::config::headers::HeaderSource>,
    /// The server keeps one session per user: a new login ends the old one. Renewals then
    /// stop new calls, wait for those in flight, log out, log in, and go on.
    pub single: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            login_path: "/api/v1/session/login".into(),
            login_method: LoginMethod::Post,
            login_body: LoginBody::Json,
            username: "sync-bot".into(),
            username_field: "username".into(),
            password_field: "password".into(),
            password: None,
            password_file: None,
            session_from: "body:/sessionId".into(),
            send_as: "header:X-Session-Id".into(),
            keepalive_path: String::new(),
            logout_path: String::new(),
            logout_method: CallMethod::Post,
            keepalive_method: CallMethod::Get,
            login_fields: BTreeMap::new(),
            single: false,
        }
    }
}

/// Where the login answer carries the session id (`auth.session.session_from`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdSource {
    /// A JSON pointer into the body (`""` is the whole body).
    Body(String),
    Header(String),
    Cookie(String),
}

/// How each call carries the credential (`auth.session.send_as`; bearer for OAuth2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Carry {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// `<name>: <id>`.
    Header(String),
    /// `Cookie: <name>=<id>`.
    Cookie(String),
    /// `<name>: <prefix><token>` (a token login's header template).
    Prefixed { name: String, prefix: String },
    /// `?<name>=<key>` on the URL (an API key's `query:<name>`).
    Query(String),
}

impl IdSource {
    pub fn parse(text: &str) -> Result<IdSource, String> {
        let (kind, rest) = split(text, "body:<JSON pointer>, header:<name> or cookie:<name>")?;
        match (kind.as_str(), rest) {
            ("body", p) if p.is_empty() || p.starts_with('/') => Ok(IdSource::Body(p.into())),
            ("body", p) => Err(format!(
                "{p:?} is not a JSON pointer: it starts with / (e.g. body:/sessionId or \
                 body:/data/session/id)"
            )),
            ("header", name) => header_name(name).map(|()| IdSource::Header(name.into())),
            ("cookie", name) => cookie_name(name).map(|()| IdSource::Cookie(name.into())),
            (other, _) => Err(format!(
                "{other:?} is not a place for the id: use body:<JSON pointer>, header:<name> \
                 or cookie:<name>"
            )),
        }
    }
}

impl std::fmt::Display for IdSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdSource::Body(p) => write!(f, "body:{p}"),
            IdSource::Header(n) => write!(f, "header:{n}"),
            IdSource::Cookie(n) => write!(f, "cookie:{n}"),
        }
    }
}

impl Carry {
    pub fn parse(text: &str) -> Result<Carry, String> {
        // `bearer` and header templates (`"Authorization: Token {token}"`).
        if let Some(carry) = crate::config::token_login::bearer_or_template(text) {
            return carry;
        }
        let (kind, rest) = split(text, "header:<name> or cookie:<name>")?;
        match (kind.as_str(), rest) {
            ("header", name) => header_name(name).map(|()| Carry::Header(name.into())),
            ("cookie", name) => cookie_name(name).map(|()| Carry::Cookie(name.into())),
            (other, _) => Err(format!(
                "{other:?} is not a way to send the id: use header:<name> or cookie:<name>"
            )),
        }
    }
}

impl std::fmt::Display for Carry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Carry::Bearer => f.write_str("bearer"),
            Carry::Header(n) => write!(f, "header:{n}"),
            Carry::Cookie(n) => write!(f, "cookie:{n}"),
            Carry::Prefixed { name, prefix } => write!(f, "{name}: {prefix}{{token}}"),
            Carry::Query(n) => write!(f, "query:{n}"),
        }
    }
}

/// `kind:rest`, the kind lower-cased.
fn split<'a>(text: &'a str, forms: &str) -> Result<(String, &'a str), String> {
    let Some((kind, rest)) = text.trim().split_once(':') else {
        return Err(format!("{text:?} has no kind: write {forms}"));
    };
    let kind = kind.trim().to_ascii_lowercase();
    Ok((kind, rest.trim()))
}

fn header_name(name: &str) -> Result<(), String> {
    match reqwest::header::HeaderName::from_bytes(name.as_bytes()) {
        Ok(_) if !name.is_empty() => Ok(()),
        _ => Err(format!("{name:?} is not a valid header name")),
    }
}

/// A cookie name is an RFC 6265 §4.1.1 token: visible ASCII without separators.
fn cookie_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?={}".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!("{name:?} is not a valid cookie name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_sources_parse_and_print_back() {
        for text in [
            "body:/sessionId",
            "body:/data/0/id",
            "header:X-Session-Id",
            "cookie:SESSIONID",
        ] {
            assert_eq!(IdSource::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(
            IdSource::parse(" Body:/a ").unwrap(),
            IdSource::Body("/a".into())
        );
        assert_eq!(IdSource::parse("body:").unwrap(), IdSource::Body("".into()));
        let bad = |t: &str| IdSource::parse(t).unwrap_err();
        assert!(bad("sessionId").contains("no kind"), "{}", bad("sessionId"));
        assert!(bad("body:sessionId").contains("JSON pointer"));
        assert!(bad("header:X Session").contains("not a valid header name"));
        assert!(bad("cookie:a;b").contains("not a valid cookie name"));
        assert!(bad("query:sid").contains("not a place"));
    }

    #[test]
    fn carries_parse_and_print_back() {
        for text in ["header:X-Session-Id", "cookie:SESSIONID"] {
            assert_eq!(Carry::parse(text).unwrap().to_string(), text);
        }
        assert!(Carry::parse("body:/x").unwrap_err().contains("not a way"));
        assert!(Carry::parse("cookie:").unwrap_err().contains("cookie name"));
        assert!(Carry::parse("header:").unwrap_err().contains("header name"));
    }

    #[test]
    fn kinds_and_methods_read_as_documented() {
        #[derive(Deserialize)]
        struct T {
            k: AuthKind,
            m: LoginMethod,
            b: LoginBody,
        }
        let t: T = toml::from_str("k = \"session\"\nm = \"PUT\"\nb = \"form\"").unwrap();
        assert_eq!(
            (t.k, t.m, t.b),
            (AuthKind::Session, LoginMethod::Put, LoginBody::Form)
        );
        let t: T = toml::from_str("k = \"oauth2\"\nm = \"post\"\nb = \"json\"").unwrap();
        assert_eq!(
            (t.k, t.m, t.b),
            (AuthKind::Oauth2, LoginMethod::Post, LoginBody::Json)
        );
        assert!(toml::from_str::<T>("k = \"saml\"\nm = \"POST\"\nb = \"json\"").is_err());
    }
}
