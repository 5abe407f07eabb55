//! Pace benchmarks (the README's "Pace" figures): `sync.concurrency = "auto"` against fixed
//! settings on simulated servers, the engine driven in-process over loopback. Each figure
//! prints one `FIGURE name: …` line.
//!
//! ```sh
//! cargo bench --bench pace                          # every figure
//! cargo bench --bench pace -- capacity              # one: capacity slow schedule styles
//! PACE_RECORDS=400 cargo bench --bench pace         # a small, quick run
//! ```
//! What each measures:
//! - `capacity`: a server with 6 places (429 above, latency up by 5 ms at full load, 1 ms a
//!   record, segments of 10): wall time of fixed 2, 4, 6, 8, 16 and of `auto`; auto ÷ the
//!   best fixed (target ≤ 1.10) and auto's share of 429 answers (target ≤ 3 %).
//! - `slow`: an unlimited server at 20 ms a record: auto (max 16) against fixed 16, as a
//!   share of its throughput (target ≥ 90 %).
//! - `schedule`: a capacity of 12, 4 from 5 s, 12 again from 10 s: how long auto takes to
//!   come under 5 after the drop and over 9 after the rise (target: seconds).
//! - `styles`: the `capacity` comparison with per-record `data_rest` and `odata` pushes.
//!
//! Not part of `cargo test` (a `harness = false` bench target).

use std::path::Path;
use std::time::{Duration, Instant};

use supsync::config::{AUTO_CONCURRENCY, Config, TokenCacheMode};
use supsync::engine::events::{EngineEvent, RunState};
use supsync::engine::{self, RunMode, RunParams};
use supsync::secret::Secret;
use supsync::sim::{Profile, SimServer};

const SECRET: &str = "change-me";

type Bench = fn(&Setup);

const BENCHES: [(&str, Bench); 4] = [
    ("capacity", capacity),
    ("slow", slow),
    ("schedule", schedule),
    ("styles", styles),
];

struct Setup {
    rt: tokio::runtime::Runtime,
    /// `PACE_RECORDS`: records per push (default 6,000).
    records: u64,
}

fn main() {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    for name in &wanted {
        if !BENCHES.iter().any(|(n, _)| n == name) {
            let names: Vec<&str> = BENCHES.iter().map(|(n, _)| *n).collect();
            eprintln!("unknown figure `{name}`; choose from {}", names.join(", "));
            std::process::exit(2);
        }
    }
    let records = match std::env::var("PACE_RECORDS") {
        Ok(v) => match v.parse::<u64>() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!("PACE_RECORDS must be a number of records above 0, found {v:?}");
                std::process::exit(2);
            }
        },
        Err(_) => 6_000,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let setup = Setup { rt, records };
    for (name, bench) in BENCHES {
        if wanted.is_empty() || wanted.iter().any(|w| w == name) {
            eprintln!("--- {name}");
            bench(&setup);
        }
    }
}

fn profile(api: &str) -> Profile {
    Profile::from_toml(&format!(
        "[clients]\nsupplier-sync = \"{SECRET}\"\n[api]\nmax_batch = 100\n{api}\n\
         [faults]\nerror_rate = 0.0\ndrop_rate = 0.0\n[data]\nsuppliers = 0\n"
    ))
    .expect("bench profile parses")
}

/// What one push did.
struct Push {
    wall: Duration,
    requests: u64,
    refused: u64,
    /// (time from start, limit) for every pace the engine reported.
    limits: Vec<(Duration, usize)>,
}

fn push(s: &Setup, api: &str, style: Option<&str>, concurrency: usize, max: usize) -> Push {
    let dir = tempfile::tempdir().expect("a temp dir");
    s.rt.block_on(async {
        let sim = SimServer::start(profile(api), "127.0.0.1:0".parse().expect("loopback"))
            .await
            .expect("simulator starts");
        let mut c = Config::default();
        c.api.base_url = sim.url();
        c.api.timeout_secs = 30;
        c.auth.token_cache = TokenCacheMode::None;
        c.sync.segment_size = 10;
        c.sync.concurrency = concurrency;
        c.sync.max_concurrency = max;
        c.sync.max_attempts = 10;
        c.sync.retry_budget = 10_000;
        c.sync.backoff_initial_ms = 20;
        c.sync.backoff_max_ms = 200;
        c.sync.max_retry_after_secs = 1;
        if let Some(style) = style {
            c.api.mapping.preset = Some(style.to_string());
            c.api.mapping.push_concurrency = Some(1);
        }
        let src = dir.path().join("s.csv");
        write_csv(&src, s.records);
        let params = RunParams::new(
            c,
            Secret::new(SECRET),
            dir.path().join("state"),
            RunMode::Push {
                source: src,
                run_id: None,
            },
        );
        let mut h = engine::start(params);
        let started = Instant::now();
        let mut limits = Vec::new();
        let mut state = RunState::Failed;
        while let Some(ev) = h.events.recv().await {
            match ev {
                EngineEvent::Pace(p) => limits.push((started.elapsed(), p.limit)),
                EngineEvent::Finished(f) => {
                    state = f.state;
                    break;
                }
                _ => {}
            }
        }
        let wall = started.elapsed();
        assert_eq!(
            state,
            RunState::Completed,
            "the bench push did not complete"
        );
        let stats: serde_json::Value = reqwest::get(format!("{}/_sim/stats", sim.url()))
            .await
            .expect("stats answer")
            .json()
            .await
            .expect("stats are JSON");
        let n = |k: &str| stats[k].as_u64().unwrap_or(0);
        Push {
            wall,
            requests: n("requests"),
            refused: n("rate_limited"),
            limits,
        }
    })
}

fn write_csv(path: &Path, n: u64) {
    let mut s =
        String::from("supplier_id,name,country,status,contact_email,certifications,updated_at\n");
    for i in 0..n {
        s.push_str(&format!(
            "SUP-{i:06},Supplier {i} Ltd,DE,approved,q{i}@example.com,ISO 9001,2026-11-02T09:14:00Z\n"
        ));
    }
    std::fs::write(path, s).expect("source written");
}

fn share(p: &Push) -> f64 {
    p.refused as f64 * 100.0 / p.requests.max(1) as f64
}

/// Fixed settings and auto against one server; prints the comparison.
fn compare(s: &Setup, name: &str, api: &str, style: Option<&str>) {
    let mut best: Option<(usize, Duration)> = None;
    let mut line = String::new();
    for n in [2, 4, 6, 8, 16] {
        let p = push(s, api, style, n, 32);
        line.push_str(&format!(
            "fixed {n} {:.2} s ({:.1} % 429); ",
            p.wall.as_secs_f64(),
            share(&p)
        ));
        if best.is_none_or(|(_, w)| p.wall < w) {
            best = Some((n, p.wall));
        }
    }
    let auto = push(s, api, style, AUTO_CONCURRENCY, 32);
    let (bn, bw) = best.unwrap_or((0, Duration::from_secs(1)));
    println!(
        "FIGURE pace-{name}: {} records; {line}auto {:.2} s ({:.1} % 429, last limit {}); \
         auto ÷ best (fixed {bn}) = {:.2}",
        s.records,
        auto.wall.as_secs_f64(),
        share(&auto),
        auto.limits.last().map_or(0, |l| l.1),
        auto.wall.as_secs_f64() / bw.as_secs_f64()
    );
}

const CAPACITY_API: &str = "per_record_ms = 1\nmax_concurrent = 6\nload_latency_ms = 5";

fn capacity(s: &Setup) {
    compare(s, "capacity", CAPACITY_API, None);
}

fn styles(s: &Setup) {
    for style in ["data_rest", "odata"] {
        let api = format!("{CAPACITY_API}\nstyle = \"{style}\"");
        compare(s, style, &api, Some(style));
    }
}

fn slow(s: &Setup) {
    let api = "per_record_ms = 20\nmax_concurrent = 0";
    let fixed = push(s, api, None, 16, 16);
    let auto = push(s, api, None, AUTO_CONCURRENCY, 16);
    println!(
        "FIGURE pace-slow: {} records; fixed 16 {:.2} s, auto {:.2} s: {:.0} % of fixed's throughput",
        s.records,
        fixed.wall.as_secs_f64(),
        auto.wall.as_secs_f64(),
        fixed.wall.as_secs_f64() * 100.0 / auto.wall.as_secs_f64()
    );
}

fn schedule(s: &Setup) {
    let api = "per_record_ms = 10\nmax_concurrent = 12\ncapacity_schedule = [\
               { after_secs = 5, max_concurrent = 4 }, { after_secs = 10, max_concurrent = 12 }]";
    let p = push(s, api, None, AUTO_CONCURRENCY, 32);
    let first = |from: u64, ok: &dyn Fn(usize) -> bool| {
        p.limits
            .iter()
            .find(|(at, l)| *at >= Duration::from_secs(from) && ok(*l))
            .map(|(at, _)| format!("{:.1} s", (at.as_secs_f64() - from as f64)))
            .unwrap_or_else(|| "never (a longer run: raise PACE_RECORDS)".into())
    };
    println!(
        "FIGURE pace-schedule: {} records in {:.2} s; under 5 {} after the drop to 4, \
         over 9 {} after the rise to 12; {:.1} % 429",
        s.records,
        p.wall.as_secs_f64(),
        first(5, &|l| l <= 5),
        first(10, &|l| l >= 9),
        share(&p)
    );
}
