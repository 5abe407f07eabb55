//! Pace benchmarks (the README's "Pace" table): `sync.concurrency = "auto"` against fixed
//! settings on simulated servers, the engine driven in-process over loopback. The client
//! runs with the defaults of everything but the setting compared (segments of 10 records,
//! 5 for per-record pushes), as "nothing set" would. Prints the detail of every scenario, then the README's table.
//!
//! ```sh
//! cargo bench --bench pace                      # the table (a few minutes)
//! cargo bench --bench pace -- capacity styles   # some scenarios only
//! PACE_SCALE=0.3 PACE_REPEATS=1 cargo bench --bench pace   # a quick look
//! ```
//! Scenarios:
//! - `capacity`: a server with 6 places (429 above, latency up by 5 ms at full load, 1 ms a
//!   record): fixed 4, 6, 8 and 16 against `auto`; auto ÷ the best fixed (target ≤ 1.10)
//!   and auto's share of 429 answers (target ≤ 3 %).
//! - `styles`: the same with per-record `data_rest` and `odata` pushes (one request a
//!   record, one at a time in a segment).
//! - `slow`: an unlimited server at 20 ms a record: auto (max 16) against fixed 16, as a
//!   share of its throughput (target ≥ 90 %).
//! - `schedule`: a capacity of 12, 4 from 3 s, 12 again from 6 s: how long auto takes to
//!   come to 5 or below after the drop and to 9 or above after the rise (target: seconds).
//!
//! Runs of one scenario are interleaved (fixed 4, 6, …, auto, then again), `PACE_REPEATS`
//! times (default 3), and each setting's median is taken, so a load spike on a shared
//! machine hurts one run of each, not all of one setting. Not part of `cargo test`.

use std::path::Path;
use std::time::{Duration, Instant};

use supsync::config::{AUTO_CONCURRENCY, Config, TokenCacheMode};
use supsync::engine::events::{Command, EngineEvent, RunState};
use supsync::engine::{self, RunMode, RunParams};
use supsync::secret::Secret;
use supsync::sim::{Profile, SimServer};

const SECRET: &str = "change-me";

type Scenario = fn(&Setup, &mut Vec<Row>);

const SCENARIOS: [(&str, Scenario); 4] = [
    ("capacity", capacity),
    ("styles", styles),
    ("slow", slow),
    ("schedule", schedule),
];

struct Setup {
    rt: tokio::runtime::Runtime,
    /// `PACE_SCALE`: a factor on every scenario's records (default 1).
    scale: f64,
    /// `PACE_REPEATS`: runs of each setting (default 3).
    repeats: usize,
}

impl Setup {
    fn records(&self, n: u64) -> u64 {
        ((n as f64 * self.scale) as u64).max(20)
    }
}

/// One line of the README table.
struct Row {
    scenario: String,
    best_fixed: String,
    auto: String,
    ratio: String,
    refused: String,
    note: String,
}

fn main() {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    for name in &wanted {
        if !SCENARIOS.iter().any(|(n, _)| n == name) {
            let names: Vec<&str> = SCENARIOS.iter().map(|(n, _)| *n).collect();
            eprintln!(
                "unknown scenario `{name}`; choose from {}",
                names.join(", ")
            );
            std::process::exit(2);
        }
    }
    let scale = env_number("PACE_SCALE", 1.0, |v| v > 0.0);
    let repeats = env_number("PACE_REPEATS", 3.0, |v| v >= 1.0 && v.fract() == 0.0) as usize;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let setup = Setup { rt, scale, repeats };
    let started = Instant::now();
    let mut rows = Vec::new();
    for (name, scenario) in SCENARIOS {
        if wanted.is_empty() || wanted.iter().any(|w| w == name) {
            eprintln!("--- {name}");
            scenario(&setup, &mut rows);
        }
    }
    println!();
    println!(
        "| scenario | best fixed | auto | auto ÷ best | 429s (auto) | |\n|---|---|---|---|---|---|"
    );
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            r.scenario, r.best_fixed, r.auto, r.ratio, r.refused, r.note
        );
    }
    println!(
        "\nmeasured by `cargo bench --bench pace` ({} run(s) of each setting, medians; {:.0} s in all)",
        setup.repeats,
        started.elapsed().as_secs_f64()
    );
}

fn env_number(name: &str, default: f64, ok: fn(f64) -> bool) -> f64 {
    match std::env::var(name) {
        Err(_) => default,
        Ok(v) => match v.parse::<f64>() {
            Ok(n) if ok(n) => n,
            _ => {
                eprintln!(
                    "{name} must be a positive number (a whole one for repeats), found {v:?}"
                );
                std::process::exit(2);
            }
        },
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
    /// (time from start, limit, reason) for every pace the engine reported.
    limits: Vec<(Duration, usize, String)>,
    /// Run-wide holds the engine reported.
    holds: usize,
    /// Stopped at the deadline: `wall` is a lower bound.
    cut: bool,
}

impl Push {
    fn share(&self) -> f64 {
        self.refused as f64 * 100.0 / self.requests.max(1) as f64
    }

    /// Decreases of the limit: (after a 429 or other push-back, after a latency rise).
    fn decreases(&self) -> (usize, usize) {
        let (mut pushback, mut latency) = (0, 0);
        for w in self.limits.windows(2) {
            if w[1].1 < w[0].1 {
                match w[1].2.contains("latency") {
                    true => latency += 1,
                    false => pushback += 1,
                }
            }
        }
        (pushback, latency)
    }

    /// The share of the run the limit spent within one of `target`, and how long it took
    /// to first get there.
    fn at(&self, target: usize) -> (f64, Option<Duration>) {
        let near = |l: usize| l.abs_diff(target) <= 1;
        let mut inside = Duration::ZERO;
        for (i, (at, l, _)) in self.limits.iter().enumerate() {
            let until = self.limits.get(i + 1).map_or(self.wall, |n| n.0);
            if near(*l) {
                inside += until.saturating_sub(*at);
            }
        }
        let first = self.limits.iter().find(|l| near(l.1)).map(|l| l.0);
        (
            inside.as_secs_f64() * 100.0 / self.wall.as_secs_f64().max(1e-9),
            first,
        )
    }
}

type StopWhen = dyn Fn(Duration, usize, &[(Duration, usize, String)]) -> bool;

fn push(
    s: &Setup,
    api: &str,
    style: Option<&str>,
    records: u64,
    (concurrency, max): (usize, usize),
    stop_when: &StopWhen,
    deadline: Option<Duration>,
) -> Push {
    let dir = tempfile::tempdir().expect("a temp dir");
    s.rt.block_on(async {
        let sim = SimServer::start(profile(api), "127.0.0.1:0".parse().expect("loopback"))
            .await
            .expect("simulator starts");
        let mut c = Config::default();
        c.api.base_url = sim.url();
        c.api.timeout_secs = 30;
        c.auth.token_cache = TokenCacheMode::None;
        // A per-record segment is one request a record: 5 keeps its round short enough
        // for the run to spend most of its time past the start.
        c.sync.segment_size = if style.is_some() { 5 } else { 10 };
        c.sync.concurrency = concurrency;
        c.sync.max_concurrency = max;
        if let Some(style) = style {
            c.api.mapping.preset = Some(style.to_string());
            c.api.mapping.push_concurrency = Some(1);
        }
        let src = dir.path().join("s.csv");
        write_csv(&src, records);
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
        let mut limits: Vec<(Duration, usize, String)> = Vec::new();
        let mut holds = 0;
        let mut state = RunState::Failed;
        let mut stopped = false;
        let mut cut = false;
        let give_up = started + deadline.unwrap_or(Duration::from_secs(3600));
        loop {
            let ev = tokio::select! {
                ev = h.events.recv() => ev,
                _ = tokio::time::sleep_until(give_up.into()), if !stopped => {
                    stopped = true;
                    cut = true;
                    let _ = h.commands.send(Command::Stop).await;
                    continue;
                }
            };
            let Some(ev) = ev else { break };
            match ev {
                EngineEvent::Pace(p) => {
                    let at = started.elapsed();
                    if !stopped && stop_when(at, p.limit, &limits) {
                        stopped = true;
                        let _ = h.commands.send(Command::Stop).await;
                    }
                    limits.push((at, p.limit, p.reason));
                }
                EngineEvent::Holding(Some(_)) => holds += 1,
                EngineEvent::Finished(f) => {
                    state = f.state;
                    break;
                }
                _ => {}
            }
        }
        let wall = started.elapsed();
        assert!(
            state == RunState::Completed || stopped,
            "the bench push did not complete: {state:?}"
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
            holds,
            cut,
        }
    })
}

fn never(_: Duration, _: usize, _: &[(Duration, usize, String)]) -> bool {
    false
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

/// The run of median wall time.
fn median(mut runs: Vec<Push>) -> Push {
    runs.sort_by_key(|p| p.wall);
    let mid = runs.len() / 2;
    runs.swap_remove(mid)
}

/// Runs every setting (`AUTO_CONCURRENCY` for auto) `repeats` times, interleaved; the
/// median run of each, in the order given. A fixed setting's run is stopped once it takes
/// twice the fastest run so far: a setting that slow is not the best, and the bench stays
/// short (fixed settings above the capacity hold the run a second per 429).
fn interleaved(
    s: &Setup,
    settings: &[(usize, usize)],
    run: &dyn Fn(usize, usize, Option<Duration>) -> Push,
) -> Vec<Push> {
    let mut runs: Vec<Vec<Push>> = settings.iter().map(|_| Vec::new()).collect();
    let mut fastest: Option<Duration> = None;
    for _ in 0..s.repeats {
        for (i, &(n, max)) in settings.iter().enumerate() {
            let deadline = fastest.filter(|_| n != AUTO_CONCURRENCY).map(|f| f * 2);
            let p = run(n, max, deadline);
            if trace() && n == AUTO_CONCURRENCY {
                let t: Vec<String> = p
                    .limits
                    .iter()
                    .map(|(at, l, r)| format!("{:.2}:{l}{}", at.as_secs_f64(), &r[..1]))
                    .collect();
                eprintln!("auto trace: {}", t.join(" "));
            }
            if !p.cut {
                fastest = Some(fastest.map_or(p.wall, |f| f.min(p.wall)));
            }
            runs[i].push(p);
        }
    }
    runs.into_iter().map(median).collect()
}

/// `PACE_TRACE=1`: print every limit auto reported (time, limit, the reason's first letter).
fn trace() -> bool {
    std::env::var_os("PACE_TRACE").is_some()
}

/// "1.23 s", or "> 1.23 s (stopped)" for a run cut at its deadline.
fn secs(p: &Push) -> String {
    match p.cut {
        true => format!("> {:.2} s (stopped)", p.wall.as_secs_f64()),
        false => format!("{:.2} s", p.wall.as_secs_f64()),
    }
}

fn name(n: usize) -> String {
    match n {
        AUTO_CONCURRENCY => "auto".into(),
        n => format!("fixed {n}"),
    }
}

/// Fixed settings and auto against a server of `CAPACITY` places.
fn compare(s: &Setup, rows: &mut Vec<Row>, label: &str, api: &str, style: Option<&str>) {
    let records = s.records(if style.is_some() { 2_400 } else { 10_000 });
    let settings = [(6, 32), (4, 32), (8, 32), (AUTO_CONCURRENCY, 32)];
    let runs = interleaved(s, &settings, &|n, max, deadline| {
        push(s, api, style, records, (n, max), &never, deadline)
    });
    let mut detail = String::new();
    for ((n, _), p) in settings.iter().zip(&runs) {
        detail.push_str(&format!(
            "{} {} ({:.1} % 429, {} holds); ",
            name(*n),
            secs(p),
            p.share(),
            p.holds
        ));
    }
    let (auto, fixed) = runs.split_last().expect("auto ran");
    let (best_n, best) = settings
        .iter()
        .zip(fixed)
        .filter(|(_, p)| !p.cut)
        .min_by_key(|(_, p)| p.wall)
        .map(|((n, _), p)| (*n, p))
        .expect("fixed settings ran");
    let (pushback, latency) = auto.decreases();
    let (near, reached) = auto.at(CAPACITY);
    let ratio = auto.wall.as_secs_f64() / best.wall.as_secs_f64();
    println!(
        "FIGURE pace-{label}: {records} records; {detail}auto ÷ best (fixed {best_n}) = {ratio:.2}; \
         auto: {pushback} decreases after push-back, {latency} after latency, {} run-wide holds, \
         within 1 of the capacity {near:.0} % of the run (first at {}), last limit {}",
        auto.holds,
        reached.map_or("never".into(), |d| format!("{:.2} s", d.as_secs_f64())),
        auto.limits.last().map_or(0, |l| l.1),
    );
    rows.push(Row {
        scenario: format!("{label}: capacity {CAPACITY}, {records} records"),
        best_fixed: format!("{:.2} s (fixed {best_n})", best.wall.as_secs_f64()),
        auto: secs(auto),
        ratio: format!("{ratio:.2}"),
        refused: format!("{:.1} %", auto.share()),
        note: format!("at capacity ±1 for {near:.0} % of the run"),
    });
}

const CAPACITY: usize = 6;

fn capacity_api() -> String {
    format!("per_record_ms = 1\nmax_concurrent = {CAPACITY}\nload_latency_ms = 5")
}

fn capacity(s: &Setup, rows: &mut Vec<Row>) {
    compare(s, rows, "batches (contract)", &capacity_api(), None);
}

fn styles(s: &Setup, rows: &mut Vec<Row>) {
    for style in ["data_rest", "odata"] {
        let api = format!("{}\nstyle = \"{style}\"", capacity_api());
        compare(s, rows, &format!("per record ({style})"), &api, Some(style));
    }
}

fn slow(s: &Setup, rows: &mut Vec<Row>) {
    let api = "per_record_ms = 20\nmax_concurrent = 0";
    // Long enough (about 7 s) that the climb from 1 is a small part of the run, as it is
    // of a real one.
    let records = s.records(6_000);
    let settings = [(16, 16), (AUTO_CONCURRENCY, 16)];
    let runs = interleaved(s, &settings, &|n, max, deadline| {
        push(s, api, None, records, (n, max), &never, deadline)
    });
    let (fixed, auto) = (&runs[0], &runs[1]);
    let share = fixed.wall.as_secs_f64() * 100.0 / auto.wall.as_secs_f64();
    let (pushback, latency) = auto.decreases();
    let reached = auto.limits.iter().find(|l| l.1 >= 16).map(|l| l.0);
    println!(
        "FIGURE pace-slow: {records} records; fixed 16 {:.2} s, auto {:.2} s: {share:.0} % of \
         fixed's throughput; auto at 16 after {}; {pushback} decreases after push-back, \
         {latency} after latency",
        fixed.wall.as_secs_f64(),
        auto.wall.as_secs_f64(),
        reached.map_or("never".into(), |d| format!("{:.2} s", d.as_secs_f64())),
    );
    rows.push(Row {
        scenario: format!("slow, unlimited (20 ms a record), {records} records"),
        best_fixed: format!("{:.2} s (fixed 16)", fixed.wall.as_secs_f64()),
        auto: format!("{:.2} s (max 16)", auto.wall.as_secs_f64()),
        ratio: format!("{:.2}", auto.wall.as_secs_f64() / fixed.wall.as_secs_f64()),
        refused: format!("{:.1} %", auto.share()),
        note: format!("{share:.0} % of fixed 16's throughput"),
    });
}

const DROP: Duration = Duration::from_secs(3);
const RISE: Duration = Duration::from_secs(6);

fn schedule(s: &Setup, rows: &mut Vec<Row>) {
    let api = format!(
        "per_record_ms = 10\nmax_concurrent = 12\ncapacity_schedule = [\
         {{ after_secs = {}, max_concurrent = 4 }}, {{ after_secs = {}, max_concurrent = 12 }}]",
        DROP.as_secs(),
        RISE.as_secs()
    );
    // Enough records for twice the time it may take; the run stops once auto is back up.
    let records = 40_000;
    let back_up = |at: Duration, limit: usize, _: &[(Duration, usize, String)]| {
        (at >= RISE && limit >= 9) || at >= RISE * 4
    };
    let mut runs = Vec::new();
    for _ in 0..s.repeats {
        let p = push(
            s,
            &api,
            None,
            records,
            (AUTO_CONCURRENCY, 32),
            &back_up,
            None,
        );
        runs.push(p);
    }
    let follow = |p: &Push, from: Duration, ok: &dyn Fn(usize) -> bool| {
        p.limits
            .iter()
            .find(|(at, l, _)| *at >= from && ok(*l))
            .map(|(at, _, _)| at.saturating_sub(from))
    };
    let mut downs: Vec<Option<Duration>> =
        runs.iter().map(|p| follow(p, DROP, &|l| l <= 5)).collect();
    let mut ups: Vec<Option<Duration>> =
        runs.iter().map(|p| follow(p, RISE, &|l| l >= 9)).collect();
    // `None` (never) sorts first: put it last, as the worst.
    let key = |d: &Option<Duration>| d.unwrap_or(Duration::MAX);
    downs.sort_by_key(key);
    ups.sort_by_key(key);
    let mut shares: Vec<f64> = runs.iter().map(Push::share).collect();
    shares.sort_by(f64::total_cmp);
    let words =
        |d: Option<Duration>| d.map_or("never".into(), |d| format!("{:.1} s", d.as_secs_f64()));
    let (down, up, share) = (
        downs[downs.len() / 2],
        ups[ups.len() / 2],
        shares[shares.len() / 2],
    );
    println!(
        "FIGURE pace-schedule: capacity 12, 4 from {} s, 12 from {} s: auto at 5 or below {} \
         after the drop, at 9 or above {} after the rise; {share:.1} % 429 (medians of {})",
        DROP.as_secs(),
        RISE.as_secs(),
        words(down),
        words(up),
        runs.len()
    );
    rows.push(Row {
        scenario: "capacity 12 → 4 → 12".into(),
        best_fixed: "—".into(),
        auto: "—".into(),
        ratio: "—".into(),
        refused: format!("{share:.1} %"),
        note: format!(
            "down to ≤ 5 in {}, back to ≥ 9 in {}",
            words(down),
            words(up)
        ),
    });
}
