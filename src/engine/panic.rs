//! A panic in the engine is a bug, never a verdict on the data: what it says is turned into
//! a short, printable line for notices, summaries and the log, and the run it hit ends as a
//! failure (exit 1) whose unfinished segments stay pending for an idempotent resend.

use std::any::Any;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;

use super::emit::Emitter;
use super::events::{Counts, Direction, EngineEvent, RunState, RunSummary};

/// Longest panic message kept; the rest is counted, not shown.
const MAX_CHARS: usize = 300;

/// The panic's message (a `&str` or `String` payload), without control characters and
/// capped, so it cannot reach a terminal as escape sequences or flood a line.
pub(crate) fn message(payload: &(dyn Any + Send)) -> String {
    let raw = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    printable(raw)
}

/// `text` with every control character (ESC included) made a space, cut at
/// [`MAX_CHARS`] with "…(N more)".
pub(crate) fn printable(text: &str) -> String {
    let total = text.chars().count();
    let mut out: String = text
        .chars()
        .take(MAX_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if total > MAX_CHARS {
        out.push_str(&format!("…({} more)", total - MAX_CHARS));
    }
    out
}

/// Runs the engine's whole run; should it panic, the consumer still gets a `Finished`
/// summary (Failed, exit 1, the panic in its error) instead of a channel that just closes
/// and reads as "interrupted".
pub(crate) async fn contain(
    run: impl Future<Output = RunSummary>,
    emit: Emitter,
    run_id: String,
    direction: Direction,
) -> RunSummary {
    match AssertUnwindSafe(run).catch_unwind().await {
        Ok(summary) => summary,
        Err(payload) => {
            let summary = crashed(
                run_id,
                direction,
                format!(
                    "internal error (a bug): the engine stopped: {}; the journal keeps every \
                     finished segment, the rest are resent with their idempotency keys on resume",
                    message(payload.as_ref())
                ),
            );
            tracing::error!(target: "supsync::engine", "{}", summary.error.as_deref().unwrap_or(""));
            emit.outcome(EngineEvent::RunState(RunState::Failed)).await;
            emit.outcome(EngineEvent::Finished(summary.clone())).await;
            summary
        }
    }
}

/// The summary of a run that ended by a bug: Failed (exit 1), nothing counted.
/// The summary for an engine task that ended without one (it panicked or was aborted).
pub(crate) fn join_failed(e: &tokio::task::JoinError) -> RunSummary {
    crashed(
        String::new(),
        Direction::Push,
        format!("the engine stopped unexpectedly: {e}"),
    )
}

pub(crate) fn crashed(run_id: String, direction: Direction, error: String) -> RunSummary {
    RunSummary {
        run_id,
        direction,
        state: RunState::Failed,
        counts: Counts::default(),
        segments_total: 0,
        segments_done: 0,
        segments_failed: 0,
        token_renewals: 0,
        sessions: 0,
        duration: std::time::Duration::ZERO,
        error: Some(error),
        auth_failure: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_lose_control_characters_and_are_capped() {
        let s = printable("boom\x1b]0;title\x07\x1b[2J\nnext");
        assert!(!s.chars().any(char::is_control), "{s:?}");
        assert!(s.starts_with("boom ]0;title  [2J next"), "{s:?}");
        let long = "x".repeat(MAX_CHARS + 42);
        let s = printable(&long);
        assert!(s.ends_with("…(42 more)"), "{s}");
        assert_eq!(s.chars().filter(|c| *c == 'x').count(), MAX_CHARS);
    }

    #[test]
    fn payloads_of_both_kinds_are_read() {
        let p: Box<dyn Any + Send> = Box::new("static");
        assert_eq!(message(p.as_ref()), "static");
        let p: Box<dyn Any + Send> = Box::new(String::from("owned"));
        assert_eq!(message(p.as_ref()), "owned");
        let p: Box<dyn Any + Send> = Box::new(7u8);
        assert_eq!(message(p.as_ref()), "(no message)");
    }

    #[tokio::test]
    async fn a_panicking_run_still_ends_with_a_failed_summary() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(8);
        let run = async { panic!("overflow\x1b[2J when adding") };
        let s = contain(run, Emitter::new(tx), "r1".into(), Direction::Push).await;
        assert_eq!(s.state, RunState::Failed);
        assert_eq!(
            s.exit_code(),
            crate::exit::OTHER,
            "a bug, not an interruption"
        );
        let err = s.error.unwrap_or_default();
        assert!(err.contains("internal error") && err.contains("overflow [2J when adding"));
        assert!(matches!(
            rx.recv().await,
            Some(EngineEvent::RunState(RunState::Failed))
        ));
        assert!(matches!(rx.recv().await, Some(EngineEvent::Finished(f)) if f.run_id == "r1"));
    }
}
