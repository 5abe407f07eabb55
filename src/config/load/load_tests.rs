use std::collections::BTreeMap;

use super::*;
use crate::config::schema::Schema;

const EXAMPLE: &str = include_str!("../../../config.example.toml");

fn example() -> LoadedConfig {
    load_from(
        Some("config.example.toml".into()),
        Some(EXAMPLE),
        &BTreeMap::new(),
        &[],
    )
    .unwrap()
}

#[test]
fn example_parses_and_equals_the_defaults() {
    let loaded = example();
    // Every value in the example is the default, so its comments cannot lie about them.
    assert_eq!(loaded.config, Config::default());
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn example_has_every_key() {
    let example: toml::Table = toml::from_str(EXAMPLE).unwrap();
    let defaults = toml::Table::try_from(Config::default()).unwrap();
    for (section, body) in &defaults {
        let toml::Value::Table(body) = body else {
            panic!("{section} is not a section")
        };
        for key in body.keys() {
            assert!(
                example.get(section).and_then(|s| s.get(key)).is_some(),
                "config.example.toml lacks {section}.{key}"
            );
        }
    }
    // Keys without a default appear as commented examples, and those examples load.
    let schema = Schema::new().unwrap();
    for spec in &schema.keys {
        let present = crate::config::schema::lookup(&example, &spec.section, &spec.key).is_some();
        let commented = EXAMPLE
            .lines()
            .find(|l| l.starts_with(&format!("# {} = ", spec.key)));
        assert!(
            present || commented.is_some(),
            "config.example.toml lacks {}",
            spec.dotted()
        );
        if let (false, Some(line)) = (present, commented) {
            let text = format!("[{}]\n{}\n", spec.section, &line[2..]);
            match load_from(Some("x.toml".into()), Some(&text), &BTreeMap::new(), &[]) {
                Ok(_) => {}
                // A file the example names is read at load; it is not on this machine,
                // and the error shows the example itself was understood.
                Err(e) if e.to_string().contains("cannot read") => {}
                Err(e) => panic!("commented example {line:?} does not load: {e}"),
            }
        }
    }
}

#[test]
fn every_key_line_in_the_example_is_documented() {
    // Each key line follows a comment line (possibly a commented example).
    let lines: Vec<&str> = EXAMPLE.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let is_key = !line.starts_with('#') && !line.starts_with('[') && line.contains(" = ");
        if is_key {
            assert!(
                i > 0 && lines[i - 1].starts_with('#'),
                "config.example.toml line {}: {line:?} has no comment above it",
                i + 1
            );
        }
    }
}

#[test]
fn relative_secret_file_is_relative_to_the_config_file() {
    let text = "[auth]\nclient_secret_file = \"secret.txt\"\n";
    let loaded = load_from(
        Some("/etc/supsync/config.toml".into()),
        Some(text),
        &BTreeMap::new(),
        &[],
    )
    .unwrap();
    assert_eq!(
        loaded.config.auth.client_secret_file,
        Some("/etc/supsync/secret.txt".into())
    );
    // From env, it stays relative to the working directory.
    let env = BTreeMap::from([(
        "SUPSYNC_AUTH_CLIENT_SECRET_FILE".to_string(),
        "secret.txt".to_string(),
    )]);
    let loaded = load_from(None, None, &env, &[]).unwrap();
    assert_eq!(
        loaded.config.auth.client_secret_file,
        Some("secret.txt".into())
    );
}

#[test]
fn inline_secret_is_warned_about_without_showing_it() {
    let text = "[auth]\nclient_secret = \"hunter2-inline\"\n";
    let loaded = load_from(Some("c.toml".into()), Some(text), &BTreeMap::new(), &[]).unwrap();
    assert_eq!(loaded.warnings.len(), 1);
    assert!(
        loaded.warnings[0].starts_with("c.toml:2: auth.client_secret: an inline client secret")
    );
    assert!(!format!("{loaded:?}").contains("hunter2-inline"));
}

#[test]
fn state_dir_flag_wins_and_empty_is_refused() {
    let global = GlobalArgs {
        state_dir: Some("/tmp/s".into()),
        ..GlobalArgs::default()
    };
    assert_eq!(state_dir(&global).unwrap(), PathBuf::from("/tmp/s"));
    let global = GlobalArgs {
        state_dir: Some("".into()),
        ..GlobalArgs::default()
    };
    assert!(
        state_dir(&global)
            .unwrap_err()
            .to_string()
            .contains("empty")
    );
}

#[test]
fn missing_named_file_is_an_error() {
    let global = GlobalArgs {
        config: Some("/nonexistent/supsync.toml".into()),
        ..GlobalArgs::default()
    };
    let msg = load(&global).unwrap_err().to_string();
    assert!(
        msg.contains("/nonexistent/supsync.toml does not exist"),
        "{msg}"
    );
}

#[test]
fn a_retry_budget_that_cannot_trip_before_segments_fail_is_warned_about() {
    let text = "[sync]\nconcurrency = 4\nmax_attempts = 5\nretry_budget = 20\n";
    let loaded = load_from(Some("c.toml".into()), Some(text), &BTreeMap::new(), &[]).unwrap();
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("sync.retry_budget (20)") && w.contains("(20)")),
        "{:?}",
        loaded.warnings
    );
    let text = "[sync]\nconcurrency = 4\nmax_attempts = 5\nretry_budget = 19\n";
    let loaded = load_from(Some("c.toml".into()), Some(text), &BTreeMap::new(), &[]).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}
