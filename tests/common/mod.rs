//! Helpers shared by the integration suites (tests/proof_*.rs, engine.rs, crash.rs):
//! simulator profiles with short clocks, generated sources, config files, the real binary,
//! simulator counters. Each test file compiles this module separately and uses a subset,
//! hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod keys;
pub mod pty;
pub mod redis_server;
pub mod relay;
pub mod session_cli;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use supsync::sim::{Profile, SimServer};

pub const SECRET: &str = "change-me";
pub const HEADER: &str = "supplier_id,name,country,status,contact_email,certifications,updated_at";

/// Knobs of a test profile; the defaults are short clocks (scope TTL 2 s, idle 3 s,
/// session 10 s), rotation with reuse detection on, no faults.
#[derive(Clone)]
pub struct Sim {
    pub secret: String,
    pub per_record_ms: u64,
    pub max_batch: u64,
    pub max_concurrent: u64,
    pub rate_limit_per_sec: u64,
    pub error_rate: f64,
    pub drop_rate: f64,
    pub seed: u64,
    pub suppliers: u64,
    pub session_secs: u64,
    /// Lines added to the profile's `[api]` section (an API style: `style = "odata"`,
    /// `[api.mapping]` overrides).
    pub api_extra: String,
}

impl Default for Sim {
    fn default() -> Self {
        Sim {
            secret: SECRET.into(),
            per_record_ms: 1,
            max_batch: 100,
            max_concurrent: 4,
            rate_limit_per_sec: 0,
            error_rate: 0.0,
            drop_rate: 0.0,
            seed: 7,
            suppliers: 0,
            session_secs: 10,
            api_extra: String::new(),
        }
    }
}

impl Sim {
    pub fn profile(&self) -> Profile {
        Profile::from_toml(&format!(
            r#"
[tokens]
default_ttl_secs = 3600
scope_ttl_secs = {{ supplier_mgmt = 2 }}
idle_timeout_secs = 3
absolute_timeout_secs = {session}
rotate_refresh_tokens = true
reuse_detection = true
[clients]
supplier-sync = "{secret}"
[api]
per_record_ms = {prm}
max_batch = {mb}
max_concurrent = {mc}
rate_limit_per_sec = {rl}
{extra}
[faults]
error_rate = {er}
drop_rate = {dr}
seed = {seed}
[data]
suppliers = {sup}
"#,
            session = self.session_secs,
            secret = self.secret,
            prm = self.per_record_ms,
            mb = self.max_batch,
            mc = self.max_concurrent,
            rl = self.rate_limit_per_sec,
            er = self.error_rate,
            dr = self.drop_rate,
            seed = self.seed,
            sup = self.suppliers,
            extra = self.api_extra,
        ))
        .expect("test profile parses")
    }

    pub async fn start(&self) -> SimServer {
        SimServer::start(self.profile(), "127.0.0.1:0".parse().unwrap())
            .await
            .expect("simulator starts")
    }
}

/// One valid CSV row, id `SUP-<i>`.
pub fn row(i: u64) -> String {
    format!(
        "SUP-{i:06},Supplier {i} Ltd,DE,approved,q{i}@example.com,ISO 9001;IATF 16949,2026-11-02T09:14:00Z"
    )
}

/// `n` valid suppliers as CSV, then the raw lines in `extra`.
pub fn write_csv(path: &Path, n: u64, extra: &[&str]) {
    let mut s = String::with_capacity(n as usize * 110 + 100);
    s.push_str(HEADER);
    s.push('\n');
    for i in 0..n {
        s.push_str(&row(i));
        s.push('\n');
    }
    for l in extra {
        s.push_str(l);
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

/// Retry knobs of a test config's `[sync]` table; `None` budget keeps the default.
#[derive(Clone, Copy)]
pub struct Retries {
    pub max_attempts: u32,
    pub backoff_max_ms: u64,
    pub retry_budget: Option<u32>,
}

/// Fast retries and a large retry budget: the binary suites want segments to finish, not
/// the run to wait on its probe.
pub const PATIENT: Retries = Retries {
    max_attempts: 20,
    backoff_max_ms: 500,
    retry_budget: Some(1000),
};

/// A config file pointing at `url` with the [`PATIENT`] retries.
pub fn write_config(dir: &Path, url: &str, segment: usize, concurrency: usize) -> PathBuf {
    write_config_with(dir, url, segment, concurrency, PATIENT)
}

/// A config file pointing at `url`: no token cache, 1 s keepalive, 20 ms first backoff.
pub fn write_config_with(
    dir: &Path,
    url: &str,
    segment: usize,
    concurrency: usize,
    retries: Retries,
) -> PathBuf {
    let Retries {
        max_attempts,
        backoff_max_ms,
        retry_budget,
    } = retries;
    let budget = retry_budget
        .map(|b| format!("retry_budget = {b}\n"))
        .unwrap_or_default();
    let p = dir.join("config.toml");
    std::fs::write(
        &p,
        format!(
            r#"
[api]
base_url = "{url}"
timeout_secs = 5
[auth]
token_cache = "none"
keepalive_secs = 1
[sync]
segment_size = {segment}
concurrency = {concurrency}
max_attempts = {max_attempts}
backoff_initial_ms = 20
backoff_max_ms = {backoff_max_ms}
max_retry_after_secs = 1
{budget}"#
        ),
    )
    .unwrap();
    p
}

/// The real binary with `--config` and `--state-dir <dir>/state`, secret in the environment.
pub fn cmd(dir: &Path, cfg: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_supsync"));
    c.arg("--config")
        .arg(cfg)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .args(args)
        .env("SUPSYNC_CLIENT_SECRET", SECRET)
        .env_remove("RUST_LOG")
        .env_remove("SUPSYNC_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

pub fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The simulator's counters (`GET /_sim/stats`).
pub async fn stats(url: &str) -> serde_json::Value {
    reqwest::get(format!("{url}/_sim/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub fn stat(v: &serde_json::Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("stats has no {k}: {v}"))
}

/// Supplier ids of a pulled JSON Lines file, sorted.
pub fn pulled_ids(path: &Path) -> Vec<String> {
    let body = std::fs::read_to_string(path).unwrap();
    let mut ids: Vec<String> = body
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["supplier_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    ids.sort();
    ids
}
