//! Rate limits the server states, and the pacer that keeps requests inside them and inside
//! `sync.max_requests_per_sec`.
//!
//! Read from every answer: the IETF fields `RateLimit-Policy` (`120;w=60`, or the newer
//! `"default";q=120;w=60`) and `RateLimit` (`limit=120, remaining=5, reset=30`, or
//! `"default";r=5;t=30`), and the common `X-RateLimit-Limit/Remaining/Reset` (a reset above a
//! day's seconds is read as a Unix time). The pacer spreads what is left of the quota over the
//! time until it resets, so a run does not spend it in a burst and then collect 429s; with
//! nothing left it waits for the reset. The configured cap is a token bucket on top.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;

use super::bucket::Bucket;

/// What one answer said about the quota.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stated {
    /// Requests per window, and the window in seconds (when stated).
    pub limit: Option<u64>,
    pub window_secs: Option<u64>,
    pub remaining: Option<u64>,
    /// Seconds until the quota resets.
    pub reset_secs: Option<u64>,
    /// Which header family said it ("RateLimit" or "X-RateLimit").
    pub family: &'static str,
}

/// The longest a stated reset is believed (a server's word, not a deadline to trust).
const MAX_RESET_SECS: u64 = 3600;

/// Reads the rate-limit fields of an answer; `None` when it states none.
pub fn stated(headers: &HeaderMap, now: SystemTime) -> Option<Stated> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let mut s = Stated::default();
    if let Some(policy) = text("ratelimit-policy") {
        s.family = "RateLimit";
        let (q, w) = policy_numbers(policy);
        s.limit = q;
        s.window_secs = w;
    }
    if let Some(current) = text("ratelimit") {
        s.family = "RateLimit";
        for (key, value) in params(current) {
            let n = value.parse::<u64>().ok();
            match key.as_str() {
                "limit" => s.limit = s.limit.or(n),
                "remaining" | "r" => s.remaining = n,
                "reset" | "t" => s.reset_secs = n,
                _ => {}
            }
        }
    }
    if s.family.is_empty() {
        let num = |name: &str| text(name).and_then(|v| v.trim().parse::<u64>().ok());
        let (limit, remaining) = (num("x-ratelimit-limit"), num("x-ratelimit-remaining"));
        if limit.is_none() && remaining.is_none() {
            return None;
        }
        s.family = "X-RateLimit";
        s.limit = limit;
        s.remaining = remaining;
        s.reset_secs = num("x-ratelimit-reset").map(|r| {
            if r > 86_400 {
                let epoch = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
                r.saturating_sub(epoch)
            } else {
                r
            }
        });
    }
    s.reset_secs = s.reset_secs.map(|r| r.min(MAX_RESET_SECS));
    Some(s)
}

/// `120;w=60` or `"default";q=120;w=60` (the first policy of a list).
fn policy_numbers(policy: &str) -> (Option<u64>, Option<u64>) {
    let first = policy.split(',').next().unwrap_or("");
    let mut q = None;
    let mut w = None;
    for (i, part) in first.split(';').enumerate() {
        let part = part.trim();
        match part.split_once('=') {
            Some((k, v)) => {
                let n = v.trim().trim_matches('"').parse::<u64>().ok();
                match k.trim() {
                    "q" => q = n,
                    "w" => w = n,
                    _ => {}
                }
            }
            None if i == 0 => q = q.or(part.parse::<u64>().ok()),
            None => {}
        }
    }
    (q, w)
}

/// `limit=1, remaining=2` or `"default";r=2;t=3` as key/value pairs.
fn params(text: &str) -> Vec<(String, String)> {
    text.split([',', ';'])
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_ascii_lowercase(),
                v.trim().trim_matches('"').to_string(),
            )
        })
        .collect()
}

impl Stated {
    /// "RateLimit: 120/min", for the operator.
    pub fn label(&self) -> Option<String> {
        let limit = self.limit?;
        let per = match self.window_secs {
            Some(1) => "/s".to_string(),
            Some(60) => "/min".to_string(),
            Some(3600) => "/h".to_string(),
            Some(w) => format!(" per {w} s"),
            None => " per window".to_string(),
        };
        Some(format!("{}: {limit}{per}", self.family))
    }

    /// Requests a second that spend what is left no faster than it comes back.
    fn rate(&self) -> Option<f64> {
        let spread = match (self.remaining, self.reset_secs) {
            (Some(r), Some(t)) if t > 0 => Some(r as f64 / t as f64),
            _ => None,
        };
        let steady = match (self.limit, self.window_secs) {
            (Some(l), Some(w)) if w > 0 => Some(l as f64 / w as f64),
            _ => None,
        };
        // What is left now is the better word: the steady rate alone could overrun a
        // quota that other clients share.
        spread.or(steady)
    }
}

/// Paces requests: the configured cap, and the server's stated quota.
pub struct Pacer {
    inner: Mutex<Inner>,
}

struct Inner {
    cap: Option<Bucket>,
    server: Option<Bucket>,
    /// Nothing left of the quota: no request before this.
    closed_until: Option<Instant>,
    label: Option<String>,
}

impl Pacer {
    /// `max_per_sec` 0: no configured cap.
    pub fn new(max_per_sec: u32) -> Self {
        let now = Instant::now();
        let cap = (max_per_sec > 0).then(|| Bucket::new(f64::from(max_per_sec), 1.0, now));
        Self {
            inner: Mutex::new(Inner {
                cap,
                server: None,
                closed_until: None,
                label: None,
            }),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How long the next request must wait (its place is taken: call once per request).
    pub fn reserve(&self, now: Instant) -> Duration {
        let mut i = self.inner();
        let closed = i
            .closed_until
            .map_or(Duration::ZERO, |t| t.saturating_duration_since(now));
        let cap = i.cap.as_mut().map_or(Duration::ZERO, |b| b.take(now));
        let server = i.server.as_mut().map_or(Duration::ZERO, |b| b.take(now));
        closed.max(cap).max(server)
    }

    /// An answer's rate-limit fields, if any.
    pub fn observe(&self, headers: &HeaderMap, now: Instant) {
        let Some(s) = stated(headers, SystemTime::now()) else {
            return;
        };
        let mut i = self.inner();
        i.label = s.label().or(i.label.take());
        i.closed_until = match (s.remaining, s.reset_secs) {
            (Some(0), Some(t)) => Some(now + Duration::from_secs(t.max(1))),
            _ => None,
        };
        if let Some(rate) = s.rate().filter(|r| *r > 0.0) {
            match i.server.as_mut() {
                Some(b) => b.set_rate(rate, 1.0, now),
                None => i.server = Some(Bucket::new(rate, 1.0, now)),
            }
        }
    }

    /// "RateLimit: 120/min" once the server has stated a limit.
    pub fn label(&self) -> Option<String> {
        self.inner().label.clone()
    }
}

#[cfg(test)]
#[path = "ratelimit_tests.rs"]
mod tests;
