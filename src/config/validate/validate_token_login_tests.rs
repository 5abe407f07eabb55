use std::collections::BTreeMap;

use crate::config::client_secret::SecretSource;
use crate::config::token_login::LifetimeUnit;
use crate::config::{AuthKind, Carry, LoadedConfig, load_from};

fn load(text: &str, env: &[(&str, &str)], sets: &[&str]) -> Result<LoadedConfig, String> {
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    load_from(Some("t.toml".into()), Some(text), &env, &sets).map_err(|e| e.to_string())
}

const KIND: &str = "[auth]\nkind = \"token_login\"\nclient_id = \"\"\n[auth.token_login]\n";

#[test]
fn a_directus_config_is_the_user_alone() {
    let loaded = load(&format!("{KIND}username = \"bot@example.com\"\n"), &[], &[]).unwrap();
    let a = &loaded.config.auth;
    assert_eq!(a.kind, AuthKind::TokenLogin);
    let t = &a.token_login;
    assert_eq!(t.lifetime_unit, LifetimeUnit::Ms);
    assert_eq!(t.refresh_path, "/auth/refresh");
    assert_eq!(
        crate::config::token_login::parse_send_as(&t.send_as).unwrap(),
        Carry::Bearer
    );
    assert!(loaded.config.auth_url().ends_with("/auth/login"));
}

#[test]
fn bad_keys_are_named() {
    let bad = |extra: &str| load(&format!("{KIND}{extra}\n"), &[], &[]).unwrap_err();
    let e = bad("access_token_at = \"data.access_token\"");
    assert!(e.contains("auth.token_login.access_token_at"), "{e}");
    assert!(e.contains("JSON pointer"), "{e}");
    let e = bad("refresh_path = \"\"");
    assert!(e.contains("auth.token_login.refresh_path"), "{e}");
    let e = bad("send_as = \"query:token\"");
    assert!(e.contains("auth.token_login.send_as"), "{e}");
    let e = bad("password_field = \"email\"");
    assert!(e.contains("auth.token_login.password_field"), "{e}");
    let e = bad("refresh_extra = { refresh_token = \"x\" }");
    assert!(e.contains("auth.token_login.refresh_extra"), "{e}");
    let e = bad("lifetime_unit = \"minutes\"");
    assert!(e.contains("lifetime_unit"), "{e}");
    let e = bad("nope = 1");
    assert!(e.contains("nope"), "{e}");
    // A hand-set lifetime in milliseconds by mistake, or one too short to renew ahead of.
    let e = bad("username = \"bot\"\nlifetime_secs = 900000000");
    assert!(e.contains("auth.token_login.lifetime_secs"), "{e}");
    let e = bad("username = \"bot\"\nlifetime_secs = 1");
    assert!(e.contains("2 to"), "{e}");
    load(
        &format!("{KIND}username = \"bot\"\nlifetime_secs = 8\n"),
        &[],
        &[],
    )
    .unwrap();
}

#[test]
fn the_password_comes_from_its_own_env_and_never_from_set() {
    let text = format!("{KIND}username = \"bot\"\n");
    let loaded = load(&text, &[], &[]).unwrap();
    let r = crate::config::client_secret::resolve_token_login_password(
        &loaded.config.auth,
        &loaded.provenance,
        Some("s3cret".into()),
    )
    .unwrap();
    assert_eq!(r.secret.expose(), "s3cret");
    assert_eq!(r.source, SecretSource::Env("SUPSYNC_TOKEN_LOGIN_PASSWORD"));
    let e = load(&text, &[], &["auth.token_login.password=hunter2"]).unwrap_err();
    assert!(e.contains("SUPSYNC_TOKEN_LOGIN_PASSWORD"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
}
