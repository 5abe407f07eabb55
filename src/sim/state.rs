//! The simulator's shared state, one `Arc<Sim>` handed to every handler.

use std::sync::{Arc, Mutex, MutexGuard};

use super::api_quirks::ApiQuirks;
use super::client_auth::Verifier;
use super::faults::{FaultDice, InjectedOutage};
use super::limits::Limits;
use super::profile::Profile;
use super::sessions::SessionStore;
use super::stats::Stats;
use super::store::Store;
use super::tokens::TokenStore;

pub struct Sim {
    pub profile: Profile,
    pub tokens: Mutex<TokenStore>,
    /// Session logins (`[session]`); empty while sessions are off.
    pub sessions: Mutex<SessionStore>,
    pub store: Mutex<Store>,
    pub dice: FaultDice,
    pub outage: InjectedOutage,
    pub limits: Arc<Limits>,
    pub stats: Stats,
    /// The API style served when it is not the plain contract (checked with the profile).
    pub styled: Option<Arc<crate::mapping::ApiMapping>>,
    /// Verifies `private_key_jwt` assertions with the profile's keys.
    pub verifier: Verifier,
    /// The token endpoint's own URL: the `aud` an assertion names by default.
    pub token_url: String,
    /// The profile's `[api] quirks`, until `/_sim/calm`.
    pub quirks: ApiQuirks,
}

impl Sim {
    pub fn new(profile: Profile, token_url: String) -> Result<Self, String> {
        Ok(Self {
            verifier: Verifier::load(&profile.auth)?,
            token_url,
            quirks: ApiQuirks::new(&profile.api.quirks),
            tokens: Mutex::new(TokenStore::new(profile.tokens.clone())),
            sessions: Mutex::new(SessionStore::new(&profile.session)),
            store: Mutex::new(Store::new(profile.data.suppliers)),
            dice: FaultDice::new(&profile.faults),
            outage: InjectedOutage::default(),
            limits: Arc::new(Limits::new(&profile.api)),
            stats: Stats::default(),
            styled: profile.api.styled().ok().flatten().map(Arc::new),
            profile,
        })
    }
}

/// Locks a mutex; a poisoned one (a panic elsewhere while holding it) is still usable,
/// because every critical section here leaves the data consistent at each step.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
