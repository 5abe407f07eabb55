//! Shards through the real binary: four processes, four state dirs, one source, one
//! simulator. Every record is applied exactly once (the simulator's own counts), the
//! shards' slices are disjoint and cover the source, a shard killed with SIGKILL carries
//! on from its journal, a run is never carried on as another shard, and `status --shards`
//! sums the four journals.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Output};
use std::time::{Duration, Instant};

use common::{Sim, cmd, pulled_ids, stat, text, write_config, write_csv};

const N: u64 = 300;

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

/// Shard `k` of 4, as a Kubernetes Indexed Job starts it: `--shards 4` and the index in
/// `JOB_COMPLETION_INDEX`; its own state dir `<d>/shard-k`.
fn shard_cmd(d: &Path, cfg: &Path, k: u32, what: &[&str]) -> std::process::Command {
    let mut c = cmd(&d.join(format!("shard-{k}")), cfg, what);
    c.env("JOB_COMPLETION_INDEX", k.to_string());
    c
}

fn push_args(src: &Path) -> Vec<String> {
    [
        "run",
        "--headless",
        "--shards",
        "4",
        "--run-id",
        "nightly",
        "--source",
        src.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn finish(c: Child) -> Output {
    let o = c.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_shard_processes_push_every_record_exactly_once_even_through_a_kill_9() {
    let sim = Sim {
        // Slow enough that the killed shard is still mid-run when it is killed.
        per_record_ms: 15,
        max_concurrent: 32,
        ..Sim::default()
    }
    .start()
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let d: PathBuf = tmp.path().into();
    let cfg = write_config(&d, &sim.url(), 10, 1);
    let src = d.join("suppliers.csv");
    write_csv(&src, N, &[]);
    let args = push_args(&src);

    let (d2, cfg2) = (d.clone(), cfg.clone());
    tokio::task::spawn_blocking(move || {
        let kids: Vec<Child> = [0, 1, 3]
            .iter()
            .map(|&k| shard_cmd(&d2, &cfg2, k, &strs(&args)).spawn().unwrap())
            .collect();
        // Shard 2 is killed once its first segment is journaled, then started again with
        // the same command: it carries on with its journal.
        let journal = d2.join("shard-2/state/runs/nightly-s2of4/journal.jsonl");
        let mut victim = shard_cmd(&d2, &cfg2, 2, &strs(&args)).spawn().unwrap();
        wait_for(
            "shard 2's first journaled segment",
            Duration::from_secs(30),
            || std::fs::read_to_string(&journal).is_ok_and(|j| j.contains("\"segment\"")),
        );
        assert!(
            victim.try_wait().unwrap().is_none(),
            "shard 2 must still be running when it is killed"
        );
        victim.kill().unwrap(); // SIGKILL
        victim.wait().unwrap();
        let again = finish(shard_cmd(&d2, &cfg2, 2, &strs(&args)).spawn().unwrap());
        let said = String::from_utf8_lossy(&again.stderr);
        assert!(said.contains("carrying on with its journal"), "{said}");
        for k in kids {
            finish(k);
        }
    })
    .await
    .unwrap();

    let st = sim.stats();
    assert_eq!(
        stat(&st, "records_total"),
        N,
        "the union is the source: {st}"
    );
    assert_eq!(stat(&st, "records_created"), N, "{st}");
    assert_eq!(stat(&st, "records_updated"), 0, "no record twice: {st}");
    assert_eq!(stat(&st, "records_unchanged"), 0, "no record twice: {st}");

    // The slices are disjoint and cover the source: the four manifests' totals add up.
    let mut total = 0;
    for k in 0..4 {
        let m = std::fs::read_to_string(d.join(format!(
            "shard-{k}/state/runs/nightly-s{k}of4/manifest.json"
        )))
        .unwrap();
        let m: serde_json::Value = serde_json::from_str(&m).unwrap();
        assert_eq!(m["shard"], serde_json::json!({"index": k, "count": 4}));
        assert_eq!(m["shard_group"], "nightly");
        total += m["total_records"].as_u64().unwrap();
    }
    assert_eq!(total, N);

    // A shard's run is never carried on as another shard.
    let o = cmd(
        &d.join("shard-0"),
        &cfg,
        &["resume", "nightly-s0of4", "--headless", "--shard", "1/4"],
    )
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("run nightly-s0of4 is shard 0/4; it cannot carry on as shard 1/4"),
        "{said}"
    );
    assert_eq!(stat(&sim.stats(), "records_created"), N);

    // The fleet view: the four journals summed, found through a glob.
    let glob = d.join("shard-*/state");
    let o = cmd(
        &d.join("shard-0"),
        &cfg,
        &[
            "status",
            "--shards",
            "nightly",
            "--in",
            glob.to_str().unwrap(),
            "--json",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["group"], "nightly", "{v}");
    assert_eq!(v["shards_found"], 4, "{v}");
    assert_eq!(v["shards_expected"], 4, "{v}");
    assert_eq!(v["total_records"], N, "{v}");
    assert_eq!(v["counts"]["created"], N, "{v}");
    assert_eq!(v["complete"], true, "{v}");
    let o = cmd(
        &d.join("shard-0"),
        &cfg,
        &[
            "status",
            "--shards",
            "nightly",
            "--in",
            glob.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(said.contains("4 of 4 shards"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_shard_pulls_write_every_record_once_between_them() {
    let sim = Sim {
        suppliers: N,
        max_concurrent: 32,
        ..Sim::default()
    }
    .start()
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let d: PathBuf = tmp.path().into();
    let cfg = write_config(&d, &sim.url(), 20, 2);
    let d2 = d.clone();
    let ids = tokio::task::spawn_blocking(move || {
        let kids: Vec<(u32, Child)> = (0..4)
            .map(|k| {
                let out = d2.join(format!("part-{k}.jsonl"));
                let args = [
                    "run",
                    "--headless",
                    "--shard",
                    &format!("{k}/4"),
                    "--pull",
                    out.to_str().unwrap(),
                ];
                (
                    k,
                    cmd(&d2.join(format!("shard-{k}")), &cfg, &args)
                        .spawn()
                        .unwrap(),
                )
            })
            .collect();
        let mut ids = Vec::new();
        for (k, c) in kids {
            finish(c);
            let part = pulled_ids(&d2.join(format!("part-{k}.jsonl")));
            assert!(!part.is_empty(), "shard {k} pulled nothing");
            ids.extend(part);
        }
        ids
    })
    .await
    .unwrap();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "no record in two shards");
    assert_eq!(
        ids.len() as u64,
        N,
        "the shards together hold the whole list"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_shard_arguments_are_usage_errors_that_say_what_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let d: PathBuf = tmp.path().into();
    let cfg = write_config(&d, "http://127.0.0.1:9", 10, 1);
    let src = d.join("suppliers.csv");
    write_csv(&src, 5, &[]);
    let s = src.to_str().unwrap();
    let cases: [(&[&str], Option<&str>, &str); 4] = [
        (
            &["--shard", "4/4"],
            None,
            "shard 4 does not exist among 4 shards",
        ),
        (&["--shard", "0/0"], None, "at least 1"),
        (&["--shards", "4"], None, "JOB_COMPLETION_INDEX"),
        (
            &["--shards", "4"],
            Some("x1"),
            "\"x1\" is not a shard index",
        ),
    ];
    for (extra, index, want) in cases {
        let mut args = vec!["run", "--headless", "--source", s];
        args.extend_from_slice(extra);
        let mut c = cmd(&d, &cfg, &args);
        c.env_remove("JOB_COMPLETION_INDEX");
        if let Some(i) = index {
            c.env("JOB_COMPLETION_INDEX", i);
        }
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", text(&o));
        let said = String::from_utf8_lossy(&o.stderr);
        assert!(said.contains(want), "{extra:?}: {said}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_through_a_chain_of_next_links_is_not_sharded() {
    let sim = Sim {
        suppliers: 20,
        api_extra: "style = \"data_rest\"".into(),
        ..Sim::default()
    }
    .start()
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let d: PathBuf = tmp.path().into();
    let cfg = write_config(&d, &sim.url(), 5, 1);
    let out = d.join("part.jsonl");
    let o = cmd(
        &d,
        &cfg,
        &[
            "--set",
            "api.preset=data_rest",
            "run",
            "--headless",
            "--shard",
            "0/2",
            "--pull",
            out.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("a pull cannot be sharded with api.pagination = \"next_link\""),
        "{said}"
    );
    assert!(!out.exists(), "nothing pulled");
}
