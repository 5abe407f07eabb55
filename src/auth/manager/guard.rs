//! Guards against token request storms, which real identity providers answer by locking
//! the client out: renewals start at least `min_renew_interval` apart (a server granting
//! 0-second tokens, or a burst of 401s, cannot turn into a request per call), and an API
//! that refuses fresh tokens again and again ends renewals with a fatal error instead of
//! an endless grant-401-grant loop.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use super::TokenManager;
use crate::auth::audit::EventKind;
use crate::auth::grant::GrantError;
use crate::auth::status::{GrantKind, TokenPhase};

/// Fresh tokens refused in a row before the API is taken to refuse valid tokens.
pub const FRESH_REFUSALS_FATAL: u32 = 3;

/// The next free slot for a renewal, per credential, for the whole process: a run that
/// reconnects after a failed start builds a new manager, and must not bypass the pace.
static NEXT_SLOT: LazyLock<Mutex<HashMap<String, Instant>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Takes the next slot of `credential` and returns how long to wait for it.
fn reserve(credential: &str, interval: Duration, now: Instant) -> Duration {
    let mut slots = NEXT_SLOT.lock().unwrap_or_else(|p| p.into_inner());
    let slot = slots.get(credential).copied().unwrap_or(now).max(now);
    slots.insert(credential.to_string(), slot + interval);
    slot.saturating_duration_since(now)
}

impl TokenManager {
    /// Waits, inside the single flight, until the next renewal may start.
    pub(super) async fn pace(&self) {
        let interval = self
            .settings
            .min_renew_interval
            .min(Duration::from_secs(60));
        let wait = reserve(&self.endpoint.credential(), interval, Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        self.lock().last_renewal_at = Some(Instant::now());
    }

    /// The API answered a call made with token `generation` without refusing the token.
    pub fn note_accepted(&self, generation: u64) {
        let mut st = self.lock();
        if let Some(c) = st.current.as_mut().filter(|c| c.generation == generation)
            && !c.accepted
        {
            c.accepted = true;
            st.fresh_refused = 0;
        }
    }

    /// The fatal error once fresh tokens were refused too often.
    pub fn refused_by_api(&self) -> Option<GrantError> {
        self.lock().refused_by_api.clone()
    }

    /// Counts a 401 on token `generation` when it was fresh (never accepted). Returns the
    /// fatal error when this refusal is one too many.
    pub(super) fn count_refusal(&self, generation: u64, description: &str) -> Option<GrantError> {
        let fatal = {
            let mut st = self.lock();
            if st.refused_by_api.is_some() {
                return st.refused_by_api.clone();
            }
            // A static API key is never renewed: its first refusal is the last word.
            let api_key = self.endpoint.is_api_key();
            let fresh = st
                .current
                .as_ref()
                .filter(|c| c.generation == generation)
                .is_some_and(|c| api_key || (!c.accepted && !c.invalid));
            if !fresh {
                return None;
            }
            st.fresh_refused += 1;
            if !api_key && st.fresh_refused < FRESH_REFUSALS_FATAL {
                return None;
            }
            let grant = match self.endpoint.session() {
                Some(_) => GrantKind::SessionLogin,
                None => st
                    .current
                    .as_ref()
                    .map_or(GrantKind::ClientCredentials, |c| c.grant),
            };
            let e = GrantError::RefusedByApi {
                grant,
                rejected: st.fresh_refused,
                description: description.to_string(),
            };
            st.refused_by_api = Some(e.clone());
            st.phase = TokenPhase::Failed;
            st.last_error = Some(e.to_string());
            self.publish(&mut st);
            e
        };
        self.audit.record(
            EventKind::RefreshFailed,
            self.fingerprint().as_deref(),
            None,
            &fatal.to_string(),
        );
        Some(fatal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_of_one_credential_are_an_interval_apart() {
        let now = Instant::now();
        let i = Duration::from_secs(1);
        let key = "http://pace.test/token slots";
        assert_eq!(reserve(key, i, now), Duration::ZERO);
        assert_eq!(reserve(key, i, now), i);
        assert_eq!(
            reserve(key, i, now + Duration::from_millis(500)),
            Duration::from_millis(1500)
        );
        // Another credential has its own slots; a late caller does not wait for old ones.
        assert_eq!(
            reserve("http://pace.test/token other", i, now),
            Duration::ZERO
        );
        assert_eq!(
            reserve(key, i, now + Duration::from_secs(10)),
            Duration::ZERO
        );
    }
}
