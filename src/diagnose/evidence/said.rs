//! What a server's own words say about a refused token: the `error_description` of a 401
//! (docs/API.md §2.5 gives the simulator's forms; other servers word it their own way, so
//! this reads keywords and durations, never one exact sentence).

use serde::Serialize;

/// The clock a 401 names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "clock", rename_all = "snake_case")]
pub enum DeadBy {
    /// "Token expired after 15m 00s"
    Ttl { after_secs: Option<u64> },
    /// "Token idle for 0m 03s (idle timeout 2s)": the timeout is the server's setting.
    Idle { timeout_secs: Option<u64> },
    /// "Session expired after 60m 00s"
    Session { after_secs: Option<u64> },
    /// "Token revoked": not a clock at all.
    Revoked,
    /// Words that name no clock.
    Unknown,
}

/// Reads a 401 description.
pub fn read_401(description: &str) -> DeadBy {
    let d = description.to_ascii_lowercase();
    if d.contains("revoked") {
        return DeadBy::Revoked;
    }
    if d.contains("idle") || d.contains("inactiv") {
        let timeout_secs = d
            .find("timeout")
            .and_then(|i| duration_secs(&d[i + "timeout".len()..]));
        return DeadBy::Idle { timeout_secs };
    }
    let after = || d.find("after").and_then(|i| duration_secs(&d[i + 5..]));
    if d.contains("session") {
        return DeadBy::Session {
            after_secs: after(),
        };
    }
    if d.contains("expired") || d.contains("exp ") || d.contains("lifetime") {
        return DeadBy::Ttl {
            after_secs: after(),
        };
    }
    DeadBy::Unknown
}

/// The first duration in `text`: `15m 00s`, `0m 02s`, `2s`, `1m 30s`, `1h`, `900 seconds`,
/// `15 minutes`. `None` when it starts with none.
pub fn duration_secs(text: &str) -> Option<u64> {
    let t = text.trim_start_matches(|c: char| !c.is_ascii_digit() && c != ')');
    if t.starts_with(')') || t.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut seen = false;
    let mut rest = t;
    loop {
        let rest_trim = rest.trim_start();
        let digits: String = rest_trim
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        if digits.is_empty() {
            break;
        }
        let after_digits = rest_trim[digits.len()..].trim_start();
        let unit: String = after_digits
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        let mult = match unit.as_str() {
            "h" | "hr" | "hrs" | "hour" | "hours" => 3600,
            "m" | "min" | "mins" | "minute" | "minutes" => 60,
            "s" | "sec" | "secs" | "second" | "seconds" => 1,
            _ => break,
        };
        total = total.saturating_add(digits.parse::<u64>().ok()?.saturating_mul(mult));
        seen = true;
        rest = &after_digits[unit.len()..];
    }
    seen.then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_simulator_and_foreign_forms() {
        assert_eq!(
            read_401("Token idle for 0m 03s (idle timeout 2s)"),
            DeadBy::Idle {
                timeout_secs: Some(2)
            }
        );
        assert_eq!(
            read_401("Token idle for 0m 03s (idle timeout 0m 02s)"),
            DeadBy::Idle {
                timeout_secs: Some(2)
            }
        );
        assert_eq!(
            read_401("Token idle for 15m 02s (idle timeout 15m)"),
            DeadBy::Idle {
                timeout_secs: Some(900)
            }
        );
        assert_eq!(
            read_401("Token expired after 15m 00s"),
            DeadBy::Ttl {
                after_secs: Some(900)
            }
        );
        assert_eq!(
            read_401("Session expired after 60m 00s"),
            DeadBy::Session {
                after_secs: Some(3600)
            }
        );
        assert_eq!(read_401("Token revoked"), DeadBy::Revoked);
        assert_eq!(
            read_401("token was revoked after inactivity"),
            DeadBy::Revoked
        );
        assert_eq!(read_401("bad token"), DeadBy::Unknown);
        assert_eq!(read_401("idle"), DeadBy::Idle { timeout_secs: None });
    }

    #[test]
    fn durations() {
        assert_eq!(duration_secs(" 1m 30s)"), Some(90));
        assert_eq!(duration_secs("900 seconds"), Some(900));
        assert_eq!(duration_secs("1h"), Some(3600));
        assert_eq!(duration_secs(") and then 5s"), None);
        assert_eq!(duration_secs("nothing"), None);
        assert_eq!(duration_secs("12 apples"), None);
    }
}
