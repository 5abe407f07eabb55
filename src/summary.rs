//! The end-of-run text an operator (or a cron mail) reads, whichever way the run was
//! driven: what happened, the figures, and the command that carries on. The console prints
//! it once the terminal is restored, the headless reporter at the end of its output.

use std::time::Duration;

use crate::engine::events::RunSummary;
use crate::run::{Direction, RunState};

/// The summary of `s`; `command` is how to invoke supsync in the hints, global options
/// included (e.g. `supsync --state-dir /srv/sync`).
pub fn text(s: &RunSummary, command: &str) -> String {
    let mut out = Vec::new();
    // The outcome's one word: the same as `status`, the `--json` summary and the README's
    // exit-code table.
    let what = s.outcome();
    let id = if s.run_id.is_empty() {
        "(none)"
    } else {
        &s.run_id
    };
    out.push(format!(
        "run {id} ({}) {what} in {}",
        s.direction,
        format_duration(s.duration)
    ));
    // A run that never got going has no figures worth printing, only its error.
    let started = !(s.state == RunState::Failed && s.segments_total == 0);
    let c = &s.counts;
    if started {
        out.push(match s.direction {
            Direction::Push => format!(
                "records: {} created, {} updated, {} unchanged, {} applied, {} rejected",
                c.created, c.updated, c.unchanged, c.applied, c.rejected
            ),
            Direction::Pull if c.rejected > 0 => format!(
                "records: {} pulled, {} rejected (did not fit the mapping)",
                c.pulled, c.rejected
            ),
            Direction::Pull => format!("records: {} pulled", c.pulled),
        });
        out.push(format!(
            "segments: {} of {} done, {} failed",
            s.segments_done, s.segments_total, s.segments_failed
        ));
        out.push(format!(
            "token: {} renewal(s), {} session(s)",
            s.token_renewals, s.sessions
        ));
    }
    if let Some(e) = &s.error {
        out.push(format!("error: {e}"));
    } else if s.segments_failed > 0 {
        // Exit 3 is a failure a script must notice: say so on the same kind of line as
        // every other failure, with where the reasons are.
        out.push(format!(
            "error: {} of {} segment(s) failed; their reasons: {command} status {}",
            s.segments_failed, s.segments_total, s.run_id
        ));
    }
    if !s.run_id.is_empty() {
        out.extend(hints(s, command));
    }
    out.join("\n")
}

/// What to do next about the run `s`: where its rejects are, how to carry it on.
fn hints(s: &RunSummary, command: &str) -> Vec<String> {
    let id = &s.run_id;
    let mut out = Vec::new();
    if s.counts.rejected > 0 {
        out.push(format!(
            "rejected records and reasons: {command} status {id} (rejects.jsonl in the run directory)"
        ));
    }
    match s.state {
        RunState::Interrupted => out.push(resume_hint(command, id)),
        RunState::Failed if !s.auth_failure && s.segments_total > 0 => {
            out.push(format!("after fixing the cause: {command} resume {id}"));
        }
        // The error above already names what to check in the auth kind at hand (token
        // grant or session login); this line only says how to check and carry on.
        RunState::Failed if s.auth_failure => out.push(format!(
            "fix what the error above names; `{command} diagnose` tries the credentials \
             against the server; then: {command} resume {id}"
        )),
        _ => {}
    }
    if s.segments_failed > 0 {
        out.push(format!("to retry failed segments: {command} retry {id}"));
    }
    if s.direction == Direction::Push
        && matches!(
            s.state,
            RunState::Completed | RunState::CompletedWithFailures
        )
    {
        out.push(verify_hint(command, id));
    }
    out
}

/// The line that tells how to check what the server holds after a push.
pub fn verify_hint(command: &str, run_id: &str) -> String {
    format!("to check what the server holds: {command} verify {run_id}")
}

/// The line that tells how to carry on an unfinished run.
pub fn resume_hint(command: &str, run_id: &str) -> String {
    format!("to carry on: {command} resume {run_id}")
}

pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{:.1}s", d.as_secs_f64()),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::Counts;

    fn s(state: RunState) -> RunSummary {
        RunSummary {
            run_id: "20261125-1".into(),
            direction: Direction::Push,
            state,
            counts: Counts {
                created: 5,
                ..Counts::default()
            },
            segments_total: 3,
            segments_done: 2,
            segments_failed: 1,
            token_renewals: 4,
            sessions: 2,
            duration: Duration::from_secs(75),
            error: None,
            auth_failure: false,
        }
    }

    #[test]
    fn summary_names_the_command_that_carries_on() {
        let cmd = "supsync --state-dir /x";
        let t = text(&s(RunState::CompletedWithFailures), cmd);
        assert!(t.contains("5 created"), "{t}");
        assert!(t.contains("4 renewal(s), 2 session(s)"), "{t}");
        assert!(t.contains("supsync --state-dir /x retry 20261125-1"), "{t}");
        assert!(
            t.contains("supsync --state-dir /x verify 20261125-1"),
            "{t}"
        );
        assert!(t.contains("1m 15s"), "{t}");
        let t = text(&s(RunState::Interrupted), cmd);
        assert!(
            t.contains("supsync --state-dir /x resume 20261125-1"),
            "{t}"
        );
    }

    #[test]
    fn an_auth_failure_hint_holds_no_words_of_one_auth_kind() {
        let mut f = s(RunState::Failed);
        f.auth_failure = true;
        f.segments_failed = 0;
        let all = text(&f, "supsync");
        let t = all.lines().last().unwrap_or_default();
        assert!(t.contains("`supsync diagnose`"), "{t}");
        assert!(t.contains("then: supsync resume 20261125-1"), "{t}");
        for word in ["scope", "token", "session", "password", "client secret"] {
            assert!(!t.contains(word), "{word:?} in {t}");
        }
    }

    #[test]
    fn summary_says_the_outcome_in_its_one_word() {
        let t = text(&s(RunState::CompletedWithFailures), "supsync");
        assert!(
            t.starts_with("run 20261125-1 (push) completed with failures in 1m 15s"),
            "{t}"
        );
        let mut rejected = s(RunState::Completed);
        rejected.counts.rejected = 2;
        let t = text(&rejected, "supsync");
        // Failed segments outrank rejects (exit 3 rather than 6).
        assert!(t.contains(") completed with failures in"), "{t}");
        rejected.segments_failed = 0;
        let t = text(&rejected, "supsync");
        assert!(t.contains(") completed with rejects in"), "{t}");
        assert!(t.contains("supsync status 20261125-1"), "{t}");
    }

    #[test]
    fn a_run_that_never_started_shows_only_its_error() {
        let mut f = s(RunState::Failed);
        f.segments_total = 0;
        f.run_id = String::new();
        f.error = Some("cannot read the source".into());
        let t = text(&f, "supsync");
        assert_eq!(
            t,
            "run (none) (push) failed in 1m 15s\nerror: cannot read the source"
        );
    }
}
