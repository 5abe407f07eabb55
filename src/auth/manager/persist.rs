//! The token manager's side of the refresh-token cache: restore a session on start, store
//! a rotated refresh token before its access token is handed out. Cache trouble is a
//! warning, never a failed run.

use std::time::{Duration, Instant, SystemTime};

use super::TokenManager;
use crate::auth::audit::EventKind;
use crate::auth::cache::CachedSession;
use crate::auth::grant::Grant;
use crate::auth::state::{Session, later};

impl TokenManager {
    pub(super) async fn load_cache(&self) {
        let Some(cache) = self.cache.clone() else {
            return;
        };
        let loaded = tokio::task::spawn_blocking(move || cache.load()).await;
        match loaded {
            Ok(Ok(Some(c))) => {
                let now = Instant::now();
                let now_wall = SystemTime::now();
                let age = now_wall
                    .duration_since(c.session_started)
                    .unwrap_or(Duration::ZERO);
                let refresh_deadline = c
                    .refresh_expires_at
                    .map(|t| later(now, t.duration_since(now_wall).unwrap_or(Duration::ZERO)));
                // A server echoing the refresh request must not show this token either.
                self.endpoint
                    .redactor()
                    .remember_token(c.refresh_token.expose());
                let mut st = self.lock();
                st.session = Some(Session {
                    started_at: now.checked_sub(age).unwrap_or(now),
                    started_wall: c.session_started,
                    refresh: Some(c.refresh_token),
                    refresh_deadline,
                });
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => self.audit.record(
                EventKind::Warning,
                None,
                None,
                &format!("{e}; ignoring it and starting a new session"),
            ),
            Err(e) => self.audit.record(
                EventKind::Warning,
                None,
                None,
                &format!("token cache read failed: {e}"),
            ),
        }
    }

    pub(super) async fn write_cache(&self, g: &Grant, new_session: bool) {
        let Some(cache) = self.cache.clone() else {
            return;
        };
        let entry = match &g.refresh_token {
            Some(rt) => {
                let st = self.lock();
                let started_wall = if new_session {
                    SystemTime::now()
                        .checked_sub(g.received_at.saturating_duration_since(g.sent_at))
                        .unwrap_or_else(SystemTime::now)
                } else {
                    st.session
                        .as_ref()
                        .map(|s| s.started_wall)
                        .unwrap_or_else(SystemTime::now)
                };
                Some(CachedSession {
                    refresh_token: rt.clone(),
                    session_started: started_wall,
                    refresh_expires_at: g.refresh_expires_in.map(|d| SystemTime::now() + d),
                })
            }
            // A refresh that did not rotate keeps the cached token; a new session without a
            // refresh token leaves nothing to cache.
            None if !new_session => return,
            None => None,
        };
        let done = tokio::task::spawn_blocking(move || match entry {
            Some(e) => cache.store(&e),
            None => cache.clear(),
        })
        .await;
        let problem = match done {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        self.audit.record(
            EventKind::Warning,
            None,
            None,
            &format!("{problem}; the run goes on, a restart will start a new session"),
        );
    }
}
