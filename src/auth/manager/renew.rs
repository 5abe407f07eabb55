//! The renewal path: the single flight (one renewal at a time per process, bursts of
//! demand or of 401s folded into it), one token request with its fallback from a refused
//! refresh to a new session, and installing the answer (cache first, then the state).

use std::time::{Duration, Instant, SystemTime};

use super::{TokenManager, Trigger};
use crate::auth::audit::EventKind;
use crate::auth::grant::{Grant, GrantError};
use crate::auth::state::{RenewalPlan, secs};
use crate::auth::status::{GrantKind, TokenPhase};

/// After a permanent refusal (bad client, bad scopes) callers get the same error without a
/// new request for this long; after a transient failure, for a second.
const PERMANENT_HOLD: Duration = Duration::from_secs(30);
const TRANSIENT_HOLD: Duration = Duration::from_secs(1);

/// A refresh refused because the session reached its absolute limit (not revoked, not
/// reused: those say nothing about how long sessions last).
fn ended_by_session_limit(e: &GrantError) -> bool {
    match e {
        GrantError::Rejected {
            code, description, ..
        } if code == "invalid_grant" => description.as_deref().is_some_and(|d| {
            let d = d.to_ascii_lowercase();
            d.contains("session") && d.contains("expired")
        }),
        _ => false,
    }
}

/// A refresh refused because it came before the server's refresh window (docs/API.md
/// §1.3), read by meaning: "too early", "not allowed yet", "not yet allowed", "only
/// within N seconds of its expiry" and the like, and the window when the words name one
/// ("within N s", "within N seconds", "within N minutes"). `Some(None)`: too early, window
/// not named.
pub(crate) fn too_early(e: &GrantError) -> Option<Option<Duration>> {
    too_early_or_said(e, "")
}

/// [`too_early`], also recognising `extra` (the configured words; "" = none).
pub(crate) fn too_early_or_said(e: &GrantError, extra: &str) -> Option<Option<Duration>> {
    let GrantError::Rejected {
        code, description, ..
    } = e
    else {
        return None;
    };
    let d = format!("{code} {}", description.as_deref().unwrap_or_default())
        .to_ascii_lowercase()
        .replace('_', " ");
    const EARLY: [&str; 7] = [
        "too early",
        "not allowed yet",
        "not yet allowed",
        "not permitted yet",
        "not yet permitted",
        "only within",
        "refresh window",
    ];
    let extra = extra.trim().to_ascii_lowercase().replace('_', " ");
    let said = !extra.is_empty() && d.contains(&extra);
    if !said && !EARLY.iter().any(|w| d.contains(w)) {
        return None;
    }
    Some(stated_window(&d).map(|w| w.min(Duration::from_secs(86_400))))
}

/// The window of "within N s", "within N seconds" or "within N minutes" (lower case).
fn stated_window(d: &str) -> Option<Duration> {
    let rest = d.split("within ").nth(1)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let n = digits.parse::<u64>().ok()?;
    let unit = rest[digits.len()..].trim_start();
    let secs = if unit.starts_with("min") {
        n.saturating_mul(60)
    } else if unit.starts_with("h") {
        n.saturating_mul(3600)
    } else {
        n
    };
    Some(Duration::from_secs(secs))
}

impl TokenManager {
    /// [`too_early`] with the configured words (`auth.refresh_window_text`).
    fn too_early(&self, e: &GrantError) -> Option<Option<Duration>> {
        too_early_or_said(e, &self.settings.refresh_window_text)
    }

    /// The single flight. `expected`: the generation the caller saw; if the token changed
    /// meanwhile, someone else already renewed and this returns at once.
    pub(super) async fn renew(
        &self,
        trigger: Trigger,
        expected: Option<u64>,
    ) -> Result<(), GrantError> {
        let entered = Instant::now();
        let _flight = self.renewing.lock().await;
        {
            let mut st = self.lock();
            let now = Instant::now();
            if let Some(e) = &st.refused_by_api {
                return Err(e.clone());
            }
            if expected.is_some() && st.current_generation() != expected {
                return Ok(());
            }
            if trigger == Trigger::Proactive
                && st.next_refresh_at().is_none_or(|t| t > now)
                && st.current.as_ref().is_some_and(|c| !c.invalid)
            {
                return Ok(());
            }
            if trigger != Trigger::Forced
                && let Some((at, e)) = &st.last_failure
            {
                // The server's own `Retry-After` (up to the longest we honour) is the hold:
                // nobody asks before it says.
                let hold = match (e.is_transient(), e.retry_after()) {
                    (true, Some(said)) => said.min(self.max_retry_after()),
                    (true, None) => TRANSIENT_HOLD,
                    (false, _) => PERMANENT_HOLD,
                };
                let since = now.saturating_duration_since(*at);
                if *at >= entered || since < hold {
                    // What is left of the server's wish as it said it (not as we cut it),
                    // so a caller can tell a wait it may follow from one it may not.
                    let left = e.retry_after().map(|said| said.saturating_sub(since));
                    return Err(match left {
                        Some(left) => e.clone().with_retry_after_left(left),
                        None => e.clone(),
                    });
                }
            }
            st.phase = TokenPhase::Refreshing;
            self.publish(&mut st);
        }
        self.pace().await;
        let result = self.renew_shared(&trigger).await;
        if let Err(e) = &result {
            let mut st = self.lock();
            st.phase = if st.usable(Instant::now()).is_some() {
                TokenPhase::Valid
            } else {
                TokenPhase::Failed
            };
            st.last_error = Some(e.to_string());
            st.last_failure = Some((Instant::now(), e.clone()));
            self.publish(&mut st);
            drop(st);
            let what = match self.endpoint.session() {
                Some(_) => "session login",
                None => "token renewal",
            };
            self.audit.record(
                EventKind::RefreshFailed,
                self.fingerprint().as_deref(),
                None,
                &format!("{what} ({trigger}) failed: {e}"),
            );
        }
        self.replan.notify_one();
        result
    }

    /// One token request (two when a refused refresh falls back to a new session).
    /// `no_refresh`: another process may be presenting the refresh token right now. A
    /// session has no refresh: every renewal is a new login.
    pub(super) async fn renew_once(
        &self,
        trigger: &Trigger,
        no_refresh: bool,
    ) -> Result<(), GrantError> {
        if self.endpoint.session().is_some() {
            let replacing = self.lock().current.is_some();
            if self.is_single_session() && replacing {
                // The gate stays shut until the new session is in place.
                let (_gate, done) = self.drain_and_end().await;
                let g = self.endpoint.client_credentials(None).await?;
                return self.install(g, true, trigger, Some(done)).await;
            }
            let g = self.endpoint.client_credentials(None).await?;
            return self.install(g, true, trigger, None).await;
        }
        let plan = match self.lock().plan(Instant::now()) {
            RenewalPlan::Refresh(_) if no_refresh => RenewalPlan::NewSession(
                "another process held the credential's lock too long to share its refresh token"
                    .into(),
            ),
            plan => plan,
        };
        let why = match plan {
            RenewalPlan::Refresh(rt) => match self.endpoint.refresh(&rt).await {
                Ok(g) => return self.install(g, false, trigger, None).await,
                Err(e) if e.is_transient() => return Err(e),
                Err(e) if self.too_early(&e).is_some() => {
                    if self.wait_for_window(&e) {
                        return Ok(());
                    }
                    // The token is dead already: a new session, the window does not apply.
                    "refresh refused as too early while the token is dead".to_string()
                }
                Err(e) => {
                    // Refused (session over, token spent or revoked): a new session.
                    let mut st = self.lock();
                    if ended_by_session_limit(&e) {
                        st.learn_session_limit(Instant::now());
                    }
                    if let Some(s) = st.session.as_mut() {
                        s.refresh = None;
                    }
                    drop(st);
                    self.audit.record(
                        EventKind::RefreshFailed,
                        self.fingerprint().as_deref(),
                        Some(GrantKind::RefreshToken),
                        &format!("refresh refused, starting a new session: {e}"),
                    );
                    format!("refresh refused ({})", e.code().unwrap_or("error"))
                }
            },
            RenewalPlan::NewSession(why) => why,
        };
        let g = self.endpoint.client_credentials(None).await?;
        self.install(g, true, trigger, Some(why)).await
    }

    /// Learns the refresh window from a "too early" refusal. Returns true when the current
    /// token is still alive, so the renewal simply waits for the window (planned anew by
    /// the background task), which is not a failure.
    fn wait_for_window(&self, e: &GrantError) -> bool {
        let said = self.too_early(e).flatten();
        let mut st = self.lock();
        let window = st.learn_refresh_window(said);
        let alive = st.current.as_ref().is_some_and(|c| !c.invalid);
        let text = format!(
            "refresh refused as too early: the server accepts it within {} of expiry; \
             renewing inside that window",
            secs(window)
        );
        if alive {
            st.phase = TokenPhase::Valid;
            st.last_result = Some(text.clone());
        }
        self.publish(&mut st);
        drop(st);
        self.audit.record(
            EventKind::RefreshTooEarly,
            self.fingerprint().as_deref(),
            Some(GrantKind::RefreshToken),
            &text,
        );
        alive
    }

    /// Stores a rotated refresh token in the cache first, then makes the token current.
    async fn install(
        &self,
        g: Grant,
        new_session: bool,
        trigger: &Trigger,
        why: Option<String>,
    ) -> Result<(), GrantError> {
        self.write_cache(&g, new_session).await;
        let took = g.received_at.saturating_duration_since(g.sent_at);
        let mut st = self.lock();
        let first = st.current.is_none();
        st.install(&g, new_session, SystemTime::now());
        let life = match g.lifetime {
            Some(d) => format!("{} from {}", secs(d), g.lifetime_source),
            None => g.lifetime_source.to_string(),
        };
        let rt = match &g.refresh_token {
            Some(_) => "with a refresh token",
            None => "no refresh token",
        };
        let login = self.endpoint.session().map(|s| s.user().to_string());
        let (kind, text) = match (first, new_session, login) {
            (true, _, Some(user)) => (
                EventKind::Issued,
                format!(
                    "session login as {user} ({trigger}) in {} ms; the session dies by its idle \
                     window and cap",
                    took.as_millis()
                ),
            ),
            (false, _, Some(user)) => (
                EventKind::NewSession,
                match why.as_deref() {
                    Some(done) => format!(
                        "session renewed ({done}) {trigger}: a new session login as {user} in \
                         {} ms",
                        took.as_millis()
                    ),
                    None => format!(
                        "session renewed ({trigger}): a new session login as {user} in {} ms",
                        took.as_millis()
                    ),
                },
            ),
            (true, _, None) => (
                EventKind::Issued,
                format!(
                    "token issued by {} ({trigger}), lifetime {life}, {rt}, in {} ms",
                    g.kind,
                    took.as_millis()
                ),
            ),
            (false, false, None) => (
                EventKind::Refreshed,
                format!(
                    "token refreshed ({trigger}), lifetime {life}, {rt}, in {} ms",
                    took.as_millis()
                ),
            ),
            (false, true, None) => (
                EventKind::NewSession,
                format!(
                    "new session ({trigger}): {}; lifetime {life}, {rt}, in {} ms",
                    why.as_deref().unwrap_or("renewal"),
                    took.as_millis()
                ),
            ),
        };
        st.last_result = Some(text.clone());
        let fp = g.access_token.fingerprint();
        self.publish(&mut st);
        drop(st);
        self.audit.record(kind, Some(&fp), Some(g.kind), &text);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(description: &str) -> GrantError {
        GrantError::Rejected {
            grant: GrantKind::RefreshToken,
            code: "invalid_grant".into(),
            description: Some(description.into()),
        }
    }

    #[test]
    fn a_too_early_refusal_is_recognised_with_its_window() {
        let e = refused(
            "refresh too early: the access token expires in 9 s; a refresh is accepted \
             within 2 s of expiry",
        );
        assert_eq!(too_early(&e), Some(Some(Duration::from_secs(2))));
        assert_eq!(too_early(&refused("Too early to refresh")), Some(None));
        assert_eq!(too_early(&refused("refresh token expired")), None);
        // Vendors' words for the same refusal.
        let vendor = refused(
            "refresh not allowed yet: a refresh is only allowed within 10 seconds of its expiry",
        );
        assert_eq!(too_early(&vendor), Some(Some(Duration::from_secs(10))));
        assert_eq!(
            too_early(&refused(
                "Refresh not yet allowed (within 2 minutes of expiry)"
            )),
            Some(Some(Duration::from_secs(120)))
        );
        assert_eq!(
            too_early(&refused("token refresh is not permitted yet")),
            Some(None)
        );
        assert_eq!(too_early(&refused("refresh token revoked")), None);
        // A server's own words, when configured.
        let own = refused("REFRESH_NOT_PERMITTED: wait 5 s");
        assert_eq!(too_early(&own), None);
        assert_eq!(too_early_or_said(&own, "refresh_not_permitted"), Some(None));
    }
}
