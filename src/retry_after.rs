//! A server's time, read once for everyone: `Retry-After` (RFC 9110 §10.2.3) as
//! delay-seconds or an HTTP date, clamped so a server cannot park a sync for hours, and
//! the server's own "now" (its `Date` header) that such dates and a JWT's `exp` are read
//! against. Digits beyond `u64` saturate instead of being ignored.

use std::time::{Duration, SystemTime};

/// The longest wait a server's ask is recorded as (its word is data: bounded before use):
/// one day, the most `sync.max_retry_after_secs` allows. Every reader of `Retry-After` (API
/// calls, token requests, session logins and the lock a login budget keeps) clamps here,
/// so a year-long ask reads the same on every run.
pub const MAX_ASKED: Duration = Duration::from_secs(24 * 3600);

/// The server's "now" as its answer states it: the `Date` header when it has a valid one,
/// else `local` (our wall clock). A date the server gives (a `Retry-After` date, a JWT's
/// `exp` without `iat`) is meant on the server's clock; read against ours, a server a few
/// minutes ahead would look like it asks for minutes of waiting.
pub fn server_now(date: Option<&str>, local: SystemTime) -> SystemTime {
    date.and_then(|d| httpdate::parse_http_date(d.trim()).ok())
        .unwrap_or(local)
}

/// [`server_now`] of an answer's headers.
pub fn server_now_of(headers: &reqwest::header::HeaderMap, local: SystemTime) -> SystemTime {
    server_now(date_of(headers), local)
}

/// The `Date` header's text, when it is text.
pub fn date_of(headers: &reqwest::header::HeaderMap) -> Option<&str> {
    headers
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
}

/// A wait the server asked for, in the one wording every message uses ("90 s",
/// "5 min", "2 h 30 min"), and "or more" when the ask was clamped to [`MAX_ASKED`].
pub fn words(wait: Duration) -> String {
    let s = wait.min(MAX_ASKED).as_secs();
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    let text = match (h, m, sec) {
        (0, 0, s) => format!("{s} s"),
        (0, m, 0) => format!("{m} min"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, 0, _) => format!("{h} h"),
        (h, m, _) => format!("{h} h {m} min"),
    };
    if wait >= MAX_ASKED {
        format!("{text} or more")
    } else {
        text
    }
}

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

/// The header of a response, parsed against the answer's own clock ([`server_now_of`],
/// `local` when it has no `Date`), capped to `max`.
pub fn from_headers(
    headers: &reqwest::header::HeaderMap,
    local: SystemTime,
    max: Duration,
) -> Option<Duration> {
    asked_in(headers, local).map(|d| d.min(max))
}

/// What an answer's `Retry-After` asks for, against the answer's own clock, bounded to
/// [`MAX_ASKED`] only.
pub fn asked_in(headers: &reqwest::header::HeaderMap, local: SystemTime) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    asked(v, server_now_of(headers, local))
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
        assert_eq!(asked("31622400", now), Some(MAX_ASKED));
        assert_eq!(words(MAX_ASKED), "24 h or more");
        assert_eq!(words(Duration::from_secs(7)), "7 s");
        assert_eq!(words(Duration::from_secs(86_399)), "23 h 59 min");
    }

    #[test]
    fn a_date_is_read_on_the_answers_own_clock() {
        use reqwest::header::{DATE, HeaderMap, HeaderValue, RETRY_AFTER};
        // The server runs 300 s ahead of us and asks to retry at its now + 1 s.
        let local = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            DATE,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:33:00 GMT"),
        );
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:33:01 GMT"),
        );
        assert_eq!(from_headers(&h, local, MAX), Some(Duration::from_secs(1)));
        assert_eq!(asked_in(&h, local), Some(Duration::from_secs(1)));
        // Without `Date`, our clock is all there is: 301 s, capped.
        h.remove(DATE);
        assert_eq!(from_headers(&h, local, MAX), Some(MAX));
        assert_eq!(asked_in(&h, local), Some(Duration::from_secs(301)));
        // A `Date` that does not parse is no clock.
        h.insert(DATE, HeaderValue::from_static("yesterday"));
        assert_eq!(server_now_of(&h, local), local);
        // Seconds do not depend on any clock.
        h.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(from_headers(&h, local, MAX), Some(Duration::from_secs(2)));
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
