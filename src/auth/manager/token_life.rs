//! A token login's lifetime when the server states none (no lifetime in the answer, no
//! JWT `exp`): the first token is used until the API refuses it, and its age then is the
//! lifetime later tokens are planned with, so they are renewed ahead of it.

use crate::auth::audit::EventKind;
use crate::auth::state::secs;
use crate::auth::status::LifetimeSource;

use super::TokenManager;

impl TokenManager {
    /// Token `generation` got an expired answer: learn its age when its lifetime was
    /// unstated (before it is marked dead).
    pub(super) fn learn_unstated_lifetime(&self, generation: u64) {
        let Some(login) = self.endpoint.token_login() else {
            return;
        };
        let age = {
            let st = self.lock();
            st.current
                .as_ref()
                .filter(|c| {
                    c.generation == generation
                        && !c.invalid
                        && c.lifetime_source == LifetimeSource::Unstated
                })
                .map(|c| c.sent_at.elapsed())
        };
        if let Some(age) = age
            && login.learn_lifetime(age)
        {
            self.audit.record(
                EventKind::Warning,
                self.fingerprint().as_deref(),
                None,
                &format!(
                    "the login stated no token lifetime and the token is no JWT with exp: it \
                     died after {}, so later tokens are renewed ahead of that",
                    secs(age)
                ),
            );
        }
    }
}
