//! Checks of `auth.kind = "api_key"`: how the key is sent and where it comes from. Run
//! only for that kind. The key itself is read with the other secrets (load.rs).

use crate::config::api_key::parse_send_as;
use crate::config::validate::Checker;
use crate::config::{AuthKind, Carry, Config};

pub(super) fn check(config: &Config, c: &mut Checker<'_>, warnings: &mut Vec<String>) {
    if config.auth.kind != AuthKind::ApiKey {
        return;
    }
    let k = &config.auth.api_key;
    match parse_send_as(&k.send_as) {
        Err(m) => c.fail("auth.api_key.send_as", m),
        Ok(Carry::Cookie(_)) => c.fail(
            "auth.api_key.send_as",
            "an API key goes in a header or a query parameter: use header:<name>, bearer, \
             \"<Header>: <prefix>{token}\" or query:<param>",
        ),
        Ok(Carry::Header(name) | Carry::Prefixed { name, .. })
            if config
                .api
                .headers
                .keys()
                .any(|h| h.eq_ignore_ascii_case(&name)) =>
        {
            c.fail(
                "auth.api_key.send_as",
                format!("header {name} is also in api.headers; the key needs it alone"),
            );
        }
        Ok(_) => {}
    }
    if k.key_file
        .as_ref()
        .is_some_and(|p| p.as_os_str().is_empty())
    {
        c.fail(
            "auth.api_key.key_file",
            "is empty; give a path or remove it (or set SUPSYNC_API_KEY)",
        );
    }
    let au = &config.auth;
    let default = crate::config::AuthConfig::default();
    for (key, set) in [
        ("auth.token_url", au.token_url != default.token_url),
        ("auth.client_secret", au.client_secret.is_some()),
        ("auth.client_secret_file", au.client_secret_file.is_some()),
        (
            "auth.scopes",
            au.scopes != default.scopes && !au.scopes.is_empty(),
        ),
        ("auth.refresh_window_secs", au.refresh_window_secs > 0),
    ] {
        if set {
            warnings.push(format!(
                "{key} is set but auth.kind = \"api_key\" does not use it (an API key is sent \
                 as it is, never renewed)"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::config::{AuthKind, Carry, LoadedConfig, load_from};

    fn load(extra: &str, auth: &str) -> Result<LoadedConfig, String> {
        let text = format!(
            "[auth]\nkind = \"api_key\"\nclient_id = \"\"\n{auth}[auth.api_key]\n{extra}\n"
        );
        load_from(Some("t.toml".into()), Some(&text), &BTreeMap::new(), &[])
            .map_err(|e| e.to_string())
    }

    #[test]
    fn every_form_of_send_as_is_taken_and_a_cookie_is_refused_by_key_name() {
        let loaded = load("", "").unwrap();
        assert_eq!(loaded.config.auth.kind, AuthKind::ApiKey);
        assert_eq!(
            crate::config::api_key::parse_send_as(&loaded.config.auth.api_key.send_as).unwrap(),
            Carry::Header("X-Api-Key".into())
        );
        for ok in [
            "header:X-Api-Key",
            "bearer",
            "Authorization: Token {token}",
            "query:api_key",
        ] {
            load(&format!("send_as = \"{ok}\""), "").unwrap();
        }
        let e = load("send_as = \"cookie:key\"", "").unwrap_err();
        assert!(
            e.contains("auth.api_key.send_as") && e.contains("query:<param>"),
            "{e}"
        );
        let e = load("send_as = \"query:\"", "").unwrap_err();
        assert!(e.contains("auth.api_key.send_as"), "{e}");
        let e = load("key_file = \"\"", "").unwrap_err();
        assert!(e.contains("auth.api_key.key_file"), "{e}");
        // The key never sits in config text: there is no key for it.
        let e = load("key = \"k-123\"", "").unwrap_err();
        assert!(e.contains("key") && !e.contains("k-123"), "{e}");
    }

    #[test]
    fn oauth2_keys_set_beside_an_api_key_are_warned_about() {
        let loaded = load("", "client_secret_file = \"/tmp/secret\"\n").unwrap();
        assert!(
            loaded
                .warnings
                .iter()
                .any(|w| w.contains("auth.client_secret_file")
                    && w.contains("auth.kind = \"api_key\" does not use it")),
            "{:?}",
            loaded.warnings
        );
    }

    #[test]
    fn the_key_comes_from_its_env_or_file_and_a_missing_one_says_both() {
        let loaded = load("", "").unwrap();
        let r = crate::config::client_secret::resolve_api_key(
            &loaded.config.auth,
            &loaded.provenance,
            Some("k-live-123".into()),
        )
        .unwrap();
        assert_eq!(r.secret.expose(), "k-live-123");
        let e = crate::config::client_secret::resolve_api_key(
            &loaded.config.auth,
            &loaded.provenance,
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("SUPSYNC_API_KEY") && e.contains("auth.api_key.key_file"),
            "{e}"
        );
    }
}
