//! One client of the control socket: the snapshot, then its queue of live lines, written
//! with a deadline; its lines read as commands for the engine. Runs in its own task, so a
//! client that stops reading costs the run nothing: its queue fills (the run's observer
//! then stops queueing for it), and a write that waits past the deadline cuts it off. One
//! that fell behind and caught up again gets a fresh snapshot. A client that sends more
//! than [`MAX_LINE`] bytes without a newline is not speaking the protocol: it is told so
//! and cut off, so what a client can make the run hold is bounded.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use super::clients::Shared;
use super::snapshot::Snapshot;
use super::wire::{ServerMsg, WireCommand};
use crate::engine::events::Command;

/// A client that takes longer than this to accept one line is not reading: cut it off.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest command line taken; a client sending more is not speaking the protocol.
const MAX_COMMAND_LINE: usize = 4096;
/// Bytes taken without a newline before the client is cut off.
const MAX_LINE: usize = 64 * 1024;

pub(crate) async fn serve_client(
    stream: UnixStream,
    shared: Arc<Shared>,
    commands: mpsc::WeakSender<Command>,
) {
    let (id, snapshot, queue) = shared.join();
    let (rd, mut wr) = stream.into_split();
    let ok = async {
        write_snapshot(&mut wr, &snapshot).await?;
        drop(snapshot);
        let Some(mut queue) = queue else {
            return Ok::<(), std::io::Error>(());
        };
        let mut rd = BufReader::new(rd);
        let mut pending = Vec::new();
        // A client may close its sending half and go on reading (a one-way watcher).
        let mut reading = true;
        loop {
            tokio::select! {
                line = queue.recv() => match line {
                    Some(line) => {
                        write(&mut wr, &line).await?;
                        if queue.is_empty()
                            && let Some(snapshot) = shared.resync(id)
                        {
                            write_snapshot(&mut wr, &snapshot).await?;
                        }
                    }
                    // The run is over; one that lagged at the end gets it as a snapshot.
                    None => {
                        if let Some(snapshot) = shared.resync(id) {
                            write_snapshot(&mut wr, &snapshot).await?;
                        }
                        return Ok(());
                    }
                },
                got = next_line(&mut rd, &mut pending), if reading => match got {
                    Ok(Some(Some(text))) => {
                        if let Some(reply) = command(&text, &commands) {
                            write(&mut wr, &reply.line()).await?;
                        }
                    }
                    Ok(Some(None)) => {
                        tracing::warn!(
                            "control socket: a client sent more than {MAX_LINE} bytes without a newline; disconnected"
                        );
                        let message = format!(
                            "more than {MAX_LINE} bytes without a newline: not a command; disconnected"
                        );
                        write(&mut wr, &ServerMsg::Error { message }.line()).await?;
                        return Ok(());
                    }
                    Ok(None) | Err(_) => reading = false,
                },
            }
        }
    }
    .await;
    shared.leave(id);
    if ok.is_ok() {
        // Ignored on purpose: the peer may be gone already; it has had its lines.
        let _ = tokio::time::timeout(WRITE_TIMEOUT, wr.shutdown()).await;
    }
}

/// The next line from the client, without its newline: `Some(Some(text))`, `Some(None)`
/// when [`MAX_LINE`] bytes came without a newline, `None` at the end. Cancel-safe: the
/// bytes of a line read so far wait in `pending`, never more than [`MAX_LINE`] of them.
async fn next_line<R: AsyncBufRead + Unpin>(
    rd: &mut R,
    pending: &mut Vec<u8>,
) -> std::io::Result<Option<Option<String>>> {
    loop {
        let got = rd.fill_buf().await?;
        if got.is_empty() {
            return Ok(None);
        }
        let (take, end) = match got.iter().position(|b| *b == b'\n') {
            Some(i) => (i, Some(i + 1)),
            None => (got.len(), None),
        };
        let room = (MAX_LINE + 1).saturating_sub(pending.len());
        pending.extend_from_slice(&got[..take.min(room)]);
        rd.consume(end.unwrap_or(take));
        if pending.len() > MAX_LINE {
            pending.clear();
            return Ok(Some(None));
        }
        if end.is_some() {
            let line = String::from_utf8_lossy(pending).into_owned();
            pending.clear();
            return Ok(Some(Some(line)));
        }
    }
}

async fn write_snapshot(wr: &mut OwnedWriteHalf, snapshot: &Snapshot) -> std::io::Result<()> {
    for line in snapshot.lines(std::process::id(), Instant::now()) {
        write(wr, &line).await?;
    }
    Ok(())
}

async fn write(wr: &mut OwnedWriteHalf, line: &str) -> std::io::Result<()> {
    match tokio::time::timeout(WRITE_TIMEOUT, wr.write_all(line.as_bytes())).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "client stopped reading",
        )),
    }
}

/// Hands one command line to the engine; the error to answer with, if any.
fn command(text: &str, commands: &mpsc::WeakSender<Command>) -> Option<ServerMsg> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let error = |message: String| Some(ServerMsg::Error { message });
    if text.len() > MAX_COMMAND_LINE {
        return error(format!(
            "command line longer than {MAX_COMMAND_LINE} bytes ignored"
        ));
    }
    let cmd: WireCommand = match serde_json::from_str(text) {
        Ok(c) => c,
        Err(e) => {
            return error(format!(
                "not a command ({e}); send one JSON object per line, e.g. {{\"command\":\"pause\"}}"
            ));
        }
    };
    let Some(tx) = commands.upgrade() else {
        return error("the run has finished: it takes no more commands".into());
    };
    match tx.try_send(cmd.into()) {
        Ok(()) => None,
        Err(TrySendError::Full(_)) => error("the run is busy; send the command again".into()),
        Err(TrySendError::Closed(_)) => {
            error("the run has finished: it takes no more commands".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_read_whole_up_to_the_cap_and_no_further() {
        let mut input: Vec<u8> = b"one\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE));
        input.extend(b"\ntwo\n");
        input.extend(std::iter::repeat_n(b'y', 3 * MAX_LINE));
        let mut rd = BufReader::with_capacity(1000, &input[..]);
        let mut pending = Vec::new();
        let mut next = async || next_line(&mut rd, &mut pending).await.unwrap();
        assert_eq!(next().await, Some(Some("one".into())));
        assert_eq!(next().await.unwrap().unwrap().len(), MAX_LINE);
        assert_eq!(next().await, Some(Some("two".into())));
        assert_eq!(next().await, Some(None));
        assert!(pending.len() <= MAX_LINE);
    }

    #[tokio::test]
    async fn commands_reach_the_engine_and_bad_lines_get_an_answer() {
        let (tx, mut rx) = mpsc::channel(1);
        let weak = tx.downgrade();
        assert_eq!(command(r#"{"command":"pause"}"#, &weak), None);
        assert_eq!(rx.recv().await, Some(Command::Pause));
        assert_eq!(command("  ", &weak), None);
        let Some(ServerMsg::Error { message }) = command("pause", &weak) else {
            panic!("a bare word is not a command");
        };
        assert!(message.contains(r#"{"command":"pause"}"#), "{message}");
        // Full: said, not waited for.
        assert_eq!(command(r#"{"command":"resume"}"#, &weak), None);
        let Some(ServerMsg::Error { message }) = command(r#"{"command":"stop"}"#, &weak) else {
            panic!("a full queue is answered");
        };
        assert!(message.contains("busy"), "{message}");
        drop(rx);
        drop(tx);
        let Some(ServerMsg::Error { message }) = command(r#"{"command":"pause"}"#, &weak) else {
            panic!("a finished run is answered");
        };
        assert!(message.contains("finished"), "{message}");
    }
}
