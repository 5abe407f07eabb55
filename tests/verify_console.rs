//! The console's `v` in a pseudo-terminal: at the end of a push it quits, restores the
//! terminal, prints the summary and then `verify`'s report, and exits with its code.

mod common;

use std::time::{Duration, Instant};

use common::pty::Pty;
use common::{SECRET, Sim, write_config, write_csv};

#[test]
fn v_at_the_end_of_a_push_verifies_it() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Sim::default().start());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = write_config(d, &sim.url(), 20, 4);
    let src = d.join("suppliers.csv");
    write_csv(&src, 60, &[]);
    let state = d.join("state");
    let mut c = Pty::start(
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
            "run",
            "--run-id",
            "console-push",
            "--source",
            src.to_str().unwrap(),
        ],
        &[("SUPSYNC_CLIENT_SECRET", SECRET)],
        40,
        160,
    );
    let long = Duration::from_secs(30);
    c.wait_for("the push to end", long, |s| s.contains("COMPLETED"));
    c.press("v");
    let status = {
        let start = Instant::now();
        loop {
            if let Some(st) = c.child.try_wait().unwrap() {
                break st;
            }
            assert!(
                start.elapsed() < long,
                "the console did not exit after v: {}",
                c.screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    std::thread::sleep(Duration::from_millis(300)); // let the reader take the last bytes
    let after = c.screen();
    assert!(
        after.contains("verify console-push: the server holds every record"),
        "{after}"
    );
    assert_eq!(status.exit_code(), 0, "{after}");
    drop(sim);
}
