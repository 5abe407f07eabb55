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
    /// The server asked the run to wait (`Retry-After`): nothing goes out before this.
    hold_until: Option<tokio::time::Instant>,
}

pub(crate) struct Gate {
    state: watch::Sender<GateState>,
    /// A hold was reported and its end not yet: the end is reported once, by the first
    /// success after the hold (not by a request that was already at the server).
    hold_reported: std::sync::atomic::AtomicBool,
    consecutive_failures: AtomicU32,
    budget: u32,
}

impl Gate {
    pub(crate) fn new(budget: u32) -> Self {
        Self {
            state: watch::Sender::new(GateState::default()),
            hold_reported: std::sync::atomic::AtomicBool::new(false),
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
        loop {
            let s = *rx.borrow_and_update();
            let held = s.hold_until.filter(|t| *t > tokio::time::Instant::now());
            if !s.paused && !s.tripped && held.is_none() {
                return true;
            }
            let until_hold = async {
                match held {
                    Some(t) if !s.paused && !s.tripped => tokio::time::sleep_until(t).await,
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                r = rx.changed() => if r.is_err() { return false },
                _ = until_hold => {}
                _ = cancel.cancelled() => return false,
            }
        }
    }

    /// The server asked to wait `wait` (its `Retry-After`): no request goes out before
    /// then. A later deadline already set stays. True when this extends the hold (the
    /// caller reports it), false when an equal or longer one was already on.
    pub(crate) fn hold_for(&self, wait: std::time::Duration) -> bool {
        let until = tokio::time::Instant::now() + wait;
        self.state.send_if_modified(|s| {
            // Within a tenth of a second of the current deadline is the same hold: the
            // segments in flight all hear the same `Retry-After` from the same outage.
            let longer = s
                .hold_until
                .is_none_or(|t| until > t + std::time::Duration::from_millis(100));
            if longer {
                s.hold_until = Some(until);
            }
            longer
        })
    }

    /// Notes that a hold was reported.
    pub(crate) fn hold_reported(&self) {
        self.hold_reported.store(true, Ordering::Relaxed);
    }

    /// True once per reported hold, when it is over: the gate is open again (neither
    /// tripped nor before a `Retry-After`).
    pub(crate) fn hold_ended(&self) -> bool {
        let s = *self.state.borrow();
        let holding = s.tripped
            || s.hold_until
                .is_some_and(|t| t > tokio::time::Instant::now());
        !holding && self.hold_reported.swap(false, Ordering::Relaxed)
    }

    /// Holds every request until a probe reopens the gate: the server stopped answering
    /// (connection refused or reset) right after answering fine. True for the one caller
    /// that closed it (it starts the probe).
    pub(crate) fn trip(&self) -> bool {
        let mut tripped_now = false;
        self.state.send_if_modified(|s| {
            tripped_now = !s.tripped;
            s.tripped = true;
            tripped_now
        });
        tripped_now
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
        self.trip()
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

    #[tokio::test]
    async fn a_hold_keeps_requests_back_until_its_time_and_not_longer() {
        let g = Gate::new(5);
        let cancel = CancellationToken::new();
        let t = std::time::Instant::now();
        assert!(g.hold_for(Duration::from_millis(300)));
        assert!(
            !g.hold_for(Duration::from_millis(250)),
            "a shorter hold is no news"
        );
        assert!(g.wait_open(&cancel).await);
        let waited = t.elapsed();
        assert!(waited >= Duration::from_millis(300), "{waited:?}");
        assert!(waited < Duration::from_millis(1_500), "{waited:?}");
        // A hold that has passed holds nothing.
        let t = std::time::Instant::now();
        assert!(g.wait_open(&cancel).await);
        assert!(t.elapsed() < Duration::from_millis(100));
        g.hold_for(Duration::from_secs(600));
        cancel.cancel();
        assert!(!g.wait_open(&cancel).await);
    }
}
