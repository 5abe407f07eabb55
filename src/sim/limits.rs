//! Per-client admission: at most `max_concurrent` resource requests in flight and at most
//! `rate_limit_per_sec` admitted per one-second window; the rest get 429 + `Retry-After`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::profile::Api;
use super::state::lock;

#[derive(Default)]
struct Client {
    in_flight: usize,
    window_start: Option<Instant>,
    in_window: u32,
}

pub struct Limits {
    max_concurrent: usize,
    rate_per_sec: u32,
    clients: Mutex<HashMap<String, Client>>,
}

/// Why a request was turned away, and when to come back (whole seconds, ≥ 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub reason: String,
    pub retry_after_secs: u64,
}

/// A request slot; dropping it (response sent, or the request abandoned) frees it.
pub struct InFlight {
    limits: Arc<Limits>,
    client: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(c) = lock(&self.limits.clients).get_mut(&self.client) {
            c.in_flight = c.in_flight.saturating_sub(1);
        }
    }
}

impl Limits {
    pub fn new(api: &Api) -> Self {
        Self {
            max_concurrent: api.max_concurrent,
            rate_per_sec: api.rate_limit_per_sec,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Admits one request of `client` now, or says why not.
    pub fn admit(self: &Arc<Self>, client: &str, now: Instant) -> Result<InFlight, Refused> {
        let mut clients = lock(&self.clients);
        let c = clients.entry(client.to_string()).or_default();
        if self.rate_per_sec > 0 {
            let second = Duration::from_secs(1);
            let start = match c.window_start {
                Some(s) if now.saturating_duration_since(s) < second => s,
                _ => {
                    c.in_window = 0;
                    c.window_start = Some(now);
                    now
                }
            };
            if c.in_window >= self.rate_per_sec {
                let left = (start + second).saturating_duration_since(now);
                return Err(Refused {
                    reason: format!(
                        "rate limit of {} requests per second exceeded",
                        self.rate_per_sec
                    ),
                    retry_after_secs: left.as_secs_f64().ceil().max(1.0) as u64,
                });
            }
            c.in_window += 1;
        }
        if self.max_concurrent > 0 && c.in_flight >= self.max_concurrent {
            if self.rate_per_sec > 0 {
                // Refused requests do not use up the rate budget.
                c.in_window = c.in_window.saturating_sub(1);
            }
            return Err(Refused {
                reason: format!(
                    "more than {} concurrent requests from this client",
                    self.max_concurrent
                ),
                retry_after_secs: 1,
            });
        }
        c.in_flight += 1;
        Ok(InFlight {
            limits: Arc::clone(self),
            client: client.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_concurrent: usize, rate_limit_per_sec: u32) -> Arc<Limits> {
        Arc::new(Limits::new(&Api {
            per_record_ms: 0,
            max_batch: 10,
            max_concurrent,
            rate_limit_per_sec,
            blocked_countries: Vec::new(),
            create_status: 201,
            style: "contract".into(),
            mapping: Default::default(),
            next_link_base: String::new(),
            health: Default::default(),
            expiry_header: true,
            quirks: Vec::new(),
            retry_after_dates: false,
            no_listing: false,
        }))
    }

    #[test]
    fn concurrency_cap_frees_on_drop() {
        let l = limits(2, 0);
        let now = Instant::now();
        let a = l.admit("c", now).unwrap();
        let _b = l.admit("c", now).unwrap();
        let e = l.admit("c", now).err().unwrap();
        assert_eq!(e.retry_after_secs, 1);
        assert!(l.admit("other", now).is_ok(), "limits are per client");
        drop(a);
        assert!(l.admit("c", now).is_ok());
    }

    #[test]
    fn rate_window_resets_each_second() {
        let l = limits(0, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            drop(l.admit("c", t0).unwrap());
        }
        let e = l.admit("c", t0 + Duration::from_millis(100)).err().unwrap();
        assert_eq!(e.retry_after_secs, 1);
        assert!(l.admit("c", t0 + Duration::from_millis(1001)).is_ok());
    }
}
