//! The run as a newly attached client must first see it: the plan with every segment as it
//! stands now, the run state, the latest token status and the recent notices. Folded from
//! the same events the clients get, so the snapshot and the live stream cannot disagree.

use std::collections::VecDeque;
use std::time::Instant;

use crate::auth::status::TokenStatus;
use crate::engine::events::{EngineEvent, PaceView, RunInfo, RunSummary, SegmentView};
use crate::run::RunState;

use super::wire::{PROTOCOL, ServerMsg};

/// Notices replayed to a newcomer (the console's footer and activity feed).
const KEEP_NOTICES: usize = 20;

#[derive(Debug, Default, Clone)]
pub(crate) struct Snapshot {
    info: Option<RunInfo>,
    state: Option<RunState>,
    token: Option<TokenStatus>,
    notices: VecDeque<String>,
    pace: Option<PaceView>,
    summary: Option<RunSummary>,
}

impl Snapshot {
    pub(crate) fn fold(&mut self, ev: &EngineEvent) {
        match ev {
            EngineEvent::RunStarted(info) => {
                self.info = Some(info.clone());
                self.summary = None;
            }
            EngineEvent::Segment(v) => {
                if let Some(info) = self.info.as_mut() {
                    let i = v.index;
                    // A segment the plan did not announce: grow, as the console does.
                    while info.segments.len() <= i {
                        let j = info.segments.len();
                        info.segments.push(SegmentView::pending(j, 0));
                    }
                    info.segments[i] = v.clone();
                }
            }
            EngineEvent::Token(t) => self.token = Some(t.clone()),
            EngineEvent::RunState(s) => self.state = Some(*s),
            EngineEvent::Pace(v) => self.pace = Some(v.clone()),
            EngineEvent::Notice(n) => {
                self.notices.push_back(n.clone());
                while self.notices.len() > KEEP_NOTICES {
                    self.notices.pop_front();
                }
            }
            EngineEvent::Holding(h) => {
                let n = crate::engine::events::Hold::say(h.as_ref(), std::time::SystemTime::now());
                self.fold(&EngineEvent::Notice(n));
            }
            EngineEvent::Finished(s) => {
                self.state = Some(s.state);
                self.summary = Some(s.clone());
            }
        }
    }

    pub(crate) fn run_id(&self) -> Option<&str> {
        self.info.as_ref().map(|i| i.run_id.as_str())
    }

    /// The lines a newcomer gets before the live stream, `live` last.
    pub(crate) fn lines(&self, pid: u32, now: Instant) -> Vec<String> {
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
        if let Some(info) = &self.info {
            push(EngineEvent::RunStarted(info.clone()));
        }
        if let Some(s) = self.state {
            push(EngineEvent::RunState(s));
        }
        if let Some(t) = &self.token {
            push(EngineEvent::Token(t.clone()));
        }
        if let Some(v) = &self.pace {
            push(EngineEvent::Pace(v.clone()));
        }
        for n in &self.notices {
            push(EngineEvent::Notice(n.clone()));
        }
        if let Some(s) = &self.summary {
            push(EngineEvent::Finished(s.clone()));
        }
        out.push(ServerMsg::Live.line());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{Direction, SegmentState};

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
    fn a_newcomer_sees_segments_as_they_stand_then_live() {
        let mut s = Snapshot::default();
        s.fold(&EngineEvent::RunStarted(info()));
        s.fold(&EngineEvent::RunState(RunState::Running));
        let mut done = SegmentView::pending(1, 10);
        done.state = SegmentState::Done;
        done.counts.created = 10;
        s.fold(&EngineEvent::Segment(done.clone()));
        s.fold(&EngineEvent::RunState(RunState::Paused));
        for i in 0..30 {
            s.fold(&EngineEvent::Notice(format!("n{i}")));
        }
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
        let notices: Vec<_> = msgs
            .iter()
            .filter_map(|m| match m {
                ServerMsg::Notice { text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(notices.len(), KEEP_NOTICES);
        assert_eq!(notices.last(), Some(&"n29"));
        assert_eq!(msgs.last(), Some(&ServerMsg::Live));
    }
}
