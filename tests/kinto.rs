//! Kinto-class batches through the real binary: the sample `assets/api-kinto.toml` against
//! the sample `assets/sim-kinto.toml` (a `/v1/batch` that refuses any item key but method,
//! path and body, per-item statuses in `responses`, `{"data": …}` records, the next page in
//! a `Next-Page` header, no total): 300 records pushed, every one counted as created, then
//! pulled back with each page read once.

mod common;

use std::path::{Path, PathBuf};

use common::{pulled_ids, stat, text, write_csv};

const KEY: &str = "c3luYy1ib3Q6a2ludG8tcHctMQ==";

fn asset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets")
        .join(name)
}

async fn kinto_sim() -> supsync::sim::SimServer {
    let mut p = supsync::sim::Profile::load(asset("sim-kinto.toml").to_str().unwrap())
        .expect("the sample profile loads");
    p.api.per_record_ms = 0;
    p.api.max_concurrent = 0;
    p.api.rate_limit_per_sec = 0;
    p.faults.error_rate = 0.0;
    p.faults.drop_rate = 0.0;
    p.data.suppliers = 0;
    supsync::sim::SimServer::start(p, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts")
}

/// The sample config, pointed at `url`, with `extra` lines in its `[api]` section.
fn config(dir: &Path, url: &str, extra: &str) -> PathBuf {
    let sample = std::fs::read_to_string(asset("api-kinto.toml")).unwrap();
    let body = sample.replace(
        "base_url = \"http://127.0.0.1:8080\"",
        &format!("base_url = \"{url}\"\n{extra}"),
    ) + "\n[sync]\nsegment_size = 50\nconcurrency = 2\nmax_attempts = 5\n\
           backoff_initial_ms = 20\nbackoff_max_ms = 200\n";
    let p = dir.join("config.toml");
    std::fs::write(&p, body).unwrap();
    p
}

fn bin(dir: &Path, cfg: &Path, args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_supsync"));
    c.arg("--config")
        .arg(cfg)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .args(args)
        .env("SUPSYNC_API_KEY", KEY)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_records_through_the_batch_endpoint_and_back() {
    let sim = kinto_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let d: PathBuf = dir.path().into();
    let cfg = config(&d, &sim.url(), "");
    let src = d.join("s.csv");
    write_csv(&src, 300, &[]);
    let o = output(bin(
        &d,
        &cfg,
        &["run", "--headless", "--source", src.to_str().unwrap()],
    ))
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let st = sim.stats();
    assert_eq!(stat(&st, "records_created"), 300, "{st}");
    assert_eq!(stat(&st, "records_rejected"), 0, "{st}");
    // 300 records, at most 25 per batch: 12 batch requests.
    assert_eq!(stat(&st, "requests"), 12, "{st}");
    let all = text(&o);
    assert!(
        all.contains("300 created") || all.contains("created 300"),
        "{all}"
    );

    let out = d.join("pulled.jsonl");
    let before = stat(&st, "requests");
    let o = output(bin(
        &d,
        &cfg,
        &["run", "--headless", "--pull", out.to_str().unwrap()],
    ))
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let ids = pulled_ids(&out);
    assert_eq!(ids.len(), 300);
    assert_eq!(ids.first().map(String::as_str), Some("SUP-000000"));
    // No total stated: the counting pass walks the Next-Page chain once, and the segments
    // are read from what it kept: one GET per page, 300 / 50 = 6.
    let st = sim.stats();
    assert_eq!(stat(&st, "requests") - before, 6, "{st}");
    assert_eq!(stat(&st, "pull_pages"), 6, "{st}");
}

/// The default item carries supsync's own `"id"`: the Kinto-like server refuses the
/// batch for it, naming the key, and no record counts as pushed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_with_a_key_the_server_refuses_is_named() {
    let sim = kinto_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let d: PathBuf = dir.path().into();
    let cfg = config(&d, &sim.url(), "");
    let body = std::fs::read_to_string(&cfg).unwrap();
    let body = body
        .lines()
        .filter(|l| !l.starts_with("batch_item"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&cfg, body).unwrap();
    let src = d.join("s.csv");
    write_csv(&src, 10, &[]);
    let o = output(bin(
        &d,
        &cfg,
        &["run", "--headless", "--source", src.to_str().unwrap()],
    ))
    .await;
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    let all = text(&o);
    assert!(all.contains("/id is not allowed"), "{all}");
    assert_eq!(stat(&sim.stats(), "records_created"), 0);
}

/// `api.total = "header:Total-Records"`: the total is read from the first page's header
/// (one GET), then each page once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_total_in_a_header_is_read() {
    let mut p = supsync::sim::Profile::load(asset("sim-kinto.toml").to_str().unwrap()).unwrap();
    p.api.per_record_ms = 0;
    p.api.max_concurrent = 0;
    p.faults.error_rate = 0.0;
    p.faults.drop_rate = 0.0;
    p.data.suppliers = 120;
    p.api.mapping.total = Some("header:Total-Records".into());
    let sim = supsync::sim::SimServer::start(p, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d: PathBuf = dir.path().into();
    let cfg = config(&d, &sim.url(), "");
    let body = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("total = \"none\"", "total = \"header:Total-Records\"");
    std::fs::write(&cfg, body).unwrap();
    let out = d.join("pulled.jsonl");
    let o = output(bin(
        &d,
        &cfg,
        &["run", "--headless", "--pull", out.to_str().unwrap()],
    ))
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(pulled_ids(&out).len(), 120);
    let st = sim.stats();
    // One GET for the total, then 120 / 50 = 3 pages.
    assert_eq!(stat(&st, "requests"), 1 + 3, "{st}");
}
