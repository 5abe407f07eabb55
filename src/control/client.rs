//! The client side of a run's control socket: a one-shot look at the snapshot (`ps`), and
//! an [`EngineHandle`] fed from the socket (`attach`), so the console drives a run in
//! another process exactly as it drives its own.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::UnixStream;
use tokio::net::unix::OwnedReadHalf;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::socket;
use super::wire::{PROTOCOL, ServerMsg, WireCommand, WireToken};
use crate::engine::EngineHandle;
use crate::engine::events::{EngineEvent, RunInfo, RunSummary};
use crate::run::RunState;

/// How long the snapshot may take to arrive in full: a live run sends it at once.
pub const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(2);

/// What a run's snapshot says: everything `ps` shows.
#[derive(Debug, Clone)]
pub struct Look {
    pub pid: u32,
    pub run_id: String,
    pub info: Option<RunInfo>,
    pub state: Option<RunState>,
    pub token: Option<WireToken>,
    pub summary: Option<RunSummary>,
    /// The limit on segments at the server and why.
    pub pace: Option<crate::engine::events::PaceView>,
    /// The run's recent history, rate and ETA (its own figures).
    pub history: Option<crate::view::History>,
}

/// What the snapshot said before the live stream: the events to apply first, then the
/// history (recent lines and refresh log with their times, the run's clocks).
#[derive(Debug, Default)]
pub struct CatchUp {
    pub events: Vec<EngineEvent>,
    pub history: Option<crate::view::History>,
}

/// Connects, reads the snapshot up to `live`, and leaves.
pub async fn look(path: &Path) -> anyhow::Result<Look> {
    let stream = socket::connect(path).await?;
    let (rd, _wr) = stream.into_split();
    let mut lines = BufReader::new(rd).lines();
    tokio::time::timeout(SNAPSHOT_TIMEOUT, async {
        let (pid, run_id) = hello(&mut lines).await?;
        let mut look = Look {
            pid,
            run_id,
            info: None,
            state: None,
            token: None,
            summary: None,
            pace: None,
            history: None,
        };
        loop {
            match next(&mut lines).await? {
                None | Some(ServerMsg::Live) => return Ok(look),
                Some(ServerMsg::RunStarted { info }) => look.info = Some(info),
                Some(ServerMsg::RunState { state }) => look.state = Some(state),
                Some(ServerMsg::Token { token }) => look.token = Some(token),
                Some(ServerMsg::Finished { summary }) => look.summary = Some(summary),
                Some(ServerMsg::Pace { pace }) => look.pace = Some(pace),
                Some(ServerMsg::History { history }) => look.history = Some(*history),
                Some(_) => {}
            }
        }
    })
    .await
    .context("the run did not send its state in time")?
}

/// Reads the `hello` line: the run's pid and id. Refuses a protocol this build cannot read.
async fn hello(lines: &mut Lines<BufReader<OwnedReadHalf>>) -> anyhow::Result<(u32, String)> {
    match next(lines).await? {
        Some(ServerMsg::Hello {
            protocol,
            pid,
            run_id,
            version,
        }) => {
            if protocol != PROTOCOL {
                bail!(
                    "the run (supsync {version}) speaks control protocol {protocol}, this supsync speaks {PROTOCOL}; use the same supsync version"
                );
            }
            Ok((pid, run_id))
        }
        Some(other) => bail!("the run answered {other:?} instead of hello"),
        None => bail!("the run closed the connection without a word"),
    }
}

async fn next(lines: &mut Lines<BufReader<OwnedReadHalf>>) -> anyhow::Result<Option<ServerMsg>> {
    let Some(line) = lines.next_line().await? else {
        return Ok(None);
    };
    let msg = serde_json::from_str(&line)
        .with_context(|| format!("the run sent a line this supsync cannot read: {line}"))?;
    Ok(Some(msg))
}

/// Attaches to the run at `path`: the snapshot (to apply first), and a handle whose
/// events come from the socket (live) and whose commands go to it. `cancel` closes the
/// connection (the run goes on); `task` resolves with the summary if the run ends while
/// attached. Returns the run's id.
pub async fn attach(path: &Path) -> anyhow::Result<(String, CatchUp, EngineHandle)> {
    let stream: UnixStream = socket::connect(path).await?;
    let (rd, mut wr) = stream.into_split();
    let mut lines = BufReader::new(rd).lines();
    let (run_id, replay) = tokio::time::timeout(SNAPSHOT_TIMEOUT, async {
        let (_pid, run_id) = hello(&mut lines).await?;
        let mut replay = CatchUp::default();
        loop {
            match next(&mut lines).await? {
                None | Some(ServerMsg::Live) => return anyhow::Ok((run_id, replay)),
                Some(ServerMsg::History { history }) => replay.history = Some(*history),
                Some(ServerMsg::Error { message }) => replay
                    .events
                    .push(EngineEvent::Notice(format!("the run: {message}"))),
                Some(other) => replay.events.extend(other.into_event(Instant::now())),
            }
        }
    })
    .await
    .context("the run did not send its state in time")??;

    let (ev_tx, events) = mpsc::channel(1024);
    let (commands, mut cmd_rx) = mpsc::channel::<crate::engine::events::Command>(64);
    let cancel = CancellationToken::new();
    let (end_tx, end_rx) = oneshot::channel();

    let reading = cancel.clone();
    // A run that finished before we looked ends the attached session the same way.
    let ended = replay.events.iter().find_map(|e| match e {
        EngineEvent::Finished(s) => Some(s.clone()),
        _ => None,
    });
    tokio::spawn(async move {
        let summary = loop {
            if ended.is_some() {
                break ended;
            }
            let msg = tokio::select! {
                _ = reading.cancelled() => break None,
                m = next(&mut lines) => m,
            };
            let msg = match msg {
                Ok(Some(m)) => m,
                Ok(None) => break None,
                Err(e) => {
                    let _ = ev_tx.send(EngineEvent::Notice(format!("{e:#}"))).await;
                    break None;
                }
            };
            let ev = match msg {
                ServerMsg::Error { message } => EngineEvent::Notice(format!("the run: {message}")),
                other => match other.into_event(Instant::now()) {
                    Some(ev) => ev,
                    None => continue,
                },
            };
            let finished = match &ev {
                EngineEvent::Finished(s) => Some(s.clone()),
                _ => None,
            };
            if ev_tx.send(ev).await.is_err() {
                break None;
            }
            if finished.is_some() {
                break finished;
            }
        };
        if let Some(s) = summary {
            // Ignored on purpose: nobody waiting for the summary is fine.
            let _ = end_tx.send(s);
        }
    });

    let writing = cancel.clone();
    tokio::spawn(async move {
        loop {
            let cmd = tokio::select! {
                _ = writing.cancelled() => break,
                c = cmd_rx.recv() => match c { Some(c) => c, None => break },
            };
            let mut line = serde_json::to_string(&WireCommand::from(&cmd)).unwrap_or_default();
            line.push('\n');
            if wr.write_all(line.as_bytes()).await.is_err() {
                break;
            }
        }
        // Ignored on purpose: closing a connection the run may have closed already.
        let _ = wr.shutdown().await;
    });

    // Resolves only when the run finished while attached; the attached console never
    // waits on it (detaching must not wait for the run).
    let task = tokio::spawn(async move {
        match end_rx.await {
            Ok(s) => s,
            Err(_) => std::future::pending().await,
        }
    });
    Ok((
        run_id,
        replay,
        EngineHandle {
            events,
            commands,
            cancel,
            task,
        },
    ))
}
