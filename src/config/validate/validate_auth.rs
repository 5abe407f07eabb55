//! Checks of client authentication, extra parameters and headers: the method's files are
//! read and parsed here, at load, so a bad key or certificate stops every command with
//! exit 2 before any request, naming the key and the file.

use std::time::SystemTime;

use crate::config::key_material::{self, client_identity, signing_key};
use crate::config::validate::Checker;
use crate::config::{ClientAuthMethod, Config, headers};

/// Form parameters supsync sets itself; `auth.extra_params` may not replace them.
const RESERVED_PARAMS: &[&str] = &[
    "grant_type",
    "scope",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "refresh_token",
];

pub(super) fn check(config: &Config, c: &mut Checker<'_>, warnings: &mut Vec<String>) {
    let au = &config.auth;
    let method = config.client_auth_method();
    // A session login authenticates with a password: the OAuth2 client authentication is
    // not used, so it is not checked (files it names are not read).
    if matches!(
        au.kind,
        crate::config::AuthKind::Session
            | crate::config::AuthKind::TokenLogin
            | crate::config::AuthKind::ApiKey
    ) {
        if config.api.client_identity {
            check_certificate(config, c, warnings);
        }
        if let Some(path) = &config.api.ca_file
            && let Err(m) = key_material::ca_certificates("api.ca_file", path)
        {
            fail_keyed(c, &m, &["api.ca_file"]);
        }
        check_headers(config, c, warnings);
        return;
    }
    if let Some(style) = au.auth_style {
        let said = match style {
            crate::config::AuthStyle::Basic => ClientAuthMethod::ClientSecretBasic,
            crate::config::AuthStyle::Post => ClientAuthMethod::ClientSecretPost,
        };
        if method != said {
            c.fail(
                "auth.auth_style",
                format!(
                    "contradicts auth.method = \"{method}\"; remove auth.auth_style (it is the \
                     old name of auth.method)"
                ),
            );
        } else {
            warnings.push(format!(
                "auth.auth_style is deprecated; write auth.method = \"{method}\" instead"
            ));
        }
    }
    let unused = |key: &str, set: bool, warnings: &mut Vec<String>| {
        if set {
            warnings.push(format!(
                "{key} is set but auth.method = \"{method}\" does not use it"
            ));
        }
    };
    match method {
        ClientAuthMethod::PrivateKeyJwt => check_jwt(config, c, warnings),
        _ => {
            unused(
                "auth.private_key_file",
                au.private_key_file.is_some(),
                warnings,
            );
        }
    }
    let wants_cert = method == ClientAuthMethod::TlsClientAuth || config.api.client_identity;
    if wants_cert {
        check_certificate(config, c, warnings);
    } else {
        unused(
            "auth.client_cert_file",
            au.client_cert_file.is_some(),
            warnings,
        );
    }
    if method == ClientAuthMethod::TlsClientAuth && !config.token_url().starts_with("https://") {
        c.fail(
            "auth.method",
            format!(
                "tls_client_auth presents a certificate in TLS, so the token endpoint must be \
                 https://, found {}",
                config.token_url()
            ),
        );
    }
    if let Some(path) = &config.api.ca_file
        && let Err(m) = key_material::ca_certificates("api.ca_file", path)
    {
        fail_keyed(c, &m, &["api.ca_file"]);
    }
    for (name, value) in &au.extra_params {
        if name.trim().is_empty() {
            c.fail("auth.extra_params", "has an empty parameter name");
        } else if RESERVED_PARAMS.contains(&name.as_str()) {
            c.fail(
                "auth.extra_params",
                format!("{name} is set by supsync itself and cannot be an extra parameter"),
            );
        } else if value.chars().any(char::is_control) {
            c.fail(
                "auth.extra_params",
                format!("the value of {name} contains control characters"),
            );
        }
    }
    check_headers(config, c, warnings);
}

fn check_jwt(config: &Config, c: &mut Checker<'_>, warnings: &mut Vec<String>) {
    let au = &config.auth;
    let Some(path) = &au.private_key_file else {
        c.fail(
            "auth.method",
            "private_key_jwt signs with a private key: set auth.private_key_file to its PEM file",
        );
        return;
    };
    match signing_key("auth.private_key_file", path, au.signing_alg) {
        Ok(_) => warnings.extend(key_material::permission_warning(
            "auth.private_key_file",
            path,
        )),
        Err(m) => fail_keyed(c, &m, &["auth.private_key_file"]),
    }
    if au
        .key_id
        .as_ref()
        .is_some_and(|k| k.is_empty() || k.chars().any(char::is_control))
    {
        c.fail(
            "auth.key_id",
            "must be non-empty text without control characters",
        );
    }
    if let Some(aud) = &au.assertion_audience
        && aud.trim().is_empty()
    {
        c.fail(
            "auth.assertion_audience",
            "is empty; remove it to use the token endpoint URL",
        );
    }
}

fn check_certificate(config: &Config, c: &mut Checker<'_>, warnings: &mut Vec<String>) {
    let au = &config.auth;
    let why = if config.auth.kind == crate::config::AuthKind::Oauth2
        && config.client_auth_method() == ClientAuthMethod::TlsClientAuth
    {
        "auth.method = \"tls_client_auth\""
    } else {
        "api.client_identity = true"
    };
    let (cert, key) = match (&au.client_cert_file, &au.client_key_file) {
        (Some(cert), Some(key)) => (cert, key),
        (None, _) => {
            c.fail(
                "auth.client_cert_file",
                format!("{why} needs the client certificate: set auth.client_cert_file"),
            );
            return;
        }
        (Some(_), None) => {
            c.fail(
                "auth.client_key_file",
                format!("{why} needs the certificate's private key: set auth.client_key_file"),
            );
            return;
        }
    };
    match client_identity("auth.client_cert_file", cert, "auth.client_key_file", key) {
        Ok(id) => {
            let now = SystemTime::now();
            if id.certificate.not_after <= now {
                c.fail(
                    "auth.client_cert_file",
                    format!(
                        "the client certificate {} expired on {}; renew it",
                        cert.display(),
                        id.certificate.not_after_text()
                    ),
                );
            }
            warnings.extend(id.certificate.expiry_warning("auth.client_cert_file", now));
            warnings.extend(key_material::permission_warning(
                "auth.client_key_file",
                key,
            ));
        }
        Err(m) => fail_keyed(c, &m, &["auth.client_cert_file", "auth.client_key_file"]),
    }
}

fn check_headers(config: &Config, c: &mut Checker<'_>, warnings: &mut Vec<String>) {
    for (name, source) in &config.api.headers {
        if let Some(problem) = headers::name_problem(name) {
            c.fail("api.headers", problem);
            continue;
        }
        match source.resolve(name) {
            Err(m) => {
                c.fail("api.headers", m);
                continue;
            }
            // What HTTP carries as a header value (RFC 9110 §5.5), without obs-text.
            Ok(v)
                if !v
                    .expose()
                    .bytes()
                    .all(|b| b == b'\t' || (0x20..0x7f).contains(&b)) =>
            {
                c.fail(
                    "api.headers",
                    format!("the value of header {name} has control or non-ASCII characters"),
                );
                continue;
            }
            Ok(_) => {}
        }
        match source {
            headers::HeaderSource::Inline(_) => warnings.push(format!(
                "{}the value of header {name} is inline: anyone who can read the config file \
                 can read it; prefer {{ env = \"VAR\" }} or {{ file = \"/path\" }}",
                c.locate("api.headers")
            )),
            headers::HeaderSource::File(path) => {
                warnings.extend(key_material::permission_warning("api.headers", path));
            }
            headers::HeaderSource::Env(_) => {}
        }
    }
}

/// A message that starts with one of `keys` goes under that key (with its origin).
fn fail_keyed(c: &mut Checker<'_>, msg: &str, keys: &[&str]) {
    for key in keys {
        if let Some(rest) = msg.strip_prefix(&format!("{key}: ")) {
            c.fail(key, rest);
            return;
        }
    }
    c.fail(keys[0], msg);
}
