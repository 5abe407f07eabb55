//! Pulls paged by offset or page number whose API states no total, through the real
//! binary against the simulator: the pass that counts the records keeps the pages it
//! read, so each page is fetched once (and the empty page that ends the list), every
//! record is written once, and a `kill -9` mid-pull still resumes from the journal.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Sim, cmd, pulled_ids, stat, text, write_config};

fn sim(suppliers: u64, api_extra: &str) -> Sim {
    Sim {
        per_record_ms: 0,
        max_concurrent: 0,
        suppliers,
        api_extra: api_extra.into(),
        ..Sim::default()
    }
}

/// A config for `url` with segments of `segment` and `mapping` in its `[api]` section.
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

fn all_once(out: &Path, n: u64) {
    let want: Vec<String> = (1..=n).map(|i| format!("SUP-{i:06}")).collect();
    assert_eq!(pulled_ids(out), want, "every supplier exactly once");
}

/// Pulls `n` suppliers in pages of 10 and segments of 20; asserts exit 0, every record
/// once, and returns the pages the simulator served.
async fn pull_pages(profile_api: &str, mapping: &str, n: u64) -> u64 {
    pull_in_segments(profile_api, mapping, n, 20).await
}

async fn pull_in_segments(profile_api: &str, mapping: &str, n: u64, segment: usize) -> u64 {
    let sim = sim(n, profile_api).start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let cfg = config(&d, &sim.url(), segment, mapping);
    let out = d.join("pulled.jsonl");
    let (d2, out2) = (d.clone(), out.clone());
    let o = tokio::task::spawn_blocking(move || {
        cmd(
            &d2,
            &cfg,
            &["run", "--headless", "--pull", out2.to_str().unwrap()],
        )
        .output()
        .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    all_once(&out, n);
    stat(&sim.stats(), "pull_pages")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offset_pull_without_a_total_reads_each_page_once() {
    // 60 records in pages of 10: six full pages, then the empty page that ends the list
    // (a full page says nothing of what follows it). Counting and then reading again made
    // 13 requests.
    let pages = pull_pages("", "page_size = 10\ntotal = \"none\"", 60).await;
    assert_eq!(pages, 7, "six pages and the empty one after them");
}

/// Segments of 25 over pages of 10: a segment ends mid-page, and the next one starts on
/// the rest of that page, which is short without being the end of the list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_that_end_mid_page_share_the_page_read_once() {
    let pages = pull_in_segments("", "page_size = 10\ntotal = \"none\"", 60, 25).await;
    assert_eq!(pages, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_numbered_pull_without_a_total_reads_each_page_once() {
    let pages = pull_pages(
        "style = \"data_rest\"\n[api.mapping]\npagination = \"page\"",
        "preset = \"data_rest\"\npagination = \"page\"\npage_size = 10\ntotal = \"none\"",
        55,
    )
    .await;
    // Five full pages and a short sixth, which ends the list.
    assert_eq!(pages, 6);
}

/// Segments the journal of `run_id` books as done, now.
fn done_segments(dir: &Path, run_id: &str) -> usize {
    let journal = dir.join(format!("state/runs/{run_id}/journal.jsonl"));
    std::fs::read_to_string(journal)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"kind\":\"segment\"") && l.contains("\"state\":\"done\""))
        .count()
}

/// Killed (`kill -9`) once a few of its 200 segments are journaled (the rest come from
/// the pages the counting pass kept, each a sink write and a journal fsync), the pull
/// resumes from its journal: the resume reads only what was not done, and every record
/// is written once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_mid_pull_without_a_total_resumes_from_the_journal() {
    const N: u64 = 2000;
    let sim = sim(N, "").start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let cfg = config(&d, &sim.url(), 10, "page_size = 10\ntotal = \"none\"");
    let out = d.join("pulled.jsonl");
    let (d2, cfg2, out2) = (d.clone(), cfg.clone(), out.clone());
    let done = tokio::task::spawn_blocking(move || {
        let args = [
            "run",
            "--headless",
            "--run-id",
            "once",
            "--pull",
            out2.to_str().unwrap(),
        ];
        let mut child = cmd(&d2, &cfg2, &args).spawn().unwrap();
        let t = Instant::now();
        while done_segments(&d2, "once") < 5 {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "5 segments in a minute"
            );
            assert!(child.try_wait().unwrap().is_none(), "the pull ended early");
            std::thread::sleep(Duration::from_millis(1));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        done_segments(&d2, "once")
    })
    .await
    .unwrap();
    eprintln!("{done} of 200 segments done at the kill");
    assert!(
        done < 200,
        "the kill landed mid-pull ({done} segments done)"
    );
    let counted = stat(&sim.stats(), "pull_pages");
    assert_eq!(counted, 201, "the counting pass read each page once");
    let (d2, cfg2) = (d.clone(), cfg.clone());
    let o = tokio::task::spawn_blocking(move || {
        cmd(&d2, &cfg2, &["resume", "once", "--headless"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    all_once(&out, N);
    // The resume knows the total from the run's manifest: it counts nothing again and
    // reads a page for each segment the journal did not book as done (a line the kill
    // tore is seen here but not booked: one more).
    let resumed = stat(&sim.stats(), "pull_pages") - counted;
    let left = 200 - done as u64;
    assert!(
        (left..=left + 1).contains(&resumed),
        "{resumed} pages read on resume, {done} of 200 segments done at the kill"
    );
}
