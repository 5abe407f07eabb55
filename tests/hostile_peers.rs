//! Hostile peers of a run that are not its API, through the real binary and the simulator:
//! a webhook and ping receiver that answers with redirects (never followed; the URLs'
//! keys never reach a file or a report), a control-socket client that writes 64 MiB
//! without a newline (cut off; the run goes on and its memory stays bounded), a hook that
//! floods its stderr (a bounded tail is kept), a hook that leaves children behind, times
//! out or still runs when supsync ends (its process group is killed: nothing of it is left
//! after supsync exits), and an `attach` whose terminal closes (a detach: exit 0, the run
//! goes on).
//!
//! Every test starts its own simulator, so the cases run concurrently. Peak memory is read
//! from `VmHWM` in /proc/<pid>/status.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode, Uri, header};
use common::{Sim, cmd, stat, stats, text, write_config, write_csv};

/// Memory a hostile peer may add to the run, at most (the finding was gigabytes).
const MEMORY_BOUND_KB: u64 = 50 * 1024;

/// Waits until `ok` holds, polling; fails with `what` after `timeout`.
fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ok() {
        assert!(t.elapsed() < timeout, "timed out after {timeout:?}: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The peak resident set of `pid` so far, in KiB.
fn peak_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in {status}"))
}

/// A config file for `url` (segments of 20, two at a time) with `extra` appended.
fn config_with(d: &Path, url: &str, extra: &str) -> PathBuf {
    let cfg = write_config(d, url, 20, 2);
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(extra);
    std::fs::write(&cfg, text).unwrap();
    cfg
}

/// `supsync run --headless --run-id ID` over a source of `records`, spawned.
fn spawn_run(d: &Path, cfg: &Path, run_id: &str, records: u64) -> Child {
    let src = d.join("suppliers.csv");
    write_csv(&src, records, &[]);
    cmd(
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
    .unwrap()
}

fn socket(d: &Path, run_id: &str) -> PathBuf {
    d.join("state/runs").join(run_id).join("control.sock")
}

/// Waits for the run's control socket to answer.
fn wait_live(d: &Path, run_id: &str) {
    let sock = socket(d, run_id);
    wait_until("the run's control socket", Duration::from_secs(20), || {
        UnixStream::connect(&sock).is_ok()
    });
}

/// A slow simulator (10 ms a record): a run of several seconds.
async fn slow_sim() -> supsync::sim::SimServer {
    Sim {
        per_record_ms: 10,
        ..Sim::default()
    }
    .start()
    .await
}

/// Every request a loopback listener got: (path and query, when).
type Seen = Arc<Mutex<Vec<String>>>;

/// A listener on a free loopback port answering each request with `answer(uri)`.
async fn listener(
    answer: impl Fn(&Uri) -> (StatusCode, HeaderMap) + Clone + Send + Sync + 'static,
) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let (s, answer) = (s.clone(), answer.clone());
        async move {
            s.lock().unwrap().push(uri.to_string());
            answer(&uri)
        }
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_from_the_webhook_and_ping_are_not_followed_and_their_keys_stay_in_memory() {
    let sim = Sim::default().start().await;
    // Where the redirects point: it must hear nothing.
    let (elsewhere, stolen) = listener(|_| (StatusCode::OK, HeaderMap::new())).await;
    let to = format!("{elsewhere}/stolen");
    let (receiver, got) = listener(move |_| {
        let mut h = HeaderMap::new();
        h.insert(header::LOCATION, to.parse().unwrap());
        (StatusCode::TEMPORARY_REDIRECT, h)
    })
    .await;
    let host = receiver.trim_start_matches("http://");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let cfg = config_with(
        &d,
        &sim.url(),
        &format!(
            "[notify]\nwebhook_url = \"http://hookuser:hookpw9@{host}/hook/k3y-in-path?sig=q5ery\"\n\
             ping_url = \"http://{host}/ping/uuid-77?token=t0ken\"\nwebhook_attempts = 3\n\
             events = [\"run_started\", \"run_succeeded\"]\n"
        ),
    );
    let (d2, cfg2) = (d.clone(), cfg.clone());
    let o = tokio::task::spawn_blocking(move || {
        spawn_run(&d2, &cfg2, "redirected", 100)
            .wait_with_output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(stat(&stats(&sim.url()).await, "records_stored"), 100);

    // One request each (a 3xx is final, not retried), none followed.
    let got = got.lock().unwrap().clone();
    assert!(stolen.lock().unwrap().is_empty(), "a redirect was followed");
    let hooks = got.iter().filter(|p| p.starts_with("/hook/")).count();
    assert_eq!(hooks, 2, "{got:?}");
    // The ping suffixes go on the path; the query stays.
    for p in [
        "/ping/uuid-77/start?token=t0ken",
        "/ping/uuid-77?token=t0ken",
    ] {
        assert!(got.iter().any(|g| g == p), "{p} not pinged: {got:?}");
    }
    let log = text(&o);
    assert!(
        log.contains("307") && log.contains(&format!("redirect to {elsewhere}/… not followed")),
        "the failure names the status and where it pointed: {log}"
    );

    // The keys reach no file, no report.
    let mut hay = vec![("output".to_string(), log)];
    let mut files = Vec::new();
    files_under(&d.join("state"), &mut files);
    for f in files.iter().filter(|f| !f.ends_with("run.lock")) {
        hay.push((f.display().to_string(), read_lossy(f)));
    }
    for args in [
        &["config"][..],
        &["status", "redirected"],
        &["status", "redirected", "--json"],
    ] {
        let o = cmd(&d, &cfg, args).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
        hay.push((format!("{args:?}"), text(&o)));
    }
    let manifest = read_lossy(&d.join("state/runs/redirected/manifest.json"));
    assert!(
        manifest.contains(&format!("\"{receiver}/…\"")),
        "recorded redacted: {manifest}"
    );
    for (name, text) in &hay {
        for key in ["hookpw9", "k3y-in-path", "q5ery", "uuid-77", "t0ken"] {
            assert!(!text.contains(key), "{name} holds {key}: {text}");
        }
    }
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

fn read_lossy(p: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_control_client_writing_without_a_newline_is_cut_off_and_the_run_goes_on() {
    let sim = slow_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let cfg = write_config(&d, &sim.url(), 20, 2);
    let o = tokio::task::spawn_blocking(move || {
        let child = spawn_run(&d, &cfg, "flooded", 1_200);
        wait_live(&d, "flooded");
        let before = peak_kb(child.id());
        let s = UnixStream::connect(socket(&d, "flooded")).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        // Reads whatever the run says, so it is never the one that stops reading.
        let mut reader = BufReader::new(s.try_clone().unwrap());
        let said = std::thread::spawn(move || {
            let mut lines = Vec::new();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                lines.push(std::mem::take(&mut line));
            }
            lines
        });
        let mut w = s;
        let chunk = vec![b'x'; 1 << 20];
        let mut sent = 0usize;
        let cut_off = loop {
            if sent >= 64 << 20 {
                break false;
            }
            match w.write(&chunk) {
                Ok(n) => sent += n,
                Err(_) => break true,
            }
        };
        assert!(cut_off, "64 MiB without a newline were all taken");
        assert!(sent < 16 << 20, "cut off only after {sent} bytes");
        let said = said.join().unwrap();
        assert!(
            said.last()
                .is_some_and(|l| l.contains("without a newline") && l.contains("disconnected")),
            "the client is told why: {:?}",
            said.last()
        );
        let grown = peak_kb(child.id()).saturating_sub(before);
        eprintln!("peak memory {before} KiB before the flood, +{grown} KiB after {sent} bytes");
        assert!(
            grown < MEMORY_BOUND_KB,
            "the run's peak memory grew by {grown} KiB"
        );
        // The run is still live and takes another client.
        assert!(child.id() > 0);
        let mut other = BufReader::new(UnixStream::connect(socket(&d, "flooded")).unwrap());
        let mut hello = String::new();
        other.read_line(&mut hello).unwrap();
        assert!(hello.contains("hello"), "{hello}");
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("without a newline; disconnected"),
        "the log says why: {}",
        text(&o)
    );
    assert_eq!(stat(&stats(&sim.url()).await, "records_stored"), 1_200);
}

/// An executable script `name` in `dir`.
fn script(dir: &Path, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_flooding_its_stderr_costs_a_bounded_tail() {
    let sim = Sim::default().start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    // 1 GiB on stderr, then its last words and a failure.
    let hook = script(
        &d,
        "flood.sh",
        "cat >/dev/null\nyes 'flooding stderr' | head -c 1073741824 >&2\necho 'last words' >&2\nexit 3\n",
    );
    let cfg = config_with(
        &d,
        &sim.url(),
        &format!(
            "[notify]\ncommand = [\"{hook}\"]\ncommand_timeout_secs = 120\nevents = [\"run_started\"]\n"
        ),
    );
    let o = tokio::task::spawn_blocking(move || {
        let child = spawn_run(&d, &cfg, "flooded-hook", 100);
        let pid = child.id();
        // Sampled while it runs: the peak just before the exit is the run's peak.
        let done = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(Mutex::new(0u64));
        let (dn, pk) = (done.clone(), peak.clone());
        let sampler = std::thread::spawn(move || {
            while !dn.load(Ordering::SeqCst) {
                if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status"))
                    && let Some(kb) = s
                        .lines()
                        .find_map(|l| l.strip_prefix("VmHWM:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                {
                    *pk.lock().unwrap() = kb;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let o = child.wait_with_output().unwrap();
        done.store(true, Ordering::SeqCst);
        sampler.join().unwrap();
        let peak = *peak.lock().unwrap();
        (o, peak)
    })
    .await
    .unwrap();
    let (o, peak) = o;
    eprintln!("peak memory with a 1 GiB stderr flood: {peak} KiB");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let log = text(&o);
    assert!(
        log.contains("exited with exit status: 3") && log.contains("flooding stderr last words"),
        "the failure and the tail of its stderr are logged: {log}"
    );
    let longest = log.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 2_000, "a {longest}-byte log line");
    // A plain headless run of 100 records peaks far below this; the flood was 1 GiB.
    assert!(
        peak > 0 && peak < 100 * 1024 + MEMORY_BOUND_KB,
        "peak {peak} KiB"
    );
}

/// The live processes (zombies are dead, only not yet reaped) in process group `pgid`.
fn group_members(pgid: i32) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid pgrp …`; comm may hold spaces, so split after its `)`.
        let Some((head, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let f: Vec<&str> = rest.split(' ').collect();
        if f.len() > 2 && f[2] == pgid.to_string() && f[0] != "Z" {
            out.push(format!("{head}) {}", f[0]));
        }
    }
    out
}

/// Fails when a process of group `pgid` is alive. SIGKILL is sent before supsync exits;
/// the kernel ends them within moments.
fn assert_group_gone(pgid: i32, whose: &str) {
    let t = Instant::now();
    while !group_members(pgid).is_empty() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left = group_members(pgid);
    assert!(
        left.is_empty(),
        "{whose}'s group {pgid} outlived supsync: {left:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hooks_children_do_not_outlive_it_nor_supsync() {
    let sim = Sim::default().start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    // Started: leaves children and never ends (timed out). Succeeded: leaves children and
    // exits 0 at once.
    let hook = script(
        &d,
        "children.sh",
        &format!(
            "cat >/dev/null\necho $$ > '{d}/pgid.'$SUPSYNC_EVENT\n\
             sleep 300 &\nsleep 300 &\n\
             if [ \"$SUPSYNC_EVENT\" = run_started ]; then sleep 300; fi\nexit 0\n",
            d = d.display()
        ),
    );
    let cfg = config_with(
        &d,
        &sim.url(),
        &format!(
            "[notify]\ncommand = [\"{hook}\"]\ncommand_timeout_secs = 2\n\
             events = [\"run_started\", \"run_succeeded\"]\n"
        ),
    );
    let (d2, cfg2) = (d.clone(), cfg.clone());
    let o = tokio::task::spawn_blocking(move || {
        spawn_run(&d2, &cfg2, "children", 100)
            .wait_with_output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("did not finish within 2s; its process group was killed"),
        "{}",
        text(&o)
    );
    for event in ["run_started", "run_succeeded"] {
        let pgid: i32 = std::fs::read_to_string(d.join(format!("pgid.{event}")))
            .unwrap_or_else(|e| panic!("the {event} hook did not run: {e}"))
            .trim()
            .parse()
            .unwrap();
        assert_group_gone(pgid, &format!("the {event} hook"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_still_running_when_supsync_ends_is_killed_with_its_group() {
    let sim = Sim::default().start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    // Within its (hour-long) time, but past the 15 s supsync gives alerts at the end.
    let hook = script(
        &d,
        "forever.sh",
        &format!(
            "cat >/dev/null\necho $$ > '{d}/pgid'\nsleep 3600 &\nsleep 3600\n",
            d = d.display()
        ),
    );
    let cfg = config_with(
        &d,
        &sim.url(),
        &format!(
            "[notify]\ncommand = [\"{hook}\"]\ncommand_timeout_secs = 3600\n\
             events = [\"run_started\"]\n"
        ),
    );
    let (d2, cfg2) = (d.clone(), cfg.clone());
    let (o, took) = tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        let o = spawn_run(&d2, &cfg2, "abandoned", 100)
            .wait_with_output()
            .unwrap();
        (o, t.elapsed())
    })
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("abandoned"),
        "the log says the alert was abandoned: {}",
        text(&o)
    );
    assert!(took < Duration::from_secs(60), "supsync took {took:?}");
    let pgid: i32 = std::fs::read_to_string(d.join("pgid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_group_gone(pgid, "the hook");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_exits_0_when_its_terminal_closes_and_the_run_goes_on() {
    use portable_pty::{CommandBuilder, PtySize, native_pty_system};
    let sim = slow_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let cfg = write_config(&d, &sim.url(), 20, 2);
    let o = tokio::task::spawn_blocking(move || {
        let child = spawn_run(&d, &cfg, "watched", 1_200);
        wait_live(&d, "watched");
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 40,
                cols: 120,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut c = CommandBuilder::new(env!("CARGO_BIN_EXE_supsync"));
        c.args(["--state-dir", d.join("state").to_str().unwrap(), "attach"]);
        c.env("TERM", "xterm-256color");
        c.env_remove("RUST_LOG");
        c.env_remove("SUPSYNC_CONFIG");
        let mut attach = pair.slave.spawn_command(c).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let hang_up = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (h, s) = (hang_up.clone(), seen.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || h.load(Ordering::SeqCst) {
                    break;
                }
                s.lock().unwrap().extend_from_slice(&buf[..n]);
            }
            // `reader` drops here: with the master gone, the last fd of the pty.
        });
        wait_until("the console", Duration::from_secs(20), || {
            String::from_utf8_lossy(&seen.lock().unwrap()).contains("watched")
        });
        // The terminal window closes: every master fd goes.
        hang_up.store(true, Ordering::SeqCst);
        drop(pair.master);
        let t = Instant::now();
        let status = loop {
            if let Some(st) = attach.try_wait().unwrap() {
                break st;
            }
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "attach did not end after its terminal closed"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let log = read_lossy(&d.join("state/logs/console.log"));
        assert_eq!(status.exit_code(), 0, "a closed terminal detaches: {log}");
        assert!(!log.contains("panicked"), "{log}");
        assert!(
            log.contains("detaching; the run goes on"),
            "the log says it detached: {log}"
        );
        // Detached, not stopped: the run goes on to its end.
        assert!(
            UnixStream::connect(socket(&d, "watched")).is_ok(),
            "the run is still live"
        );
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(stat(&stats(&sim.url()).await, "records_stored"), 1_200);
}
