//! `diagnose` against the real simulator over loopback: through the library entry point
//! and through the binary. A small TCP relay between them records every byte on the wire,
//! so the tests can check that no token the server handed out appears in the output, and
//! can play a proxy that cuts idle connections.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use supsync::config::Config;
use supsync::diagnose::analysis::IdleConclusion;
use supsync::diagnose::findings::ConnectionOutcome;
use supsync::diagnose::verdict::{KillerClock, Renewal};
use supsync::diagnose::{DiagnoseOptions, Diagnosis, diagnose};
use supsync::exit;
use supsync::secret::Secret;
use supsync::sim::{Profile, SimServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SECRET: &str = "change-me";

async fn sim(profile: Profile) -> SimServer {
    SimServer::start(profile, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts")
}

async fn sim_toml(toml: &str) -> SimServer {
    sim(Profile::from_toml(toml).expect("test profile parses")).await
}

fn config(base_url: &str) -> Config {
    let mut c = Config::default();
    c.api.base_url = base_url.to_string();
    c.api.timeout_secs = 10;
    c
}

fn fast() -> DiagnoseOptions {
    DiagnoseOptions {
        idle_wait: Duration::from_secs(3),
    }
}

async fn run(base_url: &str, secret: &str) -> Diagnosis {
    diagnose(&config(base_url), &Secret::new(secret), &fast())
        .await
        .expect("diagnose runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realistic_names_supplier_mgmt_900_against_3600() {
    let server = sim(Profile::builtin("realistic").unwrap()).await;
    let started = Instant::now();
    let d = run(&server.url(), SECRET).await;
    let v = &d.verdict;
    assert_eq!(d.exit_code(), exit::OK, "{}", v.summary);
    assert_eq!(v.first_clock, KillerClock::Ttl);
    assert_eq!(v.token_lifetime_secs, Some(900));
    assert_eq!(v.shortening_scope.as_deref(), Some("supplier_mgmt"));
    assert_eq!(v.default_ttl_secs, Some(3600));
    for needle in ["supplier_mgmt", "900 s", "3600 s"] {
        assert!(v.summary.contains(needle), "{needle}: {}", v.summary);
    }
    let tok = d.findings.token.as_ref().unwrap();
    assert_eq!(tok.expires_in_secs, Some(900));
    assert!(tok.missing_scopes.is_empty());
    assert!(tok.jwt.is_some(), "the simulator issues JWT-shaped tokens");
    assert_eq!(d.findings.idle_probe.token, "no scope");
    assert!(d.findings.refresh.issued);
    assert_eq!(
        d.findings.refresh.ok,
        Some(true),
        "{:?}",
        d.findings.refresh
    );
    assert!(d.findings.new_session.ok);
    // The no-scope token (3600 s) shows the 900 s idle window sliding back up.
    match &v.idle {
        IdleConclusion::Sliding { secs } => assert!((898..=900).contains(secs), "{secs}"),
        other => panic!("expected a sliding idle window, got {other:?}"),
    }
    let skew = d
        .findings
        .clock_skew
        .date_skew_secs
        .expect("Date header read");
    assert!(skew.abs() <= 2, "loopback skew {skew}");
    assert_eq!(
        d.findings.connection.outcome,
        ConnectionOutcome::NotObserved
    );
    assert!(
        v.advice
            .iter()
            .any(|a| a.contains("refresh_margin_secs 120 is fine for 900 s tokens")),
        "{:?}",
        v.advice
    );
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_profile_is_sustainable_with_15_second_tokens() {
    let server = sim(Profile::builtin("demo").unwrap()).await;
    let d = run(&server.url(), SECRET).await;
    let v = &d.verdict;
    assert_eq!(d.exit_code(), exit::OK, "{}", v.summary);
    assert_eq!(v.token_lifetime_secs, Some(15), "{}", v.summary);
    assert_eq!(v.shortening_scope.as_deref(), Some("supplier_mgmt"));
    assert!(
        v.summary.contains("not the expected 3600 s"),
        "{}",
        v.summary
    );
    let idle = v.idle_window_secs.expect("idle window seen");
    assert!((13..=15).contains(&idle), "{idle}");
    // keepalive_secs 60 does not fit a 15 s idle window: the advice says so.
    assert!(v.advice.iter().any(|a| a.contains("keepalive_secs 60")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_idle_window_and_no_scope_ttl_is_fine() {
    let server = sim_toml(
        "[tokens]\ndefault_ttl_secs = 3600\nscope_ttl_secs = {}\nidle_timeout_secs = 0\n\
         absolute_timeout_secs = 0\n",
    )
    .await;
    let d = run(&server.url(), SECRET).await;
    let v = &d.verdict;
    assert_eq!(d.exit_code(), exit::OK, "{}", v.summary);
    assert!(
        v.summary
            .starts_with("The token's TTL ends it after 3600 s"),
        "{}",
        v.summary
    );
    assert!(v.summary.contains("Fine"), "{}", v.summary);
    assert!(!v.dies_within_sync);
    assert_eq!(v.shortening_scope, None);
    assert!(
        matches!(v.idle, IdleConclusion::TtlOnly { .. }),
        "{:?}",
        v.idle
    );
    assert_eq!(v.idle_window_secs, None);
    assert!(v.advice.iter().any(|a| a.contains("Nothing to change")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_dies_before_a_segment_cannot_sustain() {
    let server = sim_toml("[tokens]\nscope_ttl_secs = { supplier_mgmt = 1 }\n").await;
    let d = run(&server.url(), SECRET).await;
    let v = &d.verdict;
    assert_eq!(
        d.exit_code(),
        exit::DIAGNOSE_CANNOT_SUSTAIN,
        "{}",
        v.summary
    );
    assert!(!v.sustainable);
    assert!(
        v.summary.contains("before one segment could finish"),
        "{}",
        v.summary
    );
    assert_eq!(v.shortening_scope.as_deref(), Some("supplier_mgmt"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_refresh_tokens_new_sessions_renew() {
    let server = sim_toml("[tokens]\nissue_refresh_token = \"never\"\n").await;
    let d = run(&server.url(), SECRET).await;
    assert_eq!(d.exit_code(), exit::OK, "{}", d.verdict.summary);
    assert!(!d.findings.refresh.issued);
    assert_eq!(d.verdict.renewal, Renewal::ClientCredentials);
    assert!(d.verdict.reasons.iter().any(|r| r.contains("§4.4.3")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harsh_but_workable_clocks_are_sustainable() {
    // The token manager's own stress profile: 2 s tokens, 3 s idle window, 8 s sessions.
    let server = sim_toml(
        "[tokens]\nscope_ttl_secs = { supplier_mgmt = 2 }\nidle_timeout_secs = 3\n\
         absolute_timeout_secs = 8\n",
    )
    .await;
    let d = run(&server.url(), SECRET).await;
    let v = &d.verdict;
    assert_eq!(d.exit_code(), exit::OK, "{}", v.summary);
    assert_eq!(v.token_lifetime_secs, Some(2));
    let idle = v.idle_window_secs.expect("idle window seen");
    assert!((2..=3).contains(&idle), "{idle}");
    assert_eq!(
        v.session_limit.as_ref().map(|s| s.secs),
        Some(8),
        "{:?}",
        v.session_limit
    );
    assert!(
        v.reasons
            .iter()
            .any(|r| r.contains("new client-credentials session"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_exit_4_naming_the_endpoint() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let d = run(&format!("http://127.0.0.1:{port}"), SECRET).await;
    assert_eq!(d.exit_code(), exit::AUTH);
    let err = d.findings.token_error.as_ref().unwrap();
    assert_eq!(err.code, None);
    assert!(d.verdict.advice[0].contains(&format!("127.0.0.1:{port}/oauth/token")));
}

/// Everything the relay saw go by, both directions.
#[derive(Clone, Default)]
struct Wire(Arc<Mutex<Vec<u8>>>);

impl Wire {
    fn push(&self, b: &[u8]) {
        self.0.lock().unwrap().extend_from_slice(b);
    }
    /// Every `access_token` / `refresh_token` value in the token responses.
    fn tokens(&self) -> Vec<String> {
        let text = String::from_utf8_lossy(&self.0.lock().unwrap()).to_string();
        let mut out = Vec::new();
        for key in ["\"access_token\":\"", "\"refresh_token\":\""] {
            for (i, _) in text.match_indices(key) {
                let rest = &text[i + key.len()..];
                if let Some(end) = rest.find('"') {
                    out.push(rest[..end].to_string());
                }
            }
        }
        out
    }
}

/// A loopback TCP relay to `upstream`. With `cut_idle`, a connection whose client sends
/// after being quiet that long is dropped instead of forwarded, as an idle-timeout proxy
/// that forgot the connection does.
async fn relay(upstream: SocketAddr, cut_idle: Option<Duration>) -> (String, Wire) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let wire = Wire::default();
    let w = wire.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(pipe(client, upstream, w.clone(), cut_idle));
        }
    });
    (url, wire)
}

async fn pipe(mut client: TcpStream, upstream: SocketAddr, wire: Wire, cut: Option<Duration>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut a, mut b) = ([0u8; 16384], [0u8; 16384]);
    let mut last = Instant::now();
    loop {
        tokio::select! {
            r = client.read(&mut a) => {
                let n = match r { Ok(0) | Err(_) => return, Ok(n) => n };
                if cut.is_some_and(|c| last.elapsed() > c) {
                    return; // both sockets close: the request is lost
                }
                wire.push(&a[..n]);
                if server.write_all(&a[..n]).await.is_err() { return; }
                last = Instant::now();
            }
            r = server.read(&mut b) => {
                let n = match r { Ok(0) | Err(_) => return, Ok(n) => n };
                wire.push(&b[..n]);
                if client.write_all(&b[..n]).await.is_err() { return; }
                last = Instant::now();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_cut_by_a_proxy_is_named_and_not_the_token() {
    let server = sim(Profile::builtin("realistic").unwrap()).await;
    let (url, _wire) = relay(server.addr, Some(Duration::from_millis(1500))).await;
    let d = run(&url, SECRET).await;
    assert_eq!(
        d.findings.connection.outcome,
        ConnectionOutcome::IdleConnectionCut,
        "{:?}",
        d.findings.connection
    );
    assert!(d.verdict.advice.iter().any(|a| a.contains("not the token")));
    // The token itself is unaffected: the refresh (on a fresh connection) still works.
    assert_eq!(
        d.findings.refresh.ok,
        Some(true),
        "{:?}",
        d.findings.refresh
    );
    assert_eq!(d.exit_code(), exit::OK, "{}", d.verdict.summary);
}

/// Runs the binary with the client secret in the environment.
async fn binary(
    config_path: &std::path::Path,
    secret: Option<&str>,
    json: bool,
) -> (i32, String, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_supsync"));
    cmd.arg("diagnose").arg("--config").arg(config_path);
    if json {
        cmd.arg("--json");
    }
    for (k, _) in std::env::vars() {
        if k.starts_with("SUPSYNC_") {
            cmd.env_remove(k);
        }
    }
    if let Some(secret) = secret {
        cmd.env("SUPSYNC_CLIENT_SECRET", secret);
    }
    cmd.env("NO_COLOR", "1");
    let out = cmd.output().await.expect("binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn config_file(dir: &tempfile::TempDir, base_url: &str) -> std::path::PathBuf {
    let path = dir.path().join("config.toml");
    std::fs::write(&path, format!("[api]\nbase_url = \"{base_url}\"\n")).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_text_and_json_against_realistic_leak_nothing() {
    let server = sim(Profile::builtin("realistic").unwrap()).await;
    let (url, wire) = relay(server.addr, None).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_file(&dir, &url);
    let ((code_t, text, err_t), (code_j, json, err_j)) = tokio::join!(
        binary(&cfg, Some(SECRET), false),
        binary(&cfg, Some(SECRET), true)
    );

    assert_eq!(code_t, exit::OK, "{text}\n{err_t}");
    assert!(text.contains("supplier_mgmt"), "{text}");
    assert!(text.contains("<- shortens the token"), "{text}");
    assert!(
        text.contains("900 s after issue, not the expected 3600 s"),
        "{text}"
    );

    assert_eq!(code_j, exit::OK, "{err_j}");
    let j: serde_json::Value = serde_json::from_str(&json).expect("one JSON object");
    assert_eq!(j["verdict"]["exit_code"], 0);
    assert_eq!(j["verdict"]["sustainable"], true);
    assert_eq!(j["verdict"]["shortening_scope"], "supplier_mgmt");
    assert_eq!(j["verdict"]["token_lifetime_secs"], 900);
    assert_eq!(j["verdict"]["first_clock"], "ttl");
    assert_eq!(j["verdict"]["idle"]["kind"], "sliding");
    assert_eq!(j["findings"]["expected_ttl_secs"], 3600);
    assert_eq!(j["findings"]["token"]["expires_in_secs"], 900);
    assert_eq!(
        j["findings"]["scope_ttls"]["no_scope"]["expires_in_secs"],
        3600
    );
    assert_eq!(j["findings"]["refresh"]["issued"], true);
    assert!(j["findings"]["clock_skew"]["date_skew_secs"].is_i64());

    let tokens = wire.tokens();
    assert!(
        tokens.len() >= 6,
        "the relay saw the token responses: {}",
        tokens.len()
    );
    for out in [&text, &err_t, &json, &err_j] {
        assert!(!out.contains(SECRET), "client secret in output");
        for t in &tokens {
            assert!(!out.contains(t.as_str()), "a token appears in the output");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secret_is_exit_4_with_invalid_client() {
    let server = sim(Profile::builtin("realistic").unwrap()).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_file(&dir, &server.url());
    let wrong = "not-the-secret-42";
    let (code, out, err) = binary(&cfg, Some(wrong), false).await;
    assert_eq!(code, exit::AUTH, "{out}\n{err}");
    assert!(out.contains("invalid_client"), "{out}");
    assert!(out.contains("auth.client_id"), "{out}");
    assert!(!out.contains(wrong) && !err.contains(wrong));

    let (code, json, _) = binary(&cfg, Some(wrong), true).await;
    assert_eq!(code, exit::AUTH);
    let j: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(j["findings"]["token_error"]["code"], "invalid_client");
    assert_eq!(j["verdict"]["exit_code"], exit::AUTH);

    // No secret at all is a configuration error (exit 2) that says where to put one.
    let (code, out, err) = binary(&cfg, None, false).await;
    assert_eq!(code, exit::CONFIG, "{out}\n{err}");
    assert!(err.contains("SUPSYNC_CLIENT_SECRET"), "{err}");
}
