//! Exit codes scripts can rely on (documented in the README). A run's code comes from its
//! `run::Outcome`.

/// Everything synced.
pub const OK: i32 = 0;
/// Anything else (an unexpected error; the message says what to do).
pub const OTHER: i32 = 1;
/// Invalid configuration or usage. clap reports bad arguments with 2 as well.
pub const CONFIG: i32 = 2;
/// Finished with failed segments (`supsync retry`). `diagnose`: cannot keep a sync alive.
pub const FAILED_SEGMENTS: i32 = 3;
pub const DIAGNOSE_CANNOT_SUSTAIN: i32 = 3;
/// `verify`: the server lacks records the run pushed, or holds them with other values.
pub const VERIFY_DISAGREES: i32 = 3;
/// Authentication failure. `diagnose`: no token could be obtained.
pub const AUTH: i32 = 4;
/// Interrupted; `supsync resume` carries on.
pub const INTERRUPTED: i32 = 5;
/// Finished, with records rejected (its own code, so scripts can tell it from a bad
/// configuration).
pub const REJECTS: i32 = 6;
