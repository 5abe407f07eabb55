//! Token endpoints as others write them, and as adversaries do, through the real binary
//! against the simulator: every lenient quirk (string `expires_in`, none at all, lowercase
//! or missing `token_type`…) carries the same headless sync to the end; every hostile one
//! (a request echo with escape sequences, a 50 MB token, 429 with a day's Retry-After, an
//! HTML page, tokens the API refuses) ends within its bound with exit 4, an `error:` line,
//! no panic, and no secret or escape sequence in any output or the audit log.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Sim, cmd, stat, text, write_config, write_csv};
use supsync::sim::{SimServer, TokenQuirk};

const RECORDS: u64 = 300;

/// Test clocks (2 s tokens, 3 s idle window); `per_record_ms` sets how long a sync takes.
async fn sim_with(quirks: &[TokenQuirk], secret: &str, per_record_ms: u64) -> SimServer {
    let mut p = Sim {
        secret: secret.into(),
        per_record_ms,
        ..Sim::default()
    }
    .profile();
    p.tokens.token_quirks = quirks.to_vec();
    SimServer::start(p, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// A headless push of `RECORDS` records; returns the output, the elapsed time and the
/// audit log text (empty when the run wrote none).
async fn push(
    sim: &SimServer,
    secret: &'static str,
    run_id: &str,
) -> (std::process::Output, Duration, String, PathBuf) {
    let dir = tempfile::tempdir().unwrap().keep();
    let cfg = write_config(&dir, &sim.url(), 50, 2);
    let src = dir.join("suppliers.csv");
    write_csv(&src, RECORDS, &[]);
    let run_id = run_id.to_string();
    let d = dir.clone();
    let (out, took) = tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        let out = cmd(
            &d,
            &cfg,
            &["run", "--headless", "--run-id", &run_id, "--source"],
        )
        .arg(&src)
        .env("SUPSYNC_CLIENT_SECRET", secret)
        .output()
        .unwrap();
        (out, t.elapsed())
    })
    .await
    .unwrap();
    let audit = audit_text(&dir);
    (out, took, audit, dir)
}

fn audit_text(dir: &Path) -> String {
    fn walk(p: &Path, out: &mut String) {
        for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.file_name().is_some_and(|n| n == "token-audit.jsonl") {
                out.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
            }
        }
    }
    let mut out = String::new();
    walk(dir, &mut out);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_sync_succeeds_against_every_lenient_quirk() {
    let mut report = Vec::new();
    let mut cases: Vec<Vec<TokenQuirk>> = TokenQuirk::LENIENT.iter().map(|q| vec![*q]).collect();
    // All shape quirks at once, as one sloppy server would send them.
    cases.push(vec![
        TokenQuirk::ExpiresInString,
        TokenQuirk::TokenTypeLowercase,
        TokenQuirk::NoScope,
        TokenQuirk::ExtraFields,
        TokenQuirk::TextPlain,
    ]);
    for quirks in cases {
        // ~3 s of pushing: the 2 s tokens die under the sync and are renewed.
        let sim = sim_with(&quirks, common::SECRET, 20).await;
        let (out, took, audit, _dir) = push(&sim, common::SECRET, "quirk").await;
        let st = sim.stats();
        assert_eq!(out.status.code(), Some(0), "{quirks:?}: {}", text(&out));
        assert_eq!(
            stat(&st, "records_stored"),
            RECORDS,
            "{quirks:?}: every record stored once: {st}"
        );
        let source = if quirks.contains(&TokenQuirk::ZeroExpiresIn) {
            "renewed when refused"
        } else if quirks.contains(&TokenQuirk::OpaqueNoExpiresIn) {
            "auth.expected_ttl_secs"
        } else if quirks.contains(&TokenQuirk::NoExpiresIn) {
            "JWT exp"
        } else {
            "from expires_in"
        };
        assert!(
            audit.contains(source),
            "{quirks:?}: the audit log names the lifetime's source ({source}): {audit}"
        );
        let requests = stat(&st, "tokens_issued") + stat(&st, "token_errors");
        assert!(
            stat(&st, "tokens_issued") >= 2,
            "{quirks:?}: the sync outlived its first token and renewed it: {st}"
        );
        // Paced renewals: never more than one a second, plus the first.
        assert!(
            requests <= took.as_secs() + 2,
            "{quirks:?}: {requests} token requests in {took:?}"
        );
        report.push(format!(
            "{quirks:?}: exit 0 in {:.1}s, {requests} token requests",
            took.as_secs_f64()
        ));
    }
    eprintln!("{}", report.join("\n"));
}

/// Stdout, stderr and the audit log of a hostile run: `error:` line, no panic, no escape
/// sequence, no secret in any form, no line over a bound.
fn assert_clean(what: &str, out: &std::process::Output, audit: &str, secret: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .lines()
            .chain(stdout.lines())
            .any(|l| l.starts_with("error:")),
        "{what}: an error: line\n{}",
        text(out)
    );
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("supplier-sync:{secret}"),
    );
    for (name, hay) in [
        ("stdout", &*stdout),
        ("stderr", &*stderr),
        ("audit log", audit),
    ] {
        assert!(
            !hay.contains("panicked"),
            "{what}: no panic in {name}: {hay}"
        );
        assert!(
            !hay.contains(secret),
            "{what}: the secret is in {name}: {hay}"
        );
        assert!(
            !hay.contains(&basic),
            "{what}: Basic credentials in {name}: {hay}"
        );
        assert!(
            !hay.contains('\u{1b}') && !hay.contains('\u{7}') && !hay.contains("\\u001b"),
            "{what}: an escape sequence reached {name}: {hay:?}"
        );
        let longest = hay.lines().map(|l| l.chars().count()).max().unwrap_or(0);
        assert!(
            longest <= 1500,
            "{what}: a {longest}-character line in {name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_token_endpoints_end_with_exit_4_and_an_error_line() {
    const CANARY: &str = "canary-secret-4b1d9e";
    let cases: [(TokenQuirk, &str); 5] = [
        (TokenQuirk::EchoRequest, "invalid_request"),
        (TokenQuirk::HugeToken, "KiB"),
        (TokenQuirk::RateLimited, "HTTP 429"),
        (TokenQuirk::HtmlAnswer, "HTTP 200 (text/html"),
        (TokenQuirk::UnusableTokens, "refuses valid tokens"),
    ];
    let mut report = Vec::new();
    for (quirk, says) in cases {
        let sim = sim_with(&[quirk], CANARY, 1).await;
        let (out, took, audit, _dir) = push(&sim, CANARY, "hostile").await;
        let st = sim.stats();
        let what = format!("{quirk:?}");
        assert_eq!(out.status.code(), Some(4), "{what}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{what}: the error says {says:?}: {}",
            text(&out)
        );
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("unreachable"),
            "{what}: a server that answered is not 'unreachable': {}",
            text(&out)
        );
        assert_clean(&what, &out, &audit, CANARY);
        assert!(took < Duration::from_secs(60), "{what}: ended in {took:?}");
        let requests = stat(&st, "tokens_issued") + stat(&st, "token_errors");
        assert!(
            requests <= took.as_secs() + 3,
            "{what}: {requests} token requests in {took:?}: no storm"
        );
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let error = all.lines().find(|l| l.starts_with("error:")).unwrap_or("");
        report.push(format!(
            "{what}: exit 4 in {:.1}s, {requests} token requests; {error}",
            took.as_secs_f64()
        ));
    }
    eprintln!("{}", report.join("\n"));
}
