//! The simulator of docs/API.md: an HTTP server that behaves like a QMS supplier API
//! behind an OAuth2 server, the three token clocks and faults included.
//! `supsync simulate` runs it for operators; the demo, tests and benchmarks start it
//! in-process with [`SimServer::start`].
//!
//! Stages, one folder each: `profile/` (settings: `[api_key]`, `[api] quirks`, token
//! quirks, `[session]`, `[token_login]`), `login/` (the token endpoint and client
//! authentication, token strings, tokens and sessions with their clocks, session and token
//! logins), `resources/` (admission, limits, the store, the API in every style). The server
//! itself stays here: `server`, `state`, `admin` (`/_sim`), `stats`, `reply`, `faults`,
//! `tls`, `service_time`. Each member is re-exported here, so `sim::tokens` names it
//! wherever it lives.

// Handlers return the answer that refuses a request as `Err(Response)`: built once per
// request at most, so its size does not matter, and `?` keeps each check one line.
#![allow(clippy::result_large_err)]

mod admin;
mod faults;
mod login;
pub mod profile;
mod reply;
mod resources;
mod server;
mod service_time;
mod state;
mod stats;
mod tls;
use login::auth;
pub use login::client_auth;
use login::jwt;
use login::session;
use login::sessions;
use login::token_login;
use login::tokens;
pub use profile::api_key;
pub use profile::api_quirks;
pub use profile::quirks;
pub use profile::session_profile;
pub use profile::token_login_profile;
use resources::api;
use resources::gate;
use resources::limits;
use resources::store;
use resources::styled;
use resources::styled_pull;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use profile::{ExpirySignal, IssueRefreshToken, Profile};
pub use quirks::TokenQuirk;
pub use store::generated_record;

/// A running simulator. Dropping it (or [`SimServer::shutdown`]) stops the server.
pub struct SimServer {
    pub addr: SocketAddr,
    /// The CA to trust when serving TLS (PEM).
    ca_pem: Option<String>,
    sim: Arc<state::Sim>,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl SimServer {
    /// Starts on `listen` (port 0 picks a free one) in the current tokio runtime and
    /// returns once it is listening.
    pub async fn start(profile: Profile, listen: SocketAddr) -> std::io::Result<SimServer> {
        Self::start_with(profile, listen, false).await
    }

    /// As [`SimServer::start`], serving HTTPS with a certificate made now; clients trust
    /// [`SimServer::ca_pem`]. Client certificates are verified against the profile's
    /// `[auth] client_ca_file`.
    pub async fn start_tls(profile: Profile, listen: SocketAddr) -> std::io::Result<SimServer> {
        Self::start_with(profile, listen, true).await
    }

    async fn start_with(
        profile: Profile,
        listen: SocketAddr,
        tls: bool,
    ) -> std::io::Result<SimServer> {
        let invalid = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, m);
        let setup = if tls {
            Some(tls::setup(&profile.auth).map_err(invalid)?)
        } else {
            None
        };
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let scheme = if tls { "https" } else { "http" };
        let token_url = format!("{scheme}://{addr}/oauth/token");
        let sim = Arc::new(state::Sim::new(profile, token_url).map_err(invalid)?);
        let cancel = CancellationToken::new();
        let app = server::router(Arc::clone(&sim));
        let (acceptor, ca_pem) = match setup {
            Some(s) => (Some(s.acceptor), Some(s.ca_pem)),
            None => (None, None),
        };
        let task = tokio::spawn(server::accept_loop(listener, app, acceptor, cancel.clone()));
        Ok(SimServer {
            addr,
            ca_pem,
            sim,
            cancel,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`, or `https://127.0.0.1:PORT` when serving TLS (the
    /// certificate names `127.0.0.1` and `localhost`).
    pub fn url(&self) -> String {
        match self.ca_pem {
            Some(_) => format!("https://{}", self.addr),
            None => format!("http://{}", self.addr),
        }
    }

    /// The CA certificate (PEM) to trust when serving TLS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The profile it runs.
    pub fn profile(&self) -> &Profile {
        &self.sim.profile
    }

    /// The `/_sim/stats` counters, read in-process.
    pub fn stats(&self) -> serde_json::Value {
        let mut body = self.sim.stats.to_json();
        body["records_total"] = state::lock(&self.sim.store).len().into();
        body
    }

    /// What `POST /_sim/revoke` does: every token, refresh token and login session dies now.
    pub fn revoke_all(&self) {
        let now = Instant::now();
        state::lock(&self.sim.tokens).revoke_all(now);
        state::lock(&self.sim.sessions).revoke_all(now);
    }

    /// What `POST /_sim/outage?seconds=N` does.
    pub fn outage(&self, duration: Duration) {
        self.sim.outage.start(duration, Instant::now());
    }

    /// What `POST /_sim/outage?seconds=N&only=token` does.
    pub fn token_outage(&self, duration: Duration) {
        self.sim.outage.start_token_only(duration, Instant::now());
    }

    /// Stops accepting, lets requests in flight finish (up to 2 s), then returns.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            // A panicked accept loop has nothing left to clean up.
            let _ = task.await;
        }
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
