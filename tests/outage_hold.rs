//! A failure the server itself calls temporary is waited out, not spent: while the
//! simulator answers every call (token endpoint included) 503 with `Retry-After`, the run
//! holds until the stated time, no segment spends an attempt or fails, and the run
//! finishes after the outage. The real binary over loopback, `--json` events on stdout.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{cmd, stat, stats, text, write_csv};
use supsync::sim::{Profile, SimServer};

/// Tokens live `token_ttl` seconds, so a renewal falls inside the outage when short.
async fn sim(token_ttl: u64) -> SimServer {
    let profile = Profile::from_toml(&format!(
        r#"
[tokens]
default_ttl_secs = {token_ttl}
scope_ttl_secs = {{ supplier_mgmt = {token_ttl} }}
[clients]
supplier-sync = "{secret}"
[api]
per_record_ms = 2
max_batch = 100
max_concurrent = 4
[faults]
error_rate = 0.0
drop_rate = 0.0
"#,
        secret = common::SECRET
    ))
    .unwrap();
    SimServer::start(profile, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// The defaults an operator has (5 attempts, 0.5 s first backoff, 10 failures in a row
/// before the probe): the settings under which segments used to fail in an outage.
fn config(dir: &Path, url: &str) -> PathBuf {
    let p = dir.join("config.toml");
    std::fs::write(
        &p,
        format!(
            "[api]\nbase_url = \"{url}\"\ntimeout_secs = 5\n\
             [auth]\ntoken_cache = \"none\"\n\
             [sync]\nsegment_size = 20\nconcurrency = 4\nmax_outage_secs = 60\n"
        ),
    )
    .unwrap();
    p
}

struct Seen {
    out: std::process::Output,
    /// From the start of the outage to the first record stored after it.
    resumed_after: Duration,
    events: Vec<serde_json::Value>,
}

/// What is down, and the counter that moves again when it is back.
#[derive(Clone, Copy)]
enum Down {
    /// Everything: records are stored again.
    All,
    /// The token endpoint alone: a token is issued again.
    TokenEndpoint,
}

async fn run_through_outage(token_ttl: u64, down_: Down, outage: Duration, n: u64) -> Seen {
    let sim = sim(token_ttl).await;
    let url = sim.url();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &url);
    let src = dir.path().join("suppliers.csv");
    write_csv(&src, n, &[]);
    let child = cmd(
        dir.path(),
        &cfg,
        &[
            "run",
            "--headless",
            "--json",
            "--source",
            src.to_str().unwrap(),
        ],
    )
    .env("RUST_LOG", "supsync=debug")
    .spawn()
    .unwrap();
    let t = Instant::now();
    while stat(&stats(&url).await, "records_stored") < 100 {
        assert!(t.elapsed() < Duration::from_secs(20), "no progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let counter = match down_ {
        Down::All => {
            sim.outage(outage);
            "records_stored"
        }
        Down::TokenEndpoint => {
            sim.token_outage(outage);
            "tokens_issued"
        }
    };
    let down = Instant::now();
    let before = stat(&stats(&url).await, counter);
    // Batches already at the server when it went down may still land: progress counts
    // once the outage is over (and a token issued inside it would fail the bound below).
    let resumed_after = loop {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let now = stat(&stats(&url).await, counter);
        if now > before && (down.elapsed() > outage || counter == "tokens_issued") {
            break down.elapsed();
        }
        if down.elapsed() > outage * 10 {
            // Never came back: the assertions below show what the run said.
            break Duration::MAX;
        }
    };
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let events = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let st = stats(&url).await;
    assert_eq!(stat(&st, "records_stored"), n, "{st}\n{}", text(&out));
    if matches!(down_, Down::TokenEndpoint) {
        // Each failed renewal waits as long as the server said: a handful of requests,
        // not one per backoff step or per caller.
        assert!(stat(&st, "outage_rejections") <= 3, "{st}");
    }
    Seen {
        out,
        resumed_after,
        events,
    }
}

fn of_type<'a>(events: &'a [serde_json::Value], t: &str) -> Vec<&'a serde_json::Value> {
    events.iter().filter(|e| e["type"] == t).collect()
}

fn assert_held_not_spent(seen: &Seen, outage: Duration) {
    let o = &seen.out;
    assert_eq!(o.status.code(), Some(0), "{}", text(o));
    let segments = of_type(&seen.events, "segment");
    assert!(!segments.is_empty(), "{}", text(o));
    for s in &segments {
        assert_eq!(s["state"], "done", "no segment fails: {s}");
        assert_eq!(
            s["attempts"],
            1,
            "the outage spends no attempt: {s}\n{}",
            text(o)
        );
    }
    let holds = of_type(&seen.events, "holding");
    assert!(!holds.is_empty(), "the hold is reported: {}", text(o));
    let said = holds[0]["next_try_in_secs"].as_u64().unwrap();
    assert!(said <= outage.as_secs() + 1, "{:?}", holds[0]);
    assert!(
        holds[0]["reason"]
            .as_str()
            .unwrap()
            .contains("asks to wait"),
        "{:?}",
        holds[0]
    );
    assert!(
        !of_type(&seen.events, "hold_over").is_empty(),
        "the end of the hold is reported: {}",
        text(o)
    );
    // The wait honours Retry-After: not sooner than the server said, not much later.
    assert!(
        seen.resumed_after >= outage,
        "resumed {:?} into a {outage:?} outage",
        seen.resumed_after
    );
    assert!(
        seen.resumed_after <= outage + Duration::from_millis(1_500),
        "resumed {:?} after a {outage:?} outage",
        seen.resumed_after
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_outage_with_retry_after_is_held_not_spent() {
    let outage = Duration::from_secs(3);
    let seen = run_through_outage(3600, Down::All, outage, 1_000).await;
    assert_held_not_spent(&seen, outage);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_inside_the_outage_holds_calls_until_the_stated_time() {
    // Tokens live 2 s: the renewal ahead of expiry meets the outage too.
    let outage = Duration::from_secs(4);
    let seen = run_through_outage(2, Down::All, outage, 1_500).await;
    assert_held_not_spent(&seen, outage);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_endpoints_retry_after_is_the_renewals_next_try() {
    // Tokens live 2 s and the API stays up: the run goes on until its token dies, then
    // holds; the renewal's next try is at the time the token endpoint stated.
    let outage = Duration::from_secs(4);
    let seen = run_through_outage(2, Down::TokenEndpoint, outage, 8_000).await;
    assert_held_not_spent(&seen, outage);
    let holds = of_type(&seen.events, "holding");
    assert!(
        holds[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("the token endpoint asks to wait"),
        "{holds:?}"
    );
}
