//! A tap on a run's event stream: every further consumer (metrics and alerts, `--json`
//! output, the control socket that `attach` reads) sees each event before the console or the
//! headless reporter does, without a second path into the engine.

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::engine::EngineHandle;
use crate::engine::events::EngineEvent;

/// Something that watches every event of a run. `on_event` must not block: it runs on the
/// forwarding task, and a slow observer would hold back the console.
pub trait Observer: Send + 'static {
    fn on_event(&mut self, ev: &EngineEvent);
}

impl<F: FnMut(&EngineEvent) + Send + 'static> Observer for F {
    fn on_event(&mut self, ev: &EngineEvent) {
        self(ev)
    }
}

/// Puts `observer` between the engine and the handle's reader. The returned handle is used
/// exactly like the original; the join handle gives the observer back once the engine's
/// stream has ended (after `Finished`), so it can be flushed.
pub fn tap<O: Observer>(handle: EngineHandle, mut observer: O) -> (EngineHandle, JoinHandle<O>) {
    let EngineHandle {
        mut events,
        commands,
        cancel,
        task,
    } = handle;
    let (tx, rx) = mpsc::channel(events.max_capacity());
    let forward = tokio::spawn(async move {
        let mut reader_gone = false;
        while let Some(ev) = events.recv().await {
            observer.on_event(&ev);
            // A reader that went away (console closed early) must not stop the observer
            // from seeing the rest of the run, e.g. the final summary.
            if !reader_gone && tx.send(ev).await.is_err() {
                reader_gone = true;
            }
        }
        observer
    });
    let handle = EngineHandle {
        events: rx,
        commands,
        cancel,
        task,
    };
    (handle, forward)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::events::Command;
    use tokio_util::sync::CancellationToken;

    fn fake_handle() -> (mpsc::Sender<EngineEvent>, EngineHandle) {
        let (tx, events) = mpsc::channel(4);
        let (commands, _rx) = mpsc::channel::<Command>(1);
        let task = tokio::spawn(async { std::future::pending().await });
        let handle = EngineHandle {
            events,
            commands,
            cancel: CancellationToken::new(),
            task,
        };
        (tx, handle)
    }

    #[tokio::test]
    async fn the_observer_and_the_reader_see_every_event_in_order() {
        let (tx, handle) = fake_handle();
        let (mut handle, seen) = tap(handle, Notices(Vec::new()));
        for i in 0..3 {
            tx.send(EngineEvent::Notice(format!("n{i}"))).await.unwrap();
        }
        drop(tx);
        let mut read = Vec::new();
        while let Some(EngineEvent::Notice(n)) = handle.events.recv().await {
            read.push(n);
        }
        let seen = seen.await.unwrap().0;
        assert_eq!(read, ["n0", "n1", "n2"]);
        assert_eq!(seen, read);
        handle.task.abort();
    }

    #[tokio::test]
    async fn the_observer_keeps_watching_after_the_reader_left() {
        let (tx, handle) = fake_handle();
        let (handle, seen) = tap(handle, Notices(Vec::new()));
        drop(handle.events);
        for i in 0..10 {
            tx.send(EngineEvent::Notice(format!("n{i}"))).await.unwrap();
        }
        drop(tx);
        assert_eq!(seen.await.unwrap().0.len(), 10);
        handle.task.abort();
    }

    /// Collects notices, for the tests above.
    struct Notices(Vec<String>);
    impl Observer for Notices {
        fn on_event(&mut self, ev: &EngineEvent) {
            if let EngineEvent::Notice(n) = ev {
                self.0.push(n.clone());
            }
        }
    }
}
