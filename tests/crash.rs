//! Kill -9 of the real binary in the middle of a sync, then `resume`: nothing lost, nothing
//! applied twice, the journal replays. The simulator runs in-process; the binary talks to
//! it over loopback.

mod common;

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::{HEADER, Retries, Sim, cmd, pulled_ids, stat, stats, text, write_config_with};

/// Fault sequence seed of this file's simulator profiles.
const SEED: u64 = 3;

/// Retries of this file's configs: ten attempts, backoff up to 200 ms, default budget.
const RETRIES: Retries = Retries {
    max_attempts: 10,
    backoff_max_ms: 200,
    retry_budget: None,
};

/// `n` valid Dutch suppliers as CSV, each with `certifications`.
fn write_nl_csv(path: &Path, n: u64, certifications: &str) {
    let mut csv = format!("{HEADER}\n");
    for i in 0..n {
        csv.push_str(&format!(
            "SUP-{i:06},Supplier {i},NL,approved,s{i}@example.com,{certifications},2026-11-02T09:14:00Z\n"
        ));
    }
    std::fs::write(path, csv).unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_then_resume_stores_every_record_once() {
    let sim = Sim {
        per_record_ms: 2,
        error_rate: 0.05,
        drop_rate: 0.02,
        seed: SEED,
        ..Sim::default()
    }
    .start()
    .await;
    let url = sim.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let cfg = write_config_with(&d, &url, 50, 4, RETRIES);
    let src = d.join("suppliers.csv");
    write_nl_csv(&src, 2_000, "ISO 9001");
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
    let sim = Sim {
        per_record_ms: 0,
        rate_limit_per_sec: 40,
        suppliers: 600,
        seed: SEED,
        ..Sim::default()
    }
    .start()
    .await;
    let url = sim.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let cfg = write_config_with(&d, &url, 10, 1, RETRIES);
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
    let mut ids = pulled_ids(&out);
    assert_eq!(ids.len(), 600);
    ids.dedup();
    assert_eq!(ids.len(), 600, "each supplier exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_gracefully_with_exit_5_and_resume_finishes() {
    // 50 records × 10 ms: each segment is in flight for half a second.
    let sim = Sim {
        per_record_ms: 10,
        seed: SEED,
        ..Sim::default()
    }
    .start()
    .await;
    let url = sim.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let cfg = write_config_with(&d, &url, 50, 2, RETRIES);
    let src = d.join("s.csv");
    write_nl_csv(&src, 500, "");
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
    assert!(t.contains("SIGINT: stopping, letting"), "{t}");
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
