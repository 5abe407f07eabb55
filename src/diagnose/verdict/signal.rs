//! How the API answers a dead token, as the verdict names it.

use serde::Serialize;

/// The form of the answer, named as the token status counts expired answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SignalKind {
    #[serde(rename = "status_401")]
    Status401,
    #[serde(rename = "status_403")]
    Status403,
    /// A 2xx whose body carries an error.
    #[serde(rename = "body_200")]
    Body200,
    /// No refusal: another status, a 200 without an error, or no answer.
    #[serde(rename = "not_a_refusal")]
    NotARefusal,
}

/// What the verdict makes of the answer to a dead token.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalVerdict {
    pub form: SignalKind,
    /// supsync renews the token and replays the call on this answer as configured (it is
    /// a 401, or a configured rule matches it).
    pub handled: bool,
    /// The `auth.expired_when` rule to add, made from the answer seen.
    pub rule: Option<String>,
    pub cites: Vec<String>,
}
