//! The run's side of the control socket: an observer on the event tap folds every event
//! into the snapshot and hands it to each client's bounded queue without ever waiting; a
//! server task binds the socket once the run has an id (its directory exists then),
//! accepts clients and removes the socket when the run is over.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::conn::{self, Line};
use super::snapshot::Snapshot;
use super::socket;
use crate::engine::EngineHandle;
use crate::engine::events::{EngineEvent, SegmentState};
use crate::observe::tap::{self, Observer};

/// Lines queued per client. Past this, progress is dropped for that client and anything
/// else disconnects it: a client that far behind cannot be helped, and the run never waits.
const QUEUE: usize = 1024;
/// After the end, how long clients get to read the final lines before they are cut off.
const FLUSH_GRACE: Duration = Duration::from_secs(2);
/// How long the end waits for the tap to see the engine's last event.
const TAP_GRACE: Duration = Duration::from_secs(5);

/// The clients and the snapshot, under one lock so a newcomer gets the snapshot and then
/// exactly the events after it.
#[derive(Default)]
pub(crate) struct Shared {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    snapshot: Snapshot,
    clients: Vec<Client>,
    next_id: u64,
    /// The run has sent `Finished`: newcomers get the snapshot and are closed.
    finished: bool,
}

struct Client {
    id: u64,
    tx: mpsc::Sender<Line>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; carry on with it.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new client: the snapshot as of now, and the queue of what follows (`None` once
    /// the run has finished).
    pub(crate) fn join(&self) -> (u64, Snapshot, Option<mpsc::Receiver<Line>>) {
        let mut inner = self.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        let rx = (!inner.finished).then(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            inner.clients.push(Client { id, tx });
            rx
        });
        (id, inner.snapshot.clone(), rx)
    }

    pub(crate) fn leave(&self, id: u64) {
        self.lock().clients.retain(|c| c.id != id);
    }

    /// Drops every queue: each client's writer sends what it has and closes.
    fn close_all(&self) {
        let mut inner = self.lock();
        inner.finished = true;
        inner.clients.clear();
    }
}

/// The observer on the run's event tap.
struct ControlTap {
    shared: Arc<Shared>,
    /// Tells the server task the run's id, once: then it can bind in the run directory.
    run_id: Option<oneshot::Sender<String>>,
    done: CancellationToken,
}

/// Running and retrying views are superseded by the segment's next one; a client that
/// misses some still ends up right.
fn is_progress(ev: &EngineEvent) -> bool {
    matches!(
        ev,
        EngineEvent::Segment(v) if matches!(v.state, SegmentState::Running | SegmentState::Retrying)
    )
}

impl Observer for ControlTap {
    fn on_event(&mut self, ev: &EngineEvent) {
        let mut inner = self.shared.lock();
        inner.snapshot.fold(ev);
        if let EngineEvent::RunStarted(info) = ev
            && let Some(tx) = self.run_id.take()
        {
            // Ignored on purpose: a server task that is gone serves nobody anyway.
            let _ = tx.send(info.run_id.clone());
        }
        if !inner.clients.is_empty() {
            let line: Line = super::wire::ServerMsg::from_event(ev, Instant::now())
                .line()
                .into();
            let progress = is_progress(ev);
            inner.clients.retain(|c| match c.tx.try_send(line.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) if progress => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(
                        "control socket: a client fell {QUEUE} events behind; disconnecting it"
                    );
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
        }
        if matches!(ev, EngineEvent::Finished(_)) {
            drop(inner);
            self.shared.close_all();
            self.done.cancel();
        }
    }
}

/// The control server of one run; [`ControlServer::finish`] at the end removes the socket.
pub struct ControlServer {
    tap: JoinHandle<ControlTap>,
    task: JoinHandle<()>,
    done: CancellationToken,
}

/// Serves `handle`'s run on a control socket in its run directory under `state_dir`.
/// Returns the handle to use instead (events pass through a tap, unchanged) and the server.
/// Never fails the run: a socket that cannot be bound is a warning in the log.
pub fn serve(handle: EngineHandle, state_dir: &Path) -> (EngineHandle, ControlServer) {
    let shared = Arc::new(Shared::default());
    let (id_tx, id_rx) = oneshot::channel();
    let done = CancellationToken::new();
    // Weak: the control server must never keep a finished engine alive.
    let commands = handle.commands.downgrade();
    let task = tokio::spawn(run(
        shared.clone(),
        state_dir.to_path_buf(),
        id_rx,
        done.clone(),
        commands,
    ));
    let observer = ControlTap {
        shared,
        run_id: Some(id_tx),
        done: done.clone(),
    };
    let (handle, tap) = tap::tap(handle, observer);
    (handle, ControlServer { tap, task, done })
}

impl ControlServer {
    /// After the run: lets clients read the last lines, then closes them and removes the
    /// socket. Bounded in time whatever the clients do.
    pub async fn finish(self) {
        // Ignored on purpose: a tap that panicked or lags leaves nothing to flush.
        let _ = tokio::time::timeout(TAP_GRACE, self.tap).await;
        self.done.cancel();
        let abort = self.task.abort_handle();
        if tokio::time::timeout(FLUSH_GRACE * 2, self.task)
            .await
            .is_err()
        {
            // Dropping the task drops the socket file guard: the socket goes too.
            abort.abort();
        }
    }
}

async fn run(
    shared: Arc<Shared>,
    state_dir: PathBuf,
    run_id: oneshot::Receiver<String>,
    done: CancellationToken,
    commands: mpsc::WeakSender<crate::engine::events::Command>,
) {
    let run_id = tokio::select! {
        id = run_id => match id { Ok(id) => id, Err(_) => return },
        _ = done.cancelled() => return,
    };
    let dir = match crate::journal::run_dir(&state_dir, &run_id) {
        Ok(d) => d,
        Err(e) => return tracing::warn!("control socket not served: {e}"),
    };
    let (listener, file) = match socket::bind(&dir).await {
        Ok(l) => l,
        Err(e) => {
            return tracing::warn!(
                "control socket not served in {} (`supsync ps` and `attach` will not see this run): {e}",
                dir.display()
            );
        }
    };
    tracing::info!("control socket: {}", socket::socket_path(&dir).display());
    let mut clients = JoinSet::new();
    loop {
        tokio::select! {
            _ = done.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    clients.spawn(conn::serve_client(stream, shared.clone(), commands.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!("control socket: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            },
            Some(_) = clients.join_next(), if !clients.is_empty() => {}
        }
    }
    // No newcomers from here, and no socket file for `ps` to find.
    drop(listener);
    drop(file);
    shared.close_all();
    let _ = tokio::time::timeout(FLUSH_GRACE, async {
        while clients.join_next().await.is_some() {}
    })
    .await;
}
