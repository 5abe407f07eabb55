//! `supsync diagnose` through the real binary against simulators that end tokens without a
//! plain 401 (`expiry_signal = "403"` and `"200-body"`, docs/API.md §2.5) and refuse a
//! refresh earlier than `refresh_window_secs` before expiry (§1.3): it names the answer a
//! dead token gets and the `auth.expired_when` rule that matches it (or that it already
//! matches), and the refresh window against `auth.refresh_window_secs`, in text and JSON,
//! each line citing findings that exist.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::{cmd, text};
use serde_json::Value;
use supsync::sim::{Profile, SimServer};

/// Only the clocks a case names: no idle window or session limit, long tokens for the
/// other scopes, no faults.
async fn sim(tokens: &str) -> SimServer {
    let p = Profile::from_toml(&format!(
        "[tokens]\ndefault_ttl_secs = 3600\nidle_timeout_secs = 0\nabsolute_timeout_secs = 0\n\
         {tokens}\n[faults]\nerror_rate = 0.0\ndrop_rate = 0.0\n"
    ))
    .expect("profile");
    SimServer::start(p, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts")
}

/// A configuration in a directory of its own, with `auth` lines.
fn config(url: &str, auth: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        format!("[api]\nbase_url = \"{url}\"\ntimeout_secs = 10\n[auth]\n{auth}\n"),
    )
    .unwrap();
    (dir, path)
}

/// Runs `supsync diagnose` with `args` in each (directory, config), all at once; each
/// result with how long it took.
async fn diagnose(runs: Vec<(&Path, &Path, Vec<&str>)>) -> Vec<(Output, Duration)> {
    let jobs: Vec<_> = runs
        .into_iter()
        .map(|(dir, cfg, args)| {
            let mut c = cmd(dir, cfg, &[&["diagnose"][..], &args].concat());
            tokio::task::spawn_blocking(move || {
                let t = Instant::now();
                (c.output().expect("binary runs"), t.elapsed())
            })
        })
        .collect();
    let mut out = Vec::new();
    for j in jobs {
        out.push(j.await.unwrap());
    }
    out
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// The finding of `kind` (its claim), and its id.
fn finding<'a>(j: &'a Value, kind: &str) -> (&'a str, &'a Value) {
    let e = j["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["claim"]["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} finding: {j:#}"));
    (e["id"].as_str().unwrap(), &e["claim"])
}

/// Every verdict line (changes, reasons, unknowns) that cites `id`.
fn lines_citing(j: &Value, id: &str) -> Vec<String> {
    ["changes", "reasons", "unknowns"]
        .iter()
        .flat_map(|k| j["verdict"][k].as_array().unwrap().iter())
        .filter(|l| l["cites"].as_array().unwrap().iter().any(|c| c == id))
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

/// One server per signal; without the rule, then with it. The configured-scope token
/// lives 2 s, so a dead token is watched without a long wait.
async fn signal_case(signal: &str, form: &str, rule: &str, shown: &str) {
    let server = sim(&format!(
        "scope_ttl_secs = {{ supplier_mgmt = 2 }}\nexpiry_signal = \"{signal}\""
    ))
    .await;
    let url = server.url();
    let (bare_dir, bare) = config(&url, "");
    let (ruled_dir, ruled) = config(&url, &format!("expired_when = [\"{rule}\"]"));
    let runs = diagnose(vec![
        (bare_dir.path(), &bare, vec![]),
        (bare_dir.path(), &bare, vec!["--json"]),
        (ruled_dir.path(), &ruled, vec![]),
        (ruled_dir.path(), &ruled, vec!["--json"]),
    ])
    .await;
    // Without a rule the calls that meet a dead token fail: that kills the sync (exit 3);
    // with the rule that matches, it is handled (exit 0).
    for (i, (o, took)) in runs.iter().enumerate() {
        let code = if i < 2 { 3 } else { 0 };
        assert_eq!(o.status.code(), Some(code), "{}", text(o));
        assert!(*took < Duration::from_secs(30), "{took:?}: {}", text(o));
    }
    let (bare_text, bare_json) = (stdout(&runs[0].0), json(&runs[1].0));
    let (ruled_text, ruled_json) = (stdout(&runs[2].0), json(&runs[3].0));
    let advice = format!("auth.expired_when = [\"{rule}\"]");

    // Without a rule: the answer seen, "not 401", and the rule made from it.
    let (id, claim) = finding(&bare_json, "expiry_signal");
    assert_eq!(
        claim["how"], "expired",
        "a token watched as it ran out: {claim}"
    );
    assert_eq!(claim["form"], form, "{claim}");
    assert_eq!(claim["rule"], rule, "{claim}");
    assert_eq!(claim["matched_rule"], Value::Null, "{claim}");
    assert_eq!(bare_json["verdict"]["killer"], "expiry_signal");
    let v = &bare_json["verdict"]["expiry_signal"];
    assert_eq!(v["handled"], false, "{v}");
    assert_eq!(v["rule"], rule, "{v}");
    assert_eq!(v["cites"][0], id, "{v}");
    let cited = lines_citing(&bare_json, id).join("\n");
    assert!(cited.contains(&advice), "{cited}");
    no_verdict_check_conflict(&bare_json);
    let says = format!("was answered {shown}");
    assert!(
        bare_text.contains("expiry_signal") && bare_text.replace('\n', " ").contains("not 401"),
        "{bare_text}"
    );
    let flat: String = bare_text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains(&says), "{says}: {flat}");
    assert!(flat.contains(&format!("Set {advice}")), "{flat}");
    assert!(
        flat.contains(&format!("[{id}]")),
        "the line cites its finding: {flat}"
    );

    // With it: named as matching, nothing to add.
    let (id, claim) = finding(&ruled_json, "expiry_signal");
    assert_eq!(claim["matched_rule"], rule, "{claim}");
    assert_eq!(ruled_json["verdict"]["expiry_signal"]["handled"], true);
    let cited = lines_citing(&ruled_json, id).join("\n");
    assert!(
        cited.contains(&format!("rule \"{rule}\" matches it")),
        "{cited}"
    );
    let changes = ruled_json["verdict"]["changes"].to_string();
    assert!(!changes.contains("auth.expired_when ="), "{changes}");
    no_verdict_check_conflict(&ruled_json);
    let flat: String = ruled_text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("matches it, so supsync renews"), "{flat}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_token_answered_403_is_named_with_its_rule() {
    signal_case(
        "403",
        "status_403",
        "403 /error = token_expired",
        "403 {\"error\":\"token_expired\"} \"Token expired after 0m 02s\"",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_token_answered_200_with_an_error_body_is_named_with_its_rule() {
    signal_case(
        "200-body",
        "body_200",
        "200 /error/code = TOKEN_EXPIRED",
        "200 with {\"error\":{\"code\":\"TOKEN_EXPIRED\"}} \"Token expired after 0m 02s\"",
    )
    .await;
}

/// 12 s tokens with a 4 s refresh window. The refresh after the idle probe (3 s) comes
/// with about 9 s left: too early by about 5 s; diagnose asks again with about 2 s left,
/// in the middle of the window (2 s from either edge).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_window_is_named_and_compared_with_the_configuration() {
    let server = sim("scope_ttl_secs = { supplier_mgmt = 12 }\nrefresh_window_secs = 4").await;
    let url = server.url();
    let (unset_dir, unset) = config(&url, "");
    let (set_dir, set) = config(&url, "refresh_window_secs = 4\nrefresh_margin_secs = 2");
    let runs = diagnose(vec![
        (unset_dir.path(), &unset, vec!["--json"]),
        (unset_dir.path(), &unset, vec!["--wait-secs", "0"]),
        (set_dir.path(), &set, vec!["--json"]),
    ])
    .await;
    for (o, took) in &runs {
        assert_eq!(o.status.code(), Some(0), "{}", text(o));
        assert!(*took < Duration::from_secs(40), "{took:?}: {}", text(o));
    }

    // Not configured: named from the server's words, confirmed by a refresh inside it.
    let j = json(&runs[0].0);
    let (id, claim) = finding(&j, "refresh_window");
    assert_eq!(claim["stated_secs"], 4, "{claim}");
    assert_eq!(claim["secs"], 4, "{claim}");
    let accepted = claim["accepted_left_secs"].as_f64().expect("asked again");
    assert!(
        accepted > 0.5 && accepted < 4.0,
        "inside the window: {claim}"
    );
    assert!(
        claim["too_early_left_secs"].as_f64().unwrap() > 4.0,
        "{claim}"
    );
    assert_eq!(j["verdict"]["refresh_window_secs"], 4);
    assert_eq!(
        j["findings"]["refresh"]["ok"], true,
        "{}",
        j["findings"]["refresh"]
    );
    assert_eq!(j["verdict"]["renewal"], "refresh_token");
    let cited = lines_citing(&j, id).join("\n");
    assert!(
        cited.contains("Set auth.refresh_window_secs = 4:")
            && cited.contains("auth.refresh_margin_secs (120 s) does not fit inside it"),
        "{cited}"
    );
    no_verdict_check_conflict(&j);

    // --wait-secs 0: the server's words alone, and no failed refresh for it.
    let flat: String = stdout(&runs[1].0)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        flat.contains("refused as too early")
            && flat.contains("a refresh window of 4 s, as the server says"),
        "{flat}"
    );
    assert!(flat.contains("Set auth.refresh_window_secs = 4:"), "{flat}");
    assert!(
        flat.contains("inside the server's refresh window"),
        "{flat}"
    );
    assert!(!flat.contains("one refresh was refused"), "{flat}");

    // Configured as the server has it: said so, nothing to change for it.
    let j = json(&runs[2].0);
    let (id, _) = finding(&j, "refresh_window");
    let cited = lines_citing(&j, id).join("\n");
    assert!(
        cited.contains("auth.refresh_window_secs = 4 is the server's refresh window")
            && cited.contains("auth.refresh_margin_secs (2 s) fits inside it"),
        "{cited}"
    );
    let changes = j["verdict"]["changes"].to_string();
    assert!(!changes.contains("refresh_window_secs"), "{changes}");
    no_verdict_check_conflict(&j);
}
