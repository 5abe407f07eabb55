//! The pace keys of `[sync]`: the bounds of `concurrency = "auto"` and the request-rate cap.

use crate::config::SyncConfig;
use crate::config::validate::{Checker, MAX_CONCURRENCY};

pub(super) fn check(s: &SyncConfig, c: &mut Checker<'_>) {
    c.range(
        "sync.min_concurrency",
        s.min_concurrency as u64,
        1,
        MAX_CONCURRENCY,
        "",
    );
    c.range(
        "sync.max_concurrency",
        s.max_concurrency as u64,
        1,
        MAX_CONCURRENCY,
        "",
    );
    if s.min_concurrency > s.max_concurrency {
        c.fail(
            "sync.min_concurrency",
            format!(
                "{} is above sync.max_concurrency ({}); the lower bound of \"auto\" must not exceed the upper",
                s.min_concurrency, s.max_concurrency
            ),
        );
    }
    c.range(
        "sync.max_requests_per_sec",
        u64::from(s.max_requests_per_sec),
        0,
        100_000,
        " (0: no cap)",
    );
}
