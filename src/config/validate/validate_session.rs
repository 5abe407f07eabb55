//! Checks of `auth.kind = "session"`: the user name and field names, the
//! password's sources, where the id comes from and how it is sent, the keep-alive and
//! logout paths. Run only for that kind; `auth.max_failed_logins` is checked always.

use crate::config::session::{Carry, IdSource};
use crate::config::validate::{Checker, url_problem};
use crate::config::{AuthKind, Config};

/// More than this many refused logins in a row is no longer "a few": servers commonly
/// lock an account after 5.
pub const MAX_FAILED_LOGINS: u64 = 10;

pub(super) fn check(config: &Config, c: &mut Checker<'_>, warnings: &mut Vec<String>) {
    c.range(
        "auth.max_failed_logins",
        u64::from(config.auth.max_failed_logins),
        1,
        MAX_FAILED_LOGINS,
        "",
    );
    if config.auth.kind != AuthKind::Session {
        warn_unused_session_keys(config, warnings);
        return;
    }
    let s = &config.auth.session;
    for name in s.login_fields.keys() {
        if name.trim().is_empty() || name.chars().any(char::is_control) {
            c.fail(
                "auth.session.login_fields",
                format!("{name:?} is not a field name"),
            );
        } else if *name == s.username_field || *name == s.password_field {
            c.fail(
                "auth.session.login_fields",
                format!("{name} is the user name or password field; the login sets it itself"),
            );
        }
    }
    let au = &config.auth;
    let default = crate::config::AuthConfig::default();
    for (key, set) in [
        ("auth.token_url", au.token_url != default.token_url),
        ("auth.client_id", au.client_id != default.client_id),
        ("auth.method", au.method != default.method),
        ("auth.client_secret", au.client_secret.is_some()),
        ("auth.client_secret_file", au.client_secret_file.is_some()),
        ("auth.private_key_file", au.private_key_file.is_some()),
        ("auth.extra_params", !config.auth.extra_params.is_empty()),
        (
            "auth.extra_params_on_refresh",
            config.auth.extra_params_on_refresh,
        ),
        (
            "auth.refresh_window_secs",
            config.auth.refresh_window_secs > 0,
        ),
    ] {
        if set {
            warnings.push(format!(
                "{key} is set but auth.kind = \"session\" does not use it (a session login \
                 sends only the user name, the password and auth.session.login_fields)"
            ));
        }
    }
    // The login path is checked with the other URLs (validate.rs).
    check_path(c, "auth.session.keepalive_path", &s.keepalive_path, config);
    check_path(c, "auth.session.logout_path", &s.logout_path, config);
    check_login_fields(
        c,
        "auth.session",
        &[("username", &s.username)],
        &s.username_field,
        &s.password_field,
    );
    if s.password.as_ref().is_some_and(|p| p.is_empty()) {
        c.fail(
            "auth.session.password",
            "is empty; remove it or give the password",
        );
    }
    if s.password_file
        .as_ref()
        .is_some_and(|p| p.as_os_str().is_empty())
    {
        c.fail(
            "auth.session.password_file",
            "is empty; give a path or remove it",
        );
    }
    if let Err(m) = IdSource::parse(&s.session_from) {
        c.fail("auth.session.session_from", m);
    }
    match Carry::parse(&s.send_as) {
        Err(m) => c.fail("auth.session.send_as", m),
        Ok(Carry::Header(name))
            if config
                .api
                .headers
                .keys()
                .any(|h| h.eq_ignore_ascii_case(&name)) =>
        {
            c.fail(
                "auth.session.send_as",
                format!("header {name} is also in api.headers; the session id needs it alone"),
            );
        }
        Ok(_) => {}
    }
    if config.auth.scopes != crate::config::AuthConfig::default().scopes
        && !config.auth.scopes.is_empty()
    {
        warnings.push(
            "auth.scopes is set but auth.kind = \"session\" does not use it (a session login \
             asks for no scope)"
                .into(),
        );
    }
}

/// `[auth.session]` keys changed from their defaults while `auth.kind = "oauth2"`.
fn warn_unused_session_keys(config: &Config, warnings: &mut Vec<String>) {
    let as_table = |s: &crate::config::SessionConfig| match toml::Value::try_from(s) {
        Ok(toml::Value::Table(t)) => t,
        _ => toml::Table::new(),
    };
    let set = as_table(&config.auth.session);
    let default = as_table(&crate::config::SessionConfig::default());
    let mut changed: Vec<&str> = set
        .iter()
        .filter(|(k, v)| default.get(*k) != Some(v))
        .map(|(k, _)| k.as_str())
        .collect();
    if config.auth.session.password.is_some() {
        changed.push("password");
    }
    for key in changed {
        warnings.push(format!(
            "auth.session.{key} is set but auth.kind = \"oauth2\" does not use it (set auth.kind \
             = \"session\" for a session login)"
        ));
    }
}

/// "" (not used), a path joined to `api.base_url`, or an absolute URL.
pub(super) fn check_path(c: &mut Checker<'_>, key: &str, path: &str, config: &Config) {
    if path.is_empty() {
        return;
    }
    if path.chars().any(char::is_whitespace) {
        c.fail(key, format!("{path:?} contains whitespace"));
        return;
    }
    // A relative path inherits api.base_url's problems, which are reported there.
    if path.contains("://")
        && let Some(msg) = url_problem(path, config.api.allow_insecure_http)
    {
        c.fail(key, msg);
    }
}

#[cfg(test)]
#[path = "validate_session_tests.rs"]
mod tests;

/// The user name and field names of a login (session or token login) under `prefix`:
/// none empty or with control characters, and the user and password in two fields.
/// `more`: further (key under `prefix`, value) pairs held to the same rule.
pub(super) fn check_login_fields(
    c: &mut Checker<'_>,
    prefix: &str,
    more: &[(&str, &str)],
    username_field: &str,
    password_field: &str,
) {
    let fields = [
        ("username_field", username_field),
        ("password_field", password_field),
    ];
    for (key, value) in more.iter().chain(fields.iter()) {
        let key = format!("{prefix}.{key}");
        if value.trim().is_empty() {
            c.fail(&key, "must not be empty");
        } else if value.chars().any(char::is_control) {
            c.fail(&key, "must not contain control characters");
        }
    }
    if username_field == password_field {
        c.fail(
            &format!("{prefix}.password_field"),
            format!(
                "is the same field as {prefix}.username_field ({password_field:?}); the login needs two"
            ),
        );
    }
}
