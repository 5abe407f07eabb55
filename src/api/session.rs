//! How a call carries its credential (a bearer token, or a session id in a header or a
//! cookie as `auth.session.send_as` says), and the end of a session: the best-effort
//! logout at the end of a run (docs/API.md §7).

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, COOKIE, HeaderMap, HeaderName, HeaderValue};

use super::{ApiClient, ApiError, classify, config_error};
use crate::auth::audit::EventKind;
use crate::config::Carry;
use crate::secret::Secret;

/// A logout waits at most this long: the run is over, and a hung server must not hold
/// up its end (nor a second Ctrl-C).
const LOGOUT_WAIT: Duration = Duration::from_secs(5);

/// Puts `credential` on a request as `carry` says, marked sensitive (HTTP/2 never indexes
/// it; reqwest's `Debug` never shows it). A cookie joins any `Cookie` header already there.
pub fn attach_credential(
    headers: &mut HeaderMap,
    carry: &Carry,
    credential: &Secret,
) -> Result<(), ApiError> {
    let value = |text: String| {
        let mut v = HeaderValue::from_str(&text)
            .map_err(|_| config_error("the credential is not a valid header value".into()))?;
        v.set_sensitive(true);
        Ok::<_, ApiError>(v)
    };
    match carry {
        Carry::Bearer => {
            headers.insert(
                AUTHORIZATION,
                value(format!("Bearer {}", credential.expose()))?,
            );
        }
        Carry::Header(name) => {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                config_error(format!(
                    "auth.session.send_as: {name:?} is not a header name"
                ))
            })?;
            headers.insert(name, value(credential.expose().to_string())?);
        }
        Carry::Prefixed { name, prefix } => {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                config_error(format!(
                    "auth.token_login.send_as: {name:?} is not a header name"
                ))
            })?;
            headers.insert(name, value(format!("{prefix}{}", credential.expose()))?);
        }
        // The URL carries it: [`super::ApiClient`]'s send adds it to the query.
        Carry::Query(_) => {}
        Carry::Cookie(name) => {
            let pair = format!("{name}={}", credential.expose());
            let joined = match headers.get(COOKIE).and_then(|v| v.to_str().ok()) {
                Some(other) if !other.trim().is_empty() => format!("{other}; {pair}"),
                _ => pair,
            };
            headers.insert(COOKIE, value(joined)?);
        }
    }
    Ok(())
}

impl ApiClient {
    /// The logout at the end of a run ([`ApiClient::logout`]): a failure is a warning in
    /// the refresh log, never an error of the run.
    pub async fn end_session(&self) {
        if let Err(e) = self.logout().await {
            self.tokens.audit().record(
                EventKind::Warning,
                self.tokens.fingerprint().as_deref(),
                None,
                &format!(
                    "the session logout at the end of the run failed: {e}; the session ends \
                     when the server's idle window or cap ends it"
                ),
            );
        }
    }

    /// Ends this run's session at `auth.session.logout_path`, best effort: returns
    /// `Ok(false)` when there is nothing to end (no logout configured, no session), and
    /// forgets the cached session once the server has ended it (so no later process tries
    /// a dead one). A session the server no longer knows counts as ended.
    pub async fn logout(&self) -> Result<bool, ApiError> {
        let Some(url) = &self.logout_url else {
            return Ok(false);
        };
        let Some(token) = self.tokens.current_token() else {
            return Ok(false);
        };
        let mut req = self
            .http
            .request(self.logout_method.clone(), url)
            .build()
            .map_err(|e| config_error(format!("cannot build the logout request: {e}")))?;
        for (name, value) in &self.headers {
            req.headers_mut().insert(name.clone(), value.clone());
        }
        attach_credential(req.headers_mut(), &self.carry, &token.secret)?;
        let line = super::body::RequestLine::of(&req);
        let resp = tokio::time::timeout(LOGOUT_WAIT, self.http.execute(req))
            .await
            .map_err(|_| ApiError::Transient {
                message: format!("no answer to the logout within {} s", LOGOUT_WAIT.as_secs()),
                retry_after: None,
            })?
            .map_err(|e| classify::transport_error(&e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        // The body is only read for an error's words (64 KiB is plenty); a cut or
        // oversized one is no reason to fail.
        let body = super::body::read_capped(resp, 64 * 1024, line)
            .await
            .unwrap_or_default();
        if !(status.is_success() || status == reqwest::StatusCode::UNAUTHORIZED) {
            return Err(classify::status_error(
                status,
                &headers,
                &body,
                self.max_retry_after,
                &self.redactor,
            ));
        }
        self.tokens
            .logged_out(token.generation, status.as_u16())
            .await;
        Ok(true)
    }
}

impl ApiClient {
    /// The logout as a single-session renewal calls it before logging in again: the same
    /// request as [`ApiClient::logout`], for a given session; `None` without a logout.
    pub(super) fn session_ender(&self) -> Option<crate::auth::manager::SessionEnder> {
        let url = self.logout_url.clone()?;
        Some(session_ender(
            self.http.clone(),
            self.logout_method.clone(),
            url,
            self.headers.clone(),
            self.carry.clone(),
            std::sync::Arc::clone(&self.redactor),
        ))
    }
}

/// How a run ends a given session: `method url` with the configured headers and the
/// session id carried as calls carry it; the status, or why it failed. A session the server
/// no longer knows (401) counts as ended. `diagnose` ends the sessions it made with this too,
/// so both speak to the server alike.
pub fn session_ender(
    http: reqwest::Client,
    method: reqwest::Method,
    url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    carry: Carry,
    redactor: std::sync::Arc<crate::server_text::Redactor>,
) -> crate::auth::manager::SessionEnder {
    std::sync::Arc::new(move |id: Secret| {
        let (http, method, url, headers, carry, redactor) = (
            http.clone(),
            method.clone(),
            url.clone(),
            headers.clone(),
            carry.clone(),
            std::sync::Arc::clone(&redactor),
        );
        Box::pin(async move {
            let mut req = http
                .request(method, &url)
                .build()
                .map_err(|e| format!("cannot build the logout request: {e}"))?;
            for (name, value) in &headers {
                req.headers_mut().insert(name.clone(), value.clone());
            }
            attach_credential(req.headers_mut(), &carry, &id).map_err(|e| e.to_string())?;
            let resp = tokio::time::timeout(LOGOUT_WAIT, http.execute(req))
                .await
                .map_err(|_| format!("no answer within {} s", LOGOUT_WAIT.as_secs()))?
                .map_err(|e| redactor.clean(&crate::auth::grant::error_chain(&e)))?;
            let status = resp.status();
            // A session the server no longer knows counts as ended.
            if status.is_success() || status == reqwest::StatusCode::UNAUTHORIZED {
                Ok(status.as_u16())
            } else {
                Err(format!("HTTP {}", status.as_u16()))
            }
        })
    })
}

/// [`session_ender`] as a run of `cfg` builds it: the configured logout path and method,
/// `api.headers`, and how calls carry the session id; `None` without a logout path.
pub fn session_ender_of(
    cfg: &crate::config::Config,
    http: reqwest::Client,
    carry: Carry,
    redactor: std::sync::Arc<crate::server_text::Redactor>,
) -> Result<Option<crate::auth::manager::SessionEnder>, ApiError> {
    if cfg.auth.session.logout_path.is_empty() {
        return Ok(None);
    }
    Ok(Some(session_ender(
        http,
        cfg.auth.session.logout_method.as_reqwest(),
        cfg.api_url(&cfg.auth.session.logout_path),
        super::headers::extra_headers(cfg)?,
        carry,
        redactor,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_go_where_send_as_says_and_stay_sensitive() {
        let id = Secret::new("sid-123");
        let mut h = HeaderMap::new();
        attach_credential(&mut h, &Carry::Header("X-Session-Id".into()), &id).unwrap();
        assert_eq!(h["x-session-id"], "sid-123");
        assert!(h["x-session-id"].is_sensitive());
        assert!(h.get(AUTHORIZATION).is_none());

        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_static("theme=dark"));
        attach_credential(&mut h, &Carry::Cookie("SESSIONID".into()), &id).unwrap();
        assert_eq!(h[COOKIE], "theme=dark; SESSIONID=sid-123");
        assert!(h[COOKIE].is_sensitive());

        let mut h = HeaderMap::new();
        attach_credential(&mut h, &Carry::Bearer, &Secret::new("tok")).unwrap();
        assert_eq!(h[AUTHORIZATION], "Bearer tok");
        assert!(!format!("{h:?}").contains("tok"), "{h:?}");

        let bad = attach_credential(&mut h, &Carry::Bearer, &Secret::new("a\nb"));
        assert!(bad.is_err());
    }

    #[test]
    fn a_header_template_puts_its_prefix_before_the_token() {
        let mut h = HeaderMap::new();
        let carry = Carry::parse("X-Auth: Token {token}").unwrap();
        attach_credential(&mut h, &carry, &Secret::new("tok-9")).unwrap();
        assert_eq!(h["x-auth"], "Token tok-9");
        assert!(h["x-auth"].is_sensitive());
        assert_eq!(
            Carry::parse("Authorization: Bearer {token}").unwrap(),
            Carry::Bearer
        );
    }
}
