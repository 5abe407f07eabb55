//! Client overhead: the real binary pushing 100,000 records to a simulator that does no
//! work per record and has no limits, so the time and CPU are the client's own (request
//! building, JSON, HTTP, journal fsyncs). CPU is the child's user + system time (`wait4`).

use crate::support::{SimSpec, push_through, runtime};

const RECORDS: u64 = 100_000;

pub fn run() {
    let rt = runtime();
    let sim = SimSpec::unlimited(100).start(&rt);
    let r = push_through(&sim, RECORDS, 100, 8).run;
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
