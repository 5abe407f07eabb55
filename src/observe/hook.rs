//! The hook command: the event as one JSON line on stdin, in a process group of its own.
//! What it says on stderr is read as it comes and only the last [`STDERR_TAIL`] bytes are
//! kept, so a hook that floods its stderr costs a few KiB, not its output. Its group dies
//! with it: anything it left running when it exits, when its time is up, or when supsync
//! goes away is killed, so no hook child outlives the run.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::config::client_secret::SECRET_ENV;

/// Bytes of a hook's stderr kept for the log: its last words are what explain a failure.
pub const STDERR_TAIL: usize = 512;
/// After the hook exits, how long what is left in its stderr pipe is read (a child it left
/// behind may hold the pipe open for ever).
const AFTER_EXIT: Duration = Duration::from_millis(200);

/// Runs `argv` with `payload` (one JSON line) on stdin. The client secret's environment
/// variable is removed: a hook has no business with it.
pub async fn run_command(
    argv: &[String],
    event: &str,
    payload: &[u8],
    timeout: Duration,
) -> Result<(), String> {
    let Some((program, args)) = argv.split_first() else {
        return Err("notify.command is empty".into());
    };
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env_remove(SECRET_ENV)
        .env("SUPSYNC_EVENT", event)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    // From here on, however this future ends (done, timed out, dropped at shutdown), the
    // guard kills the hook's whole group.
    let group = child.id().map(Group);
    let mut tail = Tail::default();
    let mut stderr = child.stderr.take();
    let stdin = child.stdin.take();
    let work = async {
        if let Some(mut stdin) = stdin {
            // A hook that exits without reading its stdin is its own business.
            let _ = stdin.write_all(payload).await;
            let _ = stdin.shutdown().await;
        }
        let mut buf = [0u8; 8192];
        let wait = child.wait();
        tokio::pin!(wait);
        let status = loop {
            tokio::select! {
                st = &mut wait => break st,
                n = read(&mut stderr, &mut buf) => match n {
                    Some(n) => tail.push(&buf[..n]),
                    None => stderr = None,
                },
            }
        };
        let _ = tokio::time::timeout(AFTER_EXIT, async {
            while let Some(n) = read(&mut stderr, &mut buf).await {
                tail.push(&buf[..n]);
            }
        })
        .await;
        status.map_err(|e| format!("waiting for {program}: {e}"))
    };
    let result = tokio::time::timeout(timeout, work).await;
    // Whatever the hook left running goes now (its group; a timed-out hook's too).
    drop(group);
    match result {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(format!("{program} exited with {status}: {}", tail.text())),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(format!(
            "{program} did not finish within {timeout:?}; its process group was killed{}",
            tail.said()
        )),
    }
}

/// The next bytes of `from`; `None` at its end (or when there is none), where it stays
/// pending for ever so a `select!` waits on the other branches.
async fn read<R: AsyncRead + Unpin>(from: &mut Option<R>, buf: &mut [u8]) -> Option<usize> {
    let Some(r) = from.as_mut() else {
        return std::future::pending().await;
    };
    match r.read(buf).await {
        Ok(0) | Err(_) => {
            *from = None;
            None
        }
        Ok(n) => Some(n),
    }
}

/// The last [`STDERR_TAIL`] bytes seen.
#[derive(Default)]
struct Tail(Vec<u8>);

impl Tail {
    fn push(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
        if self.0.len() > STDERR_TAIL {
            let cut = self.0.len() - STDERR_TAIL;
            self.0.drain(..cut);
        }
    }

    /// As text for the log: controls stripped, one line.
    fn text(&self) -> String {
        let text: String = String::from_utf8_lossy(&self.0)
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        text.trim().to_string()
    }

    fn said(&self) -> String {
        let t = self.text();
        if t.is_empty() {
            String::new()
        } else {
            format!(": {t}")
        }
    }
}

/// A hook's process group (its id is the hook's pid: `process_group(0)`). Killed when
/// dropped, so an aborted delivery (supsync shutting down) leaves nothing behind.
struct Group(u32);

impl Drop for Group {
    fn drop(&mut self) {
        let Ok(pgid) = libc::pid_t::try_from(self.0) else {
            return;
        };
        // SAFETY: kill(2) with a negative pid signals that process group; it touches no
        // memory of ours. ESRCH (the group is already empty) is fine.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_last_bytes() {
        let mut t = Tail::default();
        for _ in 0..1000 {
            t.push(b"0123456789");
        }
        t.push(b"the end");
        assert_eq!(t.0.len(), STDERR_TAIL);
        assert!(t.text().ends_with("the end"), "{}", t.text());
    }
}
