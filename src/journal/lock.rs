//! One process per run: an exclusive OS lock (`flock`) on `run.lock`, which also holds the
//! owner's pid for the error message. The OS releases the lock when the file is closed or
//! the process dies (`kill -9` included), so there is never a stale lock to clean up: the
//! pid left in the file by a dead process is simply overwritten by the next owner.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::{JournalError, LOCK_FILE};

/// Held for as long as a process works on a run; dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct RunLock {
    _file: File,
}

pub(crate) fn acquire(run_dir: &Path, run_id: &str) -> Result<RunLock, JournalError> {
    let path = run_dir.join(LOCK_FILE);
    let io = |e| JournalError::io(&path, e);
    let mut file = crate::safe_file::open_for_write(
        &path,
        crate::safe_file::private_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false),
    )
    .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            // Best effort: the pid only makes the message more useful.
            let _ = file.read_to_string(&mut text);
            return Err(JournalError::InUse {
                run_id: run_id.to_string(),
                pid: text.trim().parse().ok(),
            });
        }
        Err(TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    file.sync_data().map_err(io)?;
    Ok(RunLock { _file: file })
}

/// Whether a live process holds the run's lock: `Some(pid)` (the pid when the file names
/// one) while it does, `None` when no process works on the run. Takes a shared lock for an
/// instant to find out, never the exclusive one, and never creates the file.
pub fn holder(run_dir: &Path) -> Option<Option<u32>> {
    let mut file = File::open(run_dir.join(LOCK_FILE)).ok()?;
    match file.try_lock_shared() {
        Ok(()) => None,
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            // Best effort: the pid only makes the answer more useful.
            let _ = file.read_to_string(&mut text);
            Some(text.trim().parse().ok())
        }
        Err(TryLockError::Error(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_with_the_pid_until_the_first_drops() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), "r1").unwrap();
        let err = acquire(dir.path(), "r1").unwrap_err().to_string();
        assert!(
            err.contains(&format!(
                "run r1 is in use by another supsync process (pid {})",
                std::process::id()
            )),
            "{err}"
        );
        drop(first);
        acquire(dir.path(), "r1").unwrap();
    }
}
