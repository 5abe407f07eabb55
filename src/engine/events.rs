//! The engine's vocabulary with the outside world. The engine sends owned [`EngineEvent`]s
//! (the console, the headless reporter and tests consume them) and takes [`Command`]s.
//! Neither side shares state with the other. The words they are made of (states, counts,
//! rejects) are the run's, in `crate::run`.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::auth::status::TokenStatus;
// The run's vocabulary lives on the ground floor (`crate::run`); re-exported here so the
// engine's modules and its consumers keep one import for the event types.
pub use crate::run::{Counts, Direction, Reject, RejectOrigin, RunState, SegmentState};

/// A segment as the outside world sees it at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentView {
    pub index: usize,
    pub state: SegmentState,
    /// Records in the segment.
    pub records: u64,
    pub attempts: u32,
    pub counts: Counts,
    pub last_error: Option<String>,
    /// Time spent on the last (or current) attempt series.
    pub duration: Option<Duration>,
    /// A few reject reasons for the details pane (the full list is in the rejects file).
    pub rejects: Vec<Reject>,
}

impl SegmentView {
    pub fn pending(index: usize, records: u64) -> Self {
        Self {
            index,
            state: SegmentState::Pending,
            records,
            attempts: 0,
            counts: Counts::default(),
            last_error: None,
            duration: None,
            rejects: Vec::new(),
        }
    }
}

/// What a run is, sent once at the start (and again on resume).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub run_id: String,
    pub direction: Direction,
    /// Push: the source file. Pull: the API.
    pub source: String,
    /// Push: the API host. Pull: the output file.
    pub target: String,
    pub total_records: u64,
    /// Every segment, with its state as replayed from the journal.
    pub segments: Vec<SegmentView>,
    pub started_wall: SystemTime,
    /// Records invalid locally, never sent (in the rejects file).
    pub local_rejects: u64,
    /// The API mapping's preset (docs/API.md §6), a label only: `contract` for supsync's
    /// own API, empty when not known (a peer from before it was sent).
    #[serde(default)]
    pub api_style: String,
}

/// `api_style` when it names an API other than supsync's own contract (worth showing).
pub fn styled_api(api_style: &str) -> Option<&str> {
    (!api_style.is_empty() && api_style != "contract").then_some(api_style)
}

/// The end of a run, for summaries and exit codes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub run_id: String,
    pub direction: Direction,
    pub state: RunState,
    pub counts: Counts,
    pub segments_total: usize,
    pub segments_done: usize,
    pub segments_failed: usize,
    pub token_renewals: u32,
    pub sessions: u32,
    pub duration: Duration,
    /// Fatal reason when `state` is `Failed`.
    pub error: Option<String>,
    /// True when the failure is an authentication failure (exit code 4).
    pub auth_failure: bool,
}

/// How fast the run goes and why: segments allowed at the server at once, whether the
/// engine adapts it, why it is what it is, the rate the server states (if any), and the
/// answers so far that were 429.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaceView {
    pub limit: usize,
    pub auto: bool,
    pub reason: String,
    #[serde(default)]
    pub paced_by: Option<String>,
    #[serde(default)]
    pub throttled: u64,
}

impl PaceView {
    /// "8 in flight · lowered after 429 · paced by RateLimit: 120/min".
    pub fn line(&self) -> String {
        let mut s = format!("{} in flight · {}", self.limit, self.reason);
        if let Some(p) = &self.paced_by {
            s.push_str(" · paced by ");
            s.push_str(p);
        }
        s
    }
}

#[derive(Debug, Clone)]
pub enum EngineEvent {
    /// The plan is known (segments replayed from the journal on resume).
    RunStarted(RunInfo),
    /// A segment changed state or counts.
    Segment(SegmentView),
    /// The token manager published a new status.
    Token(TokenStatus),
    RunState(RunState),
    /// Something the operator should read (warnings, "journal: torn last line ignored"…).
    Notice(String),
    /// The limit on segments at the server changed, or why, or the server's stated rate.
    Pace(PaceView),
    /// The run is over; the engine stops sending after this.
    Finished(RunSummary),
    /// The run holds every request: the server said to wait, or stopped answering right
    /// after answering fine; no segment spends an attempt meanwhile. `None`: it answers
    /// again, the hold is over.
    Holding(Option<Hold>),
    /// A token event for the refresh log (renewal, failure, keep-alive), with its time.
    TokenLog(crate::auth::audit::AuditLine),
}

/// Why the run holds, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// "the API asks to wait 17 s (HTTP 503)", in the server's words.
    pub reason: String,
    /// The time the server named (`Retry-After`); `None`: until a health check answers.
    pub until: Option<SystemTime>,
}

impl Hold {
    /// What every view says of a hold (`Some`) or its end (`None`).
    pub fn say(hold: Option<&Hold>, now: SystemTime) -> String {
        match hold {
            Some(h) => h.words(now),
            None => "the server answers again: carrying on".to_string(),
        }
    }

    /// "holding: the API … , next try in 12 s", as of `now`.
    pub fn words(&self, now: SystemTime) -> String {
        match self.until {
            Some(t) => {
                let left = t.duration_since(now).unwrap_or_default();
                format!(
                    "holding: {}; next try in {} s",
                    self.reason,
                    left.as_secs_f64().ceil() as u64
                )
            }
            None => format!(
                "holding: {}; next try when a health check answers",
                self.reason
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// No new requests start; in-flight ones finish; keep-alive keeps the token.
    Pause,
    Resume,
    /// Renew the token now.
    ForceRefresh,
    /// Retry one failed segment.
    RetrySegment(usize),
    RetryAllFailed,
    /// The operator raises or lowers the limit on segments at the server, or returns it to
    /// the configured pace.
    Pace(PaceChange),
    /// Stop starting segments, let in-flight ones finish, then end as Interrupted.
    Stop,
}

/// An operator's change to the pace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaceChange {
    Up,
    Down,
    /// Back to the configured pace (`auto`, or the configured number).
    Configured,
}

impl RunSummary {
    /// The process exit code for this outcome (`crate::exit`, documented in the README).
    pub fn exit_code(&self) -> i32 {
        self.outcome().exit_code()
    }

    /// How the run ended, in the one word every reader sees.
    pub fn outcome(&self) -> crate::run::Outcome {
        crate::run::Outcome::of(
            self.state,
            self.counts.rejected,
            self.segments_failed,
            self.auth_failure,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(state: RunState) -> RunSummary {
        RunSummary {
            run_id: "r".into(),
            direction: Direction::Push,
            state,
            counts: Counts::default(),
            segments_total: 2,
            segments_done: 2,
            segments_failed: 0,
            token_renewals: 0,
            sessions: 1,
            duration: Duration::from_secs(1),
            error: None,
            auth_failure: false,
        }
    }

    #[test]
    fn exit_codes_follow_the_documented_table() {
        assert_eq!(summary(RunState::Completed).exit_code(), 0);
        let mut s = summary(RunState::Completed);
        s.counts.rejected = 3;
        assert_eq!(s.exit_code(), 6);
        let mut s = summary(RunState::CompletedWithFailures);
        s.counts.rejected = 3;
        assert_eq!(s.exit_code(), 3, "failed segments outrank rejects");
        let mut s = summary(RunState::Failed);
        assert_eq!(s.exit_code(), 1);
        s.auth_failure = true;
        assert_eq!(s.exit_code(), 4);
        assert_eq!(summary(RunState::Interrupted).exit_code(), 5);
    }
}
