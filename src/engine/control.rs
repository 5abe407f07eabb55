//! The gate every segment request passes: closed while the operator has paused the run,
//! and while the retry budget is spent (the server looks down). Workers wait at the gate
//! instead of burning their attempts; a probe (`probe.rs`) reopens it when the server
//! answers again.

use std::sync::atomic::{AtomicU32, Ordering};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct GateState {
    paused: bool,
    /// Retry budget spent: hold every request until a probe succeeds.
    tripped: bool,
}

pub(crate) struct Gate {
    state: watch::Sender<GateState>,
    consecutive_failures: AtomicU32,
    budget: u32,
}

impl Gate {
    pub(crate) fn new(budget: u32) -> Self {
        Self {
            state: watch::Sender::new(GateState::default()),
            consecutive_failures: AtomicU32::new(0),
            // A budget of 0 would trip on the first blip; 1 is the smallest meaningful one.
            budget: budget.max(1),
        }
    }

    pub(crate) fn set_paused(&self, paused: bool) {
        self.state.send_modify(|s| s.paused = paused);
    }

    /// Waits until requests may go out. False when `cancel` fired first.
    pub(crate) async fn wait_open(&self, cancel: &CancellationToken) -> bool {
        let mut rx = self.state.subscribe();
        tokio::select! {
            r = rx.wait_for(|s| !s.paused && !s.tripped) => r.is_ok(),
            _ = cancel.cancelled() => false,
        }
    }

    /// A request succeeded: the server is alive, the budget is whole again.
    pub(crate) fn success(&self) {
        self.consecutive_failures.store(0, Ordering::Relaxed);
    }

    /// A transient failure. True when this one spent the budget and tripped the gate (the
    /// caller then starts the probe; only one caller ever sees true per trip).
    pub(crate) fn transient_failure(&self) -> bool {
        let n = self.consecutive_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if n < self.budget {
            return false;
        }
        let mut tripped_now = false;
        self.state.send_if_modified(|s| {
            tripped_now = !s.tripped;
            s.tripped = true;
            tripped_now
        });
        tripped_now
    }

    /// The server answers again (a probe succeeded): requests may go out.
    pub(crate) fn reopen(&self) {
        self.consecutive_failures.store(0, Ordering::Relaxed);
        self.state.send_modify(|s| s.tripped = false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn budget_trips_once_and_success_resets_it() {
        let g = Gate::new(3);
        assert!(!g.transient_failure());
        assert!(!g.transient_failure());
        g.success();
        assert!(!g.transient_failure());
        assert!(!g.transient_failure());
        assert!(g.transient_failure(), "third in a row trips");
        assert!(!g.transient_failure(), "only one caller starts the probe");
        let cancel = CancellationToken::new();
        let waited = tokio::time::timeout(Duration::from_millis(50), g.wait_open(&cancel)).await;
        assert!(waited.is_err(), "tripped gate holds requests");
        g.reopen();
        assert!(g.wait_open(&cancel).await);
    }

    #[tokio::test]
    async fn pause_holds_until_resumed_or_cancelled() {
        let g = Arc::new(Gate::new(5));
        g.set_paused(true);
        let cancel = CancellationToken::new();
        let g2 = g.clone();
        let c2 = cancel.clone();
        let waiter = tokio::spawn(async move { g2.wait_open(&c2).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        g.set_paused(false);
        assert!(waiter.await.unwrap());
        g.set_paused(true);
        cancel.cancel();
        assert!(!g.wait_open(&cancel).await);
    }
}
