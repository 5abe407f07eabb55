//! Renewal planning against the real simulator over loopback: a refresh token that lives
//! shorter than the access token is let lapse, not renewed for; the access token is
//! renewed when its own clock says so, by a new grant.

use std::sync::Arc;
use std::time::{Duration, Instant};

use supsync::api::{ApiClient, ConnectOptions};
use supsync::config::Config;
use supsync::secret::Secret;
use supsync::sim::{Profile, SimServer};
use tokio_util::sync::CancellationToken;

const SECRET: &str = "change-me";

/// Access tokens of `ttl` seconds, refresh tokens of `refresh` seconds, no idle window
/// and no session limit.
async fn sim(ttl: u64, refresh: u64) -> SimServer {
    let p = Profile::from_toml(&format!(
        "[tokens]\ndefault_ttl_secs = {ttl}\nscope_ttl_secs = {{ supplier_mgmt = {ttl} }}\n\
         idle_timeout_secs = 0\nabsolute_timeout_secs = 0\nrefresh_ttl_secs = {refresh}\n\
         issue_refresh_token = \"always\"\nrotate_refresh_tokens = true\nreuse_detection = true\n\
         [clients]\nsupplier-sync = \"{SECRET}\"\n\
         [api]\nper_record_ms = 0\nmax_concurrent = 64\nrate_limit_per_sec = 0\n\
         [faults]\nerror_rate = 0.0\ndrop_rate = 0.0\n\
         [data]\nsuppliers = 20\n"
    ))
    .unwrap();
    SimServer::start(p, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

async fn connect(sim: &SimServer, cancel: &CancellationToken) -> Arc<ApiClient> {
    let mut c = Config::default();
    c.api.base_url = sim.url();
    c.api.timeout_secs = 10;
    let opts = ConnectOptions {
        token_cache: None,
        audit_log: None,
    };
    ApiClient::connect(&c, Secret::new(SECRET), opts, cancel.child_token())
        .await
        .unwrap()
}

async fn stats(sim: &SimServer) -> serde_json::Value {
    reqwest::get(format!("{}/_sim/stats", sim.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn stat(v: &serde_json::Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no counter {key} in {v}"))
}

/// Calls the API every 50 ms for `dur`; returns the errors seen.
async fn call_for(client: &ApiClient, dur: Duration) -> Vec<String> {
    let until = Instant::now() + dur;
    let mut errors = Vec::new();
    while Instant::now() < until {
        if let Err(e) = client.pull_page(0, 5).await {
            errors.push(e.to_string());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    errors
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_shorter_than_the_access_token_causes_no_renewals() {
    // 2 s refresh tokens under 30 s access tokens, 8 s of calls: the access token never
    // needs renewing. Renewing for the refresh token's sake made a token request every
    // second (the pacing), eight or so here.
    let sim = sim(30, 2).await;
    let cancel = CancellationToken::new();
    let client = connect(&sim, &cancel).await;
    let errors = call_for(&client, Duration::from_secs(8)).await;
    let s = stats(&sim).await;
    eprintln!("stats {s}");
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(stat(&s, "token_requests"), 1, "{s}");
    assert_eq!(stat(&s, "unauthorized"), 0, "{s}");
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_token_outliving_its_refresh_token_is_renewed_by_a_new_grant() {
    // 6 s access tokens (a 2 s margin: renewed every 4 s), 1 s refresh tokens, 13 s of
    // calls: renewals at about 4, 8 and 12 s, each a new client-credentials grant since
    // the refresh token is long gone. Never a 401, never a refused refresh.
    let sim = sim(6, 1).await;
    let cancel = CancellationToken::new();
    let client = connect(&sim, &cancel).await;
    let errors = call_for(&client, Duration::from_secs(13)).await;
    let s = stats(&sim).await;
    let status = client.token_status().borrow().clone();
    eprintln!("stats {s}, status {status:?}");
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(stat(&s, "unauthorized"), 0, "{s}");
    assert_eq!(
        stat(&s, "invalid_grant"),
        0,
        "no refresh with a dead refresh token: {s}"
    );
    assert_eq!(stat(&s, "refreshes"), 0, "{s}");
    let requests = stat(&s, "token_requests");
    assert!(
        (3..=5).contains(&requests),
        "{requests} token requests: {s}"
    );
    assert_eq!(stat(&s, "sessions"), requests, "{s}");
    cancel.cancel();
}
