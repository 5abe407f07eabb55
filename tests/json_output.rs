//! `--headless --json`: the NDJSON stream scripts read. Every stdout line parses as one
//! JSON object with a `type` and an `at`; the summary is the last line and carries the
//! outcome word and the exit code the process ends with; `progress` keeps coming while
//! nothing happens (an outage of the server) and while the run is paused; no secret.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{SECRET, Sim, cmd, write_config, write_csv};
use serde_json::Value;
use supsync::config::{Config, TokenCacheMode};
use supsync::engine::events::{Command, EngineEvent};
use supsync::engine::{self, RunMode, RunParams};
use supsync::headless::json::JsonEvents;
use supsync::observe::tap;
use supsync::secret::Secret;

/// `progress` every 200 ms here; a gap of 1 s between two of them fails (5x margin).
const EVERY_MS: u64 = 200;
const MAX_GAP: Duration = Duration::from_millis(5 * EVERY_MS);

fn at(v: &Value) -> DateTime<Utc> {
    let s = v["at"].as_str().unwrap_or_else(|| panic!("no `at`: {v}"));
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The largest gap between consecutive `progress` lines, and how many there were.
fn progress_gaps(lines: &[Value]) -> (Duration, usize) {
    let times: Vec<_> = lines
        .iter()
        .filter(|v| v["type"] == "progress")
        .map(at)
        .collect();
    let gap = times
        .windows(2)
        .map(|w| (w[1] - w[0]).to_std().unwrap_or_default())
        .max()
        .unwrap_or_default();
    (gap, times.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_run_writes_parseable_events_with_the_summary_last() {
    let sim = Sim {
        per_record_ms: 5,
        ..Sim::default()
    }
    .start()
    .await;
    let url = sim.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let cfg = write_config(&d, &url, 50, 2);
    let src = d.join("s.csv");
    // Two rows supsync itself rejects: the run completes with rejects (exit 6).
    write_csv(
        &src,
        600,
        &["SUP-BAD1,,XX,approved,nope,,", "SUP-BAD2,,XX,,,,"],
    );

    let mut child = cmd(
        &d,
        &cfg,
        &["run", "--headless", "--json", "--run-id", "j", "--source"],
    )
    .arg(&src)
    .env("SUPSYNC_JSON_PROGRESS_MS", EVERY_MS.to_string())
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let reader = tokio::task::spawn_blocking(move || {
        for line in BufReader::new(stdout).lines() {
            let _ = tx.send(line.unwrap());
        }
    });
    let mut lines: Vec<Value> = Vec::new();
    let mut outage_sent = false;
    while let Some(raw) = tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("the run ends within 60 s")
    {
        assert!(!raw.contains(SECRET), "a secret on stdout: {raw}");
        let v: Value = serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{e}: {raw:?}"));
        assert!(v.is_object(), "{raw}");
        assert!(v["type"].is_string(), "no type: {raw}");
        at(&v);
        if v["type"] == "segment" && !outage_sent {
            // A second with nothing happening: the server answers 503 to everything.
            outage_sent = true;
            reqwest::Client::new()
                .post(format!("{url}/_sim/outage?seconds=1"))
                .send()
                .await
                .unwrap();
        }
        lines.push(v);
    }
    reader.await.unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();

    let types: Vec<&str> = lines.iter().map(|v| v["type"].as_str().unwrap()).collect();
    let started = types.iter().position(|t| *t == "run_started").unwrap();
    let first_segment = types.iter().position(|t| *t == "segment").unwrap();
    assert!(started < first_segment, "the plan comes first: {types:?}");
    assert_eq!(
        types.last(),
        Some(&"summary"),
        "the summary is last: {types:?}"
    );
    assert_eq!(types.iter().filter(|t| **t == "summary").count(), 1);
    assert!(types.contains(&"token"), "{types:?}");
    let segments = lines.iter().filter(|v| v["type"] == "segment").count();
    assert_eq!(
        Some(segments as u64),
        lines[started]["segments"].as_u64(),
        "one outcome per segment: {types:?}"
    );
    let times: Vec<_> = lines.iter().map(at).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "timestamps in order"
    );

    let summary = lines.last().unwrap();
    assert_eq!(summary["outcome"], "completed with rejects", "{summary}");
    assert_eq!(summary["exit_code"], 6, "{summary}");
    assert_eq!(
        status.code(),
        Some(6),
        "the process ends with the summary's code"
    );
    assert_eq!(summary["counts"]["created"], 600, "{summary}");
    assert_eq!(summary["counts"]["rejected"], 2, "{summary}");
    for v in lines.iter().filter(|v| v["type"] == "token") {
        let fp = v["fingerprint"].as_str().unwrap();
        assert!(
            fp.starts_with('#') && fp.len() <= 12,
            "a fingerprint only: {v}"
        );
    }

    let (gap, n) = progress_gaps(&lines);
    assert!(n >= 5, "progress through a run of over a second: {n}");
    assert!(
        gap <= MAX_GAP,
        "progress every {EVERY_MS} ms, yet a gap of {gap:?}"
    );

    // `status --json` says the same outcome word.
    let o = cmd(&d, &cfg, &["status", "j", "--json"]).output().unwrap();
    let st: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(st["outcome"], summary["outcome"], "{st}");
    assert_eq!(st["exit_code"], 6, "{st}");
}

/// An in-process engine paused for a second: `progress` keeps coming, saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_keeps_coming_while_paused() {
    let sim = Sim {
        per_record_ms: 5,
        ..Sim::default()
    }
    .start()
    .await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("s.csv");
    write_csv(&src, 300, &[]);
    let mut cfg = Config::default();
    cfg.api.base_url = sim.url();
    cfg.auth.token_cache = TokenCacheMode::None;
    cfg.sync.segment_size = 50;
    cfg.sync.concurrency = 1;
    let params = RunParams::new(
        cfg,
        Secret::new(SECRET),
        dir.path().join("state"),
        RunMode::Push {
            source: src,
            run_id: Some("paused".into()),
        },
    );
    let buf = Shared::default();
    let json = JsonEvents::start_to(
        Duration::from_millis(EVERY_MS),
        Vec::new(),
        Box::new(buf.clone()),
    );
    let (mut h, tapped) = tap::tap(engine::start(params), json.observer());
    let mut summary = None;
    let mut paused = false;
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_secs(60), h.events.recv()).await {
        match ev {
            EngineEvent::Segment(v) if v.state.is_finished() && !paused => {
                paused = true;
                h.commands.send(Command::Pause).await.unwrap();
                tokio::time::sleep(Duration::from_secs(2)).await;
                h.commands.send(Command::Resume).await.unwrap();
            }
            EngineEvent::Finished(s) => {
                summary = Some(s);
                break;
            }
            _ => {}
        }
    }
    let summary = summary.expect("the run finishes");
    tapped.await.unwrap();
    json.finish(&summary).await;

    let lines = buf.lines();
    let paused_progress = lines
        .iter()
        .filter(|v| v["type"] == "progress" && v["run_state"] == "paused")
        .count();
    // Two seconds paused at one line per 200 ms: ten expected, two required (5x margin).
    assert!(
        paused_progress >= 2,
        "{paused_progress} progress lines while paused"
    );
    let (gap, _) = progress_gaps(&lines);
    assert!(gap <= MAX_GAP, "a gap of {gap:?}");
    let states: Vec<&str> = lines
        .iter()
        .filter(|v| v["type"] == "run_state")
        .map(|v| v["state"].as_str().unwrap())
        .collect();
    assert!(
        states.contains(&"paused") && states.contains(&"running"),
        "{states:?}"
    );
    assert_eq!(lines.last().unwrap()["type"], "summary");
    assert_eq!(lines.last().unwrap()["outcome"], "completed");
}

/// A `Write` the test can read back.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Shared {
    fn lines(&self) -> Vec<Value> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl std::io::Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
