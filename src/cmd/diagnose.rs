//! `supsync diagnose`: token-lifetime forensics for on-call: which server clock kills the token early, and why.
//!
//! Exit status: 0 when supsync can keep a sync of the configured length alive, 3 when it
//! cannot as configured (or the API's first call failed: not verified), 4 when the
//! configuration gets no token, 2 for a configuration it cannot use.

use anyhow::Context;

use super::out::{print_line, print_out};
use crate::cli::{DiagnoseArgs, GlobalArgs};
use crate::diagnose::{self, DiagnoseOptions, report};
use crate::exit;

pub fn run(global: &GlobalArgs, args: DiagnoseArgs) -> anyhow::Result<i32> {
    // Warnings (config, secret file permissions) go to stderr; stdout stays the report.
    crate::logging::init_stderr(global.verbose);
    // Config errors carry `ConfigError`, which `dispatch` turns into exit 2.
    let loaded = crate::config::load(global)?;
    let secret = loaded.client_secret()?;
    let rt = super::runtime()?;
    if loaded.config.auth.kind == crate::config::AuthKind::ApiKey {
        let found = rt.block_on(diagnose::api_key::check(&loaded.config, &secret));
        match args.json {
            true => print_line(
                &serde_json::to_string(&found).context("could not write the JSON report")?,
            )?,
            false => print_out(&found.text())?,
        }
        return Ok(found.exit_code);
    }
    let opts = DiagnoseOptions {
        idle_wait: std::time::Duration::from_secs(args.probe_secs),
        probe_calls: args.probe_calls,
        wait: std::time::Duration::from_secs(args.wait_secs),
        // Where a run keeps its login budget, lock and token cache (a session login
        // respects them); without one, diagnose counts refused logins in memory.
        state_dir: crate::config::state_dir(global).ok(),
        logins: args.logins,
        reuse_check: args.reuse_check,
    };
    if loaded.config.auth.kind == crate::config::AuthKind::TokenLogin {
        let found = match rt.block_on(diagnose::token_login(&loaded.config, &secret, &opts)) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("error: {e:#}");
                return Ok(exit::CONFIG);
            }
        };
        match args.json {
            true => print_line(&found.json().context("could not write the JSON report")?)?,
            false => print_out(&found.text())?,
        }
        return Ok(found.exit_code());
    }
    let found = match rt.block_on(diagnose::diagnose(&loaded.config, &secret, &opts)) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(exit::CONFIG);
        }
    };
    // A session login that stops before any session says so as `run` does, unwrapped, so
    // the operator (and a script) reads the same words from both.
    if let Some(e) = found
        .findings
        .session
        .as_ref()
        .and_then(|s| s.login_error.as_ref())
    {
        eprintln!("error: {}", e.message);
    }
    if args.json {
        print_line(&report::json(&found).context("could not write the JSON report")?)?;
    } else {
        print_out(&report::text(&found))?;
    }
    Ok(found.exit_code())
}
