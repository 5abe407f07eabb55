use std::collections::BTreeMap;
use std::io::Write;

use crate::config::client_secret::{PASSWORD_ENV, SecretSource};
use crate::config::load::load_layered;
use crate::config::recorded::Recorded;
use crate::config::{
    AuthKind, Carry, Config, IdSource, LoadedConfig, LoginBody, LoginMethod, load_from,
};

fn load(text: &str, env: &[(&str, &str)], sets: &[&str]) -> Result<LoadedConfig, String> {
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    load_from(Some("s.toml".into()), Some(text), &env, &sets).map_err(|e| e.to_string())
}

const SESSION: &str = "[auth]\nkind = \"session\"\n";

#[test]
fn a_session_config_loads_without_any_oauth2_key() {
    // Nonsense in the OAuth2 keys is not looked at: a session login does not use them.
    let text = format!(
        "{SESSION}client_id = \"\"\ntoken_url = \"ftp://nowhere\"\nmethod = \"private_key_jwt\"\n\
         [auth.session]\nlogin_path = \"/login\"\nlogin_method = \"PUT\"\nlogin_body = \"form\"\n\
         username = \"bot\"\nsession_from = \"cookie:SID\"\nsend_as = \"cookie:SID\"\n\
         logout_path = \"/logout\"\n"
    );
    let loaded = load(&text, &[], &[]).unwrap();
    let a = &loaded.config.auth;
    assert_eq!(a.kind, AuthKind::Session);
    assert_eq!(a.max_failed_logins, 3);
    let s = &a.session;
    assert_eq!(
        (s.login_method, s.login_body),
        (LoginMethod::Put, LoginBody::Form)
    );
    assert_eq!(
        IdSource::parse(&s.session_from),
        Ok(IdSource::Cookie("SID".into()))
    );
    assert_eq!(Carry::parse(&s.send_as), Ok(Carry::Cookie("SID".into())));
    assert_eq!(loaded.config.login_url(), "http://127.0.0.1:8080/login");
    assert_eq!(loaded.config.auth_url(), loaded.config.login_url());
    // The same nonsense with OAuth2 is refused.
    let oauth = text.replace("kind = \"session\"\n", "");
    let e = load(&oauth, &[], &[]).unwrap_err();
    assert!(
        e.contains("auth.client_id") && e.contains("auth.token_url"),
        "{e}"
    );
}

#[test]
fn session_keys_are_checked_with_key_and_line() {
    let e = load(
        &format!("{SESSION}[auth.session]\nlogn_path = \"/x\"\n"),
        &[],
        &[],
    )
    .unwrap_err();
    assert_eq!(
        e,
        "s.toml:4: unknown key `logn_path` in [auth.session] (did you mean `login_path`?)"
    );
    let e = load(
        &format!("{SESSION}[auth.session]\nusername = \"bot\"\nsession_from = \"sessionId\"\n"),
        &[],
        &[],
    )
    .unwrap_err();
    assert!(
        e.starts_with("s.toml:5: auth.session.session_from: \"sessionId\" has no kind"),
        "{e}"
    );
    let e = load(
        &format!("{SESSION}[auth.session]\nsend_as = \"body:/id\"\nlogin_body = \"xml\"\n"),
        &[],
        &[],
    )
    .unwrap_err();
    assert!(e.contains("s.toml:5: auth.session.login_body:"), "{e}");
    let e = load(
        &format!("{SESSION}[auth.session]\nsend_as = \"body:/id\"\n"),
        &[],
        &[],
    )
    .unwrap_err();
    assert!(e.starts_with("s.toml:4: auth.session.send_as:"), "{e}");
    let e = load(&format!("{SESSION}session = \"x\"\n"), &[], &[]).unwrap_err();
    assert!(
        e.contains("s.toml:3: `session` in [auth] must be a section ([auth.session])"),
        "{e}"
    );
    let e = load(
        &format!(
            "{SESSION}[auth.session]\nusername = \"\"\npassword_field = \"username\"\n\
             keepalive_path = \"/a b\"\nlogin_path = \"http://qms.example.com/login\"\n"
        ),
        &[],
        &[],
    )
    .unwrap_err();
    for want in [
        "s.toml:4: auth.session.username: must not be empty",
        "s.toml:5: auth.session.password_field: is the same field",
        "s.toml:6: auth.session.keepalive_path: \"/a b\" contains whitespace",
        "s.toml:7: auth.session.login_path: http://qms.example.com/login uses plain http://",
    ] {
        assert!(e.contains(want), "{want:?} not in {e}");
    }
    for n in ["0", "11"] {
        let e = load(&format!("[auth]\nmax_failed_logins = {n}\n"), &[], &[]).unwrap_err();
        assert!(
            e.starts_with("s.toml:2: auth.max_failed_logins: must be between 1 and 10"),
            "{e}"
        );
    }
    let e = load(
        &format!(
            "{SESSION}[auth.session]\nsend_as = \"header:apiKey\"\n[api.headers]\napikey = \"k\"\n"
        ),
        &[],
        &[],
    )
    .unwrap_err();
    assert!(e.contains("also in api.headers"), "{e}");
}

#[test]
fn env_and_flags_reach_the_nested_section_but_never_the_password() {
    let loaded = load(
        SESSION,
        &[("SUPSYNC_AUTH_SESSION_USERNAME", "env-bot")],
        &[
            "auth.session.login_path=/v2/login",
            "auth.max_failed_logins=5",
        ],
    )
    .unwrap();
    let a = &loaded.config.auth;
    assert_eq!(a.session.username, "env-bot");
    assert_eq!(a.session.login_path, "/v2/login");
    assert_eq!(a.max_failed_logins, 5);
    assert_eq!(
        loaded.provenance.get("auth.session.username").to_string(),
        "env SUPSYNC_AUTH_SESSION_USERNAME"
    );
    let e = load(SESSION, &[], &["auth.session.password=hunter2-canary"]).unwrap_err();
    assert!(e.contains("refused") && e.contains(PASSWORD_ENV), "{e}");
    assert!(!e.contains("hunter2-canary"), "{e}");
    // A misspelt password key does not echo its value either.
    let e = load(SESSION, &[], &["auth.session.pasword=hunter2-canary"]).unwrap_err();
    assert!(!e.contains("hunter2-canary"), "{e}");
    let w = load(
        SESSION,
        &[("SUPSYNC_AUTH_SESSION_PASSWORD", "hunter2-canary")],
        &[],
    )
    .unwrap()
    .warnings;
    assert!(
        w.iter()
            .any(|w| w.contains("comes from SUPSYNC_SESSION_PASSWORD")),
        "{w:?}"
    );
}

#[test]
fn the_password_comes_from_env_then_file_then_inline() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    let mut f = std::fs::File::create(&file).unwrap();
    f.write_all(b"from-file\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let cfg = dir.path().join("c.toml");
    let text =
        format!("{SESSION}[auth.session]\npassword_file = \"pw\"\npassword = \"inline-pw\"\n");
    let loaded = load_from(Some(cfg), Some(&text), &BTreeMap::new(), &[]).unwrap();
    // Relative to the config file.
    assert_eq!(loaded.config.auth.session.password_file, Some(file.clone()));
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("auth.session.password: an inline session password")),
        "{:?}",
        loaded.warnings
    );
    let auth = &loaded.config.auth;
    let prov = &loaded.provenance;
    let r = crate::config::client_secret::resolve_password(auth, prov, Some("from-env".into()))
        .unwrap();
    assert_eq!(
        (r.secret.expose(), r.source),
        ("from-env", SecretSource::Env(PASSWORD_ENV))
    );
    let r = crate::config::client_secret::resolve_password(auth, prov, None).unwrap();
    assert_eq!(r.secret.expose(), "from-file");
    let mut inline = auth.clone();
    inline.session.password_file = None;
    let r = crate::config::client_secret::resolve_password(&inline, prov, None).unwrap();
    assert_eq!(r.source, SecretSource::Inline("auth.session.password"));
    inline.session.password = None;
    let e = crate::config::client_secret::resolve_password(&inline, prov, None)
        .unwrap_err()
        .to_string();
    for way in [
        PASSWORD_ENV,
        "auth.session.password_file",
        "auth.session.password =",
    ] {
        assert!(e.contains(way), "{e}");
    }
}

#[test]
fn a_recorded_session_config_comes_back_under_the_file() {
    let mut c = Config::default();
    c.auth.kind = AuthKind::Session;
    c.auth.session.username = "recorded-bot".into();
    c.auth.session.password_field = "pwd".into();
    c.auth.session.send_as = "cookie:SID".into();
    let json = serde_json::to_value(&c).unwrap();
    assert!(json["auth"]["session"].get("password").is_none(), "{json}");
    let rec = Recorded::from_manifest("r1", &json).unwrap();
    assert!(rec.warnings.is_empty(), "{:?}", rec.warnings);
    assert_eq!(rec.config().unwrap(), c);
    // The file's [auth.session] keys go over the recorded ones, key by key.
    let text = "[auth.session]\nlogin_path = \"/v2/login\"\n";
    let loaded = load_layered(
        Some(&rec),
        Some("f.toml".into()),
        Some(text),
        &BTreeMap::new(),
        &[],
    )
    .unwrap();
    let s = &loaded.config.auth.session;
    assert_eq!(s.login_path, "/v2/login");
    assert_eq!(s.username, "recorded-bot");
    assert_eq!(s.password_field, "pwd");
    assert_eq!(
        loaded.provenance.get("auth.session.username").to_string(),
        "recorded by run r1"
    );
    let moved = crate::config::recorded::moved(&c, &loaded.config, &loaded.provenance).unwrap();
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(moved[0].key, "auth.session.login_path");
}

#[test]
fn keys_the_chosen_kind_does_not_use_are_warned_about() {
    let text = format!(
        "{SESSION}extra_params = {{ audience = \"x\" }}\n[auth.session]\n\
         login_fields = {{ workspaceId = \"ws-1\" }}\nlogout_method = \"PUT\"\nsingle = true\n"
    );
    let loaded = load(&text, &[], &[]).unwrap();
    let w = &loaded.warnings;
    assert!(
        w.iter()
            .any(|w| w.starts_with("auth.extra_params is set but auth.kind = \"session\"")),
        "{w:?}"
    );
    let s = &loaded.config.auth.session;
    assert_eq!(s.logout_method, crate::config::CallMethod::Put);
    assert!(s.single);
    assert_eq!(s.login_fields.len(), 1);

    let text = "[auth.session]\nlogout_method = \"DELETE\"\nsingle = true\n";
    let w = load(text, &[], &[]).unwrap().warnings;
    for key in ["logout_method", "single"] {
        assert!(
            w.iter().any(|w| w.starts_with(&format!(
                "auth.session.{key} is set but auth.kind = \"oauth2\""
            ))),
            "{key}: {w:?}"
        );
    }
    assert!(
        !w.iter().any(|w| w.contains("auth.session.username ")),
        "{w:?}"
    );

    let e = load(
        &format!("{SESSION}[auth.session]\nlogin_fields = {{ username = \"x\" }}\n"),
        &[],
        &[],
    )
    .unwrap_err();
    assert!(e.contains("auth.session.login_fields"), "{e}");
    let e = load(
        &format!("{SESSION}[auth.session]\nlogout_method = \"PATCH\"\n"),
        &[],
        &[],
    )
    .unwrap_err();
    assert!(e.contains("logout_method"), "{e}");
}
