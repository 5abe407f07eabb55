//! `supsync diagnose` with `auth.kind = "session"` through the real binary against the
//! simulator's session logins (docs/API.md §7): it names the idle window, the cap and
//! whether a second login ends the first, with the settings that fit; a wrong password
//! stops it after `auth.max_failed_logins` logins and is counted in the same budget file a
//! run reads, so neither a second diagnose nor a run tries again; a running sync's session
//! found in the token cache is used as it is, never ended by a second login; a dead one
//! there is forgotten. No password or session id reaches any output or file.
//!
//! Clocks are short (a 4 s idle window, an 8 s cap): the calls that keep a session alive
//! come every second, 4x inside the window, and the watch has twice the time it needs.

mod common;

use common::session_cli::{json, login_requests, supsync};

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{stat, text};
use serde_json::Value;
use supsync::api::{ApiClient, ConnectOptions};
use supsync::auth::cache::TokenCache;
use supsync::config::{AuthKind, Config};
use supsync::secret::Secret;
use supsync::sim::{Profile, SimServer};
use tokio_util::sync::CancellationToken;

const USER: &str = "sync-bot";
/// Recognisable, so the checks find it anywhere it leaks.
const PASSWORD: &str = "pw-canary-7d21c4";
const WRONG: &str = "wrong-canary-a93e0f";
const LOGOUT: &str = "/api/v1/session/logout";

/// A simulator with sessions on (`session` lines added to `[session]`), no faults.
async fn sim(session: &str) -> SimServer {
    let p = Profile::from_toml(&format!(
        "[api]\nmax_concurrent = 0\nrate_limit_per_sec = 0\n\
         [faults]\nerror_rate = 0.0\ndrop_rate = 0.0\n[data]\nsuppliers = 3\n\
         [session]\nenabled = true\nusers = {{ {USER} = \"{PASSWORD}\" }}\nlogin_ms = 0\n\
         {session}\n"
    ))
    .expect("test profile parses");
    SimServer::start(p, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts")
}

/// A session config file in `dir` (logout configured, the default encrypted cache under
/// the state dir, the default 60 s keep-alive), with `auth` lines added.
fn write_config(dir: &Path, url: &str, auth: &str) -> PathBuf {
    write_config_with(dir, url, auth, "")
}

/// [`write_config`] with `session` lines added to `[auth.session]`.
fn write_config_with(dir: &Path, url: &str, auth: &str, session: &str) -> PathBuf {
    let p = dir.join("config.toml");
    std::fs::write(
        &p,
        format!(
            "[api]\nbase_url = \"{url}\"\ntimeout_secs = 5\n\
             [auth]\nkind = \"session\"\nmin_token_interval_ms = 20\n{auth}\n\
             [auth.session]\nusername = \"{USER}\"\nlogout_path = \"{LOGOUT}\"\n{session}\n\
             [sync]\nsegment_size = 10\nconcurrency = 1\nmax_attempts = 3\n\
             backoff_initial_ms = 20\nbackoff_max_ms = 100\nmax_retry_after_secs = 1\n"
        ),
    )
    .unwrap();
    p
}

/// The same configuration for a client in this process.
fn config(url: &str) -> Config {
    let mut c = Config::default();
    c.auth.kind = AuthKind::Session;
    c.api.base_url = url.to_string();
    c.api.timeout_secs = 5;
    c.auth.keepalive_secs = 1;
    c.auth.min_token_interval_ms = 20;
    c.auth.session.username = USER.into();
    c.auth.session.logout_path = LOGOUT.into();
    c
}

/// The output with its lines rejoined (the text report wraps at 100 columns).
fn flat(o: &Output) -> String {
    text(o).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The findings whose claim is of `kind`.
fn findings<'a>(j: &'a Value, kind: &str) -> Vec<&'a Value> {
    j["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["claim"]["kind"] == kind)
        .collect()
}

fn finding<'a>(j: &'a Value, kind: &str) -> &'a Value {
    findings(j, kind)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no {kind} finding: {j:#}"))
}

/// Every verdict line of `section` (changes, reasons, unknowns) that cites `id`.
fn lines_citing(j: &Value, section: &str, id: &Value) -> Vec<String> {
    j["verdict"][section]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["cites"].as_array().unwrap().contains(id))
        .map(|l| l["text"].as_str().unwrap().to_string())
        .collect()
}

fn no_verdict_check_conflict(j: &Value) {
    let conflicts = j["verdict"]["conflicts"].as_array().unwrap();
    assert!(
        !conflicts
            .iter()
            .any(|c| c["text"].as_str().unwrap().starts_with("verdict check")),
        "{conflicts:#?}"
    );
}

/// No password, and nothing shaped like a session id (43 URL-safe base64 characters), in
/// `out`; session fingerprints are there instead.
fn no_secrets(out: &str) {
    for secret in [PASSWORD, WRONG] {
        assert!(!out.contains(secret), "the password leaked: {out}");
    }
    let long = out
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .find(|w| w.len() >= 40);
    assert!(long.is_none(), "something like a session id: {long:?}");
}

/// Every file under `dir`, read as text: none holds the password or a session id in the
/// clear (the token cache is encrypted).
fn no_secrets_in_files(dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                let body = String::from_utf8_lossy(&bytes);
                for secret in [PASSWORD, WRONG] {
                    assert!(!body.contains(secret), "{} holds the password", p.display());
                }
            }
        }
    }
}

/// A 4 s idle window, an 8 s cap, one session per user: diagnose reads the window from
/// `X-Token-Expires-In` sliding back up, watches a session kept alive stop sliding at
/// 8 s and die there ("Session expired after 0m 08s"), sees a second login end the first
/// ("Session ended by a newer login"), and advises the settings that fit. Text and JSON
/// each against a simulator of their own (a login of one would end the other's session).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_window_cap_and_one_session_per_user_are_named() {
    let profile = "idle_secs = 4\ncap_secs = 8\nsingle_session = true\nlockout_after = 5";
    let (a, b) = tokio::join!(sim(profile), sim(profile));
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (ca, cb) = (
        write_config(da.path(), &a.url(), ""),
        write_config(db.path(), &b.url(), ""),
    );
    // Two logins: the second tells whether the server keeps one session per user.
    let args = ["diagnose", "--wait-secs", "20", "--logins", "2"];
    let with_json = [&args[..], &["--json"]].concat();
    let (o, t) = tokio::join!(
        supsync(da.path(), &ca, PASSWORD, &with_json),
        supsync(db.path(), &cb, PASSWORD, &args)
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(t.status.code(), Some(0), "{}", text(&t));
    let j = json(&o);
    no_verdict_check_conflict(&j);
    let v = &j["verdict"];
    assert_eq!(v["idle_window_secs"], 4, "{v:#}");
    assert_eq!(v["session_secs"], 8, "{v:#}");
    assert_eq!(v["single_session"], true, "{v:#}");
    assert_eq!(v["renewal"], "session_login");

    // The idle window from the header sliding back up; the cap from the header that
    // stopped sliding, and from the server's words when it ended the session.
    let idle = finding(&j, "idle_window");
    assert_eq!(idle["source"], "expiry_header", "{idle:#}");
    let caps = findings(&j, "session_end");
    assert!(
        caps.iter().any(|e| e["source"] == "expiry_header"),
        "{caps:#?}"
    );
    let stated = caps
        .iter()
        .find(|e| e["source"] == "api_refusal")
        .unwrap_or_else(|| panic!("{caps:#?}"));
    assert!(
        stated["says"]
            .as_str()
            .unwrap()
            .contains("Session expired after 0m 08s"),
        "{stated:#}"
    );
    let single = finding(&j, "single_session");
    assert_eq!(single["claim"]["single"], true);
    assert!(
        single["says"]
            .as_str()
            .unwrap()
            .contains("Session ended by a newer login"),
        "{single:#}"
    );
    let changes = lines_citing(&j, "changes", &single["id"]);
    assert!(
        changes
            .iter()
            .any(|l| l.contains("The server allows one session per user")
                && l.contains("Do not run two supsync processes with different caches")),
        "{changes:?}"
    );
    let all_changes = v["changes"].to_string();
    assert!(
        all_changes.contains("auth.idle_timeout_secs = 4"),
        "{all_changes}"
    );
    assert!(
        all_changes.contains("auth.session_limit_secs = 8"),
        "{all_changes}"
    );
    let signal = finding(&j, "expiry_signal");
    assert_eq!(signal["claim"]["form"], "status_401", "{signal:#}");
    assert_eq!(v["expiry_signal"]["handled"], true);

    // The text names the same, every line citing findings.
    let out = flat(&t);
    for words in [
        "slides back up, an idle window of about 4 s",
        "session cap 8 s (from the login, kept alive or not)",
        "Set auth.session_limit_secs = 8",
        "the second login ended the first session",
        "The server allows one session per user",
        "A dead session is answered 401: supsync logs in again and replays the call",
    ] {
        assert!(out.contains(words), "{words:?} missing:\n{out}");
    }

    // Logins one at a time under the lock, none refused; every session logged out; the
    // one second login ended one session. No secret anywhere.
    for sim in [&a, &b] {
        let st = sim.stats();
        assert_eq!(stat(&st, "session_login_failures"), 0, "{st}");
        assert_eq!(stat(&st, "session_concurrent_logins_max"), 1, "{st}");
        assert_eq!(stat(&st, "sessions_ended_by_newer_login"), 1, "{st}");
        assert_eq!(
            stat(&st, "session_logouts"),
            stat(&st, "session_logins"),
            "{st}"
        );
    }
    for o in [&o, &t] {
        no_secrets(&text(o));
    }
    no_secrets_in_files(da.path());
}

/// Several sessions per user: the second login leaves the first alive, which is then left
/// unused until its idle window ends it in the server's words; no warning about running
/// two processes, and the cap, which this server does not have, is reported as not seen.
/// The id comes in a header and goes back in a cookie, as configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_with_several_sessions_per_user_is_said_to_allow_them() {
    let server = sim(
        "idle_secs = 4\ncap_secs = 0\nsingle_session = false\nid_in = \"header\"\n\
         carry = \"cookie\"",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config_with(
        dir.path(),
        &server.url(),
        "",
        "session_from = \"header:X-Session-Id\"\nsend_as = \"cookie:SESSIONID\"",
    );
    let o = supsync(
        dir.path(),
        &cfg,
        PASSWORD,
        &["diagnose", "--json", "--wait-secs", "8", "--logins", "2"],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j = json(&o);
    no_verdict_check_conflict(&j);
    assert_eq!(j["verdict"]["single_session"], false);
    let single = finding(&j, "single_session");
    assert_eq!(single["claim"]["single"], false);
    assert!(
        single["says"]
            .as_str()
            .unwrap()
            .contains("both sessions live"),
        "{single:#}"
    );
    let reasons = lines_citing(&j, "reasons", &single["id"]);
    assert!(
        reasons
            .iter()
            .any(|l| l.contains("the server allows several sessions per user")),
        "{reasons:?}"
    );
    assert!(
        !j["verdict"]["changes"]
            .to_string()
            .contains("one session per user"),
        "{:#}",
        j["verdict"]["changes"]
    );
    // The first session, left alone, died by its idle window.
    let stated = findings(&j, "idle_window")
        .into_iter()
        .find(|e| e["source"] == "api_refusal")
        .unwrap_or_else(|| panic!("{:#}", j["evidence"]));
    assert!(
        stated["says"]
            .as_str()
            .unwrap()
            .contains("(idle timeout 4s)"),
        "{stated:#}"
    );
    assert_eq!(stated["claim"]["secs"], 4);
    let no_cap = finding(&j, "no_cap_within");
    assert!(
        !lines_citing(&j, "unknowns", &no_cap["id"]).is_empty(),
        "{:#}",
        j["verdict"]["unknowns"]
    );
    let st = server.stats();
    assert_eq!(stat(&st, "sessions_ended_by_newer_login"), 0, "{st}");
    assert_eq!(stat(&st, "session_live_max"), 2, "{st}");
    no_secrets(&text(&o));
}

const DENIED: &str = "the server says the user name or password is wrong, so supsync tries no \
                      further login with this password";

/// A wrong password, answered 401 "wrong user name or password" (the server would lock
/// at five): one login, exit 4 with the words `run` stops with, and no claim about when
/// the server would lock; the refusal is in the budget file, so a second diagnose and then
/// a run with the same password make no login request at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_tried_once_and_not_again() {
    let server = sim("idle_secs = 30\nlockout_after = 5\nlockout_secs = 60").await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = write_config(d, &server.url(), "");
    let o = supsync(d, &cfg, WRONG, &["diagnose"]).await;
    let all = flat(&o);
    assert_eq!(o.status.code(), Some(4), "{all}");
    assert!(String::from_utf8_lossy(&o.stderr).contains(DENIED), "{all}");
    assert!(!all.contains("before the server locks"), "{all}");
    assert!(
        all.contains("Verdict (exit 4: no session with this configuration)"),
        "{all}"
    );
    let st = server.stats();
    assert_eq!(stat(&st, "session_login_failures"), 1, "{st}");
    assert_eq!(login_requests(&st), 1, "{st}");
    no_secrets(&all);

    // Again, as JSON: no login request; the budget finding shows the one refusal.
    let o = supsync(d, &cfg, WRONG, &["diagnose", "--json"]).await;
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    let j = json(&o);
    no_verdict_check_conflict(&j);
    assert_eq!(j["verdict"]["outcome"], "no_token");
    let failed = finding(&j, "login_failed");
    assert!(
        failed["claim"]["message"]
            .as_str()
            .unwrap()
            .contains(DENIED),
        "{failed:#}"
    );
    let budget = finding(&j, "login_budget");
    assert_eq!(budget["claim"]["refused"], 1, "{budget:#}");
    assert!(
        j["findings"]["session"]["logins"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["sent"] == false),
        "{:#}",
        j["findings"]["session"]["logins"]
    );
    assert_eq!(
        login_requests(&server.stats()),
        1,
        "a second diagnose tried"
    );

    // And a run with the same password reads the same budget: no attempt either.
    let src = d.join("s.csv");
    common::write_csv(&src, 5, &[]);
    let o = supsync(
        d,
        &cfg,
        WRONG,
        &["run", "--headless", "--source", src.to_str().unwrap()],
    )
    .await;
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains(DENIED), "{}", text(&o));
    assert_eq!(login_requests(&server.stats()), 1, "the run tried");
    no_secrets_in_files(d);
}

/// A server that locks after 2 failed logins, locked by someone else's two wrong
/// passwords: diagnose's one login is answered 423 and stops it at once; the 423's words
/// name the lockout, and `auth.max_failed_logins` (3) is advised down to 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_423_names_the_lockout_and_the_budget_that_stays_below_it() {
    let server = sim("idle_secs = 30\nlockout_after = 2\nlockout_secs = 60").await;
    let http = reqwest::Client::new();
    for _ in 0..2 {
        let resp = http
            .post(format!("{}/api/v1/session/login", server.url()))
            .form(&[("username", USER), ("password", "someone-else-typo")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401);
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &server.url(), "");
    let o = supsync(dir.path(), &cfg, WRONG, &["diagnose", "--json"]).await;
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    let j = json(&o);
    no_verdict_check_conflict(&j);
    assert_eq!(finding(&j, "login_failed")["claim"]["reason"], "locked");
    let budget = finding(&j, "login_budget");
    assert_eq!(budget["claim"]["lockout_after"], 2, "{budget:#}");
    assert!(
        budget["says"]
            .as_str()
            .unwrap()
            .contains("the server locks sync-bot after 2 failed logins"),
        "{budget:#}"
    );
    let advised = lines_citing(&j, "changes", &budget["id"]);
    assert!(
        advised
            .iter()
            .any(|l| l.contains("Set auth.max_failed_logins = 1")),
        "{advised:?}"
    );
    assert_eq!(j["verdict"]["lockout_after"], 2);
    let st = server.stats();
    assert_eq!(stat(&st, "session_login_failures"), 2, "{st}");
    assert_eq!(stat(&st, "session_login_refused_locked"), 1, "{st}");
    // While the lock runs, a second diagnose tries nothing.
    let o = supsync(dir.path(), &cfg, WRONG, &["diagnose"]).await;
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert_eq!(login_requests(&server.stats()), 3);
    no_secrets(&text(&o));
}

/// A sync's live session in the token cache (a client in this process, keeping it alive):
/// diagnose uses it as it is, skips the second login and says why, logs in not once and
/// logs nothing out; the sync's session survives and still answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_syncs_cached_session_is_used_and_never_ended() {
    let server = sim("idle_secs = 30\ncap_secs = 0\nsingle_session = true").await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = write_config(d, &server.url(), "");
    let cancel = CancellationToken::new();
    let sync = ApiClient::connect(
        &config(&server.url()),
        Secret::new(PASSWORD),
        ConnectOptions {
            token_cache: Some(d.join("state").join("token-cache")),
            audit_log: None,
        },
        cancel.clone(),
    )
    .await
    .expect("the sync logs in");
    assert_eq!(stat(&server.stats(), "session_logins"), 1);

    let o = supsync(d, &cfg, PASSWORD, &["diagnose", "--wait-secs", "3"]).await;
    let all = flat(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    assert!(
        all.contains(
            "no second login: a live session in the cache: a second login would end a \
             running sync's session"
        ),
        "{all}"
    );
    assert!(all.contains("the probes use it as it is"), "{all}");
    let st = server.stats();
    assert_eq!(stat(&st, "session_logins"), 1, "diagnose logged in: {st}");
    assert_eq!(stat(&st, "sessions_ended_by_newer_login"), 0, "{st}");
    assert_eq!(stat(&st, "session_logouts"), 0, "{st}");
    sync.health()
        .await
        .expect("the sync's session survives diagnose");
    cancel.cancel();
    no_secrets(&all);
}

/// A session left in the cache that the server has since ended (a run killed, then the
/// sessions revoked): diagnose sees it refused, forgets it, logs in itself, and leaves
/// nothing in the cache for a run to try.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_cached_session_is_forgotten() {
    let server = sim("idle_secs = 30\ncap_secs = 0\nsingle_session = true").await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = write_config(d, &server.url(), "");
    let cache_path = d.join("state").join("token-cache");
    let c = config(&server.url());
    let cancel = CancellationToken::new();
    let gone = ApiClient::connect(
        &c,
        Secret::new(PASSWORD),
        ConnectOptions {
            token_cache: Some(cache_path.clone()),
            audit_log: None,
        },
        cancel.clone(),
    )
    .await
    .expect("logs in");
    cancel.cancel();
    drop(gone);
    reqwest::Client::new()
        .post(format!("{}/_sim/revoke", server.url()))
        .send()
        .await
        .unwrap();
    let cache = TokenCache::for_session(
        cache_path.clone(),
        &supsync::auth::session_login::credential_of(&c),
    );
    assert!(
        cache.load().unwrap().is_some(),
        "the killed run's session is cached"
    );

    let o = supsync(
        d,
        &cfg,
        PASSWORD,
        &["diagnose", "--json", "--wait-secs", "2"],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j = json(&o);
    no_verdict_check_conflict(&j);
    let dead = finding(&j, "dead_cached_session");
    assert_eq!(dead["claim"]["cleared"], true, "{dead:#}");
    assert!(
        dead["says"].as_str().unwrap().contains("Session revoked"),
        "{dead:#}"
    );
    assert!(
        cache.load().unwrap().is_none(),
        "diagnose left a session in the cache"
    );
    no_secrets(&text(&o));
}

/// A dead session answered 403, or 200 with an error body (`[tokens] expiry_signal`): with
/// one login (the default) the dead session is the one diagnose logged out; the answer is
/// named, without a rule the one that matches it is advised, and a configured
/// rule that matches is said to handle it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_session_answered_403_or_200_gets_its_expired_when_rule() {
    let profile = |signal: &str| {
        format!(
            "idle_secs = 30\ncap_secs = 0\nsingle_session = true\n[tokens]\nexpiry_signal = \
             \"{signal}\""
        )
    };
    let (pf, pb) = (profile("403"), profile("200-body"));
    let (forbidden, body) = tokio::join!(sim(&pf), sim(&pb));
    let (df, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cf = write_config(df.path(), &forbidden.url(), "");
    let rule = "200 /error/code = TOKEN_EXPIRED";
    let cb = write_config(
        db.path(),
        &body.url(),
        &format!("expired_when = [\"{rule}\"]"),
    );
    let args = ["diagnose", "--json", "--wait-secs", "2"];
    let (of, ob) = tokio::join!(
        supsync(df.path(), &cf, PASSWORD, &args),
        supsync(db.path(), &cb, PASSWORD, &args)
    );
    // Without a rule the calls that meet a dead session fail: that kills the sync (exit
    // 3); with the rule that matches, it is handled (exit 0).
    assert_eq!(of.status.code(), Some(3), "{}", text(&of));
    assert_eq!(ob.status.code(), Some(0), "{}", text(&ob));
    for o in [&of, &ob] {
        no_secrets(&text(o));
    }
    let j = json(&of);
    assert_eq!(
        j["verdict"]["killer"], "expiry_signal",
        "{:#}",
        j["verdict"]
    );
    no_verdict_check_conflict(&j);
    let s = finding(&j, "expiry_signal");
    assert_eq!(s["claim"]["form"], "status_403", "{s:#}");
    assert!(
        s["says"]
            .as_str()
            .unwrap()
            .contains("a dead session (a session after its logout) was answered 403"),
        "{s:#}"
    );
    assert_eq!(j["verdict"]["expiry_signal"]["handled"], false);
    let advised = lines_citing(&j, "changes", &s["id"]);
    assert!(
        advised.iter().any(|l| l.contains(
            r#"Set auth.expired_when = ["403 /error = token_expired"]: a dead session is answered 403"#
        )),
        "{advised:?}"
    );

    let j = json(&ob);
    no_verdict_check_conflict(&j);
    let s = finding(&j, "expiry_signal");
    assert_eq!(s["claim"]["form"], "body_200", "{s:#}");
    assert_eq!(s["claim"]["matched_rule"], rule, "{s:#}");
    assert_eq!(j["verdict"]["expiry_signal"]["handled"], true);
    let said = lines_citing(&j, "reasons", &s["id"]);
    assert!(
        said.iter().any(|l| l.contains(&format!(
            "rule \"{rule}\" matches it, so supsync logs in again"
        ))),
        "{said:?}"
    );
}
