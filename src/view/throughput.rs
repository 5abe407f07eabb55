//! Derived figures: records/s, ETA and the throughput sparkline. Samples are keyed by the
//! run's active time (paused and held time left out), so a pause or an outage neither drags
//! the rate down nor moves the ETA; `now` is always passed in, so the maths is
//! deterministic in tests.

use std::collections::VecDeque;
use std::time::Duration;

/// How many samples the sparkline keeps (one per tick: two minutes at the default 1 s).
const KEEP: usize = 240;
/// records/s is averaged over this window, so one slow batch does not swing the ETA.
pub const RATE_WINDOW: Duration = Duration::from_secs(15);
/// The shortest span one bar of the sparkline stands for.
const SPARK_SPAN: Duration = Duration::from_millis(900);

#[derive(Debug, Clone, Default)]
pub struct Throughput {
    /// (active time, records processed so far), oldest first.
    samples: VecDeque<(Duration, u64)>,
}

impl Throughput {
    /// Records the running total at active time `now`. Totals never go backwards.
    pub fn sample(&mut self, now: Duration, processed: u64) {
        if let Some(&(last_t, last_n)) = self.samples.back()
            && (now <= last_t || processed < last_n)
        {
            return;
        }
        self.samples.push_back((now, processed));
        while self.samples.len() > KEEP {
            self.samples.pop_front();
        }
    }

    /// records/s over the last `window` of samples (None until two samples span time).
    pub fn rate(&self, window: Duration) -> Option<f64> {
        let &(t1, n1) = self.samples.back()?;
        let &(t0, n0) = self
            .samples
            .iter()
            .find(|(t, _)| t1.saturating_sub(*t) <= window)?;
        let dt = t1.saturating_sub(t0).as_secs_f64();
        (dt > 0.0).then(|| (n1 - n0) as f64 / dt)
    }

    /// Seeds the rate from another process's figure (an attached console): one sample a
    /// window back at `rate`, so the first ETA is the run's own, not a blank.
    pub fn seed(&mut self, now: Duration, processed: u64, rate: f64) {
        let back = RATE_WINDOW.min(now);
        let before = processed.saturating_sub((rate.max(0.0) * back.as_secs_f64()) as u64);
        self.samples.clear();
        if !back.is_zero() {
            self.samples.push_back((now - back, before));
        }
        self.samples.push_back((now, processed));
    }

    /// Rates (records/s, rounded) over spans of at least [`SPARK_SPAN`], oldest first, for
    /// the sparkline. Samples come with every event, some microseconds apart: a batch
    /// answered just after a tick must not read as a million records a second.
    pub fn sparkline(&self) -> Vec<u64> {
        let mut out = Vec::new();
        let mut from = self.samples.front().copied();
        for &(t1, n1) in self.samples.iter().skip(1) {
            let Some((t0, n0)) = from else { break };
            let dt = t1.saturating_sub(t0);
            if dt >= SPARK_SPAN {
                out.push(((n1 - n0) as f64 / dt.as_secs_f64()).round() as u64);
                from = Some((t1, n1));
            }
        }
        out
    }
}

/// Time to process `remaining` records at `rate` records/s.
pub fn eta(remaining: u64, rate: Option<f64>) -> Option<Duration> {
    if remaining == 0 {
        return Some(Duration::ZERO);
    }
    let rate = rate.filter(|r| r.is_finite() && *r > 0.0)?;
    Some(Duration::from_secs_f64(remaining as f64 / rate))
}

/// `mm:ss`, or `h:mm:ss` from an hour on.
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_averaged_over_the_window() {
        let t0 = Duration::ZERO;
        let mut t = Throughput::default();
        assert_eq!(t.rate(RATE_WINDOW), None);
        t.sample(t0, 0);
        assert_eq!(t.rate(RATE_WINDOW), None);
        for i in 1..=30u64 {
            // 10 records/s for the first 15 s, then 20 records/s.
            let n = if i <= 15 { i * 10 } else { 150 + (i - 15) * 20 };
            t.sample(t0 + Duration::from_secs(i), n);
        }
        let r = t.rate(RATE_WINDOW).unwrap();
        assert!((r - 20.0).abs() < 1e-9, "{r}");
        let all = t.rate(Duration::from_secs(3600)).unwrap();
        assert!((all - 15.0).abs() < 1e-9, "{all}");
    }

    #[test]
    fn samples_never_go_backwards_and_are_bounded() {
        let t0 = Duration::ZERO;
        let mut t = Throughput::default();
        t.sample(t0 + Duration::from_secs(2), 50);
        t.sample(t0 + Duration::from_secs(1), 60); // earlier time: ignored
        t.sample(t0 + Duration::from_secs(3), 40); // smaller total: ignored
        assert_eq!(t.samples.len(), 1);
        for i in 0..1000u64 {
            t.sample(t0 + Duration::from_secs(10 + i), 100 + i);
        }
        assert_eq!(t.samples.len(), KEEP);
        assert!(t.sparkline().iter().all(|&v| v == 1));
    }

    #[test]
    fn sparkline_is_records_per_second_per_interval() {
        let t0 = Duration::ZERO;
        let mut t = Throughput::default();
        t.sample(t0, 0);
        t.sample(t0 + Duration::from_secs(1), 20); // 20/s
        t.sample(t0 + Duration::from_millis(1001), 30); // a batch just after: no bar alone
        t.sample(t0 + Duration::from_secs(3), 40); // 20 in 2 s: 10/s
        assert_eq!(t.sparkline(), vec![20, 10]);
    }

    #[test]
    fn eta_is_remaining_over_rate() {
        assert_eq!(eta(100, Some(20.0)), Some(Duration::from_secs(5)));
        assert_eq!(eta(0, None), Some(Duration::ZERO));
        assert_eq!(eta(10, None), None);
        assert_eq!(eta(10, Some(0.0)), None);
        assert_eq!(eta(10, Some(f64::NAN)), None);
    }

    #[test]
    fn clock_formats() {
        assert_eq!(clock(Duration::from_secs(0)), "00:00");
        assert_eq!(clock(Duration::from_secs(75)), "01:15");
        assert_eq!(clock(Duration::from_secs(3599)), "59:59");
        assert_eq!(clock(Duration::from_secs(3723)), "1:02:03");
    }
}
