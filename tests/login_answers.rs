//! Login answers larger than supsync reads, through the real binary: a session login whose
//! answer carries 150 `Set-Cookie` headers is reported as too large (its head), once, not
//! as an unreachable endpoint tried again and again.

mod common;

use common::{stat, text, write_csv};
use supsync::sim::{Profile, SimServer};

const USER: &str = "sync-bot";
const PASSWORD: &str = "pw-answers-77d1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_answer_with_150_cookies_is_too_large_not_unreachable() {
    let p = Profile::from_toml(&format!(
        "[api]\nper_record_ms = 0\nmax_concurrent = 0\nrate_limit_per_sec = 0\n\
         [faults]\nerror_rate = 0.0\ndrop_rate = 0.0\n[data]\nsuppliers = 0\n\
         [session]\nenabled = true\nusers = {{ {USER} = \"{PASSWORD}\" }}\nlogin_ms = 0\n\
         login_extra_cookies = 150\n"
    ))
    .unwrap();
    let sim = SimServer::start(p, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = d.join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[api]\nbase_url = \"{}\"\ntimeout_secs = 5\n\
             [auth]\nkind = \"session\"\nkeepalive_secs = 1\nmin_token_interval_ms = 20\n\
             [auth.session]\nusername = \"{USER}\"\n\
             [sync]\nsegment_size = 10\nconcurrency = 1\nmax_attempts = 5\n\
             backoff_initial_ms = 20\nbackoff_max_ms = 200\nmax_retry_after_secs = 1\n",
            sim.url()
        ),
    )
    .unwrap();
    let src = d.join("s.csv");
    write_csv(&src, 10, &[]);
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
        all.contains("login endpoint's answer to the session login is too large to read")
            && all.contains("100 header lines"),
        "{all}"
    );
    assert!(!all.contains("unreachable"), "{all}");
    assert!(!all.contains(PASSWORD), "{all}");
    let st = sim.stats();
    assert_eq!(stat(&st, "session_logins"), 1, "tried once: {st}");
}
