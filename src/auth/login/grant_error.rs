//! Why a token request or a session login failed, in words that say what to check. Every
//! server-supplied text in it has been cleaned (control sequences stripped, secrets
//! redacted, length capped); none of it holds a password, token or session id.

use std::time::Duration;

use super::kinds::GrantKind;

/// Why a grant (or a session login) failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GrantError {
    /// The authorization server answered with an OAuth2 error (or the login with a 400).
    #[error("{} refused {}: {code}{}{}", grant.endpoint(), grant.request(), .description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default(), rejected_hint(*grant, code))]
    Rejected {
        grant: GrantKind,
        code: String,
        description: Option<String>,
    },
    /// No answer: network, TLS, timeout, connection cut.
    #[error("{} unreachable for {}: {message}", grant.endpoint(), grant.request())]
    Transport { grant: GrantKind, message: String },
    /// The server answered 429 or 5xx: it is there, but busy or failing.
    #[error("{} answered {} with HTTP {status}{}{}", grant.endpoint(), grant.request(), server_words(text), .retry_after.map(|r| format!(" (it asks to wait {})", crate::retry_after::words(r))).unwrap_or_default())]
    Server {
        grant: GrantKind,
        status: u16,
        text: String,
        /// `Retry-After` as the server asked (bounded, not yet capped to our maximum).
        retry_after: Option<Duration>,
    },
    /// An answer that is not a token response, or a login answer without a session id
    /// (the body is not quoted: it may hold a token).
    #[error("{} gave an unusable answer to {}: {message}; {}", grant.endpoint(), grant.request(), malformed_hint(*grant))]
    Malformed { grant: GrantKind, message: String },
    /// An answer larger than supsync reads (its head or its body): not retried, the same
    /// request would get the same answer. `what` says which part and the limit.
    #[error("{}'s answer to {} is too large to read: {what}; the server must send a smaller answer (not retried)", grant.endpoint(), grant.request())]
    TooLarge { grant: GrantKind, what: String },
    /// Fresh tokens (or sessions just logged in) keep being refused by the API: renewing
    /// again will not help. `grant`: how the refused credentials were obtained.
    #[error("{}", refused_by_api_words(*grant, *rejected, description))]
    RefusedByApi {
        grant: GrantKind,
        rejected: u32,
        description: String,
    },
    /// A login refused (401 or 403): wrong user name or password, or a disabled
    /// account. Tried again (with backoff) until `auth.max_failed_logins` in a row.
    #[error(
        "login refused for user {user} (HTTP {status}{}): {refused} of at most {max} refused logins in a row; check {keys}",
        server_words(text)
    )]
    LoginRefused {
        user: String,
        /// The config keys of the user and password (session or token login).
        keys: &'static str,
        status: u16,
        text: String,
        refused: u32,
        max: u32,
    },
    /// `auth.max_failed_logins` refused logins in a row with this password: no further
    /// login is tried with it, by this process or any later one.
    #[error("login refused {refused} times in a row for user {user}; no further login is tried with this password, so that no more refusals count towards locking the account (when the server locks it is not known). Fix the password, then run `supsync resume`.{}", .last.as_deref().map(|l| format!(" (Last answer: {l}.)")).unwrap_or_default())]
    LoginBudgetSpent {
        user: String,
        refused: u32,
        /// The last refusal's status and cleaned words.
        last: Option<String>,
    },
    /// A login refused with words that say the user name or password is wrong:
    /// no login is tried again with this password, by this process or a later one (each
    /// refused login may count towards the server's lockout).
    #[error(
        "login refused for user {user} ({last}): the server says the user name or password is wrong, so supsync tries no further login with this password (a retry could only count towards locking the account). Fix {keys}, then run `supsync resume`."
    )]
    LoginDenied {
        user: String,
        /// The config keys of the user and password (session or token login).
        keys: &'static str,
        /// The refusal's status and cleaned words.
        last: String,
    },
    /// The login answered 423: the account is locked. Nothing is tried until it ends.
    #[error("the login endpoint says user {user} is locked (HTTP 423{}){}; stopping at once: a locked account refuses even the right password, and every attempt may prolong the lock. Wait for the lock to end, then run `supsync resume`.", server_words(text), .retry_after.map(|r| format!("; it asks to wait {}", crate::retry_after::words(r))).unwrap_or_default())]
    AccountLocked {
        user: String,
        text: String,
        retry_after: Option<Duration>,
    },
}

fn server_words(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

impl GrantError {
    pub fn code(&self) -> Option<&str> {
        match self {
            GrantError::Rejected { code, .. } => Some(code),
            _ => None,
        }
    }
    /// Refresh refused: the session is over or the token was spent; start a new session.
    pub fn is_invalid_grant(&self) -> bool {
        self.code() == Some("invalid_grant")
    }
    /// Wrong client id or secret: retrying will not help.
    pub fn is_invalid_client(&self) -> bool {
        self.code() == Some("invalid_client")
    }
    /// How long the server asked us to wait before asking again (429, 503).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            GrantError::Server { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
    /// The same failure with `wait` left of the server's `Retry-After` (for a caller that
    /// asks while the renewal still waits it out).
    pub fn with_retry_after_left(mut self, wait: Duration) -> Self {
        if let GrantError::Server { retry_after, .. } = &mut self {
            *retry_after = Some(wait);
        }
        self
    }
    /// The HTTP status of a server that answered without a token (429, 5xx, and a refused
    /// or locked login).
    pub fn http_status(&self) -> Option<u16> {
        match self {
            GrantError::Server { status, .. } | GrantError::LoginRefused { status, .. } => {
                Some(*status)
            }
            GrantError::AccountLocked { .. } => Some(423),
            GrantError::LoginDenied { last, .. } => last
                .strip_prefix("HTTP ")
                .and_then(|rest| rest.get(..3))
                .and_then(|digits| digits.parse().ok()),
            _ => None,
        }
    }
    /// Worth retrying later with backoff (transport failures, 5xx/429, the RFC 6749 codes
    /// a server uses for a temporary condition, and a refused login while the login budget
    /// lasts).
    pub fn is_transient(&self) -> bool {
        match self {
            GrantError::Transport { .. }
            | GrantError::Server { .. }
            | GrantError::LoginRefused { .. } => true,
            GrantError::Rejected { code, .. } => {
                code == "temporarily_unavailable" || code == "server_error"
            }
            GrantError::Malformed { .. }
            | GrantError::TooLarge { .. }
            | GrantError::RefusedByApi { .. }
            | GrantError::LoginBudgetSpent { .. }
            | GrantError::LoginDenied { .. }
            | GrantError::AccountLocked { .. } => false,
        }
    }
}

/// What the operator should check after a refusal, by OAuth2 error code.
fn rejected_hint(grant: GrantKind, code: &str) -> &'static str {
    if grant == GrantKind::SessionLogin {
        return "; check auth.session.login_body, username_field and password_field against \
                what the login expects";
    }
    if grant == GrantKind::TokenLogin {
        return "; check auth.token_login.login_body, username_field and password_field \
                against what the login expects";
    }
    match code {
        "invalid_client" | "unauthorized_client" => {
            "; check auth.client_id, auth.method and its credential (the client secret from \
             SUPSYNC_CLIENT_SECRET or auth.client_secret_file, auth.private_key_file or \
             auth.client_cert_file) and auth.token_url"
        }
        "invalid_scope" => "; check auth.scopes against what the client may request",
        "unsupported_grant_type" => {
            "; the server does not allow this grant for the client: check its client settings"
        }
        _ => "",
    }
}

/// The API refused credentials it had just been given, in the words of the auth kind at
/// hand: a session that just logged in, or a token just granted.
fn refused_by_api_words(grant: GrantKind, rejected: u32, description: &str) -> String {
    match grant {
        GrantKind::ApiKey => format!(
            "the API refused the API key ({description}): a static key is not renewed, so \
             supsync stops instead of retrying; check the key (SUPSYNC_API_KEY or \
             auth.api_key.key_file) and auth.api_key.send_as, then resume"
        ),
        GrantKind::SessionLogin => format!(
            "the API refused {rejected} sessions in a row right after their login (last: \
             {description}): it refuses sessions that just logged in, so the user likely lacks \
             a permission or the session id goes back in the wrong place; check the user's \
             rights on the server and auth.session.send_as (and session_from), then resume"
        ),
        _ => format!(
            "the API refused {rejected} fresh tokens in a row (last: {description}): it refuses \
             valid tokens, so the client likely lacks a scope or permission; check auth.scopes \
             and the client's rights on the server, then resume"
        ),
    }
}

fn malformed_hint(grant: GrantKind) -> &'static str {
    match grant {
        GrantKind::SessionLogin => {
            "check auth.session.login_path (the login itself) and auth.session.session_from \
             (where its answer puts the session id)"
        }
        GrantKind::TokenLogin => {
            "check auth.token_login.login_path and refresh_path, and the JSON pointers \
             access_token_at, refresh_token_at and lifetime_at against the answer"
        }
        _ => "check that auth.token_url is the OAuth2 token endpoint",
    }
}

/// An error and its sources on one line, e.g. "request failed: connection refused".
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        src = s.source();
    }
    out
}

/// hyper gave up on an answer's head: more than 100 header lines (its fixed limit, which
/// reqwest does not let us raise) or more than about 400 KiB of them. The answer came, so
/// this is no transport failure: it is an answer too large to read.
pub fn head_too_large(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut src = Some(e);
    while let Some(s) = src {
        if s.downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_parse_too_large)
        {
            return Some(
                "its head is over the HTTP parser's limits (at most 100 header lines, such as \
                 Set-Cookie headers, and about 400 KiB of headers)"
                    .into(),
            );
        }
        src = s.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_errors_name_the_login_and_what_to_fix() {
        let e = GrantError::Transport {
            grant: GrantKind::SessionLogin,
            message: "connection refused".into(),
        };
        assert_eq!(
            e.to_string(),
            "login endpoint unreachable for the session login: connection refused"
        );
        let e = GrantError::Transport {
            grant: GrantKind::RefreshToken,
            message: "x".into(),
        };
        assert_eq!(
            e.to_string(),
            "token endpoint unreachable for the refresh_token grant: x"
        );
        let mut spent = GrantError::LoginBudgetSpent {
            user: "sync-bot".into(),
            refused: 3,
            last: None,
        };
        assert_eq!(
            spent.to_string(),
            "login refused 3 times in a row for user sync-bot; no further login is tried with \
             this password, so that no more refusals count towards locking the account (when \
             the server locks it is not known). Fix the password, then run `supsync resume`."
        );
        assert!(!spent.is_transient());
        if let GrantError::LoginBudgetSpent { last, .. } = &mut spent {
            *last = Some("HTTP 401: wrong user name or password".into());
        }
        assert!(
            spent.to_string().ends_with(
                "`supsync resume`. (Last answer: HTTP 401: wrong user name or password.)"
            )
        );
        let fresh = GrantError::RefusedByApi {
            grant: GrantKind::SessionLogin,
            rejected: 3,
            description: "Session unknown".into(),
        };
        let text = fresh.to_string();
        assert!(
            text.contains("refused 3 sessions in a row right after their login")
                && text.contains("auth.session.send_as"),
            "{text}"
        );
        assert!(
            !text.contains("token") && !text.contains("auth.scopes"),
            "{text}"
        );
        let fresh = GrantError::RefusedByApi {
            grant: GrantKind::ClientCredentials,
            rejected: 3,
            description: "insufficient_scope".into(),
        };
        let text = fresh.to_string();
        assert!(
            text.contains("3 fresh tokens in a row") && text.contains("auth.scopes"),
            "{text}"
        );
        let refused = GrantError::LoginRefused {
            user: "sync-bot".into(),
            keys: crate::auth::login_budget::SESSION_KEYS,
            status: 401,
            text: "invalid_credentials: wrong user name or password".into(),
            refused: 1,
            max: 3,
        };
        assert!(refused.is_transient());
        assert_eq!(refused.http_status(), Some(401));
        let text = refused.to_string();
        assert!(
            text.contains("HTTP 401: invalid_credentials") && text.contains("1 of at most 3"),
            "{text}"
        );
        let locked = GrantError::AccountLocked {
            user: "sync-bot".into(),
            text: "account_locked: locked for 30 s after 5 failed logins".into(),
            retry_after: Some(Duration::from_secs(30)),
        };
        assert!(!locked.is_transient());
        let text = locked.to_string();
        assert!(
            text.contains("HTTP 423: account_locked") && text.contains("wait 30 s"),
            "{text}"
        );
    }
}
