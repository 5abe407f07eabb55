//! `supsync attach [RUN_ID] [--read-only]`: the console on a run going on in another
//! process (headless under cron or CI, or another terminal's), through its control socket.
//! Same panes, same keys; `q` detaches and the run goes on.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context;

use super::out::{print_line, print_out};
use crate::cli::{AttachArgs, GlobalArgs};
use crate::config::UiConfig;
use crate::control::{self, LiveRun};
use crate::{config, exit};

pub fn run(global: &GlobalArgs, args: AttachArgs) -> anyhow::Result<i32> {
    let dir = match config::state_dir(global) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::CONFIG);
        }
    };
    let prefix = super::prefix::command_prefix(global);
    if !std::io::stdout().is_terminal() {
        eprintln!(
            "error: attach opens the console and needs a terminal; `{prefix} ps --json` reads a run's state from scripts"
        );
        return Ok(exit::CONFIG);
    }
    // The console's look (tick, frame rate) from the config when there is one; attaching
    // needs no config at all.
    let ui = config::load(global)
        .map(|l| l.config.ui)
        .unwrap_or_else(|_| UiConfig::default());
    let rt = super::runtime()?;
    let runs = rt.block_on(control::live_runs(&dir));
    let Some(run) = choose(runs, args.run_id.as_deref(), &dir, &prefix)? else {
        return Ok(exit::OTHER);
    };
    crate::logging::init_console(&dir.join("logs"))?;
    let ended = rt.block_on(async {
        let (_, replay, handle) = control::client::attach(&run.socket)
            .await
            .with_context(|| format!("could not attach to run {}", run.run_id))?;
        crate::console::attach_console(
            handle,
            replay.events,
            replay.history,
            &ui,
            &prefix,
            args.read_only,
        )
        .await
    })?;
    // A closed terminal only detaches: the text nobody can read any more is no failure.
    if let Err(e) = print_line(&ended.text) {
        tracing::warn!("the detach message was not printed: {e:#}");
    }
    Ok(ended.exit_code)
}

/// The run to attach to: the one named, else the only live one, else the operator's pick.
/// `None` (after saying why) when there is nothing to attach to.
fn choose(
    mut runs: Vec<LiveRun>,
    wanted: Option<&str>,
    dir: &std::path::Path,
    prefix: &str,
) -> anyhow::Result<Option<LiveRun>> {
    if let Some(id) = wanted {
        if let Some(i) = runs.iter().position(|r| r.run_id == id) {
            return Ok(Some(runs.swap_remove(i)));
        }
        // A unique prefix of a live run's id names it, as everywhere a run id is taken.
        let mut hits: Vec<usize> = (0..runs.len())
            .filter(|&i| runs[i].run_id.starts_with(id))
            .collect();
        match hits.len() {
            0 => {}
            1 => return Ok(Some(runs.swap_remove(hits.remove(0)))),
            _ => {
                let ids: Vec<&str> = hits.iter().map(|&i| runs[i].run_id.as_str()).collect();
                anyhow::bail!(
                    "run id prefix {id:?} is ambiguous: {} live runs start with it ({}); type more of the id",
                    ids.len(),
                    ids.join(", ")
                );
            }
        }
        eprintln!(
            "run {id} is not live under {} (no control socket answers); `{prefix} ps` lists live runs, `{prefix} status {id}` shows its journal",
            dir.display()
        );
        return Ok(None);
    }
    match runs.len() {
        0 => {
            eprintln!(
                "no live runs under {}: nothing to attach to (`{prefix} status` lists past runs)",
                dir.display()
            );
            Ok(None)
        }
        1 => Ok(runs.pop()),
        _ => {
            print_out(&super::ps::table(&runs, prefix))?;
            let id = ask("several runs are live; which run id? ")?;
            match runs.iter().position(|r| r.run_id == id) {
                Some(i) => Ok(Some(runs.swap_remove(i))),
                None => {
                    eprintln!("no live run {id:?}: give one of the ids above");
                    Ok(None)
                }
            }
        }
    }
}

/// One line from the terminal, trimmed.
fn ask(question: &str) -> anyhow::Result<String> {
    let mut out = std::io::stdout().lock();
    out.write_all(question.as_bytes())
        .and_then(|()| out.flush())
        .context("cannot write to the terminal")?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the run id from the terminal")?;
    Ok(line.trim().to_string())
}
