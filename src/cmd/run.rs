//! `supsync run`, `resume` and `retry`: start the engine and drive it with the console on
//! a terminal, headless otherwise.

use std::io::IsTerminal;
use std::path::Path;

use crate::cli::{GlobalArgs, ResumeArgs, RetryArgs, RunArgs};
use crate::engine::{self, RunMode, RunParams};
use crate::headless::{self, HeadlessOptions};
use crate::{config, exit, journal};

pub fn run(global: &GlobalArgs, args: RunArgs) -> anyhow::Result<i32> {
    // A bad --run-id is a usage error (exit 2), said before anything starts.
    if let Some(id) = &args.run_id
        && let Err(e) = journal::validate_run_id(id)
    {
        return config_error(&format!("--run-id: {e}"));
    }
    let mode = match (args.source, args.pull) {
        (Some(source), None) => RunMode::Push {
            source,
            run_id: args.run_id,
        },
        (None, Some(output)) => RunMode::Pull {
            output,
            run_id: args.run_id,
        },
        // clap's "direction" group makes exactly one of them required.
        _ => anyhow::bail!("give exactly one of --source FILE or --pull OUT"),
    };
    drive(global, mode, args.headless)
}

pub fn resume(global: &GlobalArgs, args: ResumeArgs) -> anyhow::Result<i32> {
    let run_id = match args.run_id {
        Some(id) => id,
        None => {
            let dir = match config::state_dir(global) {
                Ok(d) => d,
                Err(e) => return config_error(&e),
            };
            match journal::latest_unfinished(&dir)? {
                Some(id) => id,
                None => {
                    eprintln!(
                        "no unfinished run under {}: nothing to resume (`{} status` lists the runs)",
                        dir.display(),
                        command_prefix(global)
                    );
                    return Ok(exit::OTHER);
                }
            }
        }
    };
    drive(global, RunMode::Resume { run_id }, args.headless)
}

pub fn retry(global: &GlobalArgs, args: RetryArgs) -> anyhow::Result<i32> {
    drive(
        global,
        RunMode::Retry {
            run_id: args.run_id,
            segments: args.segments,
        },
        args.headless,
    )
}

fn config_error(e: &dyn std::fmt::Display) -> anyhow::Result<i32> {
    eprintln!("error: {e}");
    Ok(exit::CONFIG)
}

fn drive(global: &GlobalArgs, mode: RunMode, headless: bool) -> anyhow::Result<i32> {
    let loaded = match config::load(global) {
        Ok(l) => l,
        Err(e) => return config_error(&e),
    };
    let secret = match loaded.client_secret() {
        Ok(s) => s,
        Err(e) => return config_error(&e),
    };
    let state_dir = match config::state_dir(global) {
        Ok(d) => d,
        Err(e) => return config_error(&e),
    };
    let cfg = &loaded.config;
    for url in [cfg.api_url(&cfg.api.batch_path), cfg.token_url()] {
        if let Err(e) = config::check_transport(&url, cfg.api.allow_insecure_http) {
            return config_error(&e);
        }
    }
    // The console when a person is watching; headless for cron, CI, pipes and --headless.
    let console = !headless && std::io::stdout().is_terminal();
    if console {
        crate::logging::init_console(&state_dir.join("logs"))?;
    } else {
        crate::logging::init_stderr(global.verbose);
    }
    let ui = loaded.config.ui.clone();
    let mut params = RunParams::new(loaded.config.clone(), secret, state_dir, mode);
    // The console keeps the engine after the last segment so `r`/`R` can still retry.
    params.stay_alive = console;
    let opts = HeadlessOptions {
        command: command_prefix(global),
        ..HeadlessOptions::default()
    };
    let rt = super::runtime()?;
    if console {
        // engine::start spawns onto the runtime: it must run inside block_on.
        return rt.block_on(async {
            crate::console::run_console_with(engine::start(params), &ui, &opts).await
        });
    }
    let summary = rt.block_on(async {
        let handle = engine::start(params);
        headless::report(handle, &opts).await
    });
    print_out(&format!("{}\n", headless::summary_text(&summary, &opts)))?;
    Ok(summary.exit_code())
}

/// `supsync` plus the global options that locate this run, for the hints we print.
pub(crate) fn command_prefix(global: &GlobalArgs) -> String {
    let mut s = String::from("supsync");
    if let Some(c) = &global.config {
        s.push_str(&format!(" --config {}", shell_word(c)));
    }
    if let Some(d) = &global.state_dir {
        s.push_str(&format!(" --state-dir {}", shell_word(d)));
    }
    s
}

fn shell_word(p: &Path) -> String {
    let s = p.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:,=@".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Writes to stdout; a reader that went away (`| head`) is not an error worth a panic.
pub(crate) fn print_out(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::from(e).context("cannot write to stdout"))
        }
        _ => Ok(()),
    }
}
