//! Where a secret of the configuration comes from: the client secret
//! (`SUPSYNC_CLIENT_SECRET` > `auth.client_secret_file` > inline `auth.client_secret`) and,
//! by the same rules, the session password (`SUPSYNC_SESSION_PASSWORD` >
//! `auth.session.password_file` > inline `auth.session.password`). Only fingerprints of
//! them are ever shown.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::config::provenance::Provenance;
use crate::config::{AuthConfig, ConfigError};
use crate::secret::Secret;

pub const SECRET_ENV: &str = "SUPSYNC_CLIENT_SECRET";
pub const PASSWORD_ENV: &str = "SUPSYNC_SESSION_PASSWORD";
pub const TOKEN_LOGIN_PASSWORD_ENV: &str = "SUPSYNC_TOKEN_LOGIN_PASSWORD";
pub const API_KEY_ENV: &str = "SUPSYNC_API_KEY";

/// The names of one secret: what it is, its environment variable, its two keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretKeys {
    /// "client secret", "session password".
    pub what: &'static str,
    pub env: &'static str,
    pub file_key: &'static str,
    pub inline_key: &'static str,
}

pub const CLIENT_SECRET: SecretKeys = SecretKeys {
    what: "client secret",
    env: SECRET_ENV,
    file_key: "auth.client_secret_file",
    inline_key: "auth.client_secret",
};

pub const SESSION_PASSWORD: SecretKeys = SecretKeys {
    what: "session password",
    env: PASSWORD_ENV,
    file_key: "auth.session.password_file",
    inline_key: "auth.session.password",
};

pub const TOKEN_LOGIN_PASSWORD: SecretKeys = SecretKeys {
    what: "token login password",
    env: TOKEN_LOGIN_PASSWORD_ENV,
    file_key: "auth.token_login.password_file",
    inline_key: "auth.token_login.password",
};

/// An API key has no inline key: it never sits in config text.
pub const API_KEY: SecretKeys = SecretKeys {
    what: "API key",
    env: API_KEY_ENV,
    file_key: "auth.api_key.key_file",
    inline_key: "",
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The environment variable named.
    Env(&'static str),
    File(PathBuf),
    /// The inline key named.
    Inline(&'static str),
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Env(var) => write!(f, "env {var}"),
            SecretSource::File(p) => write!(f, "secret file {}", p.display()),
            SecretSource::Inline(key) => write!(f, "inline {key}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ResolvedSecret {
    pub secret: Secret,
    pub source: SecretSource,
    /// E.g. a secret file readable by others.
    pub warnings: Vec<String>,
}

/// The message for a missing client secret: the three ways to give one.
pub fn missing_message() -> String {
    missing(CLIENT_SECRET)
}

/// The message for a missing secret: the three ways to give one.
pub fn missing(k: SecretKeys) -> String {
    format!(
        "no {what} configured; give it one of three ways: \
         the {env} environment variable (best for CI and services); \
         {file} = \"/path/to/file\" (first line is the {what}; chmod 600); \
         or {inline} = \"…\" in the config file (works, but warned about)",
        what = k.what,
        env = k.env,
        file = k.file_key,
        inline = k.inline_key,
    )
}

/// The client secret.
pub fn resolve(
    auth: &AuthConfig,
    prov: &Provenance,
    env: Option<OsString>,
) -> Result<ResolvedSecret, ConfigError> {
    resolve_with(
        CLIENT_SECRET,
        auth.client_secret_file.as_deref(),
        auth.client_secret.as_ref(),
        prov,
        env,
    )
}

/// The session password.
pub fn resolve_password(
    auth: &AuthConfig,
    prov: &Provenance,
    env: Option<OsString>,
) -> Result<ResolvedSecret, ConfigError> {
    resolve_with(
        SESSION_PASSWORD,
        auth.session.password_file.as_deref(),
        auth.session.password.as_ref(),
        prov,
        env,
    )
}

/// The token login's password.
pub fn resolve_token_login_password(
    auth: &AuthConfig,
    prov: &Provenance,
    env: Option<OsString>,
) -> Result<ResolvedSecret, ConfigError> {
    resolve_with(
        TOKEN_LOGIN_PASSWORD,
        auth.token_login.password_file.as_deref(),
        auth.token_login.password.as_ref(),
        prov,
        env,
    )
}

/// The API key (`auth.kind = "api_key"`): its environment variable, else its file.
pub fn resolve_api_key(
    auth: &AuthConfig,
    prov: &Provenance,
    env: Option<OsString>,
) -> Result<ResolvedSecret, ConfigError> {
    let k = API_KEY;
    resolve_with(k, auth.api_key.key_file.as_deref(), None, prov, env).map_err(|e| match e {
        ConfigError::MissingSecret(_) => ConfigError::MissingSecret(format!(
            "no {what} configured (auth.kind = \"api_key\"); give it one of two ways: the \
             {env} environment variable (best for CI and services), or {file} = \
             \"/path/to/file\" (first line is the key; chmod 600). It is never written in \
             the config file itself",
            what = k.what,
            env = k.env,
            file = k.file_key,
        )),
        other => other,
    })
}

/// The secret named by `k`: its environment variable, else its file, else inline.
pub fn resolve_with(
    k: SecretKeys,
    file: Option<&Path>,
    inline: Option<&Secret>,
    prov: &Provenance,
    env: Option<OsString>,
) -> Result<ResolvedSecret, ConfigError> {
    if let Some(raw) = env {
        let var = k.env;
        let value = raw.into_string().map_err(|_| {
            ConfigError::Invalid(format!("environment variable {var} is not valid UTF-8"))
        })?;
        let value = value.trim();
        if value.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "environment variable {var} is set but empty; unset it or give the {}",
                k.what
            )));
        }
        return Ok(ResolvedSecret {
            secret: Secret::new(value),
            source: SecretSource::Env(var),
            warnings: Vec::new(),
        });
    }
    if let Some(path) = file {
        let at = prov.locate(k.file_key);
        let secret =
            read_secret_file(k, path).map_err(|m| ConfigError::Invalid(format!("{at}{m}")))?;
        return Ok(ResolvedSecret {
            secret,
            source: SecretSource::File(path.to_path_buf()),
            warnings: permission_warning(k, path).into_iter().collect(),
        });
    }
    if let Some(secret) = inline {
        return Ok(ResolvedSecret {
            secret: secret.clone(),
            source: SecretSource::Inline(k.inline_key),
            warnings: vec![inline_warning_for(k, prov)],
        });
    }
    Err(ConfigError::MissingSecret(missing(k)))
}

pub fn inline_warning(prov: &Provenance) -> String {
    inline_warning_for(CLIENT_SECRET, prov)
}

pub fn inline_warning_for(k: SecretKeys, prov: &Provenance) -> String {
    format!(
        "{}an inline {what} is readable by anyone who can read the config file; \
         prefer {env} or {file}",
        prov.locate(k.inline_key),
        what = k.what,
        env = k.env,
        file = k.file_key,
    )
}

fn read_secret_file(k: SecretKeys, path: &Path) -> Result<Secret, String> {
    // The error text comes from the OS (not found, permission denied), never from the content.
    let text =
        crate::safe_file::read_text_capped(path, crate::safe_file::SECRET_CAP).map_err(|e| {
            e.explain(
                path,
                &format!("{} file", k.what),
                &format!("one {}", k.what),
            )
        })?;
    let first = text.lines().next().unwrap_or("").trim();
    if first.is_empty() {
        return Err(format!(
            "the {what} file {} is empty (its first line is the {what})",
            path.display(),
            what = k.what
        ));
    }
    Ok(Secret::new(first))
}

#[cfg(unix)]
fn permission_warning(k: SecretKeys, path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        format!(
            "the {} file {} is readable by group or others (mode {:o}); run `chmod 600 {}`",
            k.what,
            path.display(),
            mode & 0o777,
            path.display()
        )
    })
}

#[cfg(not(unix))]
fn permission_warning(_k: SecretKeys, _path: &Path) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::provenance::Origin;
    use std::io::Write;

    fn auth() -> AuthConfig {
        AuthConfig::default()
    }

    fn secret_file(content: &str, mode: u32) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content.as_bytes()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(mode)).unwrap();
        }
        #[cfg(not(unix))]
        let _ = mode;
        f
    }

    #[test]
    fn env_beats_file_beats_inline() {
        let f = secret_file("from-file\nsecond line\n", 0o600);
        let mut a = auth();
        a.client_secret = Some(Secret::new("inline"));
        a.client_secret_file = Some(f.path().to_path_buf());
        let p = Provenance::default();

        let r = resolve(&a, &p, Some("  from-env \n".into())).unwrap();
        assert_eq!(
            (r.secret.expose(), r.source),
            ("from-env", SecretSource::Env(SECRET_ENV))
        );

        let r = resolve(&a, &p, None).unwrap();
        assert_eq!(r.secret.expose(), "from-file");
        assert_eq!(r.source, SecretSource::File(f.path().to_path_buf()));
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);

        a.client_secret_file = None;
        let r = resolve(&a, &p, None).unwrap();
        assert_eq!(
            (r.secret.expose(), r.source),
            ("inline", SecretSource::Inline("auth.client_secret"))
        );
        assert!(r.warnings[0].contains("inline client secret"));
    }

    #[test]
    fn missing_secret_names_the_three_ways() {
        let err = resolve(&auth(), &Provenance::default(), None).unwrap_err();
        assert!(matches!(err, ConfigError::MissingSecret(_)));
        let msg = err.to_string();
        for way in [
            SECRET_ENV,
            "auth.client_secret_file",
            "auth.client_secret =",
        ] {
            assert!(msg.contains(way), "{msg}");
        }
    }

    #[test]
    fn unreadable_or_empty_file_is_a_clear_error() {
        let mut a = auth();
        a.client_secret_file = Some("/nonexistent/supsync/secret".into());
        let mut p = Provenance::default();
        p.set(
            "auth.client_secret_file",
            Origin::File {
                path: "cfg.toml".into(),
                line: 7,
            },
        );
        let msg = resolve(&a, &p, None).unwrap_err().to_string();
        assert!(
            msg.starts_with("cfg.toml:7: auth.client_secret_file: cannot read"),
            "{msg}"
        );
        assert!(msg.contains("/nonexistent/supsync/secret"));

        let f = secret_file("\n", 0o600);
        a.client_secret_file = Some(f.path().to_path_buf());
        let msg = resolve(&a, &p, None).unwrap_err().to_string();
        assert!(msg.contains("is empty"), "{msg}");

        let msg = resolve(&a, &p, Some("".into())).unwrap_err().to_string();
        assert!(msg.contains("set but empty"), "{msg}");
    }

    #[cfg(unix)]
    #[test]
    fn world_readable_file_is_warned_about() {
        let f = secret_file("s3cr3t-value", 0o644);
        let mut a = auth();
        a.client_secret_file = Some(f.path().to_path_buf());
        let r = resolve(&a, &Provenance::default(), None).unwrap();
        assert_eq!(r.warnings.len(), 1);
        assert!(r.warnings[0].contains("chmod 600"), "{:?}", r.warnings);
        assert!(r.warnings[0].contains("644"));
        assert!(!r.warnings[0].contains("s3cr3t-value"));
    }
}
