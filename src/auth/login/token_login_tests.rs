use super::*;
use serde_json::json;

#[test]
fn lifetimes_read_in_every_unit() {
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    assert_eq!(
        lifetime_of(&json!(900000), LifetimeUnit::Ms, now),
        Some(Duration::from_secs(900))
    );
    assert_eq!(
        lifetime_of(&json!("60"), LifetimeUnit::S, now),
        Some(Duration::from_secs(60))
    );
    assert_eq!(
        lifetime_of(&json!(1_700_000_030u64), LifetimeUnit::At, now),
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        lifetime_of(&json!(1_700_000_030_000u64), LifetimeUnit::At, now),
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        lifetime_of(&json!("2023-11-14T22:14:20Z"), LifetimeUnit::At, now),
        Some(Duration::from_secs(60))
    );
    assert_eq!(
        lifetime_of(&json!("2023-11-14T22:00:00Z"), LifetimeUnit::At, now),
        Some(Duration::ZERO),
        "an expiry in the past is a dead token"
    );
    assert_eq!(lifetime_of(&json!(null), LifetimeUnit::S, now), None);
    assert_eq!(lifetime_of(&json!(-1), LifetimeUnit::Ms, now), None);
}

#[test]
fn platform_error_bodies_are_read() {
    let b = br#"{"errors":[{"message":"Token expired.","extensions":{"code":"TOKEN_EXPIRED"}}]}"#;
    assert_eq!(
        platform_words(b).as_deref(),
        Some("Token expired. (TOKEN_EXPIRED)")
    );
    assert_eq!(platform_words(b"{\"error\":\"x\"}"), None);
    assert_eq!(platform_words(b"nope"), None);
}

#[test]
fn a_refresh_lifetime_beside_the_access_token_is_read_in_seconds() {
    let at = "/data/access_token";
    let a = json!({"data": {"access_token": "t", "refresh_expires_in": 600}});
    assert_eq!(refresh_lifetime(&a, at), Some(Duration::from_secs(600)));
    let b = json!({"data": {"access_token": "t", "refresh_token_expires_in": "90"}});
    assert_eq!(refresh_lifetime(&b, at), Some(Duration::from_secs(90)));
    // At the top level, when the token is; none stated, or 0, is none.
    let c = json!({"access_token": "t", "refresh_expires_in": 30});
    assert_eq!(
        refresh_lifetime(&c, "/access_token"),
        Some(Duration::from_secs(30))
    );
    let d = json!({"data": {"access_token": "t", "expires": 900000}});
    assert_eq!(refresh_lifetime(&d, at), None);
    let e = json!({"data": {"access_token": "t", "refresh_expires_in": 0}});
    assert_eq!(refresh_lifetime(&e, at), None);
}
