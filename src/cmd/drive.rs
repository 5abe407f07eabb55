//! The one path from a command into a run, shared by `run`, `resume`, `retry` and `demo`:
//! console or headless, start the engine, drive it to the end, print the summary (after
//! the console: stdout; headless: stderr, with the progress lines), return the exit code.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use crate::config::UiConfig;
use crate::engine::{self, RunParams};
use crate::headless::json::JsonEvents;
use crate::headless::{self, HeadlessOptions};
use crate::observe::{CREDENTIAL_WARNING, ObserveOptions, Observers, tap};
use crate::{console, summary};

use super::out::print_line;

/// How a run is shown.
pub(crate) struct Drive {
    /// The console (a person is watching) rather than headless (cron, CI, pipes).
    pub console: bool,
    pub ui: UiConfig,
    /// How to invoke supsync in the printed hints (see [`super::prefix::command_prefix`]).
    pub command: String,
    /// `--metrics-listen`, which beats `metrics.listen`.
    pub observe: ObserveOptions,
    /// `--json`: NDJSON events on stdout, a `progress` event this often; the human summary
    /// goes to stderr.
    pub json: Option<Duration>,
}

/// The console when a person is watching; headless for `--headless`, and whenever stdout
/// is not a terminal.
pub(crate) fn console_wanted(headless: bool) -> bool {
    !headless && std::io::stdout().is_terminal()
}

/// Starts the run on the current runtime and drives it to its end with the console or
/// headless; prints the summary to stdout; returns the run's exit code.
pub(crate) async fn drive(mut params: RunParams, how: &Drive) -> anyhow::Result<i32> {
    // The console keeps the engine after the last segment so `r`/`R` can still retry;
    // headless, the run ends when nothing is pending or running.
    params.stay_alive = how.console;
    // Metrics and alerts start before the engine: a busy port is a configuration error
    // (exit 2) said before any request, never a failure mid-sync.
    let mut observers = Observers::start(
        &params.config,
        vec![params.client_secret.clone()],
        how.observe.clone(),
    )
    .await?;
    let json = how
        .json
        .map(|every| JsonEvents::start(every, vec![params.client_secret.clone()]));
    // A secret about to expire is said at every start (a warning line on stderr, an alert,
    // a metric) and, with --json, as a notice.
    let mut secret_expires = None;
    if let Some(at) = &params.config.auth.secret_expires_at {
        let expires = crate::config::parse_expiry(at).map_err(|e| {
            crate::config::ConfigError::Invalid(format!("auth.secret_expires_at: {e}"))
        })?;
        observers.credential_expiry("client_secret", expires);
        if let (Some(j), Some(msg)) = (&json, expiry_notice("client secret", expires)) {
            j.notice(&msg);
        }
        secret_expires = Some(expires);
    }
    let cert_expires = certificate_not_after(&params.config);
    if let Some(at) = cert_expires {
        observers.credential_expiry("client_certificate", at);
    }
    let credentials = console::app::credentials::Credentials::at(
        cert_expires,
        secret_expires,
        std::time::SystemTime::now(),
        std::time::Instant::now(),
    );
    let state_dir = params.state_dir.clone();
    // For a `v` at the console's end: verify reads with the run's own config and secret.
    let verify_with = how
        .console
        .then(|| (params.config.clone(), params.client_secret.clone()));
    let mut handle = engine::start(params);
    let mut json_tap = None;
    if let Some(j) = &json {
        let (h, t) = tap::tap(handle, j.observer());
        (handle, json_tap) = (h, Some(t));
    }
    let (handle, observers) = tap::tap(handle, observers);
    // `supsync ps` and `attach` see the run through its control socket.
    let (handle, control) = crate::control::serve(handle, &state_dir);
    let mut verify = None;
    let (code, text, summary) = if how.console {
        let ended = console::run_console(handle, &how.ui, &how.command, credentials).await?;
        verify = ended.verify;
        (ended.exit_code, ended.text, None)
    } else {
        let s = headless::report(handle, &HeadlessOptions::default()).await;
        (s.exit_code(), summary::text(&s, &how.command), Some(s))
    };
    // The engine's stream has ended (or is ending); the final alerts and the last metrics
    // file go out before the summary is printed.
    let lingering = match observers.await {
        Ok(o) => o.finish().await,
        Err(e) => {
            tracing::warn!("metrics and alerts stopped early: {e}");
            None
        }
    };
    control.finish().await;
    match (json, json_tap, summary) {
        (Some(j), Some(t), Some(s)) => {
            // Every event line is out before the summary, which is the last line.
            let _ = t.await;
            j.finish(&s).await;
            // Ignored on purpose: with stderr gone there is nobody left to tell.
            let _ = writeln!(std::io::stderr(), "{}", headless::stamped(&text));
        }
        (None, _, Some(_)) => {
            // Headless: the summary goes where the progress lines went (stderr, timestamped),
            // so `--headless 2>>sync.log` under tmux, cron or systemd keeps the outcome.
            // Ignored on purpose: with stderr gone there is nobody left to tell.
            let _ = writeln!(std::io::stderr(), "{}", headless::stamped(&text));
        }
        _ => {
            // A summary nobody can read (the terminal hung up) does not change how the run
            // ended: the journal has it, and the exit code still tells the truth.
            if let Err(e) = print_line(&text) {
                tracing::warn!("the run's summary was not printed: {e:#}");
            }
        }
    }
    // `/metrics` stays up a while after the summary, so the next scrape sees the end.
    if let Some(l) = lingering {
        l.wait().await;
    }
    if let (Some(run_id), Some((config, secret))) = (verify, verify_with) {
        // Asked for at the console: the run's outcome stands when it failed; a run that
        // completed ends with what the server was found to hold.
        let checked = super::verify::check(
            &state_dir,
            &run_id,
            &config,
            secret,
            super::verify::Options::default(),
        )
        .await?;
        return Ok(if code == crate::exit::OK {
            checked
        } else {
            code
        });
    }
    Ok(code)
}

/// The notAfter of the client certificate the run presents, if it presents one. Read
/// here, before the engine starts, so metrics and the console know it from the first
/// event; a certificate that does not load is the client's to refuse, with its own words.
fn certificate_not_after(cfg: &crate::config::Config) -> Option<std::time::SystemTime> {
    use crate::auth::client_auth::{Peer, presents_certificate};
    let presents =
        presents_certificate(cfg, Peer::TokenEndpoint) || presents_certificate(cfg, Peer::Api);
    let path = cfg.auth.client_cert_file.as_ref().filter(|_| presents)?;
    crate::config::key_material::certificate("auth.client_cert_file", path)
        .ok()
        .map(|c| c.not_after)
}

/// The warning for a credential within [`CREDENTIAL_WARNING`] of its end, if it is.
fn expiry_notice(what: &str, expires: std::time::SystemTime) -> Option<String> {
    let left = expires.duration_since(std::time::SystemTime::now());
    let at = chrono::DateTime::<chrono::Utc>::from(expires)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    match left {
        Ok(d) if d > CREDENTIAL_WARNING => None,
        Ok(d) => Some(format!(
            "the {what} expires at {at} ({} days left); replace it before then",
            d.as_secs() / 86_400
        )),
        Err(_) => Some(format!("the {what} expired at {at}; replace it")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_is_warned_about_within_fourteen_days() {
        let day = Duration::from_secs(86_400);
        let now = std::time::SystemTime::now();
        assert_eq!(expiry_notice("client secret", now + 20 * day), None);
        let soon = expiry_notice("client secret", now + 3 * day + day / 2).unwrap();
        assert!(soon.contains("(3 days left)"), "{soon}");
        let gone = expiry_notice("client secret", now - day).unwrap();
        assert!(gone.contains("expired at"), "{gone}");
    }
}
