//! `status` reads a run the way the run's own summary did, through the real binary: for a
//! run that ends with rejects and a failed segment, every count, the segment tallies, the
//! outcome word and the exit code of `status RUN_ID --json` and of the `status` listing are
//! the ones the run's `--json` summary gave.

mod common;

use common::{Sim, cmd, text, write_config, write_csv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_the_runs_own_summary_agree_on_every_count() {
    // Batches above 40 records are refused (413, permanent): a segment of 50 valid records
    // fails; one whose 12 invalid rows stay behind sends 38 and is done with rejects.
    let sim = Sim {
        max_batch: 40,
        ..Sim::default()
    }
    .start()
    .await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let cfg = write_config(&d, &sim.url(), 50, 2);
    let bad: Vec<String> = (0..12)
        .map(|i| format!("SUP-9{i:05},Bad {i},XX,approved,b{i}@example.com,,2026-11-02T09:14:00Z"))
        .collect();
    let bad: Vec<&str> = bad.iter().map(String::as_str).collect();
    let src = d.join("mixed.csv");
    write_csv(&src, 88, &bad);
    let o = tokio::task::spawn_blocking({
        let (d, cfg, src) = (d.clone(), cfg.clone(), src.clone());
        move || {
            cmd(
                &d,
                &cfg,
                &["run", "--json", "--run-id", "agree-0001", "--source"],
            )
            .arg(&src)
            .output()
            .unwrap()
        }
    })
    .await
    .unwrap();
    let all = text(&o);
    assert_eq!(o.status.code(), Some(3), "a failed segment: {all}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let summary: serde_json::Value = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["type"] == "summary")
        .unwrap_or_else(|| panic!("no summary event: {all}"));
    assert!(
        summary["counts"]["rejected"].as_u64().unwrap_or(0) >= 12,
        "the invalid rows are rejects: {summary}"
    );
    assert_eq!(summary["segments_failed"], 1, "{summary}");

    let st = cmd(&d, &cfg, &["status", "agree-0001", "--json"])
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(0), "{}", text(&st));
    let status: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(status["counts"], summary["counts"], "{status}\n{summary}");
    assert_eq!(status["segments"], summary["segments_total"], "{status}");
    let by = |k: &str| status["by_state"][k].as_u64().unwrap_or(0);
    assert_eq!(
        by("done") + by("done with rejects"),
        summary["segments_done"].as_u64().unwrap(),
        "{status}\n{summary}"
    );
    assert_eq!(
        by("failed"),
        summary["segments_failed"].as_u64().unwrap(),
        "{status}"
    );
    assert_eq!(status["outcome"], summary["outcome"], "{status}\n{summary}");
    assert_eq!(status["exit_code"], summary["exit_code"], "{status}");
    assert_eq!(status["exit_code"], 3, "{status}");

    // The listing says the same outcome and tallies.
    let ls = cmd(&d, &cfg, &["status"]).output().unwrap();
    let ls = String::from_utf8_lossy(&ls.stdout).into_owned();
    let line = ls
        .lines()
        .find(|l| l.contains("agree-0001"))
        .unwrap_or_default();
    let word = summary["outcome"].as_str().unwrap();
    let tally: Vec<&str> = line.split_whitespace().collect();
    let of = format!("{}/{}", summary["segments_done"], summary["segments_total"]);
    assert!(
        line.contains(word) && tally.contains(&of.as_str()),
        "{line:?} vs {of:?} {word:?}"
    );
    assert!(
        line.contains(&format!("done, {} failed", summary["segments_failed"])),
        "{line:?}"
    );
}
