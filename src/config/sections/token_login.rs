//! `auth.kind = "token_login"` (docs/API.md §8): data platforms (Directus, Strapi, Supabase,
//! PocketBase and many vendor APIs) log in with a user name and password for an access
//! token and a refresh token, take the access token as `Bearer`, and rotate both at a
//! refresh endpoint. The shape of `[auth.token_login]` is here, with the small language of
//! `send_as` (which also takes a header template, `"Authorization: Bearer {token}"`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::session::{Carry, LoginBody, LoginMethod};
use crate::secret::Secret;

/// What the number at `lifetime` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LifetimeUnit {
    /// Seconds from now (`expires_in` style).
    #[default]
    S,
    /// Milliseconds from now (Directus's `expires`).
    Ms,
    /// An absolute expiry: Unix seconds, Unix milliseconds (a number over 10^11) or an
    /// RFC 3339 date-time.
    At,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenLoginConfig {
    /// The login: absolute URL, or a path joined to `api.base_url`.
    pub login_path: String,
    pub login_method: LoginMethod,
    pub login_body: LoginBody,
    pub username: String,
    pub username_field: String,
    pub password_field: String,
    /// Inline password: allowed, but warned about. Prefer `SUPSYNC_TOKEN_LOGIN_PASSWORD`
    /// or a file.
    #[serde(skip_serializing)]
    pub password: Option<Secret>,
    /// File holding the password (first line, trimmed).
    pub password_file: Option<PathBuf>,
    /// Extra fields of the login body (e.g. `mode = "json"`).
    pub login_extra: BTreeMap<String, String>,
    /// JSON pointers into the login and refresh answers.
    pub access_token_at: String,
    /// "" = the server issues no refresh token (every renewal is a login).
    pub refresh_token_at: String,
    /// "" = the answer states no lifetime (then the JWT's `exp`, else learned).
    pub lifetime_at: String,
    pub lifetime_unit: LifetimeUnit,
    /// The access token's lifetime as the operator knows it (0 = not set): tokens are
    /// planned with the shorter of this and what the answer or the JWT states, for a
    /// server that states none or overstates it (`supsync diagnose` measures it).
    pub lifetime_secs: u64,
    /// "" = no refresh endpoint: every renewal is a login.
    pub refresh_path: String,
    pub refresh_method: LoginMethod,
    /// The refresh token as a field of a JSON or form body.
    pub refresh_body: LoginBody,
    pub refresh_field: String,
    /// Extra fields of the refresh body (Directus: `mode = "json"`).
    pub refresh_extra: BTreeMap<String, String>,
    /// `bearer`, `header:<name>`, `cookie:<name>` or `"<Header>: <prefix>{token}"`.
    pub send_as: String,
    /// "" = no logout; else POSTed with the token, best effort, at the end of a run.
    pub logout_path: String,
}

impl Default for TokenLoginConfig {
    fn default() -> Self {
        Self {
            login_path: "/auth/login".into(),
            login_method: LoginMethod::Post,
            login_body: LoginBody::Json,
            username: "sync-bot@example.com".into(),
            username_field: "email".into(),
            password_field: "password".into(),
            password: None,
            password_file: None,
            login_extra: BTreeMap::new(),
            access_token_at: "/data/access_token".into(),
            refresh_token_at: "/data/refresh_token".into(),
            lifetime_at: "/data/expires".into(),
            lifetime_unit: LifetimeUnit::Ms,
            lifetime_secs: 0,
            refresh_path: "/auth/refresh".into(),
            refresh_method: LoginMethod::Post,
            refresh_body: LoginBody::Json,
            refresh_field: "refresh_token".into(),
            refresh_extra: BTreeMap::from([("mode".to_string(), "json".to_string())]),
            send_as: "bearer".into(),
            logout_path: String::new(),
        }
    }
}

/// `send_as` of a token login: everything [`Carry::parse`] takes (`bearer` and header
/// templates included, as for sessions).
pub fn parse_send_as(text: &str) -> Result<Carry, String> {
    Carry::parse(text).map_err(|m| {
        format!("{m}; a token login also takes bearer or \"<Header>: <prefix>{{token}}\"")
    })
}

/// `bearer`, or a header template `"<Header>: <prefix>{token}"` (e.g. `"Authorization:
/// Token {token}"`); `None` for the other forms (`header:<name>`, `cookie:<name>`).
pub fn bearer_or_template(text: &str) -> Option<Result<Carry, String>> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("bearer") {
        return Some(Ok(Carry::Bearer));
    }
    t.contains("{token}").then(|| template(t))
}

fn template(text: &str) -> Result<Carry, String> {
    let Some((name, value)) = text.split_once(':') else {
        return Err(format!(
            "{text:?} is a template without a header name: write \"Authorization: Bearer {{token}}\""
        ));
    };
    let (name, value) = (name.trim(), value.trim_start());
    let Some(prefix) = value.strip_suffix("{token}") else {
        return Err(format!(
            "{text:?}: {{token}} must end the header value (e.g. \"X-Auth: Token {{token}}\")"
        ));
    };
    if name.is_empty() || reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(format!("{name:?} is not a valid header name"));
    }
    if prefix.contains("{token}") || prefix.chars().any(char::is_control) {
        return Err(format!(
            "{text:?}: the prefix before {{token}} must be plain text"
        ));
    }
    if name.eq_ignore_ascii_case("authorization") && prefix.trim().eq_ignore_ascii_case("bearer") {
        return Ok(Carry::Bearer);
    }
    Ok(Carry::Prefixed {
        name: name.to_string(),
        prefix: prefix.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_as_takes_bearer_templates_and_the_session_forms() {
        assert_eq!(parse_send_as("bearer").unwrap(), Carry::Bearer);
        assert_eq!(
            parse_send_as("Authorization: Bearer {token}").unwrap(),
            Carry::Bearer
        );
        assert_eq!(
            parse_send_as("X-Auth: Token {token}").unwrap(),
            Carry::Prefixed {
                name: "X-Auth".into(),
                prefix: "Token ".into()
            }
        );
        assert_eq!(
            parse_send_as("header:X-Access-Token").unwrap(),
            Carry::Header("X-Access-Token".into())
        );
        assert!(parse_send_as("X Auth: {token}").is_err());
        assert!(parse_send_as("X-Auth: {token} end").is_err());
        assert!(parse_send_as("query:x").unwrap_err().contains("bearer"));
    }

    #[test]
    fn the_defaults_are_directus() {
        let t: TokenLoginConfig = toml::from_str("lifetime_unit = \"at\"").unwrap();
        assert_eq!(t.lifetime_unit, LifetimeUnit::At);
        assert_eq!(t.username_field, "email");
        assert_eq!(
            t.refresh_extra.get("mode").map(String::as_str),
            Some("json")
        );
        assert!(toml::from_str::<TokenLoginConfig>("nope = 1").is_err());
    }
}
