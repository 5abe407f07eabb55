//! Fault suite: every record delivered exactly once under each fault the
//! simulator can inject, and under all of them together: 10% 503s, 5% cut connections,
//! 429 storms (fewer concurrent slots than workers, and a rate limit), `/_sim/revoke` every
//! 5 s, refresh-token rotation with reuse detection, and a 20-second outage in the middle.
//! The engine runs in-process against the simulator over loopback; a long outage trips the
//! run's retry gate and its health probe must reopen it.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Sim, stat, write_csv};
use supsync::config::{Config, TokenCacheMode};
use supsync::engine::events::{EngineEvent, RunState, SegmentState};
use supsync::engine::{self, RunMode, RunParams};
use supsync::secret::Secret;
use supsync::sim::SimServer;

/// What happens to the simulator while the run goes on.
#[derive(Clone, Copy, Default)]
struct Chaos {
    /// `/_sim/revoke` at this period.
    revoke_every: Option<Duration>,
    /// (start after, length) of an outage.
    outage: Option<(Duration, Duration)>,
}

fn config(url: &str, concurrency: usize) -> Config {
    let mut c = Config::default();
    c.api.base_url = url.to_string();
    c.api.timeout_secs = 5;
    c.auth.token_cache = TokenCacheMode::None;
    c.auth.keepalive_secs = 1;
    c.sync.segment_size = 50;
    c.sync.concurrency = concurrency;
    c.sync.max_attempts = 10;
    c.sync.backoff_initial_ms = 20;
    c.sync.backoff_max_ms = 500;
    c.sync.max_retry_after_secs = 1;
    // retry_budget stays at its default (10): it must trip the gate before in-flight
    // segments spend their attempts, which is what the 20 s outage proves.
    c
}

/// Pushes `n` records (plus 3 invalid rows) through `sim` while `chaos` plays out; asserts
/// each valid record was created exactly once and nothing was updated or lost.
async fn exactly_once(name: &str, sim: Sim, concurrency: usize, n: u64, chaos: Chaos) {
    let server = Arc::new(sim.start().await);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("s.csv");
    write_csv(
        &src,
        n,
        &[
            "NOPE-1,Bad Id,FR,approved,a@example.com,,2026-11-02T09:14:00Z",
            "SUP-900001,Bad Country,XXX,approved,a@example.com,,2026-11-02T09:14:00Z",
            "SUP-900002,Bad Status,FR,sleeping,a@example.com,,2026-11-02T09:14:00Z",
        ],
    );
    let p = RunParams::new(
        config(&server.url(), concurrency),
        Secret::new(common::SECRET),
        dir.path().to_path_buf(),
        RunMode::Push {
            source: src,
            run_id: Some(name.into()),
        },
    );
    let started = Instant::now();
    let chaos_task = tokio::spawn(play(Arc::clone(&server), chaos));
    let mut h = engine::start(p);
    let mut summary = None;
    let deadline = Instant::now() + Duration::from_secs(100);
    while let Ok(Some(ev)) = tokio::time::timeout_at(deadline.into(), h.events.recv()).await {
        match ev {
            EngineEvent::Segment(v) if v.state == SegmentState::Failed => {
                eprintln!("{name}: segment {} failed: {:?}", v.index, v.last_error);
            }
            EngineEvent::Finished(s) => {
                summary = Some(s);
                break;
            }
            _ => {}
        }
    }
    chaos_task.abort();
    let summary = summary.unwrap_or_else(|| panic!("{name}: the run did not finish in 100 s"));
    let st = server.stats();
    eprintln!(
        "{name}: {n} records in {:.1} s, {} renewals, {} sessions; sim {st}",
        started.elapsed().as_secs_f64(),
        summary.token_renewals,
        summary.sessions
    );
    assert_eq!(summary.state, RunState::Completed, "{name}: {summary:?}");
    assert_eq!(
        summary.exit_code(),
        6,
        "{name}: 3 local rejects: {summary:?}"
    );
    assert_eq!(summary.counts.created, n, "{name}: {summary:?}");
    assert_eq!(summary.counts.rejected, 3, "{name}: {summary:?}");
    assert_eq!(stat(&st, "records_created"), n, "{name}: {st}");
    assert_eq!(stat(&st, "records_total"), n, "{name}: nothing lost: {st}");
    assert_eq!(
        stat(&st, "records_updated"),
        0,
        "{name}: nothing applied twice: {st}"
    );
    assert_eq!(
        stat(&st, "records_rejected"),
        0,
        "{name}: invalid rows never sent: {st}"
    );
    assert_eq!(
        stat(&st, "refresh_reuse"),
        0,
        "{name}: no spent refresh token reused: {st}"
    );
}

async fn play(server: Arc<SimServer>, chaos: Chaos) {
    let t0 = tokio::time::Instant::now();
    let mut outage = chaos.outage;
    let mut next_revoke = chaos.revoke_every.map(|p| t0 + p);
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = tokio::time::Instant::now();
        if let Some((after, len)) = outage
            && now >= t0 + after
        {
            server.outage(len);
            outage = None;
        }
        if let (Some(at), Some(p)) = (next_revoke, chaos.revoke_every)
            && now >= at
        {
            server.revoke_all();
            next_revoke = Some(at + p);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_percent_503s() {
    let sim = Sim {
        error_rate: 0.10,
        seed: 101,
        ..Sim::default()
    };
    exactly_once("errors", sim, 4, 2_000, Chaos::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_percent_dropped_connections() {
    let sim = Sim {
        drop_rate: 0.05,
        seed: 102,
        ..Sim::default()
    };
    exactly_once("drops", sim, 4, 2_000, Chaos::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storms_of_429s_from_concurrency_and_rate_limits() {
    // 8 workers against 2 slots and 15 requests/s: most requests are refused at first.
    let sim = Sim {
        max_concurrent: 2,
        rate_limit_per_sec: 15,
        ..Sim::default()
    };
    exactly_once("storm", sim, 8, 2_000, Chaos::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_every_five_seconds() {
    // ~15 s of work (2,000 × 30 ms / 4): three revocations land mid-run.
    let sim = Sim {
        per_record_ms: 30,
        ..Sim::default()
    };
    let chaos = Chaos {
        revoke_every: Some(Duration::from_secs(5)),
        ..Chaos::default()
    };
    exactly_once("revoke", sim, 4, 2_000, chaos).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_with_reuse_detection_across_many_refreshes() {
    // Scope TTL 2 s, session 4 s over ~10 s: many rotated refreshes and new sessions; a
    // reused refresh token would revoke the session and show in refresh_reuse.
    let sim = Sim {
        per_record_ms: 20,
        session_secs: 4,
        ..Sim::default()
    };
    exactly_once("rotation", sim, 4, 2_000, Chaos::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_second_outage_in_the_middle() {
    // ~8 s of work; the outage starts 3 s in and outlasts every token clock (TTL 2 s,
    // idle 3 s, session 10 s): the run must get new tokens after it.
    let sim = Sim {
        per_record_ms: 16,
        ..Sim::default()
    };
    let chaos = Chaos {
        outage: Some((Duration::from_secs(3), Duration::from_secs(20))),
        ..Chaos::default()
    };
    exactly_once("outage", sim, 4, 2_000, chaos).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_faults_together() {
    let sim = Sim {
        per_record_ms: 20,
        error_rate: 0.10,
        drop_rate: 0.05,
        max_concurrent: 2,
        rate_limit_per_sec: 15,
        session_secs: 6,
        seed: 103,
        ..Sim::default()
    };
    let chaos = Chaos {
        revoke_every: Some(Duration::from_secs(5)),
        outage: Some((Duration::from_secs(4), Duration::from_secs(20))),
    };
    exactly_once("all", sim, 8, 2_000, chaos).await;
}
