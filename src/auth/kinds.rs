//! What kind of grant made a token and where its lifetime came from: named alike by the
//! grants that make the token, the cache that keeps it and the status that shows it, so
//! they sit below all three.

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantKind {
    ClientCredentials,
    RefreshToken,
    /// `auth.kind = "session"`: a login with user name and password (docs/API.md §7).
    SessionLogin,
    /// `auth.kind = "token_login"`: a login for an access and a refresh token (§8).
    TokenLogin,
    /// `auth.kind = "api_key"`: a static key, never renewed.
    ApiKey,
}

impl GrantKind {
    /// Who answers it, for messages: the token endpoint or the login.
    pub fn endpoint(self) -> &'static str {
        match self {
            GrantKind::SessionLogin | GrantKind::TokenLogin => "login endpoint",
            GrantKind::ApiKey => "API",
            _ => "token endpoint",
        }
    }

    /// The request, for messages: "the refresh_token grant", "the session login".
    pub fn request(self) -> String {
        match self {
            GrantKind::SessionLogin => "the session login".into(),
            GrantKind::TokenLogin => "the token login".into(),
            GrantKind::ApiKey => "the API key".into(),
            other => format!("the {other} grant"),
        }
    }
}

impl std::fmt::Display for GrantKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GrantKind::ClientCredentials => "client_credentials",
            GrantKind::RefreshToken => "refresh_token",
            GrantKind::SessionLogin => "session login",
            GrantKind::TokenLogin => "token login",
            GrantKind::ApiKey => "API key",
        })
    }
}

/// Where the token's lifetime came from. Identity providers differ: most send
/// `expires_in`, some only put `exp` in a JWT access token, some say nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifetimeSource {
    /// The answer's `expires_in` (a number or a numeric string).
    ExpiresIn,
    /// No `expires_in`: the access token is a JWT whose `exp` (less `iat`) says it.
    JwtExp,
    /// Neither: `auth.expected_ttl_secs` stands in; a 401 still renews at once. For a
    /// token login: `auth.token_login.lifetime_secs`, shorter than anything stated.
    Configured,
    /// The server said 0 s or so little that renewing ahead would be a request storm: the
    /// token is used until the API refuses it, then renewed.
    TooShort,
    /// A session id: no lifetime of its own; the idle window and the session's cap
    /// (configured, then learned from `X-Token-Expires-In` and refusals) say when it dies.
    Session,
    /// A token login's answer stated none and the token is no JWT with `exp`: used until
    /// the API refuses it, whose age then becomes the learned lifetime.
    Unstated,
    /// Learned from the first expired answer of a token whose lifetime was unstated.
    Learned,
    /// A static API key: no lifetime, never renewed.
    Static,
}

impl std::fmt::Display for LifetimeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LifetimeSource::ExpiresIn => "expires_in",
            LifetimeSource::JwtExp => "JWT exp (no expires_in)",
            LifetimeSource::Configured => {
                "configured (auth.expected_ttl_secs, or a token login's lifetime_secs)"
            }
            LifetimeSource::TooShort => "unknown (server lifetime too short): renewed when refused",
            LifetimeSource::Session => "the session's idle window and cap",
            LifetimeSource::Unstated => "not stated: used until refused, then learned",
            LifetimeSource::Learned => "learned from the first expired answer",
            LifetimeSource::Static => "none (a static API key, never renewed)",
        })
    }
}
