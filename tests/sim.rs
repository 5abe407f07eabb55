//! The simulator against docs/API.md, over real loopback HTTP: one test per row of the
//! contract. Clocks are 1–2 s with checks well clear of each edge, so the suite is fast
//! and not flaky.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use supsync::sim::{Profile, SimServer};

const ID: &str = "supplier-sync";
const SECRET: &str = "change-me";

async fn sim(toml: &str) -> SimServer {
    let profile = Profile::from_toml(toml).expect("test profile parses");
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    SimServer::start(profile, listen)
        .await
        .expect("simulator starts")
}

/// Every test profile turns off server work, so only the clock under test matters.
fn profile(extra: &str) -> String {
    if extra.contains("[api]\n") {
        extra.replacen("[api]\n", "[api]\nper_record_ms = 0\n", 1)
    } else {
        format!("[api]\nper_record_ms = 0\n{extra}")
    }
}

fn http() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

enum Style {
    Basic,
    Post,
}

async fn token_req(
    s: &SimServer,
    style: Style,
    id: &str,
    secret: &str,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut form: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut req = http().post(format!("{}/oauth/token", s.url()));
    match style {
        Style::Basic => {
            // As the oauth2 crate does (RFC 6749 §2.3.1): form-urlencode, then base64.
            let enc =
                |x: &str| url::form_urlencoded::byte_serialize(x.as_bytes()).collect::<String>();
            let creds = base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                enc(id),
                enc(secret)
            ));
            req = req.header("Authorization", format!("Basic {creds}"));
        }
        Style::Post => {
            form.push(("client_id".into(), id.into()));
            form.push(("client_secret".into(), secret.into()));
        }
    }
    let resp = req.form(&form).send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn grant(s: &SimServer, scope: Option<&str>) -> Value {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(sc) = scope {
        form.push(("scope", sc));
    }
    let (st, body) = token_req(s, Style::Basic, ID, SECRET, &form).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    body
}

async fn refresh(s: &SimServer, rt: &str) -> (StatusCode, Value) {
    token_req(
        s,
        Style::Basic,
        ID,
        SECRET,
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await
}

fn access(t: &Value) -> &str {
    t["access_token"].as_str().expect("access_token")
}

async fn health(s: &SimServer, token: &str) -> Response {
    http()
        .get(format!("{}/api/v1/health", s.url()))
        .bearer_auth(token)
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

/// Asserts a 401 naming `reason` in both WWW-Authenticate and the JSON body.
async fn assert_401(r: Response, reason: &str) {
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers().get("x-token-expires-in").is_none(),
        "no X-Token-Expires-In on 401"
    );
    let www = r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        www.starts_with("Bearer ") && www.contains("error=\"invalid_token\""),
        "{www}"
    );
    assert!(
        www.contains(&format!("error_description=\"{reason}")),
        "{www} should say {reason}"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
    let desc = body["error_description"].as_str().unwrap();
    assert!(
        desc.starts_with(reason),
        "{desc} should start with {reason}"
    );
}

async fn stats(s: &SimServer) -> Value {
    http()
        .get(format!("{}/_sim/stats", s.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn supplier(i: u32) -> Value {
    json!({"supplier_id": format!("SUP-{i:06}"), "name": format!("Supplier {i} GmbH"), "country": "DE",
           "status": "approved", "contact_email": format!("q{i}@supplier.example"),
           "certifications": ["ISO 9001"], "updated_at": "2026-11-02T09:14:00Z"})
}

async fn push(
    s: &SimServer,
    token: &str,
    key: Option<&str>,
    records: &[Value],
) -> reqwest::Result<Response> {
    let mut req = http()
        .post(format!("{}/api/v1/suppliers/batch", s.url()))
        .bearer_auth(token)
        .json(&json!({ "suppliers": records }));
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    req.send().await
}

fn sleep(ms: u64) -> tokio::time::Sleep {
    tokio::time::sleep(Duration::from_millis(ms))
}

// ---- the three clocks ----

#[tokio::test]
async fn ttl_clock_kills_token_with_expired_description() {
    let s = sim(&profile("[tokens]\nscope_ttl_secs = { supplier_mgmt = 1 }\nidle_timeout_secs = 0\nabsolute_timeout_secs = 0\n")).await;
    let t = grant(&s, Some("supplier_mgmt")).await;
    assert_eq!(t["expires_in"], 1);
    let r = health(&s, access(&t)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(expires_in(&r) <= 1);
    sleep(1500).await;
    assert_401(health(&s, access(&t)).await, "Token expired after 0m 01s").await;
    assert_eq!(stats(&s).await["unauthorized"], 1);
}

#[tokio::test]
async fn idle_window_slides_with_use_then_kills() {
    let s = sim(&profile(
        "[tokens]\nidle_timeout_secs = 1\nabsolute_timeout_secs = 0\n",
    ))
    .await;
    let t = grant(&s, None).await;
    // Used every 250 ms for 2 s: well past the 1 s window, kept alive by sliding.
    for _ in 0..8 {
        sleep(250).await;
        let r = health(&s, access(&t)).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(expires_in(&r) <= 1);
    }
    sleep(1600).await;
    assert_401(
        health(&s, access(&t)).await,
        "Token idle for 0m 01s (idle timeout 1s)",
    )
    .await;
}

#[tokio::test]
async fn session_limit_kills_tokens_and_refuses_refresh() {
    let s = sim(&profile(
        "[tokens]\nidle_timeout_secs = 0\nabsolute_timeout_secs = 2\nissue_refresh_token = \"always\"\nscope_ttl_secs = {}\n",
    ))
    .await;
    let t = grant(&s, Some("supplier_mgmt")).await;
    assert_eq!(t["expires_in"], 3600);
    assert_eq!(
        t["refresh_expires_in"], 2,
        "refresh token never outlives the session"
    );
    sleep(300).await;
    let (st, r) = refresh(&s, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    let h = health(&s, access(&r)).await;
    assert_eq!(h.status(), StatusCode::OK);
    assert!(
        expires_in(&h) <= 1,
        "X-Token-Expires-In counts the session clock"
    );
    sleep(2000).await;
    assert_401(health(&s, access(&r)).await, "Session expired after 0m 02s").await;
    let (st, e) = refresh(&s, r["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (st, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(e["error_description"], "session expired");
    // A new client-credentials grant starts a new session.
    let fresh = grant(&s, None).await;
    assert_eq!(health(&s, access(&fresh)).await.status(), StatusCode::OK);
    assert_eq!(stats(&s).await["sessions"], 2);
}

// ---- token endpoint ----

#[tokio::test]
async fn shortest_scope_ttl_wins_and_no_scope_gets_default() {
    let s = sim(&profile(
        "[tokens]\nscope_ttl_secs = { supplier_mgmt = 900, reports = 300 }\n",
    ))
    .await;
    let both = grant(&s, Some("supplier_mgmt reports offline_access")).await;
    assert_eq!(both["expires_in"], 300);
    assert_eq!(both["scope"], "supplier_mgmt reports offline_access");
    assert!(both["refresh_token"].is_string());
    assert_eq!(grant(&s, Some("supplier_mgmt")).await["expires_in"], 900);
    assert_eq!(grant(&s, Some("unlisted")).await["expires_in"], 3600);
    let none = grant(&s, None).await;
    assert_eq!(none["expires_in"], 3600);
    assert!(none.get("refresh_token").is_none());
    let r = health(&s, access(&both)).await;
    let left = expires_in(&r);
    assert!((295..=300).contains(&left), "{left}");
    // The access token is JWT-shaped, its claims readable.
    let claims = access(&both).split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        300
    );
    assert_eq!(claims["client_id"], ID);
}

#[tokio::test]
async fn both_client_auth_styles_and_client_errors() {
    let s = sim(&profile(
        "[clients]\nsupplier-sync = \"change-me\"\n\"svc:ops\" = \"p@ss w+rd%\"\n",
    ))
    .await;
    let cc = [("grant_type", "client_credentials")];
    assert_eq!(
        token_req(&s, Style::Basic, ID, SECRET, &cc).await.0,
        StatusCode::OK
    );
    assert_eq!(
        token_req(&s, Style::Post, ID, SECRET, &cc).await.0,
        StatusCode::OK
    );
    // Characters that only survive if Basic credentials are URL-decoded after base64.
    assert_eq!(
        token_req(&s, Style::Basic, "svc:ops", "p@ss w+rd%", &cc)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        token_req(&s, Style::Post, "svc:ops", "p@ss w+rd%", &cc)
            .await
            .0,
        StatusCode::OK
    );
    for style in [Style::Basic, Style::Post] {
        let (st, e) = token_req(&s, style, ID, "wrong", &cc).await;
        assert_eq!(
            (st, e["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_client"))
        );
    }
    let (st, e) = token_req(&s, Style::Basic, "nobody", SECRET, &cc).await;
    assert_eq!(
        (st, e["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let (st, e) = token_req(&s, Style::Basic, ID, SECRET, &[("grant_type", "password")]).await;
    assert_eq!(
        (st, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
    let (st, e) = token_req(
        &s,
        Style::Basic,
        ID,
        SECRET,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "bad\"scope"),
        ],
    )
    .await;
    assert_eq!(
        (st, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    let (st, e) = token_req(&s, Style::Basic, ID, SECRET, &[("scope", "x")]).await;
    assert_eq!(
        (st, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let (st, e) = token_req(
        &s,
        Style::Basic,
        ID,
        SECRET,
        &[("grant_type", "refresh_token"), ("refresh_token", "nope")],
    )
    .await;
    assert_eq!(
        (st, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let st = stats(&s).await;
    assert_eq!(st["tokens_issued"], 4);
    assert_eq!(st["unauthorized"], 3);
}

#[tokio::test]
async fn refresh_token_issue_policies() {
    for (policy, scope, expect) in [
        ("never", Some("supplier_mgmt offline_access"), false),
        ("offline_access", Some("supplier_mgmt offline_access"), true),
        ("offline_access", Some("supplier_mgmt"), false),
        ("offline_access", None, false),
        ("always", Some("supplier_mgmt"), true),
        ("always", None, true),
    ] {
        let s = sim(&profile(&format!(
            "[tokens]\nissue_refresh_token = \"{policy}\"\n"
        )))
        .await;
        let t = grant(&s, scope).await;
        assert_eq!(
            t["refresh_token"].is_string(),
            expect,
            "{policy} {scope:?}: {t}"
        );
        assert_eq!(
            t["refresh_expires_in"].is_u64(),
            expect,
            "{policy} {scope:?}: {t}"
        );
    }
}

#[tokio::test]
async fn rotation_and_reuse_revoke_the_whole_session() {
    let s = sim(&profile("")).await;
    let t = grant(&s, Some("supplier_mgmt offline_access")).await;
    let rt1 = t["refresh_token"].as_str().unwrap().to_string();
    let (st, r) = refresh(&s, &rt1).await;
    assert_eq!(st, StatusCode::OK);
    let rt2 = r["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2, "rotation hands out a new refresh token");
    assert_eq!(
        r["expires_in"], 900,
        "refreshed token keeps the scope hierarchy"
    );
    assert_eq!(r["scope"], "supplier_mgmt offline_access");
    assert_eq!(health(&s, access(&r)).await.status(), StatusCode::OK);
    // Reuse of the spent token: invalid_grant, and every token of the session dies.
    let (st, e) = refresh(&s, &rt1).await;
    assert_eq!(
        (st, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_401(health(&s, access(&r)).await, "Token revoked").await;
    assert_401(health(&s, access(&t)).await, "Token revoked").await;
    assert_eq!(refresh(&s, &rt2).await.1["error"], "invalid_grant");
    let st = stats(&s).await;
    assert_eq!(
        (st["refreshes"].as_u64(), st["refresh_reuse"].as_u64()),
        (Some(1), Some(1))
    );
    // Other sessions are untouched.
    let other = grant(&s, Some("supplier_mgmt")).await;
    assert_eq!(health(&s, access(&other)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn without_rotation_or_reuse_detection() {
    let s = sim(&profile("[tokens]\nrotate_refresh_tokens = false\n")).await;
    let t = grant(&s, Some("offline_access")).await;
    let rt = t["refresh_token"].as_str().unwrap();
    for _ in 0..3 {
        let (st, r) = refresh(&s, rt).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(
            r["refresh_token"], rt,
            "same refresh token while rotation is off"
        );
    }
    let s = sim(&profile("[tokens]\nreuse_detection = false\n")).await;
    let t = grant(&s, Some("offline_access")).await;
    let rt1 = t["refresh_token"].as_str().unwrap();
    let (_, r) = refresh(&s, rt1).await;
    assert_eq!(refresh(&s, rt1).await.1["error"], "invalid_grant");
    assert_eq!(
        health(&s, access(&r)).await.status(),
        StatusCode::OK,
        "no reuse detection: session lives"
    );
    assert_eq!(
        refresh(&s, r["refresh_token"].as_str().unwrap()).await.0,
        StatusCode::OK
    );
}

// ---- push and pull ----

#[tokio::test]
async fn push_upserts_rejects_and_replays_by_idempotency_key() {
    let s = sim(&profile("[data]\nsuppliers = 3\n")).await;
    let t = grant(&s, None).await;
    let mut bad = supplier(900002);
    bad["country"] = json!("Germany");
    let existing = serde_json::to_value(supsync::sim::generated_record(1)).unwrap();
    let batch = vec![
        supplier(900001),
        bad,
        json!(42),
        existing.clone(),
        json!({"supplier_id": "SUP-000009"}),
    ];
    let r = push(&s, access(&t), Some("run1-seg0"), &batch)
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().contains_key("x-token-expires-in"));
    let first = r.text().await.unwrap();
    let v: Value = serde_json::from_str(&first).unwrap();
    let statuses: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["created", "rejected", "rejected", "unchanged", "rejected"]
    );
    assert!(
        v["results"][1]["error"]
            .as_str()
            .unwrap()
            .contains("country")
    );
    assert!(
        v["results"][2]["error"]
            .as_str()
            .unwrap()
            .contains("not a supplier record")
    );
    assert_eq!(v["results"][4]["supplier_id"], "SUP-000009");
    assert!(v["results"][0]["error"].is_null());
    // Same key, same body: the first answer, byte for byte; nothing applied twice.
    let again = push(&s, access(&t), Some("run1-seg0"), &batch)
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.text().await.unwrap(), first);
    // Same key, other body: 409.
    let conflict = push(&s, access(&t), Some("run1-seg0"), &batch[..1])
        .await
        .unwrap();
    assert_eq!(conflict.status(), StatusCode::CONFLICT);
    assert!(conflict.headers().contains_key("x-token-expires-in"));
    // A changed record under a new key is an update.
    let mut changed = supplier(900001);
    changed["name"] = json!("Renamed GmbH");
    let up: Value = push(&s, access(&t), Some("run1-seg1"), &[changed])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(up["results"][0]["status"], "updated");
    let st = stats(&s).await;
    for (k, n) in [
        ("records_created", 1),
        ("records_updated", 1),
        ("records_unchanged", 1),
        ("records_rejected", 3),
        ("records_stored", 2),
        ("idempotent_replays", 1),
    ] {
        assert_eq!(st[k], n, "{k} in {st}");
    }
}

#[tokio::test]
async fn oversized_batch_is_413_and_pull_pages_through_everything() {
    let s = sim(&profile("[api]\nmax_batch = 2\n[data]\nsuppliers = 4\n")).await;
    let t = grant(&s, None).await;
    let r = push(
        &s,
        access(&t),
        None,
        &[supplier(900001), supplier(900002), supplier(900003)],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "batch_too_large");
    let r = push(&s, access(&t), None, &[supplier(900001)])
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let mut ids = Vec::new();
    let mut offset = Some(0u64);
    while let Some(o) = offset {
        let r = http()
            .get(format!(
                "{}/api/v1/suppliers/batch?offset={o}&limit=50",
                s.url()
            ))
            .bearer_auth(access(&t))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers().contains_key("x-token-expires-in"));
        let page: Value = r.json().await.unwrap();
        assert_eq!(page["total"], 5);
        let rows = page["suppliers"].as_array().unwrap();
        assert!(rows.len() <= 2, "limit is capped at max_batch");
        ids.extend(
            rows.iter()
                .map(|x| x["supplier_id"].as_str().unwrap().to_string()),
        );
        offset = page["next_offset"].as_u64();
    }
    assert_eq!(
        ids,
        [
            "SUP-000001",
            "SUP-000002",
            "SUP-000003",
            "SUP-000004",
            "SUP-900001"
        ]
    );
}

// ---- limits, faults, operator endpoints ----

#[tokio::test]
async fn concurrency_beyond_max_is_429_with_retry_after() {
    let s = sim("[api]\nper_record_ms = 1000\nmax_concurrent = 1\n").await;
    let t = grant(&s, None).await;
    let token = access(&t).to_string();
    let slow = {
        let (url, token) = (s.url(), token.clone());
        tokio::spawn(async move {
            http()
                .post(format!("{url}/api/v1/suppliers/batch"))
                .bearer_auth(token)
                .json(&json!({"suppliers": [supplier(900001)]}))
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    sleep(200).await;
    let r = health(&s, &token).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert!(r.headers().contains_key("x-token-expires-in"));
    assert_eq!(slow.await.unwrap(), StatusCode::OK);
    assert_eq!(
        health(&s, &token).await.status(),
        StatusCode::OK,
        "slot freed"
    );
    assert_eq!(stats(&s).await["rate_limited"], 1);
}

#[tokio::test]
async fn push_work_takes_per_record_ms_from_arrival_never_less() {
    // 10 records × 20 ms: a tokio sleep then a precise one. 1 record × 1 ms: only the
    // precise one. The answer may come later (scheduling), never sooner.
    let s = sim("[api]\nper_record_ms = 20\nmax_concurrent = 0\n").await;
    let t = grant(&s, None).await;
    let records: Vec<Value> = (0..10).map(|i| supplier(910_000 + i)).collect();
    let sent = std::time::Instant::now();
    let r = push(&s, access(&t), Some("work-1"), &records)
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        sent.elapsed() >= Duration::from_millis(200),
        "{:?}",
        sent.elapsed()
    );

    let s = sim("[api]\nper_record_ms = 1\nmax_concurrent = 0\n").await;
    let t = grant(&s, None).await;
    let sent = std::time::Instant::now();
    let r = push(&s, access(&t), None, &[supplier(920_000)])
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        sent.elapsed() >= Duration::from_millis(1),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(stats(&s).await["records_created"], 1);
}

#[tokio::test]
async fn rate_limit_is_429_with_retry_after() {
    let s = sim(&profile(
        "[api]\nrate_limit_per_sec = 3\nmax_concurrent = 0\n",
    ))
    .await;
    let t = grant(&s, None).await;
    let mut codes = Vec::new();
    for _ in 0..5 {
        let r = health(&s, access(&t)).await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(r.headers()["retry-after"], "1");
        }
        codes.push(r.status().as_u16());
    }
    assert_eq!(codes, [200, 200, 200, 429, 429]);
    sleep(1100).await;
    assert_eq!(health(&s, access(&t)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn fault_sequence_is_identical_for_the_same_seed() {
    async fn run(seed: u64) -> (Vec<u16>, Value) {
        let s = sim(&profile(&format!(
            "[faults]\nerror_rate = 0.25\ndrop_rate = 0.15\nseed = {seed}\n"
        )))
        .await;
        let t = grant(&s, None).await;
        let mut seen = Vec::new();
        for _ in 0..60 {
            let r = http()
                .get(format!("{}/api/v1/health", s.url()))
                .bearer_auth(access(&t))
                .send()
                .await;
            seen.push(match r {
                Ok(r) => r.status().as_u16(),
                Err(e) => {
                    assert!(!e.is_timeout(), "a cut is immediate, not a timeout");
                    0
                }
            });
        }
        (seen, stats(&s).await)
    }
    let (a, sa) = run(42).await;
    let (b, _) = run(42).await;
    let (c, _) = run(43).await;
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.iter().all(|c| [0, 200, 503].contains(c)));
    let errors = a.iter().filter(|&&c| c == 503).count() as u64;
    let cuts = a.iter().filter(|&&c| c == 0).count() as u64;
    assert!(errors > 0 && cuts > 0, "{a:?}");
    assert_eq!(sa["faults"].as_u64(), Some(errors + cuts));
}

#[tokio::test]
async fn dropped_connections_lose_some_answers_after_the_work() {
    let s = sim(&profile("[faults]\ndrop_rate = 1.0\nseed = 5\n")).await;
    let t = grant(&s, None).await;
    for i in 0..20 {
        let r = push(
            &s,
            access(&t),
            Some(&format!("k{i}")),
            &[supplier(900000 + i)],
        )
        .await;
        let e = r.expect_err("every connection is cut");
        assert!(!e.is_timeout());
    }
    let st = stats(&s).await;
    assert_eq!(st["dropped_connections"], 20);
    // Half the cuts come after the work: those records are stored though the answer is lost.
    let stored = st["records_created"].as_u64().unwrap();
    assert!((1..20).contains(&stored), "{st}");
}

#[tokio::test]
async fn lost_answer_is_recovered_by_replaying_the_key() {
    // Seed 5 with drop_rate 0.5: find a key whose first push was cut after the work, then
    // show its retry is a replay and nothing is created twice.
    let s = sim(&profile(
        "[faults]\ndrop_rate = 0.5\nseed = 5\n[api]\nmax_concurrent = 0\n",
    ))
    .await;
    let t = grant(&s, None).await;
    let mut recovered = 0;
    for i in 0..30u32 {
        let key = format!("seg{i}");
        let rec = [supplier(910000 + i)];
        let before = stats(&s).await["records_created"].as_u64().unwrap();
        if push(&s, access(&t), Some(&key), &rec).await.is_ok() {
            continue;
        }
        let after = stats(&s).await["records_created"].as_u64().unwrap();
        // Retry until an answer gets through (the die may cut the retries too).
        let mut answer = None;
        for _ in 0..20 {
            if let Ok(r) = push(&s, access(&t), Some(&key), &rec).await
                && r.status() == StatusCode::OK
            {
                answer = Some(r.json::<Value>().await.unwrap());
                break;
            }
        }
        let answer = answer.expect("a retry gets through");
        let created_once = stats(&s).await["records_created"].as_u64().unwrap();
        if after > before {
            // Work done, answer lost: the retry replays "created", and nothing doubles.
            assert_eq!(answer["results"][0]["status"], "created");
            assert_eq!(created_once, after);
            recovered += 1;
        }
    }
    assert!(recovered > 0, "seed 5 cuts some pushes after the work");
}

#[tokio::test]
async fn revoke_kills_every_token() {
    let s = sim(&profile("")).await;
    let t = grant(&s, Some("supplier_mgmt offline_access")).await;
    let r = http()
        .post(format!("{}/_sim/revoke", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_401(health(&s, access(&t)).await, "Token revoked").await;
    assert_eq!(
        refresh(&s, t["refresh_token"].as_str().unwrap()).await.1["error"],
        "invalid_grant"
    );
    let fresh = grant(&s, None).await;
    assert_eq!(health(&s, access(&fresh)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn outage_answers_503_for_token_and_resource_calls() {
    let s = sim(&profile("")).await;
    let t = grant(&s, None).await;
    let r = http()
        .post(format!("{}/_sim/outage?seconds=1", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h = health(&s, access(&t)).await;
    assert_eq!(h.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(h.headers()["retry-after"], "1");
    let (st, e) = token_req(
        &s,
        Style::Basic,
        ID,
        SECRET,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(
        (st, e["error"].as_str()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("temporarily_unavailable")
        )
    );
    sleep(1300).await;
    assert_eq!(health(&s, access(&t)).await.status(), StatusCode::OK);
    grant(&s, None).await;
    let bad = http()
        .post(format!("{}/_sim/outage?seconds=soon", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

// ---- hardening ----

#[tokio::test]
async fn garbage_gets_4xx_json_and_the_server_stays_up() {
    let s = sim(&profile("[api]\nmax_concurrent = 0\n")).await;
    let t = grant(&s, None).await;
    let url = s.url();
    let c = http();
    let batch = format!("{url}/api/v1/suppliers/batch");
    let cases: Vec<(reqwest::RequestBuilder, u16)> = vec![
        (c.get(format!("{url}/api/v1/health")), 401),
        (
            c.get(format!("{url}/api/v1/health"))
                .header("Authorization", "Basic abc"),
            401,
        ),
        (
            c.get(format!("{url}/api/v1/health"))
                .header("Authorization", "Bearer "),
            401,
        ),
        (
            c.get(format!("{url}/api/v1/health"))
                .bearer_auth("garbage.token.here"),
            401,
        ),
        (
            c.post(&batch).bearer_auth(access(&t)).body("{not json"),
            400,
        ),
        (
            c.post(&batch)
                .bearer_auth(access(&t))
                .header("content-type", "application/json")
                .body("[1,2]"),
            400,
        ),
        (
            c.post(&batch)
                .bearer_auth(access(&t))
                .header("content-type", "application/json")
                .body(r#"{"suppliers":"x"}"#),
            400,
        ),
        (
            c.post(&batch)
                .bearer_auth(access(&t))
                .header("content-type", "text/csv")
                .body("a,b"),
            415,
        ),
        (
            c.post(&batch)
                .bearer_auth(access(&t))
                .header("Idempotency-Key", "k".repeat(300))
                .json(&json!({"suppliers": []})),
            400,
        ),
        (
            c.post(&batch)
                .bearer_auth(access(&t))
                .header("content-type", "application/json")
                .body(vec![b'x'; 17 * 1024 * 1024]),
            413,
        ),
        (
            c.get(format!("{batch}?offset=-3")).bearer_auth(access(&t)),
            400,
        ),
        (
            c.get(format!("{batch}?limit=0")).bearer_auth(access(&t)),
            400,
        ),
        (
            c.post(format!("{url}/oauth/token"))
                .json(&json!({"grant_type": "client_credentials"})),
            400,
        ),
        (
            c.post(format!("{url}/oauth/token"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(vec![0xff, 0xfe, b'&', b'=']),
            401,
        ),
        (c.get(format!("{url}/oauth/token")), 405),
        (c.delete(format!("{url}/api/v1/health")), 405),
        (c.get(format!("{url}/nowhere/{}", "x".repeat(5000))), 404),
    ];
    for (i, (req, want)) in cases.into_iter().enumerate() {
        let r = req.send().await.unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert_eq!(r.status().as_u16(), want, "case {i}");
        let body: Value = r
            .json()
            .await
            .unwrap_or_else(|e| panic!("case {i}: not JSON: {e}"));
        assert!(body["error"].is_string(), "case {i}: {body}");
    }
    // Raw bytes that are not HTTP at all, and a connection that sends half a request.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for junk in [
        &b"\x00\x01\x02garbage\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999\r\n\r\nabc",
        b"POST /oauth/token HTTP/1.1\r\n",
    ] {
        let mut sock = tokio::net::TcpStream::connect(s.addr).await.unwrap();
        sock.write_all(junk).await.unwrap();
        let _ = sock.shutdown().await;
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), sock.read_to_end(&mut buf)).await;
        if !buf.is_empty() {
            assert!(
                buf.starts_with(b"HTTP/1.1 4"),
                "{}",
                String::from_utf8_lossy(&buf[..buf.len().min(80)])
            );
        }
    }
    assert_eq!(
        health(&s, access(&t)).await.status(),
        StatusCode::OK,
        "still serving"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_concurrent_connections_survive() {
    let s = sim(&profile("[api]\nmax_concurrent = 0\n")).await;
    let t = grant(&s, None).await;
    let token = access(&t).to_string();
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..400)
        .map(|i| {
            let (url, token) = (s.url(), token.clone());
            tokio::spawn(async move {
                // A client each: a connection each, all open at once.
                let c = http();
                let r = if i % 2 == 0 {
                    c.get(format!("{url}/api/v1/health"))
                        .bearer_auth(&token)
                        .send()
                        .await
                } else {
                    c.get(format!("{url}/api/v1/suppliers/batch?offset={i}&limit=5"))
                        .bearer_auth(&token)
                        .send()
                        .await
                };
                r.map(|r| r.status().as_u16()).unwrap_or(0)
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        if task.await.unwrap() == 200 {
            ok += 1;
        }
    }
    assert_eq!(ok, 400, "every request answered 200");
    eprintln!(
        "400 concurrent connections served in {:?}",
        started.elapsed()
    );
    let st = stats(&s).await;
    assert_eq!(st["requests"].as_u64(), Some(401));
    s.shutdown().await;
}

#[test]
fn simulate_command_prints_its_address_and_stops_on_sigterm() {
    use std::io::BufRead;
    let bin = env!("CARGO_BIN_EXE_supsync");
    let mut child = std::process::Command::new(bin)
        .args(["simulate", "--profile", "demo", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("listening on http://127.0.0.1:"), "{line}");
    let port: u16 = line.trim().rsplit(':').next().unwrap().parse().unwrap();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[tokens]\nidle_timout_secs = 3\n").unwrap();
    let out = std::process::Command::new(bin)
        .args([
            "simulate",
            "--profile",
            bad.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("idle_timout_secs") && err.contains("line 2"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one clear error: {err}");
}

/// The client side is the oauth2 crate: it form-urlencodes Basic credentials before base64
/// and parses RFC 6749 answers strictly, so the simulator must speak exactly that.
#[tokio::test]
async fn the_oauth2_crate_gets_tokens_both_ways_and_refreshes() {
    use oauth2::basic::BasicClient;
    use oauth2::{
        AuthType, ClientId, ClientSecret, RequestTokenError, Scope, TokenResponse, TokenUrl,
    };
    let s = sim(&profile("[clients]\n\"svc:ops\" = \"p@ss w+rd%&=\"\n")).await;
    let http = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for style in [AuthType::BasicAuth, AuthType::RequestBody] {
        let client = BasicClient::new(ClientId::new("svc:ops".into()))
            .set_client_secret(ClientSecret::new("p@ss w+rd%&=".into()))
            .set_token_uri(TokenUrl::new(format!("{}/oauth/token", s.url())).unwrap())
            .set_auth_type(style);
        let t = client
            .exchange_client_credentials()
            .add_scope(Scope::new("supplier_mgmt".into()))
            .add_scope(Scope::new("offline_access".into()))
            .request_async(&http)
            .await
            .unwrap();
        assert_eq!(t.expires_in(), Some(Duration::from_secs(900)));
        assert_eq!(t.scopes().map(|v| v.len()), Some(2));
        let rt = t.refresh_token().unwrap();
        let r = client
            .exchange_refresh_token(rt)
            .request_async(&http)
            .await
            .unwrap();
        assert_ne!(r.refresh_token().unwrap().secret(), rt.secret());
        let reused = client.exchange_refresh_token(rt).request_async(&http).await;
        match reused {
            Err(RequestTokenError::ServerResponse(e)) => {
                assert_eq!(e.error().as_ref(), "invalid_grant");
            }
            other => panic!("reuse should be invalid_grant, got {other:?}"),
        }
    }
    let wrong = BasicClient::new(ClientId::new("svc:ops".into()))
        .set_client_secret(ClientSecret::new("nope".into()))
        .set_token_uri(TokenUrl::new(format!("{}/oauth/token", s.url())).unwrap())
        .exchange_client_credentials()
        .request_async(&http)
        .await;
    match wrong {
        Err(RequestTokenError::ServerResponse(e)) => {
            assert_eq!(e.error().as_ref(), "invalid_client")
        }
        other => panic!("wrong secret should be invalid_client, got {other:?}"),
    }
}
