//! Per-client admission: at most `max_concurrent` resource requests in flight and at most
//! `rate_limit_per_sec` admitted per one-second window; the rest get 429 + `Retry-After`.
//! The cap may follow `capacity_schedule` (seconds since the first request); an admitted
//! request knows the load it joined (for `load_latency_ms`), and the rate window what is
//! left of it (for the `RateLimit` header fields).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::sim::profile::{Api, CapacityStep};
use crate::sim::state::lock;

#[derive(Default)]
struct Client {
    in_flight: usize,
    window_start: Option<Instant>,
    in_window: u32,
}

pub struct Limits {
    max_concurrent: usize,
    rate_per_sec: u32,
    schedule: Vec<CapacityStep>,
    /// The first request, where the schedule's clock starts.
    first: Mutex<Option<Instant>>,
    clients: Mutex<HashMap<String, Client>>,
}

/// Why a request was turned away, and when to come back (whole seconds, ≥ 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnedAway {
    pub reason: String,
    pub retry_after_secs: u64,
}

/// A request slot; dropping it (response sent, or the request abandoned) frees it.
pub struct InFlight {
    limits: Arc<Limits>,
    client: String,
    /// Requests of this client in flight with this one, and the cap when it came in.
    pub load: usize,
    pub cap: usize,
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
            schedule: api.capacity_schedule.clone(),
            first: Mutex::new(None),
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The cap on requests in flight now: the schedule's step, else `max_concurrent`.
    fn cap(&self, now: Instant) -> usize {
        let first = *lock(&self.first).get_or_insert(now);
        let secs = now.saturating_duration_since(first).as_secs();
        self.schedule
            .iter()
            .take_while(|s| s.after_secs <= secs)
            .last()
            .map_or(self.max_concurrent, |s| s.max_concurrent)
    }

    /// The rate window of `client` as `RateLimit` states it: (limit, remaining, reset secs);
    /// `None` without a rate limit.
    pub fn window(&self, client: &str, now: Instant) -> Option<(u32, u32, u64)> {
        if self.rate_per_sec == 0 {
            return None;
        }
        let clients = lock(&self.clients);
        let (used, reset) = match clients
            .get(client)
            .and_then(|c| c.window_start.map(|s| (c, s)))
        {
            Some((c, s)) if now.saturating_duration_since(s) < Duration::from_secs(1) => {
                (c.in_window, 1)
            }
            _ => (0, 1),
        };
        Some((
            self.rate_per_sec,
            self.rate_per_sec.saturating_sub(used),
            reset,
        ))
    }

    /// Admits one request of `client` now, or says why not.
    pub fn admit(self: &Arc<Self>, client: &str, now: Instant) -> Result<InFlight, TurnedAway> {
        let cap = self.cap(now);
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
                return Err(TurnedAway {
                    reason: format!(
                        "rate limit of {} requests per second exceeded",
                        self.rate_per_sec
                    ),
                    retry_after_secs: left.as_secs_f64().ceil().max(1.0) as u64,
                });
            }
            c.in_window += 1;
        }
        if cap > 0 && c.in_flight >= cap {
            if self.rate_per_sec > 0 {
                // Refused requests do not use up the rate budget.
                c.in_window = c.in_window.saturating_sub(1);
            }
            return Err(TurnedAway {
                reason: format!("more than {cap} concurrent requests from this client"),
                retry_after_secs: 1,
            });
        }
        c.in_flight += 1;
        Ok(InFlight {
            limits: Arc::clone(self),
            client: client.to_string(),
            load: c.in_flight,
            cap,
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
            capacity_schedule: Vec::new(),
            load_latency_ms: 0,
            rate_limit_headers: false,
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

    #[test]
    fn the_cap_follows_the_schedule_from_the_first_request() {
        let mut api = crate::sim::profile::Profile::default().api;
        api.max_concurrent = 12;
        api.capacity_schedule = vec![
            CapacityStep {
                after_secs: 5,
                max_concurrent: 1,
            },
            CapacityStep {
                after_secs: 10,
                max_concurrent: 3,
            },
        ];
        let l = Arc::new(Limits::new(&api));
        let t0 = Instant::now();
        let held: Vec<_> = (0..12).map(|_| l.admit("c", t0).unwrap()).collect();
        assert_eq!(held.last().map(|f| (f.load, f.cap)), Some((12, 12)));
        drop(held);
        let at5 = t0 + Duration::from_secs(5);
        let a = l.admit("c", at5).unwrap();
        assert!(l.admit("c", at5).is_err(), "the cap fell to 1 after 5 s");
        let at10 = t0 + Duration::from_secs(10);
        let _b = l.admit("c", at10).unwrap();
        let _c = l.admit("c", at10).unwrap();
        assert!(l.admit("c", at10).is_err(), "3 from 10 s on");
        drop(a);
    }
}
