//! The token manager: hands out a valid access token, renews it in the background before
//! any clock kills it, turns bursts of demand or of 401s into a single token request, and
//! keeps the token cache (shared with other processes on the credential) and the audit trail.
//!
//! Concurrency: `state` (a short-held std mutex) holds the token and its clocks; `renewing`
//! (an async mutex held across the token request) is the single flight. A caller only waits
//! on it when the current token is unusable, so in steady state nobody waits: the
//! background task renews while callers keep using the still-valid token.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::audit::{Audit, EventKind};
use super::cache::TokenCache;
use super::grant::{GrantError, TokenEndpoint};
use super::state::State;
use super::status::{ExpiredKind, GrantKind, TokenStatus};
use crate::secret::Secret;

mod background;
mod guard;
mod outage;
mod persist;
mod renew;
mod session_end;
mod shared;
mod single;
mod token_life;

pub use guard::FRESH_REFUSALS_FATAL;
pub(crate) use renew::too_early;
pub use shared::LOCK_WAIT;
pub use single::{CallPermit, DRAIN_WAIT, SessionEnder, says_replaced_by_login};

/// What made a renewal happen (for the log and for whether the hold applies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    Connect,
    Proactive,
    /// A caller found the token unusable (expired, or nearly).
    Expired,
    /// A caller got an expired answer (a 401, or a 403 or 200 matching
    /// `auth.expired_when`) with this description.
    Unauthorized(ExpiredKind, String),
    Forced,
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Trigger::Connect => "at connect",
            Trigger::Proactive => "ahead of expiry",
            Trigger::Expired => "token dead for a caller",
            Trigger::Unauthorized(ExpiredKind::Status401, _) => "after a 401",
            Trigger::Unauthorized(ExpiredKind::Status403, _) => "after an expired answer (403)",
            Trigger::Unauthorized(ExpiredKind::Body200, _) => {
                "after an expired answer (200 with an error)"
            }
            Trigger::Forced => "forced",
        })
    }
}

/// A token handed to a caller, with the generation that a 401 must name.
#[derive(Clone)]
pub struct AccessToken {
    pub secret: Secret,
    pub generation: u64,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AccessToken({:?}, gen {})", self.secret, self.generation)
    }
}

/// Settings the manager needs from the config.
#[derive(Debug, Clone)]
pub struct ManagerSettings {
    pub refresh_margin: Duration,
    pub keepalive: Duration,
    /// The operator's word on the idle window and the session limit (config `[auth]`),
    /// used until the manager observes them.
    pub idle_hint: Option<Duration>,
    pub session_hint: Option<Duration>,
    /// Renewals start at least this far apart (`auth.min_token_interval_ms`).
    pub min_renew_interval: Duration,
    /// `auth.refresh_window_secs`: a refresh is accepted only this close to expiry.
    pub refresh_window: Option<Duration>,
    /// `auth.session.single`: one session per user; renewals drain calls first.
    pub single_session: bool,
    /// `auth.refresh_window_text`: the server's own words for a too-early refusal.
    pub refresh_window_text: String,
    /// `sync.max_retry_after_secs`: the longest token-endpoint `Retry-After` honoured (as
    /// for the API), so one absurd answer cannot park renewals.
    pub max_retry_after: Duration,
}

pub struct TokenManager {
    endpoint: TokenEndpoint,
    settings: ManagerSettings,
    state: Mutex<State>,
    renewing: tokio::sync::Mutex<()>,
    status_tx: watch::Sender<TokenStatus>,
    cache: Option<Arc<TokenCache>>,
    /// The cache entry's write serial as this process last read or wrote it: a higher one
    /// in the file means another process renewed since.
    seen_serial: AtomicU64,
    /// Bound on the wait for the credential's lock ([`LOCK_WAIT`] unless a test sets it).
    lock_wait_ms: AtomicU64,
    /// The longest token-endpoint `Retry-After` honoured, in ms (see
    /// [`TokenManager::honour_retry_after_up_to`]).
    max_retry_after_ms: AtomicU64,
    /// A lock that cannot be used at all is reported once, not at every renewal.
    lock_warned: AtomicBool,
    audit: Audit,
    /// Wakes the background task when the plan changed.
    replan: Notify,
    /// One session per user (configured or learned): renewals drain calls first.
    single: AtomicBool,
    /// Calls hold it shared while they use a session; a single-session renewal holds it
    /// alone.
    dispatch: Arc<tokio::sync::RwLock<()>>,
    /// Calls holding the gate now.
    in_flight: Arc<AtomicUsize>,
    /// The configured logout, for single-session renewals.
    ender: OnceLock<SessionEnder>,
}

impl std::fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenManager")
            .field("endpoint", &self.endpoint)
            .field("settings", &self.settings)
            .field("status", &*self.status_tx.borrow())
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl TokenManager {
    /// The engine reads the API's `Retry-After` past its own bound (to report a day-long
    /// wish) but honours waits only up to `sync.max_retry_after_secs`: renewals honour the
    /// token endpoint's up to the same bound.
    pub fn honour_retry_after_up_to(&self, max: Duration) {
        self.max_retry_after_ms
            .store(max.as_millis() as u64, std::sync::atomic::Ordering::Relaxed);
    }

    fn max_retry_after(&self) -> Duration {
        Duration::from_millis(
            self.max_retry_after_ms
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// A manager with no token yet. [`TokenManager::start`] gets the first one.
    pub fn new(
        endpoint: TokenEndpoint,
        settings: ManagerSettings,
        cache: Option<TokenCache>,
        audit: Audit,
    ) -> Arc<Self> {
        let mut state = State::new(settings.refresh_margin);
        state.idle_configured = settings.idle_hint;
        state.session_configured = settings.session_hint;
        state.refresh_window = settings.refresh_window;
        let audit = audit.redacting(Arc::clone(endpoint.redactor()));
        let max_retry_after_ms = settings.max_retry_after.as_millis() as u64;
        Arc::new(TokenManager {
            endpoint,
            state: Mutex::new(state),
            renewing: tokio::sync::Mutex::new(()),
            status_tx: watch::channel(TokenStatus::default()).0,
            cache: cache.map(Arc::new),
            seen_serial: AtomicU64::new(0),
            lock_wait_ms: AtomicU64::new(LOCK_WAIT.as_millis() as u64),
            max_retry_after_ms: AtomicU64::new(max_retry_after_ms),
            lock_warned: AtomicBool::new(false),
            audit,
            replan: Notify::new(),
            single: AtomicBool::new(settings.single_session),
            dispatch: Arc::new(tokio::sync::RwLock::new(())),
            in_flight: Arc::new(AtomicUsize::new(0)),
            ender: OnceLock::new(),
            settings,
        })
    }

    /// Gets the first token (a live one from the cache, else continuing a cached session,
    /// else a new one) and spawns the background renewal, which stops on `cancel`.
    pub async fn start(self: &Arc<Self>, cancel: CancellationToken) -> Result<(), GrantError> {
        self.renew(Trigger::Connect, None).await?;
        self.spawn_background(cancel);
        Ok(())
    }

    /// (Re)starts the background renewal, which stops on `cancel`: a run that rests after
    /// its last segment stops it and starts it again when a retry puts it back to work.
    pub fn spawn_background(self: &Arc<Self>, cancel: CancellationToken) {
        let me = Arc::clone(self);
        tokio::spawn(async move { me.background(cancel).await });
    }

    pub fn status(&self) -> watch::Receiver<TokenStatus> {
        self.status_tx.subscribe()
    }

    /// A valid token; renews first (single flight) when the current one is dead or nearly.
    pub async fn token(&self) -> Result<AccessToken, GrantError> {
        if let Some(e) = self.refused_by_api() {
            return Err(e);
        }
        if let Some(t) = self.usable() {
            return Ok(t);
        }
        let generation = self.lock().current_generation();
        self.renew(Trigger::Expired, generation).await?;
        // Whatever the clocks say now, the freshest token is the best bet.
        let st = self.lock();
        st.current
            .as_ref()
            .filter(|c| !c.invalid)
            .map(|c| AccessToken {
                secret: c.access.clone(),
                generation: c.generation,
            })
            .ok_or_else(|| GrantError::Transport {
                grant: match self.endpoint.session() {
                    Some(_) => GrantKind::SessionLogin,
                    None => GrantKind::ClientCredentials,
                },
                message: "no token available".into(),
            })
    }

    fn usable(&self) -> Option<AccessToken> {
        self.lock()
            .usable(Instant::now())
            .map(|(secret, generation)| AccessToken { secret, generation })
    }

    /// A caller got an expired answer (`kind`) with token `generation`. Renews unless
    /// another caller already did (so a burst of them is one renewal); the caller then
    /// asks for a token again.
    pub async fn on_unauthorized(
        &self,
        generation: u64,
        kind: ExpiredKind,
        description: &str,
    ) -> Result<(), GrantError> {
        if let Some(fatal) = self.note_unauthorized(generation, kind, description) {
            return Err(fatal);
        }
        self.renew(
            Trigger::Unauthorized(kind, description.into()),
            Some(generation),
        )
        .await
    }

    /// Counts and logs an expired answer and marks token `generation` dead (the next
    /// caller renews). Returns the fatal error when fresh tokens have now been refused too
    /// often.
    pub fn note_unauthorized(
        &self,
        generation: u64,
        kind: ExpiredKind,
        description: &str,
    ) -> Option<GrantError> {
        self.learn_single(description);
        self.learn_unstated_lifetime(generation);
        let fatal = self.count_refusal(generation, description);
        let fp = {
            let mut st = self.lock();
            st.unauthorized_seen += 1;
            st.expired_seen.bump(kind);
            let fp = st
                .current
                .as_mut()
                .filter(|c| c.generation == generation)
                .map(|c| {
                    c.invalid = true;
                    c.fingerprint.clone()
                });
            self.publish(&mut st);
            fp
        };
        self.audit.record(
            EventKind::Unauthorized,
            fp.as_deref(),
            None,
            &match kind {
                ExpiredKind::Status401 => format!("401 from the API: {description}"),
                _ => format!("expired answer ({kind}) from the API: {description}"),
            },
        );
        fatal
    }

    /// Renew now (the operator's `f`), single flight with any renewal under way.
    pub async fn force_refresh(&self) -> Result<(), GrantError> {
        let generation = self.lock().current_generation();
        self.renew(Trigger::Forced, generation).await
    }

    /// `X-Token-Expires-In: secs` read at `at` on a response to token `generation`.
    pub fn observe_expires_in(&self, generation: u64, at: Instant, secs: u64) {
        let mut st = self.lock();
        if st.observe(generation, at, secs) {
            self.publish(&mut st);
            drop(st);
            self.replan.notify_one();
        }
    }

    /// A request is about to go out (it moves the server's idle window).
    pub fn note_activity(&self) {
        self.lock().last_activity = Instant::now();
    }

    pub fn idle_for(&self) -> Duration {
        self.lock().last_activity.elapsed()
    }

    pub fn keepalive_interval(&self) -> Duration {
        self.lock().keepalive_interval(self.settings.keepalive)
    }

    /// True with `auth.kind = "api_key"`: a static key, no renewal, no keep-alive.
    pub fn is_api_key(&self) -> bool {
        self.endpoint.is_api_key()
    }

    /// Knows the client secret and the tokens issued so far (see [`crate::server_text`]).
    pub fn redactor(&self) -> &Arc<crate::server_text::Redactor> {
        self.endpoint.redactor()
    }

    /// The token events so far and to come, for the run's refresh log.
    pub fn token_log(
        &self,
    ) -> (
        Vec<super::audit::AuditLine>,
        tokio::sync::broadcast::Receiver<super::audit::AuditLine>,
    ) {
        self.audit.subscribe()
    }

    pub(crate) fn audit(&self) -> &Audit {
        &self.audit
    }

    pub(crate) fn fingerprint(&self) -> Option<String> {
        self.lock().current.as_ref().map(|c| c.fingerprint.clone())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere; the state itself is still coherent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, st: &mut State) {
        self.status_tx.send_replace(st.snapshot());
    }
}
