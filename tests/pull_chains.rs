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
