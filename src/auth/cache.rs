//! The encrypted refresh-token cache: lets a restarted or resumed run continue its session
//! instead of starting a new one.
//!
//! - One file holds entries keyed by token URL + client id + scopes; an entry is the
//!   refresh token, when its session started and when the refresh token expires.
//! - Encrypted at rest with XChaCha20-Poly1305, a fresh random 24-byte nonce per write.
//! - The key: `SUPSYNC_CACHE_KEY` (a passphrase, stretched with Argon2id and a random salt
//!   stored beside the ciphertext) when set; else, built with the `keyring` feature, a
//!   random 32-byte key in the OS keyring ([`super::keyring_key`]); else (the default
//!   build, or no keyring answers, as on a headless box) a random 32-byte key file created
//!   on first use beside the cache (`<cache>.key`, mode 0600). The keyring is optional
//!   because on Linux it pulls a D-Bus stack that finds no store on headless boxes.
//! - Written atomically: temp file in the same directory, mode 0600, fsync, rename, fsync
//!   the directory. A torn or foreign file is never half-read.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// Environment variable holding the cache passphrase.
pub const CACHE_KEY_ENV: &str = "SUPSYNC_CACHE_KEY";

#[derive(Debug, thiserror::Error)]
#[error("token cache {path}: {message}")]
pub struct CacheError {
    pub path: String,
    pub message: String,
}

/// What the cache keeps for one client.
#[derive(Debug, Clone)]
pub struct CachedSession {
    pub refresh_token: Secret,
    pub session_started: SystemTime,
    pub refresh_expires_at: Option<SystemTime>,
}

/// Where the encryption key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    Passphrase(Secret),
    KeyFile(PathBuf),
    /// A base64 32-byte key from the OS keyring.
    #[cfg(feature = "keyring")]
    Keyring(Secret),
}

pub struct TokenCache {
    path: PathBuf,
    entry: String,
    keys: KeySource,
    /// Argon2 is slow on purpose: derive once per salt, not per write.
    derived: Mutex<Option<([u8; 16], [u8; 32])>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("path", &self.path)
            .field("entry", &self.entry)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    v: u32,
    /// "argon2id" (passphrase), "key_file" or "keyring".
    kdf: String,
    #[serde(default)]
    salt: Option<String>,
    nonce: String,
    data: String,
}

#[derive(Default, Serialize, Deserialize)]
struct Plain {
    entries: BTreeMap<String, Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    refresh_token: String,
    session_started_ms: u64,
    #[serde(default)]
    refresh_expires_ms: Option<u64>,
}

impl TokenCache {
    /// The key comes from `SUPSYNC_CACHE_KEY` when set, else (feature `keyring`) the OS
    /// keyring when one answers, else the key file beside `path`.
    pub fn new(path: PathBuf, token_url: &str, client_id: &str, scopes: &[String]) -> Self {
        let keys = default_keys(&path, std::env::var(CACHE_KEY_ENV).ok());
        Self::with_keys(path, token_url, client_id, scopes, keys)
    }

    pub fn with_keys(
        path: PathBuf,
        token_url: &str,
        client_id: &str,
        scopes: &[String],
        keys: KeySource,
    ) -> Self {
        let mut scopes = scopes.to_vec();
        scopes.sort();
        TokenCache {
            path,
            entry: format!("{token_url} {client_id} {}", scopes.join(" ")),
            keys,
            derived: Mutex::new(None),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, message: impl Into<String>) -> CacheError {
        CacheError {
            path: self.path.display().to_string(),
            message: message.into(),
        }
    }

    /// This client's entry. `Ok(None)` when there is no file or no entry; `Err` when the
    /// file exists but cannot be read or decrypted (the caller warns and starts afresh).
    pub fn load(&self) -> Result<Option<CachedSession>, CacheError> {
        let Some(plain) = self.read_all()? else {
            return Ok(None);
        };
        Ok(plain.entries.get(&self.entry).map(|e| CachedSession {
            refresh_token: Secret::new(e.refresh_token.clone()),
            session_started: from_ms(e.session_started_ms),
            refresh_expires_at: e.refresh_expires_ms.map(from_ms),
        }))
    }

    /// Stores (replaces) this client's entry; other clients' entries are kept when the file
    /// can be read.
    pub fn store(&self, s: &CachedSession) -> Result<(), CacheError> {
        let mut plain = self.read_all().ok().flatten().unwrap_or_default();
        plain.entries.insert(
            self.entry.clone(),
            Entry {
                refresh_token: s.refresh_token.expose().to_string(),
                session_started_ms: to_ms(s.session_started),
                refresh_expires_ms: s.refresh_expires_at.map(to_ms),
            },
        );
        self.write_all(&plain)
    }

    /// Forgets this client's entry (the server issued no refresh token, or it was refused).
    pub fn clear(&self) -> Result<(), CacheError> {
        match self.read_all() {
            Ok(Some(mut plain)) => {
                if plain.entries.remove(&self.entry).is_some() {
                    self.write_all(&plain)?;
                }
                Ok(())
            }
            Ok(None) => Ok(()),
            // Unreadable: nothing of ours can be recovered from it, so drop it.
            Err(_) => std::fs::remove_file(&self.path)
                .or_else(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => Ok(()),
                    _ => Err(e),
                })
                .map_err(|e| self.err(format!("cannot remove unreadable cache: {e}"))),
        }
    }

    fn read_all(&self) -> Result<Option<Plain>, CacheError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.err(format!("cannot read: {e}"))),
        };
        let env: Envelope = serde_json::from_slice(&bytes)
            .map_err(|e| self.err(format!("not a supsync token cache ({e})")))?;
        if env.v != 1 {
            return Err(self.err(format!("unknown cache version {}", env.v)));
        }
        let salt = env
            .salt
            .as_deref()
            .map(|s| decode_fixed::<16>(s).ok_or_else(|| self.err("bad salt")))
            .transpose()?;
        let key = match (&self.keys, env.kdf.as_str(), salt) {
            (KeySource::Passphrase(p), "argon2id", Some(salt)) => self.passphrase_key(p, salt)?,
            (KeySource::KeyFile(k), "key_file", _) => self.file_key(k, false)?,
            #[cfg(feature = "keyring")]
            (KeySource::Keyring(k), "keyring", _) => self.keyring_key(k)?,
            // Written before a keyring answered: read it with the key file; the next write
            // moves it to the keyring key.
            #[cfg(feature = "keyring")]
            (KeySource::Keyring(_), "key_file", _) => {
                self.file_key(&key_file_for(&self.path), false)?
            }
            (_, kdf, _) => {
                return Err(self.err(format!(
                    "encrypted with a different key source ({kdf}); is {CACHE_KEY_ENV} set the same way as when it was written?"
                )));
            }
        };
        let nonce = decode_fixed::<24>(&env.nonce).ok_or_else(|| self.err("bad nonce"))?;
        let data = B64
            .decode(env.data.as_bytes())
            .map_err(|_| self.err("bad ciphertext encoding"))?;
        let plain = XChaCha20Poly1305::new(&key.into())
            .decrypt(XNonce::from_slice(&nonce), data.as_slice())
            .map_err(|_| self.err("cannot decrypt (wrong key, or the file was altered)"))?;
        serde_json::from_slice(&plain)
            .map(Some)
            .map_err(|e| self.err(format!("decrypted content unreadable ({e})")))
    }

    fn write_all(&self, plain: &Plain) -> Result<(), CacheError> {
        let (kdf, salt, key) = match &self.keys {
            KeySource::Passphrase(p) => {
                let salt = self.current_salt().unwrap_or_else(random_bytes::<16>);
                ("argon2id", Some(salt), self.passphrase_key(p, salt)?)
            }
            KeySource::KeyFile(k) => ("key_file", None, self.file_key(k, true)?),
            #[cfg(feature = "keyring")]
            KeySource::Keyring(k) => ("keyring", None, self.keyring_key(k)?),
        };
        let nonce = random_bytes::<24>();
        let clear = serde_json::to_vec(plain).map_err(|e| self.err(e.to_string()))?;
        let data = XChaCha20Poly1305::new(&key.into())
            .encrypt(XNonce::from_slice(&nonce), clear.as_slice())
            .map_err(|_| self.err("encryption failed"))?;
        let env = Envelope {
            v: 1,
            kdf: kdf.into(),
            salt: salt.map(|s| B64.encode(s)),
            nonce: B64.encode(nonce),
            data: B64.encode(data),
        };
        let bytes = serde_json::to_vec(&env).map_err(|e| self.err(e.to_string()))?;
        write_atomic(&self.path, &bytes).map_err(|e| self.err(format!("cannot write: {e}")))
    }

    fn current_salt(&self) -> Option<[u8; 16]> {
        self.derived.lock().ok().and_then(|d| d.map(|(s, _)| s))
    }

    fn passphrase_key(&self, pass: &Secret, salt: [u8; 16]) -> Result<[u8; 32], CacheError> {
        if let Ok(d) = self.derived.lock()
            && let Some((s, k)) = *d
            && s == salt
        {
            return Ok(k);
        }
        let mut key = [0u8; 32];
        argon2::Argon2::default()
            .hash_password_into(pass.expose().as_bytes(), &salt, &mut key)
            .map_err(|e| self.err(format!("key derivation failed: {e}")))?;
        if let Ok(mut d) = self.derived.lock() {
            *d = Some((salt, key));
        }
        Ok(key)
    }

    #[cfg(feature = "keyring")]
    fn keyring_key(&self, key: &Secret) -> Result<[u8; 32], CacheError> {
        decode_fixed::<32>(key.expose()).ok_or_else(|| self.err("the keyring key is not 32 bytes"))
    }

    fn file_key(&self, path: &Path, create: bool) -> Result<[u8; 32], CacheError> {
        match std::fs::read(path) {
            Ok(b) => b.try_into().map_err(|_| {
                self.err(format!(
                    "key file {} is not 32 bytes; delete it and the cache to start over",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let key = random_bytes::<32>();
                write_atomic(path, &key).map_err(|e| {
                    self.err(format!("cannot create key file {}: {e}", path.display()))
                })?;
                Ok(key)
            }
            Err(e) => Err(self.err(format!("cannot read key file {}: {e}", path.display()))),
        }
    }
}

/// Key source order: an explicit passphrase, then (feature `keyring`) the OS keyring, then
/// the key file beside `cache`.
fn default_keys(cache: &Path, passphrase: Option<String>) -> KeySource {
    if let Some(p) = passphrase.filter(|p| !p.is_empty()) {
        return KeySource::Passphrase(Secret::new(p));
    }
    #[cfg(feature = "keyring")]
    if let Some(k) = super::keyring_key::key_for(cache) {
        return KeySource::Keyring(k);
    }
    KeySource::KeyFile(key_file_for(cache))
}

/// `<cache>.key` beside the cache file.
pub fn key_file_for(cache: &Path) -> PathBuf {
    let mut name = cache.file_name().unwrap_or_default().to_os_string();
    name.push(".key");
    cache.with_file_name(name)
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rng().fill_bytes(&mut b);
    b
}

fn decode_fixed<const N: usize>(s: &str) -> Option<[u8; N]> {
    B64.decode(s.as_bytes()).ok()?.try_into().ok()
}

fn to_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn from_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// Temp file in the same directory (mode 0600), fsync, rename over `path`, fsync the dir.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    #[cfg(unix)]
    std::fs::File::open(&dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(rt: &str) -> CachedSession {
        CachedSession {
            refresh_token: Secret::new(rt),
            session_started: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            refresh_expires_at: Some(UNIX_EPOCH + Duration::from_secs(1_700_086_400)),
        }
    }

    fn cache(dir: &Path, keys: KeySource) -> TokenCache {
        TokenCache::with_keys(
            dir.join("tokens.cache"),
            "http://127.0.0.1:1/oauth/token",
            "supplier-sync",
            &["supplier_mgmt".into(), "offline_access".into()],
            keys,
        )
    }

    #[test]
    fn key_file_round_trip_is_encrypted_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(
            dir.path(),
            KeySource::KeyFile(key_file_for(&dir.path().join("tokens.cache"))),
        );
        assert!(c.load().unwrap().is_none());
        c.store(&session("RT-very-secret-refresh-token")).unwrap();
        let got = c.load().unwrap().unwrap();
        assert_eq!(got.refresh_token.expose(), "RT-very-secret-refresh-token");
        assert_eq!(got.session_started, session("x").session_started);
        let bytes = std::fs::read(c.path()).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("RT-very-secret"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for p in [c.path().to_path_buf(), key_file_for(c.path())] {
                let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{}", p.display());
            }
        }
        c.clear().unwrap();
        assert!(c.load().unwrap().is_none());
    }

    #[test]
    fn passphrase_round_trip_and_wrong_passphrase_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(
            dir.path(),
            KeySource::Passphrase(Secret::new("correct horse")),
        );
        c.store(&session("RT-1")).unwrap();
        c.store(&session("RT-2")).unwrap();
        assert_eq!(c.load().unwrap().unwrap().refresh_token.expose(), "RT-2");
        let other = cache(dir.path(), KeySource::Passphrase(Secret::new("wrong")));
        let e = other.load().unwrap_err();
        assert!(e.to_string().contains("cannot decrypt"), "{e}");
        let keyfile = cache(dir.path(), KeySource::KeyFile(dir.path().join("k")));
        assert!(
            keyfile
                .load()
                .unwrap_err()
                .to_string()
                .contains(CACHE_KEY_ENV)
        );
    }

    #[test]
    fn corrupt_file_is_an_error_not_a_panic_and_store_recovers() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path(), KeySource::KeyFile(dir.path().join("k")));
        std::fs::write(c.path(), b"{not json").unwrap();
        assert!(c.load().is_err());
        c.store(&session("RT-3")).unwrap();
        assert_eq!(c.load().unwrap().unwrap().refresh_token.expose(), "RT-3");
        // Flip a ciphertext byte: authentication fails.
        let mut env: serde_json::Value =
            serde_json::from_slice(&std::fs::read(c.path()).unwrap()).unwrap();
        let mut data = B64.decode(env["data"].as_str().unwrap()).unwrap();
        data[0] ^= 1;
        env["data"] = B64.encode(data).into();
        std::fs::write(c.path(), serde_json::to_vec(&env).unwrap()).unwrap();
        assert!(c.load().is_err());
    }

    #[test]
    fn explicit_passphrase_wins_and_empty_means_unset() {
        let p = Path::new("/nonexistent/tokens.cache");
        assert!(matches!(
            default_keys(p, Some("pass".into())),
            KeySource::Passphrase(_)
        ));
        #[cfg(not(feature = "keyring"))]
        assert!(
            matches!(default_keys(p, Some(String::new())), KeySource::KeyFile(k) if k == key_file_for(p))
        );
    }

    /// With the feature on and no keyring reachable (no D-Bus session, as on this kind of
    /// headless box), the key file takes over and the cache still round-trips.
    #[cfg(feature = "keyring")]
    #[test]
    fn keyring_feature_falls_back_to_the_key_file_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.cache");
        let keys = default_keys(&path, None);
        let headless = cfg!(target_os = "linux")
            && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none()
            && !std::env::var_os("XDG_RUNTIME_DIR")
                .is_some_and(|d| Path::new(&d).join("bus").exists());
        if headless {
            assert!(matches!(&keys, KeySource::KeyFile(k) if *k == key_file_for(&path)));
        }
        let c = cache(dir.path(), keys);
        c.store(&session("RT-feature")).unwrap();
        assert_eq!(
            c.load().unwrap().unwrap().refresh_token.expose(),
            "RT-feature"
        );
    }

    /// A keyring key encrypts like the key file does, and a cache written with the key
    /// file before a keyring answered is still read, then moved to the keyring key.
    #[cfg(feature = "keyring")]
    #[test]
    fn keyring_key_round_trips_and_reads_a_key_file_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.cache");
        let old = cache(dir.path(), KeySource::KeyFile(key_file_for(&path)));
        old.store(&session("RT-old")).unwrap();
        let key = Secret::new(B64.encode(random_bytes::<32>()));
        let c = cache(dir.path(), KeySource::Keyring(key.clone()));
        assert_eq!(c.load().unwrap().unwrap().refresh_token.expose(), "RT-old");
        c.store(&session("RT-new")).unwrap();
        let bytes = std::fs::read(c.path()).unwrap();
        assert!(String::from_utf8_lossy(&bytes).contains("\"kdf\":\"keyring\""));
        assert!(!String::from_utf8_lossy(&bytes).contains("RT-new"));
        let again = cache(dir.path(), KeySource::Keyring(key));
        assert_eq!(
            again.load().unwrap().unwrap().refresh_token.expose(),
            "RT-new"
        );
        let other = cache(
            dir.path(),
            KeySource::Keyring(Secret::new(B64.encode(random_bytes::<32>()))),
        );
        assert!(
            other
                .load()
                .unwrap_err()
                .to_string()
                .contains("cannot decrypt")
        );
    }

    #[test]
    fn entries_are_per_client_and_scopes() {
        let dir = tempfile::tempdir().unwrap();
        let k = KeySource::KeyFile(dir.path().join("k"));
        let a = cache(dir.path(), k.clone());
        let b = TokenCache::with_keys(
            dir.path().join("tokens.cache"),
            "http://127.0.0.1:1/oauth/token",
            "supplier-sync",
            &["supplier_mgmt".into()],
            k,
        );
        a.store(&session("RT-a")).unwrap();
        b.store(&session("RT-b")).unwrap();
        assert_eq!(a.load().unwrap().unwrap().refresh_token.expose(), "RT-a");
        assert_eq!(b.load().unwrap().unwrap().refresh_token.expose(), "RT-b");
    }
}
