//! Kill -9 of the real binary in the middle of a sync, then `resume`: nothing lost, nothing
//! applied twice, the journal replays. The simulator runs in-process; the binary talks to
//! it over loopback.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use supsync::sim::{Profile, SimServer};

const SECRET: &str = "change-me";

fn profile(
    per_record_ms: u64,
    error_rate: f64,
    drop_rate: f64,
    extra_api: &str,
    suppliers: u64,
) -> Profile {
    Profile::from_toml(&format!(
        r#"
[tokens]
default_ttl_secs = 3600
scope_ttl_secs = {{ supplier_mgmt = 2 }}
idle_timeout_secs = 3
absolute_timeout_secs = 10
[clients]
supplier-sync = "{SECRET}"
[api]
per_record_ms = {per_record_ms}
max_batch = 100
max_concurrent = 4
{extra_api}
[faults]
error_rate = {error_rate}
drop_rate = {drop_rate}
seed = 3
[data]
suppliers = {suppliers}
"#
    ))
    .expect("test profile parses")
}

fn write_config(dir: &Path, url: &str, segment_size: usize, concurrency: usize) -> PathBuf {
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
segment_size = {segment_size}
concurrency = {concurrency}
max_attempts = 10
backoff_initial_ms = 20
backoff_max_ms = 200
max_retry_after_secs = 1
"#
        ),
    )
    .unwrap();
    p
}

fn cmd(dir: &Path, cfg: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_supsync"));
    c.arg("--config")
        .arg(cfg)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .args(args)
        .env("SUPSYNC_CLIENT_SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Waits for `path` to exist (the run's manifest: from then on `resume` can carry on).
fn wait_for(path: &Path) {
    let t = Instant::now();
    while !path.exists() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// SIGKILL (Child::kill is SIGKILL on unix): no destructor, no flush, no goodbye.
fn kill(mut child: Child) -> Option<i32> {
    let _ = child.kill();
    child.wait().ok().and_then(|s| s.code())
}

fn status_json(dir: &Path, cfg: &Path, run_id: &str) -> serde_json::Value {
    let o = cmd(dir, cfg, &["status", run_id, "--json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

async fn stats(url: &str) -> serde_json::Value {
    reqwest::get(format!("{url}/_sim/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn stat(v: &serde_json::Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("stats has no {k}: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_then_resume_stores_every_record_once() {
    let sim = SimServer::start(
        profile(2, 0.05, 0.02, "", 0),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let url = sim.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let cfg = write_config(&d, &url, 50, 4);
    let src = d.join("suppliers.csv");
    let mut csv =
        String::from("supplier_id,name,country,status,contact_email,certifications,updated_at\n");
    for i in 0..2_000 {
        csv.push_str(&format!(
            "SUP-{i:06},Supplier {i},NL,approved,s{i}@example.com,ISO 9001,2026-11-02T09:14:00Z\n"
        ));
    }
    std::fs::write(&src, csv).unwrap();
    let manifest = d.join("state/runs/crashy/manifest.json");

    let (d2, cfg2, src2) = (d.clone(), cfg.clone(), src.clone());
    let kills = tokio::task::spawn_blocking(move || {
        let mut kills = 0;
        let mut child = cmd(
            &d2,
            &cfg2,
            &[
                "run",
                "--headless",
                "--run-id",
                "crashy",
                "--source",
                src2.to_str().unwrap(),
            ],
        )
        .spawn()
        .unwrap();
        wait_for(&manifest);
        for _ in 0..12 {
            std::thread::sleep(Duration::from_millis(rand::random_range(20..150)));
            if child.try_wait().unwrap().is_some() {
                break; // finished before this kill: nothing left to interrupt
            }
            kill(child);
            kills += 1;
            child = cmd(&d2, &cfg2, &["resume", "crashy", "--headless"])
                .spawn()
                .unwrap();
        }
        let o = child.wait_with_output().unwrap();
        assert!(
            matches!(o.status.code(), Some(0)),
            "the last resume completes: {}",
            text(&o)
        );
        kills
    })
    .await
    .unwrap();
    assert!(
        kills >= 10,
        "only {kills} kills landed; the run was too fast to interrupt"
    );

    let st = stats(&url).await;
    assert_eq!(stat(&st, "records_stored"), 2_000, "{st}");
    assert_eq!(stat(&st, "records_created"), 2_000, "{st}");
    assert_eq!(
        stat(&st, "records_updated"),
        0,
        "a resent segment is a replay, not an update: {st}"
    );
    let v = status_json(&d, &cfg, "crashy");
    assert_eq!(v["counts"]["created"], 2_000, "{v}");
    assert_eq!(v["by_state"]["done"], 40, "{v}");
    eprintln!("{kills} kills; sim stats {st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_killed_in_the_middle_resumes_without_duplicates() {
    // A rate limit slows the pull down enough to kill it half way.
    let sim = SimServer::start(
        profile(0, 0.0, 0.0, "rate_limit_per_sec = 40", 600),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let url = sim.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let cfg = write_config(&d, &url, 10, 1);
    let out = d.join("pulled.jsonl");
    let parts = d.join("state/runs/pully/parts");
    let (d2, cfg2, out2) = (d.clone(), cfg.clone(), out.clone());
    tokio::task::spawn_blocking(move || {
        let child = cmd(
            &d2,
            &cfg2,
            &[
                "run",
                "--headless",
                "--run-id",
                "pully",
                "--pull",
                out2.to_str().unwrap(),
            ],
        )
        .spawn()
        .unwrap();
        // Kill once a few segments are written, well before the 60 are.
        let t = Instant::now();
        loop {
            let n = std::fs::read_dir(&parts).map(|r| r.count()).unwrap_or(0);
            if n >= 5 {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "the pull made no progress"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        kill(child);
    })
    .await
    .unwrap();
    let v = status_json(&d, &cfg, "pully");
    let done = v["by_state"]["done"].as_u64().unwrap_or(0);
    assert!(done < 60, "killed in the middle: {v}");
    assert!(!out.exists(), "no output before the pull is complete");

    let o = tokio::task::spawn_blocking({
        let (d, cfg) = (d.clone(), cfg.clone());
        move || cmd(&d, &cfg, &["resume", "--headless"]).output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let body = std::fs::read_to_string(&out).unwrap();
    let mut ids: Vec<String> = body
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["supplier_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 600);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 600, "each supplier exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_gracefully_with_exit_5_and_resume_finishes() {
    // 50 records × 10 ms: each segment is in flight for half a second.
    let sim = SimServer::start(profile(10, 0.0, 0.0, "", 0), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = sim.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let cfg = write_config(&d, &url, 50, 2);
    let src = d.join("s.csv");
    let mut csv =
        String::from("supplier_id,name,country,status,contact_email,certifications,updated_at\n");
    for i in 0..500 {
        csv.push_str(&format!(
            "SUP-{i:06},Supplier {i},NL,approved,s{i}@example.com,,2026-11-02T09:14:00Z\n"
        ));
    }
    std::fs::write(&src, csv).unwrap();
    let manifest = d.join("state/runs/sigint/manifest.json");
    let (d2, cfg2) = (d.clone(), cfg.clone());
    let o = tokio::task::spawn_blocking(move || {
        let child = cmd(
            &d2,
            &cfg2,
            &[
                "run",
                "--headless",
                "--run-id",
                "sigint",
                "--source",
                src.to_str().unwrap(),
            ],
        )
        .spawn()
        .unwrap();
        wait_for(&manifest);
        std::thread::sleep(Duration::from_millis(700));
        let sent = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(5), "{t}");
    assert!(t.contains("stopping: letting"), "{t}");
    assert!(t.contains("resume sigint"), "{t}");
    // In-flight segments were let finish: what the server stored is what the journal says.
    let v = status_json(&d, &cfg, "sigint");
    let st = stats(&url).await;
    assert_eq!(
        v["counts"]["created"],
        stat(&st, "records_created"),
        "{v} {st}"
    );
    assert!(stat(&st, "records_created") < 500, "{st}");

    let o = tokio::task::spawn_blocking({
        let (d, cfg) = (d.clone(), cfg.clone());
        move || {
            cmd(&d, &cfg, &["resume", "sigint", "--headless"])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let st = stats(&url).await;
    assert_eq!(stat(&st, "records_created"), 500, "{st}");
    assert_eq!(
        stat(&st, "idempotent_replays"),
        0,
        "graceful: nothing was resent {st}"
    );
}
