//! `diagnose` against the real simulator over loopback: a matrix of server profiles, one
//! per cause of early token death and the important combinations, each asserting the
//! clock that kills (or comes first), the fix keyword and the exit code; then the binary.
//! A small TCP relay between them records every byte on the wire, so the tests can check
//! that no token the server handed out appears in the output, and can play a proxy that
//! cuts idle connections.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use supsync::config::Config;
use supsync::diagnose::report;
use supsync::diagnose::verdict::{ClockKind, Conclusion};
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

fn config(base_url: &str) -> Config {
    let mut c = Config::default();
    c.api.base_url = base_url.to_string();
    c.api.timeout_secs = 10;
    c
}

/// Only the lifetimes a profile names differ from `realistic`; these switch the other
/// clocks off so each case shows one cause.
const QUIET: &str = "scope_ttl_secs = {}\nidle_timeout_secs = 0\nabsolute_timeout_secs = 0\n";

/// One server profile and what diagnose must conclude about it.
struct Case {
    name: &'static str,
    /// A profile TOML over `realistic`, or a built-in name.
    profile: String,
    /// Edits to the client configuration.
    cfg: fn(&mut Config),
    /// A relay in front that cuts connections idle this long.
    cut_idle: Option<Duration>,
    /// Point the client at a port nobody listens on.
    unreachable: bool,
    exit: i32,
    /// Accepted killers (the clock that kills, else the first clock); empty: none.
    killer: &'static [ClockKind],
    /// Words that must appear in what to change (or, for unknowns, in what was not measured).
    fix: &'static [&'static str],
    /// Words that must not appear in what to change.
    not_fix: &'static [&'static str],
    extra: fn(&Diagnosis) -> Result<(), String>,
}

fn case(
    name: &'static str,
    profile: &str,
    exit: i32,
    killer: &'static [ClockKind],
    fix: &'static [&'static str],
) -> Case {
    Case {
        name,
        profile: profile.to_string(),
        cfg: |_| {},
        cut_idle: None,
        unreachable: false,
        exit,
        killer,
        fix,
        not_fix: &[],
        extra: |_| Ok(()),
    }
}

fn tokens(lines: &str) -> String {
    format!("[tokens]\n{lines}")
}

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(what()) }
}

fn clock_secs(d: &Diagnosis, kind: ClockKind) -> Option<u64> {
    d.verdict
        .clocks
        .iter()
        .find(|c| c.kind == kind)
        .and_then(|c| c.secs)
}

fn matrix() -> Vec<Case> {
    use ClockKind::*;
    let mut v = Vec::new();

    let mut c = case(
        "healthy",
        &tokens(&format!("default_ttl_secs = 7200\n{QUIET}")),
        exit::OK,
        &[],
        &["Nothing to change"],
    );
    c.extra = |d| {
        ensure(d.verdict.clocks.is_empty(), || {
            format!("{:?}", d.verdict.clocks)
        })
    };
    v.push(c);

    let mut c = case(
        "realistic (the seed: scope TTL 900 over 3600, idle 900, session 3600)",
        "realistic",
        exit::OK,
        &[Ttl],
        &["per-scope TTL of supplier_mgmt"],
    );
    c.extra = |d| {
        ensure(clock_secs(d, Ttl) == Some(900), || "TTL 900".into())?;
        ensure(
            clock_secs(d, Idle).is_some_and(|s| (899..=901).contains(&s)),
            || "idle 900".into(),
        )?;
        ensure(clock_secs(d, Session) == Some(3600), || {
            "session 3600".into()
        })?;
        ensure(d.verdict.default_ttl_secs == Some(3600), || {
            "default 3600".into()
        })?;
        let s = &d.verdict.summary.text;
        ensure(
            s.contains("TTL 900 s") && s.contains("idle window") && s.contains("session limit"),
            || format!("summary names every clock: {s}"),
        )
    };
    v.push(c);

    v.push(case("scope TTL, no default scopes", &tokens("scope_ttl_secs = { supplier_mgmt = 900 }\nidle_timeout_secs = 0\nabsolute_timeout_secs = 0\n"), exit::OK, &[Ttl], &["per-scope TTL of supplier_mgmt", "default is 3600 s"]));

    let mut c = case(
        "scope TTL, server grants default scopes to a scope-less request",
        &tokens(
            "scope_ttl_secs = { supplier_mgmt = 900 }\nidle_timeout_secs = 0\nabsolute_timeout_secs = 0\ndefault_scopes = [\"supplier_mgmt\"]\n",
        ),
        exit::OK,
        &[Ttl],
        &["per-scope TTL of supplier_mgmt", "default is 3600 s"],
    );
    c.not_fix = &["default TTL is"];
    c.extra = |d| {
        ensure(
            d.verdict
                .reasons
                .iter()
                .any(|r| r.text.contains("default scopes")),
            || "default scopes named".into(),
        )
    };
    v.push(c);

    let mut c = case(
        "scope TTL, default scopes, granted scope not stated",
        &tokens(
            "scope_ttl_secs = { supplier_mgmt = 900 }\nidle_timeout_secs = 0\nabsolute_timeout_secs = 0\ndefault_scopes = [\"supplier_mgmt\"]\ntoken_quirks = [\"no_scope\"]\n",
        ),
        exit::OK,
        &[Ttl],
        &["per-scope TTL of supplier_mgmt"],
    );
    c.not_fix = &["default TTL is"];
    c.extra = |d| {
        ensure(
            d.verdict
                .conflicts
                .iter()
                .any(|c| c.text.contains("default scopes")),
            || "conflict says default scopes".into(),
        )
    };
    v.push(c);

    let mut c = case(
        "idle window (5 s) shorter than the TTL, header present",
        &tokens("scope_ttl_secs = {}\nidle_timeout_secs = 5\nabsolute_timeout_secs = 0\n"),
        exit::OK,
        &[Idle],
        &["auth.idle_timeout_secs = 5"],
    );
    c.extra = |d| {
        ensure(clock_secs(d, Idle) == Some(5), || {
            format!("idle {:?}", clock_secs(d, Idle))
        })
    };
    v.push(c);

    let mut c = case(
        "idle window (2 s) shorter than the TTL, no header",
        &format!(
            "{}[api]\nexpiry_header = false\n",
            tokens("scope_ttl_secs = {}\nidle_timeout_secs = 2\nabsolute_timeout_secs = 0\n")
        ),
        exit::DIAGNOSE_CANNOT_SUSTAIN,
        &[Idle],
        &["auth.idle_timeout_secs = 2"],
    );
    c.extra = |d| {
        ensure(
            d.evidence
                .iter()
                .any(|e| e.says.contains("idle timeout 2s")),
            || "the server's words quoted".into(),
        )
    };
    v.push(c);

    let mut c = case(
        "idle window (1800 s) longer than the TTLs",
        &tokens(
            "default_ttl_secs = 1200\nscope_ttl_secs = { supplier_mgmt = 600 }\nidle_timeout_secs = 1800\nabsolute_timeout_secs = 0\n",
        ),
        exit::OK,
        &[Ttl],
        &["per-scope TTL of supplier_mgmt"],
    );
    c.extra = |d| {
        ensure(
            d.verdict.idle_window_secs.is_none() && clock_secs(d, Ttl) == Some(600),
            || format!("{:?}", d.verdict.clocks),
        )
    };
    v.push(c);

    let mut c = case(
        "idle window longer than the probe, no header",
        &format!(
            "{}[api]\nexpiry_header = false\n",
            tokens("scope_ttl_secs = {}\nidle_timeout_secs = 900\nabsolute_timeout_secs = 0\n")
        ),
        exit::OK,
        &[Ttl],
        &["--probe-secs 65"],
    );
    c.extra = |d| {
        ensure(d.verdict.idle_window_secs.is_none(), || {
            "not measured".into()
        })
    };
    v.push(c);

    let mut c = case(
        "session limit (20 s)",
        &tokens("scope_ttl_secs = {}\nidle_timeout_secs = 0\nabsolute_timeout_secs = 20\n"),
        exit::OK,
        &[Session],
        &["absolute session limit"],
    );
    c.extra = |d| {
        ensure(
            clock_secs(d, Session).is_some_and(|s| (19..=21).contains(&s)),
            || format!("{:?}", clock_secs(d, Session)),
        )
    };
    v.push(c);

    let mut c = case(
        "refresh-token expiry (30 s, no rotation)",
        &tokens(&format!(
            "{QUIET}refresh_ttl_secs = 30\nrotate_refresh_tokens = false\n"
        )),
        exit::OK,
        &[RefreshExpiry],
        &["refresh-token lifetime"],
    );
    c.extra = |d| {
        ensure(clock_secs(d, Session).is_none(), || {
            "not filed under session".into()
        })
    };
    v.push(c);

    let mut c = case(
        "no refresh token, offline_access not requested",
        "realistic",
        exit::OK,
        &[Ttl],
        &["Add offline_access to auth.scopes"],
    );
    c.cfg = |c| c.auth.scopes = vec!["supplier_mgmt".into()];
    v.push(c);

    let mut c = case(
        "no refresh token although offline_access was requested",
        &tokens(&format!(
            "{QUIET}default_ttl_secs = 900\nissue_refresh_token = \"never\"\n"
        )),
        exit::OK,
        &[Ttl],
        &["default TTL is 900 s"],
    );
    c.not_fix = &["offline_access"];
    c.extra = |d| {
        ensure(
            d.verdict.reasons.iter().any(|r| r.text.contains("§4.4.3")),
            || "RFC cited".into(),
        )
    };
    v.push(c);

    let mut c = case(
        "JWT exp earlier than expires_in",
        &tokens(&format!(
            "{QUIET}default_ttl_secs = 900\ntoken_quirks = [\"expires_in_doubled\"]\n"
        )),
        exit::OK,
        &[Ttl],
        &["overstates"],
    );
    c.extra = |d| {
        ensure(clock_secs(d, Ttl) == Some(900), || {
            format!("{:?}", clock_secs(d, Ttl))
        })?;
        ensure(d.verdict.session_secs.is_none(), || {
            "not a session limit".into()
        })?;
        ensure(!d.verdict.conflicts.is_empty(), || {
            "the conflict is named".into()
        })
    };
    v.push(c);

    let mut c = case(
        "revocation after 3 uses",
        &tokens(&format!("{QUIET}revoke_after_uses = 3\n")),
        exit::DIAGNOSE_CANNOT_SUSTAIN,
        &[Revocation],
        &["revocation of tokens after 3 calls"],
    );
    c.not_fix = &["auth.keepalive_secs =", "auth.idle_timeout_secs ="];
    c.extra = |d| {
        ensure(d.verdict.idle_window_secs.is_none(), || {
            "not an idle window".into()
        })
    };
    v.push(c);

    let mut c = case(
        "server clock 600 s ahead",
        &tokens(
            "scope_ttl_secs = { supplier_mgmt = 900 }\nidle_timeout_secs = 0\nabsolute_timeout_secs = 0\nclock_skew_secs = 600\n",
        ),
        exit::OK,
        &[Ttl],
        &["NTP"],
    );
    c.extra = |d| {
        ensure(clock_secs(d, Ttl) == Some(900), || {
            format!("{:?}", d.verdict.conflicts)
        })
    };
    v.push(c);

    let mut c = case(
        "no X-Token-Expires-In (realistic otherwise)",
        "[api]\nexpiry_header = false\n",
        exit::OK,
        &[Ttl],
        &["per-scope TTL of supplier_mgmt", "--probe-secs"],
    );
    c.extra = |d| {
        ensure(clock_secs(d, Session) == Some(3600), || {
            "session from refresh_expires_in".into()
        })
    };
    v.push(c);

    v.push(case(
        "429 from the token endpoint",
        &tokens("token_quirks = [\"rate_limited\"]\n"),
        exit::AUTH,
        &[TokenEndpoint],
        &["rate-limiting"],
    ));

    let mut c = case(
        "a load balancer cuts idle connections",
        &tokens(QUIET),
        exit::OK,
        &[ConnectionCut],
        &["idle timeout raised"],
    );
    c.cut_idle = Some(Duration::from_millis(1500));
    v.push(c);

    let mut c = case(
        "client auth mismatch: Basic refused, post accepted",
        "[auth]\nmethods = [\"client_secret_post\"]\n",
        exit::AUTH,
        &[ClientAuth],
        &["auth.method = \"client_secret_post\"", "client_secret_post"],
    );
    c.extra = |d| {
        ensure(
            d.verdict
                .summary
                .text
                .contains("client_secret_basic was refused with invalid_client")
                && d.verdict
                    .summary
                    .text
                    .contains("the server accepts client_secret_post"),
            || d.verdict.summary.text.clone(),
        )
    };
    v.push(c);

    let mut c = case(
        "health answered with a 307",
        "[api]\nhealth = \"redirect\"\n",
        exit::DIAGNOSE_CANNOT_SUSTAIN,
        &[FirstApiCall],
        &["api.health_path"],
    );
    c.extra = |d| {
        ensure(d.verdict.outcome == Conclusion::ApiNotVerified, || {
            format!("{:?}", d.verdict.outcome)
        })?;
        let n = report::text(d).matches("HTTP 307").count();
        ensure(n == 1, || format!("\"HTTP 307\" printed {n} times"))
    };
    v.push(c);

    let mut c = case(
        "health never answers",
        "[api]\nhealth = \"hang\"\n",
        exit::DIAGNOSE_CANNOT_SUSTAIN,
        &[FirstApiCall],
        &["proxy"],
    );
    c.cfg = |c| c.api.timeout_secs = 1;
    v.push(c);

    let mut c = case(
        "two killers: revocation after 3 uses and a 2 s idle window without header",
        &format!(
            "{}[api]\nexpiry_header = false\n",
            tokens(
                "scope_ttl_secs = {}\nidle_timeout_secs = 2\nabsolute_timeout_secs = 0\nrevoke_after_uses = 3\n"
            )
        ),
        exit::DIAGNOSE_CANNOT_SUSTAIN,
        &[Revocation],
        &["revocation of tokens", "auth.idle_timeout_secs = 2"],
    );
    c.extra = |d| {
        ensure(
            d.verdict.clocks.iter().filter(|c| c.kills).count() == 2,
            || format!("{:?}", d.verdict.clocks),
        )
    };
    v.push(c);

    v.push(case(
        "a 1 s token dies before a segment",
        &tokens("scope_ttl_secs = { supplier_mgmt = 1 }\n"),
        exit::DIAGNOSE_CANNOT_SUSTAIN,
        &[Ttl],
        &["Have the TTL raised"],
    ));

    let mut c = case(
        "unreachable token endpoint",
        "",
        exit::AUTH,
        &[TokenEndpoint],
        &["reachable from here"],
    );
    c.unreachable = true;
    v.push(c);

    // The API mapping: one read of the first page, naming the key that does not fit.
    let mut c = case(
        "data_rest server, contract mapping: no such collection",
        &format!(
            "{}[api]\nstyle = \"data_rest\"\n[data]\nsuppliers = 3\n",
            tokens(&format!("default_ttl_secs = 7200\n{QUIET}"))
        ),
        exit::DIAGNOSE_CANNOT_SUSTAIN,
        &[ApiMapping],
        &["api.pull_path"],
    );
    c.extra = |d| {
        ensure(d.verdict.outcome == Conclusion::ApiNotVerified, || {
            format!("{:?}", d.verdict.outcome)
        })?;
        let text = report::text(d);
        ensure(
            text.contains("API mapping in use") && text.contains("preset contract"),
            || text.clone(),
        )?;
        ensure(text.contains("HTTP 404"), || text.clone())
    };
    v.push(c);

    let mut c = case(
        "data_rest server, records pointer /items: names the pointer and the keys",
        &format!(
            "{}[api]\nstyle = \"data_rest\"\n[data]\nsuppliers = 3\n",
            tokens(&format!("default_ttl_secs = 7200\n{QUIET}"))
        ),
        exit::DIAGNOSE_CANNOT_SUSTAIN,
        &[ApiMapping],
        &["Set api.records"],
    );
    c.cfg = |c| {
        c.api.mapping.preset = Some("data_rest".into());
        c.api.mapping.records = Some("/items".into());
    };
    c.extra = |d| {
        let text = report::text(d);
        ensure(
            text.contains("records pointer `/items`") && text.contains("`data`"),
            || text.clone(),
        )?;
        // Pointers and keys only: never a record's contents.
        ensure(!text.contains("SUP-"), || text.clone())
    };
    v.push(c);

    let mut c = case(
        "data_rest server, data_rest mapping: the first page fits",
        &format!(
            "{}[api]\nstyle = \"data_rest\"\n[data]\nsuppliers = 3\n",
            tokens(&format!("default_ttl_secs = 7200\n{QUIET}"))
        ),
        exit::OK,
        &[],
        &["Nothing to change"],
    );
    c.cfg = |c| c.api.mapping.preset = Some("data_rest".into());
    c.extra = |d| {
        let read = d.findings.mapping.first_page.as_ref();
        ensure(read.is_some_and(|r| r.ok && r.records == 1), || {
            format!("{read:?}")
        })?;
        ensure(
            d.findings
                .mapping
                .describe
                .iter()
                .any(|l| l.contains("data_rest")),
            || format!("{:?}", d.findings.mapping.describe),
        )
    };
    v.push(c);

    v.push(case(
        "demo timescale (15 s tokens and idle window)",
        "demo",
        exit::OK,
        &[Ttl, Idle],
        &["per-scope TTL of supplier_mgmt"],
    ));
    v
}

async fn run_case(c: &Case) -> Result<Diagnosis, String> {
    let profile = match Profile::builtin(&c.profile) {
        Some(p) => p,
        None => Profile::from_toml(&c.profile).map_err(|e| format!("profile: {e}"))?,
    };
    let server = sim(profile).await;
    let url = if c.unreachable {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        format!("http://127.0.0.1:{port}")
    } else if let Some(cut) = c.cut_idle {
        relay(server.addr, Some(cut)).await.0
    } else {
        server.url()
    };
    let mut cfg = config(&url);
    (c.cfg)(&mut cfg);
    let opts = DiagnoseOptions::default();
    let d = diagnose(&cfg, &Secret::new(SECRET), &opts)
        .await
        .map_err(|e| e.to_string())?;
    drop(server);
    Ok(d)
}

fn judge(c: &Case, d: &Diagnosis) -> Result<(), String> {
    let v = &d.verdict;
    ensure(v.exit_code == c.exit, || {
        format!("exit {} (want {})", v.exit_code, c.exit)
    })?;
    match (c.killer.is_empty(), v.killer) {
        (true, None) => {}
        (false, Some(k)) if c.killer.contains(&k) => {}
        _ => {
            return Err(format!(
                "killer {:?} (want one of {:?})",
                v.killer, c.killer
            ));
        }
    }
    let changes: String = v
        .changes
        .iter()
        .chain(&v.unknowns)
        .map(|l| l.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    for w in c.fix {
        ensure(changes.contains(w), || format!("fix {w:?} missing"))?;
    }
    let to_change: String = v
        .changes
        .iter()
        .map(|l| l.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    for w in c.not_fix {
        ensure(!to_change.contains(w), || {
            format!("{w:?} must not be advised")
        })?;
    }
    ensure(
        !v.conflicts
            .iter()
            .any(|c| c.text.starts_with("verdict check")),
        || format!("the verdict contradicts its findings: {:?}", v.conflicts),
    )?;
    (c.extra)(d)
}

/// Every profile at once (each probe mostly waits): a few seconds in all.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn matrix_of_causes_names_the_killer_the_fix_and_the_exit_code() {
    let cases = Arc::new(matrix());
    assert!(cases.len() >= 20, "{} cases", cases.len());
    let started = Instant::now();
    let runs = (0..cases.len()).map(|i| {
        let cases = Arc::clone(&cases);
        tokio::spawn(async move {
            let c = &cases[i];
            let r = run_case(c).await.and_then(|d| {
                // To read every report: SUPSYNC_TEST_PRINT=1 cargo test --test diagnose -- --nocapture
                if std::env::var_os("SUPSYNC_TEST_PRINT").is_some() {
                    println!("=== {}\n{}", c.name, report::text(&d));
                }
                judge(c, &d).map_err(|e| format!("{e}\n{}", report::text(&d)))
            });
            (c.name, r)
        })
    });
    let mut failures = Vec::new();
    for r in futures::future::join_all(runs).await {
        let (name, r) = r.expect("case task");
        if let Err(e) = r {
            failures.push(format!("--- {name}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
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
    assert!(text.contains("per-scope TTL of supplier_mgmt"), "{text}");
    assert!(text.contains("Findings\n  F1"), "findings first: {text}");
    assert!(text.contains("[F1"), "verdict lines cite findings: {text}");

    assert_eq!(code_j, exit::OK, "{err_j}");
    let j: serde_json::Value = serde_json::from_str(&json).expect("one JSON object");
    assert_eq!(j["verdict"]["exit_code"], 0);
    assert_eq!(j["verdict"]["outcome"], "sustainable");
    assert_eq!(j["verdict"]["shortening_scope"], "supplier_mgmt");
    assert_eq!(j["verdict"]["token_lifetime_secs"], 900);
    assert_eq!(j["verdict"]["killer"], "ttl");
    assert_eq!(j["verdict"]["clocks"][0]["kind"], "ttl");
    assert!(j["verdict"]["clocks"][0]["cites"][0].is_string());
    assert!(j["verdict"]["summary"]["cites"][0].is_string());
    assert_eq!(j["evidence"][0]["id"], "F1");
    assert_eq!(j["evidence"][0]["source"], "expires_in");
    assert_eq!(j["evidence"][0]["claim"]["kind"], "ttl");
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

/// The list GET answers `200 {"errorCode": 602, "message": "Session expired or invalid"}`:
/// diagnose says a success status carried an error body, offers the `auth.expired_when`
/// rule that would catch it, and does not call the API fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_names_a_200_that_carries_an_error_body() {
    let mut profile = Profile::builtin("realistic").unwrap();
    profile.api.quirks = vec![supsync::sim::api_quirks::ApiQuirk::ErrorPage];
    let server = sim(profile).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_file(&dir, &server.url());
    let (code, text, err) = binary(&cfg, Some(SECRET), false).await;
    assert_eq!(code, exit::DIAGNOSE_CANNOT_SUSTAIN, "{text}\n{err}");
    assert!(text.contains("HTTP 200 carrying an error body"), "{text}");
    assert!(
        text.contains("auth.expired_when = [\"200 /errorCode = 602\"]"),
        "{text}"
    );
    assert!(
        !text.contains("Set api.records"),
        "not blamed on the pointer: {text}"
    );
    if std::env::var_os("SUPSYNC_TEST_PRINT").is_some() {
        println!("{text}");
    }
    let (code, json, _) = binary(&cfg, Some(SECRET), true).await;
    assert_eq!(code, exit::DIAGNOSE_CANNOT_SUSTAIN);
    let j: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_ne!(j["verdict"]["outcome"], "sustainable", "{j}");
    assert_eq!(
        j["findings"]["mapping"]["first_page"]["key"], "expired_when",
        "{j}"
    );
}
