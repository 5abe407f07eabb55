//! [`Journal`]: creating and opening a run directory, and appending entries durably.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::integrity::{encode_line, seal_manifest};
use super::lock::{self, RunLock};
use super::replay::{read_manifest, replay_file};
use super::{
    Entry, JOURNAL_FILE, JournalError, MANIFEST_FILE, MANIFEST_VERSION, Manifest, Replay,
    TORN_FILE, run_dir,
};

/// An open run journal. Holds the run's lock for its whole life.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    path: PathBuf,
    file: File,
    /// Bytes of whole entries; a failed append is cut back to this.
    len: u64,
    /// A failed append could not be cut back: refuse more appends rather than glue them
    /// onto a partial line (reopening the run repairs the tail).
    poisoned: bool,
    _lock: RunLock,
}

impl Journal {
    /// Creates `<state_dir>/runs/<run_id>/` with its manifest, empty journal and lock.
    /// Fails if the run already exists.
    pub fn create(state_dir: &Path, manifest: &Manifest) -> Result<Journal, JournalError> {
        let dir = run_dir(state_dir, &manifest.run_id)?;
        let runs = state_dir.join("runs");
        // Owner-only: a run names its source, endpoint and errors.
        crate::safe_file::create_private_dir_all(&runs).map_err(|e| JournalError::io(&runs, e))?;
        match crate::safe_file::create_private_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                return Err(JournalError::RunExists {
                    run_id: manifest.run_id.clone(),
                    path: dir,
                });
            }
            Err(e) => return Err(JournalError::io(&dir, e)),
        }
        // The new run dir's entry in `runs/` must survive a crash too.
        crate::source::sync_dir_of(&dir).map_err(|e| JournalError::io(&runs, e))?;
        Self::init_run_dir(dir.clone(), manifest).inspect_err(|_| {
            // Leave no half-made run behind to block the id or confuse listings.
            let _ = fs::remove_dir_all(&dir);
        })
    }

    fn init_run_dir(dir: PathBuf, manifest: &Manifest) -> Result<Journal, JournalError> {
        let lock = lock::acquire(&dir, &manifest.run_id)?;
        let mut stored = manifest.clone();
        scrub_secrets(&mut stored.config);
        // The on-disk format is this module's: whatever the caller set, what is written
        // is the sealed current version.
        stored.version = MANIFEST_VERSION;
        let path = dir.join(MANIFEST_FILE);
        let json = serde_json::to_value(&stored)
            .and_then(seal_manifest)
            .map_err(|e| JournalError::Manifest {
                path: path.clone(),
                detail: e.to_string(),
            })?;
        // Written through a temp file, which is created 0600.
        crate::source::write_file_atomic(&path, &json).map_err(|e| JournalError::io(&path, e))?;
        Self::open_append(dir, 0, lock)
    }

    /// Opens an existing run for more work: takes its lock (a second process gets
    /// [`JournalError::InUse`]), replays the journal and cuts off a torn last line so the
    /// next append starts clean (the cut bytes are appended to `journal.torn`).
    pub fn open(
        state_dir: &Path,
        run_id: &str,
    ) -> Result<(Journal, Manifest, Replay), JournalError> {
        let dir = run_dir(state_dir, run_id)?;
        let manifest = read_manifest(state_dir, run_id, &dir)?;
        let lock = lock::acquire(&dir, run_id)?;
        let path = dir.join(JOURNAL_FILE);
        let scanned = replay_file(&path, &manifest)?;
        if scanned.good_len < scanned.file_len {
            keep_torn_tail(&dir, &path, scanned.good_len);
            let file = crate::safe_file::open_for_write(&path, OpenOptions::new().write(true))
                .map_err(|e| JournalError::io(&path, e))?;
            file.set_len(scanned.good_len)
                .and_then(|()| file.sync_data())
                .map_err(|e| JournalError::io(&path, e))?;
        }
        let mut journal = Self::open_append(dir, scanned.good_len, lock)?;
        if scanned.needs_newline {
            journal.write_durably(b"\n")?;
        }
        Ok((journal, manifest, scanned.replay))
    }

    fn open_append(dir: PathBuf, len: u64, lock: RunLock) -> Result<Journal, JournalError> {
        let path = dir.join(JOURNAL_FILE);
        let file = crate::safe_file::open_for_write(
            &path,
            crate::safe_file::private_options()
                .create(true)
                .append(true),
        )
        .map_err(|e| JournalError::io(&path, e))?;
        restrict(&path, &file)?;
        // Make the new journal file (and the run dir entry) durable too.
        crate::source::sync_dir_of(&path).map_err(|e| JournalError::io(&dir, e))?;
        Ok(Journal {
            dir,
            path,
            file,
            len,
            poisoned: false,
            _lock: lock,
        })
    }

    /// Appends one entry and fsyncs it before returning. Cost does not grow with the
    /// journal: one `write` to a file kept open in append mode, one `fdatasync`.
    pub fn append(&mut self, entry: &Entry) -> Result<(), JournalError> {
        let cleaned;
        let entry = match entry {
            Entry::Segment { error: Some(e), .. } if needs_cleaning(e) => {
                cleaned = with_clean_error(entry);
                &cleaned
            }
            _ => entry,
        };
        let mut line = encode_line(entry)
            .map_err(|e| JournalError::io(&self.path, std::io::Error::other(e.to_string())))?;
        line.push(b'\n');
        self.write_durably(&line)
    }

    fn write_durably(&mut self, bytes: &[u8]) -> Result<(), JournalError> {
        if self.poisoned {
            return Err(JournalError::io(
                &self.path,
                std::io::Error::other(
                    "an earlier append failed and could not be undone; stop and resume the run",
                ),
            ));
        }
        let result = self
            .file
            .write_all(bytes)
            .and_then(|()| self.file.sync_data());
        match result {
            Ok(()) => {
                self.len += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Cut a partial line back off, so a later append does not glue onto it
                // and turn a torn tail into damage in the middle.
                if self.file.set_len(self.len).is_err() {
                    self.poisoned = true;
                }
                Err(JournalError::io(&self.path, e))
            }
        }
    }

    pub fn run_dir(&self) -> &Path {
        &self.dir
    }

    /// The journal file (`journal.jsonl`).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Copies the bytes past `good_len` to `journal.torn` before they are cut off, so nothing
/// is silently destroyed. Best effort: failing to keep a copy must not block a resume.
fn keep_torn_tail(dir: &Path, path: &Path, good_len: u64) {
    let copy = || -> std::io::Result<()> {
        let mut f = crate::safe_file::open_regular(path)?;
        f.seek(SeekFrom::Start(good_len))?;
        let mut tail = Vec::new();
        f.take(1 << 20).read_to_end(&mut tail)?;
        let mut out = crate::safe_file::open_for_write(
            &dir.join(TORN_FILE),
            crate::safe_file::private_options()
                .create(true)
                .append(true),
        )?;
        out.write_all(&tail)?;
        out.write_all(b"\n")?;
        out.sync_data()
    };
    if let Err(e) = copy() {
        tracing::warn!("could not keep a copy of the torn journal tail: {e}");
    }
}

/// Tightens an existing journal (written by an older supsync, or under a looser umask
/// rule) to 0600 as well.
fn restrict(path: &Path, file: &File) -> Result<(), JournalError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = file.metadata().map_err(|e| JournalError::io(path, e))?;
        if meta.permissions().mode() & 0o077 != 0 {
            file.set_permissions(fs::Permissions::from_mode(0o600))
                .map_err(|e| JournalError::io(path, e))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (path, file);
    Ok(())
}

/// Longest error text kept in a journal line (a server may answer with a whole HTML page).
const MAX_ERROR_CHARS: usize = 500;

fn needs_cleaning(error: &str) -> bool {
    error.len() > MAX_ERROR_CHARS || error.contains("Bearer ") || error.contains("bearer ")
}

/// The entry with its error text clipped and any bearer credential blanked: a last guard,
/// since entries must never carry a token.
fn with_clean_error(entry: &Entry) -> Entry {
    let mut entry = entry.clone();
    if let Entry::Segment { error: Some(e), .. } = &mut entry {
        let mut words: Vec<&str> = e.split(' ').collect();
        for i in 1..words.len() {
            // A fingerprint (`[token #…]`) from the API client's own redaction stays.
            if words[i - 1].eq_ignore_ascii_case("bearer") && !words[i].starts_with('[') {
                words[i] = "[redacted]";
            }
        }
        *e = crate::source::clip(&words.join(" "), MAX_ERROR_CHARS);
    }
    entry
}

/// Replaces the value of any key that names a secret with `"[redacted]"`. The engine
/// passes a config without secrets; this guards against one slipping in later.
fn scrub_secrets(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                let k = k.to_ascii_lowercase();
                // A path to a secret file, a secret's expiry date and the name of the
                // form field a password goes in are not secrets, and a resume needs them.
                let about_a_secret =
                    k.ends_with("_file") || k.ends_with("_expires_at") || k.ends_with("_field");
                let secret = ["secret", "password", "passphrase"]
                    .iter()
                    .any(|s| k.contains(s))
                    || k.ends_with("_token")
                    || k == "token";
                let secret = secret && !about_a_secret;
                if secret && !val.is_null() {
                    *val = serde_json::Value::String("[redacted]".into());
                } else {
                    scrub_secrets(val);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(scrub_secrets),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_clipped_and_bearer_tokens_blanked() {
        let e = Entry::segment(
            0,
            crate::run::SegmentState::Failed,
            1,
            Default::default(),
            Some(format!("401 for Bearer eyJabc.def {}", "x".repeat(5000))),
        );
        let Entry::Segment {
            error: Some(text), ..
        } = with_clean_error(&e)
        else {
            panic!("segment entry expected")
        };
        assert!(
            !text.contains("eyJ") && text.contains("Bearer [redacted]"),
            "{text}"
        );
        assert!(text.chars().count() <= MAX_ERROR_CHARS + 1);
    }

    #[test]
    fn scrubs_secret_keys_but_not_urls() {
        let mut v = serde_json::json!({
            "auth": {"client_secret": "s3", "token_url": "/oauth/token", "refresh_token": "rt",
                     "client_secret_file": "/etc/s", "secret_expires_at": "2027-01-01"},
            "cache": [{"passphrase": "p"}],
            "session": {"password": "pw-canary", "password_field": "pwd",
                        "password_file": "/etc/pw"},
        });
        scrub_secrets(&mut v);
        let text = v.to_string();
        assert!(!text.contains("s3") && !text.contains("\"rt\"") && !text.contains("\"p\""));
        assert!(text.contains("/oauth/token"), "{text}");
        assert!(!text.contains("pw-canary"), "{text}");
        assert!(
            text.contains("\"pwd\"") && text.contains("/etc/pw"),
            "{text}"
        );
        assert!(
            text.contains("/etc/s") && text.contains("2027-01-01"),
            "{text}"
        );
    }
}
