//! The control socket of a run, through the real binary and the simulator: `supsync ps`
//! lists a headless run with its progress; raw clients get a snapshot then live events and
//! pause and resume the run (the journal records the pause); two clients at once; a client
//! that never reads costs the run nothing; a killed run's socket is not live and its resume
//! serves a new one; and `supsync attach` in a pseudo-terminal shows the console, pauses
//! with `p` and detaches with `q` while the run goes on to the same counts.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Output};
use std::time::{Duration, Instant};

use common::pty::Pty;
use common::{SECRET, Sim, cmd, stat, stats, text, write_config, write_csv};
use serde_json::Value;

fn socket(d: &Path, run_id: &str) -> PathBuf {
    d.join("state/runs").join(run_id).join("control.sock")
}

/// Waits until `ok` holds, polling; fails with `what` after `timeout`.
fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ok() {
        assert!(t.elapsed() < timeout, "timed out after {timeout:?}: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `supsync ps --json` for the test's state dir.
fn ps(d: &Path, cfg: &Path) -> Vec<Value> {
    let o = cmd(d, cfg, &["ps", "--json"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    serde_json::from_slice::<Vec<Value>>(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)))
}

fn ps_run(d: &Path, cfg: &Path, run_id: &str) -> Option<Value> {
    ps(d, cfg).into_iter().find(|r| r["run_id"] == run_id)
}

/// A raw client of the control socket, reading with a deadline.
struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    /// Every line received, for the secret check.
    transcript: String,
}

impl Client {
    fn connect(path: &Path) -> Client {
        let s = UnixStream::connect(path).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        Client {
            writer: s.try_clone().unwrap(),
            reader: BufReader::new(s),
            transcript: String::new(),
        }
    }

    /// The next line, `None` at the end of the stream.
    fn next(&mut self) -> Option<Value> {
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .expect("a line within 15 s");
        if n == 0 {
            return None;
        }
        self.transcript.push_str(&line);
        Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}")))
    }

    /// The snapshot, `hello` to `live`.
    fn snapshot(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let v = self.next().expect("the snapshot ends with live");
            let live = v["type"] == "live";
            out.push(v);
            if live {
                return out;
            }
        }
    }

    fn send(&mut self, command: &str) {
        writeln!(self.writer, "{{\"command\":\"{command}\"}}").unwrap();
    }

    /// Reads until a line satisfies `ok`; returns it.
    fn wait_for(&mut self, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
        loop {
            match self.next() {
                Some(v) if ok(&v) => return v,
                Some(_) => {}
                None => panic!("stream ended before {what}"),
            }
        }
    }

    /// Reads to the end of the stream; the types seen.
    fn drain(&mut self) -> Vec<String> {
        let mut types = Vec::new();
        while let Some(v) = self.next() {
            types.push(v["type"].as_str().unwrap_or_default().to_string());
        }
        types
    }
}

fn is_state(v: &Value, state: &str) -> bool {
    v["type"] == "run_state" && v["state"] == state
}

/// Starts `supsync run --headless --run-id ID --source CSV` and waits for its socket.
fn start_run(d: &Path, cfg: &Path, run_id: &str, src: &Path) -> Child {
    let child = cmd(
        d,
        cfg,
        &[
            "run",
            "--headless",
            "--run-id",
            run_id,
            "--source",
            src.to_str().unwrap(),
        ],
    )
    .spawn()
    .unwrap();
    let sock = socket(d, run_id);
    wait_until("the run's control socket", Duration::from_secs(20), || {
        sock.exists()
    });
    child
}

/// The summary's record line (`records: N created, …`), on stderr after a headless run.
fn records_line(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .find(|l| l.starts_with("records:"))
        .unwrap_or_else(|| panic!("no records line: {}", text(o)))
        .to_string()
}

/// A slow simulator (10 ms a record) and a 1,200-record source in segments of 20: a run
/// of several seconds, long enough to look at and pause.
async fn slow_setup() -> (common::Sim, supsync::sim::SimServer) {
    let sim = Sim {
        per_record_ms: 10,
        ..Sim::default()
    };
    let server = sim.start().await;
    (sim, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ps_and_two_clients_see_the_run_pause_and_resume_to_the_same_counts() {
    let (_, attached_sim) = slow_setup().await;
    let (_, plain_sim) = slow_setup().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("attached");
    let plain = dir.path().join("plain");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::create_dir_all(&plain).unwrap();
    let cfg = write_config(&d, &attached_sim.url(), 20, 2);
    let plain_cfg = write_config(&plain, &plain_sim.url(), 20, 2);
    let src = dir.path().join("suppliers.csv");
    write_csv(&src, 1_200, &[]);

    let (d2, cfg2, src2) = (d.clone(), cfg.clone(), src.clone());
    let plain_run = tokio::task::spawn_blocking(move || {
        let mut c = cmd(
            &plain,
            &plain_cfg,
            &["run", "--headless", "--source", src2.to_str().unwrap()],
        );
        c.output().unwrap()
    });
    let attached = tokio::task::spawn_blocking(move || {
        let (d, cfg) = (d2, cfg2);
        let child = start_run(&d, &cfg, "watched", &src);
        let pid = child.id();

        // ps lists it, with its pid and progress.
        let r = ps_run(&d, &cfg, "watched").expect("ps lists the live run");
        assert_eq!(r["pid"], pid, "{r}");
        assert_eq!(r["direction"], "push", "{r}");
        assert_eq!(r["records_total"], 1_200, "{r}");
        assert_eq!(r["segments_total"], 60, "{r}");
        assert!(r["state"] == "running" || r["state"] == "planning", "{r}");

        // Two clients: each gets the whole snapshot first.
        let mut a = Client::connect(&socket(&d, "watched"));
        let mut b = Client::connect(&socket(&d, "watched"));
        for c in [&mut a, &mut b] {
            let snap = c.snapshot();
            assert_eq!(snap[0]["type"], "hello", "{snap:?}");
            assert_eq!(snap[0]["pid"], pid);
            assert_eq!(snap[1]["type"], "run_started", "{snap:?}");
            assert_eq!(snap[1]["info"]["segments"].as_array().unwrap().len(), 60);
            assert!(snap.iter().any(|v| v["type"] == "token"), "{snap:?}");
        }

        // One pauses; both see it, ps says so, the journal has it.
        a.send("pause");
        a.wait_for("paused", |v| is_state(v, "paused"));
        b.wait_for("paused", |v| is_state(v, "paused"));
        assert_eq!(ps_run(&d, &cfg, "watched").unwrap()["state"], "paused");
        let journal = std::fs::read_to_string(d.join("state/runs/watched/journal.jsonl")).unwrap();
        assert!(
            journal.contains(r#""kind":"run","state":"paused""#),
            "{journal}"
        );
        // Paused means paused: once in-flight segments settle, no record moves.
        std::thread::sleep(Duration::from_millis(1_000));
        let before = ps_run(&d, &cfg, "watched").unwrap()["records_done"].clone();
        std::thread::sleep(Duration::from_millis(1_000));
        let after = ps_run(&d, &cfg, "watched").unwrap()["records_done"].clone();
        assert_eq!(before, after, "records moved while paused");
        assert!(after.as_u64().unwrap() < 1_200, "paused before the end");

        // The other resumes; the run goes to its end and says so to both.
        b.send("resume");
        a.wait_for("running again", |v| is_state(v, "running"));
        let done = b.wait_for("finished", |v| v["type"] == "finished");
        assert_eq!(done["summary"]["state"], "completed", "{done}");
        a.wait_for("finished", |v| v["type"] == "finished");
        assert!(a.drain().is_empty(), "nothing after finished");
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(
            !socket(&d, "watched").exists(),
            "the socket is removed at the end"
        );
        assert!(ps(&d, &cfg).is_empty(), "nothing live after the end");
        let journal = std::fs::read_to_string(d.join("state/runs/watched/journal.jsonl")).unwrap();
        assert!(
            journal.contains(r#""kind":"run","state":"running""#),
            "{journal}"
        );

        // Nothing secret crossed the socket: no client secret, no (JWT) access token.
        for c in [&a, &b] {
            assert!(
                !c.transcript.contains(SECRET),
                "the client secret crossed the socket"
            );
            assert!(!c.transcript.contains("eyJ"), "a JWT crossed the socket");
            assert!(c.transcript.contains("\"fingerprint\""), "fingerprints do");
        }
        o
    });
    let (plain, attached) = (plain_run.await.unwrap(), attached.await.unwrap());
    assert_eq!(plain.status.code(), Some(0), "{}", text(&plain));
    assert_eq!(records_line(&attached), records_line(&plain));
    assert_eq!(
        records_line(&attached),
        "records: 1200 created, 0 updated, 0 unchanged, 0 applied, 0 rejected"
    );
    let st = stats(&attached_sim.url()).await;
    assert_eq!(stat(&st, "records_stored"), 1_200, "{st}");
    assert_eq!(stat(&st, "records_updated"), 0, "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_does_not_hold_the_run_back() {
    // Many small segments: thousands of events, and a snapshot bigger than a socket buffer.
    let fast = Sim {
        per_record_ms: 0,
        max_concurrent: 8,
        ..Sim::default()
    };
    let (sim_a, sim_b) = (fast.start().await, fast.start().await);
    let dir = tempfile::tempdir().unwrap();
    let (d, base) = (dir.path().join("stalled"), dir.path().join("baseline"));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::create_dir_all(&base).unwrap();
    let cfg = write_config(&d, &sim_a.url(), 4, 4);
    let base_cfg = write_config(&base, &sim_b.url(), 4, 4);
    let src = dir.path().join("suppliers.csv");
    write_csv(&src, 6_000, &[]);

    let src2 = src.clone();
    let baseline = tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        let o = cmd(
            &base,
            &base_cfg,
            &["run", "--headless", "--source", src2.to_str().unwrap()],
        )
        .output()
        .unwrap();
        (o, t.elapsed())
    });
    let stalled = tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        let child = start_run(&d, &cfg, "stalled", &src);
        // Connects and never reads a byte; a second client reads everything.
        let stuck = UnixStream::connect(socket(&d, "stalled")).unwrap();
        let mut reader = Client::connect(&socket(&d, "stalled"));
        let types = reader.drain();
        let o = child.wait_with_output().unwrap();
        let elapsed = t.elapsed();
        drop(stuck);
        (o, elapsed, types)
    });
    let (base_out, base_time) = baseline.await.unwrap();
    let (out, time, types) = stalled.await.unwrap();
    assert_eq!(base_out.status.code(), Some(0), "{}", text(&base_out));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(records_line(&out), records_line(&base_out));
    assert_eq!(
        types.last().map(String::as_str),
        Some("finished"),
        "{types:?}"
    );
    // Every outcome reached it, live or (had it lagged) folded into a fresh snapshot.
    assert!(types.iter().any(|t| t == "segment"), "{types:?}");
    // A run held back by the stuck client would wait on it for every event (seconds
    // each); the bound allows the end's bounded flush wait (at most a few seconds).
    eprintln!("baseline {base_time:?}, with a stuck client {time:?}");
    assert!(
        time < base_time * 3 + Duration::from_secs(10),
        "with a stuck client {time:?}, without {base_time:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_runs_socket_is_not_live_and_its_resume_serves_a_new_one() {
    let (_, sim) = slow_setup().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let cfg = write_config(&d, &sim.url(), 20, 2);
    let src = d.join("suppliers.csv");
    write_csv(&src, 600, &[]);
    let st = tokio::task::spawn_blocking(move || {
        let mut child = start_run(&d, &cfg, "killed", &src);
        // SIGKILL: no destructor removes the socket.
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(
            socket(&d, "killed").exists(),
            "kill -9 leaves the socket file"
        );
        assert!(ps(&d, &cfg).is_empty(), "a dead socket is not a live run");

        let resumed = cmd(&d, &cfg, &["resume", "killed", "--headless"])
            .spawn()
            .unwrap();
        let pid = resumed.id();
        wait_until("ps lists the resumed run", Duration::from_secs(20), || {
            ps_run(&d, &cfg, "killed").is_some_and(|r| r["pid"] == pid)
        });
        let o = resumed.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(!socket(&d, "killed").exists());
    });
    st.await.unwrap();
    let st = stats(&sim.url()).await;
    assert_eq!(stat(&st, "records_stored"), 600, "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_shows_the_console_pauses_with_p_and_detaches_with_q() {
    let (_, sim) = slow_setup().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let cfg = write_config(&d, &sim.url(), 20, 2);
    let src = d.join("suppliers.csv");
    write_csv(&src, 1_200, &[]);
    let o = tokio::task::spawn_blocking(move || {
        let child = start_run(&d, &cfg, "tmuxed", &src);
        let state = d.join("state");
        let mut pty = Pty::start(
            &["--state-dir", state.to_str().unwrap(), "attach"],
            &[],
            40,
            120,
        );
        // The whole console, from the snapshot: the run's header, the grid, the token.
        let t = Instant::now();
        // The footer is the last line drawn: waiting for it too means a whole frame has
        // arrived, not the first half of one.
        pty.wait_for("the console", Duration::from_secs(5), |s| {
            s.contains("run tmuxed")
                && s.contains("60 segments")
                && s.contains("token")
                && s.contains("q detach")
        });
        let shown = t.elapsed();
        eprintln!("console up {shown:?} after attach started");

        pty.press("p");
        pty.wait_for("PAUSED", Duration::from_secs(10), |s| s.contains("PAUSED"));
        assert_eq!(ps_run(&d, &cfg, "tmuxed").unwrap()["state"], "paused");

        pty.press("q");
        let t = Instant::now();
        while pty.child.try_wait().unwrap().is_none() {
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "attach did not exit on q"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // What it printed after leaving the alternate screen (the pty may deliver it after
        // the exit is seen).
        wait_until("the detach message", Duration::from_secs(5), || {
            pty.raw().contains("detached from run tmuxed")
        });
        // Detached, not stopped: the run is live and still paused.
        assert_eq!(ps_run(&d, &cfg, "tmuxed").unwrap()["state"], "paused");

        // A read-only attacher cannot resume it; a raw client can.
        let mut ro = Pty::start(
            &[
                "--state-dir",
                state.to_str().unwrap(),
                "attach",
                "tmuxed",
                "--read-only",
            ],
            &[],
            40,
            120,
        );
        ro.wait_for("read-only console", Duration::from_secs(5), |s| {
            s.contains("read-only") && s.contains("PAUSED")
        });
        ro.press("p");
        ro.wait_for("the refusal", Duration::from_secs(5), |s| {
            s.contains("control keys are ignored")
        });
        assert_eq!(ps_run(&d, &cfg, "tmuxed").unwrap()["state"], "paused");
        let mut c = Client::connect(&socket(&d, "tmuxed"));
        c.snapshot();
        c.send("resume");
        // The run ends while the read-only console watches: it shows the end, q leaves.
        ro.wait_for("the end", Duration::from_secs(30), |s| {
            s.contains("COMPLETED")
        });
        ro.press("q");
        let o = child.wait_with_output().unwrap();
        let t = Instant::now();
        while ro.child.try_wait().unwrap().is_none() {
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "attach did not exit on q"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        o
    })
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        records_line(&o),
        "records: 1200 created, 0 updated, 0 unchanged, 0 applied, 0 rejected"
    );
}
