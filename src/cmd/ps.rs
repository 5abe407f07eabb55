//! `supsync ps [--json]`: the runs going on right now on this machine, as their control
//! sockets tell it (a run whose socket does not answer is not live). The journal-only view
//! of every run, finished ones included, is `status`.

use std::time::Duration;

use super::out::print_out;
use crate::cli::{GlobalArgs, PsArgs};
use crate::control::{self, LiveRun};
use crate::{config, exit};

pub fn run(global: &GlobalArgs, args: PsArgs) -> anyhow::Result<i32> {
    let dir = match config::state_dir(global) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::CONFIG);
        }
    };
    crate::logging::init_stderr(global.verbose);
    let runs = super::runtime()?.block_on(control::live_runs(&dir));
    if args.json {
        print_out(&format!("{}\n", serde_json::to_string_pretty(&runs)?))?;
    } else if runs.is_empty() {
        print_out(&format!("no live runs under {}\n", dir.display()))?;
    } else {
        print_out(&table(&runs, &super::prefix::command_prefix(global)))?;
    }
    Ok(exit::OK)
}

/// The token column's width: its longest usual text ("renewing (expires in 14m 59s)")
/// keeps the pace column after it aligned.
const TOKEN_WIDTH: usize = 30;

/// The human table, with the command that opens the console on a run.
pub(crate) fn table(runs: &[LiveRun], prefix: &str) -> String {
    let mut out = format!(
        "{:<28} {:>7} {:<5} {:<24} {:>17} {:>15} {:>8}  {:<TOKEN_WIDTH$}  {}\n",
        "RUN ID", "PID", "DIR", "STATE", "RECORDS", "SEGMENTS", "ETA", "TOKEN", "PACE"
    );
    for r in runs {
        // Every segment finished (the console waits for `q` or a retry): nothing is left,
        // and the token is neither renewed nor kept alive.
        let finished = r.segments_total > 0 && r.segments_finished == r.segments_total;
        let direction = r.direction.map_or("?".to_string(), |d| d.to_string());
        let segments = if r.segments_failed > 0 {
            format!(
                "{}/{} ({} failed)",
                r.segments_finished, r.segments_total, r.segments_failed
            )
        } else {
            format!("{}/{}", r.segments_finished, r.segments_total)
        };
        let eta = match r.eta_secs {
            _ if finished => "done".to_string(),
            Some(s) => crate::view::throughput::clock(Duration::from_secs_f64(s.max(0.0))),
            None => "–".to_string(),
        };
        // The state says why the ETA stands still ("paused", "holding: API down, …").
        let state = match &r.stalled {
            Some(why) if why != &r.state => format!("{} ({why})", r.state),
            _ => r.state.clone(),
        };
        let token = if finished {
            "not kept alive (run ended)".to_string()
        } else {
            token(r)
        };
        // A run that has not said its pace yet (an older supsync) shows a dash.
        let pace = r.pace.as_deref().unwrap_or("–");
        out.push_str(&format!(
            "{:<28} {:>7} {:<5} {:<24} {:>17} {:>15} {:>8}  {:<TOKEN_WIDTH$}  {}\n",
            r.run_id,
            r.pid,
            direction,
            state,
            format!("{}/{}", r.records_done, r.records_total),
            segments,
            eta,
            token,
            pace
        ));
    }
    out.push_str(&format!(
        "open the console on one: {prefix} attach RUN_ID\n"
    ));
    out
}

/// The token column: when it dies unless renewed, or what is wrong with it.
fn token(r: &LiveRun) -> String {
    let expiry = r
        .token_expires_in_secs
        .map(|s| crate::summary::format_duration(Duration::from_secs_f64(s.max(0.0))));
    match (r.token_phase.as_deref(), expiry) {
        (Some("failed"), _) => "renewal failing".into(),
        (Some("refreshing"), Some(e)) => format!("renewing (expires in {e})"),
        (_, Some(e)) => format!("expires in {e}"),
        (Some("none") | None, None) => "no token yet".into(),
        (Some(p), None) => p.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::Direction;

    fn run(phase: Option<&str>, expires: Option<f64>) -> LiveRun {
        LiveRun {
            run_id: "20261125-220401".into(),
            pid: 4242,
            direction: Some(Direction::Push),
            state: "paused".into(),
            records_done: 350,
            records_total: 1000,
            segments_finished: 7,
            segments_failed: 1,
            segments_total: 20,
            token_phase: phase.map(String::from),
            token_expires_in_secs: expires,
            token_refresh_in_secs: None,
            pace: None,
            eta_secs: Some(75.0),
            stalled: Some("paused".into()),
            socket: "/s/runs/x/control.sock".into(),
        }
    }

    #[test]
    fn the_table_shows_progress_state_and_the_tokens_expiry() {
        let t = table(&[run(Some("valid"), Some(95.0))], "supsync");
        let row = t.lines().nth(1).unwrap();
        for part in [
            "20261125-220401",
            "4242",
            "push",
            "paused",
            "350/1000",
            "7/20 (1 failed)",
            "01:15",
            "expires in 1m 35s",
        ] {
            assert!(row.contains(part), "{part} missing from {row}");
        }
        assert!(t.ends_with("open the console on one: supsync attach RUN_ID\n"));
    }

    #[test]
    fn the_pace_column_lines_up_whatever_the_token_says() {
        let mut a = run(Some("refreshing"), Some(899.0));
        a.pace = Some("8 in flight · lowered after 429".into());
        let mut b = run(Some("valid"), Some(2.0));
        b.pace = Some("4 in flight · fixed".into());
        let t = table(&[a, b], "supsync");
        let at = |line: &str, what: &str| line.find(what).map(|i| line[..i].chars().count());
        let lines: Vec<&str> = t.lines().collect();
        let head = at(lines[0], "PACE").unwrap();
        assert_eq!(at(lines[1], "8 in flight"), Some(head), "{t}");
        assert_eq!(at(lines[2], "4 in flight"), Some(head), "{t}");
    }

    #[test]
    fn the_token_column_says_what_is_wrong() {
        assert_eq!(token(&run(Some("failed"), Some(3.0))), "renewal failing");
        assert_eq!(token(&run(None, None)), "no token yet");
        assert_eq!(
            token(&run(Some("refreshing"), Some(2.0))),
            "renewing (expires in 2.0s)"
        );
    }
}
