//! The knobs of the probes.

use std::path::PathBuf;
use std::time::Duration;

/// Knobs of the probes; the defaults are what `supsync diagnose` uses.
#[derive(Debug, Clone)]
pub struct DiagnoseOptions {
    /// How long a token (and a pooled connection) is left unused between the two health
    /// calls of the idle probe. Headers are whole seconds: 3 s tells "slid back up" from
    /// "fell by the wait" with a second to spare either way.
    pub idle_wait: Duration,
    /// Calls made in a row on one token, to see a revocation after some uses.
    pub probe_calls: u32,
    /// How long a probe may wait for a token to die (to see how the API answers a dead
    /// one) or for a refresh window to open (to refresh inside it), or keep a session
    /// alive to see its cap.
    pub wait: Duration,
    /// The state dir a run uses: with `auth.kind = "session"` its login budget file, the
    /// credential's lock and the token cache are respected as a run respects them. `None`:
    /// the budget is counted in memory, no lock, no cache.
    pub state_dir: Option<PathBuf>,
    /// Logins a session probe may make with the configured password (`--logins`), at
    /// least 1. One finds the idle window, the cap and the answer to a dead session on
    /// one session; a second also tells whether the server keeps one session per user.
    /// A refused login is never repeated, whatever this allows.
    pub logins: u32,
    /// Token logins: present the spent refresh token once more after a rotating refresh
    /// (`--reuse-check`); off by default, as a server may log it as a security event.
    pub reuse_check: bool,
}

impl Default for DiagnoseOptions {
    fn default() -> Self {
        Self {
            idle_wait: Duration::from_secs(3),
            probe_calls: 6,
            wait: Duration::from_secs(10),
            state_dir: None,
            logins: 1,
            reuse_check: false,
        }
    }
}
