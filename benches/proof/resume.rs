//! Resume: a push run of 20,000 one-record segments whose journal says all but the last 20
//! are done (a real manifest from the engine, then 19,980 outcome lines written in the
//! journal's own format), resumed (a) in-process: journal replay alone, and engine start to
//! `RunStarted` (replay, source check, plan); (b) through the release binary, end to end
//! (process start, replay, the 20 remaining segments, exit). Target: under 0.5 s to start.

use std::io::Write;
use std::time::{Duration, Instant};

use supsync::config::{Config, TokenCacheMode};
use supsync::engine::events::{Command, Counts, EngineEvent, SegmentState};
use supsync::engine::{self, RunMode, RunParams};
use supsync::journal::{self, Entry};
use supsync::secret::Secret;

use crate::support::{SECRET, SimSpec, run_supsync, runtime, write_config, write_csv};

const SEGMENTS: usize = 20_000;
const LEFT: usize = 20;

pub fn run() {
    let rt = runtime();
    let sim = SimSpec::unlimited(100).start(&rt);
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path().join("suppliers.csv");
    write_csv(&src, SEGMENTS as u64);
    let mut cfg = Config::default();
    cfg.api.base_url = sim.url();
    cfg.auth.token_cache = TokenCacheMode::None;
    cfg.sync.segment_size = 1;
    cfg.sync.concurrency = 8;
    // Both runs here share one process, so the second one's first grant would wait out the
    // per-credential pacing (one token request a second) that spares identity providers a
    // storm. A real resume is a new process: the end-to-end figure below.
    cfg.auth.min_token_interval_ms = 0;
    let state = dir.path().join("state");
    let params = |mode| RunParams::new(cfg.clone(), Secret::new(SECRET), state.clone(), mode);

    // A real run, stopped as soon as it has started: its manifest and journal.
    rt.block_on(async {
        let mut h = engine::start(params(RunMode::Push {
            source: src.clone(),
            run_id: Some("resume-20000".into()),
        }));
        while let Some(ev) = h.events.recv().await {
            match ev {
                EngineEvent::RunStarted(_) => {
                    let _ = h.commands.send(Command::Stop).await;
                }
                EngineEvent::Finished(_) => break,
                _ => {}
            }
        }
    });
    // All but the last LEFT segments done, in the journal's own line format.
    let path = journal::run_dir(&state, "resume-20000")
        .expect("run dir")
        .join(journal::JOURNAL_FILE);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .expect("open the journal");
    let mut lines = String::new();
    for i in 0..SEGMENTS - LEFT {
        let counts = Counts {
            created: 1,
            ..Counts::default()
        };
        let e = Entry::segment(i, SegmentState::Done, 1, counts, None);
        lines.push_str(&e.to_line().expect("entry serialises"));
        lines.push('\n');
    }
    f.write_all(lines.as_bytes()).expect("write the journal");
    f.sync_all().expect("sync the journal");
    drop(f);
    let journal_bytes = std::fs::metadata(&path).map_or(0, |m| m.len());

    let t = Instant::now();
    let (_, replay) = journal::read(&state, "resume-20000").expect("journal replays");
    let replay_time = t.elapsed();
    assert_eq!(
        replay.segments.len(),
        SEGMENTS - LEFT.min(SEGMENTS),
        "{}",
        replay.segments.len()
    );

    // In-process: engine start to RunStarted.
    let start_time = rt.block_on(async {
        let t = Instant::now();
        let mut h = engine::start(params(RunMode::Resume {
            run_id: "resume-20000".into(),
        }));
        let mut started = None;
        while let Some(ev) = h.events.recv().await {
            match ev {
                EngineEvent::RunStarted(_) if started.is_none() => {
                    started = Some(t.elapsed());
                    let _ = h.commands.send(Command::Stop).await;
                }
                EngineEvent::Finished(_) => break,
                _ => {}
            }
        }
        started.unwrap_or(Duration::MAX)
    });

    // The binary, end to end.
    let cfg_file = write_config(dir.path(), &sim.url(), 1, 8);
    let r = run_supsync(
        dir.path(),
        &cfg_file,
        &["resume", "resume-20000", "--headless"],
    );
    r.expect_code(0);
    println!(
        "FIGURE resume: {SEGMENTS}-segment journal ({:.1} MB): replay {:.1} ms; engine start \
         to RunStarted {:.1} ms (target < 500 ms); `supsync resume` end to end with {LEFT} \
         segments left {:.0} ms (CPU {:.0} ms)",
        journal_bytes as f64 / 1e6,
        replay_time.as_secs_f64() * 1e3,
        start_time.as_secs_f64() * 1e3,
        r.wall.as_secs_f64() * 1e3,
        r.cpu.as_secs_f64() * 1e3,
    );
}
