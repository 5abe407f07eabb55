//! `auth.expired_when`: how a server says "this token is dead" when it does not answer a
//! plain 401. Each rule is one string, so it fits a TOML list, an env var and `--set`:
//!
//! - `"403"`: every 403 means the token is dead;
//! - `"403 /error = token_expired|invalid_token"`: the JSON pointer's value is one of these;
//! - `"403 ~ expired"`: the body contains this text (case-insensitive);
//! - `"200 /error/code = TOKEN_EXPIRED"`: a 200 whose body carries this error (a pointer
//!   match is required: a bare 200 or a substring would make good answers look dead).
//!
//! A 401 always counts as a dead token whatever the rules say; a 403 that matches no
//! rule stays a permission error.

use serde_json::Value;

/// The statuses a rule may name.
pub const STATUSES: [u16; 3] = [401, 403, 200];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyMatch {
    Any,
    /// The value at the pointer, as a string (a number or boolean as its JSON text), is
    /// one of these.
    Pointer {
        pointer: String,
        values: Vec<String>,
    },
    /// The body contains this text, compared case-insensitively.
    Contains(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryRule {
    pub status: u16,
    pub body: BodyMatch,
}

impl ExpiryRule {
    /// Parses one rule; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<ExpiryRule, String> {
        let t = text.trim();
        let (status, rest) = match t.split_once(char::is_whitespace) {
            Some((s, r)) => (s, r.trim()),
            None => (t, ""),
        };
        let status: u16 = status
            .parse()
            .map_err(|_| format!("rule {text:?} must start with a status (401, 403 or 200)"))?;
        if !STATUSES.contains(&status) {
            return Err(format!(
                "rule {text:?}: status {status} is not one of 401, 403, 200"
            ));
        }
        let body = if rest.is_empty() {
            BodyMatch::Any
        } else if let Some(needle) = rest.strip_prefix('~') {
            let needle = needle.trim();
            if needle.is_empty() {
                return Err(format!("rule {text:?}: `~` needs the text to look for"));
            }
            BodyMatch::Contains(needle.to_lowercase())
        } else if rest.starts_with('/') {
            let (pointer, values) = rest.split_once('=').ok_or_else(|| {
                format!("rule {text:?}: a JSON pointer needs `= value` (or `= a|b`)")
            })?;
            let pointer = pointer.trim().to_string();
            if pointer.contains(char::is_whitespace) {
                return Err(format!(
                    "rule {text:?}: the JSON pointer {pointer:?} contains a space"
                ));
            }
            let values: Vec<String> = values.split('|').map(|v| v.trim().to_string()).collect();
            if values.iter().any(String::is_empty) {
                return Err(format!("rule {text:?}: an empty value after `=`"));
            }
            BodyMatch::Pointer { pointer, values }
        } else {
            return Err(format!(
                "rule {text:?}: after the status comes `/pointer = value`, `~ text` or nothing"
            ));
        };
        if status == 200 && !matches!(body, BodyMatch::Pointer { .. }) {
            return Err(format!(
                "rule {text:?}: a 200 rule needs a JSON pointer match (e.g. `200 /error/code = \
                 TOKEN_EXPIRED`), or every good answer would count as a dead token"
            ));
        }
        Ok(ExpiryRule { status, body })
    }

    /// Whether an answer with `status` and `body` matches.
    pub fn matches(&self, status: u16, body: &[u8]) -> bool {
        if status != self.status {
            return false;
        }
        match &self.body {
            BodyMatch::Any => true,
            BodyMatch::Contains(needle) => String::from_utf8_lossy(body)
                .to_lowercase()
                .contains(needle.as_str()),
            BodyMatch::Pointer { pointer, values } => {
                let Ok(v) = serde_json::from_slice::<Value>(body) else {
                    return false;
                };
                let found = match v.pointer(pointer) {
                    Some(Value::String(s)) => s.clone(),
                    Some(x @ (Value::Number(_) | Value::Bool(_))) => x.to_string(),
                    _ => return false,
                };
                values.contains(&found)
            }
        }
    }
}

/// All rules of `auth.expired_when`, or every problem (one per bad rule).
pub fn parse_all(rules: &[String]) -> Result<Vec<ExpiryRule>, Vec<String>> {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for r in rules {
        match ExpiryRule::parse(r) {
            Ok(rule) => ok.push(rule),
            Err(e) => bad.push(e),
        }
    }
    if bad.is_empty() { Ok(ok) } else { Err(bad) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_and_match() {
        let r = ExpiryRule::parse("403").unwrap();
        assert!(r.matches(403, b"anything") && !r.matches(401, b""));
        let r = ExpiryRule::parse("403 /error = token_expired|invalid_token").unwrap();
        assert!(r.matches(403, br#"{"error":"invalid_token"}"#));
        assert!(!r.matches(403, br#"{"error":"insufficient_scope"}"#));
        assert!(!r.matches(403, b"not json"));
        let r = ExpiryRule::parse("403 ~ Expired").unwrap();
        assert!(r.matches(403, b"Token EXPIRED after 15m"));
        assert!(!r.matches(403, b"forbidden"));
        let r = ExpiryRule::parse("200 /error/code = 4011").unwrap();
        assert!(r.matches(200, br#"{"error":{"code":4011}}"#));
        assert!(!r.matches(200, br#"{"results":[]}"#));
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        for (rule, says) in [
            ("", "must start with a status"),
            ("404", "not one of"),
            ("200", "needs a JSON pointer"),
            ("200 ~ error", "needs a JSON pointer"),
            ("403 /error", "needs `= value`"),
            ("403 /error = a||b", "empty value"),
            ("403 ~", "needs the text"),
            ("403 error = x", "after the status"),
        ] {
            let e = ExpiryRule::parse(rule).unwrap_err();
            assert!(e.contains(says), "{rule:?}: {e}");
        }
        let e = parse_all(&["403".into(), "999".into(), "200".into()]).unwrap_err();
        assert_eq!(e.len(), 2);
    }
}
