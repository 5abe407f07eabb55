//! `auth.token_cache`'s checks: a Redis cache needs a well-formed URL, a sane lock TTL
//! and its encryption key before any request is made; the other keys of the Redis form
//! are warned about when the cache is not Redis.

use std::path::Path;

use crate::config::Config;
use crate::config::token_cache::{TokenCacheFallback, TokenCacheMode, url_problem};
use crate::config::validate::Checker;

/// The token cache's passphrase (the same variable the file cache reads).
const CACHE_KEY_ENV: &str = "SUPSYNC_CACHE_KEY";

pub(in crate::config) fn check(config: &Config, c: &mut Checker<'_>, warnings: &mut Vec<String>) {
    let au = &config.auth;
    let TokenCacheMode::Redis(url) = &au.token_cache else {
        for (key, set) in [
            (
                "auth.token_cache_key_file",
                !au.token_cache_key_file.is_empty(),
            ),
            (
                "auth.redis_password_file",
                !au.redis_password_file.is_empty(),
            ),
            (
                "auth.token_cache_fallback",
                au.token_cache_fallback != TokenCacheFallback::Wait,
            ),
        ] {
            if set {
                warnings.push(format!(
                    "{key} is set but auth.token_cache is not a redis:// or rediss:// URL; it is \
                     not used"
                ));
            }
        }
        return;
    };
    if let Some(m) = url_problem(url) {
        c.fail("auth.token_cache", m);
    }
    c.range(
        "auth.redis_lock_ttl_ms",
        au.redis_lock_ttl_ms,
        100,
        600_000,
        " ms",
    );
    // Checked here so a run without its key stops before any request (exit 2).
    if au.token_cache_key_file.is_empty()
        && std::env::var(CACHE_KEY_ENV).map_or(true, |k| k.is_empty())
    {
        c.fail(
            "auth.token_cache_key_file",
            format!(
                "a token cache in Redis needs its encryption key: {CACHE_KEY_ENV} (a passphrase) \
                 or auth.token_cache_key_file (a mounted file of 32 random bytes), the same on \
                 every machine; the key is never stored in Redis"
            ),
        );
    }
    for (key, path) in [
        ("auth.token_cache_key_file", &au.token_cache_key_file),
        ("auth.redis_password_file", &au.redis_password_file),
    ] {
        if !path.is_empty()
            && let Err(e) = std::fs::metadata(Path::new(path))
        {
            c.fail(key, format!("cannot read {path}: {e}"));
        }
    }
}
