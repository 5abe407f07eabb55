//! `resume` carries a run on with the settings it recorded: started with `--config X`,
//! killed with `kill -9`, then a bare `supsync resume` (no config, no secret in the env)
//! finishes against X's server with every record exactly once. A destination that differs
//! from the recorded one is refused (exit 2, both values named) unless
//! `--force-destination` is given.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{SECRET, Sim, stat, stats, text, write_config, write_csv};

/// The real binary with only `--state-dir`: no `--config`, no secret, no config file in
/// the platform config dir (it points at an empty directory).
fn bare(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_supsync"));
    c.arg("--state-dir")
        .arg(dir.join("state"))
        .args(args)
        .env("XDG_CONFIG_HOME", dir.join("no-config-here"))
        .env("HOME", dir.join("home"))
        .env_remove("SUPSYNC_CLIENT_SECRET")
        .env_remove("SUPSYNC_CONFIG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// A config for `url` whose secret is in a file beside it (a path a resume may reuse).
fn config_with_secret_file(dir: &Path, url: &str) -> PathBuf {
    let cfg = write_config(dir, url, 50, 2);
    std::fs::write(dir.join("secret.txt"), format!("{SECRET}\n")).unwrap();
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text = text.replace("[auth]\n", "[auth]\nclient_secret_file = \"secret.txt\"\n");
    std::fs::write(&cfg, text).unwrap();
    cfg
}

/// Starts a push of `src` as run `run_id` with `--config cfg`, and kills it with SIGKILL
/// once the journal holds a finished segment (well before the last one).
fn run_and_kill(dir: &Path, cfg: &Path, src: &Path, run_id: &str) {
    let mut child = bare(dir, &[])
        .arg("--config")
        .arg(cfg)
        .args(["run", "--headless", "--run-id", run_id, "--source"])
        .arg(src)
        .spawn()
        .unwrap();
    let journal = dir.join(format!("state/runs/{run_id}/journal.jsonl"));
    let t = Instant::now();
    loop {
        let body = std::fs::read_to_string(&journal).unwrap_or_default();
        if body.contains(r#""kind":"segment""#) {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "no segment finished within 20 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL: no flush, no goodbye
    child.wait().unwrap();
}

fn done_segments(dir: &Path, run_id: &str) -> usize {
    let body =
        std::fs::read_to_string(dir.join(format!("state/runs/{run_id}/journal.jsonl"))).unwrap();
    body.lines()
        .filter(|l| l.contains(r#""state":"done""#))
        .count()
}

async fn output(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_resume_after_kill_9_finishes_against_the_recorded_server() {
    // 50 records × 4 ms per segment, two at a time: about 2 s for the whole push.
    let sim = Sim {
        per_record_ms: 4,
        ..Sim::default()
    }
    .start()
    .await;
    let url = sim.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let cfg = config_with_secret_file(&d, &url);
    let src = d.join("suppliers.csv");
    write_csv(&src, 1_000, &[]);

    let (d2, cfg2, src2) = (d.clone(), cfg.clone(), src.clone());
    tokio::task::spawn_blocking(move || run_and_kill(&d2, &cfg2, &src2, "kept"))
        .await
        .unwrap();
    let before = done_segments(&d, "kept");
    assert!(before < 20, "killed in the middle: {before} of 20 done");

    // Not a word about the server, the secret or the segment size: the run recorded them.
    let o = output(bare(&d, &["resume", "--headless"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stderr);
    assert!(out.contains("run kept (push) completed"), "{}", text(&o));
    assert!(out.contains("1000 created"), "{}", text(&o));

    let st = stats(&url).await;
    assert_eq!(stat(&st, "records_stored"), 1_000, "{st}");
    assert_eq!(stat(&st, "records_created"), 1_000, "{st}");
    assert_eq!(
        stat(&st, "records_updated"),
        0,
        "nothing applied twice: {st}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_destination_is_refused_unless_forced() {
    let first = Sim {
        per_record_ms: 4,
        ..Sim::default()
    }
    .start()
    .await;
    let second = Sim::default().start().await;
    let (a, b) = (first.url(), second.url());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let cfg = config_with_secret_file(&d, &a);
    let src = d.join("suppliers.csv");
    write_csv(&src, 1_000, &[]);
    let (d2, cfg2, src2) = (d.clone(), cfg.clone(), src.clone());
    tokio::task::spawn_blocking(move || run_and_kill(&d2, &cfg2, &src2, "moved"))
        .await
        .unwrap();

    let set = format!("api.base_url={b}");
    let o = output(bare(&d, &["--set", &set, "resume", "moved", "--headless"])).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&a) && err.contains(&b), "both named: {err}");
    assert!(err.contains("--force-destination"), "{err}");
    assert_eq!(
        stat(&stats(&b).await, "records_stored"),
        0,
        "nothing sent to the new server"
    );

    // The same for a retry, and a config file that names another server.
    let other = d.join("other.toml");
    std::fs::write(&other, format!("[api]\nbase_url = \"{b}\"\n")).unwrap();
    let mut c = bare(&d, &["retry", "moved", "--headless"]);
    c.arg("--config").arg(&other);
    let o = output(c).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains(&format!("{}:2", other.display())));

    let o = output(bare(
        &d,
        &[
            "--set",
            &set,
            "resume",
            "moved",
            "--headless",
            "--force-destination",
        ],
    ))
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let st = stats(&b).await;
    assert!(stat(&st, "records_created") > 0, "forced onto {b}: {st}");
    let stored = stat(&st, "records_stored") + stat(&stats(&a).await, "records_stored");
    assert!(stored >= 1_000, "every record landed somewhere: {stored}");
}
