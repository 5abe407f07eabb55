//! A session's side of the token manager: whether the credential is a session id, the
//! current one as it stands (for the logout, which must not log in anew), and forgetting
//! a session the server has ended.

use std::time::Instant;

use super::{AccessToken, TokenManager};
use crate::auth::audit::EventKind;
use crate::auth::status::TokenPhase;

impl TokenManager {
    /// `auth.kind = "session"`: the credential is a session id from a login.
    pub fn is_session(&self) -> bool {
        self.endpoint.session().is_some()
    }

    /// The current credential without renewing it: `None` when there is none or the API
    /// refused it. It may be near its end (a logout goes out all the same).
    pub fn current_token(&self) -> Option<AccessToken> {
        self.lock()
            .current
            .as_ref()
            .filter(|c| !c.invalid)
            .map(|c| AccessToken {
                secret: c.access.clone(),
                generation: c.generation,
            })
    }

    /// The server ended session `generation` (a logout answered `status`): it is dead
    /// here, and its cache entry is removed (under the credential's lock) unless another
    /// process has since put a newer session there.
    pub async fn logged_out(&self, generation: u64, status: u16) {
        let hold = self.hold().await;
        let ours = {
            let mut st = self.lock();
            let c = st.current.as_mut().filter(|c| c.generation == generation);
            let ours = c.map(|c| {
                c.invalid = true;
                (c.access.clone(), c.fingerprint.clone())
            });
            st.phase = TokenPhase::None;
            st.last_result = Some("session logged out".into());
            self.publish(&mut st);
            ours
        };
        let Some((id, fp)) = ours else { return };
        let cached_is_ours = self
            .read_cache()
            .await
            .and_then(|e| e.access)
            .is_some_and(|a| a.token == id);
        let forgotten = match (&self.cache, cached_is_ours) {
            (Some(cache), true) => match self.through_outage(|| cache.forget()).await {
                Ok(()) => "; the cached session is forgotten".to_string(),
                Err(e) => format!("; the cached session could not be removed: {e}"),
            },
            _ => String::new(),
        };
        hold.release().await;
        let age = self
            .lock()
            .session
            .as_ref()
            .map(|s| Instant::now().saturating_duration_since(s.started_at));
        self.audit.record(
            EventKind::Logout,
            Some(&fp),
            None,
            &format!(
                "session logged out at the end of the run (HTTP {status}{}){forgotten}",
                age.map(|a| format!(", after {}", crate::auth::state::secs(a)))
                    .unwrap_or_default()
            ),
        );
    }
}
