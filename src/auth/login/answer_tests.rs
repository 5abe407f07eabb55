use super::*;
use proptest::prelude::*;

fn parse(body: &str) -> Result<LenientTokenResponse, serde_json::Error> {
    serde_json::from_str(body)
}

fn jwt_with(claims: &str) -> String {
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!("{}.{}.sig", b.encode(r#"{"alg":"none"}"#), b.encode(claims))
}

#[test]
fn expires_in_as_number_string_float_or_missing() {
    let t = parse(r#"{"access_token":"a","token_type":"Bearer","expires_in":3599}"#).unwrap();
    assert_eq!(t.expires_in(), Some(Duration::from_secs(3599)));
    let t = parse(r#"{"access_token":"a","token_type":"Bearer","expires_in":"3599"}"#).unwrap();
    assert_eq!(t.expires_in(), Some(Duration::from_secs(3599)));
    let t = parse(r#"{"access_token":"a","expires_in":" 60 "}"#).unwrap();
    assert_eq!(t.expires_in_secs(), Some(60));
    let t = parse(r#"{"access_token":"a","expires_in":59.9}"#).unwrap();
    assert_eq!(t.expires_in_secs(), Some(59));
    let t = parse(r#"{"access_token":"a","expires_in":null}"#).unwrap();
    assert_eq!(t.expires_in(), None);
    let t = parse(r#"{"access_token":"a"}"#).unwrap();
    assert_eq!(t.expires_in(), None);
    let e = parse(r#"{"access_token":"a","expires_in":"soon"}"#).unwrap_err();
    assert!(
        e.to_string()
            .contains("\"soon\" is not a number of seconds"),
        "{e}"
    );
}

#[test]
fn absurd_numbers_are_bounded() {
    for body in [
        r#"{"access_token":"a","expires_in":9223372036854775808}"#,
        r#"{"access_token":"a","expires_in":18446744073709551615}"#,
        r#"{"access_token":"a","expires_in":1e300}"#,
        r#"{"access_token":"a","expires_in":"99999999999999999999999"}"#,
        r#"{"access_token":"a","expires_in":1,"refresh_expires_in":18446744073709551615}"#,
    ] {
        let t = parse(body).unwrap();
        for d in [t.expires_in(), t.refresh_expires_in()]
            .into_iter()
            .flatten()
        {
            assert!(d <= Duration::from_secs(MAX_LIFETIME_SECS), "{body}: {d:?}");
        }
    }
    let t = parse(r#"{"access_token":"a","expires_in":-5}"#).unwrap();
    assert_eq!(t.expires_in_secs(), Some(0));
    assert_eq!(
        parse_secs_header("18446744073709551616"),
        Some(MAX_LIFETIME_SECS)
    );
    assert_eq!(parse_secs_header(" 42 "), Some(42));
    assert_eq!(parse_secs_header("-1"), None);
    assert_eq!(parse_secs_header("4e2"), None);
}

#[test]
fn token_type_any_case_or_missing_scope_missing_unknown_fields_ignored() {
    for tt in [r#""bearer""#, r#""BEARER""#, r#""Bearer""#, "null", r#""""#] {
        let t = parse(&format!(r#"{{"access_token":"a","token_type":{tt}}}"#)).unwrap();
        assert_eq!(*t.token_type(), BasicTokenType::Bearer, "{tt}");
    }
    let t =
        parse(r#"{"access_token":"a","ext_expires_in":3599,"id_token":"x","nested":{"a":[1]}}"#)
            .unwrap();
    assert_eq!(*t.token_type(), BasicTokenType::Bearer);
    assert!(t.scopes().is_none());
    let t = parse(r#"{"access_token":"a","scope":"a  b"}"#).unwrap();
    assert_eq!(t.scopes().map(Vec::len), Some(2));
    let t = parse(r#"{"access_token":"a","scope":["a","b",3]}"#).unwrap();
    assert_eq!(t.scopes().map(Vec::len), Some(2));
    let t = parse(r#"{"access_token":"a","scope":7}"#).unwrap();
    assert!(t.scopes().is_none());
    let t = parse(r#"{"access_token":"a","refresh_expires_in":"86400"}"#).unwrap();
    assert_eq!(t.refresh_expires_in(), Some(Duration::from_secs(86400)));
}

#[test]
fn lifetime_falls_back_to_jwt_exp_then_configuration() {
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let (l, s) = lifetime(Some(900), "opaque", 3600, now);
    assert_eq!(
        (l, s),
        (Some(Duration::from_secs(900)), LifetimeSource::ExpiresIn)
    );
    let jwt = jwt_with(r#"{"iat":1799999990,"exp":1800000590}"#);
    let (l, s) = lifetime(None, &jwt, 3600, now);
    assert_eq!(
        (l, s),
        (Some(Duration::from_secs(600)), LifetimeSource::JwtExp)
    );
    // No iat: counted from now; exp as a string works too.
    let jwt = jwt_with(r#"{"exp":"1800000300"}"#);
    assert_eq!(jwt_lifetime(&jwt, now), Some(300));
    let (l, s) = lifetime(None, "opaque-token", 3600, now);
    assert_eq!(
        (l, s),
        (Some(Duration::from_secs(3600)), LifetimeSource::Configured)
    );
    let jwt = jwt_with(r#"{"sub":"x"}"#);
    assert_eq!(lifetime(None, &jwt, 120, now).1, LifetimeSource::Configured);
    for short in [0, 1] {
        assert_eq!(
            lifetime(Some(short), "t", 3600, now),
            (None, LifetimeSource::TooShort)
        );
    }
    assert_eq!(jwt_lifetime("a.!!!.c", now), None);
    assert_eq!(jwt_lifetime("only.two", now), None);
}

#[test]
fn screen_sorts_out_what_is_no_token_answer() {
    let ok = br#"{"access_token":"a"}"#;
    assert_eq!(screen(200, Some("application/json"), ok), Ok(()));
    // A token answer labelled text/plain is still a token answer.
    assert_eq!(screen(200, Some("text/plain"), ok), Ok(()));
    assert_eq!(
        screen(
            400,
            Some("application/json"),
            br#"{"error":"invalid_grant"}"#
        ),
        Ok(())
    );
    match screen(200, Some("text/html; charset=utf-8"), b"<html>login</html>") {
        Err(Screened::NoToken {
            status: 200,
            content_type,
            what,
        }) => {
            assert_eq!(content_type, "text/html; charset=utf-8");
            assert!(what.contains("not JSON"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        screen(200, None, br#"{"token":"x"}"#),
        Err(Screened::NoToken { what, .. }) if what.contains("without access_token")
    ));
    assert!(matches!(
        screen(200, None, br#"{"error":"invalid_client","error_description":"bad"}"#),
        Err(Screened::ErrorIn2xx { code, .. }) if code == "invalid_client"
    ));
    match screen(429, Some("text/plain"), b"slow down please") {
        Err(Screened::Busy {
            status: 429, text, ..
        }) => assert_eq!(text, "slow down please"),
        other => panic!("{other:?}"),
    }
    match screen(
        503,
        None,
        br#"{"error":"temporarily_unavailable","error_description":"maintenance"}"#,
    ) {
        Err(Screened::Busy { text, .. }) => {
            assert_eq!(text, "temporarily_unavailable: maintenance")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        screen(403, Some("text/html"), b"<html>forbidden</html>"),
        Err(Screened::NoToken { status: 403, .. })
    ));
    let big = format!(
        r#"{{"access_token":"{}"}}"#,
        "x".repeat(MAX_TOKEN_BYTES + 1)
    );
    assert!(matches!(
        screen(200, None, big.as_bytes()),
        Err(Screened::TooLarge { what }) if what.contains("64 KiB")
    ));
}

/// Any JSON value, a few levels deep, with the field names of a token answer likely.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        "\\PC{0,20}".prop_map(serde_json::Value::from),
        "[0-9]{1,30}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("access_token".to_string()),
                    Just("token_type".to_string()),
                    Just("expires_in".to_string()),
                    Just("refresh_token".to_string()),
                    Just("refresh_expires_in".to_string()),
                    Just("scope".to_string()),
                    "[a-z_]{1,10}",
                ],
                inner,
                0..7
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(
        status in 100u16..600,
        ct in proptest::option::of("\\PC{0,30}"),
        body in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let _ = screen(status, ct.as_deref(), &body);
        let _ = serde_json::from_slice::<LenientTokenResponse>(&body);
        let _ = error_text(&body);
    }

    #[test]
    fn arbitrary_answers_parse_or_fail_cleanly_and_stay_bounded(v in json_value()) {
        let body = serde_json::to_vec(&v).unwrap();
        let _ = screen(200, Some("application/json"), &body);
        if let Ok(t) = serde_json::from_slice::<LenientTokenResponse>(&body) {
            let max = Duration::from_secs(MAX_LIFETIME_SECS);
            prop_assert!(t.expires_in().is_none_or(|d| d <= max));
            prop_assert!(t.refresh_expires_in().is_none_or(|d| d <= max));
            let (l, _) = lifetime(t.expires_in_secs(), &t.access_token().secret().clone(), 3600, SystemTime::now());
            prop_assert!(l.is_none_or(|d| d <= max && d >= Duration::from_secs(MIN_LIFETIME_SECS)));
            // A deadline from it never overflows.
            let _ = std::time::Instant::now() + l.unwrap_or_default();
        }
    }

    #[test]
    fn any_numeric_expires_in_is_accepted_and_clamped(n in any::<u64>(), as_string in any::<bool>()) {
        let field = if as_string { format!("\"{n}\"") } else { n.to_string() };
        let t = parse(&format!(r#"{{"access_token":"a","expires_in":{field},"refresh_expires_in":{field}}}"#)).unwrap();
        prop_assert_eq!(t.expires_in_secs(), Some(n));
        prop_assert_eq!(t.expires_in(), Some(Duration::from_secs(n.min(MAX_LIFETIME_SECS))));
        prop_assert_eq!(t.refresh_expires_in(), Some(Duration::from_secs(n.min(MAX_LIFETIME_SECS))));
    }

    #[test]
    fn expiry_header_never_panics_and_is_clamped(v in "\\PC{0,40}", n in any::<u128>()) {
        if let Some(s) = parse_secs_header(&v) {
            prop_assert!(s <= MAX_LIFETIME_SECS);
        }
        let s = parse_secs_header(&n.to_string());
        prop_assert_eq!(s, Some(u64::try_from(n).unwrap_or(u64::MAX).min(MAX_LIFETIME_SECS)));
    }

    #[test]
    fn jwt_claims_never_panic(claims in json_value(), junk in "\\PC{0,40}") {
        let now = SystemTime::now();
        let t = jwt_with(&claims.to_string());
        if let Some(s) = jwt_lifetime(&t, now) {
            let _ = lifetime(None, &t, 3600, now);
            prop_assert!(lifetime(Some(s), &t, 3600, now).0.is_none_or(|d| d.as_secs() <= MAX_LIFETIME_SECS));
        }
        let _ = jwt_lifetime(&junk, now);
    }
}
