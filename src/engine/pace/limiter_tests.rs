use super::*;

/// A server with `capacity` places: each wave sends `limit` requests at once; those above
/// the capacity are refused (429), the rest answer with a latency that grows with load.
struct Server {
    capacity: usize,
    base: f64,
    /// Latency rises by this share of `base` at full load (0.3: 1.3× at capacity).
    load: f64,
}

impl Server {
    /// One wave; returns (requests, refused).
    fn wave(&self, l: &mut Limiter) -> (usize, usize) {
        let n = l.limit();
        let seqs: Vec<u64> = (0..n).map(|_| l.start()).collect();
        let busy = n.min(self.capacity);
        let latency = self.base * (1.0 + self.load * busy as f64 / self.capacity as f64);
        let mut refused = 0;
        for (i, seq) in seqs.into_iter().enumerate() {
            if i < self.capacity {
                l.sample(seq, latency, LoadSignal::Clean);
            } else {
                refused += 1;
                l.sample(seq, 0.0, LoadSignal::Pushback);
            }
        }
        (n, refused)
    }
}

fn run(l: &mut Limiter, server: &Server, waves: usize) -> (usize, usize, Vec<usize>) {
    let (mut sent, mut refused, mut limits) = (0, 0, Vec::new());
    for _ in 0..waves {
        let (s, r) = server.wave(l);
        sent += s;
        refused += r;
        limits.push(l.limit());
    }
    (sent, refused, limits)
}

#[test]
fn a_fixed_limit_ignores_every_sample() {
    let mut l = Limiter::fixed(6);
    for _ in 0..100 {
        let s = l.start();
        assert!(!l.sample(s, 0.001, LoadSignal::Clean));
        let s = l.start();
        assert!(!l.sample(s, 9.0, LoadSignal::Pushback));
    }
    assert_eq!((l.limit(), l.reason()), (6, Reason::Fixed));
    assert!(!l.is_auto());
}

#[test]
fn auto_starts_low_and_finds_the_capacity_with_few_refusals() {
    let server = Server {
        capacity: 6,
        base: 0.01,
        load: 0.3,
    };
    let mut l = Limiter::auto(1, 64);
    assert_eq!(l.limit(), 1);
    let (sent, refused, limits) = run(&mut l, &server, 400);
    let settled = &limits[100..];
    assert!(
        settled.iter().all(|&n| (4..=7).contains(&n)),
        "limit left 4..=7 after settling: {settled:?}"
    );
    let mean = settled.iter().sum::<usize>() as f64 / settled.len() as f64;
    assert!(mean >= 5.0, "settled too low: {mean}");
    let share = refused as f64 / sent as f64;
    assert!(share <= 0.03, "429 share {share:.3} ({refused}/{sent})");
}

#[test]
fn it_follows_a_capacity_that_drops_and_comes_back() {
    let mut l = Limiter::auto(1, 64);
    let high = Server {
        capacity: 12,
        base: 0.01,
        load: 0.3,
    };
    let low = Server {
        capacity: 4,
        ..high
    };
    run(&mut l, &high, 200);
    assert!(l.limit() >= 10, "did not reach 12: {}", l.limit());
    let (_, _, limits) = run(&mut l, &low, 20);
    assert!(
        limits[5..].iter().all(|&n| n <= 5),
        "stayed high: {limits:?}"
    );
    assert_eq!(l.reason(), Reason::HoldingBelowCeiling);
    let (_, _, limits) = run(&mut l, &high, 300);
    assert!(
        limits.last().is_some_and(|&n| n >= 10),
        "did not climb back: {limits:?}"
    );
}

#[test]
fn a_slow_unlimited_server_lets_it_climb_to_the_maximum() {
    let server = Server {
        capacity: usize::MAX / 2,
        base: 0.2,
        load: 0.0,
    };
    let mut l = Limiter::auto(2, 16);
    let (_, refused, _) = run(&mut l, &server, 200);
    assert_eq!((l.limit(), refused), (16, 0));
}

#[test]
fn a_queueing_server_is_steered_by_latency_before_any_429() {
    // No refusals at all: latency triples above 5 in flight.
    let mut l = Limiter::auto(1, 32);
    for _ in 0..400 {
        let n = l.limit();
        let latency = if n > 5 { 0.03 } else { 0.01 };
        let seqs: Vec<u64> = (0..n).map(|_| l.start()).collect();
        for s in seqs {
            l.sample(s, latency, LoadSignal::Clean);
        }
    }
    assert!(
        l.limit() <= 8,
        "climbed past a queueing server: {}",
        l.limit()
    );
}

#[test]
fn pushback_from_requests_already_in_flight_counts_once() {
    let mut l = Limiter::auto(1, 64);
    l.set(20);
    l.resume_auto((1, 64));
    let seqs: Vec<u64> = (0..20).map(|_| l.start()).collect();
    for s in seqs {
        l.sample(s, 0.0, LoadSignal::Pushback);
    }
    assert_eq!(l.limit(), 15, "one decrease for one wave");
    assert_eq!(l.reason(), Reason::LoweredAfterPushback);
}

#[test]
fn the_operator_holds_the_limit_until_auto_resumes() {
    let mut l = Limiter::auto(2, 8);
    l.hold();
    l.set(30);
    let s = l.start();
    assert!(!l.sample(s, 1.0, LoadSignal::Pushback));
    assert_eq!((l.limit(), l.reason()), (30, Reason::Operator));
    l.resume_auto((2, 8));
    assert_eq!(l.limit(), 8, "clamped into the bounds");
    assert!(l.is_auto());
}

#[test]
fn slow_start_doubles_until_the_first_pushback() {
    let server = Server {
        capacity: 20,
        base: 0.01,
        load: 0.0,
    };
    let mut l = Limiter::auto(1, 64);
    let (_, _, limits) = run(&mut l, &server, 5);
    assert_eq!(limits, vec![2, 4, 8, 16, 32], "one doubling per wave");
    let (_, _, limits) = run(&mut l, &server, 30);
    // Pushed back at 32: from then on one step at a time, below the ceiling.
    assert!(
        limits[1..].windows(2).all(|w| w[1] <= w[0] + 1),
        "{limits:?}"
    );
    assert!(limits.iter().skip(10).all(|&n| n <= 21), "{limits:?}");
}

/// One clean round at the limit in force.
fn clean_round(l: &mut Limiter, latency: f64) {
    let seqs: Vec<u64> = (0..l.limit()).map(|_| l.start()).collect();
    for s in seqs {
        l.sample(s, latency, LoadSignal::Clean);
    }
}

#[test]
fn a_429_one_step_above_a_clean_limit_is_a_probe_and_goes_back_one_step() {
    let mut l = Limiter::auto(1, 64);
    l.set(6);
    l.resume_auto((1, 64));
    clean_round(&mut l, 0.01);
    assert_eq!(l.limit(), 7, "raised after a clean round at 6");
    let s = l.start();
    assert_eq!(l.pushback(s), PushbackKind::Probe);
    assert_eq!(
        (l.limit(), l.reason()),
        (6, Reason::LoweredAfterPushback),
        "back to the clean 6, not cut to 5"
    );
    // Requests already out when it came down are the same event.
    assert_eq!(l.pushback(s), PushbackKind::Probe);
    assert_eq!(l.limit(), 6);
}

#[test]
fn refusals_that_go_on_at_the_lowered_limit_or_at_the_minimum_are_persistent() {
    let mut l = Limiter::auto(2, 64);
    l.set(12);
    l.resume_auto((2, 64));
    let s = l.start();
    assert_eq!(
        l.pushback(s),
        PushbackKind::Probe,
        "the first one is a probe"
    );
    assert_eq!(l.limit(), 9);
    // Started after the decrease and refused before anything came back clean.
    let s = l.start();
    assert_eq!(l.pushback(s), PushbackKind::Persistent);
    // A clean answer at the lowered limit: the next 429 is a probe again.
    clean_round(&mut l, 0.01);
    let s = l.start();
    assert_eq!(l.pushback(s), PushbackKind::Probe);
    // Down at the minimum nothing is left to lower: the server must be waited out.
    let mut l = Limiter::auto(2, 64);
    let s = l.start();
    assert_eq!(l.pushback(s), PushbackKind::Persistent);
    // A fixed limit keeps the run-wide handling.
    let mut l = Limiter::fixed(8);
    let s = l.start();
    assert_eq!(l.pushback(s), PushbackKind::Persistent);
}

#[test]
fn one_slow_round_is_not_a_queue() {
    let mut l = Limiter::auto(1, 64);
    l.set(8);
    l.resume_auto((1, 64));
    for _ in 0..5 {
        clean_round(&mut l, 0.01);
    }
    let before = l.limit();
    clean_round(&mut l, 0.05);
    assert_eq!(l.limit(), before, "held, not lowered, after one slow round");
    clean_round(&mut l, 0.05);
    assert_eq!(
        (l.limit(), l.reason()),
        (before * 9 / 10, Reason::LoweredAfterLatency)
    );
}
