//! What a grant or a login got: one successful token response, made by the grants, the
//! session and the token logins alike, and kept by the token state.

use std::time::{Duration, Instant};

use super::kinds::{GrantKind, LifetimeSource};
use crate::secret::Secret;

/// One successful token response.
#[derive(Debug, Clone)]
pub struct Grant {
    pub kind: GrantKind,
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    /// `expires_in` as the server stated it (clamped); `None` when it did not say.
    pub expires_in: Option<Duration>,
    /// The lifetime to plan renewals with: `expires_in`, else a fallback; `None` when the
    /// server's lifetime is too short to plan with (renew when the API refuses it).
    pub lifetime: Option<Duration>,
    pub lifetime_source: LifetimeSource,
    pub refresh_expires_in: Option<Duration>,
    /// The `scope` the server says it granted (None when it did not say).
    pub granted_scopes: Option<Vec<String>>,
    /// When the request left: lifetimes count from here, never from the answer.
    pub sent_at: Instant,
    pub received_at: Instant,
}
