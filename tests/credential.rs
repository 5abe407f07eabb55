//! One credential, many processes: token managers that share a token cache take turns
//! renewing under its lock and take each other's tokens, against the simulator with
//! 2-second tokens, refresh-token rotation and reuse detection (one spent refresh token
//! presented again revokes the whole session).
//!
//! How "one request per renewal" is measured: a process's `renewals` are the token changes
//! it went through (its own requests and tokens it took from the cache). Processes that
//! renew on their own make about K × (renewals + 1) token requests between them; processes
//! that share make `token requests ≤ renewals + 1`, `renewals` being the most any one of
//! them went through (every request served all of them).

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use supsync::api::{ApiClient, ConnectOptions};
use supsync::auth::cache::{TokenCache, try_lock};
use supsync::config::Config;
use supsync::secret::Secret;
use supsync::sim::SimServer;
use tokio_util::sync::CancellationToken;

use common::{SECRET, Sim, cmd, stat, stats, text};

/// 2 s tokens, rotation with reuse detection, no session limit (a session that ends is a
/// refused refresh of its own, which is not what these tests are about), no idle window.
fn sim() -> Sim {
    Sim {
        per_record_ms: 5,
        max_concurrent: 0,
        session_secs: 0,
        ..Sim::default()
    }
}

fn config(sim: &SimServer) -> Config {
    let mut c = Config::default();
    c.api.base_url = sim.url();
    c.api.timeout_secs = 10;
    // Both managers live in this process and share its pacing slots.
    c.auth.min_token_interval_ms = 50;
    c
}

async fn connect(
    sim: &SimServer,
    cache: &Path,
    audit: &Path,
    cancel: &CancellationToken,
) -> Arc<ApiClient> {
    let opts = ConnectOptions {
        token_cache: Some(cache.to_path_buf()),
        audit_log: Some(audit.to_path_buf()),
    };
    ApiClient::connect(
        &config(sim),
        Secret::new(SECRET),
        opts,
        cancel.child_token(),
    )
    .await
    .unwrap()
}

/// Audit events of one kind ("shared", "refreshed", …) in a token audit log.
fn events(audit: &Path, kind: &str) -> usize {
    std::fs::read_to_string(audit)
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].as_str() == Some(kind)
        })
        .count()
}

fn renewals(c: &ApiClient) -> u64 {
    u64::from(c.token_status().borrow().renewals)
}

/// Two managers in one process, each with its own cache handle and lock file handle
/// (flock locks are per open file, so they exclude each other as two processes do).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_managers_on_one_cache_make_one_request_per_renewal() {
    let sim = sim().start().await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("token-cache");
    let (audit_a, audit_b) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
    let cancel = CancellationToken::new();
    let a = connect(&sim, &cache, &audit_a, &cancel).await;
    let b = connect(&sim, &cache, &audit_b, &cancel).await;
    assert_eq!(
        stat(&stats(&sim.url()).await, "token_requests"),
        1,
        "b took a's first token"
    );
    assert_eq!(events(&audit_b, "shared"), 1);
    // 8 s of calls from both: about six 2-second tokens go by.
    let until = Instant::now() + Duration::from_secs(8);
    let work = |c: Arc<ApiClient>| async move {
        while Instant::now() < until {
            c.health().await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::join!(work(Arc::clone(&a)), work(Arc::clone(&b)));
    let s = stats(&sim.url()).await;
    let most = renewals(&a).max(renewals(&b));
    assert!(most >= 3, "the test outlived too few tokens ({most}): {s}");
    assert!(
        stat(&s, "token_requests") <= most + 1,
        "requests {} > renewals {most} + 1: {s}",
        stat(&s, "token_requests")
    );
    assert_eq!(stat(&s, "invalid_grant"), 0, "{s}");
    assert_eq!(stat(&s, "refresh_reuse"), 0, "{s}");
    assert_eq!(stat(&s, "api_unauthorized"), 0, "{s}");
    assert_eq!(stat(&s, "sessions"), 1, "{s}");
    // Every renewal was one request by one manager and a token taken by the other.
    let shared = (events(&audit_a, "shared") + events(&audit_b, "shared")) as u64;
    assert!(
        shared >= most,
        "{shared} tokens taken from the cache, {most} renewals"
    );
    cancel.cancel();
}

/// The operator's `f` asks for a new token even when the cache has a fresh one, but with
/// the refresh token the other manager left there, never the spent one it holds itself.
#[tokio::test]
async fn a_forced_renewal_uses_the_refresh_token_another_manager_rotated() {
    let sim = sim().start().await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("token-cache");
    let cancel = CancellationToken::new();
    let a = connect(&sim, &cache, &dir.path().join("a.jsonl"), &cancel).await;
    let b = connect(&sim, &cache, &dir.path().join("b.jsonl"), &cancel).await;
    a.force_refresh().await.unwrap();
    b.force_refresh().await.unwrap();
    a.force_refresh().await.unwrap();
    a.health().await.unwrap();
    b.health().await.unwrap();
    let s = stats(&sim.url()).await;
    assert_eq!(stat(&s, "refreshes"), 3, "{s}");
    assert_eq!(stat(&s, "refresh_reuse"), 0, "{s}");
    assert_eq!(stat(&s, "invalid_grant"), 0, "{s}");
    assert_eq!(stat(&s, "sessions"), 1, "{s}");
    cancel.cancel();
}

/// A lock held past the wait (a hung or stopped process) is not waited for: the renewal
/// goes ahead alone, with a warning, as a new session (the holder may be presenting the
/// refresh token right now, and presenting it twice would revoke the session).
#[tokio::test]
async fn a_lock_held_too_long_means_a_new_session_and_a_warning_not_a_hang() {
    let sim = sim().start().await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("token-cache");
    let audit = dir.path().join("a.jsonl");
    let cancel = CancellationToken::new();
    let a = connect(&sim, &cache, &audit, &cancel).await;
    a.tokens().set_lock_wait(Duration::from_millis(300));
    let cfg = config(&sim);
    let lock_path = TokenCache::new(
        cache.clone(),
        &cfg.token_url(),
        &cfg.auth.client_id,
        &cfg.auth.scopes,
    )
    .lock_path();
    let stuck = try_lock(&lock_path)
        .unwrap()
        .expect("the lock is free between renewals");
    let started = Instant::now();
    a.force_refresh().await.unwrap();
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    let s = stats(&sim.url()).await;
    assert_eq!(stat(&s, "sessions"), 2, "{s}");
    assert_eq!(stat(&s, "refreshes"), 0, "{s}");
    let log = std::fs::read_to_string(&audit).unwrap();
    assert!(log.contains("held this credential's lock"), "{log}");
    // Once the holder lets go, renewals share again.
    drop(stuck);
    a.force_refresh().await.unwrap();
    assert_eq!(stat(&stats(&sim.url()).await, "refreshes"), 1);
    cancel.cancel();
}

/// `n` valid suppliers with ids from `first` on (so each process creates its own).
fn write_source(path: &Path, first: u64, n: u64) {
    let mut s = format!("{}\n", common::HEADER);
    for i in first..first + n {
        s.push_str(&common::row(i));
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

/// A config with the encrypted token cache on (the default), in the shared state dir.
fn shared_config(dir: &Path, url: &str) -> PathBuf {
    let p = dir.join("config.toml");
    std::fs::write(
        &p,
        format!(
            "[api]\nbase_url = \"{url}\"\ntimeout_secs = 5\n\
             [auth]\nkeepalive_secs = 1\n\
             [sync]\nsegment_size = 20\nconcurrency = 2\nbackoff_initial_ms = 20\nbackoff_max_ms = 500\n"
        ),
    )
    .unwrap();
    p
}

/// `token: N renewal(s)` from a run's summary.
fn summary_renewals(out: &str) -> u64 {
    out.lines()
        .find_map(|l| {
            let rest = l.trim().strip_prefix("token: ")?;
            rest.split(' ').next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no token line in:\n{out}"))
}

/// Three real `supsync run --headless` processes, one state dir (one token cache), one
/// client id, each pushing its own file for several token lifetimes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_on_one_credential_share_every_renewal() {
    const K: u64 = 3;
    // 60 segments of 200 ms each, two at a time: about 6 s, three to four token lives.
    const RECORDS: u64 = 1200;
    let sim = Sim {
        per_record_ms: 10,
        ..sim()
    }
    .start()
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = shared_config(dir.path(), &sim.url());
    let children: Vec<_> = (0..K)
        .map(|k| {
            let src = dir.path().join(format!("shard-{k}.csv"));
            write_source(&src, k * 100_000, RECORDS);
            let src = src.to_string_lossy().to_string();
            let run_id = format!("shard-{k}");
            cmd(
                dir.path(),
                &cfg,
                &["run", "--headless", "--source", &src, "--run-id", &run_id],
            )
            .spawn()
            .unwrap()
        })
        .collect();
    let outputs = tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let mut most = 0;
    for o in &outputs {
        assert_eq!(o.status.code(), Some(0), "{}", text(o));
        most = most.max(summary_renewals(&String::from_utf8_lossy(&o.stderr)));
    }
    let s = stats(&sim.url()).await;
    assert_eq!(stat(&s, "records_created"), K * RECORDS, "{s}");
    assert!(most >= 2, "the runs outlived too few tokens ({most}): {s}");
    assert!(
        stat(&s, "token_requests") <= most + 1,
        "requests {} > renewals {most} + 1: {s}",
        stat(&s, "token_requests")
    );
    assert_eq!(stat(&s, "invalid_grant"), 0, "{s}");
    assert_eq!(stat(&s, "refresh_reuse"), 0, "{s}");
    assert_eq!(stat(&s, "api_unauthorized"), 0, "{s}");
    // The others took the first token, at least, from the cache.
    let sharing = (0..K)
        .filter(|k| {
            let audit = dir
                .path()
                .join(format!("state/runs/shard-{k}/token-audit.jsonl"));
            events(&audit, "shared") >= 1
        })
        .count() as u64;
    assert!(
        sharing >= K - 1,
        "only {sharing} processes took a token from the cache"
    );
}
