//! Direction, segment and run states, each with the one word every reader sees.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Local file → API.
    Push,
    /// API → local file.
    Pull,
}

impl Direction {
    pub fn word(self) -> &'static str {
        match self {
            Direction::Push => "push",
            Direction::Pull => "pull",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentState {
    Pending,
    Running,
    /// Waiting out a backoff before the next attempt.
    Retrying,
    Done,
    /// Done, but the server (or local validation) rejected some records.
    DoneWithRejects,
    /// Attempts exhausted; an operator can retry it.
    Failed,
}

impl SegmentState {
    /// Every state, in the order a legend lists them.
    pub const ALL: [SegmentState; 6] = [
        SegmentState::Pending,
        SegmentState::Running,
        SegmentState::Retrying,
        SegmentState::Done,
        SegmentState::DoneWithRejects,
        SegmentState::Failed,
    ];

    pub fn is_finished(self) -> bool {
        matches!(
            self,
            SegmentState::Done | SegmentState::DoneWithRejects | SegmentState::Failed
        )
    }

    /// The state's one word (the journal stores it with `_` for spaces).
    pub fn word(self) -> &'static str {
        match self {
            SegmentState::Pending => "pending",
            SegmentState::Running => "running",
            SegmentState::Retrying => "retrying",
            SegmentState::Done => "done",
            SegmentState::DoneWithRejects => "done with rejects",
            SegmentState::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Planning,
    Running,
    Paused,
    /// Stop requested: no new segments start, in-flight ones finish.
    Stopping,
    Completed,
    /// Finished, but some segments failed (retry them).
    CompletedWithFailures,
    /// Stopped before the end; `resume` carries on.
    Interrupted,
    /// Could not go on (authentication failure, source unreadable…).
    Failed,
}

impl RunState {
    pub const ALL: [RunState; 8] = [
        RunState::Planning,
        RunState::Running,
        RunState::Paused,
        RunState::Stopping,
        RunState::Completed,
        RunState::CompletedWithFailures,
        RunState::Interrupted,
        RunState::Failed,
    ];

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunState::Completed
                | RunState::CompletedWithFailures
                | RunState::Interrupted
                | RunState::Failed
        )
    }

    /// The state's one word (the journal stores it with `_` for spaces).
    pub fn word(self) -> &'static str {
        match self {
            RunState::Planning => "planning",
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Stopping => "stopping",
            RunState::Completed => "completed",
            RunState::CompletedWithFailures => "completed with failures",
            RunState::Interrupted => "interrupted",
            RunState::Failed => "failed",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, not `write_str`: callers line words up in columns with `{:<5}`.
        f.pad(self.word())
    }
}

impl fmt::Display for SegmentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.word())
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.word())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The journal's word, as serde writes it (no quotes).
    fn stored<T: Serialize>(v: T) -> String {
        serde_json::to_string(&v)
            .unwrap()
            .trim_matches('"')
            .to_string()
    }

    #[test]
    fn the_journal_stores_the_same_word_every_reader_sees() {
        for s in SegmentState::ALL {
            assert_eq!(stored(s), s.to_string().replace(' ', "_"));
        }
        for s in RunState::ALL {
            assert_eq!(stored(s), s.to_string().replace(' ', "_"));
        }
        for d in [Direction::Push, Direction::Pull] {
            assert_eq!(stored(d), d.to_string());
        }
    }

    #[test]
    fn old_journal_words_still_read() {
        // Words journals have always held: a format change here breaks every resume.
        let s: SegmentState = serde_json::from_str(r#""done_with_rejects""#).unwrap();
        assert_eq!(s, SegmentState::DoneWithRejects);
        let r: RunState = serde_json::from_str(r#""completed_with_failures""#).unwrap();
        assert_eq!(r, RunState::CompletedWithFailures);
    }

    #[test]
    fn words_pad_in_columns() {
        assert_eq!(format!("{:<6}|", Direction::Pull), "pull  |");
        assert_eq!(format!("{:<9}|", RunState::Paused), "paused   |");
    }
}
