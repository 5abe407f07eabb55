//! Memory: peak RSS (VmHWM) of the real binary pushing 1,000,000 records headless
//! (segment 500, concurrency 8, a simulator with no per-record work). The source is
//! streamed, so the peak should not grow with the file (target under 64 MB). Then the
//! same for pulling 1,000,000 records into a JSONL file (no target of its own; the
//! assembly keeps a 16-byte fingerprint per id to drop duplicates).

use crate::support::{SimSpec, push_through, run_supsync, runtime, write_config};

const RECORDS: u64 = 1_000_000;

pub fn run() {
    let rt = runtime();
    let sim = SimSpec::unlimited(500).start(&rt);
    let push = push_through(&sim, RECORDS, 500, 8);
    let (r, size) = (push.run, push.source_bytes);
    println!(
        "FIGURE memory: {RECORDS} records ({:.0} MB CSV) pushed in {:.1} s ({:.0} records/s); \
         peak RSS {:.1} MB (target < 64 MB); client CPU {:.1} s",
        size as f64 / 1e6,
        r.wall.as_secs_f64(),
        RECORDS as f64 / r.wall.as_secs_f64(),
        r.max_rss as f64 / 1e6,
        r.cpu.as_secs_f64(),
    );
    drop(sim);
    pull(&rt);
}

fn pull(rt: &tokio::runtime::Runtime) {
    let sim = SimSpec {
        suppliers: RECORDS,
        ..SimSpec::unlimited(500)
    }
    .start(rt);
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("pulled.jsonl");
    let cfg = write_config(dir.path(), &sim.url(), 500, 8);
    let out_arg = out.to_string_lossy().to_string();
    let r = run_supsync(dir.path(), &cfg, &["run", "--headless", "--pull", &out_arg]);
    r.expect_code(0);
    let rows = std::fs::read(&out)
        .expect("the pull wrote its output")
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u64;
    assert_eq!(rows, RECORDS, "every record pulled once");
    println!(
        "FIGURE memory-pull: {RECORDS} records pulled into JSONL in {:.1} s ({:.0} records/s); \
         peak RSS {:.1} MB; client CPU {:.1} s",
        r.wall.as_secs_f64(),
        RECORDS as f64 / r.wall.as_secs_f64(),
        r.max_rss as f64 / 1e6,
        r.cpu.as_secs_f64(),
    );
}
