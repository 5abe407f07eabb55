//! One credential, many processes: 4 real `supsync run --headless` processes, concurrency 8
//! each, one state directory (one token cache), one client id, against 2-second tokens
//! with refresh-token rotation and reuse detection, for about 20 s of token churn.
//!
//! A process's `renewals` are the token changes it went through (its own requests and
//! tokens it took from the cache). Processes renewing on their own would make about
//! 4 × (renewals + 1) token requests between them, and with reuse detection each one's
//! refresh would revoke the others' chain; sharing, every request serves all four.
//! Acceptance: token requests ≤ renewals + 1 (the most any one process went through),
//! 0 `invalid_grant`, 0 answered 401s.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use supsync::sim::{Profile, SimServer};

use crate::support::{SECRET, row, runtime, stat};

const PROCESSES: u64 = 4;
const CONCURRENCY: u64 = 8;
const SEGMENT: u64 = 50;
const PER_RECORD_MS: u64 = 10;
/// 8 segments of 50 records at 10 ms each take 0.5 s: 800 records/s per process, so
/// 16,000 records keep each process busy for about 20 s.
const RECORDS: u64 = 16_000;

fn profile() -> Profile {
    Profile::from_toml(&format!(
        r#"
[tokens]
default_ttl_secs = 3600
scope_ttl_secs = {{ supplier_mgmt = 2 }}
idle_timeout_secs = 3
absolute_timeout_secs = 0
issue_refresh_token = "offline_access"
rotate_refresh_tokens = true
reuse_detection = true
[clients]
supplier-sync = "{SECRET}"
[api]
per_record_ms = {PER_RECORD_MS}
max_batch = {SEGMENT}
max_concurrent = 0
[faults]
error_rate = 0.0
drop_rate = 0.0
[data]
suppliers = 0
"#
    ))
    .expect("bench profile parses")
}

fn write_source(path: &Path, first: u64) {
    let mut s =
        String::from("supplier_id,name,country,status,contact_email,certifications,updated_at\n");
    for i in first..first + RECORDS {
        s.push_str(&row(i));
    }
    std::fs::write(path, s).expect("write the source");
}

/// Counts of one kind of event in a run's token audit log.
fn events(audit: &Path, kinds: &[&str]) -> u64 {
    std::fs::read_to_string(audit)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"].as_str().is_some_and(|e| kinds.contains(&e)))
        .count() as u64
}

/// `token: N renewal(s)` from a run's summary.
fn summary_renewals(out: &str) -> u64 {
    out.lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("token: ")?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .expect("the summary has a token line")
}

pub fn run() {
    let rt = runtime();
    let sim: SimServer = rt
        .block_on(SimServer::start(
            profile(),
            "127.0.0.1:0".parse().expect("loopback address"),
        ))
        .expect("simulator starts on loopback");
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[api]\nbase_url = \"{}\"\ntimeout_secs = 30\n[auth]\nkeepalive_secs = 1\n\
             [sync]\nsegment_size = {SEGMENT}\nconcurrency = {CONCURRENCY}\n\
             backoff_initial_ms = 20\nbackoff_max_ms = 500\n",
            sim.url()
        ),
    )
    .expect("write the config");
    let started = Instant::now();
    let children: Vec<_> = (0..PROCESSES)
        .map(|k| {
            let src = dir.path().join(format!("shard-{k}.csv"));
            write_source(&src, k * 1_000_000);
            Command::new(env!("CARGO_BIN_EXE_supsync"))
                .arg("--config")
                .arg(&cfg)
                .arg("--state-dir")
                .arg(dir.path().join("state"))
                .args(["run", "--headless", "--run-id", &format!("shard-{k}")])
                .arg("--source")
                .arg(&src)
                .env("SUPSYNC_CLIENT_SECRET", SECRET)
                .env_remove("RUST_LOG")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the release binary starts")
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait for a process"))
        .collect();
    let wall = started.elapsed();
    let mut renewals = 0;
    let (mut own, mut taken) = (Vec::new(), Vec::new());
    for (k, o) in outputs.iter().enumerate() {
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert_eq!(
            o.status.code(),
            Some(0),
            "shard-{k}:\n{stdout}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        renewals = renewals.max(summary_renewals(&stdout));
        let audit = dir
            .path()
            .join(format!("state/runs/shard-{k}/token-audit.jsonl"));
        own.push(events(&audit, &["issued", "refreshed", "new_session"]));
        taken.push(events(&audit, &["shared"]));
    }
    let stats = sim.stats();
    let requests = stat(&stats, "token_requests");
    let invalid_grant = stat(&stats, "invalid_grant");
    let answered_401 = stat(&stats, "api_unauthorized");
    let join = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join("/");
    println!(
        "FIGURE credential: {PROCESSES} processes x concurrency {CONCURRENCY} on one credential, \
         {:.1} s of 2 s tokens with rotation and reuse detection: {requests} token requests for \
         {renewals} renewals + 1 (target <=); {invalid_grant} invalid_grant; {answered_401} \
         answered 401s; {} reuse detections; own requests per process {}, tokens taken from \
         the cache {}; {} records created",
        wall.as_secs_f64(),
        stat(&stats, "refresh_reuse"),
        join(&own),
        join(&taken),
        stat(&stats, "records_created"),
    );
    assert_eq!(stat(&stats, "records_created"), PROCESSES * RECORDS);
    assert!(
        requests <= renewals + 1,
        "{requests} token requests > {renewals} renewals + 1"
    );
    assert_eq!(invalid_grant, 0);
    assert_eq!(answered_401, 0);
}
