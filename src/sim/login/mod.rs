//! The simulator's login side: the token endpoint and client authentication, the token
//! strings, the tokens and sessions issued with their clocks, session logins and token
//! logins (docs/API.md §1, §7, §8).

pub(super) mod auth;
pub mod client_auth;
pub(super) mod jwt;
pub(super) mod session;
pub(super) mod sessions;
pub(super) mod token_login;
pub(super) mod tokens;
