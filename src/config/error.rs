//! The one error of the configuration: named alike by loading, every check and the
//! secrets' resolution, so it sits below all of them.

/// A configuration that cannot be used. Its message says what is wrong, where (file and
/// line, env var or flag), and how to fix it; it never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Invalid(String),
    /// No client secret anywhere; only fatal for commands that authenticate.
    #[error("{0}")]
    MissingSecret(String),
}
