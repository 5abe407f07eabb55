//! The end of a console session: the exit code and the lines printed after the terminal
//! is restored (the resume command when the run can carry on).

use crate::engine::events::{RunState, RunSummary};
use crate::exit;

/// Exit code for a finished run, as `crate::exit` documents.
pub fn exit_code(s: &RunSummary) -> i32 {
    match s.state {
        RunState::Completed if s.counts.rejected > 0 => exit::REJECTS,
        RunState::Completed => exit::OK,
        RunState::CompletedWithFailures => exit::FAILED_SEGMENTS,
        RunState::Failed if s.auth_failure => exit::AUTH,
        RunState::Failed => exit::OTHER,
        RunState::Interrupted
        | RunState::Planning
        | RunState::Running
        | RunState::Paused
        | RunState::Stopping => exit::INTERRUPTED,
    }
}

/// What to print once the terminal is back: a one-line summary and what to do next.
pub fn epilogue(run_id: Option<&str>, summary: Option<&RunSummary>) -> Vec<String> {
    let Some(id) = run_id.filter(|id| !id.is_empty()) else {
        return summary
            .and_then(|s| s.error.clone())
            .map(|e| vec![format!("supsync: {e}")])
            .unwrap_or_default();
    };
    let mut out = Vec::new();
    match summary {
        None => {
            out.push(format!("run {id} stopped before the end."));
            out.push(format!("resume it with: supsync resume {id}"));
        }
        Some(s) => {
            let c = &s.counts;
            out.push(format!(
                "run {id}: {} · {} created, {} updated, {} unchanged, {} rejected · {}/{} segments · {} token renewals, {} sessions",
                state_word(s.state),
                c.created,
                c.updated,
                c.unchanged,
                c.rejected,
                s.segments_done,
                s.segments_total,
                s.token_renewals,
                s.sessions,
            ));
            if let Some(e) = &s.error {
                out.push(format!("error: {e}"));
            }
            match s.state {
                RunState::Interrupted | RunState::Stopping | RunState::Paused => {
                    out.push(format!("resume it with: supsync resume {id}"))
                }
                RunState::CompletedWithFailures => out.push(format!(
                    "retry the failed segments with: supsync retry {id}"
                )),
                _ => {}
            }
        }
    }
    out
}

pub fn state_word(s: RunState) -> &'static str {
    match s {
        RunState::Planning => "PLANNING",
        RunState::Running => "RUNNING",
        RunState::Paused => "PAUSED",
        RunState::Stopping => "STOPPING",
        RunState::Completed => "COMPLETED",
        RunState::CompletedWithFailures => "COMPLETED WITH FAILURES",
        RunState::Interrupted => "INTERRUPTED",
        RunState::Failed => "FAILED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::events::{Counts, Direction};
    use std::time::Duration;

    fn summary(state: RunState, rejected: u64, auth: bool) -> RunSummary {
        RunSummary {
            run_id: "r1".into(),
            direction: Direction::Push,
            state,
            counts: Counts {
                created: 10,
                rejected,
                ..Default::default()
            },
            segments_total: 5,
            segments_done: 5,
            segments_failed: 0,
            token_renewals: 3,
            sessions: 2,
            duration: Duration::from_secs(61),
            error: None,
            auth_failure: auth,
        }
    }

    #[test]
    fn exit_codes_follow_the_summary() {
        assert_eq!(exit_code(&summary(RunState::Completed, 0, false)), 0);
        assert_eq!(exit_code(&summary(RunState::Completed, 3, false)), 2);
        assert_eq!(
            exit_code(&summary(RunState::CompletedWithFailures, 0, false)),
            3
        );
        assert_eq!(exit_code(&summary(RunState::Failed, 0, true)), 4);
        assert_eq!(exit_code(&summary(RunState::Failed, 0, false)), 1);
        assert_eq!(exit_code(&summary(RunState::Interrupted, 0, false)), 5);
    }

    #[test]
    fn interrupted_runs_print_the_resume_command() {
        let lines = epilogue(Some("r1"), Some(&summary(RunState::Interrupted, 0, false)));
        assert_eq!(lines.last().unwrap(), "resume it with: supsync resume r1");
        let lines = epilogue(Some("r1"), None);
        assert_eq!(lines.last().unwrap(), "resume it with: supsync resume r1");
        let lines = epilogue(Some("r1"), Some(&summary(RunState::Completed, 0, false)));
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("COMPLETED"), "{lines:?}");
    }
}
