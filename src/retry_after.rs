//! `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP date, clamped so a server
//! cannot park a sync for hours. Digits beyond `u64` saturate instead of being ignored.

use std::time::{Duration, SystemTime};

/// The longest wait a server's ask is recorded as (its word is data: bounded before use).
pub const MAX_ASKED: Duration = Duration::from_secs(366 * 24 * 3600);

/// What the server asks for, bounded to [`MAX_ASKED`] but not to our own maximum, so a
/// caller can report "the server asks to wait 24 h". `None` when the value is neither form.
pub fn asked(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: only overflow fails the parse, and that is "very long".
        Duration::from_secs(
            value
                .parse::<u64>()
                .unwrap_or(u64::MAX)
                .min(MAX_ASKED.as_secs()),
        )
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_ASKED))
}

/// Parses a `Retry-After` value at wall time `now`. A date in the past means "now" (zero);
/// anything longer than `max` is cut to `max`. `None` when the value is neither form.
pub fn parse(value: &str, now: SystemTime, max: Duration) -> Option<Duration> {
    asked(value, now).map(|d| d.min(max))
}

/// The header of a response, parsed.
pub fn from_headers(
    headers: &reqwest::header::HeaderMap,
    now: SystemTime,
    max: Duration,
) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    parse(v, now, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: Duration = Duration::from_secs(120);

    #[test]
    fn seconds() {
        let now = SystemTime::now();
        assert_eq!(parse("7", now, MAX), Some(Duration::from_secs(7)));
        assert_eq!(parse(" 0 ", now, MAX), Some(Duration::ZERO));
        assert_eq!(parse("86400", now, MAX), Some(MAX));
        // Beyond u64: saturates rather than being ignored.
        assert_eq!(parse("18446744073709551616", now, MAX), Some(MAX));
        assert_eq!(asked("18446744073709551615", now), Some(MAX_ASKED));
        assert_eq!(asked("86400", now), Some(Duration::from_secs(86400)));
    }

    #[test]
    fn http_date() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            parse("Wed, 21 Oct 2015 07:28:30 GMT", now, MAX),
            Some(Duration::from_secs(30))
        );
        // In the past: retry now.
        assert_eq!(
            parse("Wed, 21 Oct 2015 07:00:00 GMT", now, MAX),
            Some(Duration::ZERO)
        );
        // Far future: clamped.
        assert_eq!(parse("Thu, 22 Oct 2015 07:28:00 GMT", now, MAX), Some(MAX));
    }

    #[test]
    fn garbage_is_none() {
        let now = SystemTime::now();
        assert_eq!(parse("soon", now, MAX), None);
        assert_eq!(parse("-5", now, MAX), None);
        assert_eq!(parse("", now, MAX), None);
    }

    proptest::proptest! {
        #[test]
        fn any_value_parses_without_panic_and_is_clamped(v in "\\PC{0,60}", n in proptest::prelude::any::<u128>()) {
            let now = SystemTime::now();
            for value in [v.clone(), n.to_string(), format!("Fri, 31 Dec 9999 23:59:{v} GMT")] {
                if let Some(d) = parse(&value, now, MAX) {
                    proptest::prop_assert!(d <= MAX);
                }
                if let Some(d) = asked(&value, now) {
                    proptest::prop_assert!(d <= MAX_ASKED);
                }
            }
        }
    }
}
