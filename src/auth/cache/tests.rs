//! The cache file: round trips, encryption, permissions, key sources, bad files.

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

#[cfg(feature = "keyring")]
use super::bytes::random_bytes;
use super::keys::default_keys;
use super::*;

fn session(rt: &str) -> CachedSession {
    CachedSession {
        refresh_token: Some(Secret::new(rt)),
        session_started: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        refresh_expires_at: Some(UNIX_EPOCH + Duration::from_secs(1_700_086_400)),
        access: None,
        serial: 0,
    }
}

fn rt(c: &TokenCache) -> String {
    c.load()
        .unwrap()
        .unwrap()
        .refresh_token
        .unwrap()
        .expose()
        .to_string()
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
    assert_eq!(
        got.refresh_token.as_ref().unwrap().expose(),
        "RT-very-secret-refresh-token"
    );
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
    assert_eq!(rt(&c), "RT-2");
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
    assert_eq!(rt(&c), "RT-3");
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
        && !std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| Path::new(&d).join("bus").exists());
    if headless {
        assert!(matches!(&keys, KeySource::KeyFile(k) if *k == key_file_for(&path)));
    }
    let c = cache(dir.path(), keys);
    c.store(&session("RT-feature")).unwrap();
    assert_eq!(rt(&c), "RT-feature");
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
    assert_eq!(rt(&c), "RT-old");
    c.store(&session("RT-new")).unwrap();
    let bytes = std::fs::read(c.path()).unwrap();
    assert!(String::from_utf8_lossy(&bytes).contains("\"kdf\":\"keyring\""));
    assert!(!String::from_utf8_lossy(&bytes).contains("RT-new"));
    let again = cache(dir.path(), KeySource::Keyring(key));
    assert_eq!(rt(&again), "RT-new");
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
    assert_eq!(rt(&a), "RT-a");
    assert_eq!(rt(&b), "RT-b");
}
