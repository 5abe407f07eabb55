//! Hostile resource APIs, through the real binary against the in-process simulator's
//! `[api] quirks`: a pull whose server claims 10^12 records, `X-Token-Expires-In: 2^64−1`
//! on every answer (the ones that applied a batch included), and an API that echoes the
//! bearer token with terminal escape sequences and 5,000 characters of padding in every
//! 503. Each case ends within its bound with its documented exit code and an `error:` line
//! (or, where the answer can be applied, exit 0), leaves a consistent journal, and a
//! following run or `resume` against the calmed server (`/_sim/calm`) stores every record
//! exactly once. The demo's record cap is here too. The other hostile cases live beside
//! the machinery they test: tests/outage.rs, tests/signals.rs, tests/console_exit.rs,
//! tests/journal_integrity.rs, tests/token_answers.rs and tests/proof_secrets.rs.
//!
//! Every test starts its own simulator, so the cases run concurrently.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::{Retries, Sim, cmd, pulled_ids, stat, stats, text, write_config, write_config_with};

/// The binary, headless, off the runtime; its output and how long it took.
async fn headless(dir: &Path, cfg: &Path, args: &[&str]) -> (Output, Duration) {
    let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    a.push("--headless".into());
    let (dir, cfg) = (dir.to_path_buf(), cfg.to_path_buf());
    tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        let args: Vec<&str> = a.iter().map(String::as_str).collect();
        let o = cmd(&dir, &cfg, &args).output().unwrap();
        (o, t.elapsed())
    })
    .await
    .unwrap()
}

async fn calm(url: &str) {
    let r = reqwest::Client::new()
        .post(format!("{url}/_sim/calm"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

fn sim_with(quirk: &str, suppliers: u64) -> Sim {
    Sim {
        suppliers,
        api_extra: format!("quirks = [\"{quirk}\"]\n"),
        ..Sim::default()
    }
}

fn assert_no_panic(what: &str, o: &Output) {
    let all = text(o);
    assert!(!all.contains("panicked"), "{what}: a panic: {all}");
    assert!(!all.contains("RUST_BACKTRACE"), "{what}: a panic: {all}");
}

fn error_line(o: &Output) -> Option<String> {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .chain(String::from_utf8_lossy(&o.stdout).lines())
        .find(|l| l.starts_with("error:"))
        .map(str::to_string)
}

fn status_json(dir: &Path, cfg: &Path, run_id: &str) -> serde_json::Value {
    let o = cmd(dir, cfg, &["status", run_id, "--json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Every file under `<dir>/state` (journal, logs, audit log), by name.
fn state_files(dir: &Path, hay: &mut Vec<(String, Vec<u8>)>) {
    let mut files = Vec::new();
    files_under(&dir.join("state"), &mut files);
    assert!(!files.is_empty());
    for f in files {
        hay.push((f.display().to_string(), std::fs::read(&f).unwrap()));
    }
}

/// No token, no escape sequence, no endless line in any of these bytes.
fn assert_clean(hay: &[(String, Vec<u8>)]) {
    for (name, bytes) in hay {
        let s = String::from_utf8_lossy(bytes);
        // The simulator's tokens are JWTs: their first segment always begins `eyJ`.
        assert!(!s.contains("eyJ"), "{name}: a token leaked: {s}");
        assert!(
            !s.contains('\u{1b}') && !s.contains('\u{7}'),
            "{name}: an escape sequence reached it: {s:?}"
        );
        let longest = s.lines().map(|l| l.chars().count()).max().unwrap_or(0);
        assert!(longest <= 1500, "{name}: a {longest}-character line");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_whose_server_claims_a_trillion_records_is_refused_before_anything_is_allocated() {
    let n = 120;
    let sim = sim_with("claim_total", n).start().await;
    let url = sim.url();
    let d = tempfile::tempdir().unwrap();
    let cfg = write_config(d.path(), &url, 50, 2);
    let out = d.path().join("pulled.jsonl");
    let out_arg = out.to_str().unwrap();

    let (o, took) = headless(
        d.path(),
        &cfg,
        &["run", "--pull", out_arg, "--run-id", "claims"],
    )
    .await;
    eprintln!("claimed total: {took:?}; {}", text(&o));
    assert_no_panic("claimed total", &o);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let error = error_line(&o).unwrap_or_default();
    assert!(
        error.contains("the server says it holds 1000000000000 suppliers")
            && error.contains("raise sync.segment_size"),
        "the error names the claim and what to do: {}",
        text(&o)
    );
    // One small page to learn the total, then the refusal: nowhere near a 5 s bound.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    // Refused while planning: no journal that a resume could trust, no output file.
    assert!(
        !d.path().join("state/runs/claims").exists(),
        "no run was recorded"
    );
    assert!(!out.exists(), "no output was written");

    calm(&url).await;
    let (o, _) = headless(
        d.path(),
        &cfg,
        &["run", "--pull", out_arg, "--run-id", "calm"],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let ids = pulled_ids(&out);
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!((ids.len(), unique.len()), (n as usize, n as usize));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiry_header_of_2_to_the_64_on_every_answer_is_clamped_and_every_record_stored_once() {
    let n = 300;
    let sim = sim_with("huge_expiry_header", 0).start().await;
    let url = sim.url();
    let d = tempfile::tempdir().unwrap();
    let cfg = write_config(d.path(), &url, 20, 2);
    let src = d.path().join("suppliers.csv");
    common::write_csv(&src, n, &[]);

    let (o, took) = headless(
        d.path(),
        &cfg,
        &[
            "run",
            "--source",
            src.to_str().unwrap(),
            "--run-id",
            "huge-header",
        ],
    )
    .await;
    eprintln!("huge expiry header: {took:?}; {}", text(&o));
    assert_no_panic("huge expiry header", &o);
    // The answers can be applied (the header is clamped), so the run succeeds.
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let st = stats(&url).await;
    assert_eq!(stat(&st, "records_created"), n, "{st}");
    assert_eq!(
        stat(&st, "records_updated"),
        0,
        "nothing applied twice: {st}"
    );
    let v = status_json(d.path(), &cfg, "huge-header");
    assert_eq!(v["counts"]["created"].as_u64(), Some(n), "{v}");
    assert_eq!(v["by_state"]["failed"].as_u64().unwrap_or(0), 0, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_echoing_the_bearer_with_escapes_leaks_nothing_and_ends_at_the_outage_bound() {
    let n = 200;
    let sim = sim_with("echo_bearer", 0).start().await;
    let url = sim.url();
    let d = tempfile::tempdir().unwrap();
    // Segments hold at the gate after three failures in a row; the run gives up after 2 s.
    let cfg = write_config_with(
        d.path(),
        &url,
        20,
        2,
        Retries {
            max_attempts: 20,
            backoff_max_ms: 200,
            retry_budget: Some(3),
        },
    );
    let mut body = std::fs::read_to_string(&cfg).unwrap();
    body.push_str("max_outage_secs = 2\n");
    std::fs::write(&cfg, body).unwrap();
    let src = d.path().join("suppliers.csv");
    common::write_csv(&src, n, &[]);

    let (o, took) = headless(
        d.path(),
        &cfg,
        &[
            "run",
            "--source",
            src.to_str().unwrap(),
            "--run-id",
            "echo",
            "-v",
        ],
    )
    .await;
    eprintln!("echoing API: {took:?}; {}", text(&o));
    assert_no_panic("echoing API", &o);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let error = error_line(&o).unwrap_or_default();
    assert!(
        error.contains("unavailable for 2 s (sync.max_outage_secs = 2)"),
        "{}",
        text(&o)
    );
    assert!(
        text(&o).contains("resume echo"),
        "a resume hint: {}",
        text(&o)
    );
    // A 2 s bound plus backoff and the graceful stop: well within 15 s.
    assert!(took < Duration::from_secs(15), "took {took:?}");
    let st = stats(&url).await;
    assert!(
        stat(&st, "faults") > 0,
        "the server did echo the bearer: {st}"
    );

    // Every byte the run wrote: stdout, stderr, `status` (text and JSON) and every file
    // under the state dir (journal, logs, audit log).
    let plain = cmd(d.path(), &cfg, &["status", "echo"]).output().unwrap();
    assert_eq!(plain.status.code(), Some(0), "{}", text(&plain));

    let mut hay: Vec<(String, Vec<u8>)> = vec![
        ("stdout".into(), o.stdout.clone()),
        ("stderr".into(), o.stderr.clone()),
        ("status".into(), plain.stdout.clone()),
        ("status --json".into(), {
            let j = cmd(d.path(), &cfg, &["status", "echo", "--json"])
                .output()
                .unwrap();
            j.stdout
        }),
    ];
    state_files(d.path(), &mut hay);
    assert_clean(&hay);

    // The journal holds only settled outcomes: nothing failed, the rest pending.
    let v = status_json(d.path(), &cfg, "echo");
    assert_eq!(v["by_state"]["failed"].as_u64().unwrap_or(0), 0, "{v}");
    calm(&url).await;
    let (o, _) = headless(d.path(), &cfg, &["resume", "echo"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let st = stats(&url).await;
    assert_eq!(stat(&st, "records_created"), n, "{st}");
    assert_eq!(
        stat(&st, "records_updated"),
        0,
        "nothing applied twice: {st}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_failed_by_an_echoing_api_show_its_text_cleaned_in_status_and_retry_once() {
    let n = 100;
    let sim = sim_with("echo_bearer", 0).start().await;
    let url = sim.url();
    let d = tempfile::tempdir().unwrap();
    // Two attempts a segment and no gate: each segment fails with the server's text.
    let cfg = write_config_with(
        d.path(),
        &url,
        20,
        2,
        Retries {
            max_attempts: 2,
            backoff_max_ms: 50,
            retry_budget: Some(1000),
        },
    );
    let src = d.path().join("suppliers.csv");
    common::write_csv(&src, n, &[]);
    let (o, took) = headless(
        d.path(),
        &cfg,
        &[
            "run",
            "--source",
            src.to_str().unwrap(),
            "--run-id",
            "echo-failed",
            "-v",
        ],
    )
    .await;
    eprintln!("echoing API, failed segments: {took:?}; {}", text(&o));
    assert_no_panic("echoing API, failed segments", &o);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(error_line(&o).is_some(), "an error line: {}", text(&o));
    assert!(took < Duration::from_secs(15), "took {took:?}");

    let plain = cmd(d.path(), &cfg, &["status", "echo-failed"])
        .output()
        .unwrap();
    assert_eq!(plain.status.code(), Some(0), "{}", text(&plain));
    let shown = String::from_utf8_lossy(&plain.stdout).to_string();
    assert!(
        shown.contains("failed: transient failure: 503") && shown.contains("Bearer [token #"),
        "status shows the server's text, the bearer as a fingerprint: {shown}"
    );
    let mut hay = vec![
        ("stdout".to_string(), o.stdout.clone()),
        ("stderr".to_string(), o.stderr.clone()),
        ("status".to_string(), plain.stdout.clone()),
    ];
    state_files(d.path(), &mut hay);
    assert_clean(&hay);

    let v = status_json(d.path(), &cfg, "echo-failed");
    assert_eq!(v["by_state"]["failed"].as_u64(), Some(n / 20), "{v}");
    calm(&url).await;
    let (o, _) = headless(d.path(), &cfg, &["retry", "echo-failed"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let st = stats(&url).await;
    assert_eq!(stat(&st, "records_created"), n, "{st}");
    assert_eq!(
        stat(&st, "records_updated"),
        0,
        "nothing applied twice: {st}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_refuses_a_million_records_with_a_clear_message() {
    let d = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_supsync"))
        .arg("--state-dir")
        .arg(d.path())
        .args(["demo", "--records", "1000000", "--headless"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let took = t.elapsed();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let error = error_line(&o).unwrap_or_default();
    assert!(
        error.contains("--records 1000000 is outside 1..=100000"),
        "{}",
        text(&o)
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let mut files = Vec::new();
    files_under(d.path(), &mut files);
    assert!(files.is_empty(), "nothing written: {files:?}");
}
