//! The lockout budget of session logins. Servers lock an account after a few failed logins
//! (often 5, for half an hour, for everyone using it), so a client that retries a wrong
//! password blindly locks the integration out. This counts consecutive refused logins
//! (401, 403, 423 from the login; not transport errors or 5xx) per credential, and says
//! stop once `auth.max_failed_logins` are spent:
//!
//! - kept in a small file beside the token cache (`<cache>.<hash>.logins`, mode 0600), so
//!   a later `run`, `resume` or `diagnose` with the same password makes no attempt at all;
//!   read and written under the credential's lock (held by the token manager around every
//!   login), so processes count together;
//! - with a salted fingerprint of the password, never the password: a changed password
//!   starts a new count;
//! - a successful login clears it; a 423 (locked) stops at once, and no login is tried
//!   before the lock's end the server named.
//!
//! Without a file (no state dir) the count lives in memory, for this process.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::grant_error::GrantError;
use crate::secret::Secret;

/// A lock the server names longer than this is read as this long: a typo or a hostile
/// answer must not keep supsync from logging in for a year. The one clamp of every
/// `Retry-After`, so the 423's own message and a later run's "has N s to run" agree.
const MAX_LOCK: Duration = crate::retry_after::MAX_ASKED;

/// What the file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct BudgetFile {
    /// The user name, for a person reading the file.
    #[serde(default)]
    user: String,
    /// Salted fingerprint of the password the refusals were for.
    #[serde(default)]
    password: String,
    /// Refused logins in a row with that password.
    #[serde(default)]
    refused: u32,
    /// The server said the account is locked until then (ms since the epoch).
    #[serde(default)]
    locked_until_ms: Option<u64>,
    /// The server's words on the last refusal (cleaned).
    #[serde(default)]
    last: String,
    /// The last refusal said the credentials are wrong: this password is not tried again.
    #[serde(default)]
    definite: bool,
}

/// What a budget holds (the file's count, else this process's), as `diagnose` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BudgetRecord {
    /// Refused logins in a row counted against this password.
    pub refused: u32,
    /// Refused logins counted against another password (they do not count for this one).
    pub refused_other_password: u32,
    /// The end of a lock the server named (a 423), when one was recorded.
    pub locked_until: Option<SystemTime>,
    /// The last refusal's status and cleaned words.
    pub last: Option<String>,
}

/// Where a session login's user and password are set.
pub const SESSION_KEYS: &str = "auth.session.username or the session password (SUPSYNC_SESSION_PASSWORD or auth.session.password_file)";
/// Where a token login's user and password are set.
pub const TOKEN_LOGIN_KEYS: &str = "auth.token_login.username or its password (SUPSYNC_TOKEN_LOGIN_PASSWORD or auth.token_login.password_file)";

pub struct LoginBudget {
    file: Option<PathBuf>,
    user: String,
    /// The config keys that hold this login's user and password, for the error's advice.
    keys: &'static str,
    max: u32,
    fingerprint: String,
    memory: Mutex<BudgetFile>,
}

impl std::fmt::Debug for LoginBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginBudget")
            .field("file", &self.file)
            .field("user", &self.user)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

/// `<cache>.<first 16 hex digits of SHA-256(credential)>.logins` beside the cache.
pub fn file_beside(cache: &Path, credential: &str) -> PathBuf {
    let digest = hex::encode(Sha256::digest(credential.as_bytes()));
    let mut name = cache.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.logins", &digest[..16]));
    cache.with_file_name(name)
}

impl LoginBudget {
    /// A budget of `max` refused logins for `user` with `password` on `credential` (the
    /// login URL and user), counted in memory until [`LoginBudget::with_file`].
    pub fn new(credential: &str, user: &str, max: u32, password: &Secret) -> Self {
        // Salted with the credential: the same password elsewhere gives another value.
        let salted = format!("supsync login budget\n{credential}\n{}", password.expose());
        LoginBudget {
            file: None,
            user: user.to_string(),
            keys: SESSION_KEYS,
            max: max.max(1),
            fingerprint: crate::secret::fingerprint(&salted),
            memory: Mutex::new(BudgetFile::default()),
        }
    }

    /// The config keys named when a login is refused (a session login's by default).
    pub fn with_keys(mut self, keys: &'static str) -> Self {
        self.keys = keys;
        self
    }

    /// Keeps the count in `path` (see [`file_beside`]) as well.
    pub fn with_file(mut self, path: PathBuf) -> Self {
        self.file = Some(path);
        self
    }

    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The credential's lock beside the file: the token cache's lock of the same
    /// credential (both are named by the same hash), so a process without the token cache
    /// still takes turns with the others.
    pub fn lock_path(&self) -> Option<PathBuf> {
        self.file.as_ref().map(|f| f.with_extension("lock"))
    }

    /// `auth.max_failed_logins`: refused logins in a row before no login is tried.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// What the count holds now, without changing it.
    pub fn recorded(&self) -> BudgetRecord {
        let c = self.load();
        let same = c.password == self.fingerprint;
        BudgetRecord {
            refused: if same { c.refused } else { 0 },
            refused_other_password: if same { 0 } else { c.refused },
            locked_until: c.locked_until_ms.map(from_ms),
            last: (!c.last.is_empty()).then(|| c.last.clone()),
        }
    }

    /// Whether a login may be tried now: not with a password refused `max` times in a
    /// row, and not while the server said the account is locked.
    pub fn check(&self, now: SystemTime) -> Result<(), GrantError> {
        let c = self.load();
        if let Some(left) = c
            .locked_until_ms
            .map(from_ms)
            .and_then(|until| until.duration_since(now).ok())
            .filter(|left| !left.is_zero())
        {
            return Err(GrantError::AccountLocked {
                user: self.user.clone(),
                text: format!(
                    "no login tried: an earlier login was answered 423 and the lock has {} \
                     to run",
                    crate::retry_after::words(left.max(Duration::from_secs(1)))
                ),
                retry_after: Some(left),
            });
        }
        if c.password == self.fingerprint && c.definite {
            return Err(self.denied(&c));
        }
        if c.password == self.fingerprint && c.refused >= self.max {
            return Err(self.spent(&c));
        }
        Ok(())
    }

    /// A successful login: the count starts again.
    pub fn succeeded(&self) {
        if self.load() != BudgetFile::default() {
            self.store(&BudgetFile::default());
        }
    }

    /// A refused login (401 or 403) with the server's cleaned words: the error to report,
    /// [`GrantError::LoginBudgetSpent`] once the budget is spent.
    /// A refusal whose words say the credentials are wrong ([`says_credentials_wrong`]) is
    /// final at once: [`GrantError::LoginDenied`], and this password is never tried again.
    pub fn refused(&self, status: u16, text: &str) -> GrantError {
        let c = self.count(format!("HTTP {status}{}", words(text)), None);
        if says_credentials_wrong(text) {
            let c = BudgetFile {
                definite: true,
                ..c
            };
            self.store(&c);
            return self.denied(&c);
        }
        if c.refused >= self.max {
            return self.spent(&c);
        }
        GrantError::LoginRefused {
            user: self.user.clone(),
            keys: self.keys,
            status,
            text: text.to_string(),
            refused: c.refused,
            max: self.max,
        }
    }

    /// A 423: counted, the lock's end kept, and the run stops at once.
    pub fn locked(&self, text: &str, retry_after: Option<Duration>, now: SystemTime) -> GrantError {
        let retry_after = retry_after.map(|d| d.min(MAX_LOCK));
        let until = retry_after.and_then(|d| now.checked_add(d));
        self.count(format!("HTTP 423{}", words(text)), until);
        GrantError::AccountLocked {
            user: self.user.clone(),
            text: text.to_string(),
            retry_after,
        }
    }

    fn count(&self, last: String, locked_until: Option<SystemTime>) -> BudgetFile {
        let mut c = self.load();
        if c.password != self.fingerprint {
            // Another password (or none counted yet): its refusals say nothing of this one.
            c = BudgetFile {
                password: self.fingerprint.clone(),
                ..BudgetFile::default()
            };
        }
        c.user = self.user.clone();
        c.refused = c.refused.saturating_add(1);
        c.last = last;
        if let Some(t) = locked_until {
            c.locked_until_ms = Some(to_ms(t));
        }
        self.store(&c);
        c
    }

    fn denied(&self, c: &BudgetFile) -> GrantError {
        GrantError::LoginDenied {
            user: self.user.clone(),
            keys: self.keys,
            last: c.last.clone(),
        }
    }

    fn spent(&self, c: &BudgetFile) -> GrantError {
        GrantError::LoginBudgetSpent {
            user: self.user.clone(),
            refused: c.refused,
            last: (!c.last.is_empty()).then(|| c.last.clone()),
        }
    }

    /// The count: the file's when there is one and it reads, else this process's.
    fn load(&self) -> BudgetFile {
        let memory = || {
            self.memory
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        };
        let Some(path) = &self.file else {
            return memory();
        };
        match crate::safe_file::read_capped(path, crate::safe_file::STATE_CAP)
            .map_err(std::io::Error::from)
        {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(
                    "login budget file {} is unreadable ({e}); counting from what this \
                     process saw",
                    path.display()
                );
                memory()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BudgetFile::default(),
            Err(e) => {
                tracing::warn!(
                    "cannot read the login budget file {}: {e}; counting from what this \
                     process saw",
                    path.display()
                );
                memory()
            }
        }
    }

    fn store(&self, c: &BudgetFile) {
        *self.memory.lock().unwrap_or_else(|p| p.into_inner()) = c.clone();
        let Some(path) = &self.file else { return };
        let written = if *c == BudgetFile::default() {
            super::cache::remove_file(path)
        } else {
            serde_json::to_vec(c)
                .map_err(std::io::Error::other)
                .and_then(|bytes| super::cache::write_private(path, &bytes))
        };
        if let Err(e) = written {
            tracing::warn!(
                "cannot write the login budget file {}: {e}; later processes will not know \
                 of this process's refused logins",
                path.display()
            );
        }
    }
}

/// Whether a login refusal's words say the user name or password is wrong (or the
/// password no longer valid): a definite answer, which the same password will only get
/// again. Refusals without such words (a bare 401, a proxy's page) stay ambiguous.
pub fn says_credentials_wrong(text: &str) -> bool {
    let t = text.to_ascii_lowercase().replace(['_', '-'], " ");
    let about = [
        "credential",
        "password",
        "user name",
        "username",
        "login",
        "user",
    ];
    let verdict = [
        "invalid",
        "wrong",
        "incorrect",
        "bad ",
        "not match",
        "mismatch",
        "unknown user",
        "expired",
        "not valid",
    ];
    about.iter().any(|a| t.contains(a)) && verdict.iter().any(|v| t.contains(v))
}

fn words(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

fn to_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn from_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

#[cfg(test)]
#[path = "login_budget_tests.rs"]
mod tests;
