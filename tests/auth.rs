//! The token lifecycle against the real simulator over loopback: steady state under three
//! short clocks, revocation, rotation with reuse detection and the cache, no refresh
//! token, keep-alive, secrecy of logs and `Debug`, and the error taxonomy.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use supsync::api::{ApiClient, ApiError, ConnectOptions};
use supsync::auth::cache::TokenCache;
use supsync::config::Config;
use supsync::secret::Secret;
use supsync::sim::{Profile, SimServer};
use tokio_util::sync::CancellationToken;

const SECRET: &str = "change-me";

/// No per-record delay, no concurrency limit that eight callers would hit.
const FAST: &str = "per_record_ms = 0\nmax_concurrent = 64\nrate_limit_per_sec = 0";

/// A profile with the given `[tokens]` and `[api]` lines and no faults.
fn profile(tokens: &str, api: &str) -> Profile {
    let text = format!(
        "[tokens]\n{tokens}\n\
         [clients]\nsupplier-sync = \"{SECRET}\"\n\
         [api]\n{api}\n\
         [faults]\nerror_rate = 0.0\ndrop_rate = 0.0\n\
         [data]\nsuppliers = 50\n"
    );
    Profile::from_toml(&text).unwrap()
}

async fn start(p: Profile) -> SimServer {
    SimServer::start(p, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn config(sim: &SimServer) -> Config {
    let mut c = Config::default();
    c.api.base_url = sim.url();
    c.api.timeout_secs = 10;
    c
}

async fn connect(
    sim: &SimServer,
    cache: Option<PathBuf>,
    cancel: &CancellationToken,
) -> Arc<ApiClient> {
    connect_with(&config(sim), cache, None, cancel)
        .await
        .unwrap()
}

async fn connect_with(
    cfg: &Config,
    cache: Option<PathBuf>,
    audit: Option<PathBuf>,
    cancel: &CancellationToken,
) -> Result<Arc<ApiClient>, ApiError> {
    let opts = ConnectOptions {
        token_cache: cache,
        audit_log: audit,
    };
    ApiClient::connect(cfg, Secret::new(SECRET), opts, cancel.child_token()).await
}

async fn stats(sim: &SimServer) -> serde_json::Value {
    reqwest::get(format!("{}/_sim/stats", sim.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn stat(v: &serde_json::Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no counter {key} in {v}"))
}

/// `n` callers alternating health and pull calls for `dur`; returns (calls, errors,
/// slowest call).
async fn callers(
    client: &Arc<ApiClient>,
    n: usize,
    dur: Duration,
    pause: Duration,
) -> (u64, Vec<String>, Duration) {
    let until = Instant::now() + dur;
    let mut tasks = Vec::new();
    for i in 0..n {
        let c = Arc::clone(client);
        tasks.push(tokio::spawn(async move {
            let (mut calls, mut errors, mut slowest) = (0u64, Vec::new(), Duration::ZERO);
            while Instant::now() < until {
                let t = Instant::now();
                let r = if (calls + i as u64).is_multiple_of(2) {
                    c.health().await
                } else {
                    c.pull_page(0, 10).await.map(|_| ())
                };
                slowest = slowest.max(t.elapsed());
                calls += 1;
                if let Err(e) = r {
                    errors.push(e.to_string());
                }
                tokio::time::sleep(pause).await;
            }
            (calls, errors, slowest)
        }));
    }
    let (mut calls, mut errors, mut slowest) = (0, Vec::new(), Duration::ZERO);
    for t in tasks {
        let (c, e, s) = t.await.unwrap();
        calls += c;
        errors.extend(e);
        slowest = slowest.max(s);
    }
    (calls, errors, slowest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_short_clocks_and_eight_callers_never_see_a_401() {
    let sim = start(profile(
        "default_ttl_secs = 3600\nscope_ttl_secs = { supplier_mgmt = 2 }\n\
         idle_timeout_secs = 3\nabsolute_timeout_secs = 8\nrefresh_ttl_secs = 86400\n\
         issue_refresh_token = \"offline_access\"\nrotate_refresh_tokens = true\nreuse_detection = true",
        FAST,
    ))
    .await;
    let cancel = CancellationToken::new();
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let client = connect_with(&config(&sim), None, Some(audit.clone()), &cancel)
        .await
        .unwrap();
    let (calls, errors, slowest) = callers(
        &client,
        8,
        Duration::from_secs(30),
        Duration::from_millis(40),
    )
    .await;
    let s = stats(&sim).await;
    let status = client.token_status().borrow().clone();
    eprintln!("calls {calls}, slowest {slowest:?}, status {status:?}, stats {s}");
    assert!(errors.is_empty(), "caller errors: {errors:?}");
    assert!(calls > 1000, "only {calls} calls");
    assert_eq!(stat(&s, "unauthorized"), 0, "the server answered 401s");
    assert_eq!(status.unauthorized_seen, 0);
    // 30 s of 2 s tokens in 8 s sessions: refreshes and new sessions both happen.
    assert!(stat(&s, "refreshes") >= 10, "{s}");
    assert!(stat(&s, "sessions") >= 4, "{s}");
    // One token request per renewal, not per caller: every token issued is one of ours.
    assert_eq!(stat(&s, "tokens_issued"), u64::from(status.renewals) + 1);
    assert_eq!(stat(&s, "sessions"), u64::from(status.sessions));
    // 30 s / (2 s × 2/3) ≈ 23 renewals, plus a few at session ends; ×8 callers would be far more.
    assert!(stat(&s, "tokens_issued") <= 45, "{s}");
    assert_eq!(stat(&s, "refresh_reuse"), 0);
    // Renewals happen in the background, ahead of time: callers do not wait for them. A
    // caller-driven renewal only happens if the machine stalls the background
    // task past the margin, so allow a few on a loaded box.
    let audit = std::fs::read_to_string(&audit).unwrap();
    let proactive = audit.matches("(ahead of expiry)").count();
    let by_caller = audit.matches("(token dead for a caller)").count();
    eprintln!("renewals: {proactive} proactive, {by_caller} by a caller");
    assert!(
        proactive >= 20 && by_caller <= 3,
        "{proactive} proactive, {by_caller} by callers"
    );
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_mid_stream_costs_each_caller_one_replay_and_one_renewal() {
    let sim = start(profile(
        "scope_ttl_secs = { supplier_mgmt = 60 }\nidle_timeout_secs = 0\nabsolute_timeout_secs = 0",
        FAST,
    ))
    .await;
    let cancel = CancellationToken::new();
    let client = connect(&sim, None, &cancel).await;
    let url = sim.url();
    let revoker = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        reqwest::Client::new()
            .post(format!("{url}/_sim/revoke"))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
    });
    let (calls, errors, _) =
        callers(&client, 8, Duration::from_secs(3), Duration::from_millis(5)).await;
    revoker.await.unwrap();
    let s = stats(&sim).await;
    let status = client.token_status().borrow().clone();
    eprintln!("calls {calls}, status {status:?}, stats {s}");
    assert!(errors.is_empty(), "caller errors: {errors:?}");
    let unauthorized = stat(&s, "unauthorized");
    assert!(
        (1..=8).contains(&unauthorized),
        "{unauthorized} 401s for 8 callers"
    );
    assert_eq!(u64::from(status.unauthorized_seen), unauthorized);
    // One renewal: the revoked refresh token is refused, one new session follows.
    assert_eq!(status.renewals, 1, "{status:?}");
    assert_eq!(stat(&s, "sessions"), 2);
    assert_eq!(stat(&s, "tokens_issued"), 2);
    assert_eq!(
        stat(&s, "token_errors"),
        1,
        "one refused refresh, then one new session"
    );
    cancel.cancel();
}

fn rotation_profile() -> Profile {
    profile(
        "scope_ttl_secs = { supplier_mgmt = 60 }\nidle_timeout_secs = 0\nabsolute_timeout_secs = 0\n\
         issue_refresh_token = \"offline_access\"\nrotate_refresh_tokens = true\nreuse_detection = true",
        FAST,
    )
}

fn cached_refresh_token(sim: &SimServer, path: &Path) -> Option<Secret> {
    let cfg = config(sim);
    TokenCache::new(
        path.to_path_buf(),
        &cfg.token_url(),
        &cfg.auth.client_id,
        &cfg.auth.scopes,
    )
    .load()
    .unwrap()
    .and_then(|c| c.refresh_token)
}

#[tokio::test]
async fn a_restarted_manager_continues_the_session_from_the_encrypted_cache() {
    let sim = start(rotation_profile()).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("tokens.cache");

    let first = CancellationToken::new();
    let a = connect(&sim, Some(cache.clone()), &first).await;
    a.force_refresh().await.unwrap();
    a.health().await.unwrap();
    let rotated = cached_refresh_token(&sim, &cache).expect("rotated refresh token cached");
    first.cancel();
    drop(a);

    // The file: 0600, and not one byte of the refresh token in clear.
    let bytes = std::fs::read(&cache).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        !text.contains(rotated.expose()),
        "refresh token in clear in the cache"
    );
    let half = &rotated.expose()[..rotated.expose().len() / 2];
    assert!(!text.contains(half));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    // The restart takes the cached access token while it lives: no request at all.
    let second = CancellationToken::new();
    let b = connect(&sim, Some(cache.clone()), &second).await;
    b.health().await.unwrap();
    let s = stats(&sim).await;
    assert_eq!(
        stat(&s, "tokens_issued"),
        2,
        "the restart asked for a token: {s}"
    );
    // Its next renewal continues the session with the rotated refresh token.
    b.force_refresh().await.unwrap();
    b.health().await.unwrap();
    let s = stats(&sim).await;
    assert_eq!(
        stat(&s, "sessions"),
        1,
        "the restart started a new session: {s}"
    );
    assert_eq!(stat(&s, "refreshes"), 2);
    assert_eq!(stat(&s, "refresh_reuse"), 0);
    assert_eq!(b.token_status().borrow().sessions, 0);
    second.cancel();
}

#[tokio::test]
async fn a_crash_between_rotation_and_cache_write_loses_no_run() {
    let sim = start(rotation_profile()).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("tokens.cache");

    let first = CancellationToken::new();
    let a = connect(&sim, Some(cache.clone()), &first).await;
    // The cache as it was before the next rotation reached the disk.
    let before = std::fs::read(&cache).unwrap();
    a.force_refresh().await.unwrap();
    first.cancel();
    drop(a);
    std::fs::write(&cache, before).unwrap();

    // The next run takes the cached access token (still alive), then renews with the spent
    // refresh token: the server detects reuse and revokes the session; the manager falls
    // back to a new session and callers see no error.
    let second = CancellationToken::new();
    let b = connect(&sim, Some(cache.clone()), &second).await;
    b.force_refresh().await.unwrap();
    for _ in 0..5 {
        b.health().await.unwrap();
        b.pull_page(0, 5).await.unwrap();
    }
    let s = stats(&sim).await;
    assert_eq!(stat(&s, "refresh_reuse"), 1, "{s}");
    assert_eq!(stat(&s, "sessions"), 2, "{s}");
    assert_eq!(stat(&s, "unauthorized"), 0, "{s}");
    let status = b.token_status().borrow().clone();
    assert_eq!(status.sessions, 1);
    assert!(status.has_refresh_token);
    // And the new session's refresh token is what the cache holds now.
    b.force_refresh().await.unwrap();
    second.cancel();
    drop(b);
    let third = CancellationToken::new();
    let c = connect(&sim, Some(cache.clone()), &third).await;
    c.health().await.unwrap();
    assert_eq!(stat(&stats(&sim).await, "sessions"), 2);
    third.cancel();
}

#[tokio::test]
async fn no_refresh_token_means_renewal_by_client_credentials_and_nothing_cached() {
    let sim = start(profile(
        "scope_ttl_secs = { supplier_mgmt = 2 }\nidle_timeout_secs = 0\nabsolute_timeout_secs = 0\n\
         issue_refresh_token = \"never\"",
        FAST,
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("tokens.cache");
    let cancel = CancellationToken::new();
    let client = connect(&sim, Some(cache.clone()), &cancel).await;
    let (_, errors, _) = callers(
        &client,
        2,
        Duration::from_secs(5),
        Duration::from_millis(50),
    )
    .await;
    assert!(errors.is_empty(), "{errors:?}");
    let s = stats(&sim).await;
    let status = client.token_status().borrow().clone();
    assert_eq!(stat(&s, "refreshes"), 0);
    assert!(stat(&s, "sessions") >= 4, "{s}");
    assert_eq!(stat(&s, "unauthorized"), 0, "{s}");
    assert!(!status.has_refresh_token);
    assert!(
        !cache.exists() || cached_refresh_token(&sim, &cache).is_none(),
        "a refresh token was cached although none was issued"
    );
    cancel.cancel();
}

#[tokio::test]
async fn a_paused_caller_keeps_its_token_alive() {
    let sim = start(profile(
        "scope_ttl_secs = { supplier_mgmt = 60 }\nidle_timeout_secs = 2\nabsolute_timeout_secs = 0",
        FAST,
    ))
    .await;
    let cancel = CancellationToken::new();
    let client = connect(&sim, None, &cancel).await;
    for _ in 0..20 {
        client.health().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = stat(&stats(&sim).await, "requests");
    // Paused for three idle windows.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let during = stat(&stats(&sim).await, "requests") - before;
    client.pull_page(0, 5).await.unwrap();
    let s = stats(&sim).await;
    let status = client.token_status().borrow().clone();
    eprintln!("keep-alive calls during the pause: {during}; {status:?}");
    assert_eq!(stat(&s, "unauthorized"), 0, "{s}");
    assert!(during >= 4, "only {during} keep-alive calls in 6 s");
    assert!(during <= 30, "{during} keep-alive calls in 6 s: too chatty");
    assert_eq!(
        status.renewals, 0,
        "the idle window must not cause renewals"
    );
    assert!(status.idle_window.is_some(), "idle window not inferred");
    cancel.cancel();
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The access token `client` holds now and the refresh token in its cache, in the clear, so
/// the test can search its captured output for them.
async fn current_secrets(client: &ApiClient, sim: &SimServer, cache: &Path) -> [String; 2] {
    [
        client
            .tokens()
            .token()
            .await
            .unwrap()
            .secret
            .expose()
            .to_string(),
        cached_refresh_token(sim, cache)
            .unwrap()
            .expose()
            .to_string(),
    ]
}

/// The capturing subscriber is the process's global one (only this test sets it): a
/// thread-local default missed events whenever a callsite's interest was cached from
/// another test's thread, or an event came from the blocking pool (the token cache).
/// Other tests' events land in the capture too; they carry none of this test's secrets.
#[tokio::test]
async fn no_token_or_secret_in_logs_audit_or_debug_output() {
    let logs = Capture::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber)
        .expect("no other test in this binary sets a global subscriber");

    let sim = start(rotation_profile()).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("tokens.cache");
    let audit = dir.path().join("audit.jsonl");
    let cancel = CancellationToken::new();
    let client = connect_with(
        &config(&sim),
        Some(cache.clone()),
        Some(audit.clone()),
        &cancel,
    )
    .await
    .unwrap();
    let mut secrets = vec![SECRET.to_string()];
    let mut debug = Vec::new();
    let remember = |c: &ApiClient, debug: &mut Vec<String>| {
        debug.push(format!("{c:?}"));
        debug.push(format!("{:?}", c.token_status().borrow()));
    };
    secrets.extend(current_secrets(&client, &sim, &cache).await);
    client.force_refresh().await.unwrap();
    secrets.extend(current_secrets(&client, &sim, &cache).await);
    remember(&client, &mut debug);
    // A revocation: a 401, its replay, a refused refresh, a new session.
    sim.revoke_all();
    client.health().await.unwrap();
    secrets.extend(current_secrets(&client, &sim, &cache).await);
    remember(&client, &mut debug);

    // Errors: a wrong secret, then their Debug and Display.
    let bad = ApiClient::connect(
        &config(&sim),
        Secret::new("wrong-secret-value"),
        ConnectOptions::default(),
        cancel.child_token(),
    )
    .await
    .unwrap_err();
    secrets.push("wrong-secret-value".into());
    debug.push(format!("{bad:?} {bad}"));
    cancel.cancel();

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let audit = std::fs::read_to_string(&audit).unwrap();
    assert!(
        logs.contains("supsync::token"),
        "no token events logged:\n{logs}"
    );
    for event in [
        "issued",
        "refreshed",
        "401 from the API: Token revoked",
        "refresh refused",
        "new session",
    ] {
        assert!(audit.contains(event), "audit lacks {event:?}:\n{audit}");
    }
    for s in &secrets {
        assert!(s.len() >= 8);
        assert!(!logs.contains(s.as_str()), "a secret in the logs");
        assert!(!audit.contains(s.as_str()), "a secret in the audit log");
        for d in &debug {
            assert!(!d.contains(s.as_str()), "a secret in Debug output: {d}");
        }
    }
}

#[tokio::test]
async fn a_wrong_client_secret_is_a_clear_error_and_no_spin() {
    let sim = start(rotation_profile()).await;
    let cancel = CancellationToken::new();
    let t = Instant::now();
    let err = ApiClient::connect(
        &config(&sim),
        Secret::new("not-the-secret"),
        ConnectOptions::default(),
        cancel.child_token(),
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(err.is_auth_failure(), "{err:?}");
    assert!(text.contains("invalid_client"), "{text}");
    assert!(
        text.contains("auth.client_id") && text.contains("token_url"),
        "{text}"
    );
    assert!(t.elapsed() < Duration::from_secs(5));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        stat(&stats(&sim).await, "token_errors"),
        1,
        "retried a refusal"
    );
}

#[tokio::test]
async fn rate_limits_conflicts_oversized_batches_and_outages_are_classified() {
    let sim = start(profile(
        "scope_ttl_secs = { supplier_mgmt = 60 }\nidle_timeout_secs = 0\nabsolute_timeout_secs = 0",
        "per_record_ms = 0\nmax_concurrent = 64\nmax_batch = 3",
    ))
    .await;
    let cancel = CancellationToken::new();
    let client = connect(&sim, None, &cancel).await;
    let recs: Vec<_> = (1..=4).map(supsync::sim::generated_record).collect();

    let ok = client.push_batch("run-1-seg-0", &recs[..2]).await.unwrap();
    assert_eq!(ok.len(), 2);
    assert_eq!(ok[0].supplier_id, recs[0].supplier_id);
    // Same key, same body: the first answer again.
    assert_eq!(
        client.push_batch("run-1-seg-0", &recs[..2]).await.unwrap(),
        ok
    );
    // Same key, another body: 409, permanent.
    let e = client
        .push_batch("run-1-seg-0", &recs[1..3])
        .await
        .unwrap_err();
    assert!(
        matches!(e, ApiError::Permanent { status: 409, .. }),
        "{e:?}"
    );
    assert!(!e.is_retryable());
    // Larger than max_batch: 413, permanent.
    let e = client.push_batch("run-1-seg-1", &recs).await.unwrap_err();
    assert!(
        matches!(e, ApiError::Permanent { status: 413, .. }),
        "{e:?}"
    );

    // An outage: 503 with Retry-After, transient.
    reqwest::Client::new()
        .post(format!("{}/_sim/outage?seconds=2", sim.url()))
        .send()
        .await
        .unwrap();
    let e = client.health().await.unwrap_err();
    assert!(matches!(e, ApiError::Transient { .. }), "{e:?}");
    assert!(e.is_retryable());
    assert!(
        e.retry_after()
            .is_some_and(|d| d <= Duration::from_secs(2) && d >= Duration::from_secs(1)),
        "{e:?}"
    );
    cancel.cancel();
}

#[tokio::test]
async fn too_many_concurrent_requests_are_rate_limited_with_retry_after() {
    let sim = start(profile(
        "scope_ttl_secs = { supplier_mgmt = 60 }\nidle_timeout_secs = 0\nabsolute_timeout_secs = 0",
        "per_record_ms = 300\nmax_concurrent = 1\nrate_limit_per_sec = 0",
    ))
    .await;
    let cancel = CancellationToken::new();
    let client = connect(&sim, None, &cancel).await;
    let recs: Vec<_> = (1..=2).map(supsync::sim::generated_record).collect();
    let (a, b) = tokio::join!(
        client.push_batch("k-a", &recs),
        client.push_batch("k-b", &recs)
    );
    let limited: Vec<_> = [a, b].into_iter().filter_map(Result::err).collect();
    assert_eq!(limited.len(), 1, "{limited:?}");
    assert!(
        matches!(
            limited[0],
            ApiError::RateLimited {
                retry_after: Some(_)
            }
        ),
        "{limited:?}"
    );
    cancel.cancel();
}

#[tokio::test]
async fn a_second_401_in_a_row_is_an_error_for_that_request_never_a_loop() {
    // Tokens from one simulator are unknown to another: every call is refused, fresh
    // token or not, which is exactly the case the one-replay rule is for.
    let issuer = start(rotation_profile()).await;
    let api = start(rotation_profile()).await;
    let mut cfg = config(&api);
    cfg.auth.token_url = format!("{}/oauth/token", issuer.url());
    let cancel = CancellationToken::new();
    let client = connect_with(&cfg, None, None, &cancel).await.unwrap();
    let e = client.health().await.unwrap_err();
    match &e {
        ApiError::Unauthorized { description } => {
            assert!(description.contains("not known"), "{description}")
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    assert_eq!(
        stat(&stats(&api).await, "unauthorized"),
        2,
        "one request, one replay"
    );
    assert_eq!(
        stat(&stats(&issuer).await, "tokens_issued"),
        2,
        "one renewal"
    );
    assert_eq!(client.token_status().borrow().unauthorized_seen, 2);
    cancel.cancel();
}

#[tokio::test]
async fn an_outage_of_the_token_endpoint_backs_off_and_recovers() {
    let sim = start(profile(
        "scope_ttl_secs = { supplier_mgmt = 2 }\nidle_timeout_secs = 0\nabsolute_timeout_secs = 0",
        FAST,
    ))
    .await;
    let cancel = CancellationToken::new();
    let client = connect(&sim, None, &cancel).await;
    sim.outage(Duration::from_secs(3));
    let (_, errors, _) = callers(
        &client,
        4,
        Duration::from_secs(3),
        Duration::from_millis(20),
    )
    .await;
    assert!(!errors.is_empty(), "the outage was not seen");
    // The token dies during the outage; the manager must be ready right after it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, errors, _) = callers(
        &client,
        4,
        Duration::from_secs(1),
        Duration::from_millis(20),
    )
    .await;
    assert!(errors.is_empty(), "not recovered: {errors:?}");
    let s = stats(&sim).await;
    // 4 callers × 50 calls/s for 3 s, yet the token endpoint was asked a few times a second
    // at most.
    let token_errors = stat(&s, "token_errors");
    assert!(
        (1..=12).contains(&token_errors),
        "{token_errors} token requests failed: {s}"
    );
    cancel.cancel();
}

#[tokio::test]
async fn a_corrupt_cache_is_a_warning_and_a_new_session() {
    let sim = start(rotation_profile()).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("tokens.cache");
    std::fs::write(&cache, b"\x00garbage{").unwrap();
    let cancel = CancellationToken::new();
    let client = connect(&sim, Some(cache.clone()), &cancel).await;
    client.health().await.unwrap();
    assert_eq!(stat(&stats(&sim).await, "sessions"), 1);
    // The new session's refresh token replaced the garbage.
    assert!(cached_refresh_token(&sim, &cache).is_some());
    cancel.cancel();
}

#[tokio::test]
async fn a_cut_connection_is_transient() {
    // Every resource call is cut mid-way; the token endpoint is spared.
    let p = Profile::from_toml(&format!(
        "[tokens]\nscope_ttl_secs = {{ supplier_mgmt = 60 }}\nidle_timeout_secs = 0\n\
         [clients]\nsupplier-sync = \"{SECRET}\"\n\
         [api]\n{FAST}\n[faults]\nerror_rate = 0.0\ndrop_rate = 1.0\n"
    ))
    .unwrap();
    let sim = start(p).await;
    let cancel = CancellationToken::new();
    let client = connect(&sim, None, &cancel).await;
    let e = client.health().await.unwrap_err();
    assert!(matches!(e, ApiError::Transient { .. }), "{e:?}");
    assert!(e.is_retryable());
    assert!(stat(&stats(&sim).await, "dropped_connections") >= 1);
    cancel.cancel();
}
