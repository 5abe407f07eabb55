//! Guards against token request storms, which real identity providers answer by locking
//! the client out: renewals start at least `min_renew_interval` apart (a server granting
//! 0-second tokens, or a burst of 401s, cannot turn into a request per call), and an API
//! that refuses fresh tokens again and again ends renewals with a fatal error instead of
//! an endless grant-401-grant loop.

use std::time::Instant;

use super::TokenManager;
use crate::auth::audit::EventKind;
use crate::auth::grant::GrantError;
use crate::auth::status::TokenPhase;

/// Fresh tokens refused in a row before the API is taken to refuse valid tokens.
pub const FRESH_REFUSALS_FATAL: u32 = 3;

impl TokenManager {
    /// Waits, inside the single flight, until the next renewal may start.
    pub(super) async fn pace(&self) {
        let interval = self.settings.min_renew_interval;
        let wait = self
            .lock()
            .last_renewal_at
            .map(|t| (t + interval).saturating_duration_since(Instant::now()));
        if let Some(w) = wait.filter(|w| !w.is_zero()) {
            tokio::time::sleep(w).await;
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
            let fresh = st
                .current
                .as_ref()
                .filter(|c| c.generation == generation)
                .is_some_and(|c| !c.accepted && !c.invalid);
            if !fresh {
                return None;
            }
            st.fresh_refused += 1;
            if st.fresh_refused < FRESH_REFUSALS_FATAL {
                return None;
            }
            let e = GrantError::RefusedByApi {
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
