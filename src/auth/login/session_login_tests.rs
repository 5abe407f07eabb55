use reqwest::header::{HeaderMap, HeaderValue, SET_COOKIE};

use super::*;

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

fn body(pointer: &str, b: &str) -> Result<String, String> {
    read_id(
        &IdSource::Body(pointer.into()),
        &HeaderMap::new(),
        b.as_bytes(),
    )
    .map(|s| s.expose().to_string())
}

#[test]
fn the_id_is_read_from_a_json_pointer_leniently() {
    assert_eq!(
        body("/sessionId", r#"{"sessionId":"s-1","user":"u"}"#).unwrap(),
        "s-1"
    );
    assert_eq!(
        body("/data/0/sid", r#"{"data":[{"sid":" s-2 "}]}"#).unwrap(),
        "s-2"
    );
    assert_eq!(body("/id", r#"{"id":12345}"#).unwrap(), "12345");
    assert_eq!(body("", r#""whole-body-id""#).unwrap(), "whole-body-id");
    let e = body("/sessionId", r#"{"user":"u"}"#).unwrap_err();
    assert_eq!(e, "the login answer has nothing at body:/sessionId");
    let e = body("/sessionId", r#"{"sessionId":{"v":"x"}}"#).unwrap_err();
    assert!(e.contains("an object at body:/sessionId"), "{e}");
    let e = body("/sessionId", "<html>login</html>").unwrap_err();
    assert!(e.contains("not JSON") && !e.contains("html>"), "{e}");
    let e = body("/sessionId", r#"{"sessionId":""}"#).unwrap_err();
    assert!(e.contains("empty session id"), "{e}");
    let e = body("/sessionId", r#"{"sessionId":"a b"}"#).unwrap_err();
    assert!(e.contains("cannot carry") && !e.contains("a b"), "{e}");
    let e = body("/sessionId", r#"{"sessionId":"a;b"}"#).unwrap_err();
    assert!(e.contains("cannot carry"), "{e}");
}

#[test]
fn the_id_is_read_from_a_header_or_a_cookie() {
    let h = headers(&[("x-session-id", "hdr-id")]);
    let id = read_id(&IdSource::Header("X-Session-Id".into()), &h, b"{}").unwrap();
    assert_eq!(id.expose(), "hdr-id");
    let e = read_id(&IdSource::Header("X-Other".into()), &h, b"{}").unwrap_err();
    assert!(e.contains("no X-Other header"), "{e}");

    let h = headers(&[
        (SET_COOKIE.as_str(), "theme=dark; Path=/"),
        (SET_COOKIE.as_str(), "SESSIONID=\"ck-id\"; Path=/; HttpOnly"),
    ]);
    let id = read_id(&IdSource::Cookie("SESSIONID".into()), &h, b"{}").unwrap();
    assert_eq!(id.expose(), "ck-id");
    // A deletion (empty value) is no id; names are exact.
    let h = headers(&[(SET_COOKIE.as_str(), "SESSIONID=; Max-Age=0")]);
    assert!(read_id(&IdSource::Cookie("SESSIONID".into()), &h, b"{}").is_err());
    let h = headers(&[(SET_COOKIE.as_str(), "SESSIONID2=x")]);
    let e = read_id(&IdSource::Cookie("SESSIONID".into()), &h, b"{}").unwrap_err();
    assert!(e.contains("sets no cookie SESSIONID"), "{e}");
}

#[test]
fn debug_shows_the_password_as_a_fingerprint_only() {
    let mut cfg = Config::default();
    cfg.auth.kind = crate::config::AuthKind::Session;
    let login = SessionLogin::new(&cfg, &Secret::new("pw-canary-123"), None).unwrap();
    let shown = format!("{login:?}");
    assert!(!shown.contains("pw-canary-123"), "{shown}");
    assert!(shown.contains("sync-bot") && shown.contains("/api/v1/session/login"));
    assert_eq!(
        login.credential(),
        "session http://127.0.0.1:8080/api/v1/session/login sync-bot"
    );
    assert!(SessionLogin::new(&cfg, &Secret::new(""), None).is_err());
}
