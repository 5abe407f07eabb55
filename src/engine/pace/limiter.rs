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
//!   "everyone came back", whatever the latency. Back-pressure to a step above a limit
//!   whose round came back clean goes back only to that limit: it answered the step, not
//!   a shrinking server.
//! - **A ceiling remembered after back-pressure**: plain AIMD saws between C/2 and C and
//!   earns a 429 every cycle; that makes 429s the steering signal. Here the limit climbs
//!   back only to one below where the server pushed back and stays there; it probes the
//!   ceiling again after a quiet spell that doubles with every failed probe (4 → 64
//!   rounds), so 429s stay a rare probe. A probe that survives a full round forgets the
//!   ceiling: the server's capacity grew and the climb resumes.
//! - **A latency gradient** (Netflix's Gradient2, simplified): a slow baseline (the lowest
//!   recent latency, drifting up slowly so an old minimum does not pin it) against a fast
//!   average. Above 2× the baseline for two rounds running the server is queueing: the
//!   limit drops by a tenth (one slow round is as often the client's own busy machine).
//!   Between 1.5× and 2× it holds. This steers before a server that
//!   queues instead of refusing ever answers 429.
//! - Back-pressure from requests already in flight when the limit dropped is the same
//!   event, not a new one: only samples started after a decrease can lower it again.
//! - **A 429 under `auto` is a probe result, not an outage** ([`Limiter::pushback`]): the
//!   limit comes down and that one request is retried, the run goes on. Holding every
//!   segment for the server's `Retry-After` (right for a server that is down) would make
//!   each probe above the capacity cost a full pause of the run — the gap to the best
//!   fixed setting was mostly that. A concurrency cap answers 429 to the request over it
//!   while it serves the rest of the flight; a server that wants the client gone answers
//!   429 to everything. So only 429s that keep coming at the lowered limit (no clean
//!   answer since the decrease) or at `min_concurrency` hold the run as before.
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

/// What a push-back means for the request that got it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushbackKind {
    /// `auto` met the edge of the server's capacity: the limit is (or already was, for this
    /// same event) lowered while the server still serves the rest of the flight. The one
    /// request steps aside and is retried; the run does not hold.
    Probe,
    /// A fixed or operator-held limit, or refusals that go on at the lowered limit or at
    /// `min_concurrency`: the server wants less than we can give by pacing alone, and the
    /// engine's usual handling (a run-wide hold for `Retry-After`) applies.
    Persistent,
}

/// What an answer said about the server's load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadSignal {
    /// Answered (success or a definite refusal of the data): latency is meaningful.
    Clean,
    /// Answered, but its time says nothing of the load: a retry, which may send only what
    /// the first try left (a per-record push) right after a wait. Counts toward the round.
    CleanUntimed,
    /// 429, 503, a cut connection or a timeout: the server is past its capacity.
    Pushback,
    /// Failed for a reason that says nothing about load (auth, a bad request).
    Neutral,
}

const DECREASE: f64 = 0.75;
const LATENCY_DECREASE: f64 = 0.9;
const GROW_TOLERANCE: f64 = 1.5;
const SHRINK_TOLERANCE: f64 = 2.0;
const SLOW_ROUNDS: u32 = 2;
const FIRST_PROBE_WAIT: u32 = 4;
const MAX_PROBE_WAIT: u32 = 64;
const FAST: f64 = 0.2;
/// The baseline's drift towards slower answers, per round.
const BASELINE_DRIFT: f64 = 0.02;

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
    /// The last decrease came from push-back, and no request started since has come back
    /// clean: a further push-back means the server refuses at the lowered limit too.
    refusing: bool,
    /// The limit of the last round that came back clean and fast.
    clean_at: Option<usize>,
    /// Rounds in a row that came back slower than the shrink tolerance.
    slow_rounds: u32,
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
            refusing: false,
            clean_at: None,
            slow_rounds: 0,
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
    pub fn sample(&mut self, seq: u64, secs_per_record: f64, signal: LoadSignal) -> bool {
        let Some((min, max)) = self.auto else {
            return false;
        };
        let before = self.limit;
        match signal {
            LoadSignal::Neutral => return false,
            LoadSignal::Pushback => {
                self.pushback(seq);
            }
            LoadSignal::CleanUntimed => {
                if seq > self.decreased_at {
                    self.refusing = false;
                }
                self.count(seq, min, max);
            }
            LoadSignal::Clean => {
                if seq > self.decreased_at {
                    self.refusing = false;
                }
                let s = secs_per_record.max(0.0);
                self.recent = Some(match self.recent {
                    Some(r) => r + (s - r) * FAST,
                    None => s,
                });
                self.baseline = Some(match self.baseline {
                    // Per round, not per sample: at a high limit a per-sample drift would
                    // carry the baseline up to a queueing server's latency in a few rounds.
                    Some(b) if s >= b => b + (s - b) * BASELINE_DRIFT / self.limit as f64,
                    _ => s,
                });
                self.count(seq, min, max);
            }
        }
        self.limit != before
    }

    /// One more clean sample in the round; the round ends at `limit` of them.
    fn count(&mut self, seq: u64, min: usize, max: usize) {
        self.in_round += 1;
        if self.in_round >= self.limit {
            self.in_round = 0;
            self.end_round(seq, min, max);
        }
    }

    /// A push-back (429, 503, a cut connection) to the request `seq`: lowers the limit once
    /// per event and says whether the run may go on around it (see the module header).
    pub fn pushback(&mut self, seq: u64) -> PushbackKind {
        let Some((min, _)) = self.auto else {
            return PushbackKind::Persistent;
        };
        if seq <= self.decreased_at {
            // Started before the last decrease: the same event, already answered.
            return PushbackKind::Probe;
        }
        let verdict = if self.limit <= min || self.refusing {
            PushbackKind::Persistent
        } else {
            PushbackKind::Probe
        };
        if self.ceiling.is_some_and(|c| self.limit >= c) {
            // A failed probe: wait longer before the next one.
            self.probe_wait = (self.probe_wait * 2).min(MAX_PROBE_WAIT);
        }
        self.ceiling = Some(self.limit);
        let cut = self.cut(DECREASE);
        match self.clean_at.filter(|&c| c < self.limit) {
            // Refused above a limit that came back clean: back to that one (or the usual
            // cut, if that is higher), not below it; a capacity of 6 probed at 7 costs
            // one 429, not rounds at 5.
            Some(clean) => self.lower_to(clean.max(cut), min, Reason::LoweredAfterPushback),
            // Refused at a limit that was clean: the capacity shrank, by how much unknown.
            None => {
                self.clean_at = None;
                self.lower_to(cut, min, Reason::LoweredAfterPushback);
            }
        }
        self.refusing = true;
        verdict
    }

    fn end_round(&mut self, seq: u64, min: usize, max: usize) {
        let (Some(base), Some(recent)) = (self.baseline, self.recent) else {
            return;
        };
        if recent > base * SHRINK_TOLERANCE {
            // Two rounds running: one slow round is as likely a busy client machine (or
            // the server's own hiccup) as a queue, and a cut costs rounds to win back.
            self.slow_rounds += 1;
            if self.slow_rounds >= SLOW_ROUNDS && seq > self.decreased_at {
                self.slow_rounds = 0;
                let cut = self.cut(LATENCY_DECREASE);
                self.lower_to(cut, min, Reason::LoweredAfterLatency);
                self.clean_at = None;
            }
            return;
        }
        self.slow_rounds = 0;
        if recent > base * GROW_TOLERANCE {
            return;
        }
        self.clean_at = Some(self.limit);
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
            // A round came back clean at the lowered limit: a refusal above it is a probe.
            self.refusing = false;
        }
    }

    /// The limit cut by `factor`.
    fn cut(&self, factor: f64) -> usize {
        ((self.limit as f64) * factor).floor() as usize
    }

    /// Lowers the limit to `to` (at least one below, within `min`).
    fn lower_to(&mut self, to: usize, min: usize, reason: Reason) {
        self.limit = to.clamp(min, self.limit.saturating_sub(1).max(min));
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
        self.refusing = false;
        self.clean_at = None;
        self.slow_rounds = 0;
    }

    /// Stop adapting (the operator holds the limit).
    pub fn hold(&mut self) {
        self.auto = None;
    }
}

#[cfg(test)]
#[path = "limiter_tests.rs"]
mod tests;
