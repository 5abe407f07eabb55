//! Token lifecycle: grants (or session logins), the token manager (proactive refresh, single flight, 401
//! recovery, keep-alive), the encrypted token cache (shared across processes) and the audit log.

pub mod audit;
pub mod cache;
mod clocks;
#[cfg(feature = "keyring")]
pub mod keyring_key;
mod kinds;
mod login;
pub mod manager;
pub use clocks::state;
pub use clocks::status;
pub use login::answer;
pub use login::client_auth;
pub use login::grant;
pub use login::login_budget;
pub use login::session_login;
pub use login::token_login;

pub use manager::{AccessToken, ManagerSettings, TokenManager, Trigger};
