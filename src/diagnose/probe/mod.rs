//! Probing: the only part of diagnose that talks to servers. Each probe measures one thing
//! (a token's lifetime, an idle window, a session's cap, the answer to a dead credential,
//! the first page through the API mapping) and records it as findings — plain data that
//! `evidence` reads; nothing here judges.

mod calls;
mod mapping;
mod oauth;
mod options;
mod session;
mod session_access;
mod session_logins;
mod session_watch;
mod signal;
mod token_login;

pub use oauth::run as run_oauth2;
pub use options::DiagnoseOptions;
pub use session::run as run_session;
pub use token_login::run as run_token_login;
