//! `supsync diagnose` with `auth.kind = "token_login"` through the real binary against the
//! simulator's Directus-shaped token login (docs/API.md §8): the access token's lifetime
//! from the answer (with its unit) or the JWT's `exp`, else the first expired answer named
//! as the clock with the line that fixes it; the refresh, its rotation and reuse
//! detection; a wrong password refused after exactly one login. Tokens live 3 s; counts
//! come from `/_sim/stats`.

mod common;

use std::path::{Path, PathBuf};

use common::{stat, text};
use supsync::sim::{Profile, SimServer};

const USER: &str = "sync-bot@example.com";
const PASSWORD: &str = "pw-canary-5be1c2";

/// 3 s access tokens, rotated refresh tokens with reuse detection; `extra` lines in
/// `[token_login]`, `quirks` as the token quirks.
async fn sim(extra: &str, quirks: &str) -> SimServer {
    let p = Profile::from_toml(&format!(
        "[tokens]\ndefault_ttl_secs = 3\nscope_ttl_secs = {{}}\nidle_timeout_secs = 0\n\
         absolute_timeout_secs = 0\nrefresh_ttl_secs = 600\nissue_refresh_token = \"always\"\n\
         rotate_refresh_tokens = true\nreuse_detection = true\ntoken_quirks = [{quirks}]\n\
         [api]\nexpiry_header = false\nper_record_ms = 0\nmax_concurrent = 0\n\
         [faults]\nerror_rate = 0.0\ndrop_rate = 0.0\n[data]\nsuppliers = 0\n\
         [token_login]\nenabled = true\nusers = {{ \"{USER}\" = \"{PASSWORD}\" }}\n{extra}\n"
    ))
    .expect("test profile parses");
    SimServer::start(p, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts")
}

/// The README's Directus config (only the user; no hand-set lifetime), with a logout.
fn config(dir: &Path, url: &str) -> PathBuf {
    let p = dir.join("config.toml");
    std::fs::write(
        &p,
        format!(
            "[api]\nbase_url = \"{url}\"\ntimeout_secs = 5\n\
             [auth]\nkind = \"token_login\"\n\
             [auth.token_login]\nusername = \"{USER}\"\nlogout_path = \"/auth/logout\"\n"
        ),
    )
    .unwrap();
    p
}

/// `diagnose --wait-secs 8 --reuse-check` with `password`; `json`: the report as JSON.
async fn diagnose(d: &Path, cfg: &Path, password: &str, json: bool) -> std::process::Output {
    diagnose_with(d, cfg, password, json, &["--reuse-check"]).await
}

async fn diagnose_with(
    d: &Path,
    cfg: &Path,
    password: &str,
    json: bool,
    more: &[&str],
) -> std::process::Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_supsync"));
    c.arg("--config")
        .arg(cfg)
        .arg("--state-dir")
        .arg(d.join("state"))
        .args(["diagnose", "--wait-secs", "8"])
        .args(more)
        .args(json.then_some("--json"))
        .env("SUPSYNC_TOKEN_LOGIN_PASSWORD", password)
        .env_remove("SUPSYNC_CLIENT_SECRET")
        .env_remove("SUPSYNC_SESSION_PASSWORD")
        .env_remove("RUST_LOG")
        .env_remove("SUPSYNC_CONFIG")
        .stdin(std::process::Stdio::null());
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

/// The JSON report of a diagnose that exits `code`, and its stats.
async fn report(extra: &str, quirks: &str, code: i32) -> (serde_json::Value, serde_json::Value) {
    let sim = sim(extra, quirks).await;
    let dir = tempfile::tempdir().unwrap();
    let d: PathBuf = dir.path().into();
    let cfg = config(&d, &sim.url());
    let o = diagnose(&d, &cfg, PASSWORD, true).await;
    assert_eq!(o.status.code(), Some(code), "{}", text(&o));
    assert!(!text(&o).contains(PASSWORD));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    let st = sim.stats();
    assert_eq!(stat(&st, "token_logins"), 1, "one login: {st}");
    (v, st)
}

/// The age at which the watch saw the token refused.
fn died(v: &serde_json::Value) -> f64 {
    let d = v["verdict"]["died_at_secs"].as_f64().expect("a death seen");
    assert!((3.0..4.5).contains(&d), "3 s tokens died at {d}");
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lifetime_stated_in_ms_is_named_and_the_refresh_rotates() {
    let (v, st) = report("state_refresh_lifetime = true", "", 0).await;
    let f = &v["findings"];
    assert_eq!(f["stated_lifetime_secs"].as_f64(), Some(3.0), "{v}");
    assert_eq!(f["refresh_lifetime_secs"].as_u64(), Some(600), "{v}");
    died(&v);
    let facts = v["verdict"]["facts"].to_string();
    assert!(
        facts.contains("at /data/expires: 3000 ms (3.0 s)"),
        "{facts}"
    );
    assert!(facts.contains("The refresh token lives 600 s"), "{facts}");
    assert!(facts.contains("Token expired."), "{facts}");
    // The refresh works and rotates; the spent token presented again is refused and
    // revokes the chain (reuse detection).
    assert_eq!(v["verdict"]["rotates"], true, "{v}");
    assert_eq!(f["reuse"]["refused"], true, "{v}");
    assert_eq!(f["reuse"]["chain_revoked"], true, "{v}");
    assert_eq!(stat(&st, "refreshes"), 1, "{st}");
    assert_eq!(stat(&st, "refresh_reuse"), 1, "{st}");
    assert_eq!(stat(&st, "token_logouts"), 1, "{st}");
    assert_eq!(v["verdict"]["changes"].as_array().map(Vec::len), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwt_exp_stands_in_when_the_answer_states_no_lifetime() {
    let (v, _) = report("lifetime_in = \"none\"", "", 0).await;
    let f = &v["findings"];
    assert!(f["stated_lifetime_secs"].is_null(), "{v}");
    let jwt = f["jwt_lifetime_secs"].as_f64().expect("a JWT exp");
    assert!((2.0..=3.0).contains(&jwt), "{jwt}");
    assert!(
        f["planned_from"].as_str().unwrap().contains("JWT exp"),
        "{v}"
    );
    died(&v);
    let facts = v["verdict"]["facts"].to_string();
    assert!(facts.contains("a JWT whose exp is"), "{facts}");
    assert!(
        facts.contains("states no lifetime at /data/expires"),
        "{facts}"
    );
}

/// Nothing states the lifetime: the first 401 is the clock, named with the config line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_stated_lifetime_the_first_401_names_the_clock_and_the_fix() {
    let sim = sim("lifetime_in = \"none\"", "\"opaque_no_expires_in\"").await;
    let dir = tempfile::tempdir().unwrap();
    let d: PathBuf = dir.path().into();
    let cfg = config(&d, &sim.url());
    let o = diagnose(&d, &cfg, PASSWORD, false).await;
    let all = text(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    assert!(all.contains("The access token is no JWT with exp"), "{all}");
    assert!(all.contains("the clock that ends it"), "{all}");
    assert!(all.contains("401"), "{all}");
    assert!(
        all.contains("Set auth.token_login.lifetime_secs = 3"),
        "{all}"
    );
    assert!(!all.contains(PASSWORD));
    assert_eq!(stat(&sim.stats(), "token_logins"), 1);
    // The line it names is a key the config takes.
    let body = std::fs::read_to_string(&cfg).unwrap() + "lifetime_secs = 3\n";
    std::fs::write(&cfg, body).unwrap();
    let mut check = std::process::Command::new(env!("CARGO_BIN_EXE_supsync"));
    check
        .arg("--config")
        .arg(&cfg)
        .args(["config", "--check"])
        .env("SUPSYNC_TOKEN_LOGIN_PASSWORD", PASSWORD)
        .env_remove("SUPSYNC_CONFIG");
    let o = check.output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_one_login_and_exit_4() {
    let sim = sim("", "").await;
    let dir = tempfile::tempdir().unwrap();
    let d: PathBuf = dir.path().into();
    let cfg = config(&d, &sim.url());
    let wrong = "wrong-pw-canary-9e77";
    let o = diagnose(&d, &cfg, wrong, false).await;
    let all = text(&o);
    assert_eq!(o.status.code(), Some(4), "{all}");
    assert!(!all.contains(wrong), "{all}");
    assert!(all.contains("no token with this configuration"), "{all}");
    assert!(all.contains("Invalid user credentials"), "{all}");
    assert!(all.contains("does not try again"), "{all}");
    assert!(all.contains("SUPSYNC_TOKEN_LOGIN_PASSWORD"), "{all}");
    let st = sim.stats();
    assert_eq!(stat(&st, "token_login_failures"), 1, "{st}");
    assert_eq!(stat(&st, "token_logins"), 0, "{st}");
    // A second diagnose with the same wrong password sends no login at all: the refusal
    // said the password is wrong, and the budget file a run keeps remembers it.
    let o = diagnose(&d, &cfg, wrong, false).await;
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert_eq!(stat(&sim.stats(), "token_login_failures"), 1);
}

/// Without `--reuse-check` the spent refresh token is never presented again: a server that
/// logs reuse as a security event sees none, and the report says what was not tried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reuse_check_is_made_only_when_asked() {
    let sim = sim("", "").await;
    let dir = tempfile::tempdir().unwrap();
    let d: PathBuf = dir.path().into();
    let cfg = config(&d, &sim.url());
    let o = diagnose_with(&d, &cfg, PASSWORD, true, &[]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    assert_eq!(v["verdict"]["rotates"], true, "{v}");
    assert!(v["findings"]["reuse"].is_null(), "{v}");
    assert!(
        v["verdict"]["facts"].to_string().contains("--reuse-check"),
        "{v}"
    );
    let st = sim.stats();
    assert_eq!(stat(&st, "refreshes"), 1, "{st}");
    assert_eq!(stat(&st, "refresh_reuse"), 0, "{st}");
}
