//! The verdict on a token login (`auth.kind = "token_login"`): the clock that ends its
//! access tokens and how supsync renews ahead of it, the refresh, what to change, and the
//! outcome with its exit code. Plain data; `judge::token_login` fills it.

use serde::Serialize;

use super::{Fix, Outcome};

#[derive(Debug, Clone, Serialize)]
pub struct TokenLoginVerdict {
    pub outcome: Outcome,
    pub exit_code: i32,
    pub summary: String,
    /// The access token's lifetime the verdict trusts, and where it comes from.
    pub lifetime_secs: Option<f64>,
    pub lifetime_from: Option<String>,
    /// The age at which the API first refused a token (the clock that ends it).
    pub died_at_secs: Option<f64>,
    /// Renewals refresh (`true`) or log in again (`false`).
    pub refreshes: bool,
    pub rotates: Option<bool>,
    /// Facts the verdict rests on, in the order a reader checks them.
    pub facts: Vec<String>,
    /// What to change, the change that makes the sync work first.
    pub changes: Vec<Fix>,
}
