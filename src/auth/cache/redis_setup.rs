//! A Redis token cache from the configuration: the password (a file, else
//! `SUPSYNC_REDIS_PASSWORD`) and the encryption key (`SUPSYNC_CACHE_KEY`, else a mounted key
//! file), both read here and neither ever written to Redis.

use std::path::Path;
use std::time::Duration;

use super::keys::{CACHE_KEY_ENV, KeySource, file_key};
use super::{RedisSettings, TokenCache};
use crate::config::token_cache::REDIS_PASSWORD_ENV;
use crate::config::{Config, TokenCacheMode};
use crate::secret::Secret;

/// The Redis cache of the credential whose entry key is `entry`, with the password it
/// authenticates with (to be kept out of server text); `Ok(None)` when the cache is not in
/// Redis.
pub fn redis_cache(
    cfg: &Config,
    entry: &str,
) -> Result<Option<(TokenCache, Option<Secret>)>, String> {
    let TokenCacheMode::Redis(url) = &cfg.auth.token_cache else {
        return Ok(None);
    };
    if let Some(m) = crate::config::token_cache::url_problem(url) {
        return Err(format!("auth.token_cache: {m}"));
    }
    let au = &cfg.auth;
    let password = match au.redis_password_file.as_str() {
        "" => std::env::var(REDIS_PASSWORD_ENV)
            .ok()
            .filter(|p| !p.is_empty())
            .map(Secret::new),
        path => Some(
            first_line(Path::new(path)).map_err(|m| format!("auth.redis_password_file: {m}"))?,
        ),
    };
    let keys = match (
        std::env::var(CACHE_KEY_ENV).ok().filter(|p| !p.is_empty()),
        au.token_cache_key_file.as_str(),
    ) {
        (_, path) if !path.is_empty() => {
            // Read now, so that a missing or wrong mounted key stops the run before any
            // request instead of at the first write (and is never made up here: every
            // machine must have the same key).
            file_key(Path::new(path), false)
                .map_err(|m| format!("auth.token_cache_key_file: {m}"))?;
            KeySource::KeyFile(path.into())
        }
        (Some(p), _) => KeySource::Passphrase(Secret::new(p)),
        (None, _) => {
            return Err(format!(
                "auth.token_cache: a token cache in Redis needs its encryption key from \
                 {CACHE_KEY_ENV} (a passphrase) or auth.token_cache_key_file (a mounted 32-byte \
                 key file), the same on every machine; the key is never stored in Redis"
            ));
        }
    };
    let settings = RedisSettings {
        url: url.clone(),
        password: password.clone(),
        lock_ttl: Duration::from_millis(au.redis_lock_ttl_ms),
        fallback: au.token_cache_fallback,
    };
    let cache = TokenCache::in_redis(settings, entry, keys)?;
    Ok(Some((cache, password)))
}

fn first_line(path: &Path) -> Result<Secret, String> {
    // The error text comes from the OS, never from the content.
    let text = crate::safe_file::read_text_capped(path, crate::safe_file::SECRET_CAP)
        .map_err(|e| e.explain(path, "Redis password file", "one password"))?;
    match text.lines().next().map(str::trim) {
        Some(p) if !p.is_empty() => Ok(Secret::new(p)),
        _ => Err(format!(
            "the Redis password file {} is empty (its first line is the password)",
            path.display()
        )),
    }
}
