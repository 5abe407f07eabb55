//! A 2xx push answer whose body says it failed (`api.success_when`): the error that
//! retries it, with the rule that would tell such an answer apart — an
//! `auth.expired_when` rule made from the body when it reads like a dead session or
//! token, else `api.reject_statuses` or `api.success_when`.

use serde_json::Value;

use super::ApiError;
use crate::config::expired_when::ExpiryRule;
use crate::mapping::success::top_level_error;
use crate::server_text::Redactor;

/// Pointers where APIs put an error code, the most specific first.
const CODE_AT: &[&str] = &[
    "/errorCode",
    "/error_code",
    "/error/code",
    "/errors/0/code",
    "/errors/0/type",
    "/error",
    "/code",
];
/// Words of a body that say the session or token is what failed.
const EXPIRY_WORDS: &[&str] = &[
    "expired",
    "session",
    "token",
    "unauthori",
    "unauthenti",
    "login",
    "logged",
    "credential",
];

/// The error for a `status` answer whose `body` does not fit `api.success_when`.
pub(super) fn error_body(status: u16, body: &[u8], r: &Redactor) -> ApiError {
    let v: Option<Value> = serde_json::from_slice(body).ok();
    let message = match r.clean_to(&String::from_utf8_lossy(body), 160) {
        t if t.is_empty() => "an empty body".to_string(),
        t => t,
    };
    ApiError::ErrorBody {
        status,
        message,
        hint: hint(status, body, v.as_ref()),
    }
}

/// Which rule would catch this answer.
fn hint(status: u16, body: &[u8], v: Option<&Value>) -> String {
    let off = "if such answers are a success for your API, set api.success_when";
    let Some(v) = v else {
        return format!("The body is not the success api.success_when asks for; {off}");
    };
    let key = top_level_error(v).map_or("an error".to_string(), |k| format!("`{k}`"));
    let text = String::from_utf8_lossy(body).to_lowercase();
    let expiry = EXPIRY_WORDS.iter().any(|w| text.contains(w));
    match (expiry, suggest(status, body, v)) {
        (true, Some(rule)) => format!(
            "Its top level carries {key} and it reads like a dead session or token: if it \
             is, set auth.expired_when = [\"{rule}\"] (the session is then renewed and the \
             request replayed); {off}"
        ),
        (_, rule) => {
            let expired = rule
                .map(|r| {
                    format!(
                        "; if it means the session or token is dead, auth.expired_when = [\"{r}\"]"
                    )
                })
                .unwrap_or_default();
            format!(
                "Its top level carries {key}: if it refuses this record, add \"{status}\" to \
                 api.reject_statuses (per-record answers){expired}; {off}"
            )
        }
    }
}

/// An `auth.expired_when` rule matching this very answer: a code-like value at one of
/// the usual pointers, checked against the answer before it is offered.
fn suggest(status: u16, body: &[u8], v: &Value) -> Option<String> {
    CODE_AT.iter().find_map(|p| {
        let value = match v.pointer(p)? {
            Value::String(s)
                if !s.is_empty()
                    && s.chars().count() <= 64
                    && s.chars().all(|c| c.is_ascii_graphic() && c != '|') =>
            {
                s.clone()
            }
            n @ Value::Number(_) => n.to_string(),
            _ => return None,
        };
        let rule = format!("{status} {p} = {value}");
        ExpiryRule::parse(&rule)
            .is_ok_and(|r| r.matches(status, body))
            .then_some(rule)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_session_in_a_200_gets_an_expiry_rule() {
        let body = br#"{"errorCode": 602, "message": "Session expired or invalid"}"#;
        let e = error_body(200, body, &Redactor::new());
        let ApiError::ErrorBody { hint, message, .. } = &e else {
            panic!("{e:?}")
        };
        assert!(
            hint.contains(r#"auth.expired_when = ["200 /errorCode = 602"]"#),
            "{hint}"
        );
        assert!(message.contains("Session expired"), "{message}");
        assert!(e.is_retryable());
        assert!(e.to_string().contains("not counted as applied"), "{e}");
    }

    #[test]
    fn other_errors_point_at_rejects_and_success_when() {
        let body = br#"{"error": {"code": "VALIDATION", "message": "country blocked"}}"#;
        let ApiError::ErrorBody { hint, .. } = error_body(200, body, &Redactor::new()) else {
            panic!()
        };
        assert!(
            hint.contains(r#"add "200" to api.reject_statuses"#),
            "{hint}"
        );
        assert!(hint.contains("200 /error/code = VALIDATION"), "{hint}");
        assert!(hint.contains("api.success_when"), "{hint}");
        let ApiError::ErrorBody { hint, .. } =
            error_body(200, br#"{"status": "error"}"#, &Redactor::new())
        else {
            panic!()
        };
        assert!(hint.contains("`status`"), "{hint}");
    }
}
