use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::config::file_layer::{column_of, line_of};
use crate::config::{AuthStyle, SyncConfig, TokenCacheMode};

fn run(text: Option<&str>, env: &[(&str, &str)], sets: &[&str]) -> Result<Merged, ConfigError> {
    let schema = Schema::new().unwrap();
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    merge(
        &schema,
        &Sources {
            recorded: None,
            file: text.map(|t| (Path::new("bad.toml"), t)),
            env: &env,
            sets: &sets,
        },
    )
}

fn err(text: Option<&str>, env: &[(&str, &str)], sets: &[&str]) -> String {
    match run(text, env, sets) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults_only_when_nothing_is_given() {
    let m = run(None, &[], &[]).unwrap();
    assert_eq!(m.config, Config::default());
    assert_eq!(m.provenance.get("sync.concurrency"), &Origin::Default);
    assert!(m.warnings.is_empty());
}

#[test]
fn precedence_flag_over_env_over_file_over_default() {
    let file = "[sync]\nconcurrency = 2\nsegment_size = 20\nmax_attempts = 7\n";
    let env = [
        ("SUPSYNC_SYNC_CONCURRENCY", "3"),
        ("SUPSYNC_SYNC_SEGMENT_SIZE", "30"),
    ];
    let m = run(Some(file), &env, &["sync.concurrency=4"]).unwrap();
    let s = &m.config.sync;
    assert_eq!((s.concurrency, s.segment_size, s.max_attempts), (4, 30, 7));
    assert_eq!(s.backoff_max_ms, SyncConfig::default().backoff_max_ms);
    let p = &m.provenance;
    assert_eq!(
        p.get("sync.concurrency"),
        &Origin::Flag {
            arg: "sync.concurrency=4".into()
        }
    );
    assert_eq!(
        p.get("sync.segment_size"),
        &Origin::Env {
            var: "SUPSYNC_SYNC_SEGMENT_SIZE".into()
        }
    );
    assert_eq!(
        p.get("sync.max_attempts"),
        &Origin::File {
            path: "bad.toml".into(),
            line: 4
        }
    );
    assert_eq!(p.get("sync.backoff_max_ms"), &Origin::Default);
}

#[test]
fn env_values_take_the_key_type() {
    let env = [
        ("SUPSYNC_API_BASE_URL", "https://qms.example.com"),
        ("SUPSYNC_API_ALLOW_INSECURE_HTTP", "true"),
        ("SUPSYNC_AUTH_SCOPES", "  a  b c "),
        ("SUPSYNC_AUTH_AUTH_STYLE", "post"),
        ("SUPSYNC_AUTH_CLIENT_SECRET_FILE", "/run/secret"),
    ];
    let m = run(None, &env, &["auth.token_cache=none"]).unwrap();
    let c = &m.config;
    assert_eq!(c.api.base_url, "https://qms.example.com");
    assert!(c.api.allow_insecure_http);
    assert_eq!(c.auth.scopes, vec!["a", "b", "c"]);
    assert_eq!(c.auth.auth_style, Some(AuthStyle::Post));
    assert_eq!(c.auth.token_cache, TokenCacheMode::None);
    assert_eq!(c.auth.client_secret_file, Some("/run/secret".into()));
    // An empty scope list (no scope at all) and the TOML array form.
    let m = run(None, &[("SUPSYNC_AUTH_SCOPES", "")], &[]).unwrap();
    assert!(m.config.auth.scopes.is_empty());
    let m = run(None, &[], &[r#"auth.scopes=["x", "y"]"#]).unwrap();
    assert_eq!(m.config.auth.scopes, vec!["x", "y"]);
}

#[test]
fn env_value_of_the_wrong_type_names_the_variable() {
    let msg = err(None, &[("SUPSYNC_SYNC_CONCURRENCY", "four")], &[]);
    assert_eq!(
        msg,
        "environment variable SUPSYNC_SYNC_CONCURRENCY: sync.concurrency: expected an integer, found \"four\""
    );
    let msg = err(None, &[("SUPSYNC_SYNC_MAX_ATTEMPTS", "-1")], &[]);
    assert!(
        msg.contains("SUPSYNC_SYNC_MAX_ATTEMPTS: sync.max_attempts: must be zero or more"),
        "{msg}"
    );
    let msg = err(None, &[("SUPSYNC_SYNC_MAX_ATTEMPTS", "99999999999")], &[]);
    assert!(msg.contains("99999999999 is too large"), "{msg}");
    let msg = err(None, &[("SUPSYNC_AUTH_AUTH_STYLE", "digest")], &[]);
    assert!(
        msg.contains("unknown value `digest`, expected `basic` or `post`"),
        "{msg}"
    );
    let msg = err(None, &[("SUPSYNC_API_ALLOW_INSECURE_HTTP", "maybe")], &[]);
    assert!(msg.contains("expected a boolean"), "{msg}");
}

#[test]
fn unknown_setting_like_env_vars_are_warned_about() {
    let env = [
        ("SUPSYNC_SYNC_CONCURENCY", "3"),
        ("SUPSYNC_AUTH_CLIENT_SECRET", "x"),
        ("SUPSYNC_CONFIG", "c.toml"),
        ("SUPSYNC_SOMETHING_ELSE", "1"),
    ];
    let m = run(None, &env, &[]).unwrap();
    assert_eq!(m.warnings.len(), 2, "{:?}", m.warnings);
    assert!(
        m.warnings
            .iter()
            .any(|w| w.contains("did you mean SUPSYNC_SYNC_CONCURRENCY?"))
    );
    assert!(
        m.warnings
            .iter()
            .any(|w| w.contains("SUPSYNC_AUTH_CLIENT_SECRET is not read"))
    );
    assert!(m.config.auth.client_secret.is_none());
}

#[test]
fn set_flag_errors() {
    assert!(err(None, &[], &["sync.concurrency"]).contains("expected KEY=VALUE"));
    let msg = err(None, &[], &["sync.concurency=3"]);
    assert_eq!(
        msg,
        "--set sync.concurency=3: unknown key `sync.concurency` (did you mean `sync.concurrency`?)"
    );
    let msg = err(None, &[], &["concurrency=3"]);
    assert!(msg.contains("did you mean `sync.concurrency`?"), "{msg}");
    let msg = err(None, &[], &["auth.client_secret=hunter2"]);
    assert!(
        msg.contains("refused") && msg.contains("SUPSYNC_CLIENT_SECRET"),
        "{msg}"
    );
    assert!(
        !msg.contains("hunter2"),
        "the refused secret is not repeated: {msg}"
    );
    let msg = err(None, &[], &[" auth.client_secret = hunter2 "]);
    assert!(msg.contains("refused") && !msg.contains("hunter2"), "{msg}");
    let msg = err(None, &[], &["auth.client_secrte=hunter2"]);
    assert!(
        msg.contains("unknown key") && !msg.contains("hunter2"),
        "{msg}"
    );
    let msg = err(None, &[], &["ui.tick_ms=fast"]);
    assert_eq!(
        msg,
        "--set ui.tick_ms=fast: ui.tick_ms: expected an integer, found \"fast\""
    );
}

#[test]
fn misspelt_key_in_file_names_key_section_and_line() {
    let text = "[sync]\nsegment_size = 10\nconcurency = 4\n";
    assert_eq!(
        err(Some(text), &[], &[]),
        "bad.toml:3: unknown key `concurency` in [sync] (did you mean `concurrency`?)"
    );
    let text = "[sync]\nfrobnicate = 4\n";
    let msg = err(Some(text), &[], &[]);
    assert!(
        msg.starts_with(
            "bad.toml:2: unknown key `frobnicate` in [sync]; known keys: segment_size, concurrency"
        ),
        "{msg}"
    );
}

#[test]
fn file_structure_errors() {
    let msg = err(Some("[synk]\nconcurrency = 4\n"), &[], &[]);
    assert_eq!(
        msg,
        "bad.toml:1: unknown section [synk] (did you mean [sync]?)"
    );
    let msg = err(Some("concurrency = 4\n[sync]\n"), &[], &[]);
    assert_eq!(
        msg,
        "bad.toml:1: `concurrency` is outside any section; put it under [sync]"
    );
    let msg = err(Some("\nsync = 4\n"), &[], &[]);
    assert_eq!(
        msg,
        "bad.toml:2: `sync` must be a section ([sync]), found an integer"
    );
    // Several problems: all reported, in file order.
    let msg = err(Some("[ui]\ntick = 1\n[api]\nbase = \"x\"\n"), &[], &[]);
    let lines: Vec<_> = msg.lines().collect();
    assert_eq!(lines.len(), 2, "{msg}");
    assert!(
        lines[0].starts_with("bad.toml:2: unknown key `tick` in [ui]"),
        "{msg}"
    );
    assert!(
        lines[1].starts_with("bad.toml:4: unknown key `base` in [api]"),
        "{msg}"
    );
}

#[test]
fn wrong_type_in_file_names_line_key_and_types() {
    let text = "[api]\ntimeout_secs = 5\n\n[sync]\nconcurrency = \"four\"\n";
    assert_eq!(
        err(Some(text), &[], &[]),
        "bad.toml:5: sync.concurrency: expected an integer, found a string"
    );
    let msg = err(Some("[auth]\nscopes = \"a b\"\n"), &[], &[]);
    assert_eq!(
        msg,
        "bad.toml:2: auth.scopes: expected a list of strings, found a string"
    );
    let msg = err(Some("[auth]\nscopes = [\"a\", 2]\n"), &[], &[]);
    assert!(msg.contains("found a list containing an integer"), "{msg}");
    let msg = err(Some("[auth]\ntoken_cache = \"plain\"\n"), &[], &[]);
    assert!(
        msg.starts_with("bad.toml:2: auth.token_cache: unknown value `plain`"),
        "{msg}"
    );
    let msg = err(Some("[ui]\ntick_ms = 1.5\n"), &[], &[]);
    assert_eq!(
        msg,
        "bad.toml:2: ui.tick_ms: expected an integer, found a float"
    );
}

#[test]
fn invalid_toml_names_line_and_column() {
    let msg = err(Some("[sync]\nconcurrency = = 4\n"), &[], &[]);
    assert!(msg.starts_with("bad.toml:2:"), "{msg}");
    assert!(msg.contains("invalid TOML"), "{msg}");
}

#[test]
fn file_values_are_recorded_with_their_lines() {
    let text =
        "# comment\n[api]\nbase_url = \"https://a.example\"\n[auth]\nclient_secret = \"x\"\n";
    let m = run(Some(text), &[], &[]).unwrap();
    assert_eq!(
        m.provenance.get("api.base_url").to_string(),
        "file bad.toml:3"
    );
    assert_eq!(
        m.provenance.get("auth.client_secret").to_string(),
        "file bad.toml:5"
    );
    assert_eq!(
        m.config.auth.client_secret.as_ref().map(|s| s.expose()),
        Some("x")
    );
}

#[test]
fn line_and_column_maths() {
    assert_eq!(line_of("a\nb\nc", 0), 1);
    assert_eq!(line_of("a\nb\nc", 2), 2);
    assert_eq!(line_of("a\nb\nc", 99), 3);
    assert_eq!(column_of("ab\ncd", 4), 2);
}

#[test]
fn dotted_keys_and_inline_tables_are_sections_too() {
    let text = "sync.concurrency = 3\napi = { timeout_secs = 9 }\n";
    let m = run(Some(text), &[], &[]).unwrap();
    assert_eq!(
        (m.config.sync.concurrency, m.config.api.timeout_secs),
        (3, 9)
    );
    assert_eq!(
        m.provenance.get("sync.concurrency").to_string(),
        "file bad.toml:1"
    );
    assert_eq!(
        m.provenance.get("api.timeout_secs").to_string(),
        "file bad.toml:2"
    );
    let msg = err(Some("sync.concurency = 3\n"), &[], &[]);
    assert_eq!(
        msg,
        "bad.toml:1: unknown key `concurency` in [sync] (did you mean `concurrency`?)"
    );
}

#[test]
fn concurrency_takes_auto_from_the_file_env_and_set() {
    use crate::config::AUTO_CONCURRENCY;
    let m = run(Some("[sync]\nconcurrency = \"auto\"\n"), &[], &[]).unwrap();
    assert!(m.config.sync.concurrency_is_auto());
    let m = run(None, &[("SUPSYNC_SYNC_CONCURRENCY", "auto")], &[]).unwrap();
    assert_eq!(m.config.sync.concurrency, AUTO_CONCURRENCY);
    let m = run(None, &[], &["sync.concurrency=auto"]).unwrap();
    assert_eq!(
        m.config.sync.concurrency_ceiling(),
        32,
        "auto's ceiling is max_concurrency"
    );
    let m = run(None, &[], &["sync.concurrency=6"]).unwrap();
    assert_eq!(m.config.sync.concurrency_ceiling(), 6);
    let msg = err(None, &[], &["sync.max_attempts=auto"]);
    assert!(msg.contains("sync.max_attempts"), "{msg}");
}
