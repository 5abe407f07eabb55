//! Servers that say "this token is dead" without a plain 401 (a 403, a 200 carrying an
//! error) and token endpoints that accept a refresh only close to expiry: 500-record syncs
//! against the simulator over loopback finish with no failed segment and no run of failed
//! token requests.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{SECRET, stat, stats, write_csv};
use supsync::config::{Config, TokenCacheMode};
use supsync::engine::events::{EngineEvent, RunState, RunSummary};
use supsync::engine::{self, RunMode, RunParams};
use supsync::secret::Secret;
use supsync::sim::{Profile, SimServer};

/// A profile with the given `[tokens]` lines, no faults, a fast API.
async fn sim(tokens: &str, per_record_ms: u64) -> SimServer {
    let p = Profile::from_toml(&format!(
        "[tokens]\ndefault_ttl_secs = 3600\nidle_timeout_secs = 0\nabsolute_timeout_secs = 0\n\
         issue_refresh_token = \"always\"\nrotate_refresh_tokens = true\nreuse_detection = true\n\
         {tokens}\n\
         [clients]\nsupplier-sync = \"{SECRET}\"\n\
         [api]\nper_record_ms = {per_record_ms}\nmax_concurrent = 0\nrate_limit_per_sec = 0\n\
         [faults]\nerror_rate = 0.0\ndrop_rate = 0.0\n[data]\nsuppliers = 0\n"
    ))
    .unwrap();
    SimServer::start(p, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn config(url: &str, segment: usize, concurrency: usize) -> Config {
    let mut c = Config::default();
    c.api.base_url = url.to_string();
    c.api.timeout_secs = 5;
    c.auth.token_cache = TokenCacheMode::None;
    c.auth.keepalive_secs = 1;
    c.auth.min_token_interval_ms = 20;
    c.sync.segment_size = segment;
    c.sync.concurrency = concurrency;
    c.sync.max_attempts = 3;
    c.sync.backoff_initial_ms = 20;
    c.sync.backoff_max_ms = 200;
    c.sync.max_retry_after_secs = 1;
    c
}

/// Pushes 500 records with `cfg` and returns the summary and the last token status.
async fn push_500(cfg: Config, dir: &Path) -> (RunSummary, supsync::auth::status::TokenStatus) {
    let src = dir.join("s.csv");
    write_csv(&src, 500, &[]);
    let p = RunParams::new(
        cfg,
        Secret::new(SECRET),
        dir.to_path_buf(),
        RunMode::Push {
            source: src,
            run_id: Some("expiry".into()),
        },
    );
    let mut h = engine::start(p);
    let mut token = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    while let Ok(Some(ev)) = tokio::time::timeout_at(deadline.into(), h.events.recv()).await {
        match ev {
            EngineEvent::Token(t) => token = Some(t),
            EngineEvent::Finished(_) => break,
            _ => {}
        }
    }
    let summary = tokio::time::timeout(Duration::from_secs(10), h.task)
        .await
        .expect("engine ends after Finished")
        .expect("engine task does not panic");
    (summary, token.expect("token status published"))
}

fn assert_clean(summary: &RunSummary, st: &serde_json::Value) {
    assert_eq!(summary.state, RunState::Completed, "{summary:?}");
    assert_eq!(summary.segments_failed, 0, "{summary:?}");
    assert_eq!(stat(st, "records_stored"), 500, "{st}");
}

/// Each access token serves one call, then the API answers it the profile's way: every
/// further segment crosses a renewal, so 50 segments make ≥ 30 renewals in a few seconds.
async fn signal_run(
    signal: &str,
    rule: &str,
) -> (
    RunSummary,
    supsync::auth::status::TokenStatus,
    serde_json::Value,
) {
    let sim = sim(&format!(
        "scope_ttl_secs = {{ supplier_mgmt = 2 }}\nrevoke_after_uses = 1\nexpiry_signal = \"{signal}\""
    ), 0)
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&sim.url(), 10, 1);
    cfg.auth.expired_when = vec![rule.to_string()];
    let started = Instant::now();
    let (summary, token) = push_500(cfg, dir.path()).await;
    let st = stats(&sim.url()).await;
    eprintln!("{signal}: {:?}, {token:?}, {st}", started.elapsed());
    (summary, token, st)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_as_403_renews_and_replays() {
    let (summary, token, st) = signal_run("403", "403 /error = token_expired").await;
    assert_clean(&summary, &st);
    assert!(token.renewals >= 30, "{token:?}");
    assert!(token.expired_seen.status_403 >= 30, "{token:?}");
    assert_eq!(
        token.expired_seen.status_401 + token.expired_seen.body_200,
        0
    );
    assert!(stat(&st, "api_token_dead") >= 30, "{st}");
    assert_eq!(stat(&st, "api_unauthorized"), 0, "{st}");
    // No failed token request at all, so never two in a row.
    assert_eq!(stat(&st, "token_errors"), 0, "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_as_a_200_with_an_error_body_renews_and_replays() {
    let (summary, token, st) = signal_run("200-body", "200 /error/code = TOKEN_EXPIRED").await;
    assert_clean(&summary, &st);
    assert!(token.renewals >= 30, "{token:?}");
    assert!(token.expired_seen.body_200 >= 30, "{token:?}");
    assert!(stat(&st, "api_token_dead") >= 30, "{st}");
    assert_eq!(stat(&st, "token_errors"), 0, "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_without_a_rule_stays_a_permission_error() {
    let sim = sim(
        "scope_ttl_secs = { supplier_mgmt = 2 }\nrevoke_after_uses = 1\nexpiry_signal = \"403\"",
        0,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (summary, token) = push_500(config(&sim.url(), 10, 1), dir.path()).await;
    let st = stats(&sim.url()).await;
    // The first segment used the token's one call; the rest were refused, not renewed.
    assert!(summary.segments_failed > 0, "{summary:?}");
    assert_eq!(token.expired_seen.status_403, 0, "{token:?}");
    assert_eq!(token.renewals, 0, "{token:?}");
    assert_eq!(stat(&st, "token_requests"), 1, "{st}");
}

/// A 2-second window on 15-second tokens, scaled down (whole seconds): a 1-second window
/// on 4-second tokens, whose default margin (a third: 1.3 s) would be too early. The server
/// takes 18 ms a record, so the run spans a few token lifetimes (about 9 s).
async fn window_run(
    configured: bool,
) -> (
    RunSummary,
    supsync::auth::status::TokenStatus,
    serde_json::Value,
) {
    window_run_worded(configured, "").await
}

/// [`window_run`] with the too-early refusal in `words` (`{window}` the seconds).
async fn window_run_worded(
    configured: bool,
    words: &str,
) -> (
    RunSummary,
    supsync::auth::status::TokenStatus,
    serde_json::Value,
) {
    let sim = sim(
        &format!(
            "scope_ttl_secs = {{ supplier_mgmt = 4 }}\nrefresh_window_secs = 1\n\
             refresh_window_text = {words:?}"
        ),
        18,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&sim.url(), 10, 1);
    if configured {
        cfg.auth.refresh_window_secs = 1;
    }
    let started = Instant::now();
    let (summary, token) = push_500(cfg, dir.path()).await;
    let st = stats(&sim.url()).await;
    eprintln!(
        "window (configured {configured}): {:?}, {token:?}, {st}",
        started.elapsed()
    );
    (summary, token, st)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewals_land_inside_a_configured_refresh_window() {
    let (summary, token, st) = window_run(true).await;
    assert_clean(&summary, &st);
    assert!(stat(&st, "refreshes") >= 2, "{st}");
    assert_eq!(stat(&st, "refresh_too_early"), 0, "{st}");
    assert_eq!(stat(&st, "token_errors"), 0, "{st}");
    // Every renewal was a refresh of the one session.
    assert_eq!(stat(&st, "sessions"), 1, "{st}");
    assert_eq!(token.refresh_window, Some(Duration::from_secs(1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_too_early_refusal_teaches_the_window_and_is_not_a_failure() {
    let (summary, token, st) = window_run(false).await;
    assert_clean(&summary, &st);
    assert!(stat(&st, "refreshes") >= 2, "{st}");
    // One refusal teaches the window; none after it, so never two failed requests in a row.
    assert_eq!(stat(&st, "refresh_too_early"), 1, "{st}");
    assert_eq!(stat(&st, "token_errors"), 1, "{st}");
    assert_eq!(stat(&st, "sessions"), 1, "{st}");
    assert_eq!(token.refresh_window, Some(Duration::from_secs(1)));
}

/// A vendor says it in other words ("not allowed yet … only within N seconds"): the
/// window is learned all the same, and the refusal does not start a new session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_in_a_vendors_words_teaches_the_window_too() {
    let (summary, token, st) = window_run_worded(
        false,
        "refresh not allowed yet: a refresh is only allowed within {window} seconds of its \
         expiry",
    )
    .await;
    assert_clean(&summary, &st);
    assert!(stat(&st, "refreshes") >= 2, "{st}");
    assert_eq!(stat(&st, "refresh_too_early"), 1, "{st}");
    assert_eq!(stat(&st, "sessions"), 1, "{st}");
    assert_eq!(token.refresh_window, Some(Duration::from_secs(1)));
}
