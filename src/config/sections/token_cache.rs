//! `auth.token_cache`: where tokens are shared between runs and processes. `"encrypted"`
//! (a file in the state directory, shared by the processes of one machine), `"none"`, or a
//! `redis://` / `rediss://` URL (shared by every machine that reaches that Redis or Valkey).
//! The Redis form's keys are checked in `validate_token_cache`; the password and key are read
//! at run time.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Environment variable holding the Redis password (when no password file is set).
pub const REDIS_PASSWORD_ENV: &str = "SUPSYNC_REDIS_PASSWORD";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(try_from = "String", into = "String")]
pub enum TokenCacheMode {
    /// Encrypted refresh-token cache under the state dir.
    #[default]
    Encrypted,
    /// No cache: a restarted run starts a new session.
    None,
    /// The encrypted entry and the renewal lock in Redis/Valkey at this URL.
    Redis(String),
}

impl TokenCacheMode {
    /// The URL as it may be shown (scheme, host and port only).
    pub fn shown(&self) -> String {
        match self {
            TokenCacheMode::Redis(url) => crate::config::redacted_url(url),
            other => String::from(other.clone()),
        }
    }
}

impl TryFrom<String> for TokenCacheMode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "encrypted" => Ok(TokenCacheMode::Encrypted),
            "none" => Ok(TokenCacheMode::None),
            _ if s.starts_with("redis://") || s.starts_with("rediss://") => {
                Ok(TokenCacheMode::Redis(s))
            }
            _ => Err(format!(
                "unknown value `{}`, expected `encrypted`, `none`, or a redis:// or rediss:// URL",
                s.chars().take(40).collect::<String>()
            )),
        }
    }
}

impl From<TokenCacheMode> for String {
    fn from(m: TokenCacheMode) -> String {
        match m {
            TokenCacheMode::Encrypted => "encrypted".into(),
            TokenCacheMode::None => "none".into(),
            TokenCacheMode::Redis(url) => url,
        }
    }
}

/// What a run does while its Redis token cache cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TokenCacheFallback {
    /// Say so and try again with backoff: no process logs in on its own.
    #[default]
    Wait,
    /// Warn and log in as this process alone (a second session of the credential).
    OwnLogin,
}

impl fmt::Display for TokenCacheFallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenCacheFallback::Wait => "wait",
            TokenCacheFallback::OwnLogin => "own_login",
        })
    }
}

/// What is wrong with a Redis URL, in words that never repeat a password in it.
pub fn url_problem(url: &str) -> Option<String> {
    let shown = crate::config::redacted_url(url);
    let u = match url::Url::parse(url) {
        Ok(u) => u,
        Err(e) => return Some(format!("not a valid URL ({e})")),
    };
    if !matches!(u.scheme(), "redis" | "rediss") {
        return Some(format!("{shown}: the scheme must be redis or rediss"));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Some(format!("{shown}: the URL names no host"));
    }
    if u.password().is_some() {
        return Some(format!(
            "{shown}: the URL carries a password; put it in {REDIS_PASSWORD_ENV} or the file \
             named by auth.redis_password_file (the user name may stay in the URL)"
        ));
    }
    let db = u.path().trim_start_matches('/');
    if !db.is_empty() && db.parse::<u16>().is_err() {
        return Some(format!(
            "{shown}: the path must be a database number (e.g. /0)"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_read_and_write_back() {
        for s in [
            "encrypted",
            "none",
            "redis://cache:6379/0",
            "rediss://u@cache",
        ] {
            let m = TokenCacheMode::try_from(s.to_string()).unwrap();
            assert_eq!(String::from(m), s);
        }
        let e = TokenCacheMode::try_from("plain".to_string()).unwrap_err();
        assert!(e.starts_with("unknown value `plain`"), "{e}");
    }

    #[test]
    fn url_problems_never_show_the_password() {
        assert_eq!(url_problem("redis://127.0.0.1:6379"), None);
        assert_eq!(url_problem("rediss://svc@cache.example:6380/2"), None);
        let m = url_problem("redis://svc:hunter2@cache.example/0").unwrap();
        assert!(
            m.contains(REDIS_PASSWORD_ENV) && !m.contains("hunter2"),
            "{m}"
        );
        assert!(url_problem("redis://cache/x").is_some());
        assert!(url_problem("redis:///0").is_some());
    }
}
