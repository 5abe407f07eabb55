//! Token lifecycle: grants, the token manager (proactive refresh, single flight, 401
//! recovery, keep-alive), the encrypted refresh-token cache and the audit log.

pub mod grant;
pub mod status;
