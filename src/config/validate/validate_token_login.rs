//! Checks of `auth.kind = "token_login"`: user and field names, the password's sources,
//! the JSON pointers into the answers, the refresh and logout paths, and `send_as`. Run
//! only for that kind (the login path is checked with the other URLs, in validate.rs).

use crate::config::token_login::parse_send_as;
use crate::config::validate::Checker;
use crate::config::validate_session::check_path;
use crate::config::{AuthKind, Carry, Config};

/// A hand-set lifetime above a year is a typo (milliseconds, most likely).
const MAX_LIFETIME_SECS: u64 = 366 * 24 * 3600;

pub(super) fn check(config: &Config, c: &mut Checker<'_>, warnings: &mut Vec<String>) {
    if config.auth.kind != AuthKind::TokenLogin {
        return;
    }
    let t = &config.auth.token_login;
    check_path(c, "auth.token_login.refresh_path", &t.refresh_path, config);
    check_path(c, "auth.token_login.logout_path", &t.logout_path, config);
    crate::config::validate_session::check_login_fields(
        c,
        "auth.token_login",
        &[
            ("username", &t.username),
            ("refresh_field", &t.refresh_field),
        ],
        &t.username_field,
        &t.password_field,
    );
    for (key, fields, own) in [
        (
            "auth.token_login.login_extra",
            &t.login_extra,
            [&t.username_field, &t.password_field],
        ),
        (
            "auth.token_login.refresh_extra",
            &t.refresh_extra,
            [&t.refresh_field, &t.refresh_field],
        ),
    ] {
        if let Some(k) = fields.keys().find(|k| own.contains(k)) {
            c.fail(
                key,
                format!("{k:?} is a field supsync fills itself; remove it from {key}"),
            );
        }
    }
    if t.lifetime_secs != 0 && !(2..=MAX_LIFETIME_SECS).contains(&t.lifetime_secs) {
        c.fail(
            "auth.token_login.lifetime_secs",
            format!(
                "is {}; give the access token's lifetime in seconds, 2 to {MAX_LIFETIME_SECS} \
                 (0 = not set: from the answer, the JWT, else learned)",
                t.lifetime_secs
            ),
        );
    }
    if t.password.as_ref().is_some_and(|p| p.is_empty()) {
        c.fail(
            "auth.token_login.password",
            "is empty; remove it or give the password",
        );
    }
    if t.password_file
        .as_ref()
        .is_some_and(|p| p.as_os_str().is_empty())
    {
        c.fail(
            "auth.token_login.password_file",
            "is empty; give a path or remove it",
        );
    }
    let pointers = [
        (
            "auth.token_login.access_token_at",
            &t.access_token_at,
            false,
        ),
        (
            "auth.token_login.refresh_token_at",
            &t.refresh_token_at,
            true,
        ),
        ("auth.token_login.lifetime_at", &t.lifetime_at, true),
    ];
    for (key, p, may_be_empty) in pointers {
        if p.is_empty() && !may_be_empty {
            c.fail(
                key,
                "must not be empty: a JSON pointer such as /data/access_token",
            );
        } else if !p.is_empty() && !p.starts_with('/') {
            c.fail(
                key,
                format!("{p:?} is not a JSON pointer: it starts with / (e.g. /data/access_token)"),
            );
        }
    }
    if t.refresh_path.is_empty() != t.refresh_token_at.is_empty() {
        c.fail(
            "auth.token_login.refresh_path",
            "and auth.token_login.refresh_token_at go together: set both (refresh with the \
             refresh token) or neither (every renewal is a login)",
        );
    }
    match parse_send_as(&t.send_as) {
        Err(m) => c.fail("auth.token_login.send_as", m),
        Ok(Carry::Header(name) | Carry::Prefixed { name, .. })
            if config
                .api
                .headers
                .keys()
                .any(|h| h.eq_ignore_ascii_case(&name)) =>
        {
            c.fail(
                "auth.token_login.send_as",
                format!("header {name} is also in api.headers; the token needs it alone"),
            );
        }
        Ok(_) => {}
    }
    if config.auth.scopes != crate::config::AuthConfig::default().scopes
        && !config.auth.scopes.is_empty()
    {
        warnings.push(
            "auth.scopes is set but auth.kind = \"token_login\" does not use it (a login asks \
             for no scope)"
                .into(),
        );
    }
}

#[cfg(test)]
#[path = "validate_token_login_tests.rs"]
mod tests;
