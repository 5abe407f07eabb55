//! `[token_login]` of a profile (docs/API.md §8): a data platform's login (Directus's
//! shape) in front of the token store — `POST login_path {"email","password"}` answers
//! `{"data":{"access_token","refresh_token","expires"}}`, `POST refresh_path
//! {"refresh_token","mode":"json"}` rotates both (reuse detection per `[tokens]`), calls
//! carry `Bearer`, and a dead token is a 401 with a JSON `errors` body. Off by default.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenLoginProfile {
    pub enabled: bool,
    pub login_path: String,
    pub refresh_path: String,
    pub logout_path: String,
    /// The login body's user field (the password is always `password`).
    pub user_field: String,
    /// user → password
    pub users: BTreeMap<String, String>,
    /// The scopes a login is granted: their TTLs (`[tokens] scope_ttl_secs`) apply, and
    /// `offline_access` brings a refresh token when `issue_refresh_token` asks for it.
    pub scopes: Vec<String>,
    /// How the answer states the lifetime: `ms` (Directus's `expires`), `s`, or `none`.
    pub lifetime_in: LifetimeIn,
    /// The answer also states the refresh token's own lifetime, as `refresh_expires_in`
    /// in seconds beside the tokens (Directus does not; OAuth2-minded platforms do).
    pub state_refresh_lifetime: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifetimeIn {
    Ms,
    S,
    /// No `expires` at all (with opaque tokens the client must learn the lifetime).
    None,
}

impl Default for TokenLoginProfile {
    fn default() -> Self {
        Self {
            enabled: false,
            login_path: "/auth/login".into(),
            refresh_path: "/auth/refresh".into(),
            logout_path: "/auth/logout".into(),
            user_field: "email".into(),
            users: BTreeMap::from([("sync-bot@example.com".into(), "change-me".into())]),
            scopes: vec!["supplier_mgmt".into(), "offline_access".into()],
            lifetime_in: LifetimeIn::Ms,
            state_refresh_lifetime: false,
        }
    }
}

impl TokenLoginProfile {
    pub fn check(&self, session_enabled: bool) -> Result<(), String> {
        if !self.enabled {
            return Ok(());
        }
        if session_enabled {
            return Err(
                "[token_login] and [session] cannot both be enabled: calls carry either a \
                 bearer token or a session id"
                    .into(),
            );
        }
        let paths = [
            ("login_path", &self.login_path),
            ("refresh_path", &self.refresh_path),
            ("logout_path", &self.logout_path),
        ];
        for (key, p) in paths {
            if !p.starts_with('/')
                || p.starts_with("/_sim")
                || p.starts_with("/api/")
                || p == "/oauth/token"
            {
                return Err(format!(
                    "[token_login] {key} = {p:?} must be a path starting with / outside /api/, /oauth/token \
                     and /_sim"
                ));
            }
        }
        for (i, (key, p)) in paths.iter().enumerate() {
            if paths[..i].iter().any(|(_, q)| q == p) {
                return Err(format!("[token_login] {key} = {p:?} is used twice"));
            }
        }
        if self.users.is_empty() {
            return Err("[token_login] users needs at least one user = \"password\"".into());
        }
        Ok(())
    }
}
