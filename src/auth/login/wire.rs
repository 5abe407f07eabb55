//! The HTTP side of a token request: `oauth2` builds the request, this sends it with the
//! shared `reqwest` client, reads at most [`MAX_ANSWER_BYTES`] of the answer, and sorts
//! out answers that are no token response (see [`answer::screen`]) before `oauth2` parses
//! the rest. Then every failure becomes a [`GrantError`] whose server text is cleaned.

use oauth2::RequestTokenError;
use oauth2::basic::{BasicErrorResponse, BasicErrorResponseType};

use super::answer::{self, MAX_ANSWER_BYTES, Screened};
use super::grant_error::{GrantError, error_chain, head_too_large};
use super::kinds::GrantKind;
use crate::server_text::Redactor;

/// A failure found on the way, before `oauth2` parses anything.
#[derive(Debug, thiserror::Error)]
pub(super) enum HttpFailure {
    #[error(transparent)]
    Send(#[from] reqwest::Error),
    #[error("cannot build the token request: {0}")]
    Build(String),
    #[error("not a token answer")]
    Screened(Screened),
}

/// The reqwest client as `oauth2`'s HTTP client. It keeps the answer's `Date` (the
/// server's clock, which a JWT's `exp` is read against): `oauth2` does not pass headers on.
pub(super) struct Endpoint<'a> {
    pub http: &'a reqwest::Client,
    pub date: std::sync::Mutex<Option<String>>,
}

impl<'a> Endpoint<'a> {
    pub fn new(http: &'a reqwest::Client) -> Self {
        Endpoint {
            http,
            date: std::sync::Mutex::new(None),
        }
    }

    /// The server's "now" as the last answer stated it, else `local`.
    pub fn server_now(&self, local: std::time::SystemTime) -> std::time::SystemTime {
        let date = self.date.lock().unwrap_or_else(|p| p.into_inner());
        crate::retry_after::server_now(date.as_deref(), local)
    }
}

impl<'c> oauth2::AsyncHttpClient<'c> for Endpoint<'_> {
    type Error = HttpFailure;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<oauth2::HttpResponse, HttpFailure>>
                + Send
                + Sync
                + 'c,
        >,
    >;

    fn call(&'c self, req: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let req = reqwest::Request::try_from(req)?;
            let mut resp = self.http.execute(req).await?;
            let status = resp.status();
            let headers = resp.headers().clone();
            *self.date.lock().unwrap_or_else(|p| p.into_inner()) =
                crate::retry_after::date_of(&headers).map(str::to_string);
            let too_large = || {
                HttpFailure::Screened(Screened::TooLarge {
                    what: format!(
                        "its body is larger than {} KiB (tokens over {} KiB are refused)",
                        MAX_ANSWER_BYTES / 1024,
                        answer::MAX_TOKEN_BYTES / 1024
                    ),
                })
            };
            if resp
                .content_length()
                .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
            {
                return Err(too_large());
            }
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await? {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            let ct = headers
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            if let Err(mut s) = answer::screen(status.as_u16(), ct, &body) {
                if let Screened::Busy { retry_after, .. } = &mut s {
                    *retry_after =
                        crate::retry_after::asked_in(&headers, std::time::SystemTime::now());
                }
                return Err(HttpFailure::Screened(s));
            }
            let mut builder = oauth2::http::Response::builder().status(status);
            for (name, value) in &headers {
                // oauth2 insists on `application/json`; `screen` has already checked that a
                // success carries a JSON token object, whatever its label.
                if name != reqwest::header::CONTENT_TYPE {
                    builder = builder.header(name, value);
                }
            }
            builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body)
                .map_err(|e| HttpFailure::Build(e.to_string()))
        })
    }
}

/// A failed token request as a [`GrantError`], server text cleaned by `redactor`.
pub(super) fn classify(
    grant: GrantKind,
    err: RequestTokenError<HttpFailure, BasicErrorResponse>,
    redactor: &Redactor,
) -> GrantError {
    match err {
        RequestTokenError::ServerResponse(r) => GrantError::Rejected {
            grant,
            code: redactor.clean_to(
                &match r.error() {
                    BasicErrorResponseType::Extension(s) => s.clone(),
                    other => other.as_ref().to_string(),
                },
                60,
            ),
            description: r.error_description().map(|d| redactor.clean(d)),
        },
        RequestTokenError::Request(HttpFailure::Screened(s)) => screened(grant, s, redactor),
        RequestTokenError::Request(HttpFailure::Send(e)) => match head_too_large(&e) {
            Some(what) => GrantError::TooLarge { grant, what },
            None => GrantError::Transport {
                grant,
                message: redactor.clean(&error_chain(&e)),
            },
        },
        RequestTokenError::Request(HttpFailure::Build(m)) => GrantError::Transport {
            grant,
            message: redactor.clean(&m),
        },
        // The body is deliberately not quoted: it may hold a token. serde's message names
        // the field and what was wrong with it.
        RequestTokenError::Parse(e, _body) => GrantError::Malformed {
            grant,
            message: format!(
                "HTTP 200 answer is no usable token response: {}",
                redactor.clean(&e.to_string())
            ),
        },
        RequestTokenError::Other(m) => GrantError::Malformed {
            grant,
            message: redactor.clean(&m),
        },
    }
}

fn screened(grant: GrantKind, s: Screened, redactor: &Redactor) -> GrantError {
    match s {
        Screened::Busy {
            status,
            text,
            retry_after,
        } => GrantError::Server {
            grant,
            status,
            text: redactor.clean(&text),
            retry_after,
        },
        Screened::NoToken {
            status,
            content_type,
            what,
        } => GrantError::Malformed {
            grant,
            message: format!("HTTP {status} ({content_type}) with {what}, not a token"),
        },
        Screened::ErrorIn2xx { code, description } => GrantError::Rejected {
            grant,
            code: redactor.clean_to(&code, 60),
            description: description.map(|d| redactor.clean(&d)),
        },
        Screened::TooLarge { what } => GrantError::TooLarge { grant, what },
    }
}
