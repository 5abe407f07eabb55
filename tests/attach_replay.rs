//! `attach` replays: a client that connects to a live run's control socket (through the
//! real binary, against the simulator) gets the run's history with the times things
//! happened: the recent segment outcomes as they were seconds ago, the refresh log from the
//! first token on, and the run's own ETA (the figure `ps` shows too).

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use common::{Sim, cmd, text, write_config, write_csv};
use serde_json::Value;

fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ok() {
        assert!(t.elapsed() < timeout, "timed out after {timeout:?}: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ps_run(d: &Path, cfg: &Path, run_id: &str) -> Option<Value> {
    let o = cmd(d, cfg, &["ps", "--json"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let runs: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    runs.into_iter().find(|r| r["run_id"] == run_id)
}

/// `hello` to `live` from the run's control socket.
fn snapshot(sock: &Path) -> Vec<Value> {
    let s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut r = BufReader::new(s);
    let mut out = Vec::new();
    loop {
        let mut line = String::new();
        assert!(
            r.read_line(&mut line).unwrap() > 0,
            "the snapshot ends with live"
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        let live = v["type"] == "live";
        out.push(v);
        if live {
            return out;
        }
    }
}

fn unix(v: &Value) -> f64 {
    v["secs_since_epoch"].as_f64().unwrap() + v["nanos_since_epoch"].as_f64().unwrap() / 1e9
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attached_client_gets_the_runs_history_with_its_original_times() {
    let sim = Sim {
        per_record_ms: 10,
        ..Sim::default()
    };
    let server = sim.start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let cfg = write_config(&d, &server.url(), 20, 2);
    let src = d.join("suppliers.csv");
    write_csv(&src, 1_200, &[]);
    tokio::task::spawn_blocking(move || {
        let child = cmd(
            &d,
            &cfg,
            &[
                "run",
                "--headless",
                "--run-id",
                "replayed",
                "--source",
                src.to_str().unwrap(),
            ],
        )
        .spawn()
        .unwrap();
        let sock = d.join("state/runs/replayed/control.sock");
        wait_until("the run's socket", Duration::from_secs(20), || {
            sock.exists()
        });
        wait_until("a finished segment", Duration::from_secs(30), || {
            ps_run(&d, &cfg, "replayed")
                .is_some_and(|r| r["segments_finished"].as_u64().unwrap_or(0) >= 1)
        });
        // Let the first outcomes age, so their times cannot be the connection's.
        std::thread::sleep(Duration::from_millis(1_500));
        let connected = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let snap = snapshot(&sock);
        let history = &snap
            .iter()
            .find(|v| v["type"] == "history")
            .unwrap_or_else(|| panic!("no history in {snap:?}"))["history"];
        let recent = history["recent"].as_array().unwrap();
        let first = recent
            .iter()
            .find(|a| a["text"].as_str().unwrap().contains("done"))
            .unwrap_or_else(|| panic!("no segment outcome in {history}"));
        assert!(first["ago_secs"].as_f64().unwrap() >= 1.0, "{first}");
        assert!(unix(&first["wall"]) <= connected - 1.0, "{first}");
        let log = history["refresh_log"].as_array().unwrap();
        assert!(
            !log.is_empty(),
            "the refresh log from the first token: {history}"
        );
        assert!(unix(&log[0]["wall"]) <= connected - 1.0, "{}", log[0]);
        assert!(history["active_secs"].as_f64().unwrap() > 1.0, "{history}");
        // ps shows the run's own ETA, from the same view.
        let r = ps_run(&d, &cfg, "replayed").expect("still live");
        if r["segments_finished"].as_u64() < Some(60) {
            assert!(r["eta_secs"].as_f64().is_some(), "{r}");
        }
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    })
    .await
    .unwrap();
}
