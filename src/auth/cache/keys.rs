//! Where the cache's encryption key comes from: `SUPSYNC_CACHE_KEY` (a passphrase), else
//! (feature `keyring`) the OS keyring, else a random 32-byte key file beside the cache.

use std::path::{Path, PathBuf};

use super::file::write_atomic;
use crate::secret::Secret;

/// Environment variable holding the cache passphrase.
pub const CACHE_KEY_ENV: &str = "SUPSYNC_CACHE_KEY";

/// Where the encryption key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    Passphrase(Secret),
    KeyFile(PathBuf),
    /// A base64 32-byte key from the OS keyring.
    #[cfg(feature = "keyring")]
    Keyring(Secret),
}

/// Key source order: an explicit passphrase, then (feature `keyring`) the OS keyring, then
/// the key file beside `cache`.
pub(super) fn default_keys(cache: &Path, passphrase: Option<String>) -> KeySource {
    if let Some(p) = passphrase.filter(|p| !p.is_empty()) {
        return KeySource::Passphrase(Secret::new(p));
    }
    #[cfg(feature = "keyring")]
    if let Some(k) = crate::auth::keyring_key::key_for(cache) {
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

/// The 32-byte key in `path`; with `create`, a new random one when there is none yet.
pub(super) fn file_key(path: &Path, create: bool) -> Result<[u8; 32], String> {
    // A key file holds 32 bytes; anything much larger is not one and is not read whole.
    match crate::safe_file::read_capped(path, 4096).map_err(std::io::Error::from) {
        Ok(b) => b.try_into().map_err(|_| {
            format!(
                "key file {} is not 32 bytes; delete it and the cache to start over",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let key = super::bytes::random_bytes::<32>();
            write_atomic(path, &key)
                .map_err(|e| format!("cannot create key file {}: {e}", path.display()))?;
            Ok(key)
        }
        Err(e) => Err(format!("cannot read key file {}: {e}", path.display())),
    }
}

#[cfg(feature = "keyring")]
pub(super) fn keyring_key(key: &Secret) -> Result<[u8; 32], String> {
    super::bytes::decode_fixed::<32>(key.expose())
        .ok_or_else(|| "the keyring key is not 32 bytes".to_string())
}
