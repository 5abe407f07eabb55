//! Finding and reading the configuration: lookup (`--config`, `SUPSYNC_CONFIG`, the
//! platform config dir), layering (see `merge`), validation, and the state dir.

pub(super) mod file_layer;
pub mod merge;
pub mod recorded;
pub mod schema;
pub(super) mod typed;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::client_secret::{self, PASSWORD_ENV, ResolvedSecret, SECRET_ENV};
use super::merge::{Sources, merge};
use super::provenance::{Origin, Provenance};
use super::recorded::Recorded;
use super::schema::Schema;
use super::validate::validate;
use super::{AuthKind, Config, ConfigError};
use crate::cli::GlobalArgs;
use crate::secret::Secret;

/// The effective configuration and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub config: Config,
    /// The file read, if any.
    pub path: Option<PathBuf>,
    /// Where each value came from (`default` when not recorded).
    pub provenance: Provenance,
    /// Allowed but dubious settings (already logged with `tracing::warn!` by `load`).
    pub warnings: Vec<String>,
}

impl LoadedConfig {
    /// A configuration built in code (tests, the demo): every value counts as a default.
    pub fn from_config(config: Config) -> Self {
        Self {
            config,
            path: None,
            provenance: Provenance::default(),
            warnings: Vec::new(),
        }
    }

    /// The secret the configured authentication sends: with `auth.kind = "session"` the
    /// session password (`SUPSYNC_SESSION_PASSWORD`, else `auth.session.password_file`,
    /// else inline); otherwise the client secret (`SUPSYNC_CLIENT_SECRET`, else
    /// `client_secret_file`, else inline). A method that authenticates with a key or
    /// certificate needs none: it gets an empty one, never sent.
    pub fn client_secret(&self) -> Result<Secret, ConfigError> {
        let resolved = match self.config.auth.kind {
            AuthKind::Session => self.resolve_session_password()?,
            AuthKind::TokenLogin => self.resolve_token_login_password()?,
            AuthKind::ApiKey => client_secret::resolve_api_key(
                &self.config.auth,
                &self.provenance,
                std::env::var_os(client_secret::API_KEY_ENV),
            )?,
            AuthKind::Oauth2 if !self.config.client_auth_method().uses_secret() => {
                return Ok(Secret::new(""));
            }
            AuthKind::Oauth2 => self.resolve_client_secret()?,
        };
        for w in &resolved.warnings {
            tracing::warn!("{w}");
        }
        Ok(resolved.secret)
    }

    /// The secret together with where it came from, for `supsync config`.
    pub fn resolve_client_secret(&self) -> Result<ResolvedSecret, ConfigError> {
        client_secret::resolve(
            &self.config.auth,
            &self.provenance,
            std::env::var_os(SECRET_ENV),
        )
    }

    /// The token login's password (`SUPSYNC_TOKEN_LOGIN_PASSWORD`, else
    /// `auth.token_login.password_file`, else inline) and where it came from.
    pub fn resolve_token_login_password(&self) -> Result<ResolvedSecret, ConfigError> {
        client_secret::resolve_token_login_password(
            &self.config.auth,
            &self.provenance,
            std::env::var_os(client_secret::TOKEN_LOGIN_PASSWORD_ENV),
        )
    }

    /// The session password and where it came from.
    pub fn resolve_session_password(&self) -> Result<ResolvedSecret, ConfigError> {
        client_secret::resolve_password(
            &self.config.auth,
            &self.provenance,
            std::env::var_os(PASSWORD_ENV),
        )
    }
}

/// Loads, layers and validates the configuration as the CLI's global options say.
pub fn load(global: &GlobalArgs) -> Result<LoadedConfig, ConfigError> {
    load_over(global, None)
}

/// Loads the configuration for carrying on a run (`resume`, `retry`): the run's recorded
/// configuration, with the config file, env and `--set` over it.
pub fn load_for_run(global: &GlobalArgs, run: &Recorded) -> Result<LoadedConfig, ConfigError> {
    load_over(global, Some(run))
}

fn load_over(
    global: &GlobalArgs,
    recorded: Option<&Recorded>,
) -> Result<LoadedConfig, ConfigError> {
    let path = config_path(global)?;
    let text = match &path {
        Some(p) => Some(read_config_file(p)?),
        None => None,
    };
    let env = supsync_env()?;
    let loaded = load_layered(recorded, path, text.as_deref(), &env, &global.set)?;
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    Ok(loaded)
}

/// The pure part of `load`: no process env, no file lookup (unit tests drive this).
pub fn load_from(
    path: Option<PathBuf>,
    text: Option<&str>,
    env: &BTreeMap<String, String>,
    sets: &[String],
) -> Result<LoadedConfig, ConfigError> {
    load_layered(None, path, text, env, sets)
}

/// [`load_from`] over a run's recorded configuration.
pub fn load_layered(
    recorded: Option<&Recorded>,
    path: Option<PathBuf>,
    text: Option<&str>,
    env: &BTreeMap<String, String>,
    sets: &[String],
) -> Result<LoadedConfig, ConfigError> {
    let schema = Schema::new()?;
    let file = match (&path, text) {
        (Some(p), Some(t)) => Some((p.as_path(), t)),
        _ => None,
    };
    let sources = Sources {
        recorded,
        file,
        env,
        sets,
    };
    let merged = merge(&schema, &sources)?;
    let mut config = merged.config;
    let provenance = merged.provenance;
    let mut warnings = merged.warnings;
    if let Some(r) = recorded {
        warnings.extend(r.warnings.iter().cloned());
        // A URL recorded redacted is worth a word only when nothing gives it again.
        let unset = r
            .redacted
            .iter()
            .filter(|(k, _)| provenance.get(k) == &Origin::Default);
        warnings.extend(unset.map(|(_, w)| w.clone()));
    }
    // A relative path named in the config file (secret file, metrics file, hook program
    // given as a path) is relative to that file, so the config works whatever the current
    // directory (cron starts in $HOME).
    let base = |key: &str| match provenance.get(key) {
        Origin::File { path: cfg, .. } => cfg.parent().map(Path::to_path_buf),
        _ => None,
    };
    if let (Some(secret), Some(dir)) = (
        &config.auth.client_secret_file,
        base("auth.client_secret_file"),
    ) && secret.is_relative()
    {
        config.auth.client_secret_file = Some(dir.join(secret));
    }
    if let (Some(pw), Some(dir)) = (
        &config.auth.session.password_file,
        base("auth.session.password_file"),
    ) && pw.is_relative()
    {
        config.auth.session.password_file = Some(dir.join(pw));
    }
    if let (Some(file), Some(dir)) = (&config.metrics.file, base("metrics.file"))
        && file.is_relative()
        && !file.as_os_str().is_empty()
    {
        config.metrics.file = Some(dir.join(file));
    }
    if let (Some(program), Some(dir)) = (config.notify.command.first_mut(), base("notify.command"))
        && program.contains('/')
        && Path::new(program.as_str()).is_relative()
    {
        *program = dir.join(program.as_str()).display().to_string();
    }
    validate(&config, &provenance, &mut warnings)?;
    if config.auth.client_secret.is_some() {
        warnings.push(client_secret::inline_warning(&provenance));
    }
    if config.auth.session.password.is_some() {
        warnings.push(client_secret::inline_warning_for(
            client_secret::SESSION_PASSWORD,
            &provenance,
        ));
    }
    Ok(LoadedConfig {
        config,
        path,
        provenance,
        warnings,
    })
}

/// `--config` / `SUPSYNC_CONFIG` (clap maps both to `global.config`), else the platform
/// config file if it exists, else none (defaults only).
fn config_path(global: &GlobalArgs) -> Result<Option<PathBuf>, ConfigError> {
    if let Some(p) = &global.config {
        if p.as_os_str().is_empty() {
            return Err(ConfigError::Invalid(
                "the config file name is empty (--config or SUPSYNC_CONFIG)".into(),
            ));
        }
        return Ok(Some(p.clone()));
    }
    Ok(default_config_path().filter(|p| p.is_file()))
}

/// `<platform config dir>/config.toml`, e.g. `~/.config/supsync/config.toml` on Linux.
pub fn default_config_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "supsync").map(|d| d.config_dir().join("config.toml"))
}

fn read_config_file(p: &Path) -> Result<String, ConfigError> {
    use crate::safe_file::{CONFIG_CAP, FileError, read_text_capped};
    read_text_capped(p, CONFIG_CAP).map_err(|e| {
        let e = match e {
            FileError::Io(e) => e,
            other => {
                let why = other.explain(p, "config file", "a TOML configuration");
                return ConfigError::Invalid(format!(
                    "config file (--config or SUPSYNC_CONFIG): {why}"
                ));
            }
        };
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => {
                "does not exist (named by --config or SUPSYNC_CONFIG); check the path, \
                 or drop the option to use defaults"
                    .to_string()
            }
            std::io::ErrorKind::InvalidData => "is not UTF-8 text".to_string(),
            _ => format!("cannot be read: {e}"),
        };
        ConfigError::Invalid(format!("config file {} {why}", p.display()))
    })
}

/// The `SUPSYNC_*` environment variables (names and values must be UTF-8 to be used).
fn supsync_env() -> Result<BTreeMap<String, String>, ConfigError> {
    let mut out = BTreeMap::new();
    for (name, value) in std::env::vars_os() {
        let Some(name) = name.to_str().filter(|n| n.starts_with("SUPSYNC_")) else {
            continue;
        };
        if name == SECRET_ENV || name == PASSWORD_ENV {
            continue; // read only where the secret is needed
        }
        let value = value.into_string().map_err(|_| {
            ConfigError::Invalid(format!("environment variable {name} is not valid UTF-8"))
        })?;
        out.insert(name.to_string(), value);
    }
    Ok(out)
}

/// Where runs, journals and the token cache live: `--state-dir`, `SUPSYNC_STATE_DIR`, else
/// the platform state (or local data) dir.
pub fn state_dir(global: &GlobalArgs) -> Result<PathBuf, ConfigError> {
    if let Some(d) = &global.state_dir {
        if d.as_os_str().is_empty() {
            return Err(ConfigError::Invalid(
                "the state dir is empty (--state-dir or SUPSYNC_STATE_DIR)".into(),
            ));
        }
        return Ok(d.clone());
    }
    let dirs = directories::ProjectDirs::from("", "", "supsync").ok_or_else(|| {
        ConfigError::Invalid(
            "no home directory found: pass --state-dir or set SUPSYNC_STATE_DIR".into(),
        )
    })?;
    Ok(dirs
        .state_dir()
        .unwrap_or_else(|| dirs.data_local_dir())
        .to_path_buf())
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
