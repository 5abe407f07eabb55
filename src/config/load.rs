//! Finding and reading the configuration. (Skeleton: file + defaults; the config work of
//! issue 2 adds env overrides, provenance and line-accurate errors.)

use std::path::{Path, PathBuf};

use super::Config;
use crate::cli::GlobalArgs;
use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Invalid(String),
}

/// The effective configuration and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub config: Config,
    /// The file read, if any.
    pub path: Option<PathBuf>,
}

impl LoadedConfig {
    /// The client secret: `SUPSYNC_CLIENT_SECRET`, else `client_secret_file`, else inline.
    pub fn client_secret(&self) -> Result<Secret, ConfigError> {
        if let Ok(s) = std::env::var("SUPSYNC_CLIENT_SECRET") {
            return Ok(Secret::new(s));
        }
        if let Some(p) = &self.config.auth.client_secret_file {
            let text = std::fs::read_to_string(p).map_err(|e| {
                ConfigError::Invalid(format!(
                    "cannot read auth.client_secret_file {}: {e}",
                    p.display()
                ))
            })?;
            return Ok(Secret::new(text.lines().next().unwrap_or("").trim()));
        }
        self.config.auth.client_secret.clone().ok_or_else(|| {
            ConfigError::Invalid(
                "no client secret: set SUPSYNC_CLIENT_SECRET or auth.client_secret_file".into(),
            )
        })
    }
}

/// Loads the configuration as the CLI's global options say.
pub fn load(global: &GlobalArgs) -> Result<LoadedConfig, ConfigError> {
    let path = global.config.clone();
    let config = match &path {
        Some(p) => read_file(p)?,
        None => Config::default(),
    };
    Ok(LoadedConfig { config, path })
}

fn read_file(p: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(p)
        .map_err(|e| ConfigError::Invalid(format!("cannot read {}: {e}", p.display())))?;
    toml::from_str(&text).map_err(|e| ConfigError::Invalid(format!("{}: {e}", p.display())))
}

/// Where runs, journals and the token cache live: `--state-dir`, `SUPSYNC_STATE_DIR`, else
/// the platform state (or data) dir.
pub fn state_dir(global: &GlobalArgs) -> Result<PathBuf, ConfigError> {
    if let Some(d) = &global.state_dir {
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
