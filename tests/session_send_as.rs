//! `auth.session.send_as = "bearer"` (or the template `"Authorization: Bearer {token}"`)
//! against a simulator whose sessions are carried as `Authorization: Bearer <id>`, through
//! the real binary; and the bare header that such a server refuses.

mod common;

use std::path::{Path, PathBuf};

use common::{stat, text, write_csv};
use supsync::sim::{Profile, SimServer};

const PASSWORD: &str = "pw-canary-b3a8";

async fn sim() -> SimServer {
    let p = Profile::from_toml(&format!(
        "[api]\nper_record_ms = 1\nmax_concurrent = 0\nrate_limit_per_sec = 0\n\
         [faults]\nerror_rate = 0.0\ndrop_rate = 0.0\n[data]\nsuppliers = 0\n\
         [session]\nenabled = true\ncarry = \"bearer\"\nusers = {{ sync-bot = \"{PASSWORD}\" }}\n\
         login_ms = 0\n"
    ))
    .expect("test profile parses");
    SimServer::start(p, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts")
}

fn config(dir: &Path, url: &str, send_as: &str) -> PathBuf {
    let p = dir.join("config.toml");
    std::fs::write(
        &p,
        format!(
            "[api]\nbase_url = \"{url}\"\ntimeout_secs = 5\n\
             [auth]\nkind = \"session\"\ntoken_cache = \"none\"\nmin_token_interval_ms = 20\n\
             [auth.session]\nusername = \"sync-bot\"\nsend_as = {send_as:?}\n\
             [sync]\nsegment_size = 10\nmax_attempts = 2\nbackoff_initial_ms = 20\n"
        ),
    )
    .unwrap();
    p
}

async fn run(d: &Path, cfg: &Path) -> std::process::Output {
    let src = d.join("s.csv");
    write_csv(&src, 30, &[]);
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_supsync"));
    c.arg("--config")
        .arg(cfg)
        .arg("--state-dir")
        .arg(d.join("state"))
        .args(["run", "--headless", "--source", src.to_str().unwrap()])
        .env("SUPSYNC_SESSION_PASSWORD", PASSWORD)
        .env_remove("SUPSYNC_CLIENT_SECRET")
        .env_remove("RUST_LOG")
        .env_remove("SUPSYNC_CONFIG")
        .stdin(std::process::Stdio::null());
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_id_goes_as_bearer_when_send_as_says_so() {
    for send_as in ["bearer", "Authorization: Bearer {token}"] {
        let sim = sim().await;
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), &sim.url(), send_as);
        let o = run(dir.path(), &cfg).await;
        assert_eq!(o.status.code(), Some(0), "{send_as}: {}", text(&o));
        let st = sim.stats();
        assert_eq!(stat(&st, "session_logins"), 1, "{send_as}: {st}");
        assert_eq!(stat(&st, "records_stored"), 30, "{send_as}: {st}");
        assert_eq!(stat(&st, "api_token_dead"), 0, "{send_as}: {st}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bare_header_is_refused_by_a_bearer_server() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &sim.url(), "header:Authorization");
    let o = run(dir.path(), &cfg).await;
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    let st = sim.stats();
    assert!(stat(&st, "api_token_dead") >= 1, "{st}");
    assert_eq!(stat(&st, "records_stored"), 0, "{st}");
}
