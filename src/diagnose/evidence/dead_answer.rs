//! Reading an API answer the way `auth.expired_when` does (docs/API.md §2.5): where its
//! JSON body names an error, which configured rule matches it, and a rule made from the
//! answer itself (its status, pointer and value), checked against it before it is shown.

use anyhow::anyhow;
use serde_json::Value;

use super::findings::{ErrorAt, RuleCheck};
use crate::config::Config;
use crate::config::expired_when::{ExpiryRule, parse_all};
use crate::secret::Secret;

/// `auth.expired_when`, each rule with its text as written.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rules(Vec<(String, ExpiryRule)>);

impl Rules {
    /// The configured rules (config validation refuses bad ones before a run; this says
    /// what is wrong for a configuration built some other way).
    pub(crate) fn of(cfg: &Config) -> anyhow::Result<Rules> {
        let parsed = parse_all(&cfg.auth.expired_when)
            .map_err(|p| anyhow!("auth.expired_when: {}", p.join("; ")))?;
        Ok(Rules(
            cfg.auth.expired_when.iter().cloned().zip(parsed).collect(),
        ))
    }

    fn matching(&self, status: u16, body: &[u8]) -> Option<String> {
        self.0
            .iter()
            .find(|(_, r)| r.matches(status, body))
            .map(|(text, _)| text.clone())
    }
}

/// Pointers where APIs put an error code, the most specific first.
const CODE_AT: &[&str] = &[
    "/error/code",
    "/error/type",
    "/errors/0/code",
    "/errors/0/type",
    "/error",
    "/error_code",
    "/errorCode",
    "/errors/0/error",
];
/// Pointers whose value says "this answer is an error" in so many words.
const STATUS_AT: &[&str] = &["/status", "/responseStatus", "/result", "/outcome"];
const FAILURE_WORDS: &[&str] = &["error", "failure", "failed", "fail"];
/// Where the words of an error are, when there are any.
const WORDS_AT: &[&str] = &[
    "/error_description",
    "/error/message",
    "/error/description",
    "/errors/0/message",
    "/message",
    "/detail",
];

/// A value a rule can match on: a short code, never prose (a description carries times
/// that change from one answer to the next) and never anything with `|`, which separates
/// a rule's values.
fn code_like(v: &Value) -> bool {
    match v {
        Value::String(s) => {
            !s.is_empty()
                && s.chars().count() <= 64
                && s.chars().all(|c| c.is_ascii_graphic() && c != '|')
        }
        Value::Number(_) => true,
        _ => false,
    }
}

/// Where `body` names an error: a code at one of the usual pointers, else a status word
/// such as `"status": "error"` (with a `/code` beside it when there is one), else
/// `"success": false`, else an `error` object or `errors` list without a code.
pub(crate) fn error_at(body: &Value) -> Option<ErrorAt> {
    let found = |p: &str| body.pointer(p).filter(|v| code_like(v)).cloned();
    for p in CODE_AT {
        if let Some(v) = found(p) {
            return Some(at(p, Some(v)));
        }
    }
    for p in STATUS_AT {
        let failed = body
            .pointer(p)
            .and_then(Value::as_str)
            .is_some_and(|s| FAILURE_WORDS.iter().any(|w| s.eq_ignore_ascii_case(w)));
        if failed {
            return Some(match found("/code") {
                Some(code) => at("/code", Some(code)),
                None => at(p, found(p)),
            });
        }
    }
    if body.pointer("/success") == Some(&Value::Bool(false)) {
        return Some(at("/success", Some(Value::Bool(false))));
    }
    match (body.pointer("/error"), body.pointer("/errors")) {
        (Some(Value::Object(o)), _) if !o.is_empty() => Some(at("/error", None)),
        (_, Some(Value::Array(a))) if !a.is_empty() => Some(at("/errors", None)),
        _ => None,
    }
}

fn at(pointer: &str, value: Option<Value>) -> ErrorAt {
    ErrorAt {
        pointer: pointer.to_string(),
        value,
    }
}

/// The error's own words, when the body has any: cleaned of control characters and of
/// the token itself (a server may echo what it was sent), at most 300 characters.
pub(crate) fn words(body: &Value, token: &Secret) -> Option<String> {
    WORDS_AT
        .iter()
        .find_map(|p| body.pointer(p).and_then(Value::as_str))
        .map(|w| clean(w, token))
}

/// Server text made fit to show: the token becomes its fingerprint, then escape
/// sequences and control characters go and the length is capped (`server_text`).
pub(crate) fn clean(text: &str, token: &Secret) -> String {
    let t = token.expose();
    let text = if t.len() >= 8 {
        text.replace(t, &token.fingerprint())
    } else {
        text.to_string()
    };
    crate::server_text::clean(&text)
}

/// A 403, or a 200 carrying an error, held against the configured rules, with a rule
/// made from the answer. `None` for other answers (a 401 needs no rule).
pub(crate) fn rule_check(
    rules: &Rules,
    status: u16,
    body: &[u8],
    error_at: Option<&ErrorAt>,
) -> Option<RuleCheck> {
    let relevant = status == 403 || (status == 200 && error_at.is_some());
    if !relevant {
        return None;
    }
    Some(RuleCheck {
        matched: rules.matching(status, body),
        suggested: suggest(status, body, error_at),
    })
}

/// A rule that matches this very answer: the pointer and its value when the body names a
/// code; for a 403 without one, a word of the body that says what happened, else the bare
/// status. Each candidate is parsed and matched against the answer before it is offered.
fn suggest(status: u16, body: &[u8], error_at: Option<&ErrorAt>) -> Option<String> {
    let mut candidates = Vec::new();
    if let Some(ErrorAt {
        pointer,
        value: Some(v),
    }) = error_at
    {
        let v = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        candidates.push(format!("{status} {pointer} = {v}"));
    }
    if status == 403 {
        let text = String::from_utf8_lossy(body).to_lowercase();
        for word in ["token_expired", "invalid_token", "expired"] {
            if text.contains(word) {
                candidates.push(format!("403 ~ {word}"));
            }
        }
        candidates.push("403".into());
    }
    candidates
        .into_iter()
        .find(|rule| ExpiryRule::parse(rule).is_ok_and(|r| r.matches(status, body)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(texts: &[&str]) -> Rules {
        let mut cfg = Config::default();
        cfg.auth.expired_when = texts.iter().map(|t| t.to_string()).collect();
        Rules::of(&cfg).unwrap()
    }

    fn check(rules: &Rules, status: u16, body: Value) -> Option<RuleCheck> {
        let bytes = serde_json::to_vec(&body).unwrap();
        rule_check(rules, status, &bytes, error_at(&body).as_ref())
    }

    #[test]
    fn the_simulators_three_signals_read_as_the_docs_say() {
        // docs/API.md §2.5: the rule supsync needs for each form.
        let forbidden = json!({"error": "token_expired", "error_description": "Token revoked"});
        assert_eq!(
            error_at(&forbidden),
            Some(at("/error", Some(json!("token_expired"))))
        );
        let c = check(&rules(&[]), 403, forbidden).unwrap();
        assert_eq!(c.matched, None);
        assert_eq!(c.suggested.as_deref(), Some("403 /error = token_expired"));

        let body200 =
            json!({"status": "error", "error": {"code": "TOKEN_EXPIRED", "message": "m"}});
        let c = check(&rules(&["200 /error/code = TOKEN_EXPIRED"]), 200, body200).unwrap();
        assert_eq!(
            c.matched.as_deref(),
            Some("200 /error/code = TOKEN_EXPIRED")
        );
        assert_eq!(
            c.suggested.as_deref(),
            Some("200 /error/code = TOKEN_EXPIRED")
        );

        // A 401 needs no rule; a good 200 is no error at all.
        assert_eq!(
            check(&rules(&[]), 401, json!({"error": "invalid_token"})),
            None
        );
        assert_eq!(error_at(&json!({"status": "ok"})), None);
        assert_eq!(check(&rules(&[]), 200, json!({"status": "ok"})), None);
    }

    #[test]
    fn foreign_forms_give_rules_that_match_them() {
        // Veeva-style: a 200 with a failure status and an error list.
        let veeva = json!({"responseStatus": "FAILURE",
                           "errors": [{"type": "INVALID_SESSION_ID", "message": "Invalid session"}]});
        let c = check(&rules(&["403"]), 200, veeva).unwrap();
        assert_eq!(c.matched, None, "a 403 rule does not match a 200");
        assert_eq!(
            c.suggested.as_deref(),
            Some("200 /errors/0/type = INVALID_SESSION_ID")
        );
        // A numeric code, and a status word with a code beside it.
        let numeric = json!({"error": {"code": 4011}});
        assert_eq!(
            check(&rules(&[]), 200, numeric)
                .unwrap()
                .suggested
                .as_deref(),
            Some("200 /error/code = 4011")
        );
        let worded = json!({"status": "Error", "code": "E_AUTH"});
        assert_eq!(error_at(&worded), Some(at("/code", Some(json!("E_AUTH")))));
        assert_eq!(
            error_at(&json!({"success": false})),
            Some(at("/success", Some(json!(false))))
        );
        // An error object with prose only: seen, but nothing a 200 rule could match on.
        let prose = json!({"error": {"message": "Token expired after 0m 02s"}});
        assert_eq!(error_at(&prose), Some(at("/error", None)));
        let c = check(&rules(&[]), 200, prose).unwrap();
        assert_eq!(c.suggested, None);
        // A 403 with words only: a word it contains, checked against it.
        let c = check(&rules(&[]), 403, json!({"message": "Your token EXPIRED"})).unwrap();
        assert_eq!(c.suggested.as_deref(), Some("403 ~ expired"));
        let c = check(
            &rules(&["403 ~ expired"]),
            403,
            json!({"message": "Access denied"}),
        );
        assert_eq!(c.clone().unwrap().matched, None);
        assert_eq!(c.unwrap().suggested.as_deref(), Some("403"));
    }

    #[test]
    fn prose_and_pipes_are_no_codes_and_words_are_cleaned() {
        assert!(!code_like(&json!("Token expired after 2s")));
        assert!(!code_like(&json!("a|b")));
        assert!(!code_like(&json!("")));
        assert!(code_like(&json!("invalid_token")));
        let token = Secret::new("eyJhbGciOiJSUzI1NiJ9.secret-part");
        let body =
            json!({"error_description": "bad \u{1b}[2J token eyJhbGciOiJSUzI1NiJ9.secret-part"});
        let w = words(&body, &token).unwrap();
        assert!(!w.contains("secret-part") && !w.contains('\u{1b}'), "{w}");
        assert!(w.contains(&token.fingerprint()), "{w}");
    }
}
