//! `status` knows rather than guesses, through the real binary: a live run says so (and
//! that it is paused when its journal says so) and names `attach` (never `resume`); a
//! finished run shows its outcome word (exit 6 is "completed with rejects"); `status
//! RUN_ID` lists the first rejects; any unique prefix of a run id is accepted and an
//! ambiguous one lists the candidates.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Sim, cmd, text, write_config, write_csv};

fn status(d: &Path, cfg: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let o = cmd(d, cfg, args).output().expect("binary runs");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        text(&o),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_tells_live_from_dead_outcomes_rejects_and_prefixes() {
    // Slow enough that the second run is still going while the test looks at it.
    let sim = Sim {
        per_record_ms: 20,
        seed: 3,
        ..Sim::default()
    }
    .start()
    .await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let cfg = write_config(&d, &sim.url(), 50, 2);

    // A finished run with twelve invalid rows: exit 6.
    let bad: Vec<String> = (0..12)
        .map(|i| format!("SUP-9{i:05},Bad {i},XX,approved,b{i}@example.com,,2026-11-02T09:14:00Z"))
        .collect();
    let bad: Vec<&str> = bad.iter().map(String::as_str).collect();
    let src = d.join("bad.csv");
    write_csv(&src, 20, &bad);
    let o = tokio::task::spawn_blocking({
        let (d, cfg, src) = (d.clone(), cfg.clone(), src.clone());
        move || {
            cmd(
                &d,
                &cfg,
                &[
                    "run",
                    "--headless",
                    "--run-id",
                    "knows-rejects-0001",
                    "--source",
                ],
            )
            .arg(&src)
            .output()
            .unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(6), "{}", text(&o));

    // Listed by its outcome word, and detailed by a prefix with its first rejects.
    let (code, out, all) = status(&d, &cfg, &["status"]);
    assert_eq!(code, Some(0), "{all}");
    let line = out
        .lines()
        .find(|l| l.contains("knows-rejects-0001"))
        .unwrap_or_default();
    assert!(line.contains("completed with rejects"), "{all}");
    let (code, out, all) = status(&d, &cfg, &["status", "knows-rej"]);
    assert_eq!(code, Some(0), "{all}");
    assert!(
        out.contains("run knows-rejects-0001 (push): completed with rejects"),
        "{all}"
    );
    assert!(out.contains("rejects:  12 in "), "{all}");
    let listed = out.lines().filter(|l| l.contains("SUP-9")).count();
    assert_eq!(listed, 10, "the first ten, then a count: {all}");
    assert!(out.contains("line 22") && out.contains("… 2 more"), "{all}");

    // A live run: says so with its pid and names attach, never resume.
    let big = d.join("big.csv");
    write_csv(&big, 4000, &[]);
    let mut live = cmd(
        &d,
        &cfg,
        &[
            "run",
            "--headless",
            "--run-id",
            "knows-live-0002",
            "--source",
        ],
    )
    .arg(&big)
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let listed = loop {
        let (_, out, _) = status(&d, &cfg, &["status"]);
        if let Some(l) = out
            .lines()
            .find(|l| l.contains("knows-live-0002") && l.contains("live"))
        {
            break l.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "the live run never showed as live: {out}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let pid = live.id();
    assert!(
        listed.contains(&format!("running (live, pid {pid})")),
        "{listed}"
    );
    assert!(!listed.contains("resumable"), "{listed}");
    let (_, out, all) = status(&d, &cfg, &["status", "knows-li"]);
    assert!(out.contains(&format!("running (live, pid {pid})")), "{all}");
    assert!(out.contains("attach knows-live-0002"), "{all}");
    assert!(
        !out.contains("resume"),
        "a live run is never to be resumed: {all}"
    );

    // Two runs start with "knows-": the prefix names neither, and says which there are.
    let (code, _, all) = status(&d, &cfg, &["status", "knows-"]);
    assert_ne!(code, Some(0), "{all}");
    assert!(
        all.contains("ambiguous")
            && all.contains("knows-live-0002")
            && all.contains("knows-rejects-0001"),
        "{all}"
    );

    // Paused through its control socket: the journal says so, and so does status.
    {
        use std::io::Write;
        let sock = d.join("state/runs/knows-live-0002/control.sock");
        let mut c = std::os::unix::net::UnixStream::connect(&sock).expect("the run's socket");
        c.write_all(b"{\"command\":\"pause\"}\n").unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (_, out, _) = status(&d, &cfg, &["status"]);
            let line = out
                .lines()
                .find(|l| l.contains("knows-live-0002"))
                .unwrap_or_default()
                .to_string();
            if line.contains(&format!("paused (live, pid {pid})")) {
                break;
            }
            assert!(Instant::now() < deadline, "never shown paused: {out}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (_, out, all) = status(&d, &cfg, &["status", "knows-li"]);
        assert!(out.contains("paused (live, pid"), "{all}");
        assert!(out.contains("attach knows-live-0002"), "{all}");
    }

    // Killed: no longer live, resumable.
    live.kill().unwrap();
    live.wait().unwrap();
    let (_, out, all) = status(&d, &cfg, &["status"]);
    let line = out
        .lines()
        .find(|l| l.contains("knows-live-0002"))
        .unwrap_or_default();
    assert!(
        line.contains("resumable") && !line.contains("live,"),
        "{all}"
    );
    let (_, out, all) = status(&d, &cfg, &["status", "knows-li"]);
    assert!(out.contains("resume knows-live-0002"), "{all}");
}
