//! What `supsync diagnose` spends of a session account, counted at the simulator
//! (`/_sim/stats`), and what it makes of a push-only API, through the real binary:
//!
//! - `--logins N` is the most login requests the server sees from one diagnose (1 by
//!   default: one session carries the first page, the idle window, the cap and the
//!   answer to a dead session; 2 also tests whether a second login ends the first);
//! - a wrong password against a server that locks after 3 failed logins is tried once by
//!   `run` and once by `diagnose`, even with `--logins 5`: a definite refusal stops at
//!   once, and the account is never locked;
//! - an API with no listing (the collection GET answers 405) is judged by what a push
//!   needs, a GET on the push's own path taking the credential, not by the missing list;
//! - a record missing a field is advised with the `[api]` key to edit and a line to paste.

mod common;

use common::session_cli::{json, login_requests, logins_sent, supsync};

use std::path::{Path, PathBuf};

use common::{stat, text, write_csv};
use supsync::sim::{Profile, SimServer};

const USER: &str = "sync-bot";
const PASSWORD: &str = "pw-canary-7a11e3";
const WRONG: &str = "wrong-canary-3e90b4";

/// A session simulator, no faults; `api` lines go to `[api]`, `session` to `[session]`.
async fn sim(api: &str, session: &str) -> SimServer {
    let p = Profile::from_toml(&format!(
        "[api]\nmax_concurrent = 0\nrate_limit_per_sec = 0\nper_record_ms = 0\n{api}\n\
         [faults]\nerror_rate = 0.0\ndrop_rate = 0.0\n[data]\nsuppliers = 3\n\
         [session]\nenabled = true\nusers = {{ {USER} = \"{PASSWORD}\" }}\nlogin_ms = 0\n\
         {session}\n"
    ))
    .expect("test profile parses");
    SimServer::start(p, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts")
}

fn write_config(dir: &Path, url: &str, api: &str, auth: &str) -> PathBuf {
    let p = dir.join("config.toml");
    std::fs::write(
        &p,
        format!(
            "[api]\nbase_url = \"{url}\"\ntimeout_secs = 5\n{api}\n\
             [auth]\nkind = \"session\"\nmin_token_interval_ms = 20\n{auth}\n\
             [auth.session]\nusername = \"{USER}\"\nlogout_path = \"/api/v1/session/logout\"\n\
             [sync]\nsegment_size = 10\nconcurrency = 2\nmax_attempts = 3\n\
             backoff_initial_ms = 20\nbackoff_max_ms = 200\n"
        ),
    )
    .unwrap();
    p
}

/// The default and `--logins 2` against servers with no lockout: the server sees exactly
/// the logins allowed, and diagnose reports exactly those. With one, the second-login
/// test is skipped and says which flag buys it; every session is logged out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logins_at_the_server_are_the_ones_allowed() {
    let profile = "idle_secs = 30\ncap_secs = 0\nsingle_session = true";
    let (one, two) = tokio::join!(sim("", profile), sim("", profile));
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (c1, c2) = (
        write_config(d1.path(), &one.url(), "", ""),
        write_config(d2.path(), &two.url(), "", ""),
    );
    let (o1, o2) = tokio::join!(
        supsync(
            d1.path(),
            &c1,
            PASSWORD,
            &["diagnose", "--json", "--wait-secs", "1"]
        ),
        supsync(
            d2.path(),
            &c2,
            PASSWORD,
            &["diagnose", "--json", "--wait-secs", "1", "--logins", "2"]
        ),
    );
    assert_eq!(o1.status.code(), Some(0), "{}", text(&o1));
    assert_eq!(o2.status.code(), Some(0), "{}", text(&o2));
    for o in [&o1, &o2] {
        assert!(!text(o).contains(PASSWORD), "{}", text(o));
    }

    let (j, st) = (json(&o1), one.stats());
    assert_eq!(login_requests(&st), 1, "{st}");
    assert_eq!(logins_sent(&j), 1, "{:#}", j["findings"]["session"]);
    let second = &j["findings"]["session"]["second_login"];
    assert!(
        second
            .to_string()
            .contains("--logins 2 tests whether a second login"),
        "{second:#}"
    );
    // The first page was read on the one session (the run's own client read it).
    assert_eq!(j["findings"]["mapping"]["first_page"]["ok"], true);
    assert_eq!(stat(&st, "session_logouts"), 1, "{st}");

    let (j, st) = (json(&o2), two.stats());
    assert_eq!(login_requests(&st), 2, "{st}");
    assert_eq!(logins_sent(&j), 2, "{:#}", j["findings"]["session"]);
    assert_eq!(j["verdict"]["single_session"], true, "{:#}", j["verdict"]);
    assert_eq!(stat(&st, "sessions_ended_by_newer_login"), 1, "{st}");
}

/// A wrong password against a server that locks after 3 failed logins: `run` makes one
/// login and stops; `diagnose --logins 5` (its own state, so no budget file shared with
/// the run) makes one too and stops at the definite refusal. Two failures in all: the
/// account is never locked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_tried_once_by_run_and_by_diagnose_even_with_more_logins() {
    let server = sim("", "idle_secs = 30\nlockout_after = 3\nlockout_secs = 60").await;
    let (dr, dd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cr = write_config(dr.path(), &server.url(), "", "max_failed_logins = 3");
    let src = dr.path().join("s.csv");
    write_csv(&src, 20, &[]);
    let o = supsync(
        dr.path(),
        &cr,
        WRONG,
        &[
            "run",
            "--headless",
            "--run-id",
            "wrong",
            "--source",
            src.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert_eq!(login_requests(&server.stats()), 1, "run");

    let cd = write_config(dd.path(), &server.url(), "", "max_failed_logins = 3");
    let o = supsync(
        dd.path(),
        &cd,
        WRONG,
        &["diagnose", "--json", "--logins", "5"],
    )
    .await;
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    let j = json(&o);
    assert_eq!(logins_sent(&j), 1, "{:#}", j["findings"]["session"]);
    assert_eq!(j["verdict"]["killer"], "session_login");
    let st = server.stats();
    assert_eq!(login_requests(&st), 2, "run 1 + diagnose 1: {st}");
    assert_eq!(stat(&st, "session_lockouts"), 0, "{st}");
    let all = text(&o);
    assert!(!all.contains("before the server locks"), "{all}");
    assert!(!all.contains(WRONG), "{all}");
}

/// A push-only API (`data_rest` per-record PUT; the collection GET answers 405): the
/// verdict is not killed by the listing it does not have. The push's own path is read
/// once for a record no one has (a 404 that takes the session), and the finding says a
/// pull needs a listing. The same server with a listing reads its first page as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_only_api_is_judged_by_what_a_push_needs() {
    let api = "style = \"data_rest\"";
    let no_listing = format!("{api}\nno_listing = true");
    let (push_only, listing) = tokio::join!(
        sim(&no_listing, "idle_secs = 30\ncap_secs = 0"),
        sim(api, "idle_secs = 30\ncap_secs = 0"),
    );
    let (dp, dl) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let preset = "preset = \"data_rest\"";
    let (cp, cl) = (
        write_config(dp.path(), &push_only.url(), preset, ""),
        write_config(dl.path(), &listing.url(), preset, ""),
    );
    let args = ["diagnose", "--json", "--wait-secs", "1"];
    let (op, ol) = tokio::join!(
        supsync(dp.path(), &cp, PASSWORD, &args),
        supsync(dl.path(), &cl, PASSWORD, &args),
    );

    let j = json(&op);
    assert_eq!(op.status.code(), Some(0), "{}", text(&op));
    assert_ne!(j["verdict"]["killer"], "api_mapping", "{:#}", j["verdict"]);
    assert!(
        !j["verdict"]
            .to_string()
            .contains("does not fit the API mapping"),
        "{:#}",
        j["verdict"]
    );
    let read = &j["findings"]["mapping"]["first_page"];
    assert_eq!(read["ok"], true, "{read:#}");
    let said = read["no_listing"].as_str().unwrap_or_default();
    assert!(said.contains("answered 405"), "{read:#}");
    assert!(said.contains("the push's own path"), "{read:#}");
    assert!(said.contains("A pull needs a listing"), "{read:#}");
    let st = push_only.stats();
    assert_eq!(stat(&st, "list_refused"), 1, "{st}");
    assert_eq!(stat(&st, "item_reads"), 1, "{st}");
    assert_eq!(login_requests(&st), 1, "{st}");

    let j = json(&ol);
    assert_eq!(ol.status.code(), Some(0), "{}", text(&ol));
    let read = &j["findings"]["mapping"]["first_page"];
    assert_eq!(read["ok"], true, "{read:#}");
    assert!(read.get("no_listing").is_none(), "{read:#}");
    assert_eq!(stat(&listing.stats(), "item_reads"), 0);
}

/// A field mapping that looks for a name the server does not send: the first page does
/// not fit, and the fix names the `[api]` key to edit with a line to paste, and that a
/// few records lacking it would be the data, not the mapping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_missing_a_field_is_advised_with_the_key_to_edit() {
    let server = sim("", "idle_secs = 30\ncap_secs = 0").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &server.url(),
        "fields = [\"contact_email=mail\"]",
        "",
    );
    let o = supsync(
        dir.path(),
        &cfg,
        PASSWORD,
        &["diagnose", "--json", "--wait-secs", "1"],
    )
    .await;
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let j = json(&o);
    assert_eq!(j["verdict"]["killer"], "api_mapping", "{:#}", j["verdict"]);
    assert_eq!(j["findings"]["mapping"]["first_page"]["key"], "fields");
    let changes = j["verdict"]["changes"].to_string();
    assert!(
        changes.contains(r#"under the name `mail` that api.fields gives it"#),
        "{changes}"
    );
    assert!(
        changes.contains(r#"`fields = [\"contact_email=<the server's name>\"]`"#),
        "{changes}"
    );
    assert_eq!(login_requests(&server.stats()), 1);
}

/// The sample push-only profile (`assets/sim-push-only.toml`) with an OAuth2 client: the
/// token probes run as ever, and the API is judged by the GET on a record's own path,
/// exit 0, never by the 405 of the listing it does not have.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_push_only_profile_is_diagnosed_by_its_push_path() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sim-push-only.toml");
    let profile = Profile::from_toml(&std::fs::read_to_string(&path).unwrap())
        .expect("the sample profile parses");
    assert!(profile.api.no_listing);
    let server = SimServer::start(profile, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[api]\nbase_url = \"{}\"\npreset = \"data_rest\"\n",
            server.url()
        ),
    )
    .unwrap();
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_supsync"));
    c.arg("--config")
        .arg(&cfg)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .args(["diagnose", "--json", "--wait-secs", "1"])
        .env("SUPSYNC_CLIENT_SECRET", "change-me")
        .env_remove("SUPSYNC_SESSION_PASSWORD")
        .env_remove("SUPSYNC_CACHE_KEY")
        .env_remove("RUST_LOG")
        .env_remove("SUPSYNC_CONFIG")
        .stdin(std::process::Stdio::null());
    let o = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j = json(&o);
    let read = &j["findings"]["mapping"]["first_page"];
    assert_eq!(read["ok"], true, "{read:#}");
    assert!(
        read["no_listing"]
            .as_str()
            .unwrap_or_default()
            .contains("/api/v2/suppliers/{supplier_id} takes the credential"),
        "{read:#}"
    );
    let st = server.stats();
    assert_eq!(stat(&st, "list_refused"), 1, "{st}");
    assert_eq!(stat(&st, "item_reads"), 1, "{st}");
}
