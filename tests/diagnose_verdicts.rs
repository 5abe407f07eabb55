//! `supsync diagnose` through the real binary against session servers whose truth is set
//! in their profile before the run: each case asserts the clock that kills (or comes
//! first), its fix, the exit code and the logins the server saw, so a verdict can only
//! pass by agreeing with the server it was run against.
//!
//! - a 6 s cap that answers in a vendor's words naming no time ("session expired
//!   (absolute)") and sends no `X-Token-Expires-In`: the cap is named from when the busy
//!   session died, never filed as "ended for another reason";
//! - a dead session answered 200 with an error body and no `auth.expired_when` rule: the
//!   calls fail, so exit 3 with the rule that matches;
//! - a wrong password against a server that locks after 3 failures: exactly one login;
//! - a 2 s idle window answered "session inactive" (no window named, no header): reported
//!   as at most the quiet that killed (a range from the quiet that survived, when whole
//!   seconds of it were measured), never advised at or above it.
//!
//! Clocks are short (a 6 s cap watched for 12 s; calls every second keep it busy); the
//! cases run side by side, each against a simulator of its own.

mod common;

use common::session_cli::{json, login_requests, logins_sent, supsync};

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{stat, stats, text};
use serde_json::Value;
use supsync::sim::{Profile, SimServer};

const USER: &str = "sync-bot";
const PASSWORD: &str = "pw-canary-5be20a";
const WRONG: &str = "wrong-canary-0c7d31";

/// A session simulator, no faults; `extra` is added after `[session]`'s own lines and may
/// open further tables.
async fn sim(session: &str, extra: &str) -> SimServer {
    let p = Profile::from_toml(&format!(
        "[api]\nmax_concurrent = 0\nrate_limit_per_sec = 0\n{extra}\n\
         [faults]\nerror_rate = 0.0\ndrop_rate = 0.0\n[data]\nsuppliers = 3\n\
         [session]\nenabled = true\nusers = {{ {USER} = \"{PASSWORD}\" }}\nlogin_ms = 0\n\
         {session}\n"
    ))
    .expect("test profile parses");
    SimServer::start(p, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts")
}

fn write_config(dir: &Path, url: &str, auth: &str) -> PathBuf {
    let p = dir.join("config.toml");
    std::fs::write(
        &p,
        format!(
            "[api]\nbase_url = \"{url}\"\ntimeout_secs = 5\n\
             [auth]\nkind = \"session\"\nmin_token_interval_ms = 20\n{auth}\n\
             [auth.session]\nusername = \"{USER}\"\nlogout_path = \"/api/v1/session/logout\"\n"
        ),
    )
    .unwrap();
    p
}

async fn diagnose(dir: &Path, cfg: &Path, password: &str, args: &[&str]) -> Output {
    let all: Vec<&str> = ["diagnose", "--json"].iter().chain(args).copied().collect();
    supsync(dir, cfg, password, &all).await
}

fn no_verdict_check_conflict(j: &Value) {
    assert_eq!(
        j["verdict"]["self_check_failed"], false,
        "{:#}",
        j["verdict"]
    );
}

/// Every change the verdict advises, joined.
fn changes(j: &Value) -> String {
    j["verdict"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdicts_agree_with_the_server_they_were_run_against() {
    let cap = "idle_secs = 30\ncap_secs = 6\ncap_text = \"session expired (absolute)\"\n\
               single_session = true";
    let body = "idle_secs = 30\ncap_secs = 0\nsingle_session = true";
    let lock = "idle_secs = 30\ncap_secs = 0\nlockout_after = 3\nlockout_secs = 60";
    let idle = "idle_secs = 2\nidle_text = \"session inactive\"\ncap_secs = 0\n\
                single_session = true";
    let (cap_sim, body_sim, lock_sim, idle_sim) = tokio::join!(
        sim(cap, "expiry_header = false"),
        sim(body, "[tokens]\nexpiry_signal = \"200-body\""),
        sim(lock, ""),
        sim(idle, "expiry_header = false"),
    );
    let (dc, db, dl, di) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let (cc, cb, cl, ci) = (
        write_config(dc.path(), &cap_sim.url(), ""),
        write_config(db.path(), &body_sim.url(), ""),
        write_config(dl.path(), &lock_sim.url(), "max_failed_logins = 3"),
        write_config(di.path(), &idle_sim.url(), ""),
    );
    let started = std::time::Instant::now();
    let (oc, ob, ol, oi) = tokio::join!(
        diagnose(dc.path(), &cc, PASSWORD, &["--wait-secs", "12"]),
        diagnose(db.path(), &cb, PASSWORD, &["--wait-secs", "2"]),
        diagnose(dl.path(), &cl, WRONG, &[]),
        diagnose(di.path(), &ci, PASSWORD, &["--wait-secs", "4"]),
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(90),
        "{:?}",
        started.elapsed()
    );
    for o in [&oc, &ob, &ol, &oi] {
        let out = text(o);
        assert!(!out.contains(PASSWORD) && !out.contains(WRONG), "{out}");
    }

    // The 6 s cap, in words that name no time and with no header to read it from: named
    // from the busy session's death, the killer-or-first clock, and advised as the limit.
    let j = json(&oc);
    assert_eq!(oc.status.code(), Some(0), "{}", text(&oc));
    no_verdict_check_conflict(&j);
    let first = &j["verdict"]["clocks"][0];
    assert_eq!(first["kind"], "session", "{:#}", j["verdict"]);
    assert_eq!(first["secs"], 6, "{first:#}");
    assert_eq!(j["verdict"]["killer"], "session");
    assert!(
        changes(&j).contains("auth.session_limit_secs = 6"),
        "{}",
        changes(&j)
    );
    let reasons = j["verdict"]["reasons"].to_string();
    assert!(!reasons.contains("for another reason"), "{reasons}");
    assert_eq!(
        login_requests(&stats(&cap_sim.url()).await),
        logins_sent(&j),
        "the logins diagnose reports are the ones the server saw"
    );

    // A dead session answered 200 with an error and no rule: the calls fail, so the sync
    // cannot be kept alive (exit 3), and the fix is the rule that matches the answer.
    let j = json(&ob);
    assert_eq!(ob.status.code(), Some(3), "{}", text(&ob));
    no_verdict_check_conflict(&j);
    assert_eq!(
        j["verdict"]["killer"], "expiry_signal",
        "{:#}",
        j["verdict"]
    );
    let rule = j["verdict"]["expiry_signal"]["rule"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(rule.starts_with("200 /error"), "{rule}");
    assert!(
        changes(&j).contains(&format!("auth.expired_when = [\"{rule}\"]")),
        "{}",
        changes(&j)
    );
    assert_eq!(
        login_requests(&stats(&body_sim.url()).await),
        logins_sent(&j)
    );

    // A wrong password against a lock after 3: one login, no lock, no claim about one.
    assert_eq!(ol.status.code(), Some(4), "{}", text(&ol));
    let st = stats(&lock_sim.url()).await;
    assert_eq!(login_requests(&st), 1, "{st}");
    assert_eq!(stat(&st, "session_lockouts"), 0, "{st}");
    let j = json(&ol);
    assert_eq!(logins_sent(&j), 1);
    assert_eq!(j["verdict"]["killer"], "session_login");

    // The 2 s idle window, named by no words and no header: the quiet that killed (the
    // 3 s idle probe) is the top of a range whose bottom is the quiet that survived; the
    // advice stays below the top (and never exceeds the bottom when one is known).
    let j = json(&oi);
    no_verdict_check_conflict(&j);
    let idle = j["verdict"]["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "idle")
        .unwrap_or_else(|| panic!("no idle clock: {:#}", j["verdict"]))
        .clone();
    let what = idle["what"].as_str().unwrap();
    // The calls keeping a session alive came under a second apart (a quarter of the 3 s
    // bound), so in whole seconds no quiet that survived is known: "≤ 3 s", worked with
    // as 2.
    assert!(what.starts_with("idle window ≤ 3 s"), "{what}");
    let w = j["verdict"]["idle_window_secs"].as_u64().unwrap();
    assert!(w <= 2, "{w}");
    let advised = changes(&j);
    assert!(
        advised.contains(&format!("auth.idle_timeout_secs = {w} ")),
        "{advised}"
    );
    assert_eq!(
        login_requests(&stats(&idle_sim.url()).await),
        logins_sent(&j)
    );
}
