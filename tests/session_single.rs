//! Session logins against servers that keep one session per user, want a PUT logout and
//! extra login fields, lock after a few failed logins, and page as `offset_limit` with
//! their own page size: through the real binary, counted at the simulator (`/_sim/stats`)
//! or on the wire (a relay that keeps every byte the client sent).
//!
//! Clocks are whole seconds (a 2 s cap). The single-session run is the 60 s run with a
//! 12 s cap scaled down six times; its calls take 0.4 s, five times less than the cap.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::{stat, text, write_csv};
use supsync::sim::{Profile, SimServer};

const USER: &str = "sync-bot";
const PASSWORD: &str = "pw-canary-31f0a2";
const LOGOUT: &str = "/api/v1/session/logout";
const DENIED: &str = "the server says the user name or password is wrong, so supsync tries no \
                      further login with this password";

/// A simulator with sessions on (`session` lines added to `[session]`), no faults, no
/// call limits, `suppliers` records stored, `per_record_ms` of work per record.
async fn sim(session: &str, per_record_ms: u64, suppliers: u64) -> SimServer {
    sim_api(session, per_record_ms, suppliers, "").await
}

/// [`sim`] with `api` lines added to `[api]`.
async fn sim_api(session: &str, per_record_ms: u64, suppliers: u64, api: &str) -> SimServer {
    let p = Profile::from_toml(&format!(
        "[api]\nper_record_ms = {per_record_ms}\nmax_concurrent = 0\nrate_limit_per_sec = 0\n{api}\n\
         [faults]\nerror_rate = 0.0\ndrop_rate = 0.0\n[data]\nsuppliers = {suppliers}\n\
         [session]\nenabled = true\nusers = {{ {USER} = \"{PASSWORD}\" }}\nlogin_ms = 0\n\
         {session}\n"
    ))
    .expect("test profile parses");
    SimServer::start(p, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts")
}

/// A session config file: `api`, `auth` and `session` lines added to their sections.
fn write_config(dir: &Path, url: &str, api: &str, auth: &str, session: &str) -> PathBuf {
    let p = dir.join("config.toml");
    std::fs::write(
        &p,
        format!(
            "[api]\nbase_url = \"{url}\"\ntimeout_secs = 5\n{api}\n\
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

/// The binary with `--config`, `--state-dir <dir>/state`, the password in the environment.
async fn supsync(dir: &Path, cfg: &Path, password: &str, args: &[&str]) -> std::process::Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_supsync"));
    c.arg("--config")
        .arg(cfg)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .args(args)
        .env("SUPSYNC_SESSION_PASSWORD", password)
        .env("TEST_WORKSPACE_ID", "ws-7")
        .env_remove("SUPSYNC_CLIENT_SECRET")
        .env_remove("RUST_LOG")
        .env_remove("SUPSYNC_CONFIG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

fn login_requests(st: &serde_json::Value) -> u64 {
    stat(st, "session_logins")
        + stat(st, "session_login_failures")
        + stat(st, "session_login_refused_locked")
}

fn audit(dir: &Path, run_id: &str) -> String {
    std::fs::read_to_string(dir.join(format!("state/runs/{run_id}/token-audit.jsonl")))
        .unwrap_or_default()
}

fn sent(seen: &Arc<Mutex<Vec<u8>>>) -> String {
    String::from_utf8_lossy(&seen.lock().unwrap()).into_owned()
}

/// The 60 s run against a one-session server with a 12 s cap, six times faster: 600
/// records over about 12 s against a 2 s cap. Every renewal drains the calls in flight,
/// logs the old session out and only then logs in: no session is cancelled by a newer
/// login, no call is refused, and the refresh log says what each renewal did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_session_server_is_renewed_without_cancelling_a_session() {
    let sim = sim(
        "idle_secs = 30\ncap_secs = 2\nsingle_session = true\nlockout_after = 5",
        40,
        0,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = write_config(
        d,
        &sim.url(),
        "",
        "session_limit_secs = 2",
        &format!("single = true\nlogout_path = \"{LOGOUT}\""),
    );
    let src = d.join("s.csv");
    write_csv(&src, 600, &[]);
    let o = supsync(
        d,
        &cfg,
        PASSWORD,
        &[
            "run",
            "--headless",
            "--run-id",
            "single",
            "--source",
            src.to_str().unwrap(),
        ],
    )
    .await;
    let st = sim.stats();
    let log = audit(d, "single");
    eprintln!("{}\n{st}", text(&o));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(stat(&st, "records_stored"), 600, "{st}");
    assert!(stat(&st, "session_logins") >= 5, "4+ renewals: {st}");
    assert_eq!(stat(&st, "sessions_ended_by_newer_login"), 0, "{st}");
    assert_eq!(stat(&st, "session_overlap_uses"), 0, "{st}");
    assert_eq!(stat(&st, "api_unauthorized"), 0, "no call refused: {st}");
    assert_eq!(stat(&st, "api_token_dead"), 0, "no call refused: {st}");
    // A logout before every renewal's login, and one at the end.
    assert_eq!(
        stat(&st, "session_logouts"),
        stat(&st, "session_logins"),
        "{st}"
    );
    let renewed = log
        .matches("session renewed (single session: drained ")
        .count() as u64;
    assert_eq!(renewed, stat(&st, "session_logins") - 1, "{log}");
    assert!(log.contains(" call"), "{log}");
    assert_eq!(
        log.matches(", logged out, logged in) ").count() as u64,
        renewed,
        "{log}"
    );
    assert!(!log.contains(PASSWORD), "{log}");
}

/// Without `single`: another login of the same user mid-run (a person in the web UI, say)
/// ends the run's session, and the next call is refused "Session ended by a newer login".
/// The run learns that the server keeps one session per user, and every later renewal
/// drains, logs out and logs in: after the two sessions the intruder's login cost (the
/// run's, then the intruder's own at the run's next login), none is cancelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_naming_another_login_is_learned_for_the_rest_of_the_run() {
    // No X-Token-Expires-In: the refusal is how the run learns its session was ended.
    let sim = sim_api(
        "idle_secs = 30\ncap_secs = 6\nsingle_session = true\nlockout_after = 5",
        40,
        0,
        "expiry_header = false",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let cfg = write_config(
        &d,
        &sim.url(),
        "",
        "session_limit_secs = 6",
        &format!("logout_path = \"{LOGOUT}\""),
    );
    let src = d.join("s.csv");
    write_csv(&src, 600, &[]);
    let args = [
        "run",
        "--headless",
        "--run-id",
        "learned",
        "--source",
        src.to_str().unwrap(),
    ];
    let run = supsync(&d, &cfg, PASSWORD, &args);
    let intruder = async {
        let t = std::time::Instant::now();
        while stat(&sim.stats(), "records_stored") < 60 {
            assert!(
                t.elapsed() < std::time::Duration::from_secs(60),
                "no progress"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let resp = reqwest::Client::new()
            .post(format!("{}/api/v1/session/login", sim.url()))
            .form(&[("username", USER), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{resp:?}");
    };
    let (o, ()) = tokio::join!(run, intruder);
    let st = sim.stats();
    let log = audit(&d, "learned");
    eprintln!("{}\n{st}\n{log}", text(&o));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(stat(&st, "records_stored"), 600, "{st}");
    assert!(log.contains("it keeps one session per user"), "{log}");
    let after = log
        .split("it keeps one session per user")
        .nth(1)
        .unwrap_or_default();
    assert!(
        after.contains("session renewed (single session: drained "),
        "{log}"
    );
    assert!(stat(&st, "sessions_ended_by_newer_login") <= 2, "{st}");
}

/// A PUT logout, a login field from the environment: both reach the server, which wants
/// the field (400 without it) and ends the session at the PUT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_logout_and_login_fields_reach_the_server() {
    let sim = sim(
        "idle_secs = 30\ncap_secs = 0\nlogin_fields = { workspaceId = \"ws-7\" }",
        0,
        0,
    )
    .await;
    let (url, seen) = common::relay::relay(&sim.url(), common::relay::Keep::ClientSent).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let session = format!(
        "logout_path = \"{LOGOUT}\"\nlogout_method = \"PUT\"\n\
         login_fields = {{ workspaceId = {{ env = \"TEST_WORKSPACE_ID\" }} }}"
    );
    let cfg = write_config(d, &url, "", "", &session);
    let src = d.join("s.csv");
    write_csv(&src, 20, &[]);
    let run = [
        "run",
        "--headless",
        "--run-id",
        "put",
        "--source",
        src.to_str().unwrap(),
    ];
    let o = supsync(d, &cfg, PASSWORD, &run).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let st = sim.stats();
    assert_eq!(stat(&st, "session_logins"), 1, "{st}");
    assert_eq!(stat(&st, "session_logouts"), 1, "{st}");
    let wire = sent(&seen);
    assert!(wire.contains(&format!("PUT {LOGOUT} HTTP/1.1")), "{wire}");
    assert!(!wire.contains(&format!("POST {LOGOUT}")), "{wire}");
    assert!(wire.contains("\"workspaceId\":\"ws-7\""), "{wire}");
    assert!(
        audit(d, "put").contains("session logged out at the end of the run (HTTP 204"),
        "{}",
        audit(d, "put")
    );

    // Without the field the server refuses the login (400): nothing is stored.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = write_config(d, &sim.url(), "", "", "");
    let o = supsync(d, &cfg, PASSWORD, &run).await;
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(stat(&sim.stats(), "session_logins"), 1);
}

/// A wrong password against a server that locks after 3 failed logins and says so in its
/// 401 ("wrong user name or password"): `run` makes exactly one login and stops (exit 4)
/// without claiming to know when the server would lock; `resume` and a new `run` with the
/// same password make none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_tried_once_by_run_and_never_again() {
    let sim = sim("idle_secs = 30\nlockout_after = 3\nlockout_secs = 60", 0, 0).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = write_config(d, &sim.url(), "", "", "");
    let src = d.join("s.csv");
    write_csv(&src, 20, &[]);
    let run = [
        "run",
        "--headless",
        "--run-id",
        "wrong",
        "--source",
        src.to_str().unwrap(),
    ];
    let o = supsync(d, &cfg, "wrong-password", &run).await;
    let all = text(&o);
    assert_eq!(o.status.code(), Some(4), "{all}");
    assert!(all.contains(DENIED), "{all}");
    assert!(!all.contains("before the server locks"), "{all}");
    assert!(!all.contains("wrong-password"), "{all}");
    let st = sim.stats();
    assert_eq!(login_requests(&st), 1, "{st}");
    assert_eq!(stat(&st, "session_lockouts"), 0, "{st}");
    let again = run.map(|a| if a == "wrong" { "wrong-2" } else { a });
    for args in [&["resume", "wrong", "--headless"][..], &again[..]] {
        let o = supsync(d, &cfg, "wrong-password", args).await;
        assert_eq!(o.status.code(), Some(4), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(DENIED), "{}", text(&o));
        assert_eq!(login_requests(&sim.stats()), 1, "{args:?} tried a login");
    }
}

/// The same server and password in `diagnose`: one login, exit 4, no claim about the
/// lock; a second diagnose makes none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_tried_once_by_diagnose() {
    let sim = sim("idle_secs = 30\nlockout_after = 3\nlockout_secs = 60", 0, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = write_config(
        d,
        &sim.url(),
        "",
        "",
        &format!("logout_path = \"{LOGOUT}\""),
    );
    for n in 0..2 {
        let o = supsync(d, &cfg, "wrong-password", &["diagnose"]).await;
        let all = text(&o);
        assert_eq!(o.status.code(), Some(4), "diagnose {n}: {all}");
        assert!(all.contains(DENIED), "{all}");
        assert!(!all.contains("before the server locks"), "{all}");
        let st = sim.stats();
        assert_eq!(login_requests(&st), 1, "diagnose {n}: {st}");
        assert_eq!(stat(&st, "session_lockouts"), 0, "{st}");
    }
}

/// `api.page_size = 7` with the contract's `offset_limit` paging and 20-record segments:
/// every page asked for is 7 records at most, and every record is pulled once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_size_is_honoured_with_offset_limit() {
    let sim = sim("idle_secs = 30\ncap_secs = 0", 0, 45).await;
    let (url, seen) = common::relay::relay(&sim.url(), common::relay::Keep::ClientSent).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = write_config(d, &url, "page_size = 7", "", "");
    let out = d.join("pulled.jsonl");
    let o = supsync(
        d,
        &cfg,
        PASSWORD,
        &["run", "--headless", "--pull", out.to_str().unwrap()],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mut ids = common::pulled_ids(&out);
    assert_eq!(ids.len(), 45, "{ids:?}");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 45);
    let wire = sent(&seen);
    let limits: Vec<u64> = wire
        .lines()
        .filter(|l| l.starts_with("GET ") && l.contains("limit="))
        .filter_map(|l| {
            let at = l.find("limit=")? + "limit=".len();
            l[at..]
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert!(!limits.is_empty(), "{wire}");
    assert!(limits.iter().all(|l| *l <= 7), "{limits:?}");
    assert!(limits.contains(&7), "{limits:?}");
}

/// `keepalive_method = "POST"`: the keep-alive calls its path with that method (the
/// simulator takes GET and POST alike, so the wire tells which one was sent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keep_alive_uses_its_configured_method() {
    use supsync::api::{ApiClient, ConnectOptions};
    let sim = sim("idle_secs = 30\ncap_secs = 0", 0, 0).await;
    let (url, seen) = common::relay::relay(&sim.url(), common::relay::Keep::ClientSent).await;
    let mut cfg = supsync::config::Config::default();
    cfg.auth.kind = supsync::config::AuthKind::Session;
    cfg.api.base_url = url;
    cfg.auth.session.keepalive_path = "/api/v1/session/keepalive".into();
    cfg.auth.session.keepalive_method = supsync::config::CallMethod::Post;
    let cancel = tokio_util::sync::CancellationToken::new();
    let opts = ConnectOptions {
        token_cache: None,
        audit_log: None,
    };
    let api = ApiClient::connect(
        &cfg,
        supsync::secret::Secret::new(PASSWORD),
        opts,
        cancel.child_token(),
    )
    .await
    .unwrap();
    api.keep_alive().await.unwrap();
    cancel.cancel();
    assert_eq!(stat(&sim.stats(), "session_keepalives"), 1);
    let wire = sent(&seen);
    assert!(
        wire.contains("POST /api/v1/session/keepalive HTTP/1.1"),
        "{wire}"
    );
    assert!(!wire.contains("GET /api/v1/session/keepalive"), "{wire}");
}
