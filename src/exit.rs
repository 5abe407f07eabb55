//! Exit codes scripts can rely on (documented in the README).

/// Everything synced.
pub const OK: i32 = 0;
/// Anything else: bad arguments are reported by clap with 2 as well, see `CONFIG`.
pub const OTHER: i32 = 1;
/// Finished, with records rejected. Also: invalid configuration or usage.
pub const REJECTS: i32 = 2;
pub const CONFIG: i32 = 2;
/// Finished with failed segments (`supsync retry`). `diagnose`: cannot keep a sync alive.
pub const FAILED_SEGMENTS: i32 = 3;
pub const DIAGNOSE_CANNOT_SUSTAIN: i32 = 3;
/// Authentication failure. `diagnose`: no token could be obtained.
pub const AUTH: i32 = 4;
/// Interrupted; `supsync resume` carries on.
pub const INTERRUPTED: i32 = 5;
