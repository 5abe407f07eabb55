//! The settings of each kind of credential and of the observers, as typed sections:
//! static API keys, session logins, token logins, the token cache, extra headers, the
//! dead-token rule (`auth.expired_when`), alerts and metrics.

pub mod api_key;
pub mod expired_when;
pub mod headers;
pub(super) mod observe;
pub mod session;
pub mod token_cache;
pub mod token_login;
