//! Damaged run state through the real binary and the simulator: a flipped digit in a done
//! line's index must not make `resume` skip a segment the server never got, and a flipped
//! byte in the manifest must stop the run with an error naming the file.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Retries, Sim, cmd, stat, stats, text, write_config_with, write_csv};

const RETRIES: Retries = Retries {
    max_attempts: 10,
    backoff_max_ms: 200,
    retry_budget: None,
};

fn status_json(dir: &Path, cfg: &Path, run_id: &str) -> serde_json::Value {
    let o = cmd(dir, cfg, &["status", run_id, "--json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The journal's segment lines marked done, as (line number, index).
fn done_lines(journal: &Path) -> Vec<(usize, u64)> {
    std::fs::read_to_string(journal)
        .unwrap_or_default()
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            (v["kind"] == "segment" && v["state"] == "done")
                .then(|| (i + 1, v["index"].as_u64().unwrap()))
        })
        .collect()
}

/// Pushes 200 records in 20 segments of 10, one at a time (~100 ms each), and stops the
/// run with SIGINT once 3 segments are journaled done: it ends interrupted, with the
/// later segments never sent.
async fn interrupted_push(sim_url: &str, d: &Path, run_id: &str) -> PathBuf {
    let cfg = write_config_with(d, sim_url, 10, 1, RETRIES);
    let src = d.join("suppliers.csv");
    write_csv(&src, 200, &[]);
    let journal = d.join(format!("state/runs/{run_id}/journal.jsonl"));
    let (d2, cfg2, run_id) = (d.to_path_buf(), cfg.clone(), run_id.to_string());
    let o = tokio::task::spawn_blocking(move || {
        let child = cmd(
            &d2,
            &cfg2,
            &[
                "run",
                "--headless",
                "--run-id",
                &run_id,
                "--source",
                src.to_str().unwrap(),
            ],
        )
        .spawn()
        .unwrap();
        let t = Instant::now();
        while done_lines(&journal).len() < 3 {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "the push made no progress"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let sent = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_index_in_a_done_line_is_reported_and_resume_stores_every_record_once() {
    let sim = Sim {
        per_record_ms: 10,
        ..Sim::default()
    }
    .start()
    .await;
    let url = sim.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = interrupted_push(&url, d, "flip").await;
    let journal = d.join("state/runs/flip/journal.jsonl");
    let done = done_lines(&journal);
    let done_ids: Vec<u64> = done.iter().map(|&(_, i)| i).collect();
    assert!(
        done_ids.contains(&1) && !done_ids.contains(&9) && done.len() < 20,
        "{done:?}"
    );
    let stored_before = stat(&stats(&url).await, "records_stored");
    assert!(stored_before < 200, "interrupted before the end");

    // Disk damage: segment 1's done line now reads `"index":9` (the digits differ in one
    // bit). Before checksums this replayed as "segment 9 done", so resume never sent it.
    let (line_no, _) = done.iter().copied().find(|&(_, i)| i == 1).unwrap();
    let body = std::fs::read_to_string(&journal).unwrap();
    let mut lines: Vec<String> = body.lines().map(String::from).collect();
    let flipped = lines[line_no - 1].replacen(r#""index":1,"#, r#""index":9,"#, 1);
    assert_ne!(flipped, lines[line_no - 1]);
    lines[line_no - 1] = flipped;
    std::fs::write(&journal, lines.join("\n") + "\n").unwrap();

    // status sees the damage without touching anything.
    let v = status_json(d, &cfg, "flip");
    let warning = v["journal_warning"].as_str().unwrap_or_default();
    assert!(
        warning.contains(&format!("line {line_no} (checksum mismatch")),
        "{v}"
    );
    assert!(
        v["counts"]["created"].as_u64().unwrap() < stored_before,
        "{v}"
    );

    let o = tokio::task::spawn_blocking({
        let (d, cfg) = (d.to_path_buf(), cfg.clone());
        move || {
            cmd(&d, &cfg, &["resume", "flip", "--headless"])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(
        t.contains(&journal.display().to_string())
            && t.contains(&format!("line {line_no} (checksum mismatch")),
        "resume names the damaged line: {t}"
    );
    assert!(t.contains("200 created"), "{t}");

    let st = stats(&url).await;
    assert_eq!(stat(&st, "records_stored"), 200, "{st}");
    assert_eq!(stat(&st, "records_created"), 200, "{st}");
    assert_eq!(stat(&st, "records_updated"), 0, "a redo is a replay: {st}");
    assert!(
        stat(&st, "idempotent_replays") >= 1,
        "segment 1 was redone under its key: {st}"
    );
    let v = status_json(d, &cfg, "flip");
    assert_eq!(v["counts"]["created"], 200, "{v}");
    assert_eq!(v["by_state"]["done"], 20, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_byte_in_the_manifest_stops_resume_with_an_error_naming_it() {
    let sim = Sim {
        per_record_ms: 10,
        ..Sim::default()
    }
    .start()
    .await;
    let url = sim.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = interrupted_push(&url, d, "mflip").await;
    let manifest = d.join("state/runs/mflip/manifest.json");
    let body = std::fs::read_to_string(&manifest).unwrap();
    // `"segment_size": 10` read as 30 would misplace every segment of the source.
    let bad = body.replacen("\"segment_size\": 10", "\"segment_size\": 30", 1);
    assert_ne!(bad, body);
    std::fs::write(&manifest, bad).unwrap();
    let stored = stat(&stats(&url).await, "records_stored");

    for args in [
        &["resume", "mflip", "--headless"][..],
        &["status", "mflip"][..],
    ] {
        let o = cmd(d, &cfg, args).output().unwrap();
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {t}");
        let error = t
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_default();
        assert!(
            error.contains(&manifest.display().to_string()) && error.contains("integrity check"),
            "{args:?}: {t}"
        );
    }
    // The listing shows the run as damaged instead of dropping it, and `resume` without
    // a run id stops on it rather than carrying on another run or saying there is none.
    let o = cmd(d, &cfg, &["status"]).output().unwrap();
    let t = text(&o);
    assert!(
        t.contains("mflip") && t.contains("damaged: cannot use manifest"),
        "{t}"
    );
    let o = cmd(d, &cfg, &["resume", "--headless"]).output().unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("integrity check"), "{t}");
    assert_eq!(
        stat(&stats(&url).await, "records_stored"),
        stored,
        "nothing was sent on a damaged manifest"
    );
}
