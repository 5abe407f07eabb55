//! `auth.kind = "token_login"` against the simulator's Directus-shaped token login
//! (docs/API.md §8) through the real binary: a push across several short token deaths with
//! one login and refreshes after it (lifetime stated, or learned when nothing states it),
//! the pull back, two processes sharing one refresh-token chain without presenting a
//! rotated token twice, and a `kill -9` + resume.
//!
//! Token lifetimes are whole seconds (3 s); every count comes from `/_sim/stats`.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{HEADER, pulled_ids, row, stat, text};
use supsync::sim::{Profile, SimServer};

const USER: &str = "sync-bot@example.com";
/// Recognisable, so a leak would be found.
const PASSWORD: &str = "pw-canary-7d3a91";

/// A Directus-like simulator: 3 s access tokens, no idle window or session cap, refresh
/// tokens always issued, rotated, reuse detected; `extra` lines added to `[token_login]`
/// and `quirks` as the token quirks; `header`: resource answers carry `X-Token-Expires-In`.
async fn sim(extra: &str, quirks: &str, per_record_ms: u64, header: bool) -> SimServer {
    let p = Profile::from_toml(&format!(
        "[tokens]\ndefault_ttl_secs = 3\nscope_ttl_secs = {{}}\nidle_timeout_secs = 0\n\
         absolute_timeout_secs = 0\nrefresh_ttl_secs = 600\nissue_refresh_token = \"always\"\n\
         rotate_refresh_tokens = true\nreuse_detection = true\ntoken_quirks = [{quirks}]\n\
         [api]\nexpiry_header = {header}\nper_record_ms = {per_record_ms}\nmax_concurrent = 0\nrate_limit_per_sec = 0\n\
         [faults]\nerror_rate = 0.0\ndrop_rate = 0.0\n[data]\nsuppliers = 0\n\
         [token_login]\nenabled = true\nusers = {{ \"{USER}\" = \"{PASSWORD}\" }}\n{extra}\n"
    ))
    .expect("test profile parses");
    SimServer::start(p, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts")
}

/// The README's Directus config: nothing but the user (the defaults are Directus's
/// paths, fields and pointers; no hand-set lifetime), an encrypted token cache.
fn write_config(dir: &Path, url: &str, concurrency: usize) -> PathBuf {
    let p = dir.join("config.toml");
    std::fs::write(
        &p,
        format!(
            "[api]\nbase_url = \"{url}\"\ntimeout_secs = 5\n\
             [auth]\nkind = \"token_login\"\nkeepalive_secs = 1\nmin_token_interval_ms = 20\n\
             [auth.token_login]\nusername = \"{USER}\"\n\
             [sync]\nsegment_size = 10\nconcurrency = {concurrency}\nmax_attempts = 10\n\
             backoff_initial_ms = 20\nbackoff_max_ms = 200\nmax_retry_after_secs = 1\n"
        ),
    )
    .unwrap();
    p
}

/// The binary with the password in `SUPSYNC_TOKEN_LOGIN_PASSWORD`.
fn bin(dir: &Path, cfg: &Path, args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_supsync"));
    c.arg("--config")
        .arg(cfg)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .args(args)
        .env("SUPSYNC_TOKEN_LOGIN_PASSWORD", PASSWORD)
        .env_remove("SUPSYNC_CLIENT_SECRET")
        .env_remove("SUPSYNC_SESSION_PASSWORD")
        .env_remove("RUST_LOG")
        .env_remove("SUPSYNC_CONFIG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    c
}

async fn output(c: &mut std::process::Command) -> std::process::Output {
    let mut c = std::mem::replace(c, std::process::Command::new("true"));
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

/// `n` valid suppliers from number `first` on, as CSV.
fn write_csv(path: &Path, first: u64, n: u64) {
    let rows: Vec<String> = (first..first + n).map(row).collect();
    std::fs::write(path, format!("{HEADER}\n{}\n", rows.join("\n"))).unwrap();
}

/// Pushes `n` records from number `first` on as run `id`; asserts exit 0.
async fn push(d: &Path, cfg: &Path, first: u64, n: u64, id: &str) -> std::process::Output {
    let src = d.join(format!("{id}.csv"));
    write_csv(&src, first, n);
    let o = output(&mut bin(
        d,
        cfg,
        &[
            "run",
            "--headless",
            "--run-id",
            id,
            "--source",
            src.to_str().unwrap(),
        ],
    ))
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    o
}

/// The acceptance run: 300 records across several 3 s token deaths with the lifetime in
/// the answer (`expires` in ms): one login, refreshes after it, no expired answer, every
/// record created; then pulled back by a second process, which continues the cached chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stated_lifetime_gives_one_login_refreshes_and_no_expired_answer() {
    let sim = sim("", "", 50, true).await;
    let dir = tempfile::tempdir().unwrap();
    let d: PathBuf = dir.path().into();
    let cfg = write_config(&d, &sim.url(), 2);
    let started = Instant::now();
    let o = push(&d, &cfg, 0, 300, "push").await;
    let st = sim.stats();
    eprintln!("{:?} {st}", started.elapsed());
    assert!(
        started.elapsed() > Duration::from_secs(6),
        "the push must outlive two token lifetimes"
    );
    assert_eq!(stat(&st, "token_logins"), 1, "{st}");
    assert!(stat(&st, "refreshes") >= 2, "{st}");
    assert_eq!(stat(&st, "api_token_dead"), 0, "{st}");
    assert_eq!(stat(&st, "api_unauthorized"), 0, "{st}");
    assert_eq!(stat(&st, "refresh_reuse"), 0, "{st}");
    assert_eq!(stat(&st, "invalid_grant"), 0, "{st}");
    assert_eq!(stat(&st, "records_created"), 300, "{st}");
    let all = text(&o);
    assert!(!all.contains(PASSWORD), "{all}");
    // supsync counts them created too, not merely sent.
    assert!(
        all.contains("300 created") || all.contains("created 300"),
        "{all}"
    );

    let out = d.join("pulled.jsonl");
    let o = output(&mut bin(
        &d,
        &cfg,
        &[
            "run",
            "--headless",
            "--run-id",
            "pull",
            "--pull",
            out.to_str().unwrap(),
        ],
    ))
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let ids = pulled_ids(&out);
    assert_eq!(ids.len(), 300);
    let st = sim.stats();
    assert_eq!(
        stat(&st, "token_logins"),
        1,
        "the pull continues the cached chain: {st}"
    );
    assert_eq!(stat(&st, "refresh_reuse"), 0, "{st}");
    assert_eq!(stat(&st, "api_token_dead"), 0, "{st}");
}

/// Nothing states the lifetime (no `expires`, an opaque token, no `X-Token-Expires-In`):
/// the first token is used
/// until refused, and its age is learned, so at most one expired answer in the whole run
/// (one request at a time, so one request meets the dead token).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unstated_lifetime_is_learned_from_the_first_expired_answer() {
    let sim = sim(
        "lifetime_in = \"none\"",
        "\"opaque_no_expires_in\"",
        25,
        false,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let d: PathBuf = dir.path().into();
    let cfg = write_config(&d, &sim.url(), 1);
    let started = Instant::now();
    let o = push(&d, &cfg, 0, 300, "learn").await;
    let st = sim.stats();
    eprintln!("{:?} {st}", started.elapsed());
    assert!(
        started.elapsed() > Duration::from_secs(7),
        "the push must outlive two token lifetimes"
    );
    assert_eq!(stat(&st, "token_logins"), 1, "{st}");
    assert!(stat(&st, "refreshes") >= 2, "{st}");
    assert!(stat(&st, "api_token_dead") <= 1, "{st}");
    assert_eq!(stat(&st, "refresh_reuse"), 0, "{st}");
    assert_eq!(stat(&st, "records_created"), 300, "{st}");
    let log = std::fs::read_to_string(d.join("state/runs/learn/token-audit.jsonl")).unwrap();
    assert!(
        log.contains("so later tokens are renewed ahead of that"),
        "{log}\n{}",
        text(&o)
    );
    // The 401's JSON body is its description, not "no description from the server".
    assert!(log.contains("401 from the API: Token expired."), "{log}");
}

/// Two processes on one credential (one state dir, so one token cache and lock) push at
/// the same time across several refreshes: the rotated refresh token is never presented
/// twice (no reuse detected, no refused refresh), and every record arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_rotating_chain_without_reuse() {
    let sim = sim("", "", 50, true).await;
    let dir = tempfile::tempdir().unwrap();
    let d: PathBuf = dir.path().into();
    let cfg = write_config(&d, &sim.url(), 1);
    let (a, b) = tokio::join!(
        push(&d, &cfg, 0, 150, "one"),
        push(&d, &cfg, 150, 150, "two")
    );
    let st = sim.stats();
    eprintln!("{st}");
    assert!(stat(&st, "refreshes") >= 2, "{st}");
    assert_eq!(
        stat(&st, "refresh_reuse"),
        0,
        "{st}\n{}\n{}",
        text(&a),
        text(&b)
    );
    assert_eq!(stat(&st, "invalid_grant"), 0, "{st}");
    assert!(stat(&st, "token_logins") <= 2, "{st}");
    assert_eq!(stat(&st, "records_created"), 300, "{st}");
}

/// `kill -9` mid-run, then `resume`: the resume continues the cached chain (no second
/// login) and every record is stored exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_after_kill_9_continues_the_chain_and_stores_every_record_once() {
    let n = 300;
    let sim = sim("", "", 20, true).await;
    let dir = tempfile::tempdir().unwrap();
    let d: PathBuf = dir.path().into();
    let cfg = write_config(&d, &sim.url(), 2);
    let src = d.join("s.csv");
    write_csv(&src, 0, n);
    let journal = d.join("state/runs/crash/journal.jsonl");
    let done = || {
        std::fs::read_to_string(&journal)
            .map(|j| j.matches("\"done\"").count())
            .unwrap_or(0)
    };
    let args = [
        "run",
        "--headless",
        "--run-id",
        "crash",
        "--source",
        src.to_str().unwrap(),
    ];
    let mut child = bin(&d, &cfg, &args).spawn().unwrap();
    let t = Instant::now();
    while done() < 3 {
        assert!(t.elapsed() < Duration::from_secs(30), "no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "finished before the kill"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let o = output(&mut bin(&d, &cfg, &["resume", "crash", "--headless"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let st = sim.stats();
    eprintln!("{st}");
    assert_eq!(
        stat(&st, "token_logins"),
        1,
        "one login for two processes: {st}"
    );
    assert_eq!(stat(&st, "refresh_reuse"), 0, "{st}");
    assert_eq!(stat(&st, "records_created"), n, "{st}");
    assert_eq!(
        stat(&st, "records_updated"),
        0,
        "nothing applied twice: {st}"
    );
}

/// The sample Directus profile and config load, and the config fits the profile: a push
/// through the binary with the config's keys (only the URL and state moved) logs in once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_directus_profile_and_config_work_together() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let mut profile =
        Profile::load(root.join("sim-directus.toml").to_str().unwrap()).expect("profile loads");
    profile.api.per_record_ms = 5;
    let users = &profile.token_login.users;
    let password = users["sync-bot@example.com"].clone();
    let sim = SimServer::start(profile, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d: PathBuf = dir.path().into();
    let body = std::fs::read_to_string(root.join("api-directus.toml"))
        .unwrap()
        .replace("http://127.0.0.1:8080", &sim.url());
    let cfg = d.join("config.toml");
    std::fs::write(&cfg, body).unwrap();
    let src = d.join("s.csv");
    write_csv(&src, 0, 20);
    let o = output(
        bin(
            &d,
            &cfg,
            &["run", "--headless", "--source", src.to_str().unwrap()],
        )
        .env("SUPSYNC_TOKEN_LOGIN_PASSWORD", &password),
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let st = sim.stats();
    assert_eq!(stat(&st, "token_logins"), 1, "{st}");
    assert_eq!(stat(&st, "token_logouts"), 1, "{st}");
    assert_eq!(stat(&st, "records_stored"), 20, "{st}");
}

/// No lifetime in the answer, but a JWT access token: its `exp` plans the renewals, so no
/// expired answer at all (no `X-Token-Expires-In` either, so nothing else could tell).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwt_exp_stands_in_for_a_lifetime_the_answer_does_not_state() {
    let sim = sim("lifetime_in = \"none\"", "", 25, false).await;
    let dir = tempfile::tempdir().unwrap();
    let d: PathBuf = dir.path().into();
    let cfg = write_config(&d, &sim.url(), 2);
    let started = Instant::now();
    push(&d, &cfg, 0, 300, "jwt").await;
    let st = sim.stats();
    eprintln!("{:?} {st}", started.elapsed());
    assert_eq!(stat(&st, "token_logins"), 1, "{st}");
    assert!(stat(&st, "refreshes") >= 1, "{st}");
    assert_eq!(stat(&st, "api_token_dead"), 0, "{st}");
    assert_eq!(stat(&st, "records_created"), 300, "{st}");
    let log = std::fs::read_to_string(d.join("state/runs/jwt/token-audit.jsonl")).unwrap();
    assert!(log.contains("from JWT exp"), "{log}");
}

/// A wrong password: the server's "Invalid user credentials" is a definite refusal, so the
/// run stops with exit 4 after that one login (no second try that could count towards a
/// lock), and the password is in no output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_stops_within_the_login_budget() {
    let sim = sim("", "", 1, true).await;
    let dir = tempfile::tempdir().unwrap();
    let d: PathBuf = dir.path().into();
    let cfg = write_config(&d, &sim.url(), 1);
    let src = d.join("s.csv");
    write_csv(&src, 0, 5);
    let wrong = "wrong-pw-canary-41f0";
    let o = output(
        bin(
            &d,
            &cfg,
            &["run", "--headless", "--source", src.to_str().unwrap()],
        )
        .env("SUPSYNC_TOKEN_LOGIN_PASSWORD", wrong),
    )
    .await;
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    let all = text(&o);
    assert!(!all.contains(wrong), "{all}");
    assert!(all.contains("login refused"), "{all}");
    // The advice names the token login's keys, not a session's.
    assert!(all.contains("auth.token_login.username"), "{all}");
    assert!(!all.contains("auth.session"), "{all}");
    let st = sim.stats();
    assert_eq!(stat(&st, "token_logins"), 0, "{st}");
    assert_eq!(stat(&st, "token_login_failures"), 1, "{st}");
}

/// Nothing states the lifetime, but `auth.token_login.lifetime_secs` (the line `diagnose`
/// names) does: renewals are planned from the first token on, so no expired answer at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_set_lifetime_plans_renewals_when_nothing_states_one() {
    let sim = sim(
        "lifetime_in = \"none\"",
        "\"opaque_no_expires_in\"",
        50,
        false,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let d: PathBuf = dir.path().into();
    let cfg = write_config(&d, &sim.url(), 2);
    let body = std::fs::read_to_string(&cfg).unwrap().replace(
        "[auth.token_login]\n",
        "[auth.token_login]\nlifetime_secs = 3\n",
    );
    std::fs::write(&cfg, body).unwrap();
    let started = Instant::now();
    push(&d, &cfg, 0, 300, "hint").await;
    let st = sim.stats();
    assert!(
        started.elapsed() > Duration::from_secs(6),
        "the push must outlive two token lifetimes"
    );
    assert_eq!(stat(&st, "token_logins"), 1, "{st}");
    assert!(stat(&st, "refreshes") >= 2, "{st}");
    assert_eq!(stat(&st, "api_token_dead"), 0, "{st}");
    assert_eq!(stat(&st, "records_created"), 300, "{st}");
}
