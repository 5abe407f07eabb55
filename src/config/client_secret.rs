//! Where the client secret comes from: `SUPSYNC_CLIENT_SECRET` > `auth.client_secret_file` >
//! inline `auth.client_secret`. Only fingerprints of it are ever shown.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use super::provenance::Provenance;
use super::{AuthConfig, ConfigError};
use crate::secret::Secret;

pub const SECRET_ENV: &str = "SUPSYNC_CLIENT_SECRET";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env,
    File(PathBuf),
    Inline,
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Env => write!(f, "env {SECRET_ENV}"),
            SecretSource::File(p) => write!(f, "secret file {}", p.display()),
            SecretSource::Inline => write!(f, "inline auth.client_secret"),
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

/// The message for a missing secret: the three ways to give one.
pub fn missing_message() -> String {
    format!(
        "no client secret configured; give it one of three ways: \
         the {SECRET_ENV} environment variable (best for CI and services); \
         auth.client_secret_file = \"/path/to/file\" (first line is the secret; chmod 600); \
         or auth.client_secret = \"…\" in the config file (works, but warned about)"
    )
}

pub fn resolve(
    auth: &AuthConfig,
    prov: &Provenance,
    env: Option<OsString>,
) -> Result<ResolvedSecret, ConfigError> {
    if let Some(raw) = env {
        let value = raw.into_string().map_err(|_| {
            ConfigError::Invalid(format!(
                "environment variable {SECRET_ENV} is not valid UTF-8"
            ))
        })?;
        let value = value.trim();
        if value.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "environment variable {SECRET_ENV} is set but empty; unset it or give the secret"
            )));
        }
        return Ok(ResolvedSecret {
            secret: Secret::new(value),
            source: SecretSource::Env,
            warnings: Vec::new(),
        });
    }
    if let Some(path) = &auth.client_secret_file {
        let at = prov.locate("auth.client_secret_file");
        let secret =
            read_secret_file(path).map_err(|m| ConfigError::Invalid(format!("{at}{m}")))?;
        return Ok(ResolvedSecret {
            secret,
            source: SecretSource::File(path.clone()),
            warnings: permission_warning(path).into_iter().collect(),
        });
    }
    if let Some(secret) = &auth.client_secret {
        return Ok(ResolvedSecret {
            secret: secret.clone(),
            source: SecretSource::Inline,
            warnings: vec![inline_warning(prov)],
        });
    }
    Err(ConfigError::MissingSecret(missing_message()))
}

pub fn inline_warning(prov: &Provenance) -> String {
    format!(
        "{}an inline client secret is readable by anyone who can read the config file; \
         prefer {SECRET_ENV} or auth.client_secret_file",
        prov.locate("auth.client_secret")
    )
}

fn read_secret_file(path: &Path) -> Result<Secret, String> {
    // The error text comes from the OS (not found, permission denied), never from the content.
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the client secret file {}: {e}; check the path and that the user \
             running supsync may read it",
            path.display()
        )
    })?;
    let first = text.lines().next().unwrap_or("").trim();
    if first.is_empty() {
        return Err(format!(
            "the client secret file {} is empty (its first line is the secret)",
            path.display()
        ));
    }
    Ok(Secret::new(first))
}

#[cfg(unix)]
fn permission_warning(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        format!(
            "the client secret file {} is readable by group or others (mode {:o}); run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        )
    })
}

#[cfg(not(unix))]
fn permission_warning(_path: &Path) -> Option<String> {
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
            ("from-env", SecretSource::Env)
        );

        let r = resolve(&a, &p, None).unwrap();
        assert_eq!(r.secret.expose(), "from-file");
        assert_eq!(r.source, SecretSource::File(f.path().to_path_buf()));
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);

        a.client_secret_file = None;
        let r = resolve(&a, &p, None).unwrap();
        assert_eq!(
            (r.secret.expose(), r.source),
            ("inline", SecretSource::Inline)
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
