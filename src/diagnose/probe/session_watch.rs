//! Watching a session's clocks within `--wait-secs`: one kept alive with calls, to see
//! whether its deadline (`X-Token-Expires-In` after each call) stops sliding with them —
//! the absolute cap — and to see it die there; one left unused, to see its idle window
//! end it. Both read the server's words on the dead session (docs/API.md §7.3).

use std::time::{Duration, Instant};

use super::calls::{Target, health};
use crate::auth::grant::Grant;
use crate::diagnose::evidence::findings::*;

/// Calls whose deadlines agree must span this long to count as a deadline that does not
/// move: a sliding one moves by the time between calls, a whole-second header by under 1 s.
const MIN_SPAN_SECS: f64 = 2.0;
/// How far two deadlines read from whole-second headers may miss each other and still be
/// one (the answer's send time against our receive time).
const JITTER_SECS: f64 = 0.2;
/// A dead session is asked for this long after its deadline: the server's clock started a
/// little after our login and counts in whole seconds.
const PAST_END_SECS: f64 = 1.3;

/// The deadline the latest calls agree on and did not move, as the earliest time after
/// the login it can be (`header` is whole seconds cut down, so the deadline of a call is
/// in `[age + header, age + header + 1)`). `None` while the calls' deadlines still slide.
pub(super) fn fixed_deadline(ticks: &[Tick]) -> Option<f64> {
    let mut lo = f64::NEG_INFINITY;
    let mut hi = f64::INFINITY;
    let mut newest = None;
    let mut oldest = None;
    for t in ticks.iter().rev() {
        let Some(h) = t.header_secs.filter(|_| t.status.is_some_and(|s| s < 300)) else {
            break;
        };
        let (a, b) = (t.age_secs + h as f64, t.age_secs + h as f64 + 1.0);
        if a.max(lo) > b.min(hi) + JITTER_SECS {
            break;
        }
        lo = lo.max(a);
        hi = hi.min(b);
        newest.get_or_insert(t.age_secs);
        oldest = Some(t.age_secs);
    }
    let span = newest? - oldest?;
    (span >= MIN_SPAN_SECS).then_some(lo)
}

/// Keeps `g` alive with a health call every `every` until `end`; when the calls show a
/// deadline that does not move and it falls before `end`, waits it out and asks once
/// more. Ages count from `g.received_at` (the session began as the login was answered).
pub(super) async fn cap_watch(
    http: &reqwest::Client,
    at: Target<'_>,
    g: &Grant,
    label: &str,
    every: Duration,
    end: Instant,
) -> CapWatch {
    let origin = g.received_at;
    let mut w = CapWatch {
        session: label.to_string(),
        every_secs: every.as_secs_f64(),
        ..Default::default()
    };
    loop {
        let call = health(http, at, &g.access_token, origin).await.call;
        w.ticks.push(Tick {
            age_secs: call.token_age_secs,
            status: call.status,
            header_secs: call.header_expires_in_secs,
        });
        if call.is_refusal() {
            w.dead_age_secs = Some(call.token_age_secs);
            w.dead = Some(call);
            break;
        }
        let next = match fixed_deadline(&w.ticks) {
            Some(lo) => {
                w.fixed_end_secs = Some((lo + 0.5).round() as u64);
                origin + Duration::from_secs_f64(lo + PAST_END_SECS)
            }
            None => Instant::now() + every,
        };
        if next > end {
            break;
        }
        tokio::time::sleep_until(next.into()).await;
    }
    w.alive_until_secs = w
        .ticks
        .iter()
        .rev()
        .find(|t| t.status.is_some_and(|s| s < 300))
        .and_then(|t| Some((t.age_secs + t.header_secs? as f64).floor() as u64));
    w
}

/// Leaves `g` unused since `last_used` until its idle window (`window`, when known) has
/// surely passed, else until `end`, and calls once. `None` when that does not fit.
pub(super) async fn idle_death(
    http: &reqwest::Client,
    at: Target<'_>,
    g: &Grant,
    last_used: Instant,
    window: Option<u64>,
    end: Instant,
) -> Option<IdleDeath> {
    let wake = match window {
        Some(w) => last_used + Duration::from_secs_f64(w as f64 + PAST_END_SECS),
        None => end,
    };
    if wake > end {
        return None;
    }
    tokio::time::sleep_until(wake.into()).await;
    let call = health(http, at, &g.access_token, g.received_at).await.call;
    Some(IdleDeath {
        unused_secs: (last_used.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        call,
    })
}

/// Time between the calls of a cap watch: a quarter of the idle window (never so sparse
/// that the session idles out, never a flood), 1 s when the window is unknown.
pub(super) fn cadence(idle_window: Option<u64>) -> Duration {
    Duration::from_secs_f64(idle_window.map_or(1.0, |w| (w as f64 / 4.0).clamp(0.5, 2.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tick(age: f64, header: u64) -> Tick {
        Tick {
            age_secs: age,
            status: Some(200),
            header_secs: Some(header),
        }
    }

    /// The simulator's session of a 4 s idle window and an 8 s cap, called every second:
    /// the header reads 3 while the window slides, then falls with the cap.
    fn ticks(until: f64) -> Vec<Tick> {
        let mut out = Vec::new();
        let mut age = 0.05;
        while age < until {
            let left = (4.0_f64 - 0.001).min(8.0 - age);
            out.push(tick(age, left.floor() as u64));
            age += 1.0;
        }
        out
    }

    #[test]
    fn a_sliding_deadline_is_no_fixed_end_and_a_falling_one_is() {
        // Sliding only: each call moves the deadline by a second.
        assert_eq!(fixed_deadline(&ticks(4.0)), None);
        // Falling for over two seconds: the cap, at about 8 s.
        let lo = fixed_deadline(&ticks(7.0)).expect("a fixed end");
        assert!((7.0..=8.0).contains(&lo), "{lo}");
        assert_eq!((lo + 0.5).round() as u64, 8);
        // A refused or unanswered call ends the run of agreeing deadlines.
        let mut t = ticks(7.0);
        t.push(Tick {
            age_secs: 7.5,
            status: None,
            header_secs: None,
        });
        assert_eq!(fixed_deadline(&t), None);
    }

    #[test]
    fn a_session_without_an_idle_window_shows_its_cap_at_once() {
        let t: Vec<Tick> = [0.1, 1.1, 2.1, 3.1]
            .iter()
            .map(|a| tick(*a, (60.0_f64 - a).floor() as u64))
            .collect();
        let lo = fixed_deadline(&t).unwrap();
        assert_eq!((lo + 0.5).round() as u64, 60);
    }

    #[test]
    fn the_cadence_is_a_quarter_of_the_window_within_bounds() {
        assert_eq!(cadence(None), Duration::from_secs(1));
        assert_eq!(cadence(Some(4)), Duration::from_secs(1));
        assert_eq!(cadence(Some(1)), Duration::from_millis(500));
        assert_eq!(cadence(Some(900)), Duration::from_secs(2));
    }
}
