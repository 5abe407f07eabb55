//! The probes of how the server ends things: the answer to a dead token (its expiry
//! signal, docs/API.md §2.5) and a refresh refused as too early (its refresh window,
//! §1.3). Both wait at most `--wait-secs`.

use std::future::Future;
use std::time::{Duration, Instant};

use super::calls::{Target, health_with_retry};
use crate::auth::grant::{Grant, GrantError};
use crate::auth::manager::too_early;
use crate::diagnose::evidence::findings::*;
use crate::secret::Secret;

/// Sent as a bearer token to see how the API answers one it never issued. Plainly no
/// real token, so a server's logs say what it was.
const NEVER_ISSUED: &str = "supsync-diagnose-a-token-this-server-never-issued";
/// Tries of a refresh while probing the window, the refused one included.
const MAX_TRIES: usize = 6;
/// A refresh is not asked for with less than this left: the answer would come too late.
const MIN_LEFT_SECS: f64 = 0.5;

/// The answer to a dead token: one the probes already saw refused after it had worked,
/// else the token of `grants` that runs out first when that happens within `wait`, else
/// a token the server never issued (labelled so: a server may answer it differently).
pub(super) async fn expiry_signal(
    http: &reqwest::Client,
    at: Target<'_>,
    f: &Findings,
    grants: &[&Grant],
    wait: Duration,
) -> SignalFinding {
    if let Some(seen) = seen_dead(f) {
        return seen;
    }
    let soonest = grants
        .iter()
        .filter_map(|g| Some((*g, left_secs(g.sent_at + g.expires_in?))))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    if let Some((g, left)) = soonest
        && left <= wait.as_secs_f64()
    {
        // The server's clock started a little after our request and counts in whole
        // seconds: a second more makes sure the token is past its end.
        tokio::time::sleep(Duration::from_secs_f64(left.max(0.0) + 1.0)).await;
        let h = health_with_retry(http, at, &g.access_token, g.sent_at).await;
        if h.call.is_refusal() {
            return SignalFinding {
                how: DeadHow::Expired {
                    ttl_secs: g.expires_in.map_or(0, |d| d.as_secs()),
                },
                token: g.access_token.fingerprint(),
                call: h.call,
                shortest_left_secs: None,
            };
        }
    }
    let fake = Secret::new(NEVER_ISSUED);
    let h = health_with_retry(http, at, &fake, Instant::now()).await;
    SignalFinding {
        how: DeadHow::NeverIssued,
        token: fake.fingerprint(),
        call: h.call,
        shortest_left_secs: soonest.map(|(_, l)| l.max(0.0).ceil() as u64),
    }
}

/// A token refused after earlier calls with it were answered: in the calls in a row, or
/// after the idle probe's wait.
fn seen_dead(f: &Findings) -> Option<SignalFinding> {
    let p = &f.use_probe;
    if let Some(i) = p.calls.iter().position(CallFinding::is_refusal) {
        return Some(SignalFinding {
            how: DeadHow::RefusedInUse {
                which: format!(
                    "call {} in a row on one token",
                    u64::from(p.earlier_uses) + i as u64 + 1
                ),
            },
            token: f.token.as_ref().map(|t| t.fingerprint.clone())?,
            call: p.calls[i].clone(),
            shortest_left_secs: None,
        });
    }
    let idle = &f.idle_probe;
    match (&idle.first, &idle.second) {
        (Some(first), Some(second)) if first.is_success() && second.is_refusal() => {
            Some(SignalFinding {
                how: DeadHow::RefusedInUse {
                    which: format!("the idle probe, after {:.1} s unused", idle.waited_secs),
                },
                token: format!("the {} token", idle.token),
                call: second.clone(),
                shortest_left_secs: None,
            })
        }
        _ => None,
    }
}

/// Seconds until `end` (negative once past).
fn left_secs(end: Instant) -> f64 {
    let now = Instant::now();
    if end >= now {
        end.duration_since(now).as_secs_f64()
    } else {
        -now.duration_since(end).as_secs_f64()
    }
}

fn round(s: f64) -> f64 {
    (s * 1000.0).round() / 1000.0
}

/// What a refresh answer says about the window.
pub(super) fn outcome(
    r: &Result<Grant, GrantError>,
    words: impl Fn(&GrantError) -> String,
) -> TryOutcome {
    match r {
        Ok(_) => TryOutcome::Accepted,
        Err(e) => match too_early(e) {
            Some(within) => TryOutcome::TooEarly {
                within_secs: within.map(|d| d.as_secs()),
            },
            None => TryOutcome::Failed { error: words(e) },
        },
    }
}

/// After a refresh refused as too early: asks again inside the window (the middle of the
/// one the server named, else at half the time left at the last refusal), while the
/// waits fit in `wait` and the access token (ending at `ends`) has time left. Returns the
/// tries and the grant of the refresh that was accepted.
pub(super) async fn refresh_window<F, Fut>(
    said: String,
    first: TryOutcome,
    ends: Option<Instant>,
    first_left: f64,
    wait: Duration,
    mut ask: F,
    words: impl Fn(&GrantError) -> String,
) -> (RefreshWindowFinding, Option<Grant>)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Grant, GrantError>>,
{
    let deadline = Instant::now() + wait;
    let mut found = RefreshWindowFinding {
        said,
        tries: vec![WindowTry {
            left_secs: round(first_left),
            outcome: first,
        }],
    };
    let Some(ends) = ends else {
        return (found, None);
    };
    loop {
        let budget = deadline.saturating_duration_since(Instant::now());
        let Some(pause) = next_wait(left_secs(ends), &found.tries, budget.as_secs_f64()) else {
            return (found, None);
        };
        tokio::time::sleep(Duration::from_secs_f64(pause)).await;
        let left = left_secs(ends);
        let answer = ask().await;
        let outcome = outcome(&answer, &words);
        found.tries.push(WindowTry {
            left_secs: round(left),
            outcome,
        });
        if let Ok(g) = answer {
            return (found, Some(g));
        }
    }
}

/// How long to wait before the next try, or `None` to stop: after anything but a
/// too-early refusal, after `MAX_TRIES`, when the next try would come too close to the
/// token's end, or when the wait does not fit in `budget`. All in seconds; `left` is the
/// time the access token has now.
pub(super) fn next_wait(left: f64, tries: &[WindowTry], budget: f64) -> Option<f64> {
    let last = tries.last()?;
    if !matches!(last.outcome, TryOutcome::TooEarly { .. }) || tries.len() >= MAX_TRIES {
        return None;
    }
    let refused_at = tries
        .iter()
        .filter(|t| matches!(t.outcome, TryOutcome::TooEarly { .. }))
        .map(|t| t.left_secs)
        .fold(f64::INFINITY, f64::min);
    let named = tries.iter().find_map(|t| match t.outcome {
        TryOutcome::TooEarly { within_secs } => within_secs,
        _ => None,
    });
    // The middle of the named window leaves room for the two clocks' offset either way;
    // once a refusal came inside it anyway, halve the time left instead.
    let target = named
        .map(|n| n as f64 / 2.0)
        .filter(|t| *t < refused_at - 0.5)
        .unwrap_or(refused_at / 2.0);
    if target < MIN_LEFT_SECS {
        return None;
    }
    let pause = (left - target).max(0.0);
    (pause <= budget).then_some(pause)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tried(left_secs: f64, outcome: TryOutcome) -> WindowTry {
        WindowTry { left_secs, outcome }
    }

    fn early(within: Option<u64>) -> TryOutcome {
        TryOutcome::TooEarly {
            within_secs: within,
        }
    }

    #[test]
    fn a_named_window_is_tried_in_its_middle_once() {
        // Refused with 16 s left, "within 4 s": wait until 2 s are left.
        let tries = [tried(16.0, early(Some(4)))];
        assert_eq!(next_wait(15.0, &tries, 30.0), Some(13.0));
        // Not when the wait does not fit in the budget.
        assert_eq!(next_wait(15.0, &tries, 10.0), None);
        // Refused again inside the named window: the server's words were wrong, halve.
        let tries = [tried(16.0, early(Some(4))), tried(2.0, early(Some(4)))];
        assert_eq!(next_wait(2.0, &tries, 30.0), Some(1.0));
        // Accepted, or refused otherwise: stop.
        let tries = [
            tried(16.0, early(Some(4))),
            tried(2.0, TryOutcome::Accepted),
        ];
        assert_eq!(next_wait(2.0, &tries, 30.0), None);
        let failed = TryOutcome::Failed {
            error: "invalid_grant".into(),
        };
        assert_eq!(next_wait(2.0, &[tried(3.0, failed)], 30.0), None);
    }

    #[test]
    fn an_unnamed_window_is_found_by_halving_the_time_left() {
        let mut tries = vec![tried(16.0, early(None))];
        let mut left = 16.0;
        let mut waits = Vec::new();
        while let Some(w) = next_wait(left, &tries, 100.0) {
            left -= w;
            waits.push(w);
            tries.push(tried(left, early(None)));
        }
        // Asked again with 8, 4, 2, 1 and 0.5 s left: six tries in all, the most there are.
        assert_eq!(waits, vec![8.0, 4.0, 2.0, 1.0, 0.5]);
        assert_eq!(tries.len(), MAX_TRIES);
        // A token already dead is not tried again.
        assert_eq!(next_wait(-1.0, &[tried(0.8, early(None))], 100.0), None);
    }
}
