//! The run's end as the console states it: the outcome word (the same as the headless
//! summary, `--json` and `status`), its exit code, and what to run next.

use super::App;
use crate::run::{Direction, Outcome};

impl App {
    /// The commands that carry on from this end, in the order an operator needs them.
    pub fn next_commands(&self) -> Vec<String> {
        let Some(outcome) = self.view.outcome() else {
            return Vec::new();
        };
        let Some(info) = &self.view.info else {
            return Vec::new();
        };
        let (cmd, id) = (&self.command, &info.run_id);
        let mut out = vec![format!("{cmd} status {id}")];
        match outcome {
            Outcome::CompletedWithFailures => out.push(format!("{cmd} retry {id}")),
            Outcome::Interrupted | Outcome::Failed | Outcome::AuthenticationFailed => {
                out.push(format!("{cmd} resume {id}"))
            }
            Outcome::Completed | Outcome::CompletedWithRejects => {}
        }
        // A push can be checked against what the server now holds.
        if info.direction == Direction::Push
            && matches!(
                outcome,
                Outcome::Completed | Outcome::CompletedWithRejects | Outcome::CompletedWithFailures
            )
        {
            out.push(format!("{cmd} verify {id}"));
        }
        out
    }
}
