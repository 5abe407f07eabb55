//! The run's control clients and its snapshot, under one lock: what the server's event
//! tap feeds and each client's connection reads from.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;

use super::snapshot::Snapshot;

/// One serialised line, shared by every client's queue.
pub(crate) type Line = Arc<str>;

/// Lines queued per client. Past this, progress is dropped for that client; anything else
/// marks it stale: nothing more is queued, and once it has read its queue it gets a fresh
/// snapshot instead of what it missed. The run never waits for a client (one that stops
/// reading altogether is cut off by the write deadline in `conn`).
pub(super) const QUEUE: usize = 1024;

/// The clients and the snapshot, under one lock so a newcomer gets the snapshot and then
/// exactly the events after it.
#[derive(Default)]
pub(crate) struct Shared {
    inner: Mutex<Inner>,
}

#[derive(Default)]
pub(super) struct Inner {
    pub(super) snapshot: Snapshot,
    pub(super) clients: Vec<Client>,
    next_id: u64,
    /// The run has sent `Finished`: newcomers get the snapshot and are closed.
    finished: bool,
    /// Clients that were stale when the queues closed: they still get the final snapshot.
    stale_at_end: Vec<u64>,
}

pub(super) struct Client {
    id: u64,
    pub(super) tx: mpsc::Sender<Line>,
    /// Its queue overflowed: it gets a new snapshot when it has caught up.
    pub(super) stale: bool,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
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
            inner.clients.push(Client {
                id,
                tx,
                stale: false,
            });
            rx
        });
        (id, inner.snapshot.clone(), rx)
    }

    /// Called by a client that has read its whole queue: a fresh snapshot if it had fallen
    /// behind, from which its queue carries on.
    pub(crate) fn resync(&self, id: u64) -> Option<Snapshot> {
        let mut inner = self.lock();
        match inner.clients.iter_mut().find(|c| c.id == id) {
            Some(c) if c.stale => c.stale = false,
            Some(_) => return None,
            // Its queue was closed at the end while it lagged: the end is in the snapshot.
            None => {
                let i = inner.stale_at_end.iter().position(|s| *s == id)?;
                inner.stale_at_end.swap_remove(i);
            }
        }
        Some(inner.snapshot.clone())
    }

    pub(crate) fn leave(&self, id: u64) {
        self.lock().clients.retain(|c| c.id != id);
    }

    /// Drops every queue: each client's writer sends what it has and closes.
    pub(super) fn close_all(&self) {
        let mut inner = self.lock();
        inner.finished = true;
        let stale: Vec<u64> = inner
            .clients
            .iter()
            .filter(|c| c.stale)
            .map(|c| c.id)
            .collect();
        inner.stale_at_end.extend(stale);
        inner.clients.clear();
    }
}
