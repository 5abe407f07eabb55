//! The one way the engine retries: attempts are counted here, the wait between them is
//! [`Backoff`] (full jitter, the server's `Retry-After` as a clamped floor), and every wait
//! ends as soon as the run is cancelled — or, for a graceful stop, stopped.
//!
//! Two kinds of stop: `cancel` abandons everything at once, including a request in flight;
//! `stop` (optional) lets a request in flight finish but cuts every wait short, so no
//! further attempt starts.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::backoff::Backoff;
use crate::api::ApiError;

/// A wait or request was cut short by a stop or cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stopped;

pub(crate) struct Retry {
    backoff: Backoff,
    cancel: CancellationToken,
    stop: Option<CancellationToken>,
    attempt: u32,
}

impl Retry {
    pub(crate) fn new(backoff: Backoff, cancel: &CancellationToken) -> Self {
        Self {
            backoff,
            cancel: cancel.clone(),
            stop: None,
            attempt: 0,
        }
    }

    /// Waits also end on `stop` (a graceful stop: requests in flight still finish).
    pub(crate) fn or_stop(mut self, stop: &CancellationToken) -> Self {
        self.stop = Some(stop.clone());
        self
    }

    /// Starts the next attempt and returns its number (from 1).
    pub(crate) fn next_attempt(&mut self) -> u32 {
        self.attempt = self.attempt.saturating_add(1);
        self.attempt
    }

    #[cfg(test)]
    pub(crate) fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Cancelled, or stopped: no new attempt may start.
    pub(crate) fn is_stopped(&self) -> bool {
        self.cancel.is_cancelled() || self.stop.as_ref().is_some_and(|s| s.is_cancelled())
    }

    /// The wait after the current attempt failed, honouring the server's `retry_after`.
    pub(crate) fn delay(&self, retry_after: Option<Duration>) -> Duration {
        self.backoff.delay(self.attempt.max(1), retry_after)
    }

    /// Runs `f` (a wait: the gate, a sleep) unless the run is cancelled or stopped first.
    pub(crate) async fn until_stopped<F: Future>(&self, f: F) -> Result<F::Output, Stopped> {
        let stop = async {
            match &self.stop {
                Some(s) => s.cancelled().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            out = f => Ok(out),
            _ = self.cancel.cancelled() => Err(Stopped),
            _ = stop => Err(Stopped),
        }
    }

    /// Runs `f` (a request in flight) unless the run is cancelled first; a graceful stop
    /// lets it finish.
    pub(crate) async fn until_cancelled<F: Future>(&self, f: F) -> Result<F::Output, Stopped> {
        tokio::select! {
            out = f => Ok(out),
            _ = self.cancel.cancelled() => Err(Stopped),
        }
    }

    /// Sleeps `wait` unless cancelled or stopped first.
    pub(crate) async fn sleep(&self, wait: Duration) -> Result<(), Stopped> {
        self.until_stopped(tokio::time::sleep(wait)).await
    }

    /// Calls `op` until it succeeds, fails for good, or has failed `max_attempts` times,
    /// waiting the backoff between attempts. A cancel or stop ends it with
    /// [`ApiError::Cancelled`].
    pub(crate) async fn call<T, F, Fut>(
        &mut self,
        max_attempts: u32,
        mut op: F,
    ) -> Result<T, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        loop {
            if self.is_stopped() {
                return Err(ApiError::Cancelled);
            }
            let n = self.next_attempt();
            let err = match self.until_cancelled(op()).await {
                Err(Stopped) => return Err(ApiError::Cancelled),
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(e)) => e,
            };
            if !err.is_retryable() || n >= max_attempts.max(1) {
                return Err(err);
            }
            if self.sleep(self.delay(err.retry_after())).await.is_err() {
                return Err(ApiError::Cancelled);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Instant;

    fn quick() -> Backoff {
        Backoff {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(4),
            max_retry_after: Duration::from_secs(60),
        }
    }

    fn transient() -> ApiError {
        ApiError::Transient {
            message: "503".into(),
            retry_after: None,
        }
    }

    #[tokio::test]
    async fn call_retries_transient_failures_up_to_the_limit() {
        let cancel = CancellationToken::new();
        let calls = AtomicU32::new(0);
        let mut r = Retry::new(quick(), &cancel);
        let out: Result<(), _> = r
            .call(3, || {
                calls.fetch_add(1, Ordering::Relaxed);
                async { Err(transient()) }
            })
            .await;
        assert!(matches!(out, Err(ApiError::Transient { .. })));
        assert_eq!(calls.load(Ordering::Relaxed), 3);
        assert_eq!(r.attempts(), 3);

        let calls = AtomicU32::new(0);
        let mut r = Retry::new(quick(), &cancel);
        let out = r
            .call(5, || {
                let n = calls.fetch_add(1, Ordering::Relaxed);
                async move { if n < 2 { Err(transient()) } else { Ok(n) } }
            })
            .await;
        assert_eq!(out.unwrap(), 2, "third attempt succeeds");
    }

    #[tokio::test]
    async fn a_permanent_error_is_not_retried() {
        let cancel = CancellationToken::new();
        let mut r = Retry::new(quick(), &cancel);
        let out: Result<(), _> = r
            .call(5, || async {
                Err(ApiError::Permanent {
                    status: 400,
                    message: "bad".into(),
                })
            })
            .await;
        assert!(matches!(out, Err(ApiError::Permanent { .. })));
        assert_eq!(r.attempts(), 1);
    }

    #[tokio::test]
    async fn every_wait_ends_on_cancel_and_on_stop() {
        let long = Backoff {
            initial: Duration::from_secs(600),
            max: Duration::from_secs(600),
            max_retry_after: Duration::from_secs(600),
        };
        let cancel = CancellationToken::new();
        let stop = CancellationToken::new();
        let r = Retry::new(long, &cancel).or_stop(&stop);
        let t = Instant::now();
        let s2 = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            s2.cancel();
        });
        assert_eq!(r.sleep(Duration::from_secs(600)).await, Err(Stopped));
        assert!(t.elapsed() < Duration::from_secs(10));
        assert!(r.is_stopped());
        // A graceful stop lets a request in flight finish…
        assert_eq!(r.until_cancelled(async { 7 }).await, Ok(7));

        // …and a cancel ends the backoff wait inside `call` too.
        let cancel = CancellationToken::new();
        let mut r = Retry::new(long, &cancel);
        let c2 = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            c2.cancel();
        });
        let t = Instant::now();
        let out: Result<(), _> = r.call(5, || async { Err(transient()) }).await;
        assert!(matches!(out, Err(ApiError::Cancelled)));
        assert!(t.elapsed() < Duration::from_secs(10));
    }
}
