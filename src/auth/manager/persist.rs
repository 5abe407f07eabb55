//! The token manager's side of the token cache: read this credential's entry, and store
//! each new token (and a rotated refresh token) before it is handed out. Cache trouble is
//! a warning, never a failed run.

use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

use super::TokenManager;
use crate::auth::audit::EventKind;
use crate::auth::cache::{CachedAccess, CachedSession};
use crate::auth::grant::Grant;

impl TokenManager {
    /// This credential's entry, or `None` (no cache, no entry, or trouble, which is
    /// recorded as a warning and means "start afresh").
    pub(super) async fn read_cache(&self) -> Option<CachedSession> {
        let cache = self.cache.clone()?;
        let problem = match self.through_outage(|| cache.fetch()).await {
            Ok(entry) => return entry,
            // Already told by the outage policy.
            Err(e) if e.remote => return None,
            Err(e) => format!("{e}; ignoring it and starting a new session"),
        };
        self.audit.record(EventKind::Warning, None, None, &problem);
        None
    }

    /// Stores the new token of `g`, with the refresh token the session continues with.
    pub(super) async fn write_cache(&self, g: &Grant, new_session: bool) {
        let Some(cache) = self.cache.clone() else {
            return;
        };
        let now = Instant::now();
        let now_wall = SystemTime::now();
        let ago = |at: Instant| now_wall.checked_sub(now.saturating_duration_since(at));
        let issued_at = ago(g.sent_at).unwrap_or(now_wall);
        let entry = {
            let st = self.lock();
            let session = st.session.as_ref().filter(|_| !new_session);
            let (refresh_token, refresh_expires_at) = match &g.refresh_token {
                Some(rt) => (
                    Some(rt.clone()),
                    g.refresh_expires_in.and_then(|d| issued_at.checked_add(d)),
                ),
                // A refresh that did not rotate keeps the session's refresh token.
                None => match session {
                    Some(s) => (
                        s.refresh.clone(),
                        s.refresh_deadline
                            .and_then(|d| now_wall.checked_add(d.saturating_duration_since(now))),
                    ),
                    None => (None, None),
                },
            };
            CachedSession {
                refresh_token,
                session_started: session.map_or(issued_at, |s| s.started_wall),
                refresh_expires_at,
                access: Some(CachedAccess {
                    token: g.access_token.clone(),
                    grant: g.kind,
                    issued_at,
                    lifetime: g.lifetime,
                    lifetime_source: g.lifetime_source,
                }),
                serial: 0,
            }
        };
        let problem = match self.through_outage(|| cache.put(entry.clone())).await {
            Ok(serial) => {
                self.seen_serial.store(serial, Ordering::SeqCst);
                return;
            }
            Err(e) => e.to_string(),
        };
        self.audit.record(
            EventKind::Warning,
            None,
            None,
            &format!(
                "{problem}; the run goes on, but a restart will start a new session and other \
                 supsync processes on this credential cannot share this token"
            ),
        );
    }
}
