//! The token cache in Redis or Valkey, for processes on several machines that share one
//! credential (`auth.token_cache = "redis://…"`).
//!
//! - The entry is the file cache's entry, encrypted the same way with a key that never
//!   leaves the machines (`SUPSYNC_CACHE_KEY` or a mounted key file), under
//!   `supsync:cred:<SHA-256 of the credential's key>`: token URL, client id and scopes, or
//!   a login's kind, URL and user. No secret is part of a Redis key.
//! - Its write serial is a Redis counter beside it (`INCR`), so readers on every machine
//!   see one increasing sequence.
//! - The renewal lock is `SET <key>:lock <random owner> NX PX <ttl>`, released only by its
//!   owner (compare-and-delete in one Lua script). A holder that dies loses it at its
//!   expiry; there is never a stale lock to clean up. While its holder lives, the lock is
//!   extended every third of its lifetime, so a renewal slower than the lifetime (a drain
//!   of calls before a single-session login) keeps it.
//! - Every Redis error is reported as the cache being unreachable: the token manager then
//!   waits for it or, when told to, goes on with a login of its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, IntoConnectionInfo};
use sha2::{Digest, Sha256};

use super::CacheError;
use crate::config::TokenCacheFallback;
use crate::secret::Secret;

/// A Redis that answers within this long is up; one that does not is treated as down.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Pauses between attempts at a busy lock: a renewal elsewhere takes milliseconds to a
/// second, and every attempt is a round trip to Redis.
const POLL_MIN: Duration = Duration::from_millis(20);
const POLL_MAX: Duration = Duration::from_millis(250);
/// Entries of credentials no longer used go away by themselves.
const ENTRY_TTL_SECS: u64 = 30 * 24 * 3600;

/// Deletes the lock only when it is still the caller's: a lock that expired and was taken
/// by another process is left to that process.
const RELEASE: &str = r#"if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
else
  return 0
end"#;

/// Extends the lock only while it is still the caller's.
const EXTEND: &str = r#"if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
else
  return 0
end"#;

/// How to reach the Redis of a token cache.
pub struct RedisSettings {
    pub url: String,
    pub password: Option<Secret>,
    pub lock_ttl: Duration,
    pub fallback: TokenCacheFallback,
}

pub struct RedisStore {
    client: redis::Client,
    /// Scheme, host and port: the only form of the URL that is shown.
    shown: String,
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    entry_key: String,
    serial_key: String,
    lock_key: String,
    lock_ttl: Duration,
    fallback: TokenCacheFallback,
    /// Whether the last operation found Redis unreachable (an outage is told once).
    down: AtomicBool,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.shown)
            .field("key", &self.entry_key)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// The store of the credential whose entry key is `entry`.
    pub fn new(s: RedisSettings, entry: &str) -> Result<Self, String> {
        let shown = crate::config::redacted_url(&s.url);
        let mut info = s
            .url
            .as_str()
            .into_connection_info()
            .map_err(|e| format!("auth.token_cache {shown}: {e}"))?;
        if let Some(p) = &s.password {
            let r = info.redis_settings().clone().set_password(p.expose());
            info = info.set_redis_settings(r);
        }
        let client =
            redis::Client::open(info).map_err(|e| format!("auth.token_cache {shown}: {e}"))?;
        let entry_key = redis_key(entry);
        Ok(RedisStore {
            client,
            shown,
            conn: tokio::sync::Mutex::new(None),
            serial_key: format!("{entry_key}:serial"),
            lock_key: format!("{entry_key}:lock"),
            entry_key,
            lock_ttl: s.lock_ttl,
            fallback: s.fallback,
            down: AtomicBool::new(false),
        })
    }

    pub fn fallback(&self) -> TokenCacheFallback {
        self.fallback
    }

    pub fn lock_ttl(&self) -> Duration {
        self.lock_ttl
    }

    /// Records whether Redis answered; true when that changed.
    pub fn note_down(&self, down: bool) -> bool {
        self.down.swap(down, Ordering::Relaxed) != down
    }

    /// `redis://host:port/… key supsync:cred:…`: where errors say the entry is.
    pub fn place(&self) -> String {
        format!("{} key {}", self.shown, self.entry_key)
    }

    fn unreachable(&self, e: &redis::RedisError) -> CacheError {
        CacheError {
            path: self.place(),
            message: format!(
                "Redis is unreachable or refused the request ({})",
                e.kind_text()
            ),
            remote: true,
        }
    }

    async fn conn(&self) -> Result<MultiplexedConnection, CacheError> {
        let mut held = self.conn.lock().await;
        if let Some(c) = held.as_ref() {
            return Ok(c.clone());
        }
        let cfg = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(IO_TIMEOUT))
            .set_response_timeout(Some(IO_TIMEOUT));
        let c = self
            .client
            .get_multiplexed_async_connection_with_config(&cfg)
            .await
            .map_err(|e| self.unreachable(&e))?;
        *held = Some(c.clone());
        Ok(c)
    }

    /// Runs one command; a failed one drops the connection so the next one reconnects.
    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, CacheError> {
        let mut c = self.conn().await?;
        match cmd.query_async(&mut c).await {
            Ok(v) => Ok(v),
            Err(e) => {
                *self.conn.lock().await = None;
                Err(self.unreachable(&e))
            }
        }
    }

    pub(super) async fn get(&self) -> Result<Option<Vec<u8>>, CacheError> {
        self.query(redis::cmd("GET").arg(&self.entry_key)).await
    }

    pub(super) async fn next_serial(&self) -> Result<u64, CacheError> {
        self.query(redis::cmd("INCR").arg(&self.serial_key)).await
    }

    pub(super) async fn set(&self, bytes: &[u8]) -> Result<(), CacheError> {
        self.query::<()>(
            redis::cmd("SET")
                .arg(&self.entry_key)
                .arg(bytes)
                .arg("EX")
                .arg(ENTRY_TTL_SECS),
        )
        .await?;
        self.query::<()>(
            redis::cmd("EXPIRE")
                .arg(&self.serial_key)
                .arg(ENTRY_TTL_SECS),
        )
        .await
    }

    pub(super) async fn del(&self) -> Result<(), CacheError> {
        self.query::<()>(redis::cmd("DEL").arg(&self.entry_key))
            .await
    }

    /// The renewal lock, waiting up to `wait` for its holder; `None` when still held then.
    pub async fn lock_within(
        self: &Arc<Self>,
        wait: Duration,
    ) -> Result<Option<RedisLease>, CacheError> {
        let owner = hex::encode(super::bytes::random_bytes::<16>());
        let ttl_ms = self.lock_ttl.as_millis() as u64;
        let deadline = Instant::now() + wait;
        let mut pause = POLL_MIN;
        loop {
            let got: Option<String> = self
                .query(
                    redis::cmd("SET")
                        .arg(&self.lock_key)
                        .arg(&owner)
                        .arg("NX")
                        .arg("PX")
                        .arg(ttl_ms),
                )
                .await?;
            if got.is_some() {
                let keeper = tokio::spawn(keep(Arc::clone(self), owner.clone()));
                return Ok(Some(RedisLease {
                    store: Arc::clone(self),
                    owner,
                    released: false,
                    keeper,
                }));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(POLL_MAX);
        }
    }

    async fn extend(&self, owner: &str) -> Result<bool, CacheError> {
        let mut c = self.conn().await?;
        let script = redis::Script::new(EXTEND);
        match script
            .key(&self.lock_key)
            .arg(owner)
            .arg(self.lock_ttl.as_millis() as u64)
            .invoke_async::<i64>(&mut c)
            .await
        {
            Ok(n) => Ok(n == 1),
            Err(e) => {
                *self.conn.lock().await = None;
                Err(self.unreachable(&e))
            }
        }
    }

    async fn release(&self, owner: &str) -> Result<(), CacheError> {
        let mut c = self.conn().await?;
        let script = redis::Script::new(RELEASE);
        match script
            .key(&self.lock_key)
            .arg(owner)
            .invoke_async::<i64>(&mut c)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                *self.conn.lock().await = None;
                Err(self.unreachable(&e))
            }
        }
    }
}

/// Extends the lock every third of its lifetime until it is released (the task is aborted)
/// or found to be someone else's; a failed extension is tried again at the next tick.
async fn keep(store: Arc<RedisStore>, owner: String) {
    let tick = store.lock_ttl / 3;
    loop {
        tokio::time::sleep(tick).await;
        if let Ok(false) = store.extend(&owner).await {
            return;
        }
    }
}

/// `supsync:cred:` and the first 32 hex digits of SHA-256 of the credential's entry key.
pub fn redis_key(entry: &str) -> String {
    let digest = hex::encode(Sha256::digest(entry.as_bytes()));
    format!("supsync:cred:{}", &digest[..32])
}

/// The renewal lock in Redis, held while its owner renews. [`RedisLease::release`] gives it
/// back; one dropped unreleased is given back in the background, and one whose process died
/// lapses at its expiry.
pub struct RedisLease {
    store: Arc<RedisStore>,
    owner: String,
    released: bool,
    /// Extends the lock while held.
    keeper: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for RedisLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RedisLease({})", self.store.lock_key)
    }
}

impl RedisLease {
    /// Gives the lock back; when Redis does not answer, it lapses at its expiry instead.
    pub async fn release(mut self) {
        self.released = true;
        self.keeper.abort();
        let _ = self.store.release(&self.owner).await;
    }
}

impl Drop for RedisLease {
    fn drop(&mut self) {
        self.keeper.abort();
        if self.released {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let store = Arc::clone(&self.store);
            let owner = std::mem::take(&mut self.owner);
            rt.spawn(async move {
                let _ = store.release(&owner).await;
            });
        }
    }
}

/// Words for a Redis error that name what went wrong without echoing the request.
trait KindText {
    fn kind_text(&self) -> String;
}

impl KindText for redis::RedisError {
    fn kind_text(&self) -> String {
        if self.is_connection_refusal() {
            "connection refused".into()
        } else if self.is_timeout() {
            format!("no answer within {}s", IO_TIMEOUT.as_secs())
        } else if self.is_connection_dropped() {
            "connection dropped".into()
        } else {
            // The client's own text: the kind and the server's error line, never the
            // password (the client does not keep it in errors).
            crate::server_text::cap(&self.to_string(), 200)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_a_hash_of_the_credential_not_the_credential() {
        let a = redis_key("https://idp.example/token supplier-sync offline_access supplier_mgmt");
        let b = redis_key("https://idp.example/token other-client offline_access supplier_mgmt");
        assert_ne!(a, b);
        assert!(a.starts_with("supsync:cred:") && a.len() == "supsync:cred:".len() + 32);
        assert!(!a.contains("idp") && !a.contains("supplier"), "{a}");
    }

    #[test]
    fn the_url_is_shown_without_user_or_password() {
        let s = RedisStore::new(
            RedisSettings {
                url: "rediss://svc@cache.example:6380/0".into(),
                password: Some(Secret::new("hunter2")),
                lock_ttl: Duration::from_secs(30),
                fallback: TokenCacheFallback::Wait,
            },
            "entry",
        )
        .unwrap();
        let shown = format!("{} {s:?}", s.place());
        assert!(
            shown.starts_with("rediss://cache.example:6380/…"),
            "{shown}"
        );
        assert!(
            !shown.contains("svc") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
