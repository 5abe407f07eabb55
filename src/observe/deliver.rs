//! One delivery each: POST to a URL with bounded retries, never following a redirect (the
//! client is built with none: a 3xx is a failed delivery, so the payload never goes to an
//! origin nobody configured, nor over plain http to a host that is not loopback).
//! Failures come back as text for the log; nothing here panics or blocks longer than its
//! configured bound.

use std::time::Duration;

use crate::config::redacted_url;

/// The HTTP client of webhooks and pings: its own timeout, and no redirects.
pub fn client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("supsync/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// What to send: a JSON document, or a short text (pings).
pub enum Body {
    Json(Vec<u8>),
    Text(String),
}

/// POSTs `body` to `url`, up to `attempts` times with doubling waits from 500 ms. Network
/// errors, 408, 429 and 5xx are retried; other answers are final.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &Body,
    attempts: u32,
) -> Result<(), String> {
    let mut wait = Duration::from_millis(500);
    let mut last = String::new();
    for attempt in 1..=attempts.max(1) {
        let req = match body {
            Body::Json(b) => client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.clone()),
            Body::Text(t) => client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(t.clone()),
        };
        match req.send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) if r.status().is_redirection() => {
                last = format!("answered {}{}", r.status(), redirect_note(url, &r));
                break;
            }
            Ok(r) => {
                let s = r.status();
                last = format!("answered {s}");
                let retry = s.is_server_error()
                    || s == reqwest::StatusCode::REQUEST_TIMEOUT
                    || s == reqwest::StatusCode::TOO_MANY_REQUESTS;
                if !retry {
                    break;
                }
            }
            // `without_url`: a webhook URL often carries its own secret in the path.
            Err(e) => last = e.without_url().to_string(),
        }
        if attempt < attempts {
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(8));
        }
    }
    Err(format!("{} {last}", redacted_url(url)))
}

/// Where a redirect pointed, redacted: ` (redirect to https://other.example/… not followed)`.
fn redirect_note(url: &str, r: &reqwest::Response) -> String {
    let to = r
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|l| reqwest::Url::parse(url).ok()?.join(l).ok());
    match to {
        Some(to) => format!(" (redirect to {} not followed)", redacted_url(to.as_str())),
        None => " (a redirect; not followed)".into(),
    }
}
