//! `supsync verify RUN_ID` through the real binary against the simulator: a clean push
//! agrees (exit 0); records the server lacks or holds with other values are named (exit
//! 3); `--extra` lists what the source does not have; `--json` carries the same figures.
//! And the case where a push claims more than the server holds: a per-record API answering
//! a dead token with `200` and an error body, no `auth.expired_when` rule.

mod common;

use std::path::Path;
use std::process::Output;

use common::{HEADER, Sim, cmd, row, stat, text, write_config, write_csv};

fn push(dir: &Path, cfg: &Path, src: &Path, run_id: &str) -> Output {
    cmd(
        dir,
        cfg,
        &[
            "run",
            "--headless",
            "--run-id",
            run_id,
            "--source",
            src.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap()
}

fn verify(dir: &Path, cfg: &Path, args: &[&str]) -> (Output, Option<serde_json::Value>) {
    let mut a = vec!["verify"];
    a.extend_from_slice(args);
    let o = cmd(dir, cfg, &a).output().unwrap();
    let json = args
        .contains(&"--json")
        .then(|| serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o))));
    (o, json)
}

/// A CSV of `rows` (already formatted).
fn write_rows(path: &Path, rows: &[String]) {
    let mut s = format!("{HEADER}\n");
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_push_agrees_and_changes_on_the_server_are_named() {
    let sim = Sim::default().start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = write_config(d, &sim.url(), 25, 4);
    let src = d.join("suppliers.csv");
    write_csv(&src, 100, &[]);
    let o = push(d, &cfg, &src, "clean-push");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // The headless summary says how to check.
    assert!(text(&o).contains("verify clean-push"), "{}", text(&o));

    // By a unique prefix of the id.
    let (o, j) = verify(d, &cfg, &["clean", "--json"]);
    let j = j.unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(j["run_id"], "clean-push");
    assert_eq!(j["agrees"], true);
    assert_eq!(j["expected"], 100);
    assert_eq!(j["matching"], 100);
    assert_eq!(j["missing_count"], 0);
    assert_eq!(j["different_count"], 0);
    assert_eq!(j["exit_code"], 0);
    assert!(j.get("extra").is_none(), "{j}");
    let (o, _) = verify(d, &cfg, &["clean-push"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("the server holds every record"),
        "{}",
        text(&o)
    );

    // Another client writes records the source does not have: only `--extra` names them,
    // and they are no disagreement.
    let others = d.join("others.csv");
    write_rows(&others, &(500..505).map(row).collect::<Vec<_>>());
    let o = push(d, &cfg, &others, "other-push");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let (o, j) = verify(d, &cfg, &["clean-push", "--extra", "--json"]);
    let j = j.unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(j["extra_count"], 5, "{j}");
    assert_eq!(j["extra"][0], "SUP-000500", "{j}");
    let (o, _) = verify(d, &cfg, &["clean-push", "--extra"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("not in the source: SUP-000500, "),
        "{}",
        text(&o)
    );

    // A record changed on the server (pushed again with another name) is different.
    let changed = d.join("changed.csv");
    write_rows(
        &changed,
        &[row(3).replace("Supplier 3 Ltd", "Renamed GmbH")],
    );
    let o = push(d, &cfg, &changed, "change-push");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let (o, j) = verify(d, &cfg, &["clean-push", "--json"]);
    let j = j.unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_eq!(j["agrees"], false);
    assert_eq!(j["different_count"], 1, "{j}");
    assert_eq!(j["different"][0]["supplier_id"], "SUP-000003");
    assert_eq!(j["different"][0]["fields"], serde_json::json!(["name"]));
    assert_eq!(j["matching"], 99);
    let (o, _) = verify(d, &cfg, &["clean-push"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("different: SUP-000003 (name)"),
        "{}",
        text(&o)
    );

    // Ambiguous and unknown ids are usage errors.
    let (o, _) = verify(d, &cfg, &["c"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("names 2 runs"), "{}", text(&o));
    let (o, _) = verify(d, &cfg, &["nope"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

/// A per-record API answers a dead token with `200 {"status":"error",…}`, the config has
/// no `auth.expired_when` rule, and its mapping counts every 2xx as applied
/// (`api.success_when = ["any"]`, the blind mapping a push can be given): the push claims
/// success, and verify finds every record the server did not store and names them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_lost_behind_a_200_with_an_error_are_found() {
    const N: u64 = 200;
    let sim = Sim {
        per_record_ms: 0,
        max_concurrent: 0,
        api_extra: "style = \"data_rest\"".into(),
        ..Sim::default()
    };
    let mut profile = sim.profile();
    // Every token dies after 100 calls; the dead one is answered 200 with an error body.
    profile.tokens.revoke_after_uses = 100;
    profile.tokens.expiry_signal = supsync::sim::profile::ExpirySignal::Body200;
    let server = supsync::sim::SimServer::start(profile, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = write_config(d, &server.url(), 20, 4);
    let body = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        body.replacen(
            "[api]\n",
            "[api]\npreset = \"data_rest\"\nsuccess_when = [\"any\"]\n",
            1,
        ),
    )
    .unwrap();
    let src = d.join("suppliers.csv");
    write_csv(&src, N, &[]);
    let o = push(d, &cfg, &src, "lossy-push");
    eprintln!("push: {}", text(&o));
    assert_eq!(o.status.code(), Some(0), "the blind mapping claims success");
    let stored = stat(&server.stats(), "records_stored");
    assert!(
        stored < N,
        "the server stored every record: nothing to find"
    );
    let missing = N - stored;

    let (o, j) = verify(d, &cfg, &["lossy-push", "--json"]);
    let j = j.unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_eq!(j["missing_count"], missing, "{j}");
    assert_eq!(j["matching"], stored, "{j}");
    assert_eq!(j["on_server"], stored, "{j}");
    let (o, _) = verify(d, &cfg, &["lossy-push"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&format!("{missing} missing")), "{out}");
    assert!(out.contains(&format!("and {} more", missing - 20)), "{out}");
}

/// The read is paced like a run: a server allowing two calls a second answers most pages
/// 429 with `Retry-After`, and verify waits them out instead of failing or giving up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_waits_out_429s() {
    let sim = Sim {
        rate_limit_per_sec: 2,
        ..Sim::default()
    }
    .start()
    .await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = write_config(d, &sim.url(), 10, 2);
    let src = d.join("suppliers.csv");
    write_csv(&src, 60, &[]);
    let o = push(d, &cfg, &src, "paced-push");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let before = stat(&sim.stats(), "rate_limited");
    let (o, j) = verify(d, &cfg, &["paced-push", "--json"]);
    let j = j.unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(j["matching"], 60, "{j}");
    let limited = stat(&sim.stats(), "rate_limited") - before;
    assert!(
        limited > 0,
        "no 429 during the read: the test shows nothing"
    );
    assert!(j["pages_read"].as_u64().unwrap() >= 6, "{j}");
}

/// A push-only API (per-record PUT, the collection GET refused with 405) is read back per
/// id (`api.verify_read = "per_id"`): a clean push agrees through GETs on each record's
/// path and no listing; a record changed on the server and records the server never got
/// (a 404 on their path) are named, exit 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_only_api_is_read_back_per_id() {
    const N: u64 = 40;
    let sim = Sim {
        per_record_ms: 0,
        api_extra: "style = \"data_rest\"\nno_listing = true".into(),
        ..Sim::default()
    }
    .start()
    .await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = write_config(d, &sim.url(), 10, 3);
    let body = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        body.replacen(
            "[api]\n",
            "[api]\npreset = \"data_rest\"\nverify_read = \"per_id\"\n",
            1,
        ),
    )
    .unwrap();
    let src = d.join("suppliers.csv");
    write_csv(&src, N, &[]);
    let o = push(d, &cfg, &src, "rest-push");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let (o, j) = verify(d, &cfg, &["rest-push", "--json"]);
    let j = j.unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(j["matching"], N, "{j}");
    assert_eq!(j["item_reads"], N, "{j}");
    let s = sim.stats();
    assert_eq!(stat(&s, "item_reads"), N, "{s}");
    assert_eq!(stat(&s, "pull_pages"), 0, "{s}");
    assert_eq!(stat(&s, "list_refused"), 0, "{s}");
    // `--extra` needs a listing: refused, not answered with nothing.
    let (o, _) = verify(d, &cfg, &["rest-push", "--extra"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--extra needs a listing"), "{}", text(&o));

    // Record 3 renamed on the server; two rows added to the source that the server
    // never got (their GET answers 404).
    let changed = d.join("changed.csv");
    write_rows(
        &changed,
        &[row(3).replace("Supplier 3 Ltd", "Renamed GmbH")],
    );
    let o = push(d, &cfg, &changed, "change-push");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mut grown = std::fs::read_to_string(&src).unwrap();
    for i in [900, 901] {
        grown.push_str(&row(i));
        grown.push('\n');
    }
    std::fs::write(&src, grown).unwrap();
    let (o, j) = verify(d, &cfg, &["rest-push", "--json"]);
    let j = j.unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_eq!(
        j["missing"],
        serde_json::json!(["SUP-000900", "SUP-000901"]),
        "{j}"
    );
    assert_eq!(j["different"][0]["supplier_id"], "SUP-000003", "{j}");
    let (o, _) = verify(d, &cfg, &["rest-push"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("missing: SUP-000900, SUP-000901"), "{out}");
    assert!(out.contains("different: SUP-000003"), "{out}");
    assert_eq!(stat(&sim.stats(), "pull_pages"), 0);
}
