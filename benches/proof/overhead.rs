//! Client overhead: the real binary pushing 100,000 records to a simulator that does no
//! work per record and has no limits, so the time and CPU are the client's own (request
//! building, JSON, HTTP, journal fsyncs). CPU is the child's user + system time (`wait4`).

use crate::support::{SimSpec, run_supsync, runtime, stat, write_config, write_csv};

const RECORDS: u64 = 100_000;

pub fn run() {
    let rt = runtime();
    let sim = SimSpec::unlimited(100).start(&rt);
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path().join("suppliers.csv");
    write_csv(&src, RECORDS);
    let cfg = write_config(dir.path(), &sim.url(), 100, 8);
    let src_arg = src.to_string_lossy().to_string();
    let r = run_supsync(
        dir.path(),
        &cfg,
        &["run", "--headless", "--source", &src_arg],
    );
    r.expect_code(0);
    let st = sim.stats();
    assert_eq!(stat(&st, "records_created"), RECORDS, "{st}");
    println!(
        "FIGURE overhead: {RECORDS} records in {:.2} s = {:.0} records/s (per_record_ms 0, \
         segment 100, concurrency 8); client CPU {:.2} s = {:.1} µs per record; peak RSS {:.1} MB",
        r.wall.as_secs_f64(),
        RECORDS as f64 / r.wall.as_secs_f64(),
        r.cpu.as_secs_f64(),
        r.cpu.as_secs_f64() * 1e6 / RECORDS as f64,
        r.max_rss as f64 / 1e6,
    );
}
