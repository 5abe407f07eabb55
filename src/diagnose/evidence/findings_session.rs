//! What the probes of a session login measured (`auth.kind = "session"`, docs/API.md §7):
//! how the session was had (a login under the credential's lock, or a live one from the
//! token cache), the login budget, whether a second login ends the first, the session's
//! clocks watched within `--wait-secs`, and the logouts. Plain data like the rest of the
//! findings: fingerprints and the server's cleaned words, never a password or session id.

use serde::Serialize;

use super::findings_call::CallFinding;

/// Everything found about a session login.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SessionFindings {
    pub user: String,
    pub login_url: String,
    /// `auth.session.session_from` and `send_as`, as configured.
    pub session_from: String,
    pub send_as: String,
    /// `auth.max_failed_logins`.
    pub max_failed_logins: u32,
    /// `auth.session_limit_secs` (0 = not set).
    pub session_limit_hint_secs: u64,
    /// The login budget file; `None` when there is no state dir (counted in memory).
    pub budget_file: Option<String>,
    /// The login budget as found before diagnose tried any login.
    pub budget_before: BudgetRead,
    /// The credential's login lock, held around every login.
    pub lock: LockUse,
    /// What the token cache held when diagnose looked before its first login.
    pub cache: CacheRead,
    /// Every login diagnose tried (or was kept from trying), in order.
    pub logins: Vec<LoginTry>,
    /// The probes ran on a live session from the token cache: no login, no logout.
    pub borrowed: bool,
    /// Why there is no session, in the words a run would stop with.
    pub login_error: Option<LoginErrorSeen>,
    /// A 423 (locked) seen by diagnose's logins, or recorded in the budget file.
    pub locked: Option<LockedSeen>,
    pub second_login: SecondLogin,
    /// A session kept alive with calls until the probe's time ran out or it died.
    pub cap_watch: Option<CapWatch>,
    /// A session left unused to see its idle window end it.
    pub idle_death: Option<IdleDeath>,
    pub logout: LogoutFinding,
    /// What the cache held at the end, when it held anything (a dead session there is
    /// forgotten, so no run tries it).
    pub cache_after: Option<CacheRead>,
}

/// The login budget file's count (docs/API.md §7.6).
#[derive(Debug, Clone, Default, Serialize)]
pub struct BudgetRead {
    /// Refused logins in a row counted for this password.
    pub refused: u32,
    /// Refused logins counted for another password (they do not count for this one).
    pub refused_other_password: u32,
    /// Seconds left of a lock the server named (a 423), when one is recorded and runs.
    pub locked_for_secs: Option<u64>,
    /// The last refusal's status and the server's words.
    pub last: Option<String>,
}

/// How the credential's lock went.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LockOutcome {
    /// Held around each login.
    Held,
    /// Another process held it past the wait: no login was tried.
    Busy,
    /// The lock file cannot be used: logins went ahead without it (as a run's do).
    Unavailable,
    /// No state dir, so no lock file.
    #[default]
    NoStateDir,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct LockUse {
    pub path: Option<String>,
    pub outcome: LockOutcome,
    /// The longest wait for it.
    pub waited_secs: f64,
    pub error: Option<String>,
}

/// What the token cache held for this credential.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CacheRead {
    /// No cache to look in (`auth.token_cache = "none"`, or no state dir).
    #[default]
    Disabled,
    Empty,
    /// It could not be read (a run would start afresh too).
    Unreadable {
        error: String,
    },
    /// A session the API answered: used as it is.
    Live {
        fingerprint: String,
        /// Seconds since its login, by the cache.
        age_secs: u64,
    },
    /// A session the API refused: forgotten (`cleared`) so no run tries it.
    Dead {
        fingerprint: String,
        answer: Box<CallFinding>,
        cleared: bool,
    },
}

/// One login diagnose tried.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoginTry {
    /// What it was for: "first session", "second login", "mapping read".
    pub purpose: String,
    /// A login request went out (the budget may refuse one before it does).
    pub sent: bool,
    pub ok: bool,
    /// The server refused it (401, 403 or 423): it counts against the login budget.
    pub refused: bool,
    /// The session's fingerprint when it worked, else the error in the client's words.
    pub result: String,
    pub http_status: Option<u16>,
}

/// Why no session could be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginFailure {
    /// `auth.max_failed_logins` refused logins in a row with this password.
    BudgetSpent,
    /// The account is locked (a 423, now or recorded).
    Locked,
    /// Refused (401/403) with budget left; diagnose stopped anyway.
    Refused,
    /// Another process held the credential's login lock past the wait.
    LockBusy,
    /// No answer from the login endpoint.
    Unreachable,
    /// A 429 or 5xx.
    ServerError,
    /// An answer without a usable session id.
    Unusable,
    /// A 400 or another refusal of the request itself.
    Rejected,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoginErrorSeen {
    pub reason: LoginFailure,
    pub http_status: Option<u16>,
    /// The whole message, as `run` says it.
    pub message: String,
}

/// A 423 and what its words say about the server's lockout.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LockedSeen {
    /// The server's words (cleaned).
    pub words: String,
    /// Failed logins in a row that lock the account, when the words name it.
    pub lockout_after: Option<u32>,
    pub retry_after_secs: Option<u64>,
    /// Seen by this run's login (else read from the budget file).
    pub now: bool,
}

/// Whether a second login ends the first session.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SecondLogin {
    /// Not made, and why.
    #[default]
    NotTried,
    Skipped {
        why: String,
    },
    /// The second login itself failed.
    Failed {
        error: String,
    },
    /// Made: the first session's next call, and whether the cache was checked for a
    /// running sync's session first.
    Tested {
        first_after: Box<CallFinding>,
        ended: bool,
        cache_checked: bool,
    },
}

/// One keep-alive call of the cap watch.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tick {
    /// Seconds since the session's login, at the answer.
    pub age_secs: f64,
    pub status: Option<u16>,
    pub header_secs: Option<u64>,
}

/// A session kept alive with calls: where its deadline stopped moving, and its end.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CapWatch {
    /// Which session: "the second session", "the session from the cache"…
    pub session: String,
    /// Seconds between the calls.
    pub every_secs: f64,
    pub ticks: Vec<Tick>,
    /// The deadline stopped sliding with the calls: it lies this long after the login.
    pub fixed_end_secs: Option<u64>,
    /// The call that found it dead, and its age then.
    pub dead: Option<CallFinding>,
    pub dead_age_secs: Option<f64>,
    /// Nothing ended it before this long after its login (last call's age + header).
    pub alive_until_secs: Option<u64>,
}

/// A session left unused until its idle window should have ended it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IdleDeath {
    pub unused_secs: f64,
    pub call: CallFinding,
}

/// The best-effort logouts of the sessions diagnose made.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LogoutFinding {
    /// `auth.session.logout_path` is set.
    pub configured: bool,
    /// Sessions diagnose made (logins that worked).
    pub made: u32,
    /// Logouts answered 2xx (or 401: already gone).
    pub ended: u32,
    /// Logouts that failed, in the client's words.
    pub failed: Vec<String>,
}
