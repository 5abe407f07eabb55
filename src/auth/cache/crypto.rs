//! The cache's encryption: XChaCha20-Poly1305 with a fresh random 24-byte nonce per write,
//! in a small JSON envelope that names how the key was made (Argon2id from a passphrase
//! with a random salt stored beside the ciphertext, a key file, or the OS keyring).

use std::path::Path;
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};

use super::bytes::{decode_fixed, random_bytes};
use super::keys::{CACHE_KEY_ENV, KeySource, file_key};
use crate::secret::Secret;

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

/// Argon2 is slow on purpose: derive once per salt, not per read or write.
#[derive(Default)]
pub(super) struct KeyMemo(Mutex<Option<([u8; 16], [u8; 32])>>);

impl KeyMemo {
    fn salt(&self) -> Option<[u8; 16]> {
        self.0.lock().ok().and_then(|d| d.map(|(s, _)| s))
    }

    fn passphrase_key(&self, pass: &Secret, salt: [u8; 16]) -> Result<[u8; 32], String> {
        if let Ok(d) = self.0.lock()
            && let Some((s, k)) = *d
            && s == salt
        {
            return Ok(k);
        }
        let mut key = [0u8; 32];
        argon2::Argon2::default()
            .hash_password_into(pass.expose().as_bytes(), &salt, &mut key)
            .map_err(|e| format!("key derivation failed: {e}"))?;
        if let Ok(mut d) = self.0.lock() {
            *d = Some((salt, key));
        }
        Ok(key)
    }
}

/// Decrypts a cache file's bytes. `cache` is the cache's path (a key file written before a
/// keyring answered lives beside it).
#[cfg_attr(not(feature = "keyring"), allow(unused_variables))]
pub(super) fn open(
    bytes: &[u8],
    keys: &KeySource,
    memo: &KeyMemo,
    cache: &Path,
) -> Result<Vec<u8>, String> {
    let env: Envelope =
        serde_json::from_slice(bytes).map_err(|e| format!("not a supsync token cache ({e})"))?;
    if env.v != 1 {
        return Err(format!("unknown cache version {}", env.v));
    }
    let salt = env
        .salt
        .as_deref()
        .map(|s| decode_fixed::<16>(s).ok_or("bad salt"))
        .transpose()?;
    let key = match (keys, env.kdf.as_str(), salt) {
        (KeySource::Passphrase(p), "argon2id", Some(salt)) => memo.passphrase_key(p, salt)?,
        (KeySource::KeyFile(k), "key_file", _) => file_key(k, false)?,
        #[cfg(feature = "keyring")]
        (KeySource::Keyring(k), "keyring", _) => super::keys::keyring_key(k)?,
        // Written before a keyring answered: read it with the key file; the next write
        // moves it to the keyring key.
        #[cfg(feature = "keyring")]
        (KeySource::Keyring(_), "key_file", _) => {
            file_key(&super::keys::key_file_for(cache), false)?
        }
        (_, kdf, _) => {
            return Err(format!(
                "encrypted with a different key source ({kdf}); is {CACHE_KEY_ENV} set the same way as when it was written?"
            ));
        }
    };
    let nonce = decode_fixed::<24>(&env.nonce).ok_or("bad nonce")?;
    let data = B64
        .decode(env.data.as_bytes())
        .map_err(|_| "bad ciphertext encoding")?;
    XChaCha20Poly1305::new(&key.into())
        .decrypt(XNonce::from_slice(&nonce), data.as_slice())
        .map_err(|_| "cannot decrypt (wrong key, or the file was altered)".to_string())
}

/// Encrypts `clear` into the bytes of a cache file.
pub(super) fn seal(clear: &[u8], keys: &KeySource, memo: &KeyMemo) -> Result<Vec<u8>, String> {
    let (kdf, salt, key) = match keys {
        KeySource::Passphrase(p) => {
            let salt = memo.salt().unwrap_or_else(random_bytes::<16>);
            ("argon2id", Some(salt), memo.passphrase_key(p, salt)?)
        }
        KeySource::KeyFile(k) => ("key_file", None, file_key(k, true)?),
        #[cfg(feature = "keyring")]
        KeySource::Keyring(k) => ("keyring", None, super::keys::keyring_key(k)?),
    };
    let nonce = random_bytes::<24>();
    let data = XChaCha20Poly1305::new(&key.into())
        .encrypt(XNonce::from_slice(&nonce), clear)
        .map_err(|_| "encryption failed")?;
    let env = Envelope {
        v: 1,
        kdf: kdf.into(),
        salt: salt.map(|s| B64.encode(s)),
        nonce: B64.encode(nonce),
        data: B64.encode(data),
    };
    serde_json::to_vec(&env).map_err(|e| e.to_string())
}
