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
