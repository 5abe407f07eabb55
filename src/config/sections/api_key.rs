//! `auth.kind = "api_key"`: a static API key or token, sent on every call as a header
//! (bare, `bearer`, or a template such as `"Authorization: Token {token}"`) or as a query
//! parameter. The key never sits in config text: it comes from `SUPSYNC_API_KEY` or
//! `auth.api_key.key_file`, and only its fingerprint is ever shown. There is no renewal
//! and no keep-alive; a 401 (or a 403 matching `auth.expired_when`) is a definite refusal.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::session::Carry;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiKeyConfig {
    /// `header:<name>`, `bearer`, `"<Header>: <prefix>{token}"` or `query:<param>`.
    pub send_as: String,
    /// File holding the key (first line, trimmed); `SUPSYNC_API_KEY` wins over it.
    pub key_file: Option<PathBuf>,
}

impl Default for ApiKeyConfig {
    fn default() -> Self {
        Self {
            send_as: "header:X-Api-Key".into(),
            key_file: None,
        }
    }
}

/// `send_as` of an API key: what [`Carry::parse`] takes, or `query:<param>`.
pub fn parse_send_as(text: &str) -> Result<Carry, String> {
    if let Some(name) = text.trim().strip_prefix("query:") {
        let ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b));
        return match ok {
            true => Ok(Carry::Query(name.to_string())),
            false => Err(format!(
                "{name:?} is not a query parameter name (letters, digits, - _ . ~)"
            )),
        };
    }
    Carry::parse(text).map_err(|m| {
        format!(
            "{m}; an API key also takes bearer, \"<Header>: <prefix>{{token}}\" or query:<param>"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_as_takes_headers_templates_and_query_parameters() {
        assert_eq!(
            parse_send_as("header:X-Api-Key").unwrap(),
            Carry::Header("X-Api-Key".into())
        );
        assert_eq!(parse_send_as("bearer").unwrap(), Carry::Bearer);
        assert_eq!(
            parse_send_as("Authorization: Token {token}").unwrap(),
            Carry::Prefixed {
                name: "Authorization".into(),
                prefix: "Token ".into()
            }
        );
        assert_eq!(
            parse_send_as("query:api_key").unwrap(),
            Carry::Query("api_key".into())
        );
        assert_eq!(
            parse_send_as("query:api_key").unwrap().to_string(),
            "query:api_key"
        );
        assert!(
            parse_send_as("query:")
                .unwrap_err()
                .contains("query parameter")
        );
        assert!(
            parse_send_as("query:a b")
                .unwrap_err()
                .contains("query parameter")
        );
        assert!(
            parse_send_as("body:/key")
                .unwrap_err()
                .contains("query:<param>")
        );
    }
}
