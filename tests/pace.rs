//! `sync.concurrency = "auto"` against the simulator over loopback: it finds a server's
//! capacity with few 429s, follows a capacity that drops and comes back, and a server's
//! stated rate paces it. Margins are wide: these check the controller's direction, the
//! benchmark (`cargo bench --bench pace`) measures how close it gets.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{SECRET, Sim, stat, stats, write_csv};
use supsync::config::{AUTO_CONCURRENCY, Config, TokenCacheMode};
use supsync::engine::events::{Command, EngineEvent, PaceView, RunState};
use supsync::engine::{self, RunMode, RunParams};
use supsync::secret::Secret;

fn config(url: &str, segment: usize) -> Config {
    let mut c = Config::default();
    c.api.base_url = url.to_string();
    c.api.timeout_secs = 10;
    c.auth.token_cache = TokenCacheMode::None;
    c.sync.segment_size = segment;
    c.sync.concurrency = AUTO_CONCURRENCY;
    c.sync.min_concurrency = 1;
    c.sync.max_concurrency = 32;
    c.sync.max_attempts = 8;
    c.sync.retry_budget = 1_000;
    c.sync.backoff_initial_ms = 20;
    c.sync.backoff_max_ms = 200;
    c.sync.max_retry_after_secs = 1;
    c
}

/// Runs a push of `records`, noting each pace the engine reports with its time from the
/// start; `stop_when` ends the run early once it holds for a pace.
async fn push(
    cfg: Config,
    dir: &Path,
    records: u64,
    stop_when: impl Fn(Duration, &PaceView, &[(Duration, PaceView)]) -> bool,
) -> (RunState, Duration, Vec<(Duration, PaceView)>) {
    let (state, took, paces, _) = push_holding(cfg, dir, records, stop_when).await;
    (state, took, paces)
}

/// [`push`], also counting the run-wide holds the engine reported.
async fn push_holding(
    cfg: Config,
    dir: &Path,
    records: u64,
    stop_when: impl Fn(Duration, &PaceView, &[(Duration, PaceView)]) -> bool,
) -> (RunState, Duration, Vec<(Duration, PaceView)>, usize) {
    let src = dir.join("s.csv");
    write_csv(&src, records, &[]);
    let params = RunParams::new(
        cfg,
        Secret::new(SECRET),
        dir.join("state"),
        RunMode::Push {
            source: src,
            run_id: None,
        },
    );
    let mut h = engine::start(params);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(90);
    let mut paces = Vec::new();
    let mut state = RunState::Failed;
    let mut holds = 0;
    while let Ok(Some(ev)) = tokio::time::timeout_at(deadline.into(), h.events.recv()).await {
        match ev {
            EngineEvent::Pace(p) => {
                let at = started.elapsed();
                let stop = stop_when(at, &p, &paces);
                paces.push((at, p));
                if stop {
                    let _ = h.commands.send(Command::Stop).await;
                }
            }
            EngineEvent::Holding(Some(_)) => holds += 1,
            EngineEvent::Finished(s) => {
                state = s.state;
                break;
            }
            _ => {}
        }
    }
    (state, started.elapsed(), paces, holds)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_finds_a_servers_capacity_with_few_429s() {
    const CAPACITY: u64 = 6;
    let sim = Sim {
        per_record_ms: 1,
        max_concurrent: CAPACITY,
        api_extra: "load_latency_ms = 5".into(),
        ..Sim::default()
    }
    .start()
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (state, took, paces) =
        push(config(&sim.url(), 10), dir.path(), 4_000, |_, _, _| false).await;
    assert_eq!(state, RunState::Completed, "{paces:?}");
    let s = stats(&sim.url()).await;
    let (requests, refused) = (stat(&s, "requests"), stat(&s, "rate_limited"));
    let share = refused as f64 / requests as f64;
    assert!(
        share <= 0.03,
        "{refused} of {requests} requests answered 429 ({:.1} %)",
        share * 100.0
    );
    // Where it settled: the limits reported over the run's second half.
    let half = took / 2;
    let late: Vec<usize> = paces
        .iter()
        .filter(|(at, _)| *at >= half)
        .map(|(_, p)| p.limit)
        .collect();
    // The limit counts segments holding a place, and a segment spends part of its time
    // off the server (encoding, the journal): on a busy machine fewer than the limit are at
    // the server at once, so it may settle somewhat above the capacity. Twice is the margin.
    let last = paces.last().map(|(_, p)| p.limit).unwrap_or(0);
    assert!(
        (3..=12).contains(&last) && late.iter().all(|&n| (2..=14).contains(&n)),
        "capacity {CAPACITY}: settled at {last}, second half {late:?}"
    );
    let reasons: Vec<&str> = paces.iter().map(|(_, p)| p.reason.as_str()).collect();
    assert!(reasons.contains(&"auto, raised"), "{reasons:?}");
    eprintln!(
        "auto against capacity {CAPACITY}: {took:?}, {refused}/{requests} 429, last limit {last}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_follows_a_capacity_that_drops_and_comes_back() {
    let sim = Sim {
        per_record_ms: 10,
        max_concurrent: 12,
        api_extra: "capacity_schedule = [{ after_secs = 3, max_concurrent = 4 }, \
                    { after_secs = 6, max_concurrent = 12 }]"
            .into(),
        ..Sim::default()
    }
    .start()
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&sim.url(), 10);
    cfg.sync.min_concurrency = 2;
    // Down while the cap is 4 (3–6 s), then back up once it is 12 again.
    let fell = |paces: &[(Duration, PaceView)]| {
        paces
            .iter()
            .any(|(at, p)| *at >= Duration::from_secs(3) && p.limit <= 5)
    };
    let (_, _, paces) = push(cfg, dir.path(), 30_000, |at, p, before| {
        fell(before) && at >= Duration::from_secs(6) && p.limit >= 9
    })
    .await;
    let shown: Vec<(u128, usize)> = paces
        .iter()
        .map(|(at, p)| (at.as_millis(), p.limit))
        .collect();
    let peak_before = paces
        .iter()
        .filter(|(at, _)| *at < Duration::from_secs(3))
        .map(|(_, p)| p.limit)
        .max()
        .unwrap_or(0);
    assert!(
        peak_before >= 9,
        "never neared 12 before the drop: {shown:?}"
    );
    assert!(fell(&paces), "did not come down to the cap of 4: {shown:?}");
    let back = paces
        .iter()
        .find(|(at, p)| *at >= Duration::from_secs(6) && p.limit >= 9)
        .map(|(at, _)| *at);
    let back = back.unwrap_or_else(|| panic!("did not climb back after 6 s: {shown:?}"));
    assert!(
        back <= Duration::from_secs(20),
        "took until {back:?} to climb back: {shown:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stated_rate_paces_the_run_and_is_shown() {
    let sim = Sim {
        per_record_ms: 0,
        max_concurrent: 0,
        rate_limit_per_sec: 20,
        api_extra: "rate_limit_headers = true".into(),
        ..Sim::default()
    }
    .start()
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&sim.url(), 10);
    cfg.sync.concurrency = 8;
    let (state, took, paces) = push(cfg, dir.path(), 600, |_, _, _| false).await;
    assert_eq!(state, RunState::Completed);
    let s = stats(&sim.url()).await;
    let (requests, refused) = (stat(&s, "requests"), stat(&s, "rate_limited"));
    // 60 pushes at 20 a second: about 3 s; a run that ignored the fields would take a few
    // hundred ms and collect 429s by the dozen.
    assert!(
        refused * 10 <= requests,
        "{refused} of {requests} answered 429 despite the stated rate"
    );
    assert!(took >= Duration::from_millis(1500), "too fast: {took:?}");
    let label = paces.iter().find_map(|(_, p)| p.paced_by.clone());
    assert_eq!(label.as_deref(), Some("RateLimit: 20/s"), "{paces:?}");
}

/// As "nothing set" runs: the server's `Retry-After` honoured up to the default two minutes,
/// the default backoff. A 429 to a request above the capacity must not pause the run.
fn defaults(url: &str) -> Config {
    let mut c = Config::default();
    c.api.base_url = url.to_string();
    c.api.timeout_secs = 10;
    c.auth.token_cache = TokenCacheMode::None;
    c.sync.segment_size = 10;
    c.sync.concurrency = AUTO_CONCURRENCY;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_above_the_capacity_costs_one_request_not_a_pause_of_the_run() {
    let sim = Sim {
        per_record_ms: 1,
        max_concurrent: 6,
        api_extra: "load_latency_ms = 5".into(),
        ..Sim::default()
    }
    .start()
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (state, took, paces, holds) =
        push_holding(defaults(&sim.url()), dir.path(), 3_000, |_, _, _| false).await;
    assert_eq!(state, RunState::Completed, "{paces:?}");
    let s = stats(&sim.url()).await;
    let (requests, refused) = (stat(&s, "requests"), stat(&s, "rate_limited"));
    // Each 429 says `Retry-After: 1`: held for it, the run would pause a second a probe.
    assert!(refused > 0, "auto never probed above the capacity of 6");
    assert_eq!(
        holds, 0,
        "the run held for a probe's 429 ({refused} of {requests} answered 429, {took:?})"
    );
    assert!(
        refused * 100 <= requests * 3,
        "{refused} of {requests} requests answered 429"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_that_go_on_at_the_lowered_limit_still_hold_the_run() {
    // A rate of 5 a second and nothing else: at any limit the server refuses the rest of
    // each second, so lowering the limit cannot help and the run waits as the server says.
    let sim = Sim {
        per_record_ms: 0,
        max_concurrent: 0,
        rate_limit_per_sec: 5,
        ..Sim::default()
    }
    .start()
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (state, _, paces, holds) =
        push_holding(defaults(&sim.url()), dir.path(), 200, |_, _, _| false).await;
    assert_eq!(state, RunState::Completed, "{paces:?}");
    assert!(
        holds > 0,
        "auto never held for a server refusing at every limit"
    );
}
