//! One delivery each: run the hook command with the event on stdin, POST to a URL with
//! bounded retries. Failures come back as text for the log; nothing here panics or blocks
//! longer than its configured bound.

use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::config::client_secret::SECRET_ENV;

/// Runs `argv` with `payload` (one JSON line) on stdin. The client secret's environment
/// variable is removed: a hook has no business with it.
pub async fn run_command(
    argv: &[String],
    event: &str,
    payload: &[u8],
    timeout: Duration,
) -> Result<(), String> {
    let Some((program, args)) = argv.split_first() else {
        return Err("notify.command is empty".into());
    };
    let work = async {
        let mut child = tokio::process::Command::new(program)
            .args(args)
            .env_remove(SECRET_ENV)
            .env("SUPSYNC_EVENT", event)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {program}: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            // A hook that exits without reading its stdin is its own business.
            let _ = stdin.write_all(payload).await;
            let _ = stdin.shutdown().await;
        }
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| format!("waiting for {program}: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: String = stderr.trim().chars().take(300).collect();
        Err(format!("{program} exited with {}: {tail}", out.status))
    };
    // On timeout the future is dropped with the child, which `kill_on_drop` ends.
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "{program} did not finish within {timeout:?}; killed"
            ))
        })
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

/// Scheme, host and port only: webhook and ping URLs often hold a token in their path.
pub fn redacted_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}{}/…",
            u.scheme(),
            u.host_str().unwrap_or("?"),
            u.port().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        Err(_) => "<invalid url>".into(),
    }
}
