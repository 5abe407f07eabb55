//! Typed client for the resource API of docs/API.md §3, on top of the token manager.
//!
//! The types live here; the calls are in `client.rs`, outcome classification in
//! `classify.rs`, `Retry-After` parsing in `crate::retry_after` (shared with the token endpoint).

mod body;
mod bucket;
mod chain;
mod chain_point;
pub mod classify;
mod client;
mod error_body;
mod headers;
mod item;
mod keepalive;
mod pull;
mod push;
mod push_read;
pub mod ratelimit;
mod rest;
mod session;
/// Kept at its old path for callers; the parser is shared with the token endpoint.
pub use crate::retry_after;
pub use chain_point::ChainPoint;
pub use item::ItemRead;
pub use push::PushJob;
pub use session::{attach_credential, session_ender, session_ender_of};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::auth::TokenManager;
use crate::auth::grant::GrantError;
use crate::record::Supplier;

/// One page of a pull.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullPage {
    /// The records that fit the mapping, in the server's order.
    pub suppliers: Vec<Supplier>,
    /// The records that did not, by their place among the page's records: the page's
    /// records are `suppliers` with these slotted in at their `index`.
    #[serde(default)]
    pub misfits: Vec<Misfit>,
    /// The server's count when the mapping reads one.
    pub total: Option<u64>,
    /// Where the next page starts; `None` when this was the last.
    pub next_offset: Option<u64>,
}

impl PullPage {
    /// Records the page covers, those that did not fit the mapping included.
    pub fn len(&self) -> usize {
        self.suppliers.len() + self.misfits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A pulled record that does not fit the mapping (another client wrote it without a field
/// the mapping needs): it goes to the rejects file; the page's other records are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Misfit {
    /// Its place among the page's records.
    pub index: usize,
    /// Its id as the server gave it (clipped), or empty when it has none.
    pub supplier_id: String,
    /// What does not fit, naming the field, never its value.
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PushStatus {
    Created,
    Updated,
    Unchanged,
    /// Taken by the server, which did not say whether it created, changed or kept the
    /// record (a PUT answered 200 or 204, a batch without per-record results).
    Applied,
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
    /// A 2xx whose body does not fit the mapping reads as that, not as a refusal; status 0
    /// (no answer to speak of: a configuration problem, a chain of pages that loops) as its
    /// message alone.
    #[error("{}", permanent_words(*status, message))]
    Permanent { status: u16, message: String },
    /// A 2xx whose body does not fit `api.success_when` (e.g. `200 {"errorCode": 602}`):
    /// nothing is counted as applied; worth another attempt. `hint` names the rule that
    /// would tell this answer apart.
    #[error(
        "the server answered HTTP {status} with an error in its body, not counted as applied: {message}"
    )]
    ErrorBody {
        status: u16,
        message: String,
        hint: String,
    },
    /// An answer past `api.max_page_bytes`: refused unread (the same request would get
    /// the same answer, so not retried). `message` names the call and the key.
    #[error("{message}")]
    TooLarge { message: String },
    /// No token could be obtained.
    #[error(transparent)]
    Auth(#[from] GrantError),
    /// Shut down while waiting.
    #[error("cancelled")]
    Cancelled,
}

fn permanent_words(status: u16, message: &str) -> String {
    match status {
        0 => message.to_string(),
        200..=299 => format!("the server's answer did not fit the mapping: {message}"),
        s => format!("the server refused the request (HTTP {s}): {message}"),
    }
}

fn fmt_after(d: Option<Duration>) -> String {
    d.map(|d| format!(" (retry after {})", retry_after::words(d)))
        .unwrap_or_default()
}

impl ApiClient {
    /// True the first time it is called: the first 2xx answer with an error body is
    /// explained to the operator, the others only retried.
    pub fn first_error_body(&self) -> bool {
        !self
            .error_body_seen
            .swap(true, std::sync::atomic::Ordering::Relaxed)
    }
}

impl ApiError {
    /// Worth another attempt after backoff.
    pub fn is_retryable(&self) -> bool {
        match self {
            ApiError::RateLimited { .. }
            | ApiError::Transient { .. }
            | ApiError::ErrorBody { .. } => true,
            ApiError::Unauthorized { .. } => true,
            ApiError::Auth(g) => g.is_transient(),
            ApiError::Permanent { .. } | ApiError::TooLarge { .. } | ApiError::Cancelled => false,
        }
    }

    /// The server's wish for how long to wait, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::RateLimited { retry_after } | ApiError::Transient { retry_after, .. } => {
                *retry_after
            }
            ApiError::Auth(g) => g.retry_after(),
            _ => None,
        }
    }

    /// Authentication is broken for good (wrong client, refused scopes): exit code 4.
    pub fn is_auth_failure(&self) -> bool {
        matches!(self, ApiError::Auth(g) if !g.is_transient())
    }
}

/// A setting the client cannot work with, or a request it cannot build: never retried.
pub(crate) fn config_error(message: String) -> ApiError {
    ApiError::Permanent { status: 0, message }
}

/// Where the client keeps what outlives the process.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// Encrypted token cache file, used when `auth.token_cache = "encrypted"`; a session
    /// login's budget of refused logins is kept beside it either way. `None`: neither (the
    /// budget is then counted for this process only).
    pub token_cache: Option<PathBuf>,
    /// JSON Lines audit log of token events for this run.
    pub audit_log: Option<PathBuf>,
}

/// The API client. Cheap to share (`Arc`); every call gets a valid token from the token
/// manager and replays once after a premature 401.
pub struct ApiClient {
    http: reqwest::Client,
    /// `api.headers`, sent on every call (values sensitive, never shown).
    headers: Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>,
    client_auth: crate::auth::client_auth::ClientAuthInfo,
    tokens: Arc<TokenManager>,
    /// How calls carry the credential: a bearer token, or a session id (docs/API.md §7).
    carry: crate::config::Carry,
    health_url: String,
    /// What the keep-alive calls: `auth.session.keepalive_path`, else health.
    keepalive_url: String,
    /// `auth.session.keepalive_method` for a keep-alive path, else GET (health).
    keepalive_method: reqwest::Method,
    /// `auth.session.logout_path`, called at the end of a run (and before a renewal on a
    /// single-session server).
    logout_url: Option<String>,
    /// `auth.session.logout_method`.
    logout_method: reqwest::Method,
    batch_url: String,
    /// How the operator's API looks (docs/API.md §6).
    mapping: Arc<crate::mapping::ApiMapping>,
    /// `api.base_url`: requests and next links stay on its origin.
    base: reqwest::Url,
    /// Records per page asked for when the mapping leaves it to the run (segment size).
    page_size: usize,
    /// Next-page cursors or links seen, by the record offset they start at, so a chain
    /// of pages is walked once, not once per segment.
    chain: tokio::sync::Mutex<chain::Chain>,
    max_retry_after: Duration,
    /// `sync.max_requests_per_sec` and the rate limits the server states.
    pacer: ratelimit::Pacer,
    /// `api.max_page_bytes`: no answer body is read past it.
    max_answer_bytes: u64,
    /// `auth.expired_when`: the 403s and 200s that mean a dead token.
    expired_when: Vec<crate::config::expired_when::ExpiryRule>,
    /// Cleans server text (error bodies, 401 reasons, reject reasons) of control sequences
    /// and of the secrets and tokens the token endpoint knows.
    redactor: Arc<crate::server_text::Redactor>,
    /// Set by the first 2xx answer with an error body of this client's life.
    error_body_seen: std::sync::atomic::AtomicBool,
    cancel: CancellationToken,
    /// Stops the background renewal and keep-alive while the run rests (see `rest.rs`);
    /// `None` while they are stopped.
    background: std::sync::Mutex<Option<CancellationToken>>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("health_url", &self.health_url)
            .field("batch_url", &self.batch_url)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}
