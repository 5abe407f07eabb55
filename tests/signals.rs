//! What systemd, Kubernetes and `timeout` send: SIGTERM, SIGHUP and SIGINT to the real
//! binary running headless against the in-process simulator. Each stops the run like
//! Ctrl-C (in-flight segments finish, the journal is consistent, the summary and the resume
//! command go to stdout, exit 5); a second signal stops at once. A `resume` afterwards
//! stores every record exactly once.

mod common;

use std::path::PathBuf;
use std::process::{Child, Output};
use std::time::{Duration, Instant};

use common::{PATIENT, Sim, cmd, stat, stats, text, write_config_with, write_csv};

struct Setup {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    cfg: PathBuf,
    src: PathBuf,
    records: u64,
    segment: u64,
}

/// `records` suppliers in segments of `segment`, two at a time.
fn setup(url: &str, records: u64, segment: u64) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let cfg = write_config_with(&d, url, segment as usize, 2, PATIENT);
    let src = d.join("suppliers.csv");
    write_csv(&src, records, &[]);
    Setup {
        _dir: dir,
        dir: d,
        cfg,
        src,
        records,
        segment,
    }
}

/// `run --headless` of the whole file as run `run_id`, started once its manifest exists.
fn start(s: &Setup, run_id: &str) -> Child {
    let child = cmd(
        &s.dir,
        &s.cfg,
        &[
            "run",
            "--headless",
            "--run-id",
            run_id,
            "--source",
            s.src.to_str().unwrap(),
        ],
    )
    .spawn()
    .unwrap();
    let manifest = s.dir.join(format!("state/runs/{run_id}/manifest.json"));
    let t = Instant::now();
    while !manifest.exists() {
        assert!(t.elapsed() < Duration::from_secs(20), "no manifest");
        std::thread::sleep(Duration::from_millis(5));
    }
    child
}

fn kill(child: &Child, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

fn status_json(s: &Setup, run_id: &str) -> serde_json::Value {
    let o = cmd(&s.dir, &s.cfg, &["status", run_id, "--json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The stopped run: exit 5, its summary and resume command on stderr, and a journal whose
/// finished segments account for every record it says were created.
fn assert_stopped_resumably(s: &Setup, run_id: &str, o: &Output) -> u64 {
    let out = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(5), "{}", text(o));
    assert!(
        out.contains(&format!("run {run_id} (push) interrupted")),
        "{}",
        text(o)
    );
    assert!(out.contains(&format!(" resume {run_id}")), "{}", text(o));
    assert!(!text(o).contains("panicked"), "{}", text(o));
    let v = status_json(s, run_id);
    let done = v["by_state"]["done"].as_u64().unwrap_or(0);
    assert!(done < s.records / s.segment, "stopped before the end: {v}");
    assert_eq!(
        v["counts"]["created"].as_u64(),
        Some(done * s.segment),
        "the journal's counts are its done segments': {v}"
    );
    done
}

/// `resume` finishes the run; the server then holds every record once, none updated.
async fn assert_resume_stores_every_record_once(s: &Setup, run_id: &str, url: &str) {
    let (dir, cfg, id) = (s.dir.clone(), s.cfg.clone(), run_id.to_string());
    let o = tokio::task::spawn_blocking(move || {
        cmd(&dir, &cfg, &["resume", &id, "--headless"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let st = stats(url).await;
    assert_eq!(stat(&st, "records_stored"), s.records, "{st}");
    assert_eq!(stat(&st, "records_created"), s.records, "{st}");
    assert_eq!(
        stat(&st, "records_updated"),
        0,
        "a resend is a replay: {st}"
    );
    let v = status_json(s, run_id);
    assert_eq!(v["counts"]["created"].as_u64(), Some(s.records), "{v}");
    assert_eq!(
        v["by_state"]["done"].as_u64(),
        Some(s.records / s.segment),
        "{v}"
    );
}

/// One signal: stop gracefully, then resume. The run would take about 5 s (40 segments of
/// 250 ms, two at a time); the signal comes 400 ms in.
async fn one_signal_stops_gracefully(sig: &str, name: &str) {
    let sim = Sim {
        per_record_ms: 5,
        ..Sim::default()
    }
    .start()
    .await;
    let url = sim.url();
    let s = setup(&url, 2_000, 50);
    let run_id = format!("sig-{name}");
    let child = start(&s, &run_id);
    std::thread::sleep(Duration::from_millis(400));
    kill(&child, sig);
    let o = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("{name}: stopping, letting")),
        "{}",
        text(&o)
    );
    assert_stopped_resumably(&s, &run_id, &o);
    assert_resume_stores_every_record_once(&s, &run_id, &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_like_ctrl_c() {
    one_signal_stops_gracefully("-TERM", "SIGTERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_stops_like_ctrl_c() {
    one_signal_stops_gracefully("-HUP", "SIGHUP").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_like_ctrl_c() {
    one_signal_stops_gracefully("-INT", "SIGINT").await;
}

/// A second signal abandons the requests in flight: each segment takes 5 s at the server
/// (100 records at 50 ms), so a graceful stop would wait over 4 s more; a hard one ends
/// within a second, with nothing booked for the abandoned segments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_stops_at_once() {
    let sim = Sim {
        per_record_ms: 50,
        ..Sim::default()
    }
    .start()
    .await;
    let url = sim.url();
    let s = setup(&url, 200, 100);
    let run_id = "sig-twice";
    let child = start(&s, run_id);
    std::thread::sleep(Duration::from_millis(500));
    kill(&child, "-TERM");
    std::thread::sleep(Duration::from_millis(200));
    kill(&child, "-INT");
    let second = Instant::now();
    let o = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let took = second.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "the second signal should end the run at once, took {took:?}: {}",
        text(&o)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("SIGINT: stopping now"),
        "{}",
        text(&o)
    );
    let done = assert_stopped_resumably(&s, run_id, &o);
    assert_eq!(done, 0, "no segment could finish in 0.7 s");
    // The abandoned batches are resent under their idempotency keys.
    assert_resume_stores_every_record_once(&s, run_id, &url).await;
}
