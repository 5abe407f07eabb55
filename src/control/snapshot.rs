//! The run as a newly attached client must first see it, read from the run's [`RunView`]:
//! the plan with every segment as it stands now, the run state, the latest token status,
//! the hold, and the history (recent outcomes, notices and the refresh log with their
//! times, the rate and ETA). Folded from the same events the clients get, so the snapshot
//! and the live stream cannot disagree.

use std::time::Instant;

use crate::engine::events::EngineEvent;
use crate::view::RunView;

use super::wire::{PROTOCOL, ServerMsg};

#[derive(Debug, Default, Clone)]
pub(crate) struct Snapshot {
    view: RunView,
}

impl Snapshot {
    pub(crate) fn fold(&mut self, ev: &EngineEvent) {
        self.view.apply(ev, Instant::now());
    }

    pub(crate) fn run_id(&self) -> Option<&str> {
        self.view.info.as_ref().map(|i| i.run_id.as_str())
    }

    /// The lines a newcomer gets before the live stream, `live` last.
    pub(crate) fn lines(&self, pid: u32, now: Instant) -> Vec<String> {
        let v = &self.view;
        let mut out = vec![
            ServerMsg::Hello {
                protocol: PROTOCOL,
                pid,
                run_id: self.run_id().unwrap_or_default().to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
            }
            .line(),
        ];
        let mut push = |ev: EngineEvent| out.push(ServerMsg::from_event(&ev, now).line());
        if let Some(info) = v.current_info() {
            push(EngineEvent::RunStarted(info));
            push(EngineEvent::RunState(v.state));
            push(EngineEvent::Token(v.token.clone()));
        }
        if let Some(v) = &v.pace {
            push(EngineEvent::Pace(v.clone()));
        }
        if let Some((h, _)) = &v.hold {
            push(EngineEvent::Holding(Some(h.clone())));
        }
        if v.info.is_some() {
            out.push(
                ServerMsg::History {
                    history: Box::new(v.history(now)),
                }
                .line(),
            );
        }
        if let Some(s) = &v.summary {
            out.push(ServerMsg::from_event(&EngineEvent::Finished(s.clone()), now).line());
        }
        out.push(ServerMsg::Live.line());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::events::{RunInfo, SegmentView};
    use crate::run::{Direction, RunState, SegmentState};

    fn info() -> RunInfo {
        RunInfo {
            run_id: "r9".into(),
            direction: Direction::Push,
            source: "s.csv".into(),
            target: "h".into(),
            total_records: 20,
            segments: (0..2).map(|i| SegmentView::pending(i, 10)).collect(),
            started_wall: std::time::SystemTime::now(),
            local_rejects: 0,
            api_style: String::new(),
        }
    }

    #[test]
    fn a_newcomer_sees_segments_as_they_stand_history_then_live() {
        let mut s = Snapshot::default();
        s.fold(&EngineEvent::RunStarted(info()));
        s.fold(&EngineEvent::RunState(RunState::Running));
        let mut done = SegmentView::pending(1, 10);
        done.state = SegmentState::Done;
        done.counts.created = 10;
        s.fold(&EngineEvent::Segment(done.clone()));
        s.fold(&EngineEvent::RunState(RunState::Paused));
        for i in 0..3 {
            s.fold(&EngineEvent::Notice(format!("n{i}")));
        }
        let wall =
            std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        s.fold(&EngineEvent::TokenLog(crate::auth::audit::AuditLine {
            wall,
            problem: false,
            text: "token refreshed".into(),
        }));
        let now = Instant::now();
        let lines = s.lines(7, now);
        let msgs: Vec<ServerMsg> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(matches!(&msgs[0], ServerMsg::Hello { pid: 7, run_id, .. } if run_id == "r9"));
        let ServerMsg::RunStarted { info } = &msgs[1] else {
            panic!("{:?}", msgs[1]);
        };
        assert_eq!(info.segments[1], done);
        assert_eq!(info.segments[0].state, SegmentState::Pending);
        assert_eq!(
            msgs[2],
            ServerMsg::RunState {
                state: RunState::Paused
            }
        );
        let history = msgs
            .iter()
            .find_map(|m| match m {
                ServerMsg::History { history } => Some(history),
                _ => None,
            })
            .expect("a history line");
        let texts: Vec<_> = history.recent.iter().map(|a| a.text.as_str()).collect();
        assert_eq!(texts, ["segment 1 done: 10 created", "n0", "n1", "n2"]);
        assert_eq!(history.refresh_log[0].wall, wall, "the event's own time");
        assert_eq!(history.stalled.as_deref(), Some("paused"));
        assert_eq!(msgs.last(), Some(&ServerMsg::Live));
    }
}
