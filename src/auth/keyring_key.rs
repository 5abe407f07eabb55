//! The token-cache key kept in the OS keyring (cargo feature `keyring`): macOS Keychain,
//! Windows Credential Manager, or the Secret Service over D-Bus on Linux.
//!
//! One entry per cache file (service `supsync`, user = the cache's absolute path), holding a
//! random 32-byte key in base64, created on first use. Any keyring failure — no store, no
//! D-Bus session (the normal case on a headless box), a locked or refusing store, a value
//! that is not our key — is a debug line and `None`, so the caller falls back to the 0600
//! key file. Messages name the entry, never its value.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use keyring::{Entry, Error};

use crate::logging::TOKEN_TARGET;
use crate::secret::Secret;

/// The keyring service name every supsync entry is stored under.
pub const SERVICE: &str = "supsync";

/// The keyring user name for the cache at `cache`: its absolute path, stable for as long as
/// the cache stays where it is (a moved cache finds no key, and starts a new session).
pub fn user_for(cache: &Path) -> String {
    std::path::absolute(cache)
        .unwrap_or_else(|_| cache.to_path_buf())
        .display()
        .to_string()
}

/// The base64 32-byte key for the cache at `cache`, created in the keyring on first use;
/// `None` when no keyring answers.
pub fn key_for(cache: &Path) -> Option<Secret> {
    let user = user_for(cache);
    match load_or_create(&user) {
        Ok(key) => Some(key),
        Err(why) => {
            tracing::debug!(
                target: TOKEN_TARGET,
                "OS keyring not used for the token cache key (service {SERVICE}, user {user}): {why}; using the key file"
            );
            None
        }
    }
}

fn load_or_create(user: &str) -> Result<Secret, String> {
    let entry = Entry::new(SERVICE, user).map_err(|e| match (&e, Entry::store_status()) {
        (Error::NoDefaultStore, Err(init)) => format!("no keyring store ({})", describe(init)),
        _ => describe(&e),
    })?;
    match entry.get_password() {
        Ok(stored) => return checked(stored),
        Err(Error::NoEntry) => {}
        Err(e) => return Err(describe(&e)),
    }
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
    entry
        .set_password(&B64.encode(key))
        .map_err(|e| format!("cannot create the entry: {}", describe(&e)))?;
    // Read back: when two runs create the entry at once, both use whichever write won.
    entry
        .get_password()
        .map_err(|e| format!("cannot read the entry just created: {}", describe(&e)))
        .and_then(checked)
}

/// Accepts only what we store, so a foreign value never becomes a key.
fn checked(stored: String) -> Result<Secret, String> {
    match B64.decode(stored.trim().as_bytes()) {
        Ok(b) if b.len() == 32 => Ok(Secret::new(stored.trim())),
        _ => Err("the entry does not hold a base64 32-byte key; delete it to start over".into()),
    }
}

/// The error without any stored bytes (two variants carry the entry's raw value).
fn describe(e: &Error) -> String {
    match e {
        Error::BadEncoding(_) => "the entry is not UTF-8".into(),
        Error::BadDataFormat(_, _) => "the entry is malformed".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_32_byte_base64_key_is_accepted() {
        let good = B64.encode([7u8; 32]);
        assert_eq!(checked(good.clone()).unwrap().expose(), good);
        let e = checked("hunter2-not-a-key".into()).unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(checked(B64.encode([7u8; 16])).is_err());
    }

    #[test]
    fn user_is_the_absolute_cache_path() {
        let u = user_for(Path::new("state/tokens.cache"));
        assert!(Path::new(&u).is_absolute(), "{u}");
        assert!(u.ends_with("tokens.cache"), "{u}");
    }
}
