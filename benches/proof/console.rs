//! Console at scale. `render`: one whole-screen frame (`panes::render` into ratatui's
//! `TestBackend`, diff included) of a run with 20,000 segments in every state, a live
//! token and a minute of throughput history (target under 2 ms). `idle`: CPU of the real
//! binary's console (`supsync demo` in a pty) left showing its completed run for 30 s, from
//! /proc/<pid>/stat (target under 1% of a core).

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use supsync::auth::status::{GrantKind, TokenPhase, TokenStatus};
use supsync::console::app::App;
use supsync::console::panes;
use supsync::engine::events::{Counts, Direction, EngineEvent, RunInfo, SegmentState, SegmentView};

const SEGMENTS: usize = 20_000;
const FRAMES: usize = 300;

fn app_with_segments(base: Instant, w: u16, h: u16) -> (App, Instant) {
    let mut app = App::new(true);
    app.resize(Rect::new(0, 0, w, h));
    app.apply(
        EngineEvent::RunStarted(RunInfo {
            run_id: "bench-20000".into(),
            direction: Direction::Push,
            source: "suppliers-2m.csv".into(),
            target: "127.0.0.1:8080".into(),
            total_records: SEGMENTS as u64 * 100,
            segments: (0..SEGMENTS)
                .map(|i| SegmentView::pending(i, 100))
                .collect(),
            started_wall: SystemTime::UNIX_EPOCH,
            local_rejects: 0,
            api_style: String::new(),
        }),
        base,
    );
    let mut now = base;
    // 60% done (a few with rejects or failed), eight running, some retrying.
    for i in 0..SEGMENTS * 6 / 10 {
        let mut v = SegmentView::pending(i, 100);
        v.attempts = 1;
        v.state = match i % 97 {
            0 => SegmentState::Failed,
            1 | 2 => SegmentState::DoneWithRejects,
            _ => SegmentState::Done,
        };
        v.counts = Counts {
            created: 98,
            rejected: u64::from(v.state == SegmentState::DoneWithRejects) * 2,
            ..Counts::default()
        };
        v.duration = Some(Duration::from_millis(800));
        if i % 200 == 0 {
            now += Duration::from_secs(1);
            app.tick(now);
        }
        app.apply(EngineEvent::Segment(v), now);
    }
    for i in SEGMENTS * 6 / 10..SEGMENTS * 6 / 10 + 12 {
        let mut v = SegmentView::pending(i, 100);
        v.state = if i % 3 == 0 {
            SegmentState::Retrying
        } else {
            SegmentState::Running
        };
        v.attempts = 2;
        app.apply(EngineEvent::Segment(v), now);
    }
    let status = TokenStatus {
        phase: TokenPhase::Valid,
        fingerprint: Some("3f9a1c2b".into()),
        grant: Some(GrantKind::RefreshToken),
        issued_at: Some(now - Duration::from_secs(300)),
        lifetime: Some(Duration::from_secs(900)),
        ttl_deadline: Some(now + Duration::from_secs(600)),
        idle_deadline: Some(now + Duration::from_secs(899)),
        idle_window: Some(Duration::from_secs(900)),
        session_deadline: Some(now + Duration::from_secs(1800)),
        session_started_at: Some(now - Duration::from_secs(1800)),
        has_refresh_token: true,
        next_refresh_at: Some(now + Duration::from_secs(480)),
        margin: Duration::from_secs(120),
        renewals: 7,
        sessions: 2,
        last_result: Some("refreshed (refresh_token) in 4 ms".into()),
        ..TokenStatus::default()
    };
    app.apply(EngineEvent::Token(status), now);
    (app, now)
}

pub fn render() {
    for (w, h) in [(120u16, 40u16), (240, 70)] {
        let (mut app, mut now) = app_with_segments(Instant::now(), w, h);
        let mut term = Terminal::new(TestBackend::new(w, h)).expect("test backend");
        let mut times = Vec::with_capacity(FRAMES);
        for f in 0..FRAMES + 20 {
            // Something changes between frames, as in a live run: a segment finishes.
            let mut v = SegmentView::pending(SEGMENTS * 7 / 10 + f, 100);
            v.state = SegmentState::Done;
            v.counts.created = 100;
            now += Duration::from_millis(50);
            app.apply(EngineEvent::Segment(v), now);
            app.tick(now);
            let t = Instant::now();
            term.draw(|frame| panes::render(frame, &app, now))
                .expect("draw into the test backend");
            if f >= 20 {
                times.push(t.elapsed()); // the first 20 warm caches up
            }
        }
        times.sort();
        let mean = times.iter().sum::<Duration>() / times.len() as u32;
        let p99 = times[times.len() * 99 / 100];
        println!(
            "FIGURE render {w}x{h}: one whole frame with {SEGMENTS} segments: mean {:.3} ms, \
             median {:.3} ms, p99 {:.3} ms, max {:.3} ms over {FRAMES} frames (target < 2 ms)",
            ms(mean),
            ms(times[times.len() / 2]),
            ms(p99),
            ms(times[times.len() - 1])
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// utime + stime of `pid`, in clock ticks (fields 14 and 15 of /proc/<pid>/stat).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after its ')' are plain.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

pub fn idle() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 40,
            cols: 120,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("a pty");
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_supsync"));
    cmd.args(["demo", "--records", "120"]);
    cmd.env("SUPSYNC_STATE_DIR", dir.path());
    cmd.env("TERM", "xterm-256color");
    cmd.env_remove("RUST_LOG");
    let mut child = pair.slave.spawn_command(cmd).expect("the console starts");
    drop(pair.slave);
    let pid = child.process_id().expect("a pid");
    let mut reader = pair.master.try_clone_reader().expect("pty reader");
    let mut writer = pair.master.take_writer().expect("pty writer");
    let parser = Arc::new(Mutex::new(vt100::Parser::new(nz(40), nz(120), 0)));
    let bytes = Arc::new(Mutex::new(0usize));
    let (p, b) = (parser.clone(), bytes.clone());
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Ok(mut p) = p.lock() {
                p.process(&buf[..n]);
            }
            if let Ok(mut b) = b.lock() {
                *b += n;
            }
        }
    });
    let screen = || {
        parser
            .lock()
            .map(|p| p.screen().contents())
            .unwrap_or_default()
    };
    let t = Instant::now();
    while !screen().contains("COMPLETED") {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "the demo did not complete; screen:\n{}",
            screen()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    let window = Duration::from_secs(30);
    let clk = clock_ticks_per_sec();
    let b0 = *bytes.lock().expect("byte counter");
    let c0 = cpu_ticks(pid).expect("the console's /proc stat");
    std::thread::sleep(window);
    let c1 = cpu_ticks(pid).expect("the console's /proc stat");
    let b1 = *bytes.lock().expect("byte counter");
    let cpu = (c1 - c0) as f64 / clk;
    println!(
        "FIGURE idle-console: completed demo on screen, 30 s: {:.2} s CPU = {:.2}% of a core \
         (target < 1%), {} bytes written to the terminal",
        cpu,
        cpu * 100.0 / window.as_secs_f64(),
        b1 - b0
    );
    let _ = writer.write_all(b"q");
    let _ = writer.flush();
    std::thread::sleep(Duration::from_millis(500));
    let _ = writer.write_all(b"y");
    let _ = writer.flush();
    let t = Instant::now();
    while child.try_wait().ok().flatten().is_none() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
}

fn nz(n: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(n).unwrap_or(std::num::NonZeroU16::MIN)
}

fn clock_ticks_per_sec() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}
