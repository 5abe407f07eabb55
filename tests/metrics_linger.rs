//! `--metrics-linger`: through the real binary, `/metrics` still answers after the run
//! has ended and printed its summary, says the run ended (state gauge and end time), and
//! the process exits once the linger is over. Without it the listener is gone by then.

mod common;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use common::{Sim, cmd, write_config, write_csv};

/// A port free a moment ago (the binary binds it again).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `GET /metrics` over a plain socket: the answer's body.
fn scrape(addr: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")?;
    let mut all = String::new();
    s.read_to_string(&mut all)?;
    Ok(all
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or(all))
}

/// Runs a small push with `/metrics` on a fresh port and `extra` flags; returns the scrape
/// taken right after the summary line (an error text when nothing answered), the time from
/// the summary to the process's exit, and its exit code.
fn run(extra: &[&str], id: &str) -> (Result<String, String>, Duration, Option<i32>) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Sim::default().start());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = write_config(d, &sim.url(), 50, 2);
    let src = d.join("s.csv");
    write_csv(&src, 200, &[]);
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = cmd(
        d,
        &cfg,
        &[
            "run",
            "--headless",
            "--run-id",
            id,
            "--metrics-listen",
            &addr,
        ],
    )
    .args(extra)
    .arg("--source")
    .arg(&src)
    .spawn()
    .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut seen = Vec::new();
    let mut summary_at = None;
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        if line.contains(&format!("run {id} (push) completed in")) {
            summary_at = Some(Instant::now());
            break;
        }
        seen.push(line);
    }
    let summary_at = summary_at.unwrap_or_else(|| panic!("no summary line: {seen:#?}"));
    let scrape = scrape(&addr).map_err(|e| e.to_string());
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code();
        }
        assert!(Instant::now() < deadline, "the process did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    (scrape, summary_at.elapsed(), code)
}

#[test]
fn metrics_stay_up_for_the_linger_after_the_end_then_the_process_exits() {
    let (scrape, took, code) = run(&["--metrics-linger", "2"], "linger-0001");
    assert_eq!(code, Some(0));
    let body = scrape.expect("/metrics answers after the summary");
    assert!(
        body.contains("supsync_run_state{state=\"completed\"} 1"),
        "{body}"
    );
    let end = body
        .lines()
        .find_map(|l| l.strip_prefix("supsync_run_end_timestamp_seconds "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no end time: {body}"));
    assert!(end > 0.0, "the end time is set: {body}");
    // The linger is a sleep: never shorter; the exit follows it promptly.
    assert!(
        took >= Duration::from_millis(1900),
        "exited {took:?} after the summary"
    );
    assert!(took < Duration::from_secs(12), "lingered {took:?}");

    // By default the listener is gone before the summary is printed.
    let (scrape, took, code) = run(&[], "linger-0002");
    assert_eq!(code, Some(0));
    assert!(scrape.is_err(), "nothing answers after the end: {scrape:?}");
    assert!(took < Duration::from_secs(1), "exits at once: {took:?}");
}
