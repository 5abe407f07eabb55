//! A token bucket: `rate` tokens a second, at most `burst` saved up. Pure (the caller hands
//! in the time), so its arithmetic is tested without sleeping.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Starts full. `rate` must be above zero (callers keep "no cap" as no bucket).
    pub fn new(rate: f64, burst: f64, now: Instant) -> Self {
        let burst = burst.max(1.0);
        Self {
            rate: rate.max(f64::MIN_POSITIVE),
            burst,
            tokens: burst,
            at: now,
        }
    }

    /// A new rate from now on (the tokens saved so far are kept, within the new burst).
    pub fn set_rate(&mut self, rate: f64, burst: f64, now: Instant) {
        self.refill(now);
        self.rate = rate.max(f64::MIN_POSITIVE);
        self.burst = burst.max(1.0);
        self.tokens = self.tokens.min(self.burst);
    }

    /// Takes one token: zero when one was there, else how long until it is (the token is
    /// spoken for either way, so callers queue behind each other).
    pub fn take(&mut self, now: Instant) -> Duration {
        self.refill(now);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64((-self.tokens / self.rate).min(86_400.0))
    }

    fn refill(&mut self, now: Instant) {
        let since = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = self.at.max(now);
        self.tokens = (self.tokens + since * self.rate).min(self.burst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_lets_a_burst_through_then_spaces_requests_by_the_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(10.0, 2.0, t0);
        assert_eq!(b.take(t0), Duration::ZERO);
        assert_eq!(b.take(t0), Duration::ZERO);
        let wait = b.take(t0);
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9, "{wait:?}");
        // The next one queues behind the one already waiting.
        let wait = b.take(t0);
        assert!((wait.as_secs_f64() - 0.2).abs() < 1e-9, "{wait:?}");
    }

    #[test]
    fn over_a_second_no_more_than_rate_plus_burst_pass() {
        let t0 = Instant::now();
        let mut b = Bucket::new(5.0, 1.0, t0);
        let passed = (0..1000)
            .map(|i| t0 + Duration::from_millis(i))
            .filter(|&t| {
                let mut probe = b.clone();
                let free = probe.take(t).is_zero();
                if free {
                    b = probe;
                }
                free
            })
            .count();
        assert!((5..=6).contains(&passed), "{passed} passed in one second");
    }

    #[test]
    fn a_lower_rate_applies_at_once() {
        let t0 = Instant::now();
        let mut b = Bucket::new(100.0, 1.0, t0);
        assert!(b.take(t0).is_zero());
        b.set_rate(1.0, 1.0, t0);
        let wait = b.take(t0);
        assert!((wait.as_secs_f64() - 1.0).abs() < 1e-9, "{wait:?}");
    }
}
