//! stdout closed under the binary (`supsync demo --headless --json | head -1`): every command
//! writes through one closed-pipe-safe writer, so the process ends with its own exit code,
//! never a panic. Real binary, real pipes.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn spawn(state: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_supsync"))
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("SUPSYNC_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads one line like `head -1`, or none (`lines == 0`: the reader is gone before the
/// first write, so every write meets the closed pipe), drops the pipe, and waits.
fn head(mut child: Child, lines: usize) -> (Option<i32>, String, Vec<String>) {
    let stdout = child.stdout.take().unwrap();
    let mut read = Vec::new();
    if lines > 0 {
        let mut r = BufReader::new(stdout);
        for _ in 0..lines {
            let mut l = String::new();
            r.read_line(&mut l).unwrap();
            read.push(l);
        }
        drop(r);
    } else {
        drop(stdout);
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), stderr, read)
}

fn assert_no_panic(code: Option<i32>, stderr: &str, expected: i32) {
    assert!(!stderr.contains("panicked"), "panicked:\n{stderr}");
    assert_eq!(code, Some(expected), "exit status; stderr:\n{stderr}");
}

/// The demo's records: 2 segments, one invalid record (exit 6, "completed with rejects").
const DEMO: [&str; 4] = ["demo", "--headless", "--records", "20"];

/// Headless, stdout is for `--json`: its events are what a reader may leave early.
#[test]
fn demo_headless_json_survives_head_1() {
    let dir = tempfile::tempdir().unwrap();
    let args = [&DEMO[..], &["--json"]].concat();
    let (code, stderr, lines) = head(spawn(dir.path(), &args), 1);
    assert!(lines[0].starts_with('{'), "{lines:?}");
    assert_no_panic(code, &stderr, 6);
    assert!(
        stderr.contains("completed with rejects"),
        "summary on stderr: {stderr}"
    );
}

#[test]
fn demo_headless_survives_a_reader_gone_before_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr, _) = head(spawn(dir.path(), &DEMO), 0);
    assert_no_panic(code, &stderr, 6);
    // The summary is on stderr, timestamped, where `2>>sync.log` keeps it.
    let line = stderr
        .lines()
        .find(|l| l.contains("completed with rejects"))
        .unwrap_or_default();
    assert!(
        line.len() > 21 && line.as_bytes()[4] == b'-' && line[..21].ends_with("Z "),
        "a timestamp first: {stderr}"
    );
}

#[test]
fn status_survives_head_1() {
    let dir = tempfile::tempdir().unwrap();
    // A run to list, so status has more than one line to write.
    let (code, stderr, _) = head(spawn(dir.path(), &DEMO), 0);
    assert_no_panic(code, &stderr, 6);
    let demo_state = dir.path().join("demo");
    let (code, stderr, lines) = head(spawn(&demo_state, &["status"]), 1);
    assert!(lines[0].contains("segments done"), "{lines:?}");
    assert_no_panic(code, &stderr, 0);
    for args in [&["status"][..], &["status", "--json"]] {
        let (code, stderr, _) = head(spawn(&demo_state, args), 0);
        assert_no_panic(code, &stderr, 0);
    }
}
