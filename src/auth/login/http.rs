//! The shared HTTP client settings every credential request uses: the grants', the
//! logins' and, with a client certificate added, those of `client_auth`.

use std::time::Duration;

/// The shared HTTP client: rustls, no redirects (a redirect could carry a bearer token to
/// another host), a request timeout.
pub fn http_client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    http_client_builder(timeout).build()
}

/// Idle pooled connections are dropped after this long: shorter than the idle cut of common
/// load balancers and proxies (30–60 s), so we rarely send on a connection a proxy already
/// closed. When it still happens the request fails as transient and the engine retries it
/// with the same `Idempotency-Key`.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(20);

/// The builder behind [`http_client`], for callers that add settings.
pub fn http_client_builder(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .user_agent(concat!("supsync/", env!("CARGO_PKG_VERSION")))
}
