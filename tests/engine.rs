//! The sync engine against the in-process simulator, over loopback: the library driven with
//! `RunParams`, and the real binary in headless mode.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Retries, SECRET, Sim, cmd, stat, stats, text, write_config_with, write_csv};
use supsync::config::{Config, TokenCacheMode};
use supsync::engine::events::{Command, EngineEvent, RunState, RunSummary, SegmentState};
use supsync::engine::{self, RunMode, RunParams};
use supsync::secret::Secret;
use supsync::sim::SimServer;

/// Short clocks (scope TTL 2 s, idle 3 s, session 10 s) and the fault rates each test names.
async fn sim(per_record_ms: u64, error_rate: f64, drop_rate: f64) -> SimServer {
    Sim {
        per_record_ms,
        error_rate,
        drop_rate,
        seed: 11,
        ..Sim::default()
    }
    .start()
    .await
}

fn config(url: &str) -> Config {
    let mut c = Config::default();
    c.api.base_url = url.to_string();
    c.api.timeout_secs = 5;
    c.auth.token_cache = TokenCacheMode::None;
    c.auth.keepalive_secs = 1;
    c.sync.segment_size = 50;
    c.sync.concurrency = 4;
    c.sync.max_attempts = 8;
    c.sync.backoff_initial_ms = 20;
    c.sync.backoff_max_ms = 200;
    c.sync.max_retry_after_secs = 1;
    c
}

fn params(cfg: Config, state: &Path, mode: RunMode) -> RunParams {
    RunParams::new(cfg, Secret::new(SECRET), state.to_path_buf(), mode)
}

/// 200 suppliers at `dir/s.csv` and a config sending one segment at a time with three
/// attempts. Large budget: these tests want segments to spend their attempts, not wait for
/// the server.
fn flaky_setup(url: &str, dir: &Path) -> (PathBuf, Config) {
    let src = dir.join("s.csv");
    write_csv(&src, 200, &[]);
    let mut cfg = config(url);
    cfg.sync.concurrency = 1;
    cfg.sync.max_attempts = 3;
    cfg.sync.retry_budget = 1_000;
    (src, cfg)
}

/// Drains the handle's events (applying `on_event` to each) until `Finished`.
async fn drive(
    mut h: engine::EngineHandle,
    mut on_event: impl FnMut(&EngineEvent, &tokio::sync::mpsc::Sender<Command>),
) -> (RunSummary, Vec<EngineEvent>) {
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while let Ok(Some(ev)) = tokio::time::timeout_at(deadline.into(), h.events.recv()).await {
        on_event(&ev, &h.commands);
        let done = matches!(ev, EngineEvent::Finished(_));
        seen.push(ev);
        if done {
            break;
        }
    }
    let summary = tokio::time::timeout(Duration::from_secs(10), h.task)
        .await
        .expect("engine ends after Finished")
        .expect("engine task does not panic");
    (summary, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_2000_records_through_short_tokens_and_faults() {
    let sim = sim(1, 0.05, 0.02).await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("suppliers.csv");
    write_csv(&src, 2_000, &[]);
    let p = params(
        config(&sim.url()),
        dir.path(),
        RunMode::Push {
            source: src,
            run_id: Some("push-2000".into()),
        },
    );
    let started = Instant::now();
    let (summary, events) = drive(engine::start(p), |_, _| {}).await;
    let st = stats(&sim.url()).await;
    assert_eq!(summary.state, RunState::Completed, "{summary:?}");
    assert_eq!(summary.exit_code(), 0);
    assert_eq!(summary.counts.created, 2_000, "{summary:?}");
    assert_eq!(stat(&st, "records_stored"), 2_000, "{st}");
    assert_eq!(stat(&st, "records_created"), 2_000, "{st}");
    assert_eq!(stat(&st, "records_updated"), 0, "{st}");
    assert_eq!(stat(&st, "unauthorized"), 0, "{st}");
    assert!(stat(&st, "faults") > 0, "the profile injected faults: {st}");
    // Every segment's outcome was announced, and RunStarted came first.
    assert!(matches!(
        events.first(),
        Some(EngineEvent::RunStarted(_)) | Some(EngineEvent::RunState(_))
    ));
    let done = events
        .iter()
        .filter(|e| matches!(e, EngineEvent::Segment(v) if v.state == SegmentState::Done))
        .count();
    assert_eq!(done, 40);
    eprintln!("2,000 records in {:?}; sim stats {st}", started.elapsed());
    // The journal replays to the same picture: status from it alone.
    let (_, replay) = supsync::journal::read(dir.path(), "push-2000").unwrap();
    assert_eq!(replay.segments.len(), 40);
    assert!(
        replay
            .segments
            .values()
            .all(|s| s.state == SegmentState::Done)
    );
}

/// The runner reads segments ahead (twice `concurrency` tasks), but only `concurrency` may
/// talk to the server: against a server that allows exactly that many, not one 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_ahead_never_exceeds_the_concurrency() {
    let sim = Sim {
        per_record_ms: 2,
        max_concurrent: 3,
        ..Sim::default()
    }
    .start()
    .await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("s.csv");
    write_csv(&src, 1_000, &[]);
    let mut cfg = config(&sim.url());
    cfg.sync.concurrency = 3;
    cfg.sync.segment_size = 25;
    let p = params(
        cfg,
        dir.path(),
        RunMode::Push {
            source: src,
            run_id: None,
        },
    );
    let (summary, _) = drive(engine::start(p), |_, _| {}).await;
    let st = stats(&sim.url()).await;
    assert_eq!(summary.state, RunState::Completed, "{summary:?}");
    assert_eq!(stat(&st, "records_created"), 1_000, "{st}");
    assert_eq!(stat(&st, "rate_limited"), 0, "{st}");
    assert_eq!(
        stat(&st, "idempotent_replays"),
        0,
        "each segment sent once: {st}"
    );
}

/// Read-ahead prepares segments in parallel, but they take their slots in order: with one
/// slot the segments finish strictly front to back, as the operator reads the grid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_one_slot_segments_finish_in_order() {
    let sim = sim(1, 0.0, 0.0).await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("s.csv");
    write_csv(&src, 200, &[]);
    let mut cfg = config(&sim.url());
    cfg.sync.concurrency = 1;
    cfg.sync.segment_size = 5;
    let p = params(
        cfg,
        dir.path(),
        RunMode::Push {
            source: src,
            run_id: None,
        },
    );
    let (summary, events) = drive(engine::start(p), |_, _| {}).await;
    assert_eq!(summary.state, RunState::Completed, "{summary:?}");
    let done: Vec<usize> = events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Segment(v) if v.state == SegmentState::Done => Some(v.index),
            _ => None,
        })
        .collect();
    assert_eq!(done, (0..40).collect::<Vec<_>>());
}

/// A server stricter than supsync (its policy blocks a country supsync accepts): what it
/// rejects reaches `rejects.jsonl` as a server reject with the source line, the rest is
/// stored, the segment ends done-with-rejects and the run exits 6.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_the_server_rejects_are_reported_with_their_lines() {
    let mut profile = Sim::default().profile();
    profile.api.blocked_countries = vec!["SE".into()];
    let sim = SimServer::start(profile, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("s.csv");
    // Header on line 1, rows 0..100 on lines 2..=101, the two Swedish ones on 102 and 103.
    write_csv(
        &src,
        100,
        &[
            "SUP-900001,Nordic Forge AB,SE,approved,q@forge.example,ISO 9001,2026-11-02T09:14:00Z",
            "SUP-900002,Vasa Cast AB,SE,pending,q@vasa.example,,2026-11-02T09:14:00Z",
        ],
    );
    let p = params(
        config(&sim.url()),
        dir.path(),
        RunMode::Push {
            source: src,
            run_id: Some("policy".into()),
        },
    );
    let (summary, events) = drive(engine::start(p), |_, _| {}).await;
    assert_eq!(summary.state, RunState::Completed, "{summary:?}");
    assert_eq!(summary.counts.created, 100, "{summary:?}");
    assert_eq!(summary.counts.rejected, 2, "{summary:?}");
    assert_eq!(summary.exit_code(), 6, "rejected records mean exit 6");
    let last = events.iter().rev().find_map(|e| match e {
        EngineEvent::Segment(v) if v.index == 2 && v.state.is_finished() => Some(v.clone()),
        _ => None,
    });
    let last = last.expect("segment 2 finished");
    assert_eq!(last.state, SegmentState::DoneWithRejects);
    assert_eq!(last.rejects.len(), 2, "{last:?}");
    let st = stats(&sim.url()).await;
    assert_eq!(stat(&st, "records_rejected"), 2, "{st}");
    assert_eq!(stat(&st, "records_created"), 100, "{st}");

    let file = dir.path().join("runs/policy/rejects.jsonl");
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    for (row, (id, line)) in rows.iter().zip([("SUP-900001", 102), ("SUP-900002", 103)]) {
        assert_eq!(row["origin"], "server", "{row}");
        assert_eq!(row["supplier_id"], id, "{row}");
        assert_eq!(row["line"], line, "{row}");
        assert_eq!(row["segment"], 2, "{row}");
        let reason = row["reason"].as_str().unwrap();
        assert!(reason.contains("country SE is blocked"), "{reason}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_longer_than_the_idle_window_then_resume() {
    let sim = sim(5, 0.0, 0.0).await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("s.csv");
    write_csv(&src, 400, &[]);
    let mut cfg = config(&sim.url());
    cfg.sync.concurrency = 2;
    let p = params(
        cfg,
        dir.path(),
        RunMode::Push {
            source: src,
            run_id: None,
        },
    );
    let mut h = engine::start(p);
    // Pause as soon as the first segment is done, stay paused 3× the idle window.
    let mut paused_at = None;
    let mut done_while_paused = 0;
    let mut summary = None;
    while let Some(ev) = tokio::time::timeout(Duration::from_secs(60), h.events.recv())
        .await
        .unwrap()
    {
        match ev {
            EngineEvent::Segment(v) if v.state == SegmentState::Done && paused_at.is_none() => {
                h.commands.send(Command::Pause).await.unwrap();
                paused_at = Some(Instant::now());
            }
            EngineEvent::RunState(RunState::Paused) => {
                // In-flight segments (≤ 50 records × 5 ms) finish within the first second;
                // after that nothing may reach the server until Resume.
                tokio::time::sleep(Duration::from_secs(1)).await;
                let before = stat(&stats(&sim.url()).await, "records_stored");
                tokio::time::sleep(Duration::from_secs(8)).await;
                let st = stats(&sim.url()).await;
                assert_eq!(
                    stat(&st, "records_stored"),
                    before,
                    "nothing is sent while paused"
                );
                assert_eq!(stat(&st, "unauthorized"), 0, "{st}");
                done_while_paused = before;
                h.commands.send(Command::Resume).await.unwrap();
            }
            EngineEvent::Finished(s) => {
                summary = Some(s);
                break;
            }
            _ => {}
        }
    }
    let summary = summary.expect("finished");
    let st = stats(&sim.url()).await;
    assert_eq!(summary.state, RunState::Completed, "{summary:?}");
    assert!(done_while_paused < 400, "the pause held the run back");
    assert_eq!(stat(&st, "records_created"), 400, "{st}");
    assert_eq!(
        stat(&st, "unauthorized"),
        0,
        "no 401 after the long pause: {st}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_that_keeps_failing_ends_failed_and_retry_completes_it() {
    let sim = sim(20, 0.0, 0.0).await;
    let url = sim.url();
    let dir = tempfile::tempdir().unwrap();
    let (src, cfg) = flaky_setup(&url, dir.path());
    let p = params(
        cfg.clone(),
        dir.path(),
        RunMode::Push {
            source: src,
            run_id: Some("flaky".into()),
        },
    );
    let client = reqwest::Client::new();
    let mut outage_sent = false;
    let h = engine::start(p);
    let mut h = h;
    let mut summary = None;
    while let Some(ev) = h.events.recv().await {
        if matches!(ev, EngineEvent::RunStarted(_)) && !outage_sent {
            // Longer than 3 attempts with backoff ≤ 200 ms can outlast, and asking for
            // more than the 1 s Retry-After the config honours: not a wait the run can hold
            // for, so attempts are spent. The test ends it before the retry.
            client
                .post(format!("{url}/_sim/outage?seconds=60"))
                .send()
                .await
                .unwrap();
            outage_sent = true;
        }
        if let EngineEvent::Finished(s) = ev {
            summary = Some(s);
            break;
        }
    }
    let summary = summary.unwrap();
    assert_eq!(
        summary.state,
        RunState::CompletedWithFailures,
        "{summary:?}"
    );
    assert!(summary.segments_failed >= 1);
    assert_eq!(summary.exit_code(), 3);
    client
        .post(format!("{url}/_sim/outage?seconds=0"))
        .send()
        .await
        .unwrap();
    let p = params(
        cfg,
        dir.path(),
        RunMode::Retry {
            run_id: "flaky".into(),
            segments: vec![],
        },
    );
    let (summary, _) = drive(engine::start(p), |_, _| {}).await;
    assert_eq!(summary.state, RunState::Completed, "{summary:?}");
    assert_eq!(summary.segments_done, 4);
    let st = stats(&url).await;
    assert_eq!(stat(&st, "records_created"), 200, "{st}");
    assert_eq!(stat(&st, "records_updated"), 0, "{st}");
}

// ---- through the real binary ----

/// Retries of the binary's config: eight attempts, backoff up to 200 ms, default budget.
const RETRIES: Retries = Retries {
    max_attempts: 8,
    backoff_max_ms: 200,
    retry_budget: None,
};

fn write_config(dir: &Path, url: &str) -> PathBuf {
    write_config_with(dir, url, 50, 4, RETRIES)
}

fn supsync(dir: &Path, cfg: &Path, args: &[&str]) -> std::process::Output {
    cmd(dir, cfg, args).output().expect("binary runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_headless_push_bad_input_and_status() {
    let sim = sim(1, 0.05, 0.02).await;
    let url = sim.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let cfg = write_config(&d, &url);

    // A clean push: exit 0, every record stored once.
    let src = d.join("ok.csv");
    write_csv(&src, 300, &[]);
    let o = tokio::task::spawn_blocking({
        let (d, cfg, src) = (d.clone(), cfg.clone(), src.clone());
        move || {
            supsync(
                &d,
                &cfg,
                &[
                    "run",
                    "--headless",
                    "--run-id",
                    "bin-ok",
                    "--source",
                    src.to_str().unwrap(),
                ],
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Headless, the summary follows the progress lines on stderr; stdout stays empty.
    let out = String::from_utf8_lossy(&o.stderr);
    assert!(out.contains("300 created"), "{}", text(&o));
    assert!(o.stdout.is_empty(), "{}", text(&o));
    assert!(
        !text(&o).contains(SECRET),
        "the secret never appears in output"
    );
    let st = stats(&url).await;
    assert_eq!(stat(&st, "records_created"), 300, "{st}");
    assert_eq!(stat(&st, "unauthorized"), 0, "{st}");

    // Status from the journal alone.
    let o = supsync(&d, &cfg, &["status", "bin-ok", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["segments"], 6);
    assert_eq!(v["counts"]["created"], 300);
    let o = supsync(&d, &cfg, &["status"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("bin-ok"),
        "{}",
        text(&o)
    );

    // Invalid rows: rejected locally, the rest synced, exit 6 (completed with rejects).
    // One row carries a 10 MB name: a per-row reject, not a 10 MB message or a crash.
    let huge = format!(
        "SUP-100004,{},FR,approved,c@example.com,,2026-11-02T09:14:00Z",
        "x".repeat(10 * 1024 * 1024)
    );
    let bad = d.join("bad-rows.csv");
    write_csv(
        &bad,
        0,
        &[
            "SUP-100001,Good One,FR,approved,a@example.com,,2026-11-02T09:14:00Z",
            "NOPE-1,Bad Id,FR,approved,a@example.com,,2026-11-02T09:14:00Z",
            "SUP-100002,Bad Country,XXX,approved,a@example.com,,2026-11-02T09:14:00Z",
            &huge,
            "SUP-100003,Good Two,FR,pending,b@example.com,ISO 9001,2026-11-02T09:14:00Z",
        ],
    );
    let o = supsync(
        &d,
        &cfg,
        &[
            "run",
            "--headless",
            "--run-id",
            "bin-bad",
            "--source",
            bad.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(6), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("2 created, 0 updated, 0 unchanged, 0 applied, 3 rejected"),
        "{}",
        text(&o)
    );
    let rejects = std::fs::read_to_string(d.join("state/runs/bin-bad/rejects.jsonl")).unwrap();
    assert_eq!(rejects.lines().count(), 3, "{rejects}");
    assert!(
        rejects.len() < 10_000,
        "reasons are short: {} bytes",
        rejects.len()
    );
    assert!(text(&o).len() < 10_000, "output stays short");

    // The source changed since the run started: resume refuses, saying why.
    write_csv(&bad, 3, &[]);
    let o = supsync(&d, &cfg, &["resume", "bin-bad", "--headless"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("changed since run bin-bad started"),
        "{}",
        text(&o)
    );

    // A wrong client secret is an authentication failure: exit 4.
    let o = cmd(
        &d,
        &cfg,
        &[
            "run",
            "--headless",
            "--run-id",
            "bin-auth",
            "--source",
            src.to_str().unwrap(),
        ],
    )
    .env("SUPSYNC_CLIENT_SECRET", "not-the-secret")
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(!text(&o).contains("not-the-secret"), "{}", text(&o));
    // `status` says so after the process is gone: the journal keeps why it stopped.
    let o = supsync(&d, &cfg, &["status", "bin-auth"]);
    let shown = text(&o);
    assert!(shown.contains("authentication failed"), "{shown}");
    assert!(shown.contains("stopped:  cannot get a token"), "{shown}");
    assert!(shown.contains("invalid_client"), "{shown}");
    assert!(!shown.contains("not-the-secret"), "{shown}");
    let o = supsync(&d, &cfg, &["status", "bin-auth", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["exit_code"], 4, "{v}");
    assert!(
        v["reason"].as_str().unwrap().contains("invalid_client"),
        "{v}"
    );

    // File-level problems: a clear error naming the file, exit 1, never a panic.
    let empty = d.join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    let header_only = d.join("header.csv");
    write_csv(&header_only, 0, &[]);
    let missing_cols = d.join("cols.csv");
    std::fs::write(&missing_cols, "supplier_id,name\nSUP-1,A\n").unwrap();
    let garbage = d.join("garbage.csv");
    std::fs::write(
        &garbage,
        (0..4096u32)
            .map(|i| (i * 7 % 256) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let absent = d.join("does-not-exist.csv");
    for (file, what) in [
        (&empty, "empty"),
        (&header_only, "no records"),
        (&missing_cols, "missing the column"),
        (&garbage, "not a text file"),
        (&absent, "cannot read"),
    ] {
        let o = supsync(
            &d,
            &cfg,
            &["run", "--headless", "--source", file.to_str().unwrap()],
        );
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{what}: {t}");
        assert!(t.contains(what), "{what}: {t}");
        assert!(!t.contains("panicked"), "{t}");
    }

    // The run stopped by the wrong secret is the latest unfinished one: a plain `resume`
    // with the right secret carries it on (its records are already stored: unchanged).
    let o = supsync(&d, &cfg, &["resume", "--headless"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("300 unchanged"), "{}", text(&o));

    // No secret in anything written under the state dir (manifests, journals, audit logs).
    let mut stack = vec![d.join("state")];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&p).unwrap();
            let hit = bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes());
            assert!(!hit, "{} holds the client secret", p.display());
        }
    }

    // resume with nothing unfinished, retry of an unknown run: clear, no panic.
    let o = supsync(&d, &cfg, &["resume", "--headless"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("nothing to resume"), "{}", text(&o));
    let o = supsync(&d, &cfg, &["retry", "no-such-run", "--headless"]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("no-such-run"), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stay_alive_waits_for_stop_and_cancel_leaves_a_resumable_run() {
    let sim = sim(10, 0.0, 0.0).await;
    let url = sim.url();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("s.csv");
    write_csv(&src, 400, &[]);
    let mut cfg = config(&url);
    cfg.sync.concurrency = 2;

    // Hard cancel after the first outcome: in-flight work is abandoned, the run is resumable.
    let p = params(
        cfg.clone(),
        dir.path(),
        RunMode::Push {
            source: src.clone(),
            run_id: Some("cancelled".into()),
        },
    );
    let h = engine::start(p);
    let cancel = h.cancel.clone();
    let (summary, _) = drive(h, |ev, _| {
        if matches!(ev, EngineEvent::Segment(v) if v.state == SegmentState::Done) {
            cancel.cancel();
        }
    })
    .await;
    assert_eq!(summary.state, RunState::Interrupted, "{summary:?}");
    assert_eq!(summary.exit_code(), 5);
    assert!(summary.segments_done < 8, "{summary:?}");

    // Resume with stay_alive: the run reports Completed but stays open until Stop.
    let mut p = params(
        cfg,
        dir.path(),
        RunMode::Resume {
            run_id: "cancelled".into(),
        },
    );
    p.stay_alive = true;
    let mut completed_seen = false;
    let (summary, events) = drive(engine::start(p), |ev, commands| {
        if matches!(ev, EngineEvent::RunState(RunState::Completed)) && !completed_seen {
            completed_seen = true;
            // Nothing failed: the retry is refused with a notice, then Stop ends the run.
            commands.try_send(Command::RetryAllFailed).unwrap();
            commands.try_send(Command::Stop).unwrap();
        }
    })
    .await;
    assert!(completed_seen);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, EngineEvent::Notice(n) if n.contains("no failed segments")))
    );
    assert_eq!(summary.state, RunState::Completed, "{summary:?}");
    assert_eq!(summary.segments_done, 8);
    let st = stats(&url).await;
    assert_eq!(stat(&st, "records_created"), 400, "{st}");
    assert_eq!(stat(&st, "records_updated"), 0, "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_segments_retried_live_while_the_engine_stays_alive() {
    let sim = sim(20, 0.0, 0.0).await;
    let url = sim.url();
    let dir = tempfile::tempdir().unwrap();
    let (src, cfg) = flaky_setup(&url, dir.path());
    let mut p = params(
        cfg,
        dir.path(),
        RunMode::Push {
            source: src,
            run_id: None,
        },
    );
    p.stay_alive = true;
    let mut h = engine::start(p);
    let client = reqwest::Client::new();
    let mut failed = Vec::new();
    let mut retried = false;
    let mut stopped = false;
    let mut summary = None;
    while let Some(ev) = tokio::time::timeout(Duration::from_secs(60), h.events.recv())
        .await
        .unwrap()
    {
        match ev {
            EngineEvent::RunStarted(_) => {
                // Long enough that every later segment meets it, however slow the machine;
                // the test ends it itself before retrying.
                client
                    .post(format!("{url}/_sim/outage?seconds=60"))
                    .send()
                    .await
                    .unwrap();
            }
            EngineEvent::Segment(v) if v.state == SegmentState::Failed => failed.push(v.index),
            EngineEvent::RunState(RunState::CompletedWithFailures) if !retried => {
                // The server is back; the operator retries one segment, then the rest.
                retried = true;
                client
                    .post(format!("{url}/_sim/outage?seconds=0"))
                    .send()
                    .await
                    .unwrap();
                h.commands
                    .send(Command::RetrySegment(failed[0]))
                    .await
                    .unwrap();
                h.commands.send(Command::RetryAllFailed).await.unwrap();
            }
            EngineEvent::RunState(RunState::Completed) if !stopped => {
                stopped = true;
                h.commands.send(Command::Stop).await.unwrap();
            }
            EngineEvent::Finished(s) => {
                summary = Some(s);
                break;
            }
            _ => {}
        }
    }
    let summary = summary.expect("finished");
    assert!(
        retried && !failed.is_empty(),
        "the outage failed segments: {failed:?}"
    );
    assert_eq!(summary.state, RunState::Completed, "{summary:?}");
    assert_eq!(summary.segments_done, 4);
    assert_eq!(summary.counts.created, 200, "{summary:?}");
    let st = stats(&url).await;
    assert_eq!(stat(&st, "records_created"), 200, "{st}");
}
