//! The run-level outage clock: how long the server (the API, or the token endpoint behind
//! it) has failed every request, from the first transient failure after a success. Past
//! `sync.max_outage_secs` the run stops, resumably, instead of waiting forever: a cron job
//! or CI step must end. A `Retry-After` longer than `sync.max_retry_after_secs` is reported
//! once per outage and its wait counts toward the bound like any other.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::api::ApiError;

pub(crate) struct Outage {
    bound: Duration,
    max_retry_after: Duration,
    /// When the current outage began; `None` while the server answers.
    since: watch::Sender<Option<Instant>>,
    /// Fast path for the success after every request: no lock while nothing is down.
    down: AtomicBool,
    /// The server has answered this run at least once: a refused connection afterwards
    /// is the server going away, not a wrong address.
    answered: AtomicBool,
    window: Mutex<OutageSeen>,
    /// What the credential comes from, for the message: "the token endpoint" or "the
    /// login endpoint".
    credential_source: &'static str,
}

/// What the current outage looked like, for the message that ends the run.
#[derive(Default)]
struct OutageSeen {
    last_error: Option<String>,
    /// The last failure was the token endpoint's (no token could be had).
    token_endpoint: bool,
    /// The longest wait the server asked for beyond `max_retry_after`.
    asked: Option<Duration>,
}

/// How the outage ended the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OutageEnd {
    pub message: String,
    /// The token endpoint was the one down (exit code 4, as at the start of a run).
    pub token_endpoint: bool,
}

impl Outage {
    pub(crate) fn new(bound: Duration, max_retry_after: Duration) -> Self {
        Self {
            bound,
            max_retry_after,
            since: watch::Sender::new(None),
            down: AtomicBool::new(false),
            answered: AtomicBool::new(false),
            window: Mutex::new(OutageSeen::default()),
            credential_source: "the token endpoint",
        }
    }

    pub(crate) fn from_config(cfg: &crate::config::Config) -> Self {
        let mut o = Self::new(
            Duration::from_secs(cfg.sync.max_outage_secs),
            Duration::from_secs(cfg.sync.max_retry_after_secs),
        );
        if cfg.auth.kind == crate::config::AuthKind::Session {
            o.credential_source = "the login endpoint";
        }
        o
    }

    // The window is only ever replaced whole or field by field: a poisoned lock still
    // holds consistent data.
    fn window(&self) -> MutexGuard<'_, OutageSeen> {
        self.window.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The server answered: any outage is over. True when one was on.
    pub(crate) fn success(&self) -> bool {
        self.answered.store(true, Ordering::Relaxed);
        if !self.down.swap(false, Ordering::AcqRel) {
            return false;
        }
        *self.window() = OutageSeen::default();
        self.since.send_replace(None);
        true
    }

    /// The server has answered this run before.
    pub(crate) fn has_answered(&self) -> bool {
        self.answered.load(Ordering::Relaxed)
    }

    /// "the token endpoint" or "the login endpoint".
    pub(crate) fn credential_source(&self) -> &'static str {
        self.credential_source
    }

    /// The clock starts over from the next failure: the operator resumed a paused run, and
    /// the time nobody asked the server does not count.
    pub(crate) fn restart(&self) {
        self.success();
    }

    /// A transient failure (5xx, 429, connection, token endpoint unreachable): starts the
    /// clock if it is not running. Returns a notice for the operator when the server asks
    /// to wait longer than we honour, the first time in this outage.
    pub(crate) fn failure(&self, err: &ApiError) -> Option<String> {
        let mut notice = None;
        {
            let mut w = self.window();
            w.last_error = Some(err.to_string());
            w.token_endpoint = matches!(err, ApiError::Auth(_));
            if let Some(asked) = err.retry_after().filter(|d| *d > self.max_retry_after) {
                if w.asked.is_none() {
                    notice = Some(format!(
                        "the server asks to wait {} (Retry-After), more than \
                         sync.max_retry_after_secs ({} s): retrying sooner, and the wait \
                         counts toward sync.max_outage_secs ({} s)",
                        crate::api::retry_after::words(asked),
                        self.max_retry_after.as_secs(),
                        self.bound.as_secs()
                    ));
                }
                w.asked = w.asked.max(Some(asked));
            }
        }
        if !self.down.swap(true, Ordering::AcqRel) {
            self.since.send_replace(Some(Instant::now()));
        }
        notice
    }

    /// Resolves when the current outage has lasted `bound`, with what to tell the operator.
    /// Pending while the server answers.
    pub(crate) async fn expired(&self) -> OutageEnd {
        let mut rx = self.since.subscribe();
        loop {
            let since = *rx.borrow_and_update();
            let deadline = since.and_then(|t| t.checked_add(self.bound));
            let Some(deadline) = deadline else {
                // The sender lives as long as `self`: `changed` cannot fail here.
                let _ = rx.changed().await;
                continue;
            };
            tokio::select! {
                _ = tokio::time::sleep_until(deadline.into()) => {
                    if *rx.borrow() == since {
                        return self.end(deadline.saturating_duration_since(since.unwrap_or(deadline)));
                    }
                }
                _ = rx.changed() => {}
            }
        }
    }

    fn end(&self, lasted: Duration) -> OutageEnd {
        let w = self.window();
        let what = if w.token_endpoint {
            self.credential_source
        } else {
            "the API"
        };
        let mut message = format!(
            "{what} has been unavailable for {} (sync.max_outage_secs = {}): stopping; \
             unfinished segments stay pending",
            human(lasted),
            self.bound.as_secs()
        );
        if let Some(asked) = w.asked {
            message.push_str(&format!(
                "; the server asks to wait {} (Retry-After), more than sync.max_retry_after_secs ({} s)",
                crate::api::retry_after::words(asked),
                self.max_retry_after.as_secs()
            ));
        }
        if let Some(e) = &w.last_error {
            message.push_str(&format!("; last error: {e}"));
        }
        OutageEnd {
            message,
            token_endpoint: w.token_endpoint,
        }
    }
}

/// "45 s", "10 min", "2 h 30 min", "24 h".
pub(crate) fn human(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    match (h, m, sec) {
        (0, 0, _) if s == 0 => format!("{:.1} s", d.as_secs_f64()),
        (0, 0, s) => format!("{s} s"),
        (0, m, 0) => format!("{m} min"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, 0, _) => format!("{h} h"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate_limited(secs: u64) -> ApiError {
        ApiError::RateLimited {
            retry_after: Some(Duration::from_secs(secs)),
        }
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human(Duration::from_secs(86_400)), "24 h");
        assert_eq!(human(Duration::from_secs(600)), "10 min");
        assert_eq!(human(Duration::from_secs(45)), "45 s");
        assert_eq!(human(Duration::from_secs(9_000)), "2 h 30 min");
        assert_eq!(human(Duration::from_millis(300)), "0.3 s");
    }

    #[tokio::test]
    async fn the_bound_ends_a_lasting_outage_and_a_success_resets_it() {
        let o = Outage::new(Duration::from_millis(200), Duration::from_secs(120));
        // Nothing down: never expires.
        let quiet = tokio::time::timeout(Duration::from_millis(300), o.expired()).await;
        assert!(quiet.is_err());
        // Down, then up again before the bound: no end.
        assert_eq!(o.failure(&rate_limited(1)), None);
        tokio::time::sleep(Duration::from_millis(100)).await;
        o.success();
        let reset = tokio::time::timeout(Duration::from_millis(300), o.expired()).await;
        assert!(reset.is_err(), "a success must restart the clock");
        // Down for good: ends at the bound, not much later.
        let t = Instant::now();
        assert!(
            o.failure(&rate_limited(86_400)).is_some(),
            "a long wait is reported"
        );
        assert_eq!(o.failure(&rate_limited(86_400)), None, "…once");
        let end = tokio::time::timeout(Duration::from_secs(5), o.expired())
            .await
            .expect("the outage ends the run");
        assert!(t.elapsed() >= Duration::from_millis(200));
        assert!(!end.token_endpoint);
        assert!(
            end.message.contains("the server asks to wait 24 h"),
            "{}",
            end.message
        );
        assert!(
            end.message.contains("sync.max_outage_secs"),
            "{}",
            end.message
        );
    }

    #[tokio::test]
    async fn a_token_endpoint_failure_names_the_token_endpoint() {
        let o = Outage::new(Duration::from_millis(50), Duration::from_secs(120));
        let grant = crate::auth::grant::GrantError::Transport {
            grant: crate::auth::status::GrantKind::ClientCredentials,
            message: "connection refused".into(),
        };
        o.failure(&ApiError::Auth(grant));
        let end = o.expired().await;
        assert!(end.token_endpoint);
        assert!(
            end.message.starts_with("the token endpoint"),
            "{}",
            end.message
        );
    }

    #[tokio::test]
    async fn a_login_endpoint_failure_names_the_login_endpoint() {
        let mut cfg = crate::config::Config::default();
        cfg.auth.kind = crate::config::AuthKind::Session;
        cfg.sync.max_outage_secs = 0;
        let o = Outage::from_config(&cfg);
        let grant = crate::auth::grant::GrantError::Transport {
            grant: crate::auth::status::GrantKind::SessionLogin,
            message: "connection refused".into(),
        };
        o.failure(&ApiError::Auth(grant));
        let end = tokio::time::timeout(Duration::from_secs(5), o.expired())
            .await
            .expect("a zero bound ends at once");
        assert!(end.token_endpoint);
        assert!(
            end.message.starts_with("the login endpoint"),
            "{}",
            end.message
        );
    }
}
