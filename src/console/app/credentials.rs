//! The ends of the run's long-lived credentials (the client certificate's notAfter, the
//! configured client-secret expiry) as deadlines on the console's clock, so rendering
//! needs no wall clock.

use std::time::{Duration, Instant, SystemTime};

/// A client certificate is warned about this long before its notAfter.
pub const CERTIFICATE_WARNING: Duration = crate::config::key_material::EXPIRY_WARNING;
/// A client secret is warned about this long before `auth.secret_expires_at`.
pub const SECRET_WARNING: Duration = crate::config::SECRET_EXPIRY_WARNING;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Credentials {
    pub certificate: Option<Instant>,
    pub secret: Option<Instant>,
}

impl Credentials {
    /// Wall-clock ends turned into deadlines, `wall` and `now` being the same moment.
    pub fn at(
        certificate: Option<SystemTime>,
        secret: Option<SystemTime>,
        wall: SystemTime,
        now: Instant,
    ) -> Self {
        let deadline = |at: SystemTime| match at.duration_since(wall) {
            Ok(left) => now.checked_add(left).unwrap_or(now),
            // Already past: a deadline behind `now` (or `now` itself if the clock cannot
            // go back that far) shows as expired either way.
            Err(e) => now.checked_sub(e.duration()).unwrap_or(now),
        };
        Credentials {
            certificate: certificate.map(deadline),
            secret: secret.map(deadline),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.certificate.is_none() && self.secret.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_become_deadlines_on_the_console_clock() {
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let now = Instant::now();
        let day = Duration::from_secs(86_400);
        let c = Credentials::at(Some(wall + 21 * day), Some(wall - day), wall, now);
        assert_eq!(c.certificate, Some(now + 21 * day));
        assert!(c.secret.is_some_and(|s| s <= now));
        assert!(Credentials::at(None, None, wall, now).is_empty());
    }
}
