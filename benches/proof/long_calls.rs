//! Long calls: 100-record batches at 8 ms a record, so each call is 800 ms of server work,
//! at concurrency 1 and 8, on runs of 20 s and more, with and without token churn. Two
//! figures per case: wall / ideal, where ideal = records × 8 ms / concurrency as the
//! contract states it, and the client's overhead = wall − the ideal computed from the
//! simulator's own service time (`service_us_total` in `/_sim/stats`: arrival to the
//! answer's last byte, summed), so the figure does not depend on how punctual the
//! simulator's timers were. The simulator runs in this process, as in every figure.

use std::time::Duration;

use crate::support::{SimSpec, push_through, runtime, stat};

const PER_RECORD_MS: u64 = 8;
const SEGMENT: usize = 100;
/// 25 rounds of 800 ms calls: a 20-second run at either concurrency.
const ROUNDS: u64 = 25;

/// (concurrency, churn): churn = scope TTL 2 s, idle 3 s, session 8 s (a renewal every
/// couple of calls); without it the clocks outlast the run.
const CASES: [(usize, bool); 4] = [(1, false), (1, true), (8, false), (8, true)];

pub fn run() {
    let rt = runtime();
    for (concurrency, churn) in CASES {
        let spec = SimSpec {
            per_record_ms: PER_RECORD_MS,
            max_batch: SEGMENT as u64,
            max_concurrent: concurrency as u64,
            ..if churn {
                SimSpec {
                    scope_ttl: 2,
                    idle: 3,
                    session: 8,
                    ..SimSpec::unlimited(SEGMENT as u64)
                }
            } else {
                SimSpec::unlimited(SEGMENT as u64)
            }
        };
        let records = ROUNDS * SEGMENT as u64 * concurrency as u64;
        let sim = spec.start(&rt);
        let push = push_through(&sim, records, SEGMENT, concurrency);
        let (r, st) = (push.run, push.stats);
        let ideal = Duration::from_millis(records * PER_RECORD_MS / concurrency as u64);
        let served = Duration::from_micros(stat(&st, "service_us_total") / concurrency as u64);
        let calls = stat(&st, "service_requests").max(1);
        let rounds = (calls as f64 / concurrency as f64).max(1.0);
        let overhead = r.wall.saturating_sub(served);
        // What the simulator added to each call beyond its stated work.
        let late_ms = (stat(&st, "service_us_total") as f64 / 1000.0
            - (records * PER_RECORD_MS) as f64)
            / calls as f64;
        println!(
            "FIGURE long-calls c={concurrency} {}: {records} records in {:.2} s, ideal {:.2} s, \
             wall/ideal {:.4} (target <= {}); server time / c {:.2} s, wall/served {:.4}, \
             client overhead {:.0} ms ({:.2} ms a round of calls); the simulator {late_ms:.2} ms \
             a call past its stated work; {} token requests, 401s {}, CPU stolen {} ms",
            if churn { "churn" } else { "no churn" },
            r.wall.as_secs_f64(),
            ideal.as_secs_f64(),
            r.wall.as_secs_f64() / ideal.as_secs_f64(),
            if concurrency == 1 { "1.01" } else { "1.02" },
            served.as_secs_f64(),
            r.wall.as_secs_f64() / served.as_secs_f64().max(1e-9),
            overhead.as_secs_f64() * 1000.0,
            overhead.as_secs_f64() * 1000.0 / rounds,
            stat(&st, "token_requests"),
            stat(&st, "unauthorized"),
            r.stolen.as_millis(),
        );
    }
}
