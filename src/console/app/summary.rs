//! Words for run states, shared by the header and the overlays.

use crate::engine::events::RunState;

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
