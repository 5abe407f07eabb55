//! Pulls paged by a chain of cursors or next links, against the real simulator through the
//! real binary: a chain that never ends (one that loops back, one that goes on for ever)
//! ends the pull with an error naming why, or, when the server states a total, at the
//! total with every record once (docs/API.md §6.3).

mod common;

use std::path::{Path, PathBuf};

use common::{Sim, cmd, pulled_ids, stat, text, write_config};

/// Generated suppliers the simulator holds; pages of 10.
const N: u64 = 60;

fn sim(api_extra: &str) -> Sim {
    Sim {
        per_record_ms: 0,
        max_concurrent: 0,
        suppliers: N,
        api_extra: api_extra.into(),
        ..Sim::default()
    }
}

/// A config for `url` whose `[api]` section also holds `mapping`; segments of 20.
fn config(dir: &Path, url: &str, mapping: &str) -> PathBuf {
    let p = write_config(dir, url, 20, 2);
    let body = std::fs::read_to_string(&p).unwrap();
    std::fs::write(
        &p,
        body.replacen("[api]\n", &format!("[api]\n{mapping}\n"), 1),
    )
    .unwrap();
    p
}

/// Pulls into `<dir>/pulled.jsonl`; the exit code and everything the binary said.
fn pull(dir: &Path, cfg: &Path) -> (Option<i32>, String) {
    let out = dir.join("pulled.jsonl");
    let o = cmd(
        dir,
        cfg,
        &["run", "--headless", "--pull", out.to_str().unwrap()],
    )
    .output()
    .unwrap();
    (o.status.code(), text(&o))
}

fn all_once(dir: &Path) {
    let ids = pulled_ids(&dir.join("pulled.jsonl"));
    let want: Vec<String> = (1..=N).map(|i| format!("SUP-{i:06}")).collect();
    assert_eq!(ids, want, "every supplier exactly once");
}

const LOOPING: &str = "style = \"data_rest\"\nquirks = [\"looping_chain\"]";
const ENDLESS: &str = "style = \"data_rest\"\nquirks = [\"endless_chain\"]";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_link_chain_that_loops_back_is_refused_when_there_is_no_total() {
    let sim = sim(LOOPING).start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = config(
        d,
        &sim.url(),
        "preset = \"data_rest\"\npage_size = 10\ntotal = \"none\"",
    );
    let (code, all) = pull(d, &cfg);
    assert_ne!(code, Some(0), "{all}");
    assert!(all.contains("the server's chain of pages loops"), "{all}");
    assert!(
        all.contains("the next link given for the page at record 60 is the one it gave for the page at record 50"),
        "{all}"
    );
    // Six pages, and the last one is not read again through its own link.
    let pages = stat(&sim.stats(), "pull_pages");
    assert_eq!(pages, 6, "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_chain_that_loops_back_is_refused_too() {
    let sim = sim(&format!(
        "{LOOPING}\n[api.mapping]\npagination = \"cursor\"\ncursor = \"/meta/next\""
    ))
    .start()
    .await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = config(
        d,
        &sim.url(),
        "preset = \"data_rest\"\npage_size = 10\ntotal = \"none\"\n\
         pagination = \"cursor\"\ncursor = \"/meta/next\"",
    );
    let (code, all) = pull(d, &cfg);
    assert_ne!(code, Some(0), "{all}");
    assert!(
        all.contains("the cursor given for the page at record 60"),
        "{all}"
    );
    assert_eq!(stat(&sim.stats(), "pull_pages"), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_chain_with_a_total_ends_at_the_total() {
    let sim = sim(LOOPING).start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = config(d, &sim.url(), "preset = \"data_rest\"\npage_size = 10");
    let (code, all) = pull(d, &cfg);
    assert_eq!(code, Some(0), "{all}");
    all_once(d);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_chain_without_a_total_stops_at_max_pages() {
    let sim = sim(ENDLESS).start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = config(
        d,
        &sim.url(),
        "preset = \"data_rest\"\npage_size = 10\ntotal = \"none\"\nmax_pages = 25",
    );
    let started = std::time::Instant::now();
    let (code, all) = pull(d, &cfg);
    assert_ne!(code, Some(0), "{all}");
    assert!(
        all.contains("the server still gives more pages after 25 pages (250 records)"),
        "{all}"
    );
    assert!(all.contains("api.max_pages = 25"), "{all}");
    // Fresh links every page: only the bound ends it, after exactly that many pages.
    assert_eq!(stat(&sim.stats(), "pull_pages"), 25, "{all}");
    assert!(started.elapsed().as_secs() < 30, "{all}");
    // Nothing planned, nothing written.
    assert!(!d.join("pulled.jsonl").exists(), "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_chain_with_a_total_ends_at_the_total() {
    let sim = sim(ENDLESS).start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = config(d, &sim.url(), "preset = \"data_rest\"\npage_size = 10");
    let (code, all) = pull(d, &cfg);
    assert_eq!(code, Some(0), "{all}");
    all_once(d);
}

#[test]
fn max_pages_zero_is_refused_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = config(
        d,
        "http://127.0.0.1:9",
        "preset = \"data_rest\"\nmax_pages = 0",
    );
    let o = cmd(d, &cfg, &["config", "--check"]).output().unwrap();
    let all = text(&o);
    assert_eq!(o.status.code(), Some(2), "{all}");
    assert!(all.contains("api.max_pages"), "{all}");
}

/// Pages a kill can leave read but not stored: the plan's first page, and one for each
/// segment task the run keeps (twice `sync.concurrency`, 2 here: two at the server, two
/// read ahead).
const UNSTORED_AT_KILL: u64 = 1 + 2 * 2;

/// Segments the journal of `run_id` books as done, now.
fn done_segments(dir: &Path, run_id: &str) -> usize {
    let journal = dir.join(format!("state/runs/{run_id}/journal.jsonl"));
    std::fs::read_to_string(journal)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"kind\":\"segment\"") && l.contains("\"state\":\"done\""))
        .count()
}

/// A chain-paged pull killed (`kill -9`) after half its segments, then resumed: `(pages
/// read before the kill, pages the resume read, segments done at the kill, the journal)`. `S` segments
/// of one page each; the simulator answers 8 pages a second (the rest get 429), so the
/// kill lands mid-pull.
async fn kill_mid_pull_and_resume(profile_api: &str, mapping: &str) -> (u64, u64, usize, String) {
    const S: u64 = 40;
    let sim = Sim {
        suppliers: S * 10,
        rate_limit_per_sec: 8,
        ..sim(profile_api)
    }
    .start()
    .await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let cfg = write_config(&d, &sim.url(), 10, 2);
    let body = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        body.replacen("[api]\n", &format!("[api]\n{mapping}\n"), 1),
    )
    .unwrap();
    let out = d.join("pulled.jsonl");
    let (d2, cfg2, out2) = (d.clone(), cfg.clone(), out.clone());
    let (done, journal) = tokio::task::spawn_blocking(move || {
        let args = [
            "run",
            "--headless",
            "--run-id",
            "chain",
            "--pull",
            out2.to_str().unwrap(),
        ];
        let mut child = cmd(&d2, &cfg2, &args).spawn().unwrap();
        let t = std::time::Instant::now();
        while done_segments(&d2, "chain") < (S / 2) as usize {
            assert!(
                t.elapsed() < std::time::Duration::from_secs(60),
                "half the segments in a minute"
            );
            assert!(child.try_wait().unwrap().is_none(), "the pull ended early");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let journal = std::fs::read_to_string(d2.join("state/runs/chain/journal.jsonl")).unwrap();
        (done_segments(&d2, "chain"), journal)
    })
    .await
    .unwrap();
    assert!(done < S as usize, "the kill landed mid-pull");
    let before = stat(&sim.stats(), "pull_pages");
    let (d2, cfg2) = (d.clone(), cfg.clone());
    let o = tokio::task::spawn_blocking(move || {
        cmd(&d2, &cfg2, &["resume", "chain", "--headless"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let ids = pulled_ids(&out);
    let want: Vec<String> = (1..=S * 10).map(|i| format!("SUP-{i:06}")).collect();
    assert_eq!(ids, want, "every supplier exactly once");
    let after = stat(&sim.stats(), "pull_pages") - before;
    (before, after, done, journal)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_next_link_pull_goes_on_where_it_stopped() {
    let (before, resumed, done, journal) =
        kill_mid_pull_and_resume("style = \"data_rest\"", "preset = \"data_rest\"").await;
    eprintln!("pages: {before} before the kill ({done} segments done), {resumed} on resume");
    // The journal holds where the chain goes on after each finished segment.
    assert!(
        journal.contains("\"continuation\":{\"offset\":") && journal.contains("after="),
        "{journal}"
    );
    // Only the segments not done are read: one page each. Walking again from the first
    // page would read the `done` pages once more.
    let left = 40 - done as u64;
    assert_eq!(
        resumed, left,
        "resume read {resumed} pages for {left} segments left"
    );
    // Every page once in all, but the plan's first page and the pages of the segments
    // in flight or read ahead at the kill: read, never stored, so read again.
    assert!(
        before <= done as u64 + UNSTORED_AT_KILL,
        "{before} pages for {done} segments"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_cursor_pull_goes_on_where_it_stopped() {
    let cursor = "[api.mapping]\npagination = \"cursor\"\ncursor = \"/meta/next\"";
    let (before, resumed, done, journal) = kill_mid_pull_and_resume(
        &format!("style = \"data_rest\"\n{cursor}"),
        "preset = \"data_rest\"\npagination = \"cursor\"\ncursor = \"/meta/next\"",
    )
    .await;
    assert!(journal.contains("\"next\":\"c-"), "{journal}");
    assert_eq!(resumed, 40 - done as u64, "{resumed} pages, {done} done");
    assert!(
        before <= done as u64 + UNSTORED_AT_KILL,
        "{before} pages for {done} segments"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_link_carrying_a_credential_is_never_journaled() {
    // The server's links carry `access_token=…` (some APIs sign their next links).
    let (_, resumed, done, journal) = kill_mid_pull_and_resume(
        "style = \"data_rest\"\n[api.mapping]\npull_query = [\"access_token=sekr1t-link-token\"]",
        "preset = \"data_rest\"",
    )
    .await;
    assert!(!journal.contains("sekr1t"), "{journal}");
    assert!(!journal.contains("continuation"), "{journal}");
    // Without a journaled point the resume walks the chain from its first page again
    // (every page at least once), and still writes every record once.
    assert!(done > 0 && resumed >= 40, "{resumed} pages, {done} done");
}
