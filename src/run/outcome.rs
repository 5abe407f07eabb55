//! How a finished run ended, in one word and one exit code: what the headless summary,
//! the `--json` summary event, `status` and the README's exit-code table all say.

use std::fmt;

use serde::Serialize;

use super::RunState;

/// The end of a run. Unlike [`RunState`] it tells rejected records apart, since scripts
/// must (a finished run with rejects is not a failure, nor a clean success).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every record synced.
    Completed,
    /// Finished; some records were refused (locally or by the server).
    CompletedWithRejects,
    /// Finished; some segments failed (`supsync retry`). Outranks rejects.
    CompletedWithFailures,
    /// Stopped before the end (Ctrl-C, quit, signal, an outage); `supsync resume`.
    Interrupted,
    /// Could not go on: the credentials or the token endpoint.
    AuthenticationFailed,
    /// Could not go on, for any other reason.
    Failed,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Completed,
        Outcome::CompletedWithRejects,
        Outcome::CompletedWithFailures,
        Outcome::Interrupted,
        Outcome::AuthenticationFailed,
        Outcome::Failed,
    ];

    /// The outcome of a run that ended in `state` (a run that ends while still planning or
    /// running failed; one that ends paused or stopping was interrupted).
    pub fn of(state: RunState, rejected: u64, segments_failed: usize, auth_failure: bool) -> Self {
        match state {
            RunState::Failed if auth_failure => Outcome::AuthenticationFailed,
            RunState::Failed | RunState::Planning | RunState::Running => Outcome::Failed,
            RunState::Interrupted | RunState::Stopping | RunState::Paused => Outcome::Interrupted,
            RunState::CompletedWithFailures => Outcome::CompletedWithFailures,
            RunState::Completed if segments_failed > 0 => Outcome::CompletedWithFailures,
            RunState::Completed if rejected > 0 => Outcome::CompletedWithRejects,
            RunState::Completed => Outcome::Completed,
        }
    }

    /// The process exit code (`crate::exit`).
    pub fn exit_code(self) -> i32 {
        use crate::exit;
        match self {
            Outcome::Completed => exit::OK,
            Outcome::CompletedWithRejects => exit::REJECTS,
            Outcome::CompletedWithFailures => exit::FAILED_SEGMENTS,
            Outcome::Interrupted => exit::INTERRUPTED,
            Outcome::AuthenticationFailed => exit::AUTH,
            Outcome::Failed => exit::OTHER,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::CompletedWithRejects => "completed with rejects",
            Outcome::CompletedWithFailures => "completed with failures",
            Outcome::Interrupted => "interrupted",
            Outcome::AuthenticationFailed => "authentication failed",
            Outcome::Failed => "failed",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.word())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_documented_table() {
        use Outcome::*;
        let code = |o: Outcome| o.exit_code();
        assert_eq!(Outcome::of(RunState::Completed, 0, 0, false), Completed);
        assert_eq!(
            Outcome::of(RunState::Completed, 3, 0, false),
            CompletedWithRejects
        );
        let failures = Outcome::of(RunState::CompletedWithFailures, 3, 1, false);
        assert_eq!(
            failures, CompletedWithFailures,
            "failed segments outrank rejects"
        );
        assert_eq!(
            Outcome::of(RunState::Failed, 0, 0, true),
            AuthenticationFailed
        );
        assert_eq!(Outcome::of(RunState::Stopping, 0, 0, false), Interrupted);
        let codes: Vec<i32> = Outcome::ALL.iter().map(|o| code(*o)).collect();
        assert_eq!(codes, [0, 6, 3, 5, 4, 1]);
        // 2 is clap's "usage error", and ours for a bad configuration: never an outcome.
        assert!(!codes.contains(&crate::exit::CONFIG));
    }

    #[test]
    fn the_serialized_word_is_the_display_word() {
        for o in Outcome::ALL {
            let stored = serde_json::to_string(&o).unwrap();
            assert_eq!(stored.trim_matches('"'), o.to_string().replace(' ', "_"));
        }
    }
}
