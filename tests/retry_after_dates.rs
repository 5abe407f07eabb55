//! A server whose clock runs 5 min ahead and whose 429s say "retry at my now + 1 s" (an
//! HTTP date): read on the answer's own clock, each such wait is a second, so a 200-record
//! push through the real binary finishes in seconds. Read on our clock, each would be a
//! 5-minute ask, reported as longer than `sync.max_retry_after_secs` and waited at that cap.

mod common;

use std::time::{Duration, Instant};

use common::{Sim, cmd, stat, stats, text, write_config, write_csv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_dates_of_a_skewed_server_are_read_on_its_clock() {
    let sim = Sim {
        // Ten segments at four in flight against two admitted calls a second: 429s all along.
        rate_limit_per_sec: 2,
        api_extra: "retry_after_dates = true".into(),
        ..Sim::default()
    };
    let mut profile = sim.profile();
    profile.tokens.clock_skew_secs = 300;
    let server = supsync::sim::SimServer::start(profile, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = server.url();

    // The server speaks dates on its own clock, 5 min ahead of ours, and its 429s name
    // its now + 1 s.
    let (date, retry_at) = a_429(&url).await;
    let ahead = date
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    assert!(ahead > Duration::from_secs(250), "Date is not ahead");
    assert_eq!(
        retry_at.duration_since(date).ok(),
        Some(Duration::from_secs(1))
    );

    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &url, 20, 4);
    // Our cap well above a second: a date read on our clock would be waited 30 s a time.
    let mut body = std::fs::read_to_string(&cfg).unwrap();
    body = body.replace("max_retry_after_secs = 1", "max_retry_after_secs = 30");
    std::fs::write(&cfg, body).unwrap();
    let src = dir.path().join("s.csv");
    write_csv(&src, 200, &[]);

    let started = Instant::now();
    let out = tokio::task::spawn_blocking({
        let (dir, cfg, src) = (dir.path().to_path_buf(), cfg.clone(), src.clone());
        move || {
            cmd(
                &dir,
                &cfg,
                &[
                    "run",
                    "--json",
                    "--run-id",
                    "skewed",
                    "--source",
                    src.to_str().unwrap(),
                ],
            )
            .output()
            .unwrap()
        }
    })
    .await
    .unwrap();
    let took = started.elapsed();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    let st = stats(&url).await;
    assert!(stat(&st, "rate_limited") >= 3, "no 429s to read: {st}");
    assert_eq!(stat(&st, "records_stored"), 200, "{st}");
    // The client never took the server's asks for minutes…
    assert!(
        !all.contains("the server asks to wait"),
        "a 1 s date read as a long wait: {all}"
    );
    assert!(!all.contains("5 min"), "{all}");
    // …and so never waited at the 30 s cap (a 6× margin over the few seconds it takes).
    assert!(took < Duration::from_secs(30), "took {took:?}: {all}");
}

/// The `Date` and `Retry-After` (a date) of a 429: health calls until the rate limit says no.
async fn a_429(url: &str) -> (std::time::SystemTime, std::time::SystemTime) {
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("{url}/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "supplier-sync"),
            ("client_secret", common::SECRET),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = token["access_token"].as_str().unwrap().to_string();
    for _ in 0..20 {
        let r = http
            .get(format!("{url}/api/v1/health"))
            .bearer_auth(&bearer)
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            let h = |n: &str| {
                let v = r.headers().get(n).unwrap().to_str().unwrap();
                httpdate::parse_http_date(v).unwrap_or_else(|_| panic!("{n}: {v} is no date"))
            };
            return (h("date"), h("retry-after"));
        }
    }
    panic!("no 429 in 20 calls at 2 a second");
}
