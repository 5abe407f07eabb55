//! The run's side of the control socket: an observer on the event tap folds every event
//! into the snapshot and hands it to each client's bounded queue without ever waiting; a
//! server task binds the socket once the run has an id (its directory exists then),
//! accepts clients and removes the socket when the run is over.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::clients::{Line, QUEUE, Shared};
use super::conn;
use super::socket;
use crate::engine::EngineHandle;
use crate::engine::events::{EngineEvent, SegmentState};
use crate::observe::tap::{self, Observer};

/// After the end, how long clients get to read the final lines before they are cut off.
const FLUSH_GRACE: Duration = Duration::from_secs(2);
/// How long the end waits for the tap to see the engine's last event.
const TAP_GRACE: Duration = Duration::from_secs(5);

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
            inner.clients.retain_mut(|c| {
                if c.stale {
                    return true;
                }
                match c.tx.try_send(line.clone()) {
                    Ok(()) => true,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        if !progress {
                            tracing::debug!("control socket: a client fell {QUEUE} events behind; it gets a new snapshot");
                            c.stale = true;
                        }
                        true
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => false,
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::events::{RunSummary, SegmentView};
    use crate::run::{Counts, Direction, RunState};

    fn tap() -> (Arc<Shared>, ControlTap) {
        let shared = Arc::new(Shared::default());
        let (tx, _rx) = oneshot::channel();
        let tap = ControlTap {
            shared: shared.clone(),
            run_id: Some(tx),
            done: CancellationToken::new(),
        };
        (shared, tap)
    }

    fn done(i: usize) -> EngineEvent {
        let mut v = SegmentView::pending(i, 1);
        v.state = SegmentState::Done;
        EngineEvent::Segment(v)
    }

    fn running(i: usize) -> EngineEvent {
        let mut v = SegmentView::pending(i, 1);
        v.state = SegmentState::Running;
        EngineEvent::Segment(v)
    }

    #[test]
    fn a_lagging_client_costs_nothing_and_catches_up_with_a_snapshot() {
        let (shared, mut tap) = tap();
        let (id, _, rx) = shared.join();
        let mut rx = rx.unwrap();
        // Progress past a full queue is dropped, and the client is not marked.
        for i in 0..QUEUE + 10 {
            tap.on_event(&running(i));
        }
        assert_eq!(rx.len(), QUEUE);
        assert!(
            shared.resync(id).is_none(),
            "dropped progress needs no resync"
        );
        while rx.try_recv().is_ok() {}
        // An outcome that does not fit: the client is stale, nothing more is queued.
        for i in 0..QUEUE + 10 {
            tap.on_event(&done(i));
        }
        assert_eq!(rx.len(), QUEUE);
        while rx.try_recv().is_ok() {}
        tap.on_event(&EngineEvent::Notice("after".into()));
        assert!(rx.try_recv().is_err(), "a stale client gets nothing queued");
        // Caught up: a fresh snapshot, then the queue carries on.
        assert!(shared.resync(id).is_some());
        assert!(shared.resync(id).is_none(), "once");
        tap.on_event(&EngineEvent::Notice("live again".into()));
        assert!(rx.try_recv().unwrap().contains("live again"));
    }

    #[test]
    fn a_client_lagging_at_the_end_still_gets_the_end() {
        let (shared, mut tap) = tap();
        let (id, _, rx) = shared.join();
        let mut rx = rx.unwrap();
        for i in 0..QUEUE + 1 {
            tap.on_event(&done(i));
        }
        tap.on_event(&EngineEvent::Finished(RunSummary {
            run_id: "r".into(),
            direction: Direction::Push,
            state: RunState::Completed,
            counts: Counts::default(),
            segments_total: 1,
            segments_done: 1,
            segments_failed: 0,
            token_renewals: 0,
            sessions: 1,
            duration: Duration::from_secs(1),
            error: None,
            auth_failure: false,
        }));
        assert!(tap.done.is_cancelled());
        while rx.try_recv().is_ok() {}
        assert!(rx.is_closed(), "the queues close at the end");
        let snap = shared.resync(id).expect("the end, as a snapshot");
        let lines = snap.lines(1, Instant::now());
        assert!(lines.iter().any(|l| l.contains(r#""type":"finished""#)));
        // A newcomer after the end gets the snapshot and no queue.
        assert!(shared.join().2.is_none());
    }
}
