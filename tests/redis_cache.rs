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
        &["run", "--headless", "--run-id", &id, "--source", src.to_str().unwrap()],
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

/// A loopback TCP relay to `upstream` that keeps every byte the clients sent (their bearer
/// tokens and refresh tokens among them).
async fn relay(upstream: &str) -> (String, Arc<Mutex<Vec<u8>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let upstream: std::net::SocketAddr = upstream.trim_start_matches("http://").parse().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let rec = seen.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                continue;
            };
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut sr, &mut cw).await;
                let _ = cw.shutdown().await;
            });
            let rec = rec.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                while let Ok(n) = cr.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    rec.lock().unwrap().extend_from_slice(&buf[..n]);
                    if sw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = sw.shutdown().await;
            });
        }
    });
    (url, seen)
}

/// The bearer and refresh tokens in what the clients sent.
fn tokens_sent(seen: &Arc<Mutex<Vec<u8>>>) -> Vec<String> {
    let wire = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    let mut out = Vec::new();
    for part in wire.split("Bearer ").skip(1) {
        out.push(part.split(['\r', '\n']).next().unwrap_or("").to_string());
    }
    for part in wire.split("refresh_token=").skip(1) {
        out.push(part.split(['&', '\r', '\n']).next().unwrap_or("").to_string());
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
    let (via, seen) = relay(&sim.url()).await;
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
    assert!(tokens.len() >= 3, "too few tokens seen on the wire: {tokens:?}");
    let dump = redis.dump().await;
    assert!(
        dump.iter().any(|(k, _)| k.starts_with("supsync:cred:")),
        "{dump:?}"
    );
    for (key, value) in &dump {
        let value = String::from_utf8_lossy(value);
        for secret in tokens.iter().map(String::as_str).chain([SECRET]) {
            assert!(!key.contains(secret), "{key}");
            assert!(!value.contains(secret), "{key} holds a secret in plain text");
        }
        assert!(!key.ends_with(":lock"), "a lock was left behind: {key}");
        if !key.ends_with(":serial") {
            let v: serde_json::Value = serde_json::from_str(&value).unwrap();
            assert_eq!(v["kdf"], "key_file", "{key}: {v}");
        }
    }
}
