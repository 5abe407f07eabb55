//! Counters served at `GET /_sim/stats` (docs/API.md §5.4), for tests and operators.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// Monotonic counters (the `_max` ones high-water marks), bumped lock-free from every handler.
        #[derive(Debug, Default)]
        pub struct Stats {
            $($(#[$doc])* pub $name: AtomicU64,)*
        }

        impl Stats {
            /// All counters as a JSON object, in declaration order.
            pub fn to_json(&self) -> serde_json::Value {
                let mut m = serde_json::Map::new();
                $(m.insert(stringify!($name).into(), self.$name.load(Ordering::Relaxed).into());)*
                serde_json::Value::Object(m)
            }
        }
    };
}

counters! {
    /// Access tokens handed out, by either grant.
    tokens_issued,
    /// Successful refresh-token grants.
    refreshes,
    /// Spent refresh tokens presented again.
    refresh_reuse,
    /// Client-credentials grants (each starts a session).
    sessions,
    /// 401 answers (token endpoint and resource API).
    unauthorized,
    /// Token and resource requests received (`/_sim` not counted).
    requests,
    /// Records written by push (created + updated).
    records_stored,
    records_created,
    records_updated,
    records_unchanged,
    records_rejected,
    /// Pushes answered from the idempotency store.
    idempotent_replays,
    /// 429 answers.
    rate_limited,
    /// Injected faults: 503 answers and cut connections (outage answers not included).
    faults,
    /// Of `faults`, the connections cut.
    dropped_connections,
    /// 503 answers during an outage from `POST /_sim/outage`.
    outage_rejections,
    /// Token-endpoint refusals (any error answer).
    token_errors,
    /// Token requests received (`POST /oauth/token`), answered or not.
    token_requests,
    /// Refresh grants refused with `invalid_grant` (a spent, revoked, expired or unknown
    /// refresh token; reuse included).
    invalid_grant,
    /// Of `unauthorized`, the 401 answers of the resource API (a token refused).
    api_unauthorized,
    /// Resource answers refusing a dead token the way `expiry_signal` says (401, 403 or a
    /// 200 with an error body).
    api_token_dead,
    /// Refresh grants refused because they came before `refresh_window_secs`.
    refresh_too_early,
    /// Pull pages answered (any style), so a test can tell a chain walked once from one
    /// walked again.
    pull_pages,
    /// GETs of one record on its own path answered (found or 404), and collection GETs
    /// refused with 405 (`api.no_listing`).
    item_reads,
    list_refused,
    /// Successful session logins (docs/API.md §7).
    session_logins,
    /// Logins refused with 401 (wrong user name or password).
    session_login_failures,
    /// Times a user became locked.
    session_lockouts,
    /// Logins refused with 423 because the user was locked.
    session_login_refused_locked,
    /// Logout requests answered.
    session_logouts,
    /// Admitted keep-alive calls.
    session_keepalives,
    /// Live sessions ended by a newer login of their user (`single_session`).
    sessions_ended_by_newer_login,
    /// High-water mark: login requests of one user in flight at the same time.
    session_concurrent_logins_max,
    /// High-water mark: live sessions of one user at the same time.
    session_live_max,
    /// Resource calls made with a session ended by a newer login.
    session_overlap_uses,
    /// Successful token logins (`[token_login]`, docs/API.md §8).
    token_logins,
    /// Token logins refused (wrong user or password).
    token_login_failures,
    /// Token logout requests answered.
    token_logouts,
    /// Requests whose whole answer was handed to the connection (`/_sim` not counted), and
    /// the server's time on them in microseconds, from arrival to the answer's last byte:
    /// the yardstick a benchmark measures the client against.
    service_requests,
    service_us_total,
    service_us_max,
}

impl Stats {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_every_counter_of_api_md() {
        let s = Stats::default();
        Stats::bump(&s.refreshes);
        let j = s.to_json();
        for k in [
            "tokens_issued",
            "refreshes",
            "refresh_reuse",
            "sessions",
            "unauthorized",
            "requests",
            "records_stored",
            "records_created",
            "records_updated",
            "records_unchanged",
            "records_rejected",
            "idempotent_replays",
            "rate_limited",
            "faults",
            "token_requests",
            "invalid_grant",
            "api_unauthorized",
            "api_token_dead",
            "refresh_too_early",
            "pull_pages",
            "item_reads",
            "list_refused",
            "session_logins",
            "session_login_failures",
            "session_lockouts",
            "session_login_refused_locked",
            "session_logouts",
            "session_keepalives",
            "sessions_ended_by_newer_login",
            "session_concurrent_logins_max",
            "session_live_max",
            "session_overlap_uses",
            "service_requests",
            "service_us_total",
            "service_us_max",
        ] {
            assert!(j.get(k).is_some_and(|v| v.is_u64()), "{k} missing");
        }
        assert_eq!(j["refreshes"], 1);
    }
}
