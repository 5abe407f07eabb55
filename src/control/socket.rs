//! The socket file in the run directory: bound private (mode 0600) from the first moment
//! anyone can connect, removed when the run ends, and a leftover of a killed run told
//! apart from a live one by trying to connect to it.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::{UnixListener, UnixStream};

/// The control socket's name in the run directory (`<state_dir>/runs/<run_id>/`).
pub const SOCKET_FILE: &str = "control.sock";
/// Bound here, made private, then renamed to [`SOCKET_FILE`]: nobody can connect to a
/// socket that is not yet 0600. The run lock makes this name ours alone.
const SOCKET_TMP: &str = "control.sock.new";
/// A live server accepts a local connection at once; this bounds a wedged one.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

pub fn socket_path(run_dir: &Path) -> PathBuf {
    run_dir.join(SOCKET_FILE)
}

/// Connects to a run's control socket. An error means the run is not live (no socket, or
/// a leftover of a process that died without removing it).
pub async fn connect(path: &Path) -> io::Result<UnixStream> {
    match tokio::time::timeout(CONNECT_TIMEOUT, UnixStream::connect(path)).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the run did not accept the connection in time",
        )),
    }
}

/// Removes the socket file when dropped: the run is over (or its server task was dropped
/// with the runtime), so nobody should find a dead socket where a live one was.
#[derive(Debug)]
pub(crate) struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        // Ignored on purpose: already gone is fine, and a leftover is detected as stale.
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Binds the run's control socket in `run_dir`, replacing a stale one. Refuses when a live
/// process answers on it (cannot happen while the run lock holds, but never steal one).
pub(crate) async fn bind(run_dir: &Path) -> io::Result<(UnixListener, SocketFile)> {
    let path = socket_path(run_dir);
    if std::fs::symlink_metadata(&path).is_ok() && connect(&path).await.is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("{} is served by another live process", path.display()),
        ));
    }
    let tmp = run_dir.join(SOCKET_TMP);
    // A leftover of a killed run would make the bind fail.
    let _ = std::fs::remove_file(&tmp);
    let listener = UnixListener::bind(&tmp)?;
    let tmp_file = SocketFile(tmp.clone());
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    // Atomic, and replaces a stale socket of a killed run in the same step.
    std::fs::rename(&tmp, &path)?;
    std::mem::forget(tmp_file);
    Ok((listener, SocketFile(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn private_replaces_a_stale_one_and_is_removed_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        // A killed run's socket: the file is there, nobody listens.
        let stale = std::os::unix::net::UnixListener::bind(socket_path(dir.path())).unwrap();
        drop(stale);
        assert!(connect(&socket_path(dir.path())).await.is_err());

        let (listener, file) = bind(dir.path()).await.unwrap();
        let path = socket_path(dir.path());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!dir.path().join(SOCKET_TMP).exists());
        let (client, accepted) = tokio::join!(connect(&path), listener.accept());
        client.unwrap();
        accepted.unwrap();

        // A second server for the same run is refused while the first is live.
        let err = bind(dir.path()).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);

        drop(file);
        assert!(!path.exists());
    }
}
