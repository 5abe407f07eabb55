//! One credential across machines: real `supsync run` processes with separate state
//! directories that share nothing but a real `redis-server` (`auth.token_cache =
//! "redis://…"`), against the simulator with 2-second tokens, refresh-token rotation and
//! reuse detection, or a one-session-per-user login. Skipped, with a message, where
//! `redis-server` is not installed (`.ci/run` installs it).
//!
//! "One request per renewal" is measured as in tests/credential.rs: processes that share
//! make `token requests ≤ renewals + 1`, `renewals` being the most any one went through.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::redis_server::{RedisServer, free_port, write_key_file};
use common::{SECRET, Sim, cmd, stat, stats, text, write_csv};
use supsync::sim::{Profile, SimServer};

const K: usize = 4;
const USER: &str = "sync-bot";
const PASSWORD: &str = "pw-canary-5be1d0";

/// 2 s tokens, rotation with reuse detection, no session limit, no idle window.
async fn oauth_sim() -> SimServer {
    Sim {
        per_record_ms: 10,
        max_concurrent: 0,
        session_secs: 0,
        ..Sim::default()
    }
    .start()
    .await
}

/// A config in `top` using the token cache at `redis_url` with the key file beside it;
/// `auth` lines are added to `[auth]`, `rest` after it (e.g. `[auth.session]`).
fn config(top: &Path, url: &str, redis_url: &str, auth: &str, rest: &str) -> PathBuf {
    let key = top.join("cache.key");
    write_key_file(&key);
    let p = top.join("config.toml");
    std::fs::write(
        &p,
        format!(
            "[api]\nbase_url = \"{url}\"\ntimeout_secs = 5\n\
             [auth]\nkeepalive_secs = 1\nmin_token_interval_ms = 20\n\
             token_cache = \"{redis_url}\"\ntoken_cache_key_file = \"{}\"\n{auth}\n{rest}\n\
             [sync]\nsegment_size = 20\nconcurrency = 2\nmax_attempts = 10\n\
             backoff_initial_ms = 20\nbackoff_max_ms = 500\nmax_retry_after_secs = 1\n\
             retry_budget = 1000\n",
            key.display()
        ),
    )
    .unwrap();
    p
}

/// `supsync run --headless` on its own state dir `<top>/p<k>/state`, pushing `src`.
fn spawn_run(top: &Path, cfg: &Path, k: usize, src: &Path) -> Child {
    let dir = top.join(format!("p{k}"));
    std::fs::create_dir_all(&dir).unwrap();
    let id = format!("p{k}");
    cmd(
        &dir,
        cfg,
        &[
            "run",
            "--headless",
            "--run-id",
            &id,
            "--source",
            src.to_str().unwrap(),
        ],
    )
    .env("SUPSYNC_SESSION_PASSWORD", PASSWORD)
    .spawn()
    .unwrap()
}

async fn wait_all(children: Vec<Child>) -> Vec<Output> {
    tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect()
    })
    .await
    .unwrap()
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

/// `n` valid suppliers with ids from `first` on (so each process creates its own).
fn write_source(path: &Path, first: u64, n: u64) {
    let mut s = format!("{}\n", common::HEADER);
    for i in first..first + n {
        s.push_str(&common::row(i));
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

/// The bearer and refresh tokens in what the clients sent.
fn tokens_sent(seen: &Arc<Mutex<Vec<u8>>>) -> Vec<String> {
    let wire = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    let mut out = Vec::new();
    for part in wire.split("Bearer ").skip(1) {
        out.push(part.split(['\r', '\n']).next().unwrap_or("").to_string());
    }
    for part in wire.split("refresh_token=").skip(1) {
        out.push(
            part.split(['&', '\r', '\n'])
                .next()
                .unwrap_or("")
                .to_string(),
        );
    }
    out.retain(|t| t.len() >= 8);
    out.sort();
    out.dedup();
    out
}

/// Four processes on four state dirs, sharing only Redis, each pushing its own file for
/// several token lifetimes: one token request per renewal between them, no rotated refresh
/// token presented twice, and nothing in Redis a reader without the key could use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_sharing_only_redis_make_one_token_request_per_renewal() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    const RECORDS: u64 = 1200;
    let sim = oauth_sim().await;
    let (via, seen) = common::relay::relay(&sim.url(), common::relay::Keep::ClientSent).await;
    let top = tempfile::tempdir().unwrap();
    let t = top.path();
    let cfg = config(t, &via, &redis.url(), "", "");
    let children: Vec<_> = (0..K)
        .map(|k| {
            let src = t.join(format!("s{k}.csv"));
            write_source(&src, k as u64 * 100_000, RECORDS);
            spawn_run(t, &cfg, k, &src)
        })
        .collect();
    let outputs = wait_all(children).await;
    let mut most = 0;
    for o in &outputs {
        assert_eq!(o.status.code(), Some(0), "{}", text(o));
        most = most.max(summary_renewals(&String::from_utf8_lossy(&o.stderr)));
    }
    let s = stats(&sim.url()).await;
    eprintln!("{s}");
    assert_eq!(stat(&s, "records_created"), K as u64 * RECORDS, "{s}");
    assert!(most >= 2, "the runs outlived too few tokens ({most}): {s}");
    assert!(
        stat(&s, "token_requests") <= most + 1,
        "requests {} > renewals {most} + 1: {s}",
        stat(&s, "token_requests")
    );
    assert_eq!(stat(&s, "refresh_reuse"), 0, "{s}");
    assert_eq!(stat(&s, "invalid_grant"), 0, "{s}");
    // Every process but the first took a token from Redis at least once.
    let sharing = (0..K)
        .filter(|k| {
            let audit = t.join(format!("p{k}/state/runs/p{k}/token-audit.jsonl"));
            std::fs::read_to_string(audit)
                .unwrap_or_default()
                .contains("\"event\":\"shared\"")
        })
        .count();
    assert!(sharing >= K - 1, "only {sharing} processes shared");

    // Redis holds the encrypted entry, its serial and no lock (all released); no token
    // the clients used, and not the client secret, in any key or value.
    let tokens = tokens_sent(&seen);
    assert!(
        tokens.len() >= 3,
        "too few tokens seen on the wire: {tokens:?}"
    );
    let dump = redis.dump().await;
    assert!(
        dump.iter().any(|(k, _)| k.starts_with("supsync:cred:")),
        "{dump:?}"
    );
    for (key, value) in &dump {
        let value = String::from_utf8_lossy(value);
        for secret in tokens.iter().map(String::as_str).chain([SECRET]) {
            assert!(!key.contains(secret), "{key}");
            assert!(
                !value.contains(secret),
                "{key} holds a secret in plain text"
            );
        }
        assert!(!key.ends_with(":lock"), "a lock was left behind: {key}");
        if !key.ends_with(":serial") {
            let v: serde_json::Value = serde_json::from_str(&value).unwrap();
            assert_eq!(v["kdf"], "key_file", "{key}: {v}");
        }
    }
}

/// A simulator with one session per user (a second login ends the first), sessions capped
/// at `cap_secs`, logins taking `login_ms`, `per_record_ms` of work per record.
async fn session_sim(cap_secs: u64, login_ms: u64, per_record_ms: u64) -> SimServer {
    let p = Profile::from_toml(&format!(
        "[api]\nper_record_ms = {per_record_ms}\nmax_concurrent = 0\nrate_limit_per_sec = 0\n\
         [faults]\nerror_rate = 0.0\ndrop_rate = 0.0\n[data]\nsuppliers = 0\n\
         [session]\nenabled = true\nusers = {{ {USER} = \"{PASSWORD}\" }}\n\
         login_ms = {login_ms}\nidle_secs = 30\ncap_secs = {cap_secs}\nsingle_session = true\n\
         lockout_after = 50\n"
    ))
    .expect("test profile parses");
    SimServer::start(p, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts")
}

/// `[auth]` and `[auth.session]` lines of a session login with a single-session server.
fn session_lines(cap_secs: u64, extra_auth: &str) -> (String, String) {
    (
        format!("kind = \"session\"\nsession_limit_secs = {cap_secs}\n{extra_auth}"),
        format!(
            "[auth.session]\nusername = \"{USER}\"\nsingle = true\n\
             logout_path = \"/api/v1/session/logout\""
        ),
    )
}

/// Four processes on a one-session-per-user server, sharing only Redis, through several
/// session lifetimes: they take turns renewing one session, so no login ever ends
/// another process's session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_on_a_one_session_server_cancel_no_session() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let sim = session_sim(2, 0, 40).await;
    let top = tempfile::tempdir().unwrap();
    let t = top.path();
    let (auth, session) = session_lines(2, "");
    let cfg = config(t, &sim.url(), &redis.url(), &auth, &session);
    let children: Vec<_> = (0..K)
        .map(|k| {
            let src = t.join(format!("s{k}.csv"));
            write_source(&src, k as u64 * 100_000, 300);
            spawn_run(t, &cfg, k, &src)
        })
        .collect();
    let outputs = wait_all(children).await;
    let mut most = 0;
    for o in &outputs {
        assert_eq!(o.status.code(), Some(0), "{}", text(o));
        most = most.max(summary_renewals(&String::from_utf8_lossy(&o.stderr)));
    }
    let s = sim.stats();
    assert_eq!(stat(&s, "records_stored"), K as u64 * 300, "{s}");
    assert!(stat(&s, "session_logins") >= 2, "no renewal happened: {s}");
    // Each run logs the shared session out at its end, which costs the runs still going
    // one login each time: at most K - 1 logins besides one per renewal.
    assert!(
        stat(&s, "session_logins") <= most + 1 + (K as u64 - 1),
        "logins {} > renewals {most} + 1 + {}: {s}",
        stat(&s, "session_logins"),
        K - 1
    );
    assert_eq!(stat(&s, "session_concurrent_logins_max"), 1, "{s}");
    assert_eq!(stat(&s, "sessions_ended_by_newer_login"), 0, "{s}");
    for o in &outputs {
        assert!(!text(o).contains(PASSWORD));
    }
}

/// A process killed with `-9` while it holds the renewal lock (in the middle of a slow
/// login) never gives it back: the next process waits for the lock's expiry, then logs in
/// under the lock, not alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_holder_killed_with_9_loses_the_lock_at_its_expiry() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    const TTL_MS: u64 = 3000;
    let sim = session_sim(0, 1500, 1).await;
    let top = tempfile::tempdir().unwrap();
    let t = top.path();
    let (auth, session) = session_lines(0, &format!("redis_lock_ttl_ms = {TTL_MS}"));
    let cfg = config(t, &sim.url(), &redis.url(), &auth, &session);
    let src = t.join("s.csv");
    write_csv(&src, 40, &[]);
    let mut holder = spawn_run(t, &cfg, 0, &src);
    let started = Instant::now();
    let lock = loop {
        if let Some(k) = redis.keys_ending(":lock").await.pop() {
            break k;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no lock taken");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    holder.kill().unwrap();
    holder.wait().unwrap();
    let left = redis.pttl(&lock).await;
    assert!(left > 0, "the lock is gone already ({left})");
    let killed = Instant::now();
    let o = wait_all(vec![spawn_run(t, &cfg, 1, &src)]).await.remove(0);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    // It waited for the lock (it went past the dead holder's expiry) and did not renew
    // without it.
    assert!(
        killed.elapsed() >= Duration::from_millis(left as u64),
        "finished in {:?}, before the lock's expiry ({left} ms)",
        killed.elapsed()
    );
    assert!(!out.contains("renewing without it"), "{out}");
    let s = sim.stats();
    assert_eq!(stat(&s, "records_stored"), 40, "{s}");
    assert_eq!(stat(&s, "sessions_ended_by_newer_login"), 0, "{s}");
    assert!(redis.keys_ending(":lock").await.is_empty());
}

/// Lines of `child`'s stderr, as they come, on a channel.
fn stderr_lines(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    let err = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Redis down when the run starts: the run says so and waits (no login of its own), then
/// goes on once Redis answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_at_start_is_waited_for_with_a_message() {
    if RedisServer::start().await.is_none() {
        return;
    }
    let port = free_port();
    let redis_url = format!("redis://127.0.0.1:{port}/0");
    let sim = oauth_sim().await;
    let top = tempfile::tempdir().unwrap();
    let t = top.path();
    let cfg = config(t, &sim.url(), &redis_url, "", "");
    let src = t.join("s.csv");
    write_csv(&src, 40, &[]);
    let mut child = spawn_run(t, &cfg, 0, &src);
    let lines = stderr_lines(&mut child);
    let said = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        while let Ok(l) = lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            let waiting = l.contains("waiting for it");
            seen.push(l);
            if waiting {
                return (true, seen, lines);
            }
        }
        (false, seen, lines)
    });
    let (waiting, seen, lines) = said.await.unwrap();
    assert!(waiting, "no waiting message: {seen:#?}");
    let said = seen.join("\n");
    assert!(said.contains(&format!("127.0.0.1:{port}")), "{said}");
    assert_eq!(stat(&stats(&sim.url()).await, "token_requests"), 0);
    let _redis = RedisServer::start_on(port).await;
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    let rest: Vec<String> = lines.try_iter().collect();
    assert_eq!(status.code(), Some(0), "{said}\n{}", rest.join("\n"));
    let s = stats(&sim.url()).await;
    assert_eq!(stat(&s, "records_created"), 40, "{s}");
    assert_eq!(stat(&s, "token_requests"), 1, "{s}");
}

/// With `token_cache_fallback = "own_login"`, Redis down means a warning and a login of the
/// process's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_with_own_login_fallback_warns_and_logs_in() {
    if RedisServer::start().await.is_none() {
        return;
    }
    let redis_url = format!("redis://127.0.0.1:{}/0", free_port());
    let sim = oauth_sim().await;
    let top = tempfile::tempdir().unwrap();
    let t = top.path();
    let cfg = config(
        t,
        &sim.url(),
        &redis_url,
        "token_cache_fallback = \"own_login\"",
        "",
    );
    let src = t.join("s.csv");
    write_csv(&src, 40, &[]);
    let o = wait_all(vec![spawn_run(t, &cfg, 0, &src)]).await.remove(0);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("going on without it"), "{out}");
    assert!(!out.contains("waiting for it"), "{out}");
    let s = stats(&sim.url()).await;
    assert_eq!(stat(&s, "records_created"), 40, "{s}");
    assert!(stat(&s, "token_requests") >= 1, "{s}");
}

/// An ACL user with a password: the user name in the URL, the password from the
/// environment. It works, and a wrong password is reported without the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acl_user_authenticates_with_a_password_from_the_environment() {
    let Some(mut redis) = RedisServer::start().await else {
        return;
    };
    const REDIS_PW: &str = "redis-pw-canary-7d1e";
    redis.acl("supsync", REDIS_PW).await;
    let redis_url = format!("redis://supsync@127.0.0.1:{}/0", redis.port);
    let sim = oauth_sim().await;
    let top = tempfile::tempdir().unwrap();
    let t = top.path();
    let cfg = config(
        t,
        &sim.url(),
        &redis_url,
        "token_cache_fallback = \"own_login\"",
        "",
    );
    let src = t.join("s.csv");
    write_csv(&src, 40, &[]);

    let run = |k: usize, password: &str| {
        let mut c = cmd(
            &t.join(format!("p{k}")),
            &cfg,
            &["run", "--headless", "--source", src.to_str().unwrap()],
        );
        c.env("SUPSYNC_REDIS_PASSWORD", password);
        c.spawn().unwrap()
    };
    let o = wait_all(vec![run(0, REDIS_PW)]).await.remove(0);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(!out.contains("going on without it"), "{out}");
    assert!(!out.contains(REDIS_PW), "{out}");
    assert!(
        redis
            .dump()
            .await
            .iter()
            .any(|(k, _)| k.starts_with("supsync:cred:")),
        "nothing stored"
    );

    let o = wait_all(vec![run(1, "wrong-pw-canary-0c4b")])
        .await
        .remove(0);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("going on without it"), "{out}");
    assert!(!out.contains("wrong-pw-canary-0c4b"), "{out}");
    assert!(!out.contains(REDIS_PW), "{out}");
}

/// A login slower than the lock's lifetime keeps the lock (its holder extends it while it
/// lives): the second process waits and takes the session instead of logging in too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_longer_than_the_lock_lifetime_keeps_the_lock() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    // The first run goes on for about 2 s after its login, so the second finds its
    // session still live.
    let sim = session_sim(0, 2500, 20).await;
    let top = tempfile::tempdir().unwrap();
    let t = top.path();
    let (auth, session) = session_lines(0, "redis_lock_ttl_ms = 600");
    let cfg = config(t, &sim.url(), &redis.url(), &auth, &session);
    let src = t.join("s.csv");
    write_csv(&src, 200, &[]);
    let first = spawn_run(t, &cfg, 0, &src);
    let started = Instant::now();
    let lock = loop {
        if let Some(k) = redis.keys_ending(":lock").await.pop() {
            break k;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no lock taken");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let second = spawn_run(t, &cfg, 1, &src);
    // Three lifetimes later the login is still going, and the lock still held.
    tokio::time::sleep(Duration::from_millis(1800)).await;
    assert!(redis.pttl(&lock).await > 0, "the lock lapsed while held");
    let outputs = wait_all(vec![first, second]).await;
    for o in &outputs {
        assert_eq!(o.status.code(), Some(0), "{}", text(o));
    }
    let s = sim.stats();
    assert_eq!(stat(&s, "session_concurrent_logins_max"), 1, "{s}");
    assert_eq!(stat(&s, "sessions_ended_by_newer_login"), 0, "{s}");
    // The second took the first's session; it logs in only if the first's end-of-run
    // logout comes before its own last call.
    let audit = std::fs::read_to_string(t.join("p1/state/runs/p1/token-audit.jsonl"));
    assert!(
        audit.unwrap_or_default().contains("\"event\":\"shared\""),
        "the second process did not take the session: {s}"
    );
    assert!(stat(&s, "session_logins") <= 2, "{s}");
}

/// `supsync run --headless --shard k/K` on its own state dir `<top>/p<k>/state`: the K
/// shards of one source, as K pods of an Indexed Job would run them.
fn spawn_shard(top: &Path, cfg: &Path, k: usize, src: &Path) -> Child {
    let dir = top.join(format!("p{k}"));
    std::fs::create_dir_all(&dir).unwrap();
    let shard = format!("{k}/{K}");
    cmd(
        &dir,
        cfg,
        &[
            "run",
            "--headless",
            "--run-id",
            "fleet",
            "--shard",
            &shard,
            "--source",
            src.to_str().unwrap(),
        ],
    )
    .env("SUPSYNC_SESSION_PASSWORD", PASSWORD)
    .spawn()
    .unwrap()
}

/// The fleet as the README deploys it: four shards of one 4,000-record source on four
/// state dirs, sharing only Redis, through 2-second tokens with rotation and reuse
/// detection: every record once, one token request per renewal in total.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_shards_sharing_only_redis_push_every_record_once_on_one_credential() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    const RECORDS: u64 = 4000;
    let sim = oauth_sim().await;
    let top = tempfile::tempdir().unwrap();
    let t = top.path();
    let cfg = config(t, &sim.url(), &redis.url(), "", "");
    let src = t.join("all.csv");
    write_source(&src, 0, RECORDS);
    let children: Vec<_> = (0..K).map(|k| spawn_shard(t, &cfg, k, &src)).collect();
    let outputs = wait_all(children).await;
    let mut most = 0;
    for o in &outputs {
        assert_eq!(o.status.code(), Some(0), "{}", text(o));
        most = most.max(summary_renewals(&String::from_utf8_lossy(&o.stderr)));
    }
    let s = stats(&sim.url()).await;
    assert_eq!(stat(&s, "records_created"), RECORDS, "{s}");
    assert_eq!(stat(&s, "records_updated"), 0, "{s}");
    assert_eq!(stat(&s, "records_unchanged"), 0, "{s}");
    assert!(most >= 1, "the shards outlived no token: {s}");
    assert!(
        stat(&s, "token_requests") <= most + 1,
        "requests {} > renewals {most} + 1: {s}",
        stat(&s, "token_requests")
    );
    assert_eq!(stat(&s, "refresh_reuse"), 0, "{s}");
    assert_eq!(stat(&s, "invalid_grant"), 0, "{s}");
}

/// The same four shards on a one-session-per-user server: no shard's login ends another's
/// session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_shards_on_a_one_session_server_cancel_no_session() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    const RECORDS: u64 = 1200;
    let sim = session_sim(2, 0, 40).await;
    let top = tempfile::tempdir().unwrap();
    let t = top.path();
    let (auth, session) = session_lines(2, "");
    let cfg = config(t, &sim.url(), &redis.url(), &auth, &session);
    let src = t.join("all.csv");
    write_source(&src, 0, RECORDS);
    let children: Vec<_> = (0..K).map(|k| spawn_shard(t, &cfg, k, &src)).collect();
    let outputs = wait_all(children).await;
    for o in &outputs {
        assert_eq!(o.status.code(), Some(0), "{}", text(o));
    }
    let s = sim.stats();
    assert_eq!(stat(&s, "records_stored"), RECORDS, "{s}");
    assert_eq!(stat(&s, "records_created"), RECORDS, "{s}");
    assert_eq!(stat(&s, "sessions_ended_by_newer_login"), 0, "{s}");
    assert_eq!(stat(&s, "session_concurrent_logins_max"), 1, "{s}");
}
