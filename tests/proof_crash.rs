//! Crash suite: 50 kill -9s of the real binary at random moments, 30 across a
//! push and 20 across a pull, each followed by `resume`. Afterwards: every valid record
//! created exactly once (none updated, none lost), each local reject written once, the
//! pulled file holding each supplier exactly once. The kill moments come from a seeded RNG:
//! the seed is printed, and `PROOF_SEED=<n>` replays the same schedule.

mod common;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use common::{Sim, cmd, pulled_ids, stat, text, write_config, write_csv};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn seed() -> u64 {
    let seed = std::env::var("PROOF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("crash suite seed: {seed} (PROOF_SEED={seed} replays it)");
    seed
}

fn wait_for(what: &str, timeout: Duration, ok: impl Fn() -> bool) {
    let t = Instant::now();
    while !ok() {
        assert!(
            t.elapsed() < timeout,
            "{what} did not happen in {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `first`, then kills (SIGKILL) and resumes `run_id` `kills` times at random moments;
/// lets the last resume finish. Returns the kills that landed and the last exit code.
fn kill_and_resume(
    d: &Path,
    cfg: &Path,
    first: &[&str],
    run_id: &str,
    kills: usize,
    rng: &mut StdRng,
) -> (usize, Option<i32>) {
    let manifest = d.join(format!("state/runs/{run_id}/manifest.json"));
    let mut child: Child = cmd(d, cfg, first).spawn().unwrap();
    wait_for("the run's manifest", Duration::from_secs(20), || {
        manifest.exists()
    });
    let mut landed = 0;
    for _ in 0..kills {
        std::thread::sleep(Duration::from_millis(rng.random_range(10..300)));
        if child.try_wait().unwrap().is_some() {
            break; // finished before this kill: nothing left to interrupt
        }
        let _ = child.kill(); // SIGKILL: no destructor, no flush
        let _ = child.wait();
        landed += 1;
        child = cmd(d, cfg, &["resume", run_id, "--headless"])
            .spawn()
            .unwrap();
    }
    let o = child.wait_with_output().unwrap();
    if !matches!(o.status.code(), Some(0 | 6)) {
        panic!("the last resume completes: {}", text(&o));
    }
    (landed, o.status.code())
}

const INVALID: [&str; 4] = [
    "NOPE-1,Bad Id,FR,approved,a@example.com,,2026-11-02T09:14:00Z",
    "SUP-900001,Bad Country,XXX,approved,a@example.com,,2026-11-02T09:14:00Z",
    "SUP-900002,,FR,approved,a@example.com,,2026-11-02T09:14:00Z",
    "SUP-900003,Bad Date,FR,approved,a@example.com,,yesterday",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_kill_9s_across_push_and_pull_lose_nothing_and_apply_nothing_twice() {
    let seed = seed();
    let mut rng = StdRng::seed_from_u64(seed);

    // ---- push: 30 kills ----
    let n = 12_000;
    let sim = Sim {
        per_record_ms: 2,
        error_rate: 0.03,
        drop_rate: 0.01,
        seed: seed % 1000,
        ..Sim::default()
    }
    .start()
    .await;
    let push_dir = tempfile::tempdir().unwrap();
    let d: PathBuf = push_dir.path().into();
    let cfg = write_config(&d, &sim.url(), 50, 4);
    let src = d.join("suppliers.csv");
    write_csv(&src, n, &INVALID);
    let (d2, cfg2, src2) = (d.clone(), cfg.clone(), src.clone());
    let mut rng2 = StdRng::seed_from_u64(rng.random());
    let (push_kills, code) = tokio::task::spawn_blocking(move || {
        let args = [
            "run",
            "--headless",
            "--run-id",
            "crash-push",
            "--source",
            src2.to_str().unwrap(),
        ];
        kill_and_resume(&d2, &cfg2, &args, "crash-push", 30, &mut rng2)
    })
    .await
    .unwrap();
    let st = sim.stats();
    eprintln!("push: {push_kills} kills, last exit {code:?}; sim {st}");
    assert_eq!(push_kills, 30, "every kill landed mid-run");
    assert_eq!(code, Some(6), "completed with rejects: the 4 local ones");
    assert_eq!(stat(&st, "records_created"), n, "nothing lost: {st}");
    assert_eq!(stat(&st, "records_total"), n, "{st}");
    assert_eq!(
        stat(&st, "records_updated"),
        0,
        "nothing applied twice: {st}"
    );
    assert_eq!(
        stat(&st, "records_rejected"),
        0,
        "invalid rows never sent: {st}"
    );
    let rejects = std::fs::read_to_string(d.join("state/runs/crash-push/rejects.jsonl")).unwrap();
    assert_eq!(
        rejects.lines().count(),
        INVALID.len(),
        "each reject once:\n{rejects}"
    );
    let o = cmd(&d, &cfg, &["status", "crash-push", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["counts"]["created"], n, "{v}");

    // ---- pull: 20 kills ----
    let total = 3_000;
    let sim = Sim {
        per_record_ms: 0,
        rate_limit_per_sec: 60,
        suppliers: total,
        ..Sim::default()
    }
    .start()
    .await;
    let pull_dir = tempfile::tempdir().unwrap();
    let d: PathBuf = pull_dir.path().into();
    let cfg = write_config(&d, &sim.url(), 10, 2);
    let out = d.join("pulled.jsonl");
    let (d2, cfg2, out2) = (d.clone(), cfg.clone(), out.clone());
    let mut rng2 = StdRng::seed_from_u64(rng.random());
    let (pull_kills, code) = tokio::task::spawn_blocking(move || {
        let args = [
            "run",
            "--headless",
            "--run-id",
            "crash-pull",
            "--pull",
            out2.to_str().unwrap(),
        ];
        kill_and_resume(&d2, &cfg2, &args, "crash-pull", 20, &mut rng2)
    })
    .await
    .unwrap();
    eprintln!(
        "pull: {pull_kills} kills, last exit {code:?}; sim {}",
        sim.stats()
    );
    assert_eq!(pull_kills, 20, "every kill landed mid-run");
    assert_eq!(code, Some(0));
    let ids = pulled_ids(&out);
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(ids.len(), total as usize, "every supplier pulled");
    assert_eq!(unique.len(), ids.len(), "each supplier exactly once");
}
