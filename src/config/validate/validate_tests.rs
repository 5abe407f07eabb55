use std::collections::BTreeMap;

use super::super::load_from;

fn problems(text: &str, sets: &[&str]) -> String {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    match load_from(Some("v.toml".into()), Some(text), &BTreeMap::new(), &sets) {
        Ok(_) => panic!("expected a validation error"),
        Err(e) => e.to_string(),
    }
}

fn valid(text: &str) -> Vec<String> {
    load_from(Some("v.toml".into()), Some(text), &BTreeMap::new(), &[])
        .unwrap()
        .warnings
}

#[test]
fn ranges_name_key_origin_and_bounds() {
    assert_eq!(
        problems("[sync]\nconcurrency = 0\n", &[]),
        "v.toml:2: sync.concurrency: must be between 1 and 64, found 0"
    );
    assert_eq!(
        problems("", &["sync.segment_size=20000"]),
        "--set sync.segment_size=20000: must be between 1 and 10000 records, found 20000"
    );
    for (text, key) in [
        ("[sync]\nmax_attempts = 0", "sync.max_attempts"),
        ("[api]\ntimeout_secs = 0", "api.timeout_secs"),
        ("[api]\nmax_page_bytes = 4096", "api.max_page_bytes"),
        ("[ui]\ntick_ms = 5", "ui.tick_ms"),
        ("[ui]\nmax_fps = 0", "ui.max_fps"),
        (
            "[auth]\nrefresh_margin_secs = 0",
            "auth.refresh_margin_secs",
        ),
        ("[auth]\nkeepalive_secs = 0", "auth.keepalive_secs"),
        ("[sync]\nretry_budget = 0", "sync.retry_budget"),
    ] {
        let msg = problems(text, &[]);
        assert!(
            msg.starts_with(&format!("v.toml:2: {key}: must be between")),
            "{msg}"
        );
    }
}

#[test]
fn backoff_bounds_must_be_ordered() {
    let msg = problems(
        "[sync]\nbackoff_initial_ms = 5000\nbackoff_max_ms = 100\n",
        &[],
    );
    assert!(msg.starts_with("v.toml:2: sync.backoff_initial_ms: 5000 ms is above sync.backoff_max_ms (100 ms, file v.toml:3)"), "{msg}");
}

#[test]
fn several_problems_are_reported_together() {
    let msg = problems("[sync]\nconcurrency = 0\nmax_attempts = 0\n", &[]);
    let lines: Vec<_> = msg.lines().collect();
    assert_eq!(lines[0], "2 problems in the configuration:");
    assert!(lines[1].contains("sync.concurrency") && lines[2].contains("sync.max_attempts"));
}

#[test]
fn urls_must_be_valid_and_safe() {
    let msg = problems("[api]\nbase_url = \"not a url\"\n", &[]);
    assert!(
        msg.starts_with("v.toml:2: api.base_url: \"not a url\" is not a valid URL"),
        "{msg}"
    );
    // A relative token URL inherits the base URL's problem: reported once, on base_url.
    assert_eq!(msg.lines().count(), 1, "{msg}");

    let msg = problems("[api]\nbase_url = \"http://qms.example.com\"\n", &[]);
    assert!(
        msg.contains("api.base_url: http://qms.example.com uses plain http://"),
        "{msg}"
    );
    assert!(msg.contains("allow_insecure_http"), "{msg}");
    valid("[api]\nbase_url = \"http://qms.example.com\"\nallow_insecure_http = true\n");
    valid("[api]\nbase_url = \"https://qms.example.com\"\n");

    let msg = problems(
        "[auth]\ntoken_url = \"http://idp.example.com/token\"\n",
        &[],
    );
    assert!(
        msg.starts_with("v.toml:2: auth.token_url: http://idp.example.com/token uses plain"),
        "{msg}"
    );
    let msg = problems("[auth]\ntoken_url = \"ftp://idp.example.com/token\"\n", &[]);
    assert!(msg.contains("unsupported scheme"), "{msg}");
    let msg = problems("[api]\nhealth_path = \"/api/ health\"\n", &[]);
    assert!(
        msg.contains("api.health_path: \"/api/ health\" contains whitespace"),
        "{msg}"
    );
    let msg = problems("[api]\nbase_url = \"\"\n", &[]);
    assert!(msg.contains("api.base_url: must not be empty"), "{msg}");
}

#[test]
fn scopes_are_single_tokens() {
    let msg = problems("[auth]\nscopes = [\"supplier_mgmt offline_access\"]\n", &[]);
    assert!(
        msg.contains(
            "auth.scopes: scope \"supplier_mgmt offline_access\" is not one OAuth2 scope token"
        ),
        "{msg}"
    );
    let msg = problems("[auth]\nscopes = [\"\"]\n", &[]);
    assert!(msg.contains("contains an empty scope"), "{msg}");
    valid("[auth]\nscopes = []\n");
    valid("[auth]\nscopes = [\"api://qms/.default\", \"read:suppliers\"]\n");
}

#[test]
fn client_fields() {
    assert!(
        problems("[auth]\nclient_id = \" \"\n", &[]).contains("auth.client_id: must not be empty")
    );
    assert!(
        problems("[auth]\nclient_secret = \"\"\n", &[]).contains("auth.client_secret: is empty")
    );
}

#[test]
fn dubious_but_allowed_values_warn() {
    let w = valid("[auth]\nrefresh_margin_secs = 900\nexpected_ttl_secs = 900\n");
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("refresh_margin_secs (900) is not below"));
}

#[test]
fn a_mapping_that_cannot_work_names_key_and_line() {
    let text =
        "[api]\npreset = \"data_rest\"\nrecords = \"items\"\npush_path = \"/s/{supplierId}\"\n";
    let e = crate::config::load_from(
        Some("m.toml".into()),
        Some(text),
        &std::collections::BTreeMap::new(),
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("m.toml:3: api.records:"), "{e}");
    assert!(e.contains("start with `/`"), "{e}");
    assert!(e.contains("m.toml:4: api.push_path:"), "{e}");
    assert!(e.contains("`supplierId` is not a record field"), "{e}");
    let e = crate::config::load_from(
        Some("m.toml".into()),
        Some("[api]\npagination = \"scroll\"\n"),
        &std::collections::BTreeMap::new(),
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("m.toml:2: api.pagination:") && e.contains("next_link"),
        "{e}"
    );
    let e = crate::config::load_from(
        Some("m.toml".into()),
        Some("[api]\nsuccess_when = [\"status = ok\"]\n"),
        &std::collections::BTreeMap::new(),
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("m.toml:2: api.success_when:") && e.contains("\"/pointer = value\""),
        "{e}"
    );
    let off = "[api]\nsuccess_when = [\"any\"]\n";
    assert!(
        crate::config::load_from(None, Some(off), &Default::default(), &[]).is_ok(),
        "the check can be turned off"
    );
}

#[test]
fn verify_read_is_checked_against_the_mapping() {
    let load = |t: &str| {
        crate::config::load_from(Some("v.toml".into()), Some(t), &Default::default(), &[])
            .map_err(|e| e.to_string())
    };
    let e = load("[api]\nverify_read = \"per_id\"\n").unwrap_err();
    assert!(
        e.contains("v.toml:2: api.verify_read:") && e.contains("use \"list\""),
        "the contract's batch push has no record path: {e}"
    );
    let e = load("[api]\nverify_read = \"each\"\n").unwrap_err();
    assert!(e.contains("\"each\" is not one of"), "{e}");
    assert!(load("[api]\npreset = \"data_rest\"\nverify_read = \"per_id\"\n").is_ok());
    assert!(load("[api]\npreset = \"odata\"\nverify_read = \"per_id\"\n").is_ok());
    assert!(load("[api]\nverify_read = \"list\"\n").is_ok());
}

#[test]
fn expiry_rules_are_checked_with_key_and_line() {
    let msg = problems(
        "[auth]\nrefresh_window_secs = 2\nexpired_when = [\"403 /error = token_expired\", \"200\"]\n",
        &[],
    );
    assert!(
        msg.starts_with("v.toml:3: auth.expired_when: rule \"200\"") && msg.contains("pointer"),
        "{msg}"
    );
    let w = valid("[auth]\nexpired_when = [\"403 ~ expired\", \"200 /error/code = E401\"]\n");
    assert!(w.is_empty(), "{w:?}");
    let msg = problems("", &["auth.refresh_window_secs=999999"]);
    assert!(msg.contains("auth.refresh_window_secs"), "{msg}");
}

#[test]
fn the_bounds_of_auto_are_checked_with_their_names() {
    let msg = problems(
        "[sync]\nconcurrency = \"auto\"\nmin_concurrency = 9\nmax_concurrency = 4\n",
        &[],
    );
    assert!(
        msg.contains("sync.min_concurrency: 9 is above sync.max_concurrency (4)"),
        "{msg}"
    );
    let msg = problems("[sync]\nmax_concurrency = 0\n", &[]);
    assert!(
        msg.contains("sync.max_concurrency: must be between 1 and 64, found 0"),
        "{msg}"
    );
}
