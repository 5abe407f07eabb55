//! The encrypted token cache: lets a restarted or resumed run continue its session instead
//! of starting a new one, and lets several supsync processes on one credential share one
//! token instead of each renewing its own.
//!
//! - One file holds entries keyed by token URL + client id + scope set (the way the client
//!   authenticates is not part of the key: tokens belong to the client, whichever way it
//!   proves who it is), or for a session login by kind + login URL + user name. An entry is the current access token with its clocks, the refresh
//!   token, when the session started, and a write serial that tells a reader whether
//!   another process wrote since it last looked.
//! - Encrypted at rest ([`crypto`]); the key comes from a passphrase, the OS keyring or a
//!   key file ([`keys`]); written atomically, mode 0600 ([`file`]).
//! - A per-credential OS lock ([`lock`]) is held around every renewal, and the entry is
//!   read again once it is held: see the token manager's `shared` module.
//! - Or, for processes on several machines, the same encrypted entry and the lock in Redis
//!   ([`redis`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::kinds::{GrantKind, LifetimeSource};
use crate::secret::Secret;

mod bytes;
mod crypto;
mod file;
mod keys;
mod lock;
mod redis;
mod redis_setup;

pub use keys::{CACHE_KEY_ENV, KeySource, key_file_for};
pub use lock::{CredentialLock, lock_within, try_lock};
pub use redis::{RedisLease, RedisSettings, RedisStore, redis_key};
pub use redis_setup::redis_cache;

/// How long a write waits for another credential's write to the same file. Such a write
/// takes milliseconds; a holder stuck longer is ignored (its entry may then be lost, which
/// costs one new session, never a wrong token).
const FILE_LOCK_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
#[error("token cache {path}: {message}")]
pub struct CacheError {
    pub path: String,
    pub message: String,
    /// Redis did not answer: the outage policy applies (wait, or a login of one's own).
    pub remote: bool,
}

/// What the cache keeps for one credential.
#[derive(Debug, Clone)]
pub struct CachedSession {
    /// `None` when the server issues no refresh tokens (the access token is still shared).
    pub refresh_token: Option<Secret>,
    pub session_started: SystemTime,
    pub refresh_expires_at: Option<SystemTime>,
    /// The access token last issued for this credential.
    pub access: Option<CachedAccess>,
    /// Bumped by every write of this entry (0: written by a version without serials).
    pub serial: u64,
}

/// An access token as the cache keeps it: wall-clock times, since processes share no
/// monotonic clock.
#[derive(Debug, Clone)]
pub struct CachedAccess {
    pub token: Secret,
    pub grant: GrantKind,
    /// When the request that got it left (lifetimes count from there).
    pub issued_at: SystemTime,
    pub lifetime: Option<Duration>,
    pub lifetime_source: LifetimeSource,
}

impl CachedAccess {
    /// When its lifetime ends; `None` when the server gave none to plan with.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.lifetime.and_then(|l| self.issued_at.checked_add(l))
    }
}

pub struct TokenCache {
    path: PathBuf,
    entry: String,
    keys: KeySource,
    memo: crypto::KeyMemo,
    /// The entry and the lock live in Redis instead of the file at `path`.
    remote: Option<Arc<RedisStore>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("path", &self.path)
            .field("entry", &self.entry)
            .field("remote", &self.remote)
            .finish_non_exhaustive()
    }
}

#[derive(Default, Serialize, Deserialize)]
struct Plain {
    entries: BTreeMap<String, CacheEntry>,
}

#[derive(Serialize, Deserialize)]
struct CacheEntry {
    #[serde(default)]
    refresh_token: Option<String>,
    session_started_ms: u64,
    #[serde(default)]
    refresh_expires_ms: Option<u64>,
    #[serde(default)]
    access: Option<AccessEntry>,
    #[serde(default)]
    serial: u64,
}

#[derive(Serialize, Deserialize)]
struct AccessEntry {
    token: String,
    grant: GrantKind,
    issued_ms: u64,
    #[serde(default)]
    lifetime_ms: Option<u64>,
    lifetime_source: LifetimeSource,
}

impl TokenCache {
    /// The key comes from `SUPSYNC_CACHE_KEY` when set, else (feature `keyring`) the OS
    /// keyring when one answers, else the key file beside `path`.
    pub fn new(path: PathBuf, token_url: &str, client_id: &str, scopes: &[String]) -> Self {
        let keys = keys::default_keys(&path, std::env::var(CACHE_KEY_ENV).ok());
        Self::with_keys(path, token_url, client_id, scopes, keys)
    }

    pub fn with_keys(
        path: PathBuf,
        token_url: &str,
        client_id: &str,
        scopes: &[String],
        keys: KeySource,
    ) -> Self {
        TokenCache {
            path,
            entry: client_entry(token_url, client_id, scopes),
            keys,
            memo: crypto::KeyMemo::default(),
            remote: None,
        }
    }

    /// A cache in Redis for the credential whose entry key is `entry` ([`client_entry`],
    /// or a session login's credential). `keys` is a passphrase or a mounted key file.
    pub fn in_redis(settings: RedisSettings, entry: &str, keys: KeySource) -> Result<Self, String> {
        let store = RedisStore::new(settings, entry)?;
        Ok(TokenCache {
            path: PathBuf::from(store.place()),
            entry: entry.to_string(),
            keys,
            memo: crypto::KeyMemo::default(),
            remote: Some(Arc::new(store)),
        })
    }

    /// The Redis store when the cache is in Redis.
    pub fn remote(&self) -> Option<&Arc<RedisStore>> {
        self.remote.as_ref()
    }

    /// The cache of a session login, whose entry (and lock) is `credential`: the kind, the
    /// login URL and the user name (see `SessionLogin::credential`).
    pub fn for_session(path: PathBuf, credential: &str) -> Self {
        let keys = keys::default_keys(&path, std::env::var(CACHE_KEY_ENV).ok());
        Self::session_with_keys(path, credential, keys)
    }

    pub fn session_with_keys(path: PathBuf, credential: &str, keys: KeySource) -> Self {
        TokenCache {
            path,
            entry: credential.to_string(),
            keys,
            memo: crypto::KeyMemo::default(),
            remote: None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lock file of this credential: hold it around a renewal or a login.
    pub fn lock_path(&self) -> PathBuf {
        lock::credential_lock_path(&self.path, &self.entry)
    }

    fn err(&self, message: impl Into<String>) -> CacheError {
        CacheError {
            path: self.path.display().to_string(),
            message: message.into(),
            remote: false,
        }
    }

    /// [`TokenCache::load`] from a runtime: the file on a blocking thread, Redis directly.
    pub async fn fetch(self: &Arc<Self>) -> Result<Option<CachedSession>, CacheError> {
        let Some(store) = &self.remote else {
            let me = Arc::clone(self);
            return tokio::task::spawn_blocking(move || me.load())
                .await
                .unwrap_or_else(|e| Err(self.err(format!("read failed: {e}"))));
        };
        let Some(bytes) = store.get().await? else {
            return Ok(None);
        };
        let clear =
            crypto::open(&bytes, &self.keys, &self.memo, &self.path).map_err(|e| self.err(e))?;
        let e: CacheEntry = serde_json::from_slice(&clear)
            .map_err(|e| self.err(format!("decrypted content unreadable ({e})")))?;
        Ok(Some(to_session(&e)))
    }

    /// [`TokenCache::store`] from a runtime.
    pub async fn put(self: &Arc<Self>, s: CachedSession) -> Result<u64, CacheError> {
        let Some(store) = &self.remote else {
            let me = Arc::clone(self);
            return tokio::task::spawn_blocking(move || me.store(&s))
                .await
                .unwrap_or_else(|e| Err(self.err(format!("write failed: {e}"))));
        };
        let serial = store.next_serial().await?;
        let clear =
            serde_json::to_vec(&to_entry(&s, serial)).map_err(|e| self.err(e.to_string()))?;
        let bytes = crypto::seal(&clear, &self.keys, &self.memo).map_err(|e| self.err(e))?;
        store.set(&bytes).await?;
        Ok(serial)
    }

    /// [`TokenCache::clear`] from a runtime.
    pub async fn forget(self: &Arc<Self>) -> Result<(), CacheError> {
        let Some(store) = &self.remote else {
            let me = Arc::clone(self);
            return tokio::task::spawn_blocking(move || me.clear())
                .await
                .unwrap_or_else(|e| Err(self.err(format!("removal failed: {e}"))));
        };
        store.del().await
    }

    /// This credential's entry. `Ok(None)` when there is no file or no entry; `Err` when
    /// the file exists but cannot be read or decrypted (the caller warns and starts afresh).
    pub fn load(&self) -> Result<Option<CachedSession>, CacheError> {
        let Some(plain) = self.read_all()? else {
            return Ok(None);
        };
        Ok(plain.entries.get(&self.entry).map(to_session))
    }

    /// Stores (replaces) this credential's entry with the next serial, which it returns
    /// (`s.serial` is ignored). Other credentials' entries are kept when the file can be
    /// read.
    pub fn store(&self, s: &CachedSession) -> Result<u64, CacheError> {
        let _file_lock = self.file_lock();
        let mut plain = self.read_all().ok().flatten().unwrap_or_default();
        let serial = plain
            .entries
            .get(&self.entry)
            .map_or(0, |e| e.serial)
            .saturating_add(1);
        plain
            .entries
            .insert(self.entry.clone(), to_entry(s, serial));
        self.write_all(&plain)?;
        Ok(serial)
    }

    /// Forgets this credential's entry.
    pub fn clear(&self) -> Result<(), CacheError> {
        let _file_lock = self.file_lock();
        match self.read_all() {
            Ok(Some(mut plain)) => {
                if plain.entries.remove(&self.entry).is_some() {
                    self.write_all(&plain)?;
                }
                Ok(())
            }
            Ok(None) => Ok(()),
            // Unreadable: nothing of ours can be recovered from it, so drop it.
            Err(_) => file::remove_if_exists(&self.path)
                .map_err(|e| self.err(format!("cannot remove unreadable cache: {e}"))),
        }
    }

    /// The whole file's lock for a read-modify-write; `None` (go on regardless) when it
    /// cannot be had in time or at all: a lost entry of another credential costs it one new
    /// session, while refusing to write would cost this one its rotated refresh token.
    fn file_lock(&self) -> Option<CredentialLock> {
        lock::lock_within_blocking(&lock::file_lock_path(&self.path), FILE_LOCK_WAIT)
            .ok()
            .flatten()
    }

    fn read_all(&self) -> Result<Option<Plain>, CacheError> {
        let Some(bytes) =
            file::read_if_exists(&self.path).map_err(|e| self.err(format!("cannot read: {e}")))?
        else {
            return Ok(None);
        };
        let clear =
            crypto::open(&bytes, &self.keys, &self.memo, &self.path).map_err(|e| self.err(e))?;
        serde_json::from_slice(&clear)
            .map(Some)
            .map_err(|e| self.err(format!("decrypted content unreadable ({e})")))
    }

    fn write_all(&self, plain: &Plain) -> Result<(), CacheError> {
        let clear = serde_json::to_vec(plain).map_err(|e| self.err(e.to_string()))?;
        let bytes = crypto::seal(&clear, &self.keys, &self.memo).map_err(|e| self.err(e))?;
        file::write_atomic(&self.path, &bytes).map_err(|e| self.err(format!("cannot write: {e}")))
    }
}

/// The entry key of an OAuth2 client's tokens: token URL, client id and the sorted scopes.
pub fn client_entry(token_url: &str, client_id: &str, scopes: &[String]) -> String {
    let mut scopes = scopes.to_vec();
    scopes.sort();
    format!("{token_url} {client_id} {}", scopes.join(" "))
}

fn to_session(e: &CacheEntry) -> CachedSession {
    CachedSession {
        refresh_token: e.refresh_token.clone().map(Secret::new),
        session_started: from_ms(e.session_started_ms),
        refresh_expires_at: e.refresh_expires_ms.map(from_ms),
        access: e.access.as_ref().map(|a| CachedAccess {
            token: Secret::new(a.token.clone()),
            grant: a.grant,
            issued_at: from_ms(a.issued_ms),
            lifetime: a.lifetime_ms.map(Duration::from_millis),
            lifetime_source: a.lifetime_source,
        }),
        serial: e.serial,
    }
}

fn to_entry(s: &CachedSession, serial: u64) -> CacheEntry {
    CacheEntry {
        refresh_token: s.refresh_token.as_ref().map(|t| t.expose().to_string()),
        session_started_ms: to_ms(s.session_started),
        refresh_expires_ms: s.refresh_expires_at.map(to_ms),
        access: s.access.as_ref().map(|a| AccessEntry {
            token: a.token.expose().to_string(),
            grant: a.grant,
            issued_ms: to_ms(a.issued_at),
            lifetime_ms: a.lifetime.map(|l| l.as_millis() as u64),
            lifetime_source: a.lifetime_source,
        }),
        serial,
    }
}

/// `bytes` to `path` atomically, mode 0600 (for small state files beside the cache).
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    file::write_atomic(path, bytes)
}

/// Removes `path`; a file already gone is fine.
pub(crate) fn remove_file(path: &Path) -> std::io::Result<()> {
    file::remove_if_exists(path)
}

fn to_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn from_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

#[cfg(test)]
mod tests;
