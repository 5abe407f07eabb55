//! Failure messages in the words of the auth kind at hand, through the real binary: a
//! session-login run whose sessions the API refuses talks about sessions and logins, never
//! about fresh tokens or `auth.scopes`.

mod common;

use std::path::Path;

use common::{text, write_csv};
use supsync::sim::{Profile, SimServer};

const USER: &str = "sync-bot";
const PASSWORD: &str = "pw-words-41c9";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_the_api_refuses_is_reported_as_a_session_not_a_token() {
    let p = Profile::from_toml(&format!(
        "[tokens]\nexpiry_signal = \"401\"\n\
         [api]\nper_record_ms = 0\nmax_concurrent = 0\nrate_limit_per_sec = 0\n\
         [faults]\nerror_rate = 0.0\ndrop_rate = 0.0\n[data]\nsuppliers = 0\n\
         [session]\nenabled = true\nusers = {{ {USER} = \"{PASSWORD}\" }}\nlogin_ms = 0\n"
    ))
    .unwrap();
    let sim = SimServer::start(p, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The simulator reads the id from X-Session-Id; this client sends it elsewhere, so
    // every session it logs in is refused by the API at once.
    let cfg = write_config(d, &sim.url());
    let src = d.join("s.csv");
    write_csv(&src, 20, &[]);
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_supsync"));
    c.arg("--config")
        .arg(&cfg)
        .arg("--state-dir")
        .arg(d.join("state"))
        .args(["run", "--headless", "--source"])
        .arg(&src)
        .env("SUPSYNC_SESSION_PASSWORD", PASSWORD)
        .env_remove("SUPSYNC_CLIENT_SECRET")
        .env_remove("RUST_LOG")
        .env_remove("SUPSYNC_CONFIG")
        .stdin(std::process::Stdio::null());
    let o = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    let all = text(&o);
    eprintln!("{all}");
    assert_eq!(o.status.code(), Some(4), "{all}");
    assert!(
        all.contains("sessions in a row right after their login")
            && all.contains("auth.session.send_as"),
        "{all}"
    );
    for wrong in ["fresh token", "auth.scopes", "token endpoint"] {
        assert!(
            !all.contains(wrong),
            "{wrong:?} in a session run's output: {all}"
        );
    }
    assert!(!all.contains(PASSWORD), "{all}");
}

fn write_config(dir: &Path, url: &str) -> std::path::PathBuf {
    let p = dir.join("config.toml");
    std::fs::write(
        &p,
        format!(
            "[api]\nbase_url = \"{url}\"\ntimeout_secs = 5\n\
             [auth]\nkind = \"session\"\nkeepalive_secs = 1\nmin_token_interval_ms = 20\n\
             [auth.session]\nusername = \"{USER}\"\nsend_as = \"header:X-Not-The-Session\"\n\
             [sync]\nsegment_size = 10\nconcurrency = 1\nmax_attempts = 10\n\
             backoff_initial_ms = 20\nbackoff_max_ms = 200\nmax_retry_after_secs = 1\n\
             retry_budget = 1000\n"
        ),
    )
    .unwrap();
    p
}
