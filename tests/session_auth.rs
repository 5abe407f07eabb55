//! `auth.kind = "session"` against the simulator's session logins (docs/API.md §7) over
//! real loopback HTTP: long syncs across many renewals, every way the id comes and goes,
//! the lockout budget of a wrong password, one login at a time per credential across
//! processes, the secrets canary, and a `kill -9` mid-run that `resume` carries on with the
//! cached live session.
//!
//! Clocks are whole seconds (a 2 s cap at the shortest). Where a session must stay alive
//! the calls come far inside its windows; a check that something did not happen (no
//! further login) counts the simulator's requests, which sleeping longer cannot change.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{stat, text, write_csv};
use supsync::api::{ApiClient, ConnectOptions};
use supsync::auth::cache::TokenCache;
use supsync::auth::status::{GrantKind, TokenStatus};
use supsync::config::{AuthKind, Config};
use supsync::engine::events::{EngineEvent, RunState, RunSummary};
use supsync::engine::{self, RunMode, RunParams};
use supsync::secret::Secret;
use supsync::sim::{Profile, SimServer};
use tokio_util::sync::CancellationToken;

const USER: &str = "sync-bot";
/// Recognisable, so the canary finds it anywhere it leaks.
const PASSWORD: &str = "pw-canary-5e1b7c";

/// A simulator with sessions on (`session` lines added to `[session]`), no faults, no
/// per-user call limit; `per_record_ms` of server work per record.
async fn sim(session: &str, per_record_ms: u64) -> SimServer {
    let p = Profile::from_toml(&format!(
        "[tokens]\nexpiry_signal = \"401\"\n\
         [api]\nper_record_ms = {per_record_ms}\nmax_concurrent = 0\nrate_limit_per_sec = 0\n\
         [faults]\nerror_rate = 0.0\ndrop_rate = 0.0\n[data]\nsuppliers = 0\n\
         [session]\nenabled = true\nusers = {{ {USER} = \"{PASSWORD}\" }}\n{session}\n"
    ))
    .expect("test profile parses");
    SimServer::start(p, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts")
}

/// A session config for `url`: the id from the body, sent as `X-Session-Id` (the
/// simulator's defaults), fast retries.
fn config(url: &str, segment: usize, concurrency: usize) -> Config {
    let mut c = Config::default();
    c.auth.kind = AuthKind::Session;
    c.api.base_url = url.to_string();
    c.api.timeout_secs = 10;
    c.auth.keepalive_secs = 1;
    c.auth.min_token_interval_ms = 20;
    c.sync.segment_size = segment;
    c.sync.concurrency = concurrency;
    c.sync.max_attempts = 5;
    c.sync.backoff_initial_ms = 20;
    c.sync.backoff_max_ms = 200;
    c.sync.max_retry_after_secs = 1;
    c
}

/// Pushes `n` records with `cfg` (the password `password`, state under `dir`); returns
/// the summary and the last token status.
async fn push(cfg: Config, password: &str, dir: &Path, n: u64) -> (RunSummary, TokenStatus) {
    let src = dir.join(format!("s{n}.csv"));
    write_csv(&src, n, &[]);
    let p = RunParams::new(
        cfg,
        Secret::new(password),
        dir.to_path_buf(),
        RunMode::Push {
            source: src,
            run_id: None,
        },
    );
    let mut h = engine::start(p);
    let mut token = TokenStatus::default();
    let deadline = Instant::now() + Duration::from_secs(180);
    while let Ok(Some(ev)) = tokio::time::timeout_at(deadline.into(), h.events.recv()).await {
        match ev {
            EngineEvent::Token(t) => token = t,
            EngineEvent::Finished(_) => break,
            _ => {}
        }
    }
    let summary = tokio::time::timeout(Duration::from_secs(10), h.task)
        .await
        .expect("engine ends after Finished")
        .expect("engine task does not panic");
    (summary, token)
}

/// The simulator's counters.
fn stats(sim: &SimServer) -> serde_json::Value {
    sim.stats()
}

/// Login requests of any outcome the simulator has seen.
fn login_requests(st: &serde_json::Value) -> u64 {
    stat(st, "session_logins")
        + stat(st, "session_login_failures")
        + stat(st, "session_login_refused_locked")
}

/// The acceptance run: 500 records over about a minute against sessions that die after
/// 2 s (cap) or 15 s without a call (idle), one live session per user (a second login ends
/// the first), a lockout after 5 failed logins. Every renewal is a new login ahead of the
/// cap; none fails, no segment fails, and the one holder never overlaps with itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_record_push_crosses_30_session_renewals_without_a_failed_segment() {
    let sim = sim(
        "idle_secs = 15\ncap_secs = 2\nsingle_session = true\nlockout_after = 5\n\
         lockout_secs = 30\nlogin_ms = 20",
        200,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&sim.url(), 10, 2);
    // What the operator knows of the server, as hints (learned values win).
    cfg.auth.idle_timeout_secs = 15;
    cfg.auth.session_limit_secs = 2;
    let started = Instant::now();
    let (summary, token) = push(cfg, PASSWORD, dir.path(), 500).await;
    let st = stats(&sim);
    eprintln!("{:?}; {summary:?}; {token:?}; {st}", started.elapsed());
    assert_eq!(summary.state, RunState::Completed, "{summary:?}");
    assert_eq!(summary.segments_failed, 0, "{summary:?}");
    assert_eq!(stat(&st, "records_stored"), 500, "{st}");
    assert!(token.renewals >= 30, "{token:?}");
    assert_eq!(token.grant, Some(GrantKind::SessionLogin));
    assert_eq!(
        stat(&st, "session_logins"),
        u64::from(token.sessions),
        "{st}"
    );
    assert!(stat(&st, "session_logins") >= 31, "{st}");
    // No failed login at all, so never two in a row.
    assert_eq!(stat(&st, "session_login_failures"), 0, "{st}");
    assert_eq!(stat(&st, "session_login_refused_locked"), 0, "{st}");
    assert_eq!(stat(&st, "session_concurrent_logins_max"), 1, "{st}");
    assert!(stat(&st, "session_overlap_uses") <= 2, "{st}");
}

/// A small push (30 records) with the id taken from `session_from` and sent `send_as`,
/// against a simulator that hands it out and wants it back that way: one login, no
/// refusal.
async fn carried(sim_lines: &str, session_from: &str, send_as: &str, form: bool) {
    let sim = sim(&format!("login_ms = 0\n{sim_lines}"), 0).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&sim.url(), 10, 2);
    cfg.auth.session.session_from = session_from.into();
    cfg.auth.session.send_as = send_as.into();
    if form {
        cfg.auth.session.login_body = supsync::config::LoginBody::Form;
        cfg.auth.session.username_field = "userName".into();
    }
    let (summary, token) = push(cfg, PASSWORD, dir.path(), 30).await;
    let st = stats(&sim);
    let what = format!("{session_from} → {send_as}: {summary:?} {token:?} {st}");
    assert_eq!(summary.state, RunState::Completed, "{what}");
    assert_eq!(stat(&st, "records_stored"), 30, "{what}");
    assert_eq!(stat(&st, "session_logins"), 1, "{what}");
    assert_eq!(stat(&st, "unauthorized"), 0, "{what}");
    assert_eq!(token.grant, Some(GrantKind::SessionLogin), "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_id_comes_from_body_header_or_cookie_and_goes_back_as_header_or_cookie() {
    carried(
        "id_in = \"header\"\ncarry = \"cookie\"",
        "header:X-Session-Id",
        "cookie:SESSIONID",
        false,
    )
    .await;
    carried(
        "id_in = \"cookie\"\ncarry = \"header\"\nheader_name = \"X-Auth-Token\"",
        "cookie:SESSIONID",
        "header:X-Auth-Token",
        false,
    )
    .await;
    carried(
        "id_in = \"body\"\ncarry = \"cookie\"\ncookie_name = \"JSESSIONID\"",
        "body:/sessionId",
        "cookie:JSESSIONID",
        true,
    )
    .await;
}

/// Two clients on one credential and one cache file (two processes would hold the lock the
/// same way: it is per open file): the login is made once; the second finds the live
/// session in the cache. When the server drops every session, both renew at once, and
/// still only one logs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_on_one_cache_never_log_in_at_the_same_time() {
    // A slow login (300 ms), so two logins at once would overlap and be counted.
    let sim = sim("idle_secs = 60\ncap_secs = 0\nlogin_ms = 300", 0).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&sim.url(), 10, 1);
    let cancel = CancellationToken::new();
    let connect = || {
        let cfg = cfg.clone();
        let opts = ConnectOptions {
            token_cache: Some(dir.path().join("token-cache")),
            audit_log: None,
        };
        let cancel = cancel.child_token();
        async move { ApiClient::connect(&cfg, Secret::new(PASSWORD), opts, cancel).await }
    };
    let (a, b) = tokio::join!(connect(), connect());
    let (a, b) = (a.unwrap(), b.unwrap());
    a.health().await.unwrap();
    b.health().await.unwrap();
    let st = stats(&sim);
    assert_eq!(stat(&st, "session_logins"), 1, "{st}");
    assert_eq!(stat(&st, "session_concurrent_logins_max"), 1, "{st}");
    let shared = |c: &Arc<ApiClient>| c.token_status().borrow().fingerprint.clone();
    assert_eq!(shared(&a), shared(&b), "one session, shared");

    sim.revoke_all();
    let (ra, rb) = tokio::join!(a.health(), b.health());
    ra.unwrap();
    rb.unwrap();
    let st = stats(&sim);
    assert_eq!(stat(&st, "session_logins"), 2, "{st}");
    assert_eq!(stat(&st, "session_concurrent_logins_max"), 1, "{st}");
    assert_eq!(stat(&st, "session_overlap_uses"), 0, "{st}");
    assert_eq!(shared(&a), shared(&b), "the new session, shared");
    cancel.cancel();
}

/// While no call is made, the keep-alive calls `auth.session.keepalive_path` inside the
/// idle window (3 s here, every second): the session outlives three windows without a
/// second login.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keep_alive_path_keeps_an_idle_session_alive() {
    let sim = sim("idle_secs = 3\ncap_secs = 0\nlogin_ms = 0", 0).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&sim.url(), 10, 1);
    cfg.auth.idle_timeout_secs = 3;
    cfg.auth.session.keepalive_path = "/api/v1/session/keepalive".into();
    let audit = dir.path().join("audit.jsonl");
    let cancel = CancellationToken::new();
    let opts = ConnectOptions {
        token_cache: None,
        audit_log: Some(audit.clone()),
    };
    let api = ApiClient::connect(&cfg, Secret::new(PASSWORD), opts, cancel.child_token())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    api.health().await.unwrap();
    let st = stats(&sim);
    let log = std::fs::read_to_string(&audit).unwrap();
    assert_eq!(stat(&st, "session_logins"), 1, "{st}\n{log}");
    assert!(stat(&st, "session_keepalives") >= 5, "{st}");
    assert_eq!(stat(&st, "unauthorized"), 0, "{st}");
    assert!(log.contains("session kept alive: call to"), "{log}");
    assert!(log.contains("session login as sync-bot"), "{log}");
    cancel.cancel();
}

/// A 423 (the server locked the user: here after one failed login) stops the run at once,
/// and no later run tries before the lock's end, even with the right password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_account_stops_at_once_and_is_not_tried_while_locked() {
    // A bare 401 (no words): not a definite refusal, so the budget allows another try.
    let sim = sim(
        "lockout_after = 1\nlockout_secs = 60\nlogin_ms = 0\nrefusal_text = \"\"",
        0,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&sim.url(), 10, 1);
    let (summary, _) = push(cfg.clone(), "wrong-pw", dir.path(), 10).await;
    let st = stats(&sim);
    assert_eq!(summary.state, RunState::Failed, "{summary:?}");
    assert!(summary.auth_failure, "exit 4: {summary:?}");
    let error = summary.error.clone().unwrap_or_default();
    assert!(
        error.contains("user sync-bot is locked (HTTP 423"),
        "{error}"
    );
    assert_eq!(stat(&st, "session_login_failures"), 1, "{st}");
    assert_eq!(stat(&st, "session_login_refused_locked"), 1, "{st}");
    let (summary, _) = push(cfg, PASSWORD, dir.path(), 10).await;
    assert!(summary.auth_failure, "{summary:?}");
    let error = summary.error.unwrap_or_default();
    assert!(error.contains("no login tried"), "{error}");
    assert_eq!(login_requests(&stats(&sim)), 2);
}

/// The last session is logged out at the end of a run, and forgotten by the cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_ends_with_a_logout_and_forgets_the_session() {
    let sim = sim("login_ms = 0", 0).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&sim.url(), 10, 1);
    cfg.auth.session.logout_path = "/api/v1/session/logout".into();
    let (summary, _) = push(cfg.clone(), PASSWORD, dir.path(), 20).await;
    assert_eq!(summary.state, RunState::Completed, "{summary:?}");
    let st = stats(&sim);
    assert_eq!(stat(&st, "session_logins"), 1, "{st}");
    assert_eq!(stat(&st, "session_logouts"), 1, "{st}");
    let cache = TokenCache::for_session(
        dir.path().join("token-cache"),
        &format!("session {}/api/v1/session/login {USER}", sim.url()),
    );
    assert!(cache.load().unwrap().is_none(), "the cache forgot it");
    let audit = std::fs::read_to_string(
        dir.path()
            .join("runs")
            .join(&summary.run_id)
            .join("token-audit.jsonl"),
    )
    .unwrap();
    assert!(
        audit.contains("session logged out at the end of the run (HTTP 204"),
        "{audit}"
    );
}

// ---- through the real binary ----

/// A session config file for the binary: encrypted token cache under the state dir (the
/// default), 1 s keep-alive, fast retries; `auth` and `session` lines added to their
/// sections.
fn write_config(dir: &Path, url: &str, auth: &str, session: &str) -> PathBuf {
    let p = dir.join("config.toml");
    std::fs::write(
        &p,
        format!(
            "[api]\nbase_url = \"{url}\"\ntimeout_secs = 5\n\
             [auth]\nkind = \"session\"\nkeepalive_secs = 1\nmin_token_interval_ms = 20\n{auth}\n\
             [auth.session]\nusername = \"{USER}\"\n{session}\n\
             [sync]\nsegment_size = 10\nconcurrency = 2\nmax_attempts = 10\n\
             backoff_initial_ms = 20\nbackoff_max_ms = 200\nmax_retry_after_secs = 1\n\
             retry_budget = 1000\n"
        ),
    )
    .unwrap();
    p
}

/// The binary with `--config`, `--state-dir <dir>/state` and the password in
/// `SUPSYNC_SESSION_PASSWORD`.
fn bin(dir: &Path, cfg: &Path, password: &str, args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_supsync"));
    c.arg("--config")
        .arg(cfg)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .args(args)
        .env("SUPSYNC_SESSION_PASSWORD", password)
        .env_remove("SUPSYNC_CLIENT_SECRET")
        .env_remove("RUST_LOG")
        .env_remove("SUPSYNC_CONFIG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    c
}

async fn output(mut c: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

const SPENT: &str = "login refused 3 times in a row for user sync-bot; no further login is \
                     tried with this password, so that no more refusals count towards locking \
                     the account (when the server locks it is not known). Fix the password, \
                     then run `supsync resume`.";

/// A wrong password answered by a bare 401: three refused logins (the server would lock at five), then the run
/// stops with exit 4 and says why. `resume` and a new `run` with the same password make no
/// login request at all; the fixed password logs in and the run completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_stops_after_three_logins_and_is_never_tried_again() {
    // A bare 401 says nothing definite, so it is tried again within the budget (a 401
    // that says the password is wrong is final at once: tests/session_single.rs).
    let sim = sim(
        "lockout_after = 5\nlockout_secs = 60\nlogin_ms = 0\nrefusal_text = \"\"",
        0,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = write_config(d, &sim.url(), "", "");
    let src = d.join("s.csv");
    write_csv(&src, 40, &[]);
    let run = [
        "run",
        "--headless",
        "--run-id",
        "wrong-pw",
        "--source",
        src.to_str().unwrap(),
    ];
    let o = output(bin(d, &cfg, "wrong-password", &run)).await;
    let all = text(&o);
    eprintln!("{all}");
    assert_eq!(o.status.code(), Some(4), "{all}");
    assert!(all.contains(SPENT), "{all}");
    assert!(!all.contains("wrong-password"), "{all}");
    let st = stats(&sim);
    assert_eq!(stat(&st, "session_login_failures"), 3, "{st}");
    assert_eq!(stat(&st, "session_lockouts"), 0, "{st}");

    for args in [
        &["resume", "wrong-pw", "--headless"][..],
        &run.map(|a| if a == "wrong-pw" { "wrong-pw-2" } else { a })[..],
    ] {
        let o = output(bin(d, &cfg, "wrong-password", args)).await;
        let all = text(&o);
        assert_eq!(o.status.code(), Some(4), "{args:?}: {all}");
        assert!(all.contains(SPENT), "{all}");
        assert_eq!(login_requests(&stats(&sim)), 3, "{args:?}: no login tried");
    }

    let o = output(bin(
        d,
        &cfg,
        PASSWORD,
        &["resume", "wrong-pw", "--headless"],
    ))
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let st = stats(&sim);
    assert_eq!(stat(&st, "session_logins"), 1, "{st}");
    assert_eq!(stat(&st, "records_stored"), 40, "{st}");
    // The fixed password cleared the count: the budget file is gone.
    let left: Vec<_> = std::fs::read_dir(d.join("state"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".logins"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Two processes started together on one credential: one logs in, the other waits for the
/// credential's lock and takes the live session from the cache. Both runs complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_login() {
    let sim = sim("idle_secs = 60\ncap_secs = 0\nlogin_ms = 300", 5).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = write_config(d, &sim.url(), "", "");
    let (a, b) = (d.join("a.csv"), d.join("b.csv"));
    write_csv(&a, 60, &[]);
    std::fs::write(
        &b,
        std::fs::read_to_string(&a)
            .unwrap()
            .replace("SUP-0000", "SUP-1000"),
    )
    .unwrap();
    let run = |src: &Path, id: &str| {
        bin(
            d,
            &cfg,
            PASSWORD,
            &[
                "run",
                "--headless",
                "--run-id",
                id,
                "--source",
                src.to_str().unwrap(),
            ],
        )
    };
    let (oa, ob) = tokio::join!(output(run(&a, "two-a")), output(run(&b, "two-b")));
    assert_eq!(oa.status.code(), Some(0), "{}", text(&oa));
    assert_eq!(ob.status.code(), Some(0), "{}", text(&ob));
    let st = stats(&sim);
    assert_eq!(stat(&st, "records_stored"), 120, "{st}");
    assert_eq!(stat(&st, "session_logins"), 1, "{st}");
    assert_eq!(stat(&st, "session_concurrent_logins_max"), 1, "{st}");
    assert_eq!(stat(&st, "session_overlap_uses"), 0, "{st}");
}

/// `kill -9` mid-run, then `resume`, three times: each resume takes the cached live session
/// (one login in all), and every record is stored exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_after_kill_9_reuses_the_live_session_and_stores_every_record_once() {
    let n = 300;
    let sim = sim("idle_secs = 15\ncap_secs = 0\nlogin_ms = 0", 20).await;
    let dir = tempfile::tempdir().unwrap();
    let d: PathBuf = dir.path().into();
    let cfg = write_config(&d, &sim.url(), "", "");
    let src = d.join("s.csv");
    write_csv(&src, n, &[]);
    let journal = d.join("state/runs/crash-session/journal.jsonl");
    let done = move || {
        std::fs::read_to_string(&journal)
            .map(|j| j.matches("\"done\"").count())
            .unwrap_or(0)
    };
    let first = [
        "run",
        "--headless",
        "--run-id",
        "crash-session",
        "--source",
        src.to_str().unwrap(),
    ];
    let mut child = bin(&d, &cfg, PASSWORD, &first).spawn().unwrap();
    for kill in 0..3 {
        // Some segments done since the last start: the session is in use, and cached.
        let before = done();
        let t = Instant::now();
        while done() < before + 2 {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "no progress before kill {kill}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before kill {kill}"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        child = bin(
            &d,
            &cfg,
            PASSWORD,
            &["resume", "crash-session", "--headless"],
        )
        .spawn()
        .unwrap();
    }
    let o = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let st = stats(&sim);
    eprintln!("{st}");
    assert_eq!(
        stat(&st, "session_logins"),
        1,
        "one login for four processes: {st}"
    );
    assert_eq!(stat(&st, "records_created"), n, "{st}");
    assert_eq!(stat(&st, "records_total"), n, "{st}");
    assert_eq!(
        stat(&st, "records_updated"),
        0,
        "nothing applied twice: {st}"
    );
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// The canary: a wrong password, then a push crossing several session renewals, `status`,
/// `config`, and a run that logs out, all with debug logging. Neither password nor any
/// session id the server handed out is in any output or in any file they left (journal,
/// manifest, audit log, logs, login budget, the token cache, which is encrypted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_or_session_id_leaks_anywhere() {
    const WRONG: &str = "wrong-canary-0d4f1a";
    let sim = sim("idle_secs = 15\ncap_secs = 2\nlogin_ms = 0", 20).await;
    let (url, seen) = common::relay::relay(&sim.url(), common::relay::Keep::ServerSent).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = write_config(d, &url, "session_limit_secs = 2", "");
    let src = d.join("s.csv");
    write_csv(&src, 200, &[]);
    let src = src.display().to_string();
    let push = |id: &str| -> Vec<String> {
        ["-vv", "run", "--headless", "--run-id", id, "--source", &src]
            .map(String::from)
            .to_vec()
    };
    let other = d.join("with-logout");
    std::fs::create_dir(&other).unwrap();
    let logout = write_config(&other, &url, "", "logout_path = \"/api/v1/session/logout\"");
    // The wrong password in a state dir of its own (under the searched one): its login
    // budget file stays, and the cached session of the others is not in its way.
    let wrong_dir = d.join("wrong");
    let steps: Vec<(&Path, &Path, &str, Vec<String>, i32)> = vec![
        (d, &logout, PASSWORD, push("canary-logout"), 0),
        (d, &cfg, PASSWORD, push("canary-push"), 0),
        (
            d,
            &cfg,
            PASSWORD,
            ["status", "canary-push", "--json"]
                .map(String::from)
                .to_vec(),
            0,
        ),
        (d, &cfg, PASSWORD, vec!["config".into()], 0),
        (&wrong_dir, &cfg, WRONG, push("canary-wrong"), 4),
    ];
    let mut outputs = Vec::new();
    for (state, config, password, args, code) in steps {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o =
            tokio::task::block_in_place(|| bin(state, config, password, &args).output().unwrap());
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", text(&o));
        outputs.push(o);
    }
    let st = stats(&sim);
    assert!(stat(&st, "session_logins") >= 3, "renewals happened: {st}");
    assert_eq!(stat(&st, "session_logouts"), 1, "{st}");

    let bytes = seen.lock().unwrap().clone();
    let server = String::from_utf8_lossy(&bytes);
    let mut ids: Vec<String> = server
        .match_indices("\"sessionId\":\"")
        .filter_map(|(i, k)| {
            let rest = &server[i + k.len()..];
            rest.find('"').map(|end| rest[..end].to_string())
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert!(
        ids.len() >= 3 && ids.iter().all(|i| i.len() >= 16),
        "{ids:?}"
    );
    // The cache holds the push's last session (so searching it is not vacuous).
    let cache = TokenCache::for_session(
        d.join("state/token-cache"),
        &format!("session {url}/api/v1/session/login {USER}"),
    );
    let cached = cache.load().unwrap().and_then(|e| e.access).unwrap();
    assert!(ids.contains(&cached.token.expose().to_string()));
    let mut needles: Vec<String> = vec![PASSWORD.into(), WRONG.into()];
    needles.extend(ids);
    let mut files = Vec::new();
    files_under(d, &mut files);
    let mut haystacks: Vec<(String, Vec<u8>)> = files
        .iter()
        .filter(|f| !f.ends_with("s.csv"))
        .map(|f| (f.display().to_string(), std::fs::read(f).unwrap()))
        .collect();
    for (i, o) in outputs.iter().enumerate() {
        haystacks.push((format!("stdout of command {i}"), o.stdout.clone()));
        haystacks.push((format!("stderr of command {i}"), o.stderr.clone()));
    }
    let names: Vec<&str> = haystacks.iter().map(|(n, _)| n.as_str()).collect();
    for want in [
        "token-cache",
        ".logins",
        "token-audit.jsonl",
        "journal.jsonl",
    ] {
        assert!(
            names.iter().any(|n| n.contains(want)),
            "no {want} among {names:?}"
        );
    }
    for (name, hay) in &haystacks {
        let hay = String::from_utf8_lossy(hay);
        for needle in &needles {
            assert!(!hay.contains(needle.as_str()), "{name} holds a secret");
        }
    }
    // The debug log said something about the sessions (the search was not vacuous).
    let stderr = String::from_utf8_lossy(&outputs[1].stderr);
    assert!(stderr.contains("session renewed"), "{stderr}");
}

/// A server that says "session dead" with a 403 (`auth.expired_when`): one renewal (a new
/// login) and one replay, and the log says what happened in the console's words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_session_answered_403_is_renewed_by_a_login_and_replayed() {
    let p = Profile::from_toml(&format!(
        "[tokens]\nexpiry_signal = \"403\"\n[api]\nper_record_ms = 0\n\
         [session]\nenabled = true\nlogin_ms = 0\nusers = {{ {USER} = \"{PASSWORD}\" }}\n"
    ))
    .unwrap();
    let sim = SimServer::start(p, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&sim.url(), 10, 1);
    cfg.auth.expired_when = vec!["403 /error = token_expired".into()];
    let audit = dir.path().join("audit.jsonl");
    let cancel = CancellationToken::new();
    let opts = ConnectOptions {
        token_cache: None,
        audit_log: Some(audit.clone()),
    };
    let api = ApiClient::connect(&cfg, Secret::new(PASSWORD), opts, cancel.child_token())
        .await
        .unwrap();
    api.health().await.unwrap();
    sim.revoke_all();
    api.health().await.unwrap();
    let st = stats(&sim);
    assert_eq!(stat(&st, "session_logins"), 2, "{st}");
    assert_eq!(stat(&st, "api_token_dead"), 1, "{st}");
    let token = api.token_status().borrow().clone();
    assert_eq!(token.expired_seen.status_403, 1, "{token:?}");
    let log = std::fs::read_to_string(&audit).unwrap();
    for want in [
        "expired answer (403) from the API: 403: Session revoked",
        "session renewed (after an expired answer (403)): a new session login as sync-bot",
    ] {
        assert!(log.contains(want), "{want:?} not in {log}");
    }
    cancel.cancel();
}
