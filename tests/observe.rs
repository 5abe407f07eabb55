//! Observers against a real run: the engine pushes to the simulator over loopback, its
//! events go through `observe::Observers` exactly as the drive path feeds them, and the
//! token endpoint goes down mid-run (`POST /_sim/outage`). The renewal-failure alert must
//! reach a script hook and a loopback webhook within 5 s of the failure; the metrics file
//! and the `/metrics` listener must parse and carry every series.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::Uri;
use common::{SECRET, Sim, write_csv};
use supsync::config::{Config, Provenance, TokenCacheMode};
use supsync::engine::events::{EngineEvent, RunState};
use supsync::engine::{self, RunMode, RunParams};
use supsync::observe::{ObserveOptions, Observers};
use supsync::secret::Secret;

/// What the loopback receiver got: (path, body, when).
type Got = Arc<Mutex<Vec<(String, String, Instant)>>>;

/// A webhook and ping receiver on a free loopback port.
async fn receiver() -> (String, Got) {
    let got: Got = Arc::default();
    let app = axum::Router::new()
        .fallback(|State(g): State<Got>, uri: Uri, body: Bytes| async move {
            let text = String::from_utf8_lossy(&body).to_string();
            g.lock()
                .unwrap()
                .push((uri.path().to_string(), text, Instant::now()));
            "ok"
        })
        .with_state(got.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, got)
}

/// A hook script appending its stdin (one JSON line per event) to `out`.
fn hook_script(dir: &Path, out: &Path) -> String {
    let script = dir.join("hook.sh");
    std::fs::write(&script, format!("#!/bin/sh\ncat >> '{}'\n", out.display())).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    script.display().to_string()
}

fn config(url: &str) -> Config {
    let mut c = Config::default();
    c.api.base_url = url.to_string();
    c.api.timeout_secs = 5;
    c.auth.token_cache = TokenCacheMode::None;
    c.auth.keepalive_secs = 1;
    c.sync.segment_size = 50;
    c.sync.concurrency = 4;
    c.sync.max_attempts = 10;
    c.sync.backoff_initial_ms = 20;
    c.sync.backoff_max_ms = 500;
    c.sync.max_retry_after_secs = 1;
    c
}

/// Parses with a real parser of the format, insisting every sample line was understood.
fn parse(text: &str) -> prometheus_parse::Scrape {
    let s = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let lines = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    assert_eq!(s.samples.len(), lines, "unparsed lines in\n{text}");
    s
}

fn value(s: &prometheus_parse::Scrape, metric: &str, label: Option<(&str, &str)>) -> f64 {
    let found = s
        .samples
        .iter()
        .find(|x| x.metric == metric && label.is_none_or(|(k, v)| x.labels.get(k) == Some(v)));
    match found.map(|x| &x.value) {
        Some(prometheus_parse::Value::Counter(v)) | Some(prometheus_parse::Value::Gauge(v)) => *v,
        other => panic!("{metric} {label:?}: {other:?}"),
    }
}

/// Every series the README lists, with at least one sample.
const SERIES: &[&str] = &[
    "supsync_run_info",
    "supsync_run_state",
    "supsync_records",
    "supsync_segments",
    "supsync_token_renewals_total",
    "supsync_token_renewal_failures_total",
    "supsync_expired_answers_total",
    "supsync_retries_total",
    "supsync_token_expiry_timestamp_seconds",
    "supsync_last_success_timestamp_seconds",
    "supsync_build_info",
    "supsync_run_start_timestamp_seconds",
    "supsync_run_end_timestamp_seconds",
    "supsync_records_done_total",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_outage_fires_the_hooks_and_metrics_carry_every_series() {
    let sim = Sim {
        per_record_ms: 5,
        ..Sim::default()
    }
    .start()
    .await;
    let (hook_url, got) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("s.csv");
    write_csv(&src, 2_000, &[]);
    let hook_out = dir.path().join("hook.ndjson");
    let prom = dir.path().join("supsync.prom");

    let mut cfg = config(&sim.url());
    cfg.notify.command = vec![hook_script(dir.path(), &hook_out)];
    cfg.notify.webhook_url = Some(format!("{hook_url}/hook"));
    cfg.notify.ping_url = Some(format!("{hook_url}/ping/check-1"));
    cfg.metrics.file = Some(prom.clone());
    cfg.metrics.file_interval_secs = 1;
    // The same checks `config --check` and every start run.
    supsync::config::validate::validate(&cfg, &Provenance::default(), &mut Vec::new()).unwrap();

    let opts = ObserveOptions {
        metrics_listen: Some("127.0.0.1:0".parse().unwrap()),
        ..ObserveOptions::default()
    };
    let mut obs = Observers::start(&cfg, vec![Secret::new(SECRET)], opts)
        .await
        .unwrap();
    let listen: SocketAddr = obs.metrics_addr().unwrap();

    // Watches the hook's output file for the renewal-failure line.
    let hook_seen: Arc<Mutex<Option<Instant>>> = Arc::default();
    let watch = {
        let (out, seen) = (hook_out.clone(), hook_seen.clone());
        tokio::spawn(async move {
            loop {
                let text = std::fs::read_to_string(&out).unwrap_or_default();
                if text.contains("\"token_renewal_failed\"") {
                    *seen.lock().unwrap() = Some(Instant::now());
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    let params = RunParams::new(
        cfg.clone(),
        Secret::new(SECRET),
        dir.path().to_path_buf(),
        RunMode::Push {
            source: src,
            run_id: Some("observed".into()),
        },
    );
    let mut h = engine::start(params);
    let started = Instant::now();
    let mut outage_at = None;
    let mut failure_at = None;
    let mut scraped = None;
    let mut summary = None;
    let deadline = Instant::now() + Duration::from_secs(90);
    while let Ok(Some(ev)) = tokio::time::timeout_at(deadline.into(), h.events.recv()).await {
        obs.on_event(&ev);
        match &ev {
            EngineEvent::Segment(_)
                if outage_at.is_none() && started.elapsed() > Duration::from_millis(800) =>
            {
                // The token endpoint (and the API) answer 503 for 3 s: longer than the
                // 2 s token lifetime, so a renewal must fail.
                reqwest::Client::new()
                    .post(format!("{}/_sim/outage?seconds=3", sim.url()))
                    .send()
                    .await
                    .unwrap()
                    .error_for_status()
                    .unwrap();
                outage_at = Some(Instant::now());
            }
            EngineEvent::Token(t) if t.last_error.is_some() && failure_at.is_none() => {
                failure_at = Some(Instant::now());
                // Mid-run: the listener answers and the file is already there.
                let body = reqwest::get(format!("http://{listen}/metrics"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                scraped = Some(body);
            }
            EngineEvent::Finished(s) => {
                summary = Some(s.clone());
                break;
            }
            _ => {}
        }
    }
    let summary = summary.expect("the run finished within 90 s");
    let failure_at = failure_at.expect("a token renewal failed during the outage");
    let outage_at = outage_at.unwrap();
    obs.finish().await;
    tokio::time::timeout(Duration::from_secs(5), watch)
        .await
        .expect("the hook wrote the renewal failure")
        .unwrap();

    // Within 5 s of the failure, by both routes.
    let hook_at = hook_seen.lock().unwrap().unwrap();
    let got = got.lock().unwrap().clone();
    let webhook_at = got
        .iter()
        .find(|(p, b, _)| p == "/hook" && b.contains("\"token_renewal_failed\""))
        .map(|(_, _, t)| *t)
        .expect("the webhook got the renewal failure");
    let hook_lag = hook_at.saturating_duration_since(failure_at);
    let webhook_lag = webhook_at.saturating_duration_since(failure_at);
    eprintln!(
        "outage → failure {:?}; failure → hook {hook_lag:?}, → webhook {webhook_lag:?}; run {:?} {:?}",
        failure_at - outage_at,
        summary.state,
        started.elapsed()
    );
    assert!(hook_lag < Duration::from_secs(5), "{hook_lag:?}");
    assert!(webhook_lag < Duration::from_secs(5), "{webhook_lag:?}");
    assert_eq!(summary.state, RunState::Completed, "{summary:?}");
    assert_eq!(summary.counts.created, 2_000);

    // The hook and the webhook saw the same events, in order, none with the secret.
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&hook_out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|v| v["event"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"run_started"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"run_succeeded"), "{kinds:?}");
    assert!(kinds.contains(&"token_renewal_failed"), "{kinds:?}");
    let posted: Vec<&str> = got
        .iter()
        .filter(|(p, _, _)| p == "/hook")
        .map(|(_, b, _)| b.as_str())
        .collect();
    assert_eq!(posted.len(), lines.len(), "{posted:?}");
    for (b, line) in posted.iter().zip(&lines) {
        let v: serde_json::Value = serde_json::from_str(b).unwrap();
        assert_eq!(v["event"], line["event"]);
        assert!(!b.contains(SECRET));
    }
    let last = &lines[lines.len() - 1];
    assert_eq!(last["run_id"], "observed");
    assert_eq!(last["outcome"]["counts"]["created"], 2_000);
    assert!(!std::fs::read_to_string(&hook_out).unwrap().contains(SECRET));
    // Dead-man's switch: start, then success.
    let pings: Vec<&str> = got
        .iter()
        .filter(|(p, _, _)| p.starts_with("/ping/"))
        .map(|(p, _, _)| p.as_str())
        .collect();
    assert_eq!(pings, vec!["/ping/check-1/start", "/ping/check-1"]);

    // Mid-run scrape and the final file: every series, sane values.
    let mid = parse(&scraped.unwrap());
    for s in SERIES {
        assert!(
            mid.samples.iter().any(|x| x.metric == *s),
            "{s} missing mid-run"
        );
    }
    assert_eq!(
        value(&mid, "supsync_run_state", Some(("state", "running"))),
        1.0
    );
    let text = std::fs::read_to_string(&prom).unwrap();
    let fin = parse(&text);
    for s in SERIES {
        assert!(
            fin.samples.iter().any(|x| x.metric == *s),
            "{s} missing in\n{text}"
        );
    }
    let info = fin
        .samples
        .iter()
        .find(|x| x.metric == "supsync_run_info")
        .unwrap();
    assert_eq!(info.labels.get("run_id"), Some("observed"));
    assert_eq!(info.labels.get("direction"), Some("push"));
    let host = sim.url().trim_start_matches("http://").to_string();
    assert_eq!(info.labels.get("destination_host"), Some(host.as_str()));
    assert_eq!(
        value(&fin, "supsync_run_state", Some(("state", "completed"))),
        1.0
    );
    assert_eq!(
        value(&fin, "supsync_records", Some(("state", "created"))),
        2_000.0
    );
    assert_eq!(
        value(&fin, "supsync_records", Some(("state", "pending"))),
        0.0
    );
    assert_eq!(
        value(&fin, "supsync_segments", Some(("state", "done"))),
        40.0
    );
    assert_eq!(
        value(&fin, "supsync_segments", Some(("state", "failed"))),
        0.0
    );
    assert!(value(&fin, "supsync_token_renewal_failures_total", None) >= 1.0);
    let renewals = value(
        &fin,
        "supsync_token_renewals_total",
        Some(("grant", "refresh_token")),
    ) + value(
        &fin,
        "supsync_token_renewals_total",
        Some(("grant", "client_credentials")),
    );
    assert_eq!(renewals, f64::from(summary.token_renewals), "{text}");
    assert!(
        value(&fin, "supsync_retries_total", None) >= 1.0,
        "the outage cost retries"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    // Absolute: the last token's death, a moment ago or soon (the scope TTL is 2 s).
    let ttl = value(
        &fin,
        "supsync_token_expiry_timestamp_seconds",
        Some(("clock", "ttl")),
    );
    assert!((now - 60.0..=now + 2.0).contains(&ttl), "{ttl} vs {now}");
    // The file read after the run says the run ended.
    let end = value(&fin, "supsync_run_end_timestamp_seconds", None);
    assert!(end > 0.0 && end <= now + 1.0, "{end} vs {now}");
    let last = value(&fin, "supsync_last_success_timestamp_seconds", None);
    assert!(now - last < 60.0 && last <= now + 1.0, "{last} vs {now}");
    // Written atomically: no temporary file left beside it.
    let stray: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
    // The listener is gone with the run.
    assert!(
        reqwest::get(format!("http://{listen}/metrics"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_busy_metrics_port_is_a_start_error_naming_the_key() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let opts = ObserveOptions {
        metrics_listen: Some(addr),
        ..ObserveOptions::default()
    };
    let Err(e) = Observers::start(&Config::default(), Vec::new(), opts).await else {
        panic!("a taken port must be refused");
    };
    let msg = e.to_string();
    assert!(msg.starts_with("--metrics-listen: "), "{msg}");
    assert!(
        msg.contains(&addr.to_string()) && msg.contains("in use"),
        "{msg}"
    );
    let mut cfg = Config::default();
    cfg.metrics.listen = Some(addr.to_string());
    let Err(e) = Observers::start(&cfg, Vec::new(), ObserveOptions::default()).await else {
        panic!("a taken port must be refused");
    };
    assert!(e.to_string().starts_with("metrics.listen: "), "{e}");
}

#[tokio::test]
async fn a_hanging_hook_and_a_dead_webhook_never_hold_the_caller() {
    use supsync::observe::alerts::{SecretMasker, Tracker};
    use supsync::observe::notify::Notifier;
    // A port nobody listens on: bind, note, close.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut cfg = supsync::config::NotifyConfig {
        command: vec!["sleep".into(), "30".into()],
        command_timeout_secs: 1,
        webhook_url: Some(format!("http://{dead}/hook")),
        webhook_attempts: 2,
        ..Default::default()
    };
    cfg.webhook_timeout_secs = 1;
    let n = Notifier::new(&cfg).unwrap().unwrap();
    let t = Tracker::new("h".into(), SecretMasker::default());
    let sent = Instant::now();
    for _ in 0..100 {
        n.send(t.credential_expiring(
            "client_secret",
            std::time::SystemTime::now(),
            std::time::SystemTime::now(),
        ));
    }
    assert!(
        sent.elapsed() < Duration::from_millis(200),
        "{:?}",
        sent.elapsed()
    );
    // Closing waits for what is queued, but never longer than asked.
    let closing = Instant::now();
    n.close(Duration::from_secs(2)).await;
    let took = closing.elapsed();
    assert!(took < Duration::from_secs(4), "{took:?}");
}
