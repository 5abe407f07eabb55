//! How many segments talk to the server at once: a fixed number, or `auto` (the limiter in
//! `limiter.rs`), with the operator's override on top. The scheduler's slots follow it; it
//! tells the outside world (an [`EngineEvent::Pace`]) whenever the limit, its reason or the
//! server's stated rate changes.

pub mod limiter;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use limiter::{Limiter, LoadSignal, PushbackKind};
use tokio::sync::watch;

use super::emit::Emitter;
pub use super::events::PaceChange;
use super::events::{EngineEvent, PaceView};
use super::slots::Slots;
use crate::api::{ApiClient, ApiError};
use crate::config::SyncConfig;

pub(crate) struct Pace {
    limiter: Mutex<Limiter>,
    configured: Limiter,
    slots: Arc<Slots>,
    /// Answers that were 429 (the server pacing us), for the metrics.
    throttled: AtomicU64,
    /// The view last sent, so an unchanged one is not sent again.
    shown: Mutex<Option<PaceView>>,
    /// Clean answers so far: a request refused while probing retries at the next one.
    clean: watch::Sender<u64>,
}

/// Fixed limits the operator may set: the config's own bound.
const MAX_OVERRIDE: usize = 64;

impl Pace {
    pub(crate) fn from_config(sync: &SyncConfig) -> Self {
        let limiter = match sync.concurrency_is_auto() {
            true => Limiter::auto(sync.min_concurrency, sync.max_concurrency),
            false => Limiter::fixed(sync.concurrency),
        };
        Self {
            slots: Slots::new(limiter.limit()),
            configured: limiter.clone(),
            limiter: Mutex::new(limiter),
            throttled: AtomicU64::new(0),
            shown: Mutex::new(None),
            clean: watch::Sender::new(0),
        }
    }

    pub(crate) fn slots(&self) -> &Arc<Slots> {
        &self.slots
    }

    pub(crate) fn limit(&self) -> usize {
        self.limiter().limit()
    }

    fn limiter(&self) -> MutexGuard<'_, Limiter> {
        self.limiter.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An attempt is about to be sent: its number for [`Self::sample`].
    pub(crate) fn start(&self) -> u64 {
        self.limiter().start()
    }

    /// An attempt over `records` records came back after `took`, with `result` (`None`
    /// records: a retry, whose time says nothing of the load). True when
    /// it was a 429 that `auto` takes as a probe of the server's capacity: the request is
    /// retried without holding the run (see `limiter.rs`).
    pub(crate) fn sample<T>(
        &self,
        seq: u64,
        took: Duration,
        records: Option<u64>,
        result: &Result<T, ApiError>,
        api: &ApiClient,
        emit: &Emitter,
    ) -> bool {
        let signal = match result {
            Ok(_) if records.is_none() => LoadSignal::CleanUntimed,
            Ok(_) => LoadSignal::Clean,
            Err(ApiError::RateLimited { .. }) => {
                self.throttled.fetch_add(1, Ordering::Relaxed);
                LoadSignal::Pushback
            }
            Err(ApiError::Transient { .. }) => LoadSignal::Pushback,
            Err(_) => LoadSignal::Neutral,
        };
        let per_record = took.as_secs_f64() / records.unwrap_or(1).max(1) as f64;
        let (limit, verdict) = {
            let mut l = self.limiter();
            let verdict = match signal {
                LoadSignal::Pushback => Some(l.pushback(seq)),
                _ => {
                    l.sample(seq, per_record, signal);
                    None
                }
            };
            (l.limit(), verdict)
        };
        if limit != self.slots.size() {
            self.slots.resize(limit);
        }
        if matches!(signal, LoadSignal::Clean | LoadSignal::CleanUntimed) {
            self.clean.send_modify(|n| *n = n.wrapping_add(1));
        }
        self.show(api, emit);
        // 503s and cut connections say the server is in trouble, not that we asked too
        // much: they keep the run-wide handling.
        matches!(result, Err(ApiError::RateLimited { .. })) && verdict == Some(PushbackKind::Probe)
    }

    /// Resolves at the next clean answer from any request (subscribe before stepping
    /// aside, so one that lands in between still counts).
    pub(crate) fn next_clean(&self) -> watch::Receiver<u64> {
        self.clean.subscribe()
    }

    /// The operator's `+`, `-` or `=`.
    pub(crate) fn change(&self, change: PaceChange, api: &ApiClient, emit: &Emitter) {
        let limit = {
            let mut l = self.limiter();
            match change {
                PaceChange::Up | PaceChange::Down => {
                    let now = l.limit();
                    let to = match change {
                        PaceChange::Up => (now + 1).min(MAX_OVERRIDE),
                        _ => now.saturating_sub(1).max(1),
                    };
                    l.hold();
                    l.set(to);
                }
                PaceChange::Configured => match self.configured.bounds() {
                    Some(bounds) => l.resume_auto(bounds),
                    None => *l = self.configured.clone(),
                },
            }
            l.limit()
        };
        self.slots.resize(limit);
        self.show(api, emit);
    }

    /// The pace as the outside world sees it now.
    pub(crate) fn view(&self, api: &ApiClient) -> PaceView {
        let l = self.limiter();
        PaceView {
            limit: l.limit(),
            auto: l.is_auto(),
            reason: l.reason().words().to_string(),
            paced_by: api.paced_by(),
            throttled: self.throttled.load(Ordering::Relaxed),
        }
    }

    /// Sends the view when it differs from the last one sent (the 429 count alone does not
    /// make a new view: it rides along with the next change and the run's end).
    pub(crate) fn show(&self, api: &ApiClient, emit: &Emitter) {
        let view = self.view(api);
        let mut shown = self.shown.lock().unwrap_or_else(PoisonError::into_inner);
        let same = shown.as_ref().is_some_and(|s| {
            (s.limit, s.auto, &s.reason, &s.paced_by)
                == (view.limit, view.auto, &view.reason, &view.paced_by)
        });
        if !same {
            *shown = Some(view.clone());
            emit.progress(EngineEvent::Pace(view));
        }
    }
}
