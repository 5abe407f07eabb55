//! Conformance of `supsync simulate` to docs/API.md, as a foreign client sees it: the real
//! binary on a free loopback port, spoken to over plain HTTP with nothing of supsync's own
//! client in between. First the `realistic` profile, then small profiles with short
//! clocks. `tests/sim.rs` covers each rule in detail; this is the contract's core, checked
//! end to end through the command operators run.
//!
//! Clock checks only ever sleep *past* a deadline (sleeping longer cannot make them
//! fail); where a token must stay alive, calls come at a fifth of its window.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

const CLIENT: &str = "supplier-sync";
const SECRET: &str = "change-me";

/// `supsync simulate` on a free loopback port; killed when dropped.
struct Sim {
    child: Child,
    url: String,
}

impl Sim {
    /// Starts the binary with `--profile <profile>` and waits for its `listening on` line.
    fn start(profile: &str) -> Sim {
        let mut child = Command::new(env!("CARGO_BIN_EXE_supsync"))
            .args(["simulate", "--profile", profile, "--listen", "127.0.0.1:0"])
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("supsync simulate starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        // The reader keeps stdout open for the simulator's lifetime and hands over lines.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut sim = Sim {
            child,
            url: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while sim.url.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.split("listening on ").nth(1) {
                        sim.url = url.trim().trim_end_matches('/').to_string();
                    }
                }
                Err(_) => panic!("simulator ({profile}) printed no 'listening on http://…' line"),
            }
        }
        assert!(
            sim.url.starts_with("http://127.0.0.1:"),
            "listening line names a loopback URL: {}",
            sim.url
        );
        sim
    }

    /// A TOML profile written to `dir`, started.
    fn start_with(dir: &tempfile::TempDir, toml: &str) -> Sim {
        let path = dir.path().join("profile.toml");
        std::fs::write(&path, toml).expect("profile written");
        Sim::start(path.to_str().expect("temp path is UTF-8"))
    }

    async fn stats(&self) -> Value {
        get(&format!("{}/_sim/stats", self.url), None).await.2
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        // Already gone is fine: the point is that nothing outlives the test.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("HTTP client builds")
}

/// Status, headers, and the body as JSON (a JSON string holding the text otherwise).
async fn answer(resp: reqwest::Response) -> (StatusCode, HeaderMap, Value) {
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body is read");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, body)
}

async fn get(url: &str, bearer: Option<&str>) -> (StatusCode, HeaderMap, Value) {
    let mut req = http().get(url);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    answer(req.send().await.expect("GET answered")).await
}

async fn health(sim: &Sim, bearer: &str) -> (StatusCode, HeaderMap, Value) {
    get(&format!("{}/api/v1/health", sim.url), Some(bearer)).await
}

async fn push(sim: &Sim, bearer: &str, key: &str, records: &[Value]) -> (StatusCode, Value) {
    let resp = http()
        .post(format!("{}/api/v1/suppliers/batch", sim.url))
        .bearer_auth(bearer)
        .header("Idempotency-Key", key)
        .json(&json!({ "suppliers": records }))
        .send()
        .await
        .expect("push answered");
    let (status, _, body) = answer(resp).await;
    (status, body)
}

/// How the client authenticates at the token endpoint (docs/API.md §1.2).
#[derive(Clone, Copy)]
enum Style {
    Basic,
    Post,
}

/// A token request; `form` holds the grant's own parameters.
async fn token_with(
    sim: &Sim,
    style: Style,
    secret: &str,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut form: Vec<(&str, &str)> = form.to_vec();
    let mut req = http().post(format!("{}/oauth/token", sim.url));
    match style {
        Style::Basic => {
            let creds =
                base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT}:{secret}"));
            req = req.header("Authorization", format!("Basic {creds}"));
        }
        Style::Post => form.extend([("client_id", CLIENT), ("client_secret", secret)]),
    }
    let (status, _, body) = answer(req.form(&form).send().await.expect("token answered")).await;
    (status, body)
}

/// A client-credentials grant by HTTP Basic; `None` sends no scope.
async fn grant(sim: &Sim, scope: Option<&str>) -> (StatusCode, Value) {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    token_with(sim, Style::Basic, SECRET, &form).await
}

async fn refresh(sim: &Sim, refresh_token: &str) -> (StatusCode, Value) {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    token_with(sim, Style::Basic, SECRET, &form).await
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

fn is_error(status: StatusCode, body: &Value, code: &str) -> bool {
    matches!(status.as_u16(), 400 | 401) && body["error"] == code
}

/// The 401's reason as a client would read it: `WWW-Authenticate` and the body together,
/// lower-cased.
fn reason(headers: &HeaderMap, body: &Value) -> String {
    let header = headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    format!("{header} {body}").to_lowercase()
}

fn supplier(i: u32, valid: bool) -> Value {
    let mut rec = json!({
        "supplier_id": format!("SUP-{i:06}"),
        "name": format!("Supplier {i} GmbH"),
        "country": "DE",
        "status": "approved",
        "contact_email": format!("quality{i}@supplier.example"),
        "certifications": ["ISO 9001"],
        "updated_at": "2026-11-02T09:14:00Z",
    });
    if !valid {
        rec["contact_email"] = json!("not-an-email");
        rec["country"] = json!("Germany");
    }
    rec
}

fn counter(stats: &Value, key: &str) -> u64 {
    stats[key]
        .as_u64()
        .unwrap_or_else(|| panic!("/_sim/stats has no counter {key}: {stats}"))
}

/// docs/API.md §1–§2 under `realistic`: the TTL hierarchy, both client-auth methods,
/// `X-Token-Expires-In`, 401 on a bad token, rotation and reuse detection.
#[tokio::test]
async fn realistic_tokens_bearer_and_refresh_rotation() {
    let sim = Sim::start("realistic");

    let (st, t) = grant(&sim, Some("supplier_mgmt offline_access")).await;
    assert!(
        st == StatusCode::OK && t["expires_in"] == 900 && !str_of(&t, "refresh_token").is_empty(),
        "scoped token is 900 s with a refresh token: {st} {t}"
    );
    let (st, t0) = grant(&sim, None).await;
    assert!(
        st == StatusCode::OK && t0["expires_in"] == 3600,
        "no-scope token is 3600 s: {st} {t0}"
    );
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", "supplier_mgmt"),
    ];
    let (st, tp) = token_with(&sim, Style::Post, SECRET, &form).await;
    assert!(
        st == StatusCode::OK && !str_of(&tp, "access_token").is_empty(),
        "client_secret_post accepted: {st} {tp}"
    );
    let (st, tb) = token_with(&sim, Style::Basic, "wrong", &form).await;
    assert!(
        is_error(st, &tb, "invalid_client"),
        "wrong secret -> invalid_client: {st} {tb}"
    );

    let access = str_of(&t, "access_token");
    let (st, h, _) = health(&sim, access).await;
    let left = h
        .get("x-token-expires-in")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    assert!(
        st == StatusCode::OK && left.is_some_and(|s| 800 < s && s <= 900),
        "health 200 with X-Token-Expires-In in (800, 900]: {st} {left:?}"
    );
    let (st, h, b) = health(&sim, "garbage").await;
    let www = h.get("www-authenticate").and_then(|v| v.to_str().ok());
    assert!(
        st == StatusCode::UNAUTHORIZED && www.is_some_and(|v| v.contains("invalid_token")),
        "garbage token -> 401 invalid_token: {st} {www:?} {b}"
    );

    let first_rt = str_of(&t, "refresh_token");
    let (st, r) = refresh(&sim, first_rt).await;
    let rotated = str_of(&r, "refresh_token");
    assert!(
        st == StatusCode::OK && !rotated.is_empty() && rotated != first_rt,
        "refresh rotates: {st} {r}"
    );
    let (st, again) = refresh(&sim, first_rt).await;
    assert!(
        is_error(st, &again, "invalid_grant"),
        "reused refresh token -> invalid_grant: {st} {again}"
    );
    let (st, family) = refresh(&sim, rotated).await;
    let (access_st, _, access_body) = health(&sim, str_of(&r, "access_token")).await;
    assert!(
        is_error(st, &family, "invalid_grant") && access_st == StatusCode::UNAUTHORIZED,
        "reuse revoked the whole session (rotated refresh token and its access token): \
         refresh {st} {family}; health {access_st} {access_body}"
    );
}

/// docs/API.md §3.5 under `realistic`: per-record results, idempotent replay, 409.
#[tokio::test]
async fn realistic_push_results_and_idempotency() {
    let sim = Sim::start("realistic");
    let (st, t) = grant(&sim, Some("supplier_mgmt offline_access")).await;
    assert_eq!(st, StatusCode::OK, "grant for the push: {t}");
    let access = str_of(&t, "access_token");
    // Ids beyond any generated record, so both valid ones are new.
    let recs = [
        supplier(900_001, true),
        supplier(900_002, true),
        supplier(900_003, false),
    ];
    let before = sim.stats().await;

    let (st, r1) = push(&sim, access, "conformance-1", &recs).await;
    let statuses: Vec<&str> = r1["results"]
        .as_array()
        .map(|rs| rs.iter().map(|x| str_of(x, "status")).collect())
        .unwrap_or_default();
    assert!(
        st == StatusCode::OK && statuses == ["created", "created", "rejected"],
        "push: 2 created, 1 rejected: {st} {r1}"
    );

    let (st2, r2) = push(&sim, access, "conformance-1", &recs).await;
    let after = sim.stats().await;
    let grew = |k: &str| counter(&after, k) - counter(&before, k);
    let growth = [
        grew("records_stored"),
        grew("records_created"),
        grew("idempotent_replays"),
    ];
    assert!(
        st2 == StatusCode::OK && r2 == r1 && growth == [2, 2, 1],
        "same key replays the first answer, stores nothing twice: {st2} {r2}; \
         stored/created/replays grew by {growth:?}"
    );

    let (st3, r3) = push(&sim, access, "conformance-1", &recs[..1]).await;
    assert_eq!(
        st3,
        StatusCode::CONFLICT,
        "same key, other body -> 409: {r3}"
    );
}

/// docs/API.md §2.1, §2.5: a token past its TTL is refused, and the refusal says so.
#[tokio::test]
async fn expired_token_names_the_ttl() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sim = Sim::start_with(
        &dir,
        "[tokens]\ndefault_ttl_secs = 3600\nscope_ttl_secs = { supplier_mgmt = 2 }\n\
         idle_timeout_secs = 0\nabsolute_timeout_secs = 0\n[api]\nper_record_ms = 0\n",
    );
    let (st, t) = grant(&sim, Some("supplier_mgmt")).await;
    assert!(
        st == StatusCode::OK && t["expires_in"] == 2,
        "2 s token: {st} {t}"
    );
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let (st, h, b) = health(&sim, str_of(&t, "access_token")).await;
    assert!(
        st == StatusCode::UNAUTHORIZED && reason(&h, &b).contains("expired after"),
        "expired token 401 says 'expired after': {st} {b}"
    );
}

/// docs/API.md §2.2: use keeps a token alive past its idle window; disuse kills it.
#[tokio::test]
async fn idle_window_slides_then_kills() {
    const IDLE: Duration = Duration::from_secs(2);
    let dir = tempfile::tempdir().expect("temp dir");
    let sim = Sim::start_with(
        &dir,
        "[tokens]\ndefault_ttl_secs = 3600\nidle_timeout_secs = 2\nabsolute_timeout_secs = 0\n\
         [api]\nper_record_ms = 0\n",
    );
    let (st, t) = grant(&sim, Some("supplier_mgmt")).await;
    assert_eq!(st, StatusCode::OK, "grant: {t}");
    let access = str_of(&t, "access_token");
    let issued = Instant::now();
    // A call every fifth of the window, until well past where an unslid window ends.
    let mut calls = Vec::new();
    while issued.elapsed() < IDLE * 3 / 2 {
        tokio::time::sleep(IDLE / 5).await;
        calls.push(health(&sim, access).await.0);
    }
    let alive = calls.iter().all(|s| *s == StatusCode::OK);
    tokio::time::sleep(IDLE * 3 / 2).await;
    let (st, h, b) = health(&sim, access).await;
    assert!(
        alive && st == StatusCode::UNAUTHORIZED && reason(&h, &b).contains("idle"),
        "idle window slides, then kills ('idle'): calls {calls:?}; then {st} {b}"
    );
}

/// docs/API.md §2.3: the session's absolute limit kills the token and ends refreshing.
#[tokio::test]
async fn session_limit_kills_token_and_refresh() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sim = Sim::start_with(
        &dir,
        "[tokens]\ndefault_ttl_secs = 3600\nscope_ttl_secs = {}\nidle_timeout_secs = 0\n\
         absolute_timeout_secs = 3\nrefresh_ttl_secs = 60\nissue_refresh_token = \"always\"\n\
         rotate_refresh_tokens = true\n[api]\nper_record_ms = 0\n",
    );
    let (st, t) = grant(&sim, Some("supplier_mgmt")).await;
    assert_eq!(st, StatusCode::OK, "grant: {t}");
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let (st, h, b) = health(&sim, str_of(&t, "access_token")).await;
    assert!(
        st == StatusCode::UNAUTHORIZED && reason(&h, &b).contains("session"),
        "session limit kills the token ('session'): {st} {b}"
    );
    let rt = str_of(&t, "refresh_token");
    let (st, r) = refresh(&sim, rt).await;
    assert!(
        !rt.is_empty() && is_error(st, &r, "invalid_grant"),
        "past the session limit refresh is refused (invalid_grant): {st} {r}; grant was {t}"
    );
}

/// docs/API.md §2.5: `expiry_signal` answers a dead token with a 403 or a 200 carrying an
/// error, in the documented shapes; a missing bearer stays a 401.
#[tokio::test]
async fn a_dead_token_is_answered_the_way_expiry_signal_says() {
    let dir = tempfile::tempdir().expect("temp dir");
    for signal in ["403", "200-body"] {
        let sim = Sim::start_with(
            &dir,
            &format!(
                "[tokens]\nrevoke_after_uses = 1\nexpiry_signal = \"{signal}\"\n\
                 [api]\nper_record_ms = 0\n"
            ),
        );
        let (st, t) = grant(&sim, Some("supplier_mgmt")).await;
        assert_eq!(st, StatusCode::OK, "{t}");
        let token = str_of(&t, "access_token");
        let (st, _, b) = health(&sim, token).await;
        assert_eq!(st, StatusCode::OK, "first call is admitted: {b}");
        let (st, _, b) = health(&sim, token).await;
        match signal {
            "403" => assert!(
                st == StatusCode::FORBIDDEN
                    && b["error"] == "token_expired"
                    && str_of(&b, "error_description") == "Token revoked",
                "403 signal: {st} {b}"
            ),
            _ => assert!(
                st == StatusCode::OK
                    && b["status"] == "error"
                    && b["error"]["code"] == "TOKEN_EXPIRED"
                    && b["error"]["message"] == "Token revoked",
                "200-body signal: {st} {b}"
            ),
        }
        let (st, _, _) = get(&format!("{}/api/v1/health", sim.url), None).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "no bearer is still a 401");
        let s = sim.stats().await;
        assert_eq!(counter(&s, "api_token_dead"), 1, "{s}");
        assert_eq!(
            counter(&s, "api_unauthorized"),
            1,
            "only the missing bearer: {s}"
        );
    }
}

/// docs/API.md §1.3: a refresh before `refresh_window_secs` is refused as too early, names
/// the window, and spends nothing: the same refresh token works inside the window.
#[tokio::test]
async fn a_refresh_before_the_window_is_refused_as_too_early() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sim = Sim::start_with(
        &dir,
        "[tokens]\nscope_ttl_secs = { supplier_mgmt = 4 }\nrefresh_window_secs = 2\n\
         [api]\nper_record_ms = 0\n",
    );
    let (st, t) = grant(&sim, Some("supplier_mgmt offline_access")).await;
    assert_eq!(st, StatusCode::OK, "{t}");
    let rt = str_of(&t, "refresh_token").to_string();
    let (st, b) = refresh(&sim, &rt).await;
    let d = str_of(&b, "error_description");
    assert!(
        is_error(st, &b, "invalid_grant") && d.contains("too early") && d.contains("within 2 s"),
        "early refresh: {st} {b}"
    );
    // 2.5 s after the grant the 4 s token has 1.5 s left: inside the window.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (st, b) = refresh(&sim, &rt).await;
    assert_eq!(st, StatusCode::OK, "refresh inside the window: {b}");
    let s = sim.stats().await;
    assert_eq!(counter(&s, "refresh_too_early"), 1, "{s}");
    assert_eq!(counter(&s, "refreshes"), 1, "{s}");
}

/// A raw request to a session path, with the session id sent as `carry` says.
async fn session_call(
    sim: &Sim,
    method: reqwest::Method,
    path: &str,
    cookie: bool,
    id: &str,
) -> (StatusCode, HeaderMap, Value) {
    let req = http().request(method, format!("{}{path}", sim.url));
    let req = if cookie {
        req.header("Cookie", format!("locale=de; SESSIONID={id}"))
    } else {
        req.header("X-Session-Id", id)
    };
    answer(req.send().await.expect("answered")).await
}

/// docs/API.md §7: with sessions on, a login's id (in the body) is the credential: a call
/// with it is admitted with `X-Token-Expires-In`, a bearer token is not, a logout ends
/// it (204, also the second time) and the next call is refused naming the logout.
#[tokio::test]
async fn session_login_call_logout_then_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sim = Sim::start_with(
        &dir,
        "[session]\nenabled = true\nidle_secs = 15\ncap_secs = 60\n[api]\nper_record_ms = 0\n",
    );
    let resp = http()
        .post(format!("{}/api/v1/session/login", sim.url))
        .form(&[("username", "sync-bot"), ("password", SECRET)])
        .send()
        .await
        .expect("login answered");
    let (st, _, b) = answer(resp).await;
    assert!(
        st == StatusCode::OK && b["user"] == "sync-bot",
        "login: {st} {b}"
    );
    let id = str_of(&b, "sessionId").to_string();
    assert!(!id.is_empty(), "the id is in the body: {b}");

    let (st, h, b) = session_call(&sim, reqwest::Method::GET, "/api/v1/health", false, &id).await;
    let left: u64 = h
        .get("x-token-expires-in")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX);
    assert!(
        st == StatusCode::OK && left <= 15,
        "call with the session: {st} {b} {h:?}"
    );
    let (_, t) = grant(&sim, Some("supplier_mgmt")).await;
    let (st, h, b) = health(&sim, str_of(&t, "access_token")).await;
    assert!(
        st == StatusCode::UNAUTHORIZED && reason(&h, &b).contains("invalid_session"),
        "a bearer token is no session: {st} {b}"
    );

    for _ in 0..2 {
        let (st, _, b) = session_call(
            &sim,
            reqwest::Method::POST,
            "/api/v1/session/logout",
            false,
            &id,
        )
        .await;
        assert_eq!(st, StatusCode::NO_CONTENT, "logout: {b}");
    }
    let (st, h, b) = session_call(&sim, reqwest::Method::GET, "/api/v1/health", false, &id).await;
    assert!(
        st == StatusCode::UNAUTHORIZED
            && h.get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("Session "))
            && b["error"] == "invalid_session"
            && str_of(&b, "error_description") == "Session logged out",
        "after logout: {st} {b}"
    );
    let s = sim.stats().await;
    assert_eq!(counter(&s, "session_logins"), 1, "{s}");
    assert_eq!(counter(&s, "session_logouts"), 2, "{s}");
}

/// docs/API.md §7: with `id_in` and `carry` cookies, a newer login ends the older
/// session; failed logins lock the user, and then even the right password gets 423 with
/// `Retry-After`.
#[tokio::test]
async fn session_cookie_single_holder_and_lockout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sim = Sim::start_with(
        &dir,
        "[session]\nenabled = true\nid_in = \"cookie\"\ncarry = \"cookie\"\nlockout_after = 2\n\
         lockout_secs = 600\n[api]\nper_record_ms = 0\n",
    );
    let login = |password: &'static str| {
        let url = format!("{}/api/v1/session/login", sim.url);
        async move {
            let resp = http()
                .post(url)
                .json(&json!({"username": "sync-bot", "password": password}))
                .send()
                .await
                .expect("login answered");
            answer(resp).await
        }
    };
    let cookie_id = |h: &HeaderMap| {
        h.get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("SESSIONID="))
            .and_then(|v| v.split(';').next())
            .unwrap_or("")
            .to_string()
    };
    let (st, h, _) = login(SECRET).await;
    let old = cookie_id(&h);
    assert!(
        st == StatusCode::OK && !old.is_empty(),
        "login sets the cookie: {h:?}"
    );
    let (_, h, _) = login(SECRET).await;
    let new = cookie_id(&h);
    let (st, _, b) = session_call(&sim, reqwest::Method::GET, "/api/v1/health", true, &old).await;
    assert!(
        st == StatusCode::UNAUTHORIZED
            && str_of(&b, "error_description") == "Session ended by a newer login",
        "older session: {st} {b}"
    );
    let (st, _, b) = session_call(&sim, reqwest::Method::GET, "/api/v1/health", true, &new).await;
    assert_eq!(st, StatusCode::OK, "newer session: {b}");

    for _ in 0..2 {
        let (st, _, b) = login("wrong").await;
        assert!(
            st == StatusCode::UNAUTHORIZED && b["error"] == "invalid_credentials",
            "wrong password: {st} {b}"
        );
    }
    let (st, h, b) = login(SECRET).await;
    let retry: u64 = h
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(
        st == StatusCode::LOCKED && b["error"] == "account_locked" && (1..=600).contains(&retry),
        "locked, right password or not: {st} {b} {h:?}"
    );
    let s = sim.stats().await;
    assert_eq!(counter(&s, "session_lockouts"), 1, "{s}");
    assert_eq!(counter(&s, "session_login_refused_locked"), 1, "{s}");
    assert_eq!(counter(&s, "sessions_ended_by_newer_login"), 1, "{s}");
    assert_eq!(counter(&s, "session_overlap_uses"), 1, "{s}");
}
