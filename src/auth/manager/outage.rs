//! A token cache in Redis that does not answer. By default the run says so and tries again
//! with backoff: a login of its own would be a second session of the credential (ending
//! the others' on a one-session server) and could present a refresh token another machine
//! has already spent. With `auth.token_cache_fallback = "own_login"` it warns and goes on
//! without the cache instead.

use std::future::Future;
use std::time::Duration;

use super::TokenManager;
use crate::auth::audit::EventKind;
use crate::auth::cache::CacheError;
use crate::auth::state::secs;
use crate::config::TokenCacheFallback;

const FIRST_PAUSE: Duration = Duration::from_millis(500);
const MAX_PAUSE: Duration = Duration::from_secs(30);

impl TokenManager {
    /// Runs a cache operation under the outage policy. `Err` is either not an outage (a
    /// bad entry: the caller's usual handling) or, with `own_login`, Redis still down.
    pub(super) async fn through_outage<T, F, Fut>(&self, mut op: F) -> Result<T, CacheError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, CacheError>>,
    {
        let Some(store) = self.cache.as_ref().and_then(|c| c.remote()).cloned() else {
            return op().await;
        };
        let mut pause = FIRST_PAUSE;
        loop {
            let e = match op().await {
                Err(e) if e.remote => e,
                done => {
                    if store.note_down(false) {
                        tracing::info!(
                            "the token cache in Redis answers again ({})",
                            store.place()
                        );
                    }
                    return done;
                }
            };
            let newly = store.note_down(true);
            match store.fallback() {
                TokenCacheFallback::OwnLogin => {
                    if newly {
                        self.audit.record(
                            EventKind::Warning,
                            None,
                            None,
                            &format!(
                                "{e}; going on without it (auth.token_cache_fallback = \
                                 \"own_login\"): this process logs in on its own, so other \
                                 supsync processes on this credential may hold another session"
                            ),
                        );
                    }
                    return Err(e);
                }
                TokenCacheFallback::Wait => {
                    self.audit.record(
                        EventKind::Warning,
                        None,
                        None,
                        &format!(
                            "{e}; waiting for it, next try in {} (auth.token_cache_fallback = \
                             \"own_login\" would log in without it)",
                            secs(pause)
                        ),
                    );
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_PAUSE);
                }
            }
        }
    }
}
