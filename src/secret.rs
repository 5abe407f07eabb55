//! Secrets (client secret, access and refresh tokens) that must never be printed.
//!
//! `Secret` has no `Display`, and its `Debug` shows only a short fingerprint, so a secret
//! that slips into a `{:?}`, a log field or an error message reveals nothing usable.

use sha2::{Digest, Sha256};

/// A secret string. Read it with [`Secret::expose`] only where it goes on the wire or
/// into encrypted storage.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The clear text. Call sites are the wire and the encrypted cache, nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Short, stable, non-reversible identifier for logs and the UI, e.g. `#3fa2c1d0`.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({})", self.fingerprint())
    }
}

/// First 8 hex digits of SHA-256, prefixed with `#`.
pub fn fingerprint(value: &str) -> String {
    fingerprint_bytes(value.as_bytes())
}

/// [`fingerprint`] of bytes, e.g. a DER certificate.
pub fn fingerprint_bytes(value: &[u8]) -> String {
    let digest = Sha256::digest(value);
    format!("#{}", &hex::encode(digest)[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_fingerprint_not_value() {
        let s = Secret::new("super-secret-value");
        let shown = format!("{s:?}");
        assert!(!shown.contains("super-secret-value"));
        assert!(shown.contains(&s.fingerprint()));
        assert_eq!(s.fingerprint().len(), 9);
    }

    #[test]
    fn fingerprint_is_stable_and_distinct() {
        assert_eq!(fingerprint("a"), fingerprint("a"));
        assert_ne!(fingerprint("a"), fingerprint("b"));
    }
}
