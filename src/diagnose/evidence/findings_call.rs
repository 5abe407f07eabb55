//! One authenticated call as a probe saw it, and where its body names an error: the
//! finding the others are made of.

use serde::Serialize;

/// One authenticated health call.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CallFinding {
    /// HTTP status; `None` when the call failed at the transport level.
    pub status: Option<u16>,
    /// `X-Token-Expires-In` of the response.
    pub header_expires_in_secs: Option<u64>,
    /// Seconds since the token request was sent, at the response.
    pub token_age_secs: f64,
    pub rtt_secs: f64,
    /// Transport error, or the server's `error_description` of a refusal.
    pub error: Option<String>,
    /// The OAuth2 `error` code of a refusal (`invalid_token`…).
    pub error_code: Option<String>,
    /// `WWW-Authenticate` of a 401/403.
    pub www_authenticate: Option<String>,
    /// `Location` of a redirect.
    pub location: Option<String>,
    /// Where the JSON body names an error (a 200 carrying one is no success).
    pub error_at: Option<ErrorAt>,
    /// A 403, or a 200 carrying an error, held against `auth.expired_when`.
    pub expired_when: Option<RuleCheck>,
}

impl CallFinding {
    pub fn is_unauthorized(&self) -> bool {
        self.status == Some(401)
    }

    fn is_2xx(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// A 2xx whose body carries no error.
    pub fn is_success(&self) -> bool {
        self.is_2xx() && self.error_at.is_none()
    }

    /// An answer that refuses the token: a 401, a 403, or a 2xx carrying an error (the
    /// forms of docs/API.md §2.5).
    pub fn is_refusal(&self) -> bool {
        matches!(self.status, Some(401 | 403)) || (self.is_2xx() && self.error_at.is_some())
    }
}

/// Where a JSON body names the error it carries: `/error` = `"token_expired"`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ErrorAt {
    /// The JSON pointer (RFC 6901).
    pub pointer: String,
    /// The code found there (a string, number or boolean); `None` when the body has an
    /// error there but no code to match on (an object with a message only).
    pub value: Option<serde_json::Value>,
}

/// An answer held against `auth.expired_when` (for a 403, or a 200 carrying an error).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RuleCheck {
    /// The configured rule that matches this answer, as written.
    pub matched: Option<String>,
    /// A rule made from this answer (status, pointer and value) and checked to match it;
    /// `None` when the answer holds nothing a rule could match on.
    pub suggested: Option<String>,
}
