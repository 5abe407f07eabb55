//! The crash suite per API style: seeded `kill -9`s of the real binary across a push and a
//! pull in each style of docs/API.md §6, each followed by `resume`. Afterwards every record
//! is stored exactly once (none lost, none updated) and the pulled file holds each supplier
//! exactly once. What a kill's resend did — replayed, unchanged, or refused as "already
//! exists" — is printed per style (the README's table). `PROOF_SEED=<n>` replays a seed.

mod common;

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use common::{Sim, cmd, pulled_ids, stat, text, write_config, write_csv};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const OWN_API: &str = r#"push_method = "POST"
push_path = "/v3/suppliers"
record_envelope = ""
already_exists_status = 409
already_exists_match = "already exists"
reject_reason = "/error"
pull_path = "/v3/suppliers"
pagination = "page"
first_page = 1
page_size_param = "per_page"
records = "/results"
total = "/count"
fields = ["supplier_id=supplierNumber"]"#;

/// (name, the profile's `[api]` lines, the config's `[api]` lines)
fn styles() -> Vec<(&'static str, String, String)> {
    vec![
        (
            "data_rest",
            "style = \"data_rest\"".into(),
            "preset = \"data_rest\"".into(),
        ),
        (
            "odata",
            "style = \"odata\"".into(),
            "preset = \"odata\"".into(),
        ),
        (
            "post_without_keys",
            format!("style = \"data_rest\"\n[api.mapping]\n{OWN_API}"),
            format!("preset = \"data_rest\"\n{OWN_API}"),
        ),
    ]
}

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

/// Runs `first`, then kills and resumes `run_id` up to `kills` times; returns the kills
/// that landed and the last exit code.
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
    let t = Instant::now();
    while !manifest.exists() {
        assert!(t.elapsed() < Duration::from_secs(20), "no manifest");
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut landed = 0;
    for _ in 0..kills {
        std::thread::sleep(Duration::from_millis(rng.random_range(20..250)));
        if child.try_wait().unwrap().is_some() {
            break;
        }
        let _ = child.kill();
        let _ = child.wait();
        landed += 1;
        child = cmd(d, cfg, &["resume", run_id, "--headless"])
            .spawn()
            .unwrap();
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "the last resume completes: {}",
        text(&o)
    );
    (landed, o.status.code())
}

fn with_mapping(cfg: &Path, mapping: &str) {
    let body = std::fs::read_to_string(cfg).unwrap();
    std::fs::write(
        cfg,
        body.replacen("[api]\n", &format!("[api]\n{mapping}\n"), 1),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_and_resume_per_style_lose_nothing_and_apply_nothing_twice() {
    let seed = seed();
    let mut rng = StdRng::seed_from_u64(seed);
    let n = 3_000u64;
    for (name, profile_api, mapping) in styles() {
        // ---- push ----
        let sim = Sim {
            per_record_ms: 2,
            max_concurrent: 0,
            error_rate: 0.02,
            seed: seed % 1000,
            api_extra: profile_api.clone(),
            ..Sim::default()
        }
        .start()
        .await;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_path_buf();
        let cfg = write_config(&d, &sim.url(), 100, 4);
        with_mapping(&cfg, &mapping);
        let src = d.join("suppliers.csv");
        write_csv(&src, n, &[]);
        let (d2, cfg2, src2) = (d.clone(), cfg.clone(), src.clone());
        let mut rng2 = StdRng::seed_from_u64(rng.random());
        let (kills, _) = tokio::task::spawn_blocking(move || {
            let args = [
                "run",
                "--headless",
                "--run-id",
                "push",
                "--source",
                src2.to_str().unwrap(),
            ];
            kill_and_resume(&d2, &cfg2, &args, "push", 8, &mut rng2)
        })
        .await
        .unwrap();
        let st = sim.stats();
        let lost = n - stat(&st, "records_total");
        eprintln!(
            "{name} push: {kills} kills; lost {lost}, created {}, updated {}, resends absorbed \
             (unchanged) {}; sim {st}",
            stat(&st, "records_created"),
            stat(&st, "records_updated"),
            stat(&st, "records_unchanged"),
        );
        assert!(kills >= 1, "{name}: at least one kill landed mid-run");
        assert_eq!(lost, 0, "{name}: nothing lost: {st}");
        assert_eq!(stat(&st, "records_created"), n, "{name}: {st}");
        assert_eq!(
            stat(&st, "records_updated"),
            0,
            "{name}: nothing applied twice: {st}"
        );
        // What supsync reported, against what the server did: every record counted once,
        // a resend as the server answered it (a PUT's 200 is "applied", the server's
        // "already exists" is "unchanged"), never "updated".
        let o = cmd(&d, &cfg, &["status", "push", "--json"])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let c = |k: &str| v["counts"][k].as_u64().unwrap_or(0);
        eprintln!(
            "{name} push as reported: created {}, updated {}, unchanged {}, applied {}",
            c("created"),
            c("updated"),
            c("unchanged"),
            c("applied")
        );
        assert_eq!(
            c("created") + c("unchanged") + c("applied"),
            n,
            "{name}: every record counted once: {v}"
        );
        assert_eq!(c("updated"), 0, "{name}: {v}");
        // The server counts every resend; supsync books a record once (a resend killed
        // again before it was booked is sent once more).
        if name != "post_without_keys" {
            assert!(
                c("applied") <= stat(&st, "records_unchanged"),
                "{name}: a resend counted as the server answered it: {v} {st}"
            );
        }

        // ---- pull: the same server, now holding the n records ----
        let cfg = write_config(&d, &sim.url(), 50, 2);
        with_mapping(&cfg, &mapping);
        let out = d.join("pulled.jsonl");
        let (d2, cfg2, out2) = (d.clone(), cfg.clone(), out.clone());
        let mut rng2 = StdRng::seed_from_u64(rng.random());
        let (kills, _) = tokio::task::spawn_blocking(move || {
            let args = [
                "run",
                "--headless",
                "--run-id",
                "pull",
                "--pull",
                out2.to_str().unwrap(),
            ];
            kill_and_resume(&d2, &cfg2, &args, "pull", 4, &mut rng2)
        })
        .await
        .unwrap();
        let ids = pulled_ids(&out);
        let mut unique = ids.clone();
        unique.dedup();
        eprintln!(
            "{name} pull: {kills} kills; {} lines, {} distinct",
            ids.len(),
            unique.len()
        );
        assert_eq!(unique.len(), n as usize, "{name}: every supplier pulled");
        assert_eq!(
            ids.len(),
            unique.len(),
            "{name}: each supplier exactly once"
        );
    }
}
