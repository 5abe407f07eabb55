//! How long to wait before the next attempt of a segment.
//!
//! Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): the ceiling
//! doubles with every attempt, from `initial` up to `max`, and the wait is drawn uniformly
//! between `initial` and that ceiling, so concurrent segments that failed together do not
//! come back together. A server's `Retry-After` is a floor, clamped so a hostile or buggy
//! value cannot park the run for hours.
//!
//! Not `backon`: its jitter is additive (`delay + rand·delay`), which overshoots
//! `backoff_max_ms` by up to 2× and is not full jitter; and segments need the delay for a
//! given attempt number plus the server's wish, not an iterator.

use std::time::Duration;

/// Backoff bounds, from `[sync]` in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub max_retry_after: Duration,
}

impl Backoff {
    pub fn from_config(sync: &crate::config::SyncConfig) -> Self {
        let initial = Duration::from_millis(sync.backoff_initial_ms);
        Self {
            initial,
            // A max below the initial value would make the range empty; the larger wins.
            max: Duration::from_millis(sync.backoff_max_ms).max(initial),
            max_retry_after: Duration::from_secs(sync.max_retry_after_secs),
        }
    }

    /// The ceiling for the wait after failed attempt number `attempt` (1-based):
    /// `initial · 2^(attempt-1)`, capped at `max`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(32);
        self.initial
            .checked_mul(1u32 << doublings.min(31))
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// The wait after failed attempt `attempt`, with `unit` a uniform draw in `[0, 1]`
    /// (a parameter so the bounds are testable), honouring `retry_after` when the server
    /// sent one.
    pub fn delay_with(&self, attempt: u32, unit: f64, retry_after: Option<Duration>) -> Duration {
        let lo = self.initial;
        let hi = self.ceiling(attempt);
        let jittered = lo + (hi - lo).mul_f64(unit.clamp(0.0, 1.0));
        match retry_after {
            Some(ra) => jittered.max(ra.min(self.max_retry_after)),
            None => jittered,
        }
    }

    /// [`Self::delay_with`] with a random draw.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        self.delay_with(attempt, rand::random::<f64>(), retry_after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b() -> Backoff {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(1_000),
            max_retry_after: Duration::from_secs(5),
        }
    }

    #[test]
    fn ceiling_doubles_then_caps() {
        let b = b();
        assert_eq!(b.ceiling(1), Duration::from_millis(100));
        assert_eq!(b.ceiling(2), Duration::from_millis(200));
        assert_eq!(b.ceiling(4), Duration::from_millis(800));
        assert_eq!(b.ceiling(5), Duration::from_millis(1_000));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_millis(1_000));
    }

    #[test]
    fn jitter_spans_initial_to_ceiling() {
        let b = b();
        assert_eq!(b.delay_with(3, 0.0, None), Duration::from_millis(100));
        assert_eq!(b.delay_with(3, 1.0, None), Duration::from_millis(400));
        assert_eq!(b.delay_with(3, 0.5, None), Duration::from_millis(250));
        // Out-of-range draws are clamped, never outside the bounds.
        assert_eq!(b.delay_with(9, 7.0, None), Duration::from_millis(1_000));
        for attempt in 1..40 {
            let d = b.delay(attempt, None);
            assert!(d >= b.initial && d <= b.max, "attempt {attempt}: {d:?}");
        }
    }

    #[test]
    fn retry_after_is_a_floor_clamped_by_the_config() {
        let b = b();
        // The server's wish wins when longer than the jittered wait…
        assert_eq!(
            b.delay_with(1, 0.0, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        // …but never beyond max_retry_after…
        assert_eq!(
            b.delay_with(1, 0.0, Some(Duration::from_secs(3_600))),
            Duration::from_secs(5)
        );
        // …and a short one does not shorten our own backoff.
        assert_eq!(
            b.delay_with(4, 1.0, Some(Duration::from_millis(10))),
            Duration::from_millis(800)
        );
    }

    #[test]
    fn max_below_initial_is_not_an_empty_range() {
        let sync = crate::config::SyncConfig {
            backoff_initial_ms: 500,
            backoff_max_ms: 100,
            ..Default::default()
        };
        let b = Backoff::from_config(&sync);
        assert_eq!(b.delay_with(3, 1.0, None), Duration::from_millis(500));
    }
}
