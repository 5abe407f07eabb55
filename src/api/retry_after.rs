//! `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP date, clamped so a server
//! cannot park a sync for hours.

use std::time::{Duration, SystemTime};

/// Parses a `Retry-After` value at wall time `now`. A date in the past means "now" (zero);
/// anything longer than `max` is cut to `max`. `None` when the value is neither form.
pub fn parse(value: &str, now: SystemTime, max: Duration) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(max))
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
}
