//! The push figures through the real binary equal what the simulator stored: a 200 that
//! carries an error is never counted (and never exit 0), a create answered 200 is a
//! create, a PUT whose answer cannot say what it did is "applied", and an "already
//! exists" answer is unchanged.

mod common;

use std::path::{Path, PathBuf};

use common::{Retries, Sim, cmd, stat, text, write_config_with, write_csv};
use supsync::sim::{ExpirySignal, Profile, SimServer};

const N: u64 = 200;

/// Quick failures: three attempts, short backoff, a budget that never pauses the run.
const QUICK: Retries = Retries {
    max_attempts: 3,
    backoff_max_ms: 50,
    retry_budget: Some(10_000),
};

fn sim_profile(api_extra: &str) -> Profile {
    Sim {
        per_record_ms: 0,
        max_concurrent: 0,
        api_extra: api_extra.into(),
        ..Sim::default()
    }
    .profile()
}

async fn start(p: Profile) -> SimServer {
    SimServer::start(p, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts")
}

/// A config with `api` lines in its `[api]` section and `auth` lines in `[auth]`.
fn config(dir: &Path, url: &str, api: &str, auth: &str) -> PathBuf {
    let p = write_config_with(dir, url, 20, 2, QUICK);
    let body = std::fs::read_to_string(&p).unwrap();
    let body = body
        .replacen("[api]\n", &format!("[api]\n{api}\n"), 1)
        .replacen("[auth]\n", &format!("[auth]\n{auth}\n"), 1);
    std::fs::write(&p, body).unwrap();
    p
}

/// The summary's push figures: created, updated, unchanged, applied, rejected.
fn figures(out: &str) -> [u64; 5] {
    let line = out
        .lines()
        .find(|l| l.starts_with("records: "))
        .unwrap_or_else(|| panic!("no records line in:\n{out}"));
    let mut f = [0; 5];
    for (i, word) in ["created", "updated", "unchanged", "applied", "rejected"]
        .iter()
        .enumerate()
    {
        f[i] = line
            .split(", ")
            .find_map(|p| {
                p.trim_start_matches("records: ")
                    .strip_suffix(&format!(" {word}"))
            })
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {word} in {line:?}"));
    }
    f
}

fn push(dir: &Path, cfg: &Path) -> (Option<i32>, String) {
    let src = dir.join("suppliers.csv");
    if !src.exists() {
        write_csv(&src, N, &[]);
    }
    let o = cmd(
        dir,
        cfg,
        &["run", "--headless", "--source", src.to_str().unwrap()],
    )
    .output()
    .unwrap();
    (o.status.code(), text(&o))
}

/// A vendor API that answers a dead token with `200 {"errorCode": 602, …}` on a
/// per-record PUT. The token dies after 60 calls and, with long clocks, stays dead.
fn vendor_profile() -> Profile {
    let mut p = sim_profile("style = \"data_rest\"");
    p.tokens.expiry_signal = ExpirySignal::Body200Code;
    p.tokens.revoke_after_uses = 60;
    p.tokens.scope_ttl_secs.clear();
    p.tokens.idle_timeout_secs = 0;
    p.tokens.absolute_timeout_secs = 0;
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_with_an_error_is_never_counted_and_never_exit_0() {
    let sim = start(vendor_profile()).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = config(d, &sim.url(), "preset = \"data_rest\"", "");
    let (code, out) = push(d, &cfg);
    assert_eq!(code, Some(3), "failed segments, not success: {out}");
    let st = sim.stats();
    let stored = stat(&st, "records_total");
    assert!(stored > 0 && stored < N, "the token died mid-push: {st}");
    let f = figures(&out);
    assert_eq!(
        f.iter().sum::<u64>(),
        stored,
        "the figures are what the server holds: {f:?}, {st}\n{out}"
    );
    assert_eq!(f[0], stat(&st, "records_created"), "{f:?} {st}");
    assert_eq!(f[1] + f[2], 0, "nothing updated or unchanged: {f:?}");
    // The operator is told once which rule would catch these answers.
    assert!(
        out.contains("with an error in its body")
            && out.contains(r#"auth.expired_when = ["200 /errorCode = 602"]"#),
        "{out}"
    );
    assert!(
        stat(&st, "api_token_dead") > 0,
        "the simulator refused the dead token: {st}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rule_it_names_lets_the_same_push_complete() {
    let sim = start(vendor_profile()).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = config(
        d,
        &sim.url(),
        "preset = \"data_rest\"",
        "expired_when = [\"200 /errorCode = 602\"]",
    );
    let (code, out) = push(d, &cfg);
    assert_eq!(code, Some(0), "{out}");
    let st = sim.stats();
    assert_eq!(stat(&st, "records_total"), N, "{st}");
    assert_eq!(figures(&out), [N, 0, 0, 0, 0], "{out}");
    assert!(stat(&st, "api_token_dead") > 0, "the token did die: {st}");
}

/// Directus answers a POST to a collection with 200: that is a create. A second push of
/// the same records is refused as already there: unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_answered_200_counts_as_created_and_a_duplicate_as_unchanged() {
    let collection = "push_method = \"POST\"\npush_path = \"/items/suppliers\"";
    let sim = start(sim_profile(&format!(
        "style = \"data_rest\"\ncreate_status = 200\n[api.mapping]\n{collection}"
    )))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = config(
        d,
        &sim.url(),
        &format!(
            "preset = \"data_rest\"\n{collection}\nalready_exists_status = 409\n\
             already_exists_match = \"already exists\""
        ),
        "",
    );
    let (code, out) = push(d, &cfg);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(figures(&out), [N, 0, 0, 0, 0], "{out}");
    assert_eq!(stat(&sim.stats(), "records_created"), N);
    let (code, out) = push(d, &cfg);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(figures(&out), [0, 0, N, 0, 0], "{out}");
    assert_eq!(stat(&sim.stats(), "records_total"), N);
}

/// A PUT answered 200 for a create says nothing of what it did: "applied", not a guess.
/// With 201 for creates, the same PUTs again (a resend after a crash) are answered 200:
/// applied too, as the server said no more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_that_cannot_say_what_it_did_counts_as_applied() {
    let sim = start(sim_profile("style = \"data_rest\"\ncreate_status = 200")).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = config(d, &sim.url(), "preset = \"data_rest\"", "");
    let (code, out) = push(d, &cfg);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(figures(&out), [0, 0, 0, N, 0], "{out}");
    assert_eq!(stat(&sim.stats(), "records_created"), N);

    let sim = start(sim_profile("style = \"data_rest\"")).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = config(d, &sim.url(), "preset = \"data_rest\"", "");
    let (code, out) = push(d, &cfg);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(figures(&out), [N, 0, 0, 0, 0], "201: created\n{out}");
    let (code, out) = push(d, &cfg);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(figures(&out), [0, 0, 0, N, 0], "{out}");
    let st = sim.stats();
    assert_eq!(stat(&st, "records_unchanged"), N, "{st}");
    assert_eq!(stat(&st, "records_total"), N, "{st}");
}
