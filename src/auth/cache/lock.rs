//! Exclusive OS file locks (`flock`) beside the cache, so that several supsync processes on
//! one credential take turns: one renews, the others find its token in the cache.
//!
//! - One lock file per credential (`<cache>.<hash of the entry key>.lock`), held around a
//!   renewal (or, for a session login, around the login): processes on other credentials
//!   that share the state directory do not wait for each other.
//! - One lock for the whole file (`<cache>.lock`), held for a moment around each
//!   read-modify-write, so two credentials writing at once keep each other's entries.
//! - Waits are bounded: a lock still busy at the deadline is reported, never waited for
//!   forever. A holder that dies (`kill -9` included) loses its lock with its last file
//!   descriptor, so there is never a stale lock to clean up.
//! - Locks are per open file (not per process): two holders in one process, each with its
//!   own handle, exclude each other like two processes do.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// First pause between attempts; it doubles up to [`POLL_MAX`]. A loopback token request
/// takes a few milliseconds, a remote one tens to hundreds.
const POLL_MIN: Duration = Duration::from_millis(5);
const POLL_MAX: Duration = Duration::from_millis(50);

/// Held while its owner works; dropping it releases the lock.
pub struct CredentialLock {
    _file: File,
    path: PathBuf,
}

impl std::fmt::Debug for CredentialLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CredentialLock({})", self.path.display())
    }
}

impl CredentialLock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `<cache>.<first 16 hex digits of SHA-256(entry)>.lock` beside the cache.
pub(super) fn credential_lock_path(cache: &Path, entry: &str) -> PathBuf {
    let digest = hex::encode(Sha256::digest(entry.as_bytes()));
    sibling(cache, &format!(".{}.lock", &digest[..16]))
}

/// `<cache>.lock`: the whole file's read-modify-write.
pub(super) fn file_lock_path(cache: &Path) -> PathBuf {
    sibling(cache, ".lock")
}

fn sibling(cache: &Path, suffix: &str) -> PathBuf {
    let mut name = cache.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    cache.with_file_name(name)
}

fn open(path: &Path) -> std::io::Result<File> {
    crate::safe_file::create_private_dir_all(&super::file::parent_dir(path))?;
    crate::safe_file::open_for_write(
        path,
        crate::safe_file::private_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false),
    )
}

/// The lock at `path` if it is free now; `None` when another holder has it.
pub fn try_lock(path: &Path) -> std::io::Result<Option<CredentialLock>> {
    let file = open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(CredentialLock {
            _file: file,
            path: path.to_path_buf(),
        })),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

/// The lock at `path`, waiting up to `wait` for its holder (without blocking a runtime
/// thread); `None` when it is still held at the deadline.
pub async fn lock_within(path: &Path, wait: Duration) -> std::io::Result<Option<CredentialLock>> {
    let deadline = Instant::now() + wait;
    let mut pause = POLL_MIN;
    let file = open(path)?;
    loop {
        match file.try_lock() {
            Ok(()) => {
                return Ok(Some(CredentialLock {
                    _file: file,
                    path: path.to_path_buf(),
                }));
            }
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => return Err(e),
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(POLL_MAX);
    }
}

/// [`lock_within`] for blocking code (the cache's reads and writes run on blocking threads).
pub(super) fn lock_within_blocking(
    path: &Path,
    wait: Duration,
) -> std::io::Result<Option<CredentialLock>> {
    let deadline = Instant::now() + wait;
    let mut pause = POLL_MIN;
    loop {
        if let Some(l) = try_lock(path)? {
            return Ok(Some(l));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(POLL_MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_names_are_per_credential_and_beside_the_cache() {
        let cache = Path::new("/state/token-cache");
        let a = credential_lock_path(cache, "http://x/token a s");
        let b = credential_lock_path(cache, "http://x/token b s");
        assert_ne!(a, b);
        assert_eq!(a.parent(), cache.parent());
        let name = a.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            name.starts_with("token-cache.") && name.ends_with(".lock"),
            "{name}"
        );
        assert_eq!(file_lock_path(cache), Path::new("/state/token-cache.lock"));
    }

    /// Two handles in one process exclude each other (flock is per open file), and the
    /// second gets the lock as soon as the first is dropped.
    #[tokio::test]
    async fn a_second_handle_waits_a_bounded_time_then_gets_the_freed_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.lock");
        let first = try_lock(&path).unwrap().expect("free at first");
        assert!(try_lock(&path).unwrap().is_none());
        let started = Instant::now();
        let none = lock_within(&path, Duration::from_millis(150))
            .await
            .unwrap();
        assert!(none.is_none());
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(150), "{waited:?}");
        assert!(waited < Duration::from_secs(2), "{waited:?}");
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            drop(first);
        });
        let got = lock_within(&path, Duration::from_secs(10)).await.unwrap();
        assert!(got.is_some());
        release.await.unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    /// A holder in another process that dies with `kill -9` releases the lock: the OS
    /// drops it with the process's last descriptor. Uses util-linux `flock(1)` as the other
    /// process; skipped where it is not installed.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_lock_held_by_a_killed_process_is_free_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.lock");
        std::fs::write(&path, b"").unwrap();
        let spawned = std::process::Command::new("flock")
            .args(["--exclusive", "--close"])
            .arg(&path)
            .args(["sleep", "60"])
            .spawn();
        let Ok(mut child) = spawned else {
            eprintln!("flock(1) not installed: skipped");
            return;
        };
        // Wait until the other process holds it.
        let held_by_other = (0..400).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            try_lock(&path).unwrap().is_none()
        });
        assert!(held_by_other, "flock(1) never took the lock");
        let got = lock_within_blocking(&path, Duration::from_millis(100)).unwrap();
        assert!(got.is_none(), "the other process still holds it");
        // kill -9 the holder (`--close`: its `sleep` never had the descriptor); the
        // orphaned `sleep` is ended too, only to leave nothing behind.
        let pid = child.id() as i32;
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        child.kill().unwrap();
        child.wait().unwrap();
        let got = lock_within_blocking(&path, Duration::from_secs(10)).unwrap();
        assert!(got.is_some(), "the dead process's lock was not released");
        for c in children
            .split_whitespace()
            .filter_map(|c| c.parse::<i32>().ok())
        {
            // SAFETY: kill(2) on the `sleep` our own child started.
            unsafe { libc::kill(c, libc::SIGKILL) };
        }
    }
}
