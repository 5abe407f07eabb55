//! The simulator's session logins (docs/API.md §7) over real loopback HTTP: the login in
//! each of its forms, the id carried by header and by cookie, the two clocks, a newer
//! login ending the older session, lockouts, logout, keep-alive, the three shapes of a
//! dead-session answer, the counters, and the profile's checks.
//!
//! Clocks are 1–2 s. A check that a session is dead only ever sleeps *past* its deadline
//! (sleeping longer cannot make it fail); where a session must stay alive, calls come at
//! a fifth of its window or less.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use supsync::sim::{Profile, SimServer};

const USER: &str = "sync-bot";
const PASSWORD: &str = "change-me";

/// A simulator with sessions on, no server work and no login delay; `session` lines are
/// added to `[session]`, `rest` is further TOML (other sections).
async fn sim(session: &str, rest: &str) -> SimServer {
    let delay = if session.contains("login_ms") {
        ""
    } else {
        "login_ms = 0\n"
    };
    let toml =
        format!("[api]\nper_record_ms = 0\n[session]\nenabled = true\n{delay}{session}\n{rest}");
    let profile = Profile::from_toml(&toml).expect("test profile parses");
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    SimServer::start(profile, listen)
        .await
        .expect("simulator starts")
}

fn http() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

fn url(s: &SimServer, path: &str) -> String {
    format!("{}{path}", s.url())
}

async fn login_as(s: &SimServer, user: &str, password: &str) -> Response {
    http()
        .post(url(s, "/api/v1/session/login"))
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap()
}

/// Logs in (JSON, `id_in = "body"`) and returns the session id.
async fn login(s: &SimServer) -> String {
    let r = login_as(s, USER, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["user"], USER);
    body["sessionId"].as_str().expect("sessionId").to_string()
}

/// How a call carries the id.
#[derive(Clone, Copy)]
enum Carry {
    Header,
    Cookie,
}

fn carrying(req: RequestBuilder, carry: Carry, id: &str) -> RequestBuilder {
    match carry {
        Carry::Header => req.header("X-Session-Id", id),
        Carry::Cookie => req.header("Cookie", format!("theme=dark; SESSIONID={id}; lang=de")),
    }
}

async fn health_with(s: &SimServer, carry: Carry, id: &str) -> Response {
    carrying(http().get(url(s, "/api/v1/health")), carry, id)
        .send()
        .await
        .unwrap()
}

async fn health(s: &SimServer, id: &str) -> Response {
    health_with(s, Carry::Header, id).await
}

async fn keepalive(s: &SimServer, id: &str) -> Response {
    health_with_path(s, "/api/v1/session/keepalive", id).await
}

async fn health_with_path(s: &SimServer, path: &str, id: &str) -> Response {
    http()
        .get(url(s, path))
        .header("X-Session-Id", id)
        .send()
        .await
        .unwrap()
}

fn expires_in(r: &Response) -> u64 {
    r.headers()
        .get("x-token-expires-in")
        .expect("X-Token-Expires-In present")
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// A 401 refusing a session, `reason` in both `WWW-Authenticate` and the body.
async fn assert_dead(r: Response, reason: &str) {
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().get("x-token-expires-in").is_none());
    let www = r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        www.starts_with("Session error=\"invalid_session\", error_description=\""),
        "{www}"
    );
    assert!(www.contains(reason), "{www} should say {reason}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_session");
    let desc = body["error_description"].as_str().unwrap();
    assert!(
        desc.starts_with(reason),
        "{desc} should start with {reason}"
    );
}

async fn stats(s: &SimServer) -> Value {
    http()
        .get(url(s, "/_sim/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn sleep(ms: u64) -> tokio::time::Sleep {
    tokio::time::sleep(Duration::from_millis(ms))
}

// ---- logging in ----

#[tokio::test]
async fn login_puts_the_id_where_id_in_says() {
    // body
    let s = sim("", "").await;
    let r = login_as(&s, USER, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(r.headers().get("x-session-id").is_none());
    assert!(r.headers().get("set-cookie").is_none());
    let body: Value = r.json().await.unwrap();
    let id = body["sessionId"].as_str().unwrap();
    assert!(id.len() >= 32, "an unguessable id");
    assert_eq!(health(&s, id).await.status(), StatusCode::OK);

    // header
    let s = sim("id_in = \"header\"", "").await;
    let r = login_as(&s, USER, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    let id = r.headers()["x-session-id"].to_str().unwrap().to_string();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!({"user": USER}));
    assert_eq!(health(&s, &id).await.status(), StatusCode::OK);

    // cookie, carried back as a cookie
    let s = sim("id_in = \"cookie\"\ncarry = \"cookie\"", "").await;
    let r = login_as(&s, USER, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    let id = cookie
        .strip_prefix("SESSIONID=")
        .and_then(|rest| rest.strip_suffix("; Path=/; HttpOnly"))
        .unwrap_or_else(|| panic!("Set-Cookie: {cookie}"))
        .to_string();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!({"user": USER}));
    assert_eq!(
        health_with(&s, Carry::Cookie, &id).await.status(),
        StatusCode::OK
    );
    assert_eq!(stats(&s).await["session_logins"], 1);
}

#[tokio::test]
async fn a_form_body_and_the_other_user_field_names_log_in_too() {
    let s = sim(
        "users = { sync-bot = \"change-me\", qa = \"p&ss w=rd\" }",
        "",
    )
    .await;
    let r = http()
        .post(url(&s, "/api/v1/session/login"))
        .form(&[("username", "qa"), ("password", "p&ss w=rd")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["user"], "qa");
    for field in ["user", "userName"] {
        let r = http()
            .post(url(&s, "/api/v1/session/login"))
            .json(&json!({field: USER, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{field}");
    }
    assert_eq!(stats(&s).await["session_logins"], 3);
}

#[tokio::test]
async fn bad_logins_are_refused_and_malformed_ones_count_for_nothing() {
    let s = sim("lockout_after = 2", "").await;
    let r = login_as(&s, USER, "wrong").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": "invalid_credentials", "error_description": "wrong user name or password"})
    );
    // An unknown user is refused the same way and counts for no one.
    for _ in 0..3 {
        let r = login_as(&s, "nobody", PASSWORD).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let other: Value = r.json().await.unwrap();
        assert_eq!(other, body);
    }
    // Malformed: 400, not a failure.
    let bad = [
        ("application/json", "{\"username\": \"sync-bot\"}"),
        ("application/json", "not json"),
        ("text/plain", "username=sync-bot&password=wrong"),
        ("application/x-www-form-urlencoded", "password=wrong"),
    ];
    for (ctype, text) in bad {
        let r = http()
            .post(url(&s, "/api/v1/session/login"))
            .header("Content-Type", ctype)
            .body(text)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{ctype} {text}");
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["error"], "invalid_request");
    }
    // One failure so far for sync-bot, under the lockout of 2.
    login(&s).await;
    let st = stats(&s).await;
    assert_eq!(st["session_login_failures"], 4);
    assert_eq!(st["session_lockouts"], 0);
    assert_eq!(st["session_logins"], 1);
}

// ---- carrying the id ----

#[tokio::test]
async fn calls_carry_the_id_by_header_or_by_cookie_as_carry_says() {
    let s = sim("", "").await;
    let id = login(&s).await;
    assert_eq!(health(&s, &id).await.status(), StatusCode::OK);
    assert_dead(
        health_with(&s, Carry::Cookie, &id).await,
        "No session: the X-Session-Id header is missing",
    )
    .await;
    // Pull and push take the session like health.
    let r = http()
        .get(url(&s, "/api/v1/suppliers/batch?limit=2"))
        .header("X-Session-Id", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = http()
        .post(url(&s, "/api/v1/suppliers/batch"))
        .header("X-Session-Id", &id)
        .header("Idempotency-Key", "k-1")
        .json(&json!({"suppliers": [supplier(1)]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(expires_in(&r) <= 900);
    // A token from the token endpoint is not a session.
    let t: Value = http()
        .post(url(&s, "/oauth/token"))
        .basic_auth("supplier-sync", Some("change-me"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = t["access_token"]
        .as_str()
        .expect("the token endpoint still answers");
    let r = http()
        .get(url(&s, "/api/v1/health"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_dead(r, "No session").await;

    let s = sim("carry = \"cookie\"\ncookie_name = \"JSESSIONID\"", "").await;
    let id = login(&s).await;
    let ok = http()
        .get(url(&s, "/api/v1/health"))
        .header("Cookie", format!("a=1; JSESSIONID={id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_dead(
        health(&s, &id).await,
        "No session: no JSESSIONID cookie in the Cookie header",
    )
    .await;
}

fn supplier(i: u32) -> Value {
    json!({"supplier_id": format!("SUP-{i:06}"), "name": format!("Supplier {i} GmbH"), "country": "DE",
           "status": "approved", "contact_email": format!("q{i}@supplier.example"),
           "certifications": ["ISO 9001"], "updated_at": "2026-11-02T09:14:00Z"})
}

#[tokio::test]
async fn required_headers_still_apply() {
    let s = sim("", "[auth]\nrequired_headers = { apiKey = \"k-123\" }").await;
    let id = login(&s).await;
    let r = health(&s, &id).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    let r = http()
        .get(url(&s, "/api/v1/health"))
        .header("X-Session-Id", &id)
        .header("apiKey", "k-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

// ---- the two clocks ----

#[tokio::test]
async fn idle_death_and_keepalive_sliding_the_window() {
    let s = sim("idle_secs = 2\ncap_secs = 0", "").await;
    let id = login(&s).await;
    // 3 s of calls, one every 0.4 s (a fifth of the window): the session outlives its
    // idle window because each call slides it. GET and POST keep-alives both count.
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < Duration::from_secs(3) {
        let r = if n % 2 == 0 {
            keepalive(&s, &id).await
        } else {
            http()
                .post(url(&s, "/api/v1/session/keepalive"))
                .header("X-Session-Id", &id)
                .send()
                .await
                .unwrap()
        };
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "alive after {:?}",
            started.elapsed()
        );
        assert!(expires_in(&r) <= 2);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body, json!({"status": "ok"}));
        n += 1;
        sleep(400).await;
    }
    assert_eq!(stats(&s).await["session_keepalives"], n);
    sleep(3000).await;
    let r = health(&s, &id).await;
    let st = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let desc = body["error_description"].as_str().unwrap();
    assert!(
        desc.starts_with("Session idle for ") && desc.ends_with("s (idle timeout 2s)"),
        "{desc}"
    );
}

#[tokio::test]
async fn cap_death_however_busy_the_session() {
    let s = sim("idle_secs = 30\ncap_secs = 2", "").await;
    let id = login(&s).await;
    let r = health(&s, &id).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        expires_in(&r) <= 2,
        "the cap, not the idle window, is nearest"
    );
    sleep(3000).await;
    assert_dead(health(&s, &id).await, "Session expired after 0m 02s").await;
}

#[tokio::test]
async fn a_session_without_clocks_sends_no_deadline() {
    let s = sim("idle_secs = 0\ncap_secs = 0", "").await;
    let id = login(&s).await;
    let r = health(&s, &id).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("x-token-expires-in").is_none());
}

// ---- one holder, lockouts ----

#[tokio::test]
async fn single_session_ends_the_older_session() {
    let s = sim("", "").await;
    let old = login(&s).await;
    let new = login(&s).await;
    assert_dead(health(&s, &old).await, "Session ended by a newer login").await;
    assert_eq!(health(&s, &new).await.status(), StatusCode::OK);
    let st = stats(&s).await;
    assert_eq!(st["sessions_ended_by_newer_login"], 1);
    assert_eq!(st["session_overlap_uses"], 1);
    assert_eq!(st["session_live_max"], 1);
    assert_eq!(st["session_logins"], 2);

    let s = sim("single_session = false", "").await;
    let a = login(&s).await;
    let b = login(&s).await;
    assert_eq!(health(&s, &a).await.status(), StatusCode::OK);
    assert_eq!(health(&s, &b).await.status(), StatusCode::OK);
    let st = stats(&s).await;
    assert_eq!(st["session_live_max"], 2);
    assert_eq!(st["sessions_ended_by_newer_login"], 0);
}

#[tokio::test]
async fn logins_in_flight_together_are_counted() {
    // 600 ms of server work per login: two sent at once overlap for nearly all of it.
    let s = sim("login_ms = 600", "").await;
    let (a, b) = tokio::join!(login_as(&s, USER, PASSWORD), login_as(&s, USER, PASSWORD));
    assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
    let st = stats(&s).await;
    assert_eq!(st["session_concurrent_logins_max"], 2);
    assert_eq!(st["sessions_ended_by_newer_login"], 1);
    assert_eq!(st["session_live_max"], 1);

    // One after the other: never more than one in flight.
    let s = sim("login_ms = 50", "").await;
    for _ in 0..3 {
        login(&s).await;
    }
    assert_eq!(stats(&s).await["session_concurrent_logins_max"], 1);
}

#[tokio::test]
async fn lockout_refuses_even_the_right_password_until_it_ends() {
    let s = sim("lockout_after = 3\nlockout_secs = 2", "").await;
    for _ in 0..3 {
        let r = login_as(&s, USER, "wrong").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let locked_at = Instant::now();
    let r = login_as(&s, USER, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::LOCKED);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "account_locked");
    assert_eq!(
        body["error_description"],
        format!("locked for {retry} s after 3 failed logins")
    );
    let r = login_as(&s, USER, "wrong").await;
    assert_eq!(
        r.status(),
        StatusCode::LOCKED,
        "a wrong password gets 423 too"
    );
    let st = stats(&s).await;
    assert_eq!(st["session_login_failures"], 3);
    assert_eq!(st["session_lockouts"], 1);
    assert_eq!(st["session_login_refused_locked"], 2);
    assert_eq!(st["session_logins"], 0);
    // Past the lock (2 s, slept 3 s from it), the right password works again.
    tokio::time::sleep_until((locked_at + Duration::from_secs(3)).into()).await;
    login(&s).await;
    assert_eq!(stats(&s).await["session_lockouts"], 1);
}

#[tokio::test]
async fn a_success_resets_the_failure_count() {
    let s = sim("lockout_after = 3", "").await;
    for _ in 0..2 {
        assert_eq!(
            login_as(&s, USER, "wrong").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    login(&s).await;
    for _ in 0..2 {
        assert_eq!(
            login_as(&s, USER, "wrong").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    login(&s).await;
    let st = stats(&s).await;
    assert_eq!(st["session_lockouts"], 0);
    assert_eq!(st["session_login_failures"], 4);
}

// ---- logout, revoke ----

#[tokio::test]
async fn logout_ends_the_session_and_is_idempotent() {
    let s = sim("", "").await;
    let id = login(&s).await;
    let r = http()
        .post(url(&s, "/api/v1/session/logout"))
        .header("X-Session-Id", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_dead(health(&s, &id).await, "Session logged out").await;
    let again = http()
        .delete(url(&s, "/api/v1/session/logout"))
        .header("X-Session-Id", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NO_CONTENT);
    let unknown = http()
        .post(url(&s, "/api/v1/session/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NO_CONTENT);
    assert_eq!(stats(&s).await["session_logouts"], 3);
    // Logout by cookie.
    let s = sim("carry = \"cookie\"", "").await;
    let id = login(&s).await;
    let r = http()
        .post(url(&s, "/api/v1/session/logout"))
        .header("Cookie", format!("SESSIONID={id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_dead(
        health_with(&s, Carry::Cookie, &id).await,
        "Session logged out",
    )
    .await;
}

#[tokio::test]
async fn sim_revoke_ends_every_session() {
    let s = sim("", "").await;
    let id = login(&s).await;
    let r: Value = http()
        .post(url(&s, "/_sim/revoke"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["revoked_sessions"], 1);
    assert_dead(health(&s, &id).await, "Session revoked").await;
}

// ---- how a dead session is answered ----

#[tokio::test]
async fn a_dead_session_is_answered_the_way_expiry_signal_says() {
    let s = sim("", "").await;
    assert_dead(
        health(&s, "nope").await,
        "Session is not known to this server",
    )
    .await;
    let st = stats(&s).await;
    assert_eq!(
        (st["api_token_dead"].clone(), st["api_unauthorized"].clone()),
        (json!(1), json!(1))
    );

    let s = sim("", "[tokens]\nexpiry_signal = \"403\"").await;
    let r = health(&s, "nope").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().get("x-token-expires-in").is_none());
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": "token_expired", "error_description": "Session is not known to this server"})
    );
    let id = login(&s).await;
    login(&s).await;
    let body: Value = health(&s, &id).await.json().await.unwrap();
    assert_eq!(body["error_description"], "Session ended by a newer login");
    let r = http().get(url(&s, "/api/v1/health")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a missing session too");

    let s = sim("", "[tokens]\nexpiry_signal = \"200-body\"").await;
    let id = login(&s).await;
    let out = http()
        .post(url(&s, "/api/v1/session/logout"))
        .header("X-Session-Id", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let r = health(&s, &id).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("x-token-expires-in").is_none());
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": "error", "error": {"code": "TOKEN_EXPIRED", "message": "Session logged out"}})
    );
    let st = stats(&s).await;
    assert_eq!(
        (st["api_token_dead"].clone(), st["unauthorized"].clone()),
        (json!(1), json!(0))
    );
}

// ---- the profile ----

#[tokio::test]
async fn sessions_off_serves_no_session_paths() {
    let s = SimServer::start(Profile::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    for path in [
        "/api/v1/session/login",
        "/api/v1/session/logout",
        "/api/v1/session/keepalive",
    ] {
        let r = http()
            .post(url(&s, path))
            .json(&json!({"username": USER, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // And a session header is no credential: the bearer token is.
    let r = health(&s, "anything").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let www = r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(www.starts_with("Bearer "), "{www}");
}

#[tokio::test]
async fn other_session_paths_are_served_where_the_profile_says() {
    let s = sim(
        "login_path = \"/auth/login\"\nlogout_path = \"/auth/logout\"\nkeepalive_path = \"/auth/ping\"\nheader_name = \"Session-Token\"\nid_in = \"header\"",
        "",
    )
    .await;
    let r = http()
        .post(url(&s, "/auth/login"))
        .json(&json!({"username": USER, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let id = r.headers()["session-token"].to_str().unwrap().to_string();
    let r = http()
        .get(url(&s, "/auth/ping"))
        .header("Session-Token", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = http()
        .post(url(&s, "/api/v1/session/login"))
        .json(&json!({"username": USER, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = http()
        .post(url(&s, "/auth/logout"))
        .header("Session-Token", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
}

#[test]
fn bad_session_keys_are_refused_naming_the_key() {
    let cases = [
        ("[session]\nenable = true\n", "enable"),
        ("[session]\nid_in = \"url\"\n", "id_in"),
        ("[session]\ncarry = \"query\"\n", "carry"),
        ("[session]\nidle_secs = \"15\"\n", "idle_secs"),
        ("[session]\nusers = {}\n", "users"),
        ("[session]\nusers = { bot = 1 }\n", "users"),
        ("[session]\nlogin_path = \"/oauth/token\"\n", "login_path"),
        (
            "[session]\nkeepalive_path = \"/api/v1/session/logout\"\n",
            "keepalive_path",
        ),
        ("[session]\nheader_name = \"a b\"\n", "header_name"),
        ("[session]\ncookie_name = \"\"\n", "cookie_name"),
        (
            "[session]\nlockout_after = 3\nlockout_secs = 0\n",
            "lockout_secs",
        ),
        ("[session]\nsingle_session = \"yes\"\n", "single_session"),
    ];
    for (toml, key) in cases {
        let e = Profile::from_toml(toml).expect_err(toml);
        assert!(e.contains(&format!("[session] {key}")), "{toml}: {e}");
    }
}

#[test]
fn simulate_refuses_a_bad_session_profile_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[session]\nenabled = true\ncap_sec = 60\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_supsync"))
        .args(["simulate", "--profile"])
        .arg(&path)
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[session] cap_sec") && err.contains("line 3"),
        "{err}"
    );
}

#[tokio::test]
async fn the_shipped_session_profile_logs_in() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sim-session.toml");
    let p = Profile::load(path.to_str().unwrap()).unwrap();
    assert!(p.session.enabled);
    assert_eq!((p.session.idle_secs, p.session.cap_secs), (15, 60));
    let s = SimServer::start(p, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let id = login(&s).await;
    let r = health(&s, &id).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(expires_in(&r) <= 15);
}
