//! `auth.kind = "api_key"` against the simulator's `[api_key]` mode through the real
//! binary: a push and the pull back with the key in a header template or in the query, a
//! wrong key stopping the run at its first call (exit 4, one request), `diagnose` saying
//! whether the key is accepted, and the key in no output or state file.

mod common;

use std::path::{Path, PathBuf};

use common::{HEADER, pulled_ids, row, stat, text};
use supsync::sim::{Profile, SimServer};

/// Recognisable, so a leak would be found.
const KEY: &str = "key-canary-5e2b77";
const WRONG: &str = "wrong-key-canary-0c19";

/// A simulator accepting `KEY` as `carry` says (`header`/`prefix` or `query` lines).
async fn sim(carry: &str) -> SimServer {
    let p = Profile::from_toml(&format!(
        "[api]\nper_record_ms = 1\nmax_concurrent = 0\nrate_limit_per_sec = 0\n\
         [faults]\nerror_rate = 0.0\ndrop_rate = 0.0\n[data]\nsuppliers = 0\n\
         [api_key]\nenabled = true\nkeys = [\"{KEY}\"]\n{carry}\n"
    ))
    .expect("test profile parses");
    SimServer::start(p, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts")
}

fn write_config(dir: &Path, url: &str, send_as: &str) -> PathBuf {
    let p = dir.join("config.toml");
    std::fs::write(
        &p,
        format!(
            "[api]\nbase_url = \"{url}\"\ntimeout_secs = 5\n\
             [auth]\nkind = \"api_key\"\nkeepalive_secs = 1\n\
             [auth.api_key]\nsend_as = \"{send_as}\"\n\
             [sync]\nsegment_size = 10\nconcurrency = 1\nmax_attempts = 5\n\
             backoff_initial_ms = 20\nbackoff_max_ms = 200\n"
        ),
    )
    .unwrap();
    p
}

fn bin(dir: &Path, cfg: &Path, key: &str, args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_supsync"));
    c.arg("--config")
        .arg(cfg)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .args(args)
        .env("SUPSYNC_API_KEY", key)
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

fn write_csv(path: &Path, n: u64) {
    let rows: Vec<String> = (0..n).map(row).collect();
    std::fs::write(path, format!("{HEADER}\n{}\n", rows.join("\n"))).unwrap();
}

/// Every file under `dir`, as text (journal, audit log, rejects, pulled records).
fn files_text(dir: &Path) -> String {
    let mut all = String::new();
    for entry in walk(dir) {
        all.push_str(&String::from_utf8_lossy(&std::fs::read(entry).unwrap()));
    }
    all
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.is_file() {
            out.push(p);
        }
    }
    out
}

async fn push_and_pull_back(sim_carry: &str, send_as: &str) {
    let sim = sim(sim_carry).await;
    let dir = tempfile::tempdir().unwrap();
    let d: PathBuf = dir.path().into();
    let cfg = write_config(&d, &sim.url(), send_as);
    let src = d.join("s.csv");
    write_csv(&src, 50);
    let o = output(bin(
        &d,
        &cfg,
        KEY,
        &["run", "--headless", "--source", src.to_str().unwrap()],
    ))
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let st = sim.stats();
    assert_eq!(stat(&st, "records_created"), 50, "{st}");
    assert_eq!(stat(&st, "api_unauthorized"), 0, "{st}");
    assert_eq!(
        stat(&st, "tokens_issued"),
        0,
        "no token is ever asked for: {st}"
    );
    let out = d.join("pulled.jsonl");
    let p = output(bin(
        &d,
        &cfg,
        KEY,
        &["run", "--headless", "--pull", out.to_str().unwrap()],
    ))
    .await;
    assert_eq!(p.status.code(), Some(0), "{}", text(&p));
    assert_eq!(pulled_ids(&out).len(), 50);
    for shown in [text(&o), text(&p), files_text(&d)] {
        assert!(!shown.contains(KEY), "{shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_in_a_header_template_pushes_and_pulls_back() {
    push_and_pull_back(
        "header = \"Authorization\"\nprefix = \"Token \"",
        "Authorization: Token {token}",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_in_the_query_pushes_and_pulls_back() {
    push_and_pull_back("query = \"api_key\"", "query:api_key").await;
}

/// A wrong key is a definite refusal: the run stops at its first call with exit 4, one
/// request in all (no retry, no renewal), and says which keys to check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_stops_the_run_at_its_first_call() {
    let sim = sim("").await;
    let dir = tempfile::tempdir().unwrap();
    let d: PathBuf = dir.path().into();
    let cfg = write_config(&d, &sim.url(), "header:X-Api-Key");
    let src = d.join("s.csv");
    write_csv(&src, 30);
    let o = output(bin(
        &d,
        &cfg,
        WRONG,
        &["run", "--headless", "--source", src.to_str().unwrap()],
    ))
    .await;
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    let all = text(&o);
    assert!(all.contains("refused the API key"), "{all}");
    assert!(all.contains("SUPSYNC_API_KEY"), "{all}");
    let st = sim.stats();
    assert_eq!(stat(&st, "requests"), 1, "{st}");
    assert_eq!(stat(&st, "api_unauthorized"), 1, "{st}");
    assert_eq!(stat(&st, "records_created"), 0, "{st}");
    assert!(
        !all.contains(WRONG) && !files_text(&d).contains(WRONG),
        "{all}"
    );
}

/// `diagnose` reads once with the key: accepted (exit 0) or refused (exit 4), the key
/// shown only by its fingerprint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnose_says_whether_the_key_is_accepted() {
    let sim = sim("").await;
    let dir = tempfile::tempdir().unwrap();
    let d: PathBuf = dir.path().into();
    let cfg = write_config(&d, &sim.url(), "header:X-Api-Key");
    let o = output(bin(&d, &cfg, KEY, &["diagnose"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("accepted the key"), "{}", text(&o));
    assert_eq!(stat(&sim.stats(), "requests"), 1);
    let o = output(bin(&d, &cfg, WRONG, &["diagnose", "--json"])).await;
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["outcome"], "refused", "{v}");
    assert_eq!(stat(&sim.stats(), "requests"), 2);
    let shown = text(&o);
    assert!(!shown.contains(WRONG) && !shown.contains(KEY), "{shown}");
    // No key at all: a config error naming both sources.
    let o = output({
        let mut c = bin(&d, &cfg, KEY, &["diagnose"]);
        c.env_remove("SUPSYNC_API_KEY");
        c
    })
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("auth.api_key.key_file"), "{}", text(&o));
}
