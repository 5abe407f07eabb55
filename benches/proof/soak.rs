//! Soak: a refresh window at the demo timescale, too slow for `cargo test` (about seven
//! minutes). 15-second tokens whose refresh the server accepts only in the last 2 seconds
//! (docs/API.md §1.3), the demo's idle window (15 s) and session limit (60 s), and a
//! 500-record push slow enough to cross 30 renewals. Two runs at once against their own
//! simulators: one told the window (`auth.refresh_window_secs = 2`), one that has to learn
//! it from the first "too early" refusal. `cargo test` runs the same rules on 2-second
//! tokens (`tests/expiry_signals.rs`).

use std::time::Duration;

use supsync::sim::{Profile, SimServer};

use crate::support::{SECRET, run_supsync, runtime, stat, write_config, write_csv};

const RECORDS: u64 = 500;
const SEGMENT: usize = 5;
const CONCURRENCY: usize = 4;
/// 500 records × 3.4 s / 4 slots ≈ 425 s: 30 renewals every ~13.5 s fit with room.
const PER_RECORD_MS: u64 = 3_400;

fn profile() -> Profile {
    Profile::from_toml(&format!(
        r#"
[tokens]
default_ttl_secs = 60
scope_ttl_secs = {{ supplier_mgmt = 15 }}
idle_timeout_secs = 15
absolute_timeout_secs = 60
refresh_window_secs = 2
[clients]
supplier-sync = "{SECRET}"
[api]
per_record_ms = {PER_RECORD_MS}
max_batch = 100
max_concurrent = 0
[faults]
error_rate = 0.0
drop_rate = 0.0
[data]
suppliers = 0
"#
    ))
    .expect("soak profile parses")
}

pub fn window() {
    let rt = runtime();
    let runs: Vec<_> = [("told", true), ("learned", false)]
        .into_iter()
        .map(|(label, told)| {
            let sim = rt
                .block_on(SimServer::start(
                    profile(),
                    "127.0.0.1:0".parse().expect("loopback address"),
                ))
                .expect("simulator starts on loopback");
            std::thread::spawn(move || {
                let dir = tempfile::tempdir().expect("temp dir");
                let src = dir.path().join("suppliers.csv");
                write_csv(&src, RECORDS);
                let cfg = write_config(dir.path(), &sim.url(), SEGMENT, CONCURRENCY);
                let text = std::fs::read_to_string(&cfg).expect("config written");
                let auth = if told {
                    "[auth]\nrefresh_window_secs = 2\n"
                } else {
                    "[auth]\n"
                };
                let text = text
                    .replacen("[auth]\n", auth, 1)
                    .replace("timeout_secs = 60", "timeout_secs = 120");
                std::fs::write(&cfg, text).expect("config written");
                let src_arg = src.to_string_lossy().to_string();
                let r = run_supsync(
                    dir.path(),
                    &cfg,
                    &["run", "--headless", "--source", &src_arg],
                );
                (label, r, sim.stats())
            })
        })
        .collect();
    for run in runs {
        let (label, r, st) = run.join().expect("soak run");
        r.expect_code(0);
        let renewals = stat(&st, "refreshes") + stat(&st, "sessions").saturating_sub(1);
        println!(
            "FIGURE soak-window ({label}): {RECORDS} records in {:.0} s, {} renewals ({} \
             refreshes, {} sessions; target >= 30), {} refused as too early, {} failed token \
             requests in all (target <= 2), {} answered 401s, {} records created",
            r.wall.as_secs_f64(),
            renewals,
            stat(&st, "refreshes"),
            stat(&st, "sessions"),
            stat(&st, "refresh_too_early"),
            stat(&st, "token_errors"),
            stat(&st, "unauthorized"),
            stat(&st, "records_created"),
        );
        assert_eq!(stat(&st, "records_created"), RECORDS, "{st}");
        assert!(renewals >= 30, "{label}: {st}");
        assert!(stat(&st, "token_errors") <= 2, "{label}: {st}");
        assert!(r.wall > Duration::from_secs(1));
    }
}
