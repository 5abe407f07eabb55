//! A pull adds up, through the real binary against the simulator: "pulled" is the number of
//! records in the output file, always; a server whose pages repeat records, end before
//! the total they state, or change that total mid-pull ends the run "completed with
//! failures" (exit 3) naming the shortfall; a record that does not fit the mapping goes to
//! the rejects file and the run ends "completed with rejects" (exit 6) with every other
//! record written (docs/API.md §5.2, README "Pulling").

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{Sim, cmd, pulled_ids, stat, text, write_config};

fn sim(suppliers: u64, api_extra: &str) -> Sim {
    Sim {
        per_record_ms: 0,
        max_concurrent: 0,
        max_batch: 10,
        suppliers,
        api_extra: api_extra.into(),
        ..Sim::default()
    }
}

/// A config for `url` with `mapping` lines in its `[api]` section.
fn config(dir: &Path, url: &str, segment: usize, mapping: &str) -> PathBuf {
    let p = write_config(dir, url, segment, 2);
    let body = std::fs::read_to_string(&p).unwrap();
    std::fs::write(
        &p,
        body.replacen("[api]\n", &format!("[api]\n{mapping}\n"), 1),
    )
    .unwrap();
    p
}

/// Pulls into `<dir>/pulled.jsonl` as run `id`, with `--json` when asked.
async fn pull(dir: &Path, cfg: &Path, id: &str, json: bool) -> Output {
    let (d, c, id) = (dir.to_path_buf(), cfg.to_path_buf(), id.to_string());
    tokio::task::spawn_blocking(move || {
        let out = d.join("pulled.jsonl");
        let mut args = vec!["run", "--headless", "--run-id", &id];
        if json {
            args.push("--json");
        }
        args.extend(["--pull", out.to_str().unwrap()]);
        cmd(&d, &c, &args).output().unwrap()
    })
    .await
    .unwrap()
}

fn lines(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .count() as u64
}

/// `status --json` of run `id`.
fn status(dir: &Path, cfg: &Path, id: &str) -> (serde_json::Value, String) {
    let o = cmd(dir, cfg, &["status", id, "--json"]).output().unwrap();
    let json = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
    let t = cmd(dir, cfg, &["status", id]).output().unwrap();
    (json, String::from_utf8_lossy(&t.stdout).into_owned())
}

/// The figure on the summary's "records: N pulled" line.
fn reported_pulled(all: &str) -> u64 {
    let line = all
        .lines()
        .find(|l| l.starts_with("records: "))
        .unwrap_or_else(|| panic!("no records line: {all}"));
    line["records: ".len()..]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"))
}

/// The pull's figures agree: the summary's, `status`'s and the output file's.
fn adds_up(dir: &Path, cfg: &Path, id: &str, all: &str) -> u64 {
    let in_file = lines(&dir.join("pulled.jsonl"));
    assert_eq!(reported_pulled(all), in_file, "{all}");
    let (st, _) = status(dir, cfg, id);
    assert_eq!(st["counts"]["pulled"].as_u64(), Some(in_file), "{st}");
    let ids = pulled_ids(&dir.join("pulled.jsonl"));
    let mut once = ids.clone();
    once.dedup();
    assert_eq!(ids, once, "each record once");
    in_file
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_repeats_its_first_page_is_reported_never_exit_0() {
    let sim = sim(50, "quirks = [\"repeat_page\"]").start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = config(d, &sim.url(), 10, "");
    let o = pull(d, &cfg, "rep", true).await;
    let all = text(&o);
    assert_eq!(o.status.code(), Some(3), "{all}");
    assert!(all.contains("completed with failures"), "{all}");
    // The same 10 records on every page: the file holds them once, and says so.
    assert_eq!(adds_up(d, &cfg, "rep", &all), 10);
    assert!(all.contains("repeated 10 records already written"), "{all}");
    assert!(
        all.contains("(40 repeats in all, each written once)"),
        "{all}"
    );
    assert!(
        all.contains("the output holds 10 of the 50 records"),
        "{all}"
    );
    // The notice is a --json event too.
    let notice = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["type"] == "notice" && v["message"].as_str().unwrap_or("").contains("repeat"));
    assert!(notice.is_some(), "{all}");
    // And the journal keeps it for `status` once the process is gone.
    let (st, txt) = status(d, &cfg, "rep");
    assert_eq!(st["exit_code"].as_u64(), Some(3), "{st}");
    assert!(
        txt.contains("warning:") && txt.contains("repeats in all"),
        "{txt}"
    );
    assert_eq!(
        stat(&sim.stats(), "pull_pages"),
        6,
        "the plan's page and five"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_ignoring_styled_pager_is_reported_too() {
    let cursor = "[api.mapping]\npagination = \"cursor\"\ncursor = \"/meta/next\"";
    let sim = sim(
        50,
        &format!("style = \"data_rest\"\nquirks = [\"repeat_page\"]\n{cursor}"),
    )
    .start()
    .await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = config(
        d,
        &sim.url(),
        20,
        "preset = \"data_rest\"\npage_size = 10\npagination = \"cursor\"\ncursor = \"/meta/next\"",
    );
    let o = pull(d, &cfg, "cur", false).await;
    let all = text(&o);
    assert_eq!(o.status.code(), Some(3), "{all}");
    assert_eq!(adds_up(d, &cfg, "cur", &all), 10);
    assert!(
        all.contains("page 2 repeated 10 records already written"),
        "{all}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_that_ends_before_the_stated_total_names_the_shortfall() {
    let sim = sim(30, "quirks = [\"short_chain\"]").start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = config(d, &sim.url(), 50, "");
    let o = pull(d, &cfg, "short", false).await;
    let all = text(&o);
    assert_eq!(o.status.code(), Some(3), "{all}");
    assert!(
        all.contains("expected 1000 records, the server's pages ended after 30 (970 short)"),
        "{all}"
    );
    assert!(all.contains("segments: 20 of 20 done, 0 failed"), "{all}");
    // Every record the server has is written, once.
    assert_eq!(adds_up(d, &cfg, "short", &all), 30);
    let (st, _) = status(d, &cfg, "short");
    assert_eq!(st["outcome"], "completed with failures", "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_total_that_changes_mid_pull_is_reported() {
    let sim = sim(50, "quirks = [\"shifting_total\"]").start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = config(d, &sim.url(), 10, "");
    let o = pull(d, &cfg, "shift", false).await;
    let all = text(&o);
    assert_eq!(o.status.code(), Some(3), "{all}");
    assert!(
        all.contains(
            "the server's total changed mid-pull: 50 records when the pull was planned, 40 on a later page"
        ),
        "{all}"
    );
    assert_eq!(adds_up(d, &cfg, "shift", &all), 50);
}

/// The stored records of a run's rejects file.
fn rejects(dir: &Path, id: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join(format!("state/runs/{id}/rejects.jsonl")))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn misfit_case(api_extra: &str, mapping: &str) {
    let sim = sim(30, api_extra).start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = config(d, &sim.url(), 10, mapping);
    let o = pull(d, &cfg, "misfit", false).await;
    let all = text(&o);
    assert_eq!(o.status.code(), Some(6), "{all}");
    assert!(all.contains("completed with rejects"), "{all}");
    assert!(all.contains("29 pulled, 1 rejected"), "{all}");
    assert!(
        !all.contains("refused") && !all.contains("HTTP 200"),
        "{all}"
    );
    // The other 29 are written; the misfit is a reject with its reason.
    assert_eq!(adds_up(d, &cfg, "misfit", &all), 29);
    let r = rejects(d, "misfit");
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0]["supplier_id"], "SUP-000001", "{r:?}");
    assert_eq!(r[0]["origin"], "mapping", "{r:?}");
    let why = r[0]["reason"].as_str().unwrap();
    assert!(
        why.contains("did not fit the mapping") && why.contains("country"),
        "{why}"
    );
    let (st, _) = status(d, &cfg, "misfit");
    assert_eq!(st["exit_code"].as_u64(), Some(6), "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_missing_a_field_is_a_reject_and_the_rest_are_written() {
    misfit_case("quirks = [\"missing_country\"]", "").await;
}

/// Counting by paging (no total) read the misfit while planning, and once failed the whole
/// pull as "cannot learn how many suppliers to pull: … refused (HTTP 200)".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misfit_met_while_counting_does_not_stop_the_plan() {
    misfit_case(
        "style = \"data_rest\"\nquirks = [\"missing_country\"]",
        "preset = \"data_rest\"\npage_size = 10\ntotal = \"none\"",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_does_not_fit_at_all_says_so_without_refused() {
    let sim = sim(30, "style = \"data_rest\"").start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The records are under `/data`; the mapping looks under `/items`.
    let cfg = config(
        d,
        &sim.url(),
        10,
        "preset = \"data_rest\"\npage_size = 10\nrecords = \"/items\"\ntotal = \"none\"",
    );
    let o = pull(d, &cfg, "nofit", false).await;
    let all = text(&o);
    assert_ne!(o.status.code(), Some(0), "{all}");
    assert!(
        all.contains("did not fit the mapping: records pointer `/items`"),
        "{all}"
    );
    assert!(
        !all.contains("refused") && !all.contains("HTTP 200"),
        "{all}"
    );
}

fn done_segments(dir: &Path, run_id: &str) -> usize {
    let journal = dir.join(format!("state/runs/{run_id}/journal.jsonl"));
    std::fs::read_to_string(journal)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"kind\":\"segment\"") && l.contains("\"state\":\"done\""))
        .count()
}

/// Repeats count across a `kill -9` and a resume: the ids the killed process wrote are
/// rebuilt from the parts its journal vouches for, so the resumed process drops them too
/// and every figure (summary, `status`, file) agrees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeats_are_dropped_across_a_kill_and_a_resume() {
    const S: u64 = 40;
    let sim = Sim {
        rate_limit_per_sec: 8,
        ..sim(S * 10, "quirks = [\"repeat_page\"]")
    }
    .start()
    .await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let cfg = config(&d, &sim.url(), 10, "");
    let (d2, cfg2) = (d.clone(), cfg.clone());
    let done = tokio::task::spawn_blocking(move || {
        let out = d2.join("pulled.jsonl");
        let args = [
            "run",
            "--headless",
            "--run-id",
            "kill",
            "--pull",
            out.to_str().unwrap(),
        ];
        let mut child = cmd(&d2, &cfg2, &args).spawn().unwrap();
        let t = std::time::Instant::now();
        while done_segments(&d2, "kill") < (S / 2) as usize {
            assert!(
                t.elapsed() < std::time::Duration::from_secs(60),
                "half in a minute"
            );
            assert!(child.try_wait().unwrap().is_none(), "the pull ended early");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        done_segments(&d2, "kill")
    })
    .await
    .unwrap();
    assert!(done < S as usize, "the kill landed mid-pull");
    let (d2, cfg2) = (d.clone(), cfg.clone());
    let o = tokio::task::spawn_blocking(move || {
        cmd(&d2, &cfg2, &["resume", "kill", "--headless"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let all = text(&o);
    assert_eq!(o.status.code(), Some(3), "{all}");
    assert_eq!(adds_up(&d, &cfg, "kill", &all), 10);
    assert!(
        all.contains("(390 repeats in all, each written once)"),
        "{all}"
    );
}

/// A server that repeats its pages repeats its misfits too: each is rejected once, and the
/// repeats outrank the reject (exit 3, not 6).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_misfit_is_rejected_once() {
    let sim = sim(50, "quirks = [\"repeat_page\", \"missing_country\"]")
        .start()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = config(d, &sim.url(), 10, "");
    let o = pull(d, &cfg, "both", false).await;
    let all = text(&o);
    assert_eq!(o.status.code(), Some(3), "{all}");
    assert!(all.contains("9 pulled, 1 rejected"), "{all}");
    assert!(
        all.contains("(40 repeats in all, each written once)"),
        "{all}"
    );
    assert_eq!(adds_up(d, &cfg, "both", &all), 9);
    assert_eq!(rejects(d, "both").len(), 1);
}
