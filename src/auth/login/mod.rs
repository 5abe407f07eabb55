//! Getting a credential: the grants (the oauth2 crate builds the request; the answer is
//! read leniently), client authentication, session logins and their budget, token logins,
//! the wire calls and their errors. The token manager decides when; this says how.

pub mod answer;
pub mod client_auth;
pub mod grant;
pub(super) mod grant_error;
pub(super) mod granted;
pub(super) mod http;
pub mod login_budget;
pub mod session_login;
pub mod token_login;
pub(super) mod wire;

use super::cache;
use super::kinds;
