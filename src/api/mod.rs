//! Typed client for the resource API of shared/API.md §3, on top of the token manager.
//!
//! SKELETON: the signatures below are the contract the engine is written against; the
//! bodies are filled in by the token-lifecycle work (issue 3).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::auth::grant::GrantError;
use crate::auth::status::TokenStatus;
use crate::config::Config;
use crate::record::Supplier;
use crate::secret::Secret;

/// One page of a pull.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullPage {
    pub suppliers: Vec<Supplier>,
    pub total: u64,
    pub next_offset: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PushStatus {
    Created,
    Updated,
    Unchanged,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResult {
    pub supplier_id: String,
    pub status: PushStatus,
    #[serde(default)]
    pub error: Option<String>,
}

/// How a call ended when it did not succeed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// 401 again after the one replay with a fresh token.
    #[error("unauthorized: {description}")]
    Unauthorized { description: String },
    /// 429; `retry_after` from the header, clamped.
    #[error("rate limited by the server{}", fmt_after(*.retry_after))]
    RateLimited { retry_after: Option<Duration> },
    /// 5xx, timeouts, connection errors (also a pooled connection cut by an idle proxy).
    #[error("transient failure: {message}")]
    Transient {
        message: String,
        retry_after: Option<Duration>,
    },
    /// Other 4xx (409 idempotency conflict, 413 batch too large, 400…): retrying won't help.
    #[error("the server refused the request (HTTP {status}): {message}")]
    Permanent { status: u16, message: String },
    /// No token could be obtained.
    #[error(transparent)]
    Auth(#[from] GrantError),
    /// Shut down while waiting.
    #[error("cancelled")]
    Cancelled,
}

fn fmt_after(d: Option<Duration>) -> String {
    d.map(|d| format!(" (retry after {}s)", d.as_secs()))
        .unwrap_or_default()
}

impl ApiError {
    /// Worth another attempt after backoff.
    pub fn is_retryable(&self) -> bool {
        match self {
            ApiError::RateLimited { .. } | ApiError::Transient { .. } => true,
            ApiError::Unauthorized { .. } => true,
            ApiError::Auth(g) => g.is_transient(),
            ApiError::Permanent { .. } | ApiError::Cancelled => false,
        }
    }

    /// The server's wish for how long to wait, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::RateLimited { retry_after } | ApiError::Transient { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// Authentication is broken for good (wrong client, refused scopes): exit code 4.
    pub fn is_auth_failure(&self) -> bool {
        matches!(self, ApiError::Auth(g) if !g.is_transient())
    }
}

/// Where the client keeps what outlives the process.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// Encrypted refresh-token cache file; `None` disables the cache.
    pub token_cache: Option<PathBuf>,
    /// JSON Lines audit log of token events for this run.
    pub audit_log: Option<PathBuf>,
}

/// The API client. Cheap to share (`Arc`); every call gets a valid token from the token
/// manager and replays once after a premature 401.
pub struct ApiClient {
    _private: (),
}

impl ApiClient {
    /// Gets the first token (from the cache or a new session) and starts the background
    /// refresh and keep-alive tasks, which stop when `cancel` fires.
    pub async fn connect(
        cfg: &Config,
        client_secret: Secret,
        opts: ConnectOptions,
        cancel: CancellationToken,
    ) -> Result<Arc<ApiClient>, ApiError> {
        let _ = (cfg, client_secret, opts, cancel);
        Err(ApiError::Permanent {
            status: 0,
            message: "api client not built yet (issue 3)".into(),
        })
    }

    pub async fn health(&self) -> Result<(), ApiError> {
        Err(ApiError::Cancelled)
    }

    pub async fn pull_page(&self, offset: u64, limit: usize) -> Result<PullPage, ApiError> {
        let _ = (offset, limit);
        Err(ApiError::Cancelled)
    }

    /// `results` are in the order of `records`.
    pub async fn push_batch(
        &self,
        idempotency_key: &str,
        records: &[Supplier],
    ) -> Result<Vec<PushResult>, ApiError> {
        let _ = (idempotency_key, records);
        Err(ApiError::Cancelled)
    }

    /// Token state, published by the token manager.
    pub fn token_status(&self) -> watch::Receiver<TokenStatus> {
        watch::channel(TokenStatus::default()).1
    }

    /// Renew the token now (operator's `f`).
    pub async fn force_refresh(&self) -> Result<(), ApiError> {
        Err(ApiError::Cancelled)
    }
}
