//! The limit on segments at the server, as a pure state machine: fed one sample per
//! finished attempt (how long it took per record, and whether the server pushed back), it
//! says what the limit is now and why it last changed. No clock, no I/O: the unit tests
//! drive it with synthetic latencies and 429s.
//!
//! Why this shape (AIMD with a remembered ceiling and a latency gradient):
//!
//! - **Slow start**: from `min_concurrency` the limit doubles per clean round until the
//!   first back-pressure or latency rise, so a short run does not spend itself climbing.
//! - **Additive increase, multiplicative decrease** (TCP, Vector's adaptive request
//!   concurrency): +1 per round of clean answers, ×¾ on back-pressure (429, 503, a cut
//!   connection, a timeout). A round is `limit` samples, so the increase is one step per
//!   "everyone came back", whatever the latency.
//! - **A ceiling remembered after back-pressure**: plain AIMD saws between C/2 and C and
//!   earns a 429 every cycle; that makes 429s the steering signal. Here the limit climbs
//!   back only to one below where the server pushed back and stays there; it probes the
//!   ceiling again after a quiet spell that doubles with every failed probe (4 → 64
//!   rounds), so 429s stay a rare probe. A probe that survives a full round forgets the
//!   ceiling: the server's capacity grew and the climb resumes.
//! - **A latency gradient** (Netflix's Gradient2, simplified): a slow baseline (the lowest
//!   recent latency, drifting up slowly so an old minimum does not pin it) against a fast
//!   average. Above 2× the baseline the server is queueing: the limit drops by a tenth
//!   once per round. Between 1.5× and 2× it holds. This steers before a server that
//!   queues instead of refusing ever answers 429.
//! - Back-pressure from requests already in flight when the limit dropped is the same
//!   event, not a new one: only samples started after a decrease can lower it again.
//!
//! A fixed limit ignores every sample: `concurrency = N` keeps today's behaviour exactly.

/// Why the limit is what it is (shown to the operator).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Configured, or set by the operator.
    Fixed,
    Operator,
    /// Starting low, climbing.
    Starting,
    Raised,
    LoweredAfterPushback,
    LoweredAfterLatency,
    /// Holding one below where the server pushed back.
    HoldingBelowCeiling,
}

impl Reason {
    pub fn words(self) -> &'static str {
        match self {
            Reason::Fixed => "fixed",
            Reason::Operator => "set by the operator",
            Reason::Starting => "auto, starting",
            Reason::Raised => "auto, raised",
            Reason::LoweredAfterPushback => "lowered after 429",
            Reason::LoweredAfterLatency => "lowered after a latency rise",
            Reason::HoldingBelowCeiling => "auto, holding below the server's limit",
        }
    }
}

/// What an answer said about the server's load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Answered (success or a definite refusal of the data): latency is meaningful.
    Clean,
    /// 429, 503, a cut connection or a timeout: the server is past its capacity.
    Pushback,
    /// Failed for a reason that says nothing about load (auth, a bad request).
    Neutral,
}

const DECREASE: f64 = 0.75;
const LATENCY_DECREASE: f64 = 0.9;
const GROW_TOLERANCE: f64 = 1.5;
const SHRINK_TOLERANCE: f64 = 2.0;
const FIRST_PROBE_WAIT: u32 = 4;
const MAX_PROBE_WAIT: u32 = 64;
const FAST: f64 = 0.2;
const BASELINE_DRIFT: f64 = 0.01;

#[derive(Debug, Clone)]
pub struct Limiter {
    auto: Option<(usize, usize)>,
    limit: usize,
    reason: Reason,
    /// Seconds per record: the slow baseline and the fast average.
    baseline: Option<f64>,
    recent: Option<f64>,
    /// Samples counted since the round began, and whether any pushed back.
    in_round: usize,
    /// Samples started before this sequence number predate the last decrease.
    started: u64,
    decreased_at: u64,
    ceiling: Option<usize>,
    probe_wait: u32,
    quiet_rounds: u32,
    /// Doubling per round until the server first pushes back or slows down.
    slow_start: bool,
}

impl Limiter {
    /// A fixed limit: samples change nothing.
    pub fn fixed(n: usize) -> Self {
        Self::new(None, n.max(1), Reason::Fixed)
    }

    /// An adaptive limit between `min` and `max`, starting at `min`.
    pub fn auto(min: usize, max: usize) -> Self {
        let min = min.max(1);
        let max = max.max(min);
        Self::new(Some((min, max)), min, Reason::Starting)
    }

    fn new(auto: Option<(usize, usize)>, limit: usize, reason: Reason) -> Self {
        Self {
            auto,
            limit,
            reason,
            baseline: None,
            recent: None,
            in_round: 0,
            started: 0,
            decreased_at: 0,
            ceiling: None,
            probe_wait: FIRST_PROBE_WAIT,
            quiet_rounds: 0,
            slow_start: true,
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    pub fn reason(&self) -> Reason {
        self.reason
    }

    pub fn is_auto(&self) -> bool {
        self.auto.is_some()
    }

    /// The bounds of `auto` (also kept while the operator overrides the limit).
    pub fn bounds(&self) -> Option<(usize, usize)> {
        self.auto
    }

    /// A request is about to start: its sequence number, to hand back with its sample.
    pub fn start(&mut self) -> u64 {
        self.started += 1;
        self.started
    }

    /// One finished attempt: `seq` from [`Self::start`], seconds per record, and what the
    /// answer said. Returns true when the limit changed.
    pub fn sample(&mut self, seq: u64, secs_per_record: f64, signal: Signal) -> bool {
        let Some((min, max)) = self.auto else {
            return false;
        };
        let before = self.limit;
        match signal {
            Signal::Neutral => return false,
            Signal::Pushback => {
                if seq <= self.decreased_at {
                    return false;
                }
                if self.ceiling.is_some_and(|c| self.limit >= c) {
                    // A failed probe: wait longer before the next one.
                    self.probe_wait = (self.probe_wait * 2).min(MAX_PROBE_WAIT);
                }
                self.ceiling = Some(self.limit);
                self.decrease(DECREASE, min, Reason::LoweredAfterPushback);
            }
            Signal::Clean => {
                let s = secs_per_record.max(0.0);
                self.recent = Some(match self.recent {
                    Some(r) => r + (s - r) * FAST,
                    None => s,
                });
                self.baseline = Some(match self.baseline {
                    Some(b) if s >= b => b + (s - b) * BASELINE_DRIFT,
                    _ => s,
                });
                self.in_round += 1;
                if self.in_round >= self.limit {
                    self.in_round = 0;
                    self.end_round(seq, min, max);
                }
            }
        }
        self.limit != before
    }

    fn end_round(&mut self, seq: u64, min: usize, max: usize) {
        let (Some(base), Some(recent)) = (self.baseline, self.recent) else {
            return;
        };
        if recent > base * SHRINK_TOLERANCE {
            if seq > self.decreased_at {
                self.decrease(LATENCY_DECREASE, min, Reason::LoweredAfterLatency);
            }
            return;
        }
        if recent > base * GROW_TOLERANCE {
            return;
        }
        self.quiet_rounds += 1;
        match self.ceiling {
            // A probe at the ceiling lived through a round: the capacity grew.
            Some(c) if self.limit >= c => {
                self.ceiling = None;
                self.probe_wait = FIRST_PROBE_WAIT;
                self.raise(max);
            }
            Some(c) if self.limit + 1 >= c => {
                if self.quiet_rounds >= self.probe_wait {
                    self.raise(max);
                } else {
                    self.reason = Reason::HoldingBelowCeiling;
                }
            }
            _ => self.raise(max),
        }
    }

    fn raise(&mut self, max: usize) {
        if self.limit < max {
            let step = if self.slow_start { self.limit } else { 1 };
            self.limit = (self.limit + step).min(max);
            self.reason = Reason::Raised;
        }
    }

    fn decrease(&mut self, factor: f64, min: usize, reason: Reason) {
        let lowered = ((self.limit as f64) * factor).floor() as usize;
        self.limit = lowered.clamp(min, self.limit.saturating_sub(1).max(min));
        self.reason = reason;
        self.decreased_at = self.started;
        self.in_round = 0;
        self.quiet_rounds = 0;
        self.slow_start = false;
    }

    /// The operator sets the limit: held there (samples ignored) until [`Self::resume_auto`].
    pub fn set(&mut self, n: usize) {
        self.limit = n.max(1);
        self.reason = Reason::Operator;
        self.decreased_at = self.started;
        self.slow_start = false;
    }

    /// Back to adapting, from the limit in force (no-op for a configured fixed limit).
    pub fn resume_auto(&mut self, bounds: (usize, usize)) {
        let (min, max) = bounds;
        self.auto = Some((min, max));
        self.limit = self.limit.clamp(min, max);
        self.reason = Reason::Raised;
        self.ceiling = None;
        self.probe_wait = FIRST_PROBE_WAIT;
        self.in_round = 0;
    }

    /// Stop adapting (the operator holds the limit).
    pub fn hold(&mut self) {
        self.auto = None;
    }
}

#[cfg(test)]
#[path = "limiter_tests.rs"]
mod tests;
