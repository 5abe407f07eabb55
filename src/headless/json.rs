//! `--json`: the run as NDJSON on stdout, for scripts. One JSON object per line, each with
//! a `type` and an `at` (RFC 3339, UTC, milliseconds):
//!
//! - `notice`: something to read (`message`), e.g. a credential close to its expiry;
//! - `run_started`: the plan (`run_id`, `direction`, `source`, `target`, `total_records`,
//!   `segments`, `segments_done`, `local_rejects`);
//! - `run_state`: the run paused, resumed, began to stop (`state`);
//! - `segment`: a segment's outcome (`index`, `state`, `attempts`, `records`, `counts`,
//!   `error`);
//! - `token`: a new access token (`fingerprint`, `grant`, `renewals`, `sessions`,
//!   `lifetime_secs`, `refresh_token_expires_in_secs`, `expired_answers`: the answers
//!   that said a token was dead so far, by kind: `status_401`, `status_403`, `body_200`,
//!   `total`); `token_renewal_failed` (`error`);
//! - `progress`: every few seconds whatever happens, also while paused (`run_state`,
//!   `segments_total`, `segments_done`, `segments_failed`, `in_flight`, `records_done`,
//!   `records_total`, `token_renewals`, `records_per_sec` and `eta_secs` over active time
//!   (null until known; paused and held time left out, the console's and `ps`'s figure),
//!   `stalled`: why the ETA is not counting down, e.g. "paused", or null);
//! - `summary`: always the last line (`outcome`, `exit_code`, counts and figures).
//!
//! Tokens appear as fingerprints only; every text is also cleaned of the client secret.

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::auth::status::TokenPhase;
use crate::engine::events::{EngineEvent, RunSummary};
use crate::observe::alerts::SecretMasker;
use crate::observe::tap::Observer;
use crate::secret::Secret;
use crate::view::RunView;

/// `progress` lines this often by default: twice within the promised 10 s.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// The NDJSON writer of one run: an [`Observer`] for the event tap, a ticker for the
/// `progress` lines, and the final `summary`.
pub struct JsonEvents {
    state: Arc<Mutex<State>>,
    stop: CancellationToken,
    ticker: JoinHandle<()>,
}

struct State {
    view: RunView,
    fingerprint: Option<String>,
    token_failed: bool,
    redact: SecretMasker,
    out: Box<dyn Write + Send>,
    /// The reader went away (`| head -1`): stop writing, never fail the run for it.
    closed: bool,
}

impl JsonEvents {
    /// Starts the `progress` ticker (on the current runtime) writing to stdout.
    pub fn start(every: Duration, secrets: Vec<Secret>) -> Self {
        Self::start_to(every, secrets, Box::new(std::io::stdout()))
    }

    /// [`JsonEvents::start`] writing to `out` instead of stdout.
    pub fn start_to(every: Duration, secrets: Vec<Secret>, out: Box<dyn Write + Send>) -> Self {
        let state = Arc::new(Mutex::new(State {
            view: RunView::default(),
            fingerprint: None,
            token_failed: false,
            redact: SecretMasker::new(secrets),
            out,
            closed: false,
        }));
        let stop = CancellationToken::new();
        let ticker = tokio::spawn({
            let (state, stop) = (state.clone(), stop.clone());
            async move {
                let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
                tick.tick().await;
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tick.tick() => lock(&state).progress_line(Instant::now()),
                    }
                }
            }
        });
        Self {
            state,
            stop,
            ticker,
        }
    }

    /// The observer to put on the run's event tap.
    pub fn observer(&self) -> impl Observer + use<> {
        let state = self.state.clone();
        move |ev: &EngineEvent| lock(&state).on_event(ev)
    }

    /// A `notice` line (warnings said before the engine starts).
    pub fn notice(&self, message: &str) {
        let mut s = lock(&self.state);
        let message = s.redact.clean(message);
        s.write(json!({"type": "notice", "message": message}));
    }

    /// Stops the ticker and writes the `summary`, the last line. Call once the tap's
    /// observer has seen the end of the stream.
    pub async fn finish(self, s: &RunSummary) {
        self.stop.cancel();
        // Ignored on purpose: a ticker that panicked has nothing left to write.
        let _ = self.ticker.await;
        let mut st = lock(&self.state);
        let outcome = s.outcome();
        let error = s.error.as_deref().map(|e| st.redact.clean(e));
        st.write(json!({
            "type": "summary",
            "run_id": s.run_id,
            "direction": s.direction,
            "state": s.state.to_string(),
            "outcome": outcome.to_string(),
            "exit_code": outcome.exit_code(),
            "counts": s.counts,
            "segments_total": s.segments_total,
            "segments_done": s.segments_done,
            "segments_failed": s.segments_failed,
            "token_renewals": s.token_renewals,
            "sessions": s.sessions,
            "duration_secs": s.duration.as_secs_f64(),
            "error": error,
        }));
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while holding the lock leaves plain data behind, still fine to write out.
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl State {
    fn on_event(&mut self, ev: &EngineEvent) {
        self.view.apply(ev, Instant::now());
        match ev {
            EngineEvent::RunStarted(info) => {
                let v = json!({
                    "type": "run_started",
                    "run_id": info.run_id,
                    "direction": info.direction,
                    "source": info.source,
                    "target": info.target,
                    "total_records": info.total_records,
                    "segments": info.segments.len(),
                    "segments_done": self.view.totals.finished(),
                    "local_rejects": info.local_rejects,
                    "api_style": info.api_style,
                });
                self.write(v);
            }
            EngineEvent::Segment(v) => {
                if v.state.is_finished() {
                    let error = v.last_error.as_deref().map(|e| self.redact.clean(e));
                    self.write(json!({
                        "type": "segment",
                        "index": v.index,
                        "state": v.state.to_string(),
                        "attempts": v.attempts,
                        "records": v.records,
                        "counts": v.counts,
                        "error": error,
                    }));
                }
            }
            EngineEvent::Token(t) => {
                if t.fingerprint.is_some() && t.fingerprint != self.fingerprint {
                    self.fingerprint = t.fingerprint.clone();
                    self.token_failed = false;
                    let refresh = t
                        .refresh_deadline
                        .map(|d| d.saturating_duration_since(Instant::now()).as_secs());
                    self.write(json!({
                        "type": "token",
                        "fingerprint": t.fingerprint,
                        "grant": t.grant.map(|g| g.to_string()),
                        "renewals": t.renewals,
                        "sessions": t.sessions,
                        "lifetime_secs": t.lifetime.map(|d| d.as_secs_f64()),
                        "refresh_token_expires_in_secs": refresh,
                        "expired_answers": {
                            "status_401": t.expired_seen.status_401,
                            "status_403": t.expired_seen.status_403,
                            "body_200": t.expired_seen.body_200,
                            "total": t.expired_seen.total(),
                        },
                    }));
                }
                if t.phase == TokenPhase::Failed && !self.token_failed {
                    // Once per failure episode, like the alert: an outage is one line.
                    self.token_failed = true;
                    let error = t.last_error.as_deref().map(|e| self.redact.clean(e));
                    self.write(json!({
                        "type": "token_renewal_failed",
                        "fingerprint": t.fingerprint,
                        "error": error,
                    }));
                }
            }
            EngineEvent::RunState(s) => {
                self.write(json!({"type": "run_state", "state": s.to_string()}));
            }
            EngineEvent::Notice(n) => {
                let message = self.redact.clean(n);
                self.write(json!({"type": "notice", "message": message}));
            }
            EngineEvent::Pace(_) => {}
            EngineEvent::Holding(Some(h)) => {
                let reason = self.redact.clean(&h.reason);
                let next_try = h.until.map(|t| {
                    t.duration_since(std::time::SystemTime::now())
                        .unwrap_or_default()
                        .as_secs_f64()
                        .ceil() as u64
                });
                self.write(
                    json!({"type": "holding", "reason": reason, "next_try_in_secs": next_try}),
                );
            }
            EngineEvent::Holding(None) => self.write(json!({"type": "hold_over"})),
            // The summary is written by `finish`, after the observers have finished.
            EngineEvent::Finished(_) | EngineEvent::TokenLog(_) => {}
        }
    }

    fn progress_line(&mut self, now: Instant) {
        let p = &mut self.view;
        p.tick(now);
        let v = json!({
            "type": "progress",
            "run_state": p.state.to_string(),
            "elapsed_secs": p.elapsed(now).as_secs(),
            "segments_total": p.segments.len(),
            "segments_done": p.totals.finished(),
            "segments_failed": p.failed(),
            "in_flight": p.in_flight(),
            "pace": p.pace.as_ref().map(|v| json!({
                "limit": v.limit,
                "auto": v.auto,
                "reason": v.reason,
                "paced_by": v.paced_by,
                "throttled": v.throttled,
            })),
            "records_done": p.processed(),
            "records_total": p.total_records(),
            "token_renewals": p.token.renewals,
            "records_per_sec": p.rate(),
            "eta_secs": p.eta().map(|d| d.as_secs()),
            "stalled": p.stalled(now),
        });
        self.write(v);
    }

    /// Writes `v` as one line, with `at` added after `type`.
    fn write(&mut self, mut v: Value) {
        if self.closed {
            return;
        }
        if let Value::Object(map) = &mut v {
            let mut ordered = serde_json::Map::new();
            if let Some(t) = map.remove("type") {
                ordered.insert("type".into(), t);
            }
            ordered.insert("at".into(), json!(now()));
            ordered.append(map);
            v = Value::Object(ordered);
        }
        let mut line = v.to_string();
        line.push('\n');
        let written = self
            .out
            .write_all(line.as_bytes())
            .and_then(|()| self.out.flush());
        if let Err(e) = written {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                tracing::warn!("--json output stopped: cannot write to stdout: {e}");
            }
            self.closed = true;
        }
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::events::{RunInfo, SegmentView};
    use crate::run::{Counts, Direction, RunState, SegmentState};

    /// A `Write` the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines(buf: &Shared) -> Vec<Value> {
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn events_progress_and_a_last_summary_without_the_secret() {
        let buf = Shared::default();
        let secret = Secret::new("hunter2-very-secret");
        let j = JsonEvents::start_to(
            Duration::from_millis(40),
            vec![secret.clone()],
            Box::new(buf.clone()),
        );
        let mut obs = j.observer();
        let mut seg = SegmentView::pending(0, 10);
        obs.on_event(&EngineEvent::RunStarted(RunInfo {
            run_id: "r".into(),
            direction: Direction::Push,
            source: "s.csv".into(),
            target: "api".into(),
            total_records: 10,
            segments: vec![seg.clone()],
            started_wall: std::time::SystemTime::now(),
            local_rejects: 0,
            api_style: String::new(),
        }));
        obs.on_event(&EngineEvent::RunState(RunState::Paused));
        // Ten ticks' worth while paused; two progress lines are asked for (5x margin).
        tokio::time::sleep(Duration::from_millis(400)).await;
        seg.state = SegmentState::Failed;
        seg.last_error = Some("server echoed hunter2-very-secret".into());
        obs.on_event(&EngineEvent::Segment(seg));
        let summary = RunSummary {
            run_id: "r".into(),
            direction: Direction::Push,
            state: RunState::CompletedWithFailures,
            counts: Counts::default(),
            segments_total: 1,
            segments_done: 1,
            segments_failed: 1,
            token_renewals: 0,
            sessions: 1,
            duration: Duration::from_secs(11),
            error: None,
            auth_failure: false,
        };
        j.finish(&summary).await;
        let v = lines(&buf);
        let types: Vec<&str> = v.iter().map(|l| l["type"].as_str().unwrap()).collect();
        let n = types.len();
        assert_eq!(types[..2], ["run_started", "run_state"], "{types:?}");
        assert_eq!(types[n - 1], "summary", "{types:?}");
        let seg = types.iter().position(|t| *t == "segment").unwrap();
        assert!(seg >= 4, "progress while paused: {types:?}");
        let mut others = types[2..n - 1].iter().enumerate();
        assert!(
            others.all(|(i, t)| i + 2 == seg || *t == "progress"),
            "{types:?}"
        );
        assert_eq!(v[2]["run_state"], "paused");
        assert_eq!(v[n - 1]["outcome"], "completed with failures");
        assert_eq!(v[n - 1]["exit_code"], 3);
        assert!(
            v.iter()
                .all(|l| l["at"].as_str().is_some_and(|a| a.ends_with('Z')))
        );
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains(&secret.fingerprint()), "{text}");
    }

    #[tokio::test]
    async fn a_token_line_counts_expired_answers_by_kind() {
        let buf = Shared::default();
        let j = JsonEvents::start_to(Duration::from_secs(60), Vec::new(), Box::new(buf.clone()));
        let mut obs = j.observer();
        let mut t = crate::auth::status::TokenStatus {
            fingerprint: Some("#a1".into()),
            renewals: 3,
            ..Default::default()
        };
        t.expired_seen.status_403 = 2;
        t.expired_seen.body_200 = 1;
        obs.on_event(&EngineEvent::Token(t));
        drop(obs);
        j.finish(&RunSummary {
            run_id: "r".into(),
            direction: Direction::Push,
            state: RunState::Completed,
            counts: Counts::default(),
            segments_total: 0,
            segments_done: 0,
            segments_failed: 0,
            token_renewals: 3,
            sessions: 1,
            duration: Duration::from_secs(1),
            error: None,
            auth_failure: false,
        })
        .await;
        let v = lines(&buf);
        let token = v
            .iter()
            .find(|l| l["type"] == "token")
            .expect("a token line");
        assert_eq!(token["renewals"], 3, "{token}");
        let e = &token["expired_answers"];
        assert_eq!(
            (e["status_401"].as_u64(), e["status_403"].as_u64()),
            (Some(0), Some(2)),
            "{token}"
        );
        assert_eq!(
            (e["body_200"].as_u64(), e["total"].as_u64()),
            (Some(1), Some(3))
        );
    }
}
