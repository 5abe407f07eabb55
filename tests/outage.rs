//! Every run ends: while the API or the token endpoint stays down (or asks to wait a day),
//! a headless run stops at `sync.max_outage_secs` with an `error:` line and the documented
//! exit code, its journal consistent, and a following `resume` stores every record exactly
//! once. The real binary talks over loopback to a switchboard in front of the real
//! simulator; the switchboard passes requests through or answers for a server that is down.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use common::{Retries, Sim, cmd, stat, stats, text, write_config_with, write_csv};

/// What the switchboard does with a request.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
enum Mode {
    /// Everything reaches the simulator.
    Pass = 0,
    /// The API answers 503; the token endpoint still works.
    ApiDown = 1,
    /// The token endpoint answers 503; the API still works.
    TokenDown = 2,
    /// The API (health included) answers 429 with `Retry-After: 86400`.
    RateLimitedForADay = 3,
}

struct Switchboard {
    mode: AtomicU8,
    upstream: String,
    http: reqwest::Client,
}

impl Switchboard {
    fn set(&self, m: Mode) {
        self.mode.store(m as u8, Ordering::SeqCst);
    }

    fn mode(&self) -> Mode {
        match self.mode.load(Ordering::SeqCst) {
            1 => Mode::ApiDown,
            2 => Mode::TokenDown,
            3 => Mode::RateLimitedForADay,
            _ => Mode::Pass,
        }
    }
}

async fn relay(State(sw): State<Arc<Switchboard>>, req: Request) -> Response {
    let token = req.uri().path().starts_with("/oauth/");
    match (sw.mode(), token) {
        (Mode::ApiDown, false) | (Mode::TokenDown, true) => {
            return (StatusCode::SERVICE_UNAVAILABLE, "down for the test").into_response();
        }
        (Mode::RateLimitedForADay, false) => {
            let mut r = (StatusCode::TOO_MANY_REQUESTS, "slow down").into_response();
            r.headers_mut()
                .insert("retry-after", HeaderValue::from_static("86400"));
            return r;
        }
        _ => {}
    }
    let (parts, body) = req.into_parts();
    let url = format!(
        "{}{}",
        sw.upstream,
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let body = to_bytes(body, 64 << 20).await.unwrap();
    let mut headers = parts.headers.clone();
    headers.remove("host");
    let answer = sw
        .http
        .request(parts.method, url)
        .headers(headers)
        .body(body)
        .send()
        .await;
    let Ok(answer) = answer else {
        return (StatusCode::BAD_GATEWAY, "upstream unreachable").into_response();
    };
    let mut out = Response::builder().status(answer.status().as_u16());
    for (k, v) in answer.headers() {
        if k != "content-length" && k != "transfer-encoding" && k != "connection" {
            out = out.header(k, v);
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    out.body(Body::from(bytes)).unwrap()
}

/// Starts a switchboard in front of `upstream`; returns it and its URL.
async fn switchboard(upstream: String) -> (Arc<Switchboard>, String) {
    let sw = Arc::new(Switchboard {
        mode: AtomicU8::new(Mode::Pass as u8),
        upstream,
        http: reqwest::Client::new(),
    });
    let app = axum::Router::new().fallback(relay).with_state(sw.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (sw, format!("http://{addr}"))
}

/// Segments hold at the gate after three failures in a row (they never run out of
/// attempts first), and the run gives up after `outage_secs` of outage.
fn config(dir: &Path, url: &str, outage_secs: u64) -> PathBuf {
    let retries = Retries {
        max_attempts: 20,
        backoff_max_ms: 200,
        retry_budget: Some(3),
    };
    let p = write_config_with(dir, url, 20, 2, retries);
    let mut body = std::fs::read_to_string(&p).unwrap();
    // `[sync]` is the last table of the file.
    body.push_str(&format!("max_outage_secs = {outage_secs}\n"));
    std::fs::write(&p, body).unwrap();
    p
}

fn headless(dir: &Path, cfg: &Path, args: &[&str]) -> std::process::Child {
    let mut a = args.to_vec();
    a.push("--headless");
    cmd(dir, cfg, &a).spawn().unwrap()
}

/// Waits (off the runtime) until the simulator has stored at least `n` records.
async fn stored_at_least(url: &str, n: u64) {
    let t = Instant::now();
    while stat(&stats(url).await, "records_stored") < n {
        assert!(t.elapsed() < Duration::from_secs(20), "no progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn wait(child: std::process::Child) -> Output {
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap()
}

/// `resume` with the server back: exit 0, and the simulator holds every record once.
async fn resume_stores_every_record_once(
    dir: &Path,
    cfg: &Path,
    run_id: &str,
    sim_url: &str,
    n: u64,
) {
    let o = wait(headless(dir, cfg, &["resume", run_id])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let st = stats(sim_url).await;
    assert_eq!(stat(&st, "records_stored"), n, "{st}");
    assert_eq!(stat(&st, "records_created"), n, "{st}");
    assert_eq!(
        stat(&st, "records_updated"),
        0,
        "nothing applied twice: {st}"
    );
}

fn status_json(dir: &Path, cfg: &Path, run_id: &str) -> serde_json::Value {
    let o = cmd(dir, cfg, &["status", run_id, "--json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

struct Case {
    down: Mode,
    outage_secs: u64,
    run_id: &'static str,
}

/// Starts a push of `n` records, puts the switchboard in `case.down` once some records
/// are stored, and returns the run's output and how long it took to end after that.
async fn run_into_outage(case: &Case, n: u64) -> (Output, Duration, PathBuf, PathBuf, String) {
    let sim = Sim {
        per_record_ms: 2,
        ..Sim::default()
    }
    .start()
    .await;
    let sim_url = sim.url();
    let (sw, url) = switchboard(sim_url.clone()).await;
    let dir = tempfile::tempdir().unwrap().keep();
    let cfg = config(&dir, &url, case.outage_secs);
    let src = dir.join("suppliers.csv");
    write_csv(&src, n, &[]);
    let child = headless(
        &dir,
        &cfg,
        &[
            "run",
            "--run-id",
            case.run_id,
            "--source",
            src.to_str().unwrap(),
        ],
    );
    stored_at_least(&sim_url, 100).await;
    sw.set(case.down);
    if case.down == Mode::TokenDown {
        // The held token is refused at once, so the client must go to the token endpoint
        // now rather than when the token would have expired.
        sim.revoke_all();
    }
    let t = Instant::now();
    let o = wait(child).await;
    let took = t.elapsed();
    eprintln!(
        "{:?} ended {took:?} after the switch; {}",
        case.down,
        text(&o)
    );
    sw.set(Mode::Pass);
    // The simulator lives on for the resume, until the test process ends.
    std::mem::forget(sim);
    (o, took, dir, cfg, sim_url)
}

fn assert_ended_resumably(o: &Output, dir: &Path, cfg: &Path, run_id: &str, n: u64) {
    let out = text(o);
    assert!(out.contains("error: "), "an error line: {out}");
    assert!(
        out.contains(&format!("resume {run_id}")),
        "a resume hint: {out}"
    );
    // The journal holds only settled outcomes: the rest is pending, nothing is failed.
    let v = status_json(dir, cfg, run_id);
    let done = v["counts"]["created"].as_u64().unwrap_or(0);
    assert!(done >= 100 && done < n, "ended in the middle: {v}");
    assert_eq!(v["by_state"]["failed"].as_u64().unwrap_or(0), 0, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_down_ends_the_run_at_the_outage_bound_and_resume_finishes_it() {
    let n = 1_000;
    let case = Case {
        down: Mode::ApiDown,
        outage_secs: 1,
        run_id: "api-down",
    };
    let (o, took, dir, cfg, sim_url) = run_into_outage(&case, n).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("the API has been unavailable for 1 s (sync.max_outage_secs = 1)"),
        "{}",
        text(&o)
    );
    // A 1 s bound, plus backoff and the graceful stop: well within 8 s.
    assert!(took < Duration::from_secs(8), "took {took:?}: {}", text(&o));
    assert_ended_resumably(&o, &dir, &cfg, case.run_id, n);
    resume_stores_every_record_once(&dir, &cfg, case.run_id, &sim_url, n).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_down_ends_the_run_with_exit_4() {
    let n = 1_000;
    let case = Case {
        down: Mode::TokenDown,
        outage_secs: 1,
        run_id: "token-down",
    };
    let (o, took, dir, cfg, sim_url) = run_into_outage(&case, n).await;
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(
        text(&o).contains("the token endpoint has been unavailable"),
        "{}",
        text(&o)
    );
    // A 1 s bound, plus backoff and the graceful stop: well within 8 s.
    assert!(took < Duration::from_secs(8), "took {took:?}: {}", text(&o));
    assert_ended_resumably(&o, &dir, &cfg, case.run_id, n);
    resume_stores_every_record_once(&dir, &cfg, case.run_id, &sim_url, n).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_long_retry_after_is_reported_and_ends_at_the_bound() {
    let n = 1_000;
    let case = Case {
        down: Mode::RateLimitedForADay,
        outage_secs: 2,
        run_id: "slow-down",
    };
    let (o, took, dir, cfg, sim_url) = run_into_outage(&case, n).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("the server asks to wait 24 h"), "{out}");
    // The wait asked for is a day; the run ends at its 2 s bound (+ a 1 s Retry-After cap).
    assert!(took < Duration::from_secs(10), "took {took:?}: {out}");
    assert_ended_resumably(&o, &dir, &cfg, case.run_id, n);
    resume_stores_every_record_once(&dir, &cfg, case.run_id, &sim_url, n).await;
}
