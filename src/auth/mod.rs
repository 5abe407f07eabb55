//! Token lifecycle: grants (or session logins), the token manager (proactive refresh, single flight, 401
//! recovery, keep-alive), the encrypted token cache (shared across processes) and the audit log.

pub mod answer;
pub mod audit;
pub mod cache;
pub mod client_auth;
pub mod grant;
mod grant_error;
#[cfg(feature = "keyring")]
pub mod keyring_key;
pub mod login_budget;
pub mod manager;
pub mod session_login;
pub mod state;
pub mod status;
pub mod token_login;
mod wire;

pub use manager::{AccessToken, ManagerSettings, TokenManager, Trigger};
