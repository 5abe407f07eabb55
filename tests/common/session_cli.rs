//! The binary on a session-login config, and what the session suites read from its
//! answers and the simulator's counters.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use super::{stat, text};

/// The binary with `--config`, `--state-dir <dir>/state`, `args` and `password` as the
/// session password; no other credential from the environment.
pub async fn supsync(dir: &Path, cfg: &Path, password: &str, args: &[&str]) -> Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_supsync"));
    c.arg("--config")
        .arg(cfg)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .args(args)
        .env("SUPSYNC_SESSION_PASSWORD", password)
        .env_remove("SUPSYNC_CLIENT_SECRET")
        .env_remove("SUPSYNC_CACHE_KEY")
        .env_remove("RUST_LOG")
        .env_remove("SUPSYNC_CONFIG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

/// The one JSON object the binary printed.
pub fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

/// Login requests of any outcome the simulator has seen.
pub fn login_requests(st: &Value) -> u64 {
    stat(st, "session_logins")
        + stat(st, "session_login_failures")
        + stat(st, "session_login_refused_locked")
}

/// Logins diagnose says it sent.
pub fn logins_sent(j: &Value) -> u64 {
    j["findings"]["session"]["logins"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["sent"] == true)
        .count() as u64
}
