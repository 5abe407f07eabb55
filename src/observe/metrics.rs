//! The run as Prometheus metrics: the run's [`RunView`] and the engine's events folded into
//! counters and gauges, rendered in the Prometheus text format (0.0.4, what node_exporter's
//! textfile collector reads). Times are absolute (`*_timestamp_seconds`), so a textfile
//! read after the run still says the truth. Series (all prefixed `supsync_`) are listed in
//! the README.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::auth::status::TokenStatus;
use crate::engine::events::{EngineEvent, RunState, SegmentState, SegmentView};
use crate::run::Counts;
use crate::view::RunView;

type Labels = Vec<(&'static str, String)>;
type FGauge = Gauge<f64, std::sync::atomic::AtomicU64>;

const SEGMENT_STATES: [(SegmentState, &str); 6] = [
    (SegmentState::Pending, "pending"),
    (SegmentState::Running, "running"),
    (SegmentState::Retrying, "retrying"),
    (SegmentState::Done, "done"),
    (SegmentState::DoneWithRejects, "done_with_rejects"),
    (SegmentState::Failed, "failed"),
];

const RUN_STATES: [(RunState, &str); 8] = [
    (RunState::Planning, "planning"),
    (RunState::Running, "running"),
    (RunState::Paused, "paused"),
    (RunState::Stopping, "stopping"),
    (RunState::Completed, "completed"),
    (RunState::CompletedWithFailures, "completed_with_failures"),
    (RunState::Interrupted, "interrupted"),
    (RunState::Failed, "failed"),
];

/// The clocks of `supsync_token_expiry_timestamp_seconds`.
const CLOCKS: [&str; 5] = ["ttl", "idle", "session", "server", "refresh_token"];

/// The labels every series carries: `shard="K/N"` for one shard of a run, none otherwise.
fn constant_labels(
    shard: Option<&str>,
) -> impl Iterator<
    Item = (
        std::borrow::Cow<'static, str>,
        std::borrow::Cow<'static, str>,
    ),
> {
    shard
        .map(|s| ("shard".into(), s.to_string().into()))
        .into_iter()
}

fn label(k: &'static str, v: &str) -> Labels {
    vec![(k, v.to_string())]
}

struct Series {
    build_info: Family<Labels, Gauge>,
    run_start: Gauge,
    run_end: Gauge,
    records_done: Family<Labels, Counter>,
    run_info: Family<Labels, Gauge>,
    run_state: Family<Labels, Gauge>,
    records: Family<Labels, Gauge>,
    segments: Family<Labels, Gauge>,
    renewals: Family<Labels, Counter>,
    renewal_failures: Counter,
    expired_answers: Counter,
    retries: Counter,
    token_expiry: Family<Labels, FGauge>,
    credential_expiry: Family<Labels, Gauge>,
    last_success: Gauge,
    concurrency_limit: Gauge,
    throttled: Counter,
}

impl Series {
    fn register(r: &mut Registry) -> Self {
        let s = Self {
            build_info: Family::default(),
            run_start: Gauge::default(),
            run_end: Gauge::default(),
            records_done: Family::default(),
            run_info: Family::default(),
            run_state: Family::default(),
            records: Family::default(),
            segments: Family::default(),
            renewals: Family::default(),
            renewal_failures: Counter::default(),
            expired_answers: Counter::default(),
            retries: Counter::default(),
            token_expiry: Family::default(),
            credential_expiry: Family::default(),
            last_success: Gauge::default(),
            concurrency_limit: Gauge::default(),
            throttled: Counter::default(),
        };
        r.register(
            "concurrency_limit",
            "Segments allowed at the server at once (fixed, auto or the operator's)",
            s.concurrency_limit.clone(),
        );
        r.register(
            "throttled",
            "Answers that were 429 (the server pacing the run)",
            s.throttled.clone(),
        );
        r.register(
            "build_info",
            "The supsync build serving these metrics (always 1)",
            s.build_info.clone(),
        );
        r.register(
            "run_start_timestamp_seconds",
            "Unix time the run started (0 before the plan)",
            s.run_start.clone(),
        );
        r.register(
            "run_end_timestamp_seconds",
            "Unix time the run ended (0 while it lasts)",
            s.run_end.clone(),
        );
        r.register(
            "records_done",
            "Records dealt with in this process, by outcome (created, updated, unchanged, applied, rejected, pulled)",
            s.records_done.clone(),
        );
        r.register(
            "run_info",
            "The run: id, direction and API host (always 1)",
            s.run_info.clone(),
        );
        r.register(
            "run_state",
            "1 for the run's current state, 0 for the others",
            s.run_state.clone(),
        );
        r.register(
            "records",
            "Records of the run by state now (pending: not yet dealt with)",
            s.records.clone(),
        );
        r.register(
            "segments",
            "Segments of the run by state",
            s.segments.clone(),
        );
        r.register(
            "token_renewals",
            "Token renewals by grant (client_credentials: new sessions); the first token is not counted",
            s.renewals.clone(),
        );
        r.register(
            "token_renewal_failures",
            "Token renewal failure episodes (consecutive failures count once)",
            s.renewal_failures.clone(),
        );
        r.register(
            "expired_answers",
            "API answers that said the token was dead: HTTP 401, a 403 or a 200 body matching auth.expired_when",
            s.expired_answers.clone(),
        );
        r.register(
            "retries",
            "Segment attempts beyond the first (the engine's and operator retries)",
            s.retries.clone(),
        );
        r.register(
            "token_expiry_timestamp_seconds",
            "Unix time the token dies by each clock (ttl, idle, session, server) and the refresh token expires (refresh_token)",
            s.token_expiry.clone(),
        );
        r.register(
            "credential_expiry_timestamp_seconds",
            "Unix time a long-lived credential expires",
            s.credential_expiry.clone(),
        );
        r.register(
            "last_success_timestamp_seconds",
            "Unix time a segment (or the run) last finished successfully",
            s.last_success.clone(),
        );
        s
    }
}

struct Fold {
    series: Series,
    registry: Registry,
    destination_host: String,
    /// The run as every view sees it: segments, counts, states.
    view: RunView,
    /// Record outcomes already counted in `records_done`.
    counted: Counts,
    /// Attempts already counted as retries, per segment.
    attempts_seen: Vec<u32>,
    first_grant_cc: Option<bool>,
    renewals_seen: (u64, u64),
    unauthorized_seen: u64,
    renewal_failing: bool,
}

/// The metrics of one run; cheap to clone (the HTTP listener and the file writer share it).
#[derive(Clone)]
pub struct Metrics {
    fold: Arc<Mutex<Fold>>,
}

impl Metrics {
    /// `destination_host`: the API's host (and port), for `run_info`.
    pub fn new(destination_host: &str) -> Self {
        Self::with_shard(destination_host, None)
    }

    /// [`Metrics::new`] for one shard of a run: every series carries `shard="K/N"`, so a
    /// fleet's metrics stay apart.
    pub fn with_shard(destination_host: &str, shard: Option<&str>) -> Self {
        let mut registry = Registry::with_prefix_and_labels("supsync", constant_labels(shard));
        let series = Series::register(&mut registry);
        let info = vec![
            ("run_id", String::new()),
            ("direction", String::new()),
            ("destination_host", destination_host.to_string()),
        ];
        series.run_info.get_or_create(&info).set(1);
        series
            .build_info
            .get_or_create(&label("version", env!("CARGO_PKG_VERSION")))
            .set(1);
        let fold = Fold {
            series,
            registry,
            destination_host: destination_host.to_string(),
            view: RunView::default(),
            counted: Counts::default(),
            attempts_seen: Vec::new(),
            first_grant_cc: None,
            renewals_seen: (0, 0),
            unauthorized_seen: 0,
            renewal_failing: false,
        };
        let m = Self {
            fold: Arc::new(Mutex::new(fold)),
        };
        m.lock().set_run_state(RunState::Planning);
        m.lock().recount();
        m
    }

    fn lock(&self) -> MutexGuard<'_, Fold> {
        // A panic while folding cannot leave the counters inconsistent in a way that
        // matters more than losing the metrics altogether.
        self.fold.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Seeds `last_success_timestamp_seconds` (e.g. from the previous run's metrics file),
    /// so a new run does not hide when the last one succeeded.
    pub fn seed_last_success(&self, unix_secs: i64) {
        self.lock().series.last_success.set(unix_secs);
    }

    /// A long-lived credential's expiry (`client_secret`, `client_certificate`).
    pub fn set_credential_expiry(&self, credential: &str, at: SystemTime) {
        let secs = at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        self.lock()
            .series
            .credential_expiry
            .get_or_create(&label("credential", credential))
            .set(secs);
    }

    pub fn observe(&self, ev: &EngineEvent) {
        self.lock().observe(ev, Instant::now(), SystemTime::now());
    }

    /// The text exposition as of now.
    pub fn render(&self) -> String {
        self.render_at(Instant::now())
    }

    pub fn render_at(&self, _now: Instant) -> String {
        let f = self.lock();
        let mut out = String::new();
        if let Err(e) = prometheus_text::encode(&mut out, &f.registry) {
            tracing::warn!(target: "supsync::metrics", "cannot encode metrics: {e}");
        }
        out
    }
}

impl Fold {
    fn observe(&mut self, ev: &EngineEvent, now: Instant, wall: SystemTime) {
        // What the segment was before this event (a success is stamped once).
        let was = match ev {
            EngineEvent::Segment(v) => self.view.segments.get(v.index).map(|s| s.state),
            _ => None,
        };
        self.view.apply(ev, now);
        match ev {
            EngineEvent::RunStarted(info) => {
                self.series.run_start.set(unix(info.started_wall));
                self.series.run_end.set(0);
                // run_info holds one series: the run's id and direction replace the blanks.
                self.series.run_info.clear();
                let labels = vec![
                    ("run_id", info.run_id.clone()),
                    ("direction", info.direction.to_string()),
                    ("destination_host", self.destination_host.clone()),
                ];
                self.series.run_info.get_or_create(&labels).set(1);
                // Records done by an earlier process are not this one's to count.
                self.counted = self.view.totals.counts;
                self.attempts_seen = info.segments.iter().map(|s| s.attempts).collect();
                self.recount();
            }
            EngineEvent::Segment(v) => self.on_segment(v, was, wall),
            EngineEvent::Token(t) => self.on_token(t, now, wall),
            EngineEvent::RunState(s) => {
                self.set_run_state(*s);
                self.series
                    .run_end
                    .set(if s.is_terminal() { unix(wall) } else { 0 });
            }
            EngineEvent::Finished(s) => {
                self.set_run_state(s.state);
                if self.series.run_end.get() == 0 {
                    self.series.run_end.set(unix(wall));
                }
                if s.state == RunState::Completed && s.segments_failed == 0 {
                    self.series.last_success.set(unix(wall));
                }
            }
            EngineEvent::Notice(_) | EngineEvent::TokenLog(_) | EngineEvent::Holding(_) => {}
            EngineEvent::Pace(v) => {
                self.series.concurrency_limit.set(v.limit as i64);
                let seen = self.series.throttled.get();
                self.series
                    .throttled
                    .inc_by(v.throttled.saturating_sub(seen));
            }
        }
    }

    fn on_segment(&mut self, v: &SegmentView, was: Option<SegmentState>, wall: SystemTime) {
        if v.index >= self.attempts_seen.len() {
            self.attempts_seen.resize(v.index + 1, 0);
        }
        let seen = &mut self.attempts_seen[v.index];
        if v.attempts > *seen {
            // Attempts beyond the first are retries, whether the engine or an operator
            // started them.
            let retries = v.attempts - (*seen).max(1).min(v.attempts);
            self.series.retries.inc_by(u64::from(retries));
            *seen = v.attempts;
        } else if v.attempts < *seen {
            // An operator retry starts the count afresh.
            *seen = v.attempts;
        }
        let was_success = matches!(
            was,
            Some(SegmentState::Done | SegmentState::DoneWithRejects)
        );
        if !was_success && matches!(v.state, SegmentState::Done | SegmentState::DoneWithRejects) {
            self.series.last_success.set(unix(wall));
        }
        self.recount();
    }

    fn recount(&mut self) {
        for (state, name) in SEGMENT_STATES {
            let n = self.view.totals.count(state);
            self.series
                .segments
                .get_or_create(&label("state", name))
                .set(n as i64);
        }
        let sum = self.view.totals.counts;
        let pending = self.view.total_records().saturating_sub(sum.processed());
        let c = &mut self.counted;
        for (name, now, seen) in [
            ("created", sum.created, &mut c.created),
            ("updated", sum.updated, &mut c.updated),
            ("unchanged", sum.unchanged, &mut c.unchanged),
            ("applied", sum.applied, &mut c.applied),
            ("rejected", sum.rejected, &mut c.rejected),
            ("pulled", sum.pulled, &mut c.pulled),
        ] {
            // A counter only grows: a segment retried afresh counts its records again
            // only once they are dealt with again.
            self.series
                .records_done
                .get_or_create(&label("state", name))
                .inc_by(now.saturating_sub(*seen));
            *seen = (*seen).max(now);
        }
        for (name, n) in [
            ("created", sum.created),
            ("updated", sum.updated),
            ("unchanged", sum.unchanged),
            ("applied", sum.applied),
            ("rejected", sum.rejected),
            ("pulled", sum.pulled),
            ("pending", pending),
        ] {
            self.series
                .records
                .get_or_create(&label("state", name))
                .set(n as i64);
        }
    }

    fn set_run_state(&mut self, now: RunState) {
        for (state, name) in RUN_STATES {
            let v = i64::from(state == now);
            self.series
                .run_state
                .get_or_create(&label("state", name))
                .set(v);
        }
    }

    fn on_token(&mut self, t: &TokenStatus, now: Instant, wall: SystemTime) {
        if self.first_grant_cc.is_none() && t.fingerprint.is_some() {
            // The first token is not a renewal; which grant made it decides how the
            // cumulative counts split by grant. Seen late (renewals already done), assume a
            // new session, the usual start.
            let cc =
                t.renewals > 0 || t.grant != Some(crate::auth::status::GrantKind::RefreshToken);
            self.first_grant_cc = Some(cc);
        }
        let first_cc = u64::from(self.first_grant_cc.unwrap_or(true));
        let renewals = u64::from(t.renewals);
        let cc = u64::from(t.sessions).saturating_sub(first_cc).min(renewals);
        let rt = renewals - cc;
        let (seen_cc, seen_rt) = self.renewals_seen;
        let fam = &self.series.renewals;
        fam.get_or_create(&label("grant", "client_credentials"))
            .inc_by(cc.saturating_sub(seen_cc));
        fam.get_or_create(&label("grant", "refresh_token"))
            .inc_by(rt.saturating_sub(seen_rt));
        self.renewals_seen = (cc.max(seen_cc), rt.max(seen_rt));

        let unauthorized = u64::from(t.unauthorized_seen);
        self.series
            .expired_answers
            .inc_by(unauthorized.saturating_sub(self.unauthorized_seen));
        self.unauthorized_seen = self.unauthorized_seen.max(unauthorized);

        let failing = t.last_error.is_some();
        if failing && !self.renewal_failing {
            self.series.renewal_failures.inc();
        }
        self.renewal_failing = failing;
        self.update_expiry(t, now, wall);
    }

    /// Each deadline as a Unix time, fixed when the status came: read after the run, the
    /// file still says when the token died, not a countdown frozen at its last write.
    fn update_expiry(&mut self, t: &TokenStatus, now: Instant, wall: SystemTime) {
        let deadlines = [
            t.ttl_deadline,
            t.idle_deadline,
            t.session_deadline,
            t.server_deadline,
            t.refresh_deadline,
        ];
        for (clock, d) in CLOCKS.iter().zip(deadlines) {
            let l = label("clock", clock);
            match d {
                Some(d) => {
                    let at = match d.checked_duration_since(now) {
                        Some(ahead) => wall + ahead,
                        None => wall - now.saturating_duration_since(d),
                    };
                    let secs = at
                        .duration_since(UNIX_EPOCH)
                        .map_or(0.0, |d| d.as_secs_f64());
                    self.series.token_expiry.get_or_create(&l).set(secs);
                }
                None => {
                    self.series.token_expiry.remove(&l);
                }
            }
        }
    }
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "metrics_shard_tests.rs"]
mod shard_tests;
