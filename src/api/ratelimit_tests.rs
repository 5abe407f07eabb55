use super::*;
use reqwest::header::{HeaderName, HeaderValue};

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

#[test]
fn the_ietf_fields_in_both_drafts_are_read() {
    let now = SystemTime::now();
    let s = stated(
        &headers(&[
            ("RateLimit-Policy", "120;w=60"),
            ("RateLimit", "limit=120, remaining=5, reset=30"),
        ]),
        now,
    )
    .unwrap();
    assert_eq!(
        (s.limit, s.window_secs, s.remaining, s.reset_secs),
        (Some(120), Some(60), Some(5), Some(30))
    );
    assert_eq!(s.label().as_deref(), Some("RateLimit: 120/min"));
    let s = stated(
        &headers(&[
            ("RateLimit-Policy", "\"default\";q=10;w=1"),
            ("RateLimit", "\"default\";r=0;t=1"),
        ]),
        now,
    )
    .unwrap();
    assert_eq!(
        (s.limit, s.remaining, s.reset_secs),
        (Some(10), Some(0), Some(1))
    );
    assert_eq!(s.label().as_deref(), Some("RateLimit: 10/s"));
}

#[test]
fn x_ratelimit_reset_as_a_unix_time_is_seconds_from_now() {
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let s = stated(
        &headers(&[
            ("X-RateLimit-Limit", "100"),
            ("X-RateLimit-Remaining", "7"),
            ("X-RateLimit-Reset", "1800000020"),
        ]),
        now,
    )
    .unwrap();
    assert_eq!((s.remaining, s.reset_secs), (Some(7), Some(20)));
    assert_eq!(s.label().as_deref(), Some("X-RateLimit: 100 per window"));
    assert!(stated(&headers(&[("X-Other", "1")]), now).is_none());
}

#[test]
fn an_exhausted_quota_holds_requests_until_it_resets() {
    let p = Pacer::new(0);
    let t0 = Instant::now();
    assert!(p.reserve(t0).is_zero(), "no limit known: no wait");
    p.observe(
        &headers(&[
            ("RateLimit-Policy", "10;w=1"),
            ("RateLimit", "limit=10, remaining=0, reset=2"),
        ]),
        t0,
    );
    let wait = p.reserve(t0);
    assert!(wait >= Duration::from_millis(1900), "{wait:?}");
    assert_eq!(p.label().as_deref(), Some("RateLimit: 10/s"));
}

#[test]
fn a_remaining_quota_is_spread_over_the_time_left() {
    let p = Pacer::new(0);
    let t0 = Instant::now();
    // 4 left for 2 seconds of a 1-per-second policy: 2 a second.
    p.observe(
        &headers(&[
            ("RateLimit-Policy", "60;w=60"),
            ("RateLimit", "remaining=4, reset=2"),
        ]),
        t0,
    );
    assert!(p.reserve(t0).is_zero());
    let wait = p.reserve(t0);
    assert!((wait.as_secs_f64() - 0.5).abs() < 0.01, "{wait:?}");
}

#[test]
fn the_configured_cap_holds_whatever_the_server_says() {
    let p = Pacer::new(2);
    let t0 = Instant::now();
    p.observe(&headers(&[("RateLimit-Policy", "1000;w=1")]), t0);
    assert!(p.reserve(t0).is_zero());
    let wait = p.reserve(t0);
    assert!((wait.as_secs_f64() - 0.5).abs() < 0.01, "{wait:?}");
}
