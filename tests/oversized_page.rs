//! A 300 MB page, through the real binary: refused past `api.max_page_bytes` with an
//! error naming the page and the key, while the process's peak memory (VmHWM, polled from
//! /proc) stays far below the page's size. Then the calmed server's pages are read.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Sim, cmd, pulled_ids, text, write_config};

/// `VmHWM` (peak resident memory) of `pid` in KiB, while it runs.
fn peak_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Runs the binary to its end, polling its peak memory; returns its output and the
/// highest VmHWM seen (the last reading before it exits is the run's high-water mark).
fn run_polled(dir: &Path, cfg: &Path, args: &[&str]) -> (std::process::Output, u64) {
    let mut child = cmd(dir, cfg, args).spawn().unwrap();
    let pid = child.id();
    let mut peak = 0;
    let until = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() && Instant::now() < until {
        if let Some(k) = peak_kib(pid) {
            peak = peak.max(k);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    (child.wait_with_output().unwrap(), peak)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_300_mb_page_is_refused_at_the_cap_without_holding_it() {
    let n = 40;
    let sim = Sim {
        suppliers: n,
        api_extra: "quirks = [\"huge_page\"]\n".into(),
        ..Sim::default()
    }
    .start()
    .await;
    let url = sim.url();
    let d = tempfile::tempdir().unwrap();
    let cfg = write_config(d.path(), &url, 20, 1);
    let mut text_cfg = std::fs::read_to_string(&cfg).unwrap();
    text_cfg = text_cfg.replace(
        "timeout_secs = 5\n",
        "timeout_secs = 5\nmax_page_bytes = 4194304\n",
    );
    std::fs::write(&cfg, text_cfg).unwrap();
    let out = d.path().join("pulled.jsonl");
    let args = [
        "run",
        "--headless",
        "--pull",
        out.to_str().unwrap(),
        "--run-id",
        "huge",
    ];
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let (dir, cfg2) = (d.path().to_path_buf(), cfg.clone());
    let (o, peak) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_polled(&dir, &cfg2, &args)
    })
    .await
    .unwrap();
    let all = text(&o);
    eprintln!("peak {peak} KiB; {all}");
    assert_ne!(o.status.code(), Some(0), "{all}");
    assert!(!all.contains("panicked"), "{all}");
    assert!(
        all.contains("the answer to GET /api/v1/suppliers/batch?offset=0")
            && all.contains("runs past api.max_page_bytes (4 MiB)")
            && all.contains("Raise api.max_page_bytes"),
        "the error names the page and the key: {all}"
    );
    assert!(peak > 0, "VmHWM was read");
    // The page is 300 MB; the cap 4 MiB. The whole process stays under 100 MiB.
    assert!(peak < 100 * 1024, "peak memory {peak} KiB");

    // The calmed server's pages are read under the same cap.
    let r = reqwest::Client::new()
        .post(format!("{url}/_sim/calm"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let args = ["run", "--headless", "--pull", out.to_str().unwrap()];
    let o = cmd(d.path(), &cfg, &args).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(pulled_ids(&out).len(), n as usize);
}
