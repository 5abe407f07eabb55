//! Run ids: generated ones sort by time; user-given ones must be a safe path component.

use super::JournalError;

/// A new id, sortable by creation time: `20261125-221530-7f3a` (UTC, 16 random bits).
pub fn new_run_id() -> String {
    let now = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    format!("{now}-{:04x}", rand::random::<u16>())
}

/// A run id becomes a directory name: 1–64 of `A–Z a–z 0–9 . _ -`, not starting with `.`
/// or `-` (no hidden directories, no `..`, nothing a shell or a path could misread).
pub fn validate_run_id(id: &str) -> Result<(), JournalError> {
    let bad = |reason: &str| {
        Err(JournalError::InvalidRunId {
            id: crate::source::clip(id, 64),
            reason: reason.into(),
        })
    };
    if id.is_empty() || id.len() > 64 {
        return bad("use 1 to 64 characters");
    }
    if id.starts_with('.') || id.starts_with('-') {
        return bad("it must not start with '.' or '-'");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return bad("use only letters, digits, '.', '_' and '-'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_valid_and_sortable() {
        let a = new_run_id();
        validate_run_id(&a).unwrap();
        assert_eq!(a.len(), "20261125-221530-7f3a".len());
        assert!(a.as_bytes()[..8].iter().all(u8::is_ascii_digit));
    }

    #[test]
    fn unsafe_ids_are_refused() {
        for id in [
            "",
            "..",
            ".x",
            "-rf",
            "a/b",
            "a\\b",
            "a b",
            "ü",
            &"x".repeat(65),
        ] {
            let e = validate_run_id(id).unwrap_err().to_string();
            assert!(e.contains("invalid run id"), "{id}: {e}");
        }
        for id in ["nightly-2026.11.25", "R_1", "20261125-221530-7f3a"] {
            validate_run_id(id).unwrap();
        }
    }
}
