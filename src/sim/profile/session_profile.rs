//! `[session]` of a profile (docs/API.md §7): session logins instead of bearer tokens —
//! the login, logout and keep-alive paths, the users, where the session id is handed out
//! and how calls carry it, its two clocks and the lockout rule. Off by default.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionProfile {
    /// Resource calls take a session id instead of a bearer token.
    pub enabled: bool,
    pub login_path: String,
    pub logout_path: String,
    pub keepalive_path: String,
    /// user name → password
    pub users: BTreeMap<String, String>,
    pub id_in: IdIn,
    pub carry: SessionIdCarry,
    pub header_name: String,
    pub cookie_name: String,
    /// Sliding idle window. 0 = off.
    pub idle_secs: u64,
    /// Absolute cap from the login. 0 = off.
    pub cap_secs: u64,
    /// A successful login ends the user's other live sessions.
    pub single_session: bool,
    /// Consecutive failed logins that lock a user. 0 = never.
    pub lockout_after: u32,
    pub lockout_secs: u64,
    /// Server work per login request (a password hash), so that logins of one user sent at
    /// the same time overlap and are counted as concurrent.
    pub login_ms: u64,
    /// The words of a refused login's 401 (`error_description`); "" answers a bare 401
    /// with no body, which says nothing about why.
    pub refusal_text: String,
    /// Fields every login must carry with these values besides the user name and password
    /// (a tenant or workspace id); a login without them is answered 400.
    pub login_fields: BTreeMap<String, String>,
    /// Extra `Set-Cookie` headers on a successful login's answer (a login that sets many
    /// cookies; past 100 header lines a client's HTTP parser gives up). 0 = none.
    #[serde(default)]
    pub login_extra_cookies: u32,
    /// The words of a call refused because the session reached `cap_secs`, in a vendor's
    /// own form (`"session expired (absolute)"`, which names no time); `""` = `Session
    /// expired after <cap>`.
    #[serde(default)]
    pub cap_text: String,
    /// The words of a call refused because the session sat unused past `idle_secs`, in a
    /// vendor's form that names no window (`"session inactive"`); `""` = `Session idle for
    /// <t> (idle timeout <w>)`.
    #[serde(default)]
    pub idle_text: String,
}

/// Where a successful login puts the session id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdIn {
    /// `{"sessionId": …, "user": …}`.
    Body,
    /// A response header named `header_name`.
    Header,
    /// `Set-Cookie: <cookie_name>=<id>; Path=/; HttpOnly`.
    Cookie,
}

/// How resource calls carry the session id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionIdCarry {
    /// A header named `header_name`.
    Header,
    /// A `Cookie:` header holding `<cookie_name>=<id>` among any others.
    Cookie,
    /// `Authorization: Bearer <id>`.
    Bearer,
}

/// Paths the simulator serves itself: a session path may not take one of them.
const TAKEN: [&str; 3] = [
    "/oauth/token",
    "/api/v1/health",
    crate::sim::profile::CONTRACT_PATH,
];

impl SessionProfile {
    /// Checks values serde cannot. Paths are checked even while sessions are off, so a
    /// profile that is wrong does not wait for `enabled = true` to say so.
    pub fn check(&self) -> Result<(), String> {
        let paths = [
            ("login_path", &self.login_path),
            ("logout_path", &self.logout_path),
            ("keepalive_path", &self.keepalive_path),
        ];
        for (key, path) in paths {
            check_path(key, path)?;
        }
        for (i, (key, path)) in paths.iter().enumerate() {
            if let Some((other, _)) = paths[..i].iter().find(|(_, p)| p == path) {
                return Err(format!(
                    "[session] {key} = {path:?} is also {other}; each session path must differ"
                ));
            }
        }
        if self.users.is_empty() {
            return Err("[session] users needs at least one user-name = \"password\"".into());
        }
        if let Some(user) = self.users.keys().find(|u| u.is_empty()) {
            return Err(format!("[session] users: the user name {user:?} is empty"));
        }
        if axum::http::HeaderName::from_bytes(self.header_name.as_bytes()).is_err() {
            return Err(format!(
                "[session] header_name = {:?} is not a valid HTTP header name",
                self.header_name
            ));
        }
        let cookie_ok = !self.cookie_name.is_empty()
            && self
                .cookie_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !cookie_ok {
            return Err(format!(
                "[session] cookie_name = {:?} is not a valid cookie name (letters, digits and \
                 !#$%&'*+-.^_`|~ only)",
                self.cookie_name
            ));
        }
        if self.lockout_after > 0 && self.lockout_secs == 0 {
            return Err(
                "[session] lockout_secs must be at least 1 when lockout_after is not 0".into(),
            );
        }
        for (key, text) in [("cap_text", &self.cap_text), ("idle_text", &self.idle_text)] {
            if text.len() > 200 || text.chars().any(char::is_control) {
                return Err(format!(
                    "[session] {key} must be at most 200 characters, without control characters"
                ));
            }
        }
        if self.login_extra_cookies > 10_000 {
            return Err(format!(
                "[session] login_extra_cookies = {} is over 10000",
                self.login_extra_cookies
            ));
        }
        if self.login_ms > 60_000 {
            return Err(format!(
                "[session] login_ms = {} is over a minute; a login that slow is surely a typo",
                self.login_ms
            ));
        }
        Ok(())
    }
}

/// A path the router can serve as written: absolute, no pattern syntax, not the
/// simulator's own.
fn check_path(key: &str, path: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("[session] {key} = {path:?} {why}"));
    if !path.starts_with('/') || path.len() < 2 {
        return bad("must be a path such as \"/api/v1/session/login\"");
    }
    if path
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "{}*:?#".contains(c))
    {
        return bad("must not hold spaces, `{`, `}`, `*`, `:`, `?` or `#`");
    }
    if path.starts_with("/_sim") || TAKEN.contains(&path) {
        return bad("is a path the simulator already serves");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::sim::profile::Profile;

    fn err(toml: &str) -> String {
        Profile::from_toml(toml).expect_err("profile is refused")
    }

    #[test]
    fn realistic_defaults_follow_api_md() {
        let s = Profile::default().session;
        assert!(!s.enabled);
        assert_eq!(s.login_path, "/api/v1/session/login");
        assert_eq!(s.logout_path, "/api/v1/session/logout");
        assert_eq!(s.keepalive_path, "/api/v1/session/keepalive");
        assert_eq!(
            s.users.get("sync-bot").map(String::as_str),
            Some("change-me")
        );
        assert_eq!(s.id_in, super::IdIn::Body);
        assert_eq!(s.carry, super::SessionIdCarry::Header);
        assert_eq!(s.header_name, "X-Session-Id");
        assert_eq!(s.cookie_name, "SESSIONID");
        assert_eq!((s.idle_secs, s.cap_secs), (900, 3600));
        assert!(s.single_session);
        assert_eq!((s.lockout_after, s.lockout_secs), (5, 1800));
        let d = Profile::builtin("demo").unwrap().session;
        assert!(!d.enabled, "demo keeps bearer tokens");
        assert_eq!((d.idle_secs, d.cap_secs, d.lockout_secs), (15, 60, 30));
    }

    #[test]
    fn every_key_has_a_row_in_api_md() {
        let api = include_str!("../../../docs/API.md");
        let realistic: toml::Table = toml::from_str(include_str!("../../../assets/realistic.toml"))
            .expect("realistic.toml parses");
        let keys = realistic["session"].as_table().expect("[session]").keys();
        assert_eq!(keys.len(), 17);
        for key in keys {
            assert!(
                api.contains(&format!("| `{key}` |")),
                "§7.1 has no row for {key}"
            );
        }
    }

    #[test]
    fn bad_keys_and_values_are_named() {
        let e = err("[session]\nidle = 3\n");
        assert!(e.contains("[session] idle") && e.contains("line 2"), "{e}");
        let e = err("[session]\nid_in = \"query\"\n");
        assert!(e.contains("id_in") && e.contains("query"), "{e}");
        let e = err("[session]\ncarry = \"body\"\n");
        assert!(e.contains("carry") && e.contains("body"), "{e}");
        let e = err("[session]\nidle_secs = -1\n");
        assert!(e.contains("idle_secs"), "{e}");
        let e = err("[session]\nusers = {}\n");
        assert!(e.contains("[session] users"), "{e}");
        let e = err("[session]\nlogin_path = \"login\"\n");
        assert!(e.contains("[session] login_path"), "{e}");
        let e = err("[session]\nlogout_path = \"/api/v1/health\"\n");
        assert!(
            e.contains("logout_path") && e.contains("already serves"),
            "{e}"
        );
        let e = err("[session]\nkeepalive_path = \"/api/v1/session/login\"\n");
        assert!(
            e.contains("keepalive_path") && e.contains("login_path"),
            "{e}"
        );
        let e = err("[session]\nlogin_path = \"/a/{id}\"\n");
        assert!(e.contains("login_path"), "{e}");
        let e = err("[session]\nheader_name = \"X Session\"\n");
        assert!(e.contains("header_name"), "{e}");
        let e = err("[session]\ncookie_name = \"a=b\"\n");
        assert!(e.contains("cookie_name"), "{e}");
        let e = err("[session]\nlockout_secs = 0\n");
        assert!(e.contains("lockout_secs"), "{e}");
        assert!(Profile::from_toml("[session]\nlockout_after = 0\nlockout_secs = 0\n").is_ok());
        let e = err("session = 1\n");
        assert!(e.contains("`session`") && e.contains("table"), "{e}");
    }
}
