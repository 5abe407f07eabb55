//! Every API style through the real binary: push 1,000 records, pull them back, compare.
//! The simulator serves each style from the same mapping keys a config uses (docs/API.md
//! §6); a mapping that does not fit the answers stops with the pointer and the answer's
//! top-level keys named, and a next link off the configured origin is refused.

mod common;

use std::path::{Path, PathBuf};

use common::{Sim, cmd, row, stat, text, write_config, write_csv};
use supsync::record::Supplier;

/// A config for the simulator at `url` with `mapping` lines in its `[api]` section.
fn config(dir: &Path, url: &str, mapping: &str) -> PathBuf {
    let p = write_config(dir, url, 100, 4);
    let body = std::fs::read_to_string(&p).unwrap();
    std::fs::write(
        &p,
        body.replacen("[api]\n", &format!("[api]\n{mapping}\n"), 1),
    )
    .unwrap();
    p
}

fn style_sim(api_extra: &str) -> Sim {
    Sim {
        per_record_ms: 0,
        max_concurrent: 0,
        api_extra: api_extra.into(),
        ..Sim::default()
    }
}

fn expected(n: u64) -> Vec<Supplier> {
    (0..n)
        .map(|i| {
            let cells: Vec<String> = row(i).split(',').map(String::from).collect();
            Supplier {
                supplier_id: cells[0].clone(),
                name: cells[1].clone(),
                country: cells[2].clone(),
                status: cells[3].clone(),
                contact_email: cells[4].clone(),
                certifications: cells[5].split(';').map(String::from).collect(),
                updated_at: cells[6].clone(),
            }
        })
        .collect()
}

/// Pushes 1,000 records and pulls them back through `mapping`; returns the sim's stats.
async fn round_trip(profile_api: &str, mapping: &str) -> serde_json::Value {
    const N: u64 = 1_000;
    let sim = style_sim(profile_api).start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = config(d, &sim.url(), mapping);
    let src = d.join("suppliers.csv");
    write_csv(&src, N, &[]);
    let o = cmd(
        d,
        &cfg,
        &["run", "--headless", "--source", src.to_str().unwrap()],
    )
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "push: {}", text(&o));
    let st = sim.stats();
    assert_eq!(stat(&st, "records_created"), N, "{st}");
    assert_eq!(stat(&st, "records_updated"), 0, "{st}");
    let out = d.join("pulled.jsonl");
    let o = cmd(
        d,
        &cfg,
        &["run", "--headless", "--pull", out.to_str().unwrap()],
    )
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "pull: {}", text(&o));
    let mut got: Vec<Supplier> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    got.sort_by(|a, b| a.supplier_id.cmp(&b.supplier_id));
    assert_eq!(got.len(), N as usize, "every record pulled once");
    assert_eq!(got, expected(N), "pulled records equal the pushed ones");
    st
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_round_trip() {
    round_trip("", "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_rest_round_trip_per_record_put_and_body_next_links() {
    let st = round_trip("style = \"data_rest\"", "preset = \"data_rest\"").await;
    // One PUT per record (plus the pull's pages and a token request or two).
    assert!(stat(&st, "requests") >= 1_000, "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odata_round_trip_sub_request_batches_split_at_25() {
    let st = round_trip("style = \"odata\"", "preset = \"odata\"").await;
    // 10 segments of 100, each split into 4 `$batch` calls of 25.
    assert!(stat(&st, "requests") >= 40, "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_header_and_cursor_paging() {
    round_trip(
        "style = \"data_rest\"\n[api.mapping]\nnext_link = \"Link\"",
        "preset = \"data_rest\"\nnext_link = \"Link\"\ntotal = \"none\"",
    )
    .await;
    round_trip(
        "style = \"data_rest\"\n[api.mapping]\npagination = \"cursor\"\ncursor = \"/meta/next\"",
        "preset = \"data_rest\"\npagination = \"cursor\"\ncursor = \"/meta/next\"",
    )
    .await;
}

/// The API no preset matches (README, "An API of your own"): `{"results": [...],
/// "count": N}`, page numbers from 1 with `per_page`, the id called `supplierNumber`,
/// POST to the collection without idempotency keys, 409 "already exists" counted as done.
const OWN_API: &str = r#"push_mode = "per_record"
push_method = "POST"
push_path = "/v3/suppliers"
record_envelope = ""
idempotency_header = "none"
already_exists_status = 409
already_exists_match = "already exists"
reject_reason = "/error"
pull_path = "/v3/suppliers"
pagination = "page"
page_param = "page"
first_page = 1
page_size_param = "per_page"
records = "/results"
total = "/count"
fields = ["supplier_id=supplierNumber"]"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_no_preset_matches() {
    round_trip(
        &format!("style = \"data_rest\"\n[api.mapping]\n{OWN_API}"),
        &format!("preset = \"data_rest\"\n{OWN_API}"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_that_does_not_fit_names_pointer_and_keys() {
    let sim = Sim {
        suppliers: 30,
        ..style_sim("style = \"data_rest\"")
    }
    .start()
    .await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = config(
        d,
        &sim.url(),
        "preset = \"data_rest\"\nrecords = \"/items\"\npage_size = 10",
    );
    let out = d.join("pulled.jsonl");
    let o = cmd(
        d,
        &cfg,
        &["run", "--headless", "--pull", out.to_str().unwrap()],
    )
    .output()
    .unwrap();
    let all = text(&o);
    assert_ne!(o.status.code(), Some(0), "{all}");
    assert!(all.contains("records pointer `/items`"), "{all}");
    assert!(
        all.contains("top-level keys are `data`, `links`, `meta`"),
        "{all}"
    );
    assert!(
        !all.contains("Supplier 1 Ltd") && !all.contains("Acme"),
        "no record contents: {all}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_link_to_another_host_is_refused() {
    let sim = Sim {
        suppliers: 30,
        ..style_sim("style = \"data_rest\"\nnext_link_base = \"http://elsewhere.example:8080\"")
    }
    .start()
    .await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = config(d, &sim.url(), "preset = \"data_rest\"\npage_size = 10");
    let out = d.join("pulled.jsonl");
    let o = cmd(
        d,
        &cfg,
        &["run", "--headless", "--pull", out.to_str().unwrap()],
    )
    .output()
    .unwrap();
    let all = text(&o);
    assert_ne!(o.status.code(), Some(0), "{all}");
    assert!(
        all.contains("refused to follow a next link to http://elsewhere.example:8080"),
        "{all}"
    );
}

#[test]
fn a_mapping_that_cannot_work_is_refused_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Nothing listens here: a request would be a connection error, not exit 2.
    let cfg = config(
        d,
        "http://127.0.0.1:9",
        "preset = \"data_rest\"\npush_path = \"/suppliers\"\npagination = \"scroll\"",
    );
    for args in [
        &["config", "--check"][..],
        &["run", "--headless", "--pull", "x.jsonl"][..],
    ] {
        let o = cmd(d, &cfg, args).output().unwrap();
        let all = text(&o);
        assert_eq!(o.status.code(), Some(2), "{all}");
        assert!(all.contains("config.toml:4: api.push_path"), "{all}");
        assert!(all.contains("config.toml:5: api.pagination"), "{all}");
    }
}

#[test]
fn the_sample_configs_and_profiles_load() {
    for name in ["api-data_rest.toml", "api-odata.toml"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("assets")
            .join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let loaded =
            supsync::config::load_from(Some(path.clone()), Some(&text), &Default::default(), &[])
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        let m = supsync::mapping::ApiMapping::build(
            &loaded.config.api.mapping,
            &loaded.config.api.batch_path,
        )
        .unwrap();
        assert_eq!(format!("api-{}.toml", m.preset), name);
    }
    for name in ["sim-data_rest.toml", "sim-odata.toml"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("assets")
            .join(name);
        let p = supsync::sim::Profile::load(path.to_str().unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(p.api.styled().unwrap().is_some(), "{name}");
    }
}

/// `demo --api STYLE`: the demo's own simulator serves the style, the client speaks it
/// through the preset, and every record reaches the simulator's store.
fn demo_with_api(style: &str) {
    // 12 records: none of the demo's deliberately invalid ones (the first is the 14th).
    const N: u64 = 12;
    let dir = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_supsync"))
        .arg("--state-dir")
        .arg(dir.path())
        .args(["-v", "demo", "--headless", "--api", style])
        .args(["--records", &N.to_string()])
        .env_remove("RUST_LOG")
        .env_remove("SUPSYNC_CONFIG")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let all = text(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    assert!(
        all.contains(&format!("({style} API), {N} records")),
        "{all}"
    );
    assert!(
        all.contains(&format!(
            "demo simulator ({style} style) stored {N} records: {N} created, 0 updated, 0 rejected"
        )),
        "the simulator's store holds every record once: {all}"
    );
}

#[test]
fn demo_speaks_data_rest() {
    demo_with_api("data_rest");
}

#[test]
fn demo_speaks_odata() {
    demo_with_api("odata");
}

#[test]
fn demo_refuses_an_unknown_api_style() {
    let dir = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_supsync"))
        .arg("--state-dir")
        .arg(dir.path())
        .args(["demo", "--headless", "--api", "graphql"])
        .env_remove("SUPSYNC_CONFIG")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        err.contains("graphql") && err.contains("data_rest"),
        "{err}"
    );
}

/// `demo --auth session --expiry 403`: the demo's simulator wants a session login and
/// answers a dead session with a 403; the client logs in, pushes, logs out.
#[test]
fn demo_speaks_a_session_login() {
    const N: u64 = 12;
    let dir = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_supsync"))
        .arg("--state-dir")
        .arg(dir.path())
        .args([
            "-v",
            "demo",
            "--headless",
            "--auth",
            "session",
            "--expiry",
            "403",
        ])
        .args(["--records", &N.to_string()])
        .env_remove("RUST_LOG")
        .env_remove("SUPSYNC_CONFIG")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let all = text(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    assert!(all.contains("session login as sync-bot"), "{all}");
    assert!(
        all.contains("session logged out at the end of the run"),
        "{all}"
    );
    assert!(
        all.contains(&format!(
            "stored {N} records: {N} created, 0 updated, 0 rejected"
        )),
        "{all}"
    );
    // The demo's password never shows, nor does a session id (fingerprints only).
    assert!(!all.contains("change-me"), "{all}");
}
