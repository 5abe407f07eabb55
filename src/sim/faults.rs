//! Injected faults: a seeded die rolled once per admitted resource call, in arrival order
//! (the same seed and the same calls give the same faults), and operator-triggered outages.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::profile::Faults;
use super::state::lock;

/// What happens to one resource call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// 503, with `Retry-After: 1` when the flag is set.
    Unavailable {
        retry_after: bool,
    },
    /// Connection cut before any work: nothing changed on the server.
    DropBefore,
    /// Connection cut after the work: the records are stored, the answer is lost.
    DropAfter,
}

pub struct FaultDice {
    rng: Mutex<StdRng>,
    error_rate: f64,
    drop_rate: f64,
}

impl FaultDice {
    pub fn new(f: &Faults) -> Self {
        Self {
            rng: Mutex::new(StdRng::seed_from_u64(f.seed)),
            error_rate: f.error_rate,
            drop_rate: f.drop_rate,
        }
    }

    /// Draws the same number of values on every call, so the sequence never shifts.
    pub fn roll(&self) -> Fault {
        let (u, v): (f64, f64) = {
            let mut rng = lock(&self.rng);
            (rng.random(), rng.random())
        };
        if u < self.error_rate {
            Fault::Unavailable {
                retry_after: v < 0.5,
            }
        } else if u < self.error_rate + self.drop_rate {
            if v < 0.5 {
                Fault::DropBefore
            } else {
                Fault::DropAfter
            }
        } else {
            Fault::None
        }
    }
}

/// `POST /_sim/outage?seconds=N`: every token and resource call answers 503 until then
/// (`&only=token`: the token and login endpoints alone, the API answers).
#[derive(Default)]
pub struct InjectedOutage {
    until: Mutex<Option<(Instant, bool)>>,
}

impl InjectedOutage {
    pub fn start(&self, for_: Duration, now: Instant) {
        *lock(&self.until) = Some((now + for_, false));
    }

    /// An outage of the token and login endpoints only.
    pub fn start_token_only(&self, for_: Duration, now: Instant) {
        *lock(&self.until) = Some((now + for_, true));
    }

    /// Time left of the outage (of the token and login endpoints), if one is on.
    pub fn remaining(&self, now: Instant) -> Option<Duration> {
        let (until, _) = (*lock(&self.until))?;
        (until > now).then(|| until - now)
    }

    /// Time left of the outage of the resource API, if one is on.
    pub fn api_remaining(&self, now: Instant) -> Option<Duration> {
        let (until, token_only) = (*lock(&self.until))?;
        (until > now && !token_only).then(|| until - now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dice(error_rate: f64, drop_rate: f64, seed: u64) -> FaultDice {
        FaultDice::new(&Faults {
            error_rate,
            drop_rate,
            seed,
        })
    }

    #[test]
    fn same_seed_same_sequence() {
        let a: Vec<Fault> = (0..500)
            .map({
                let d = dice(0.2, 0.1, 7);
                move |_| d.roll()
            })
            .collect();
        let b: Vec<Fault> = (0..500)
            .map({
                let d = dice(0.2, 0.1, 7);
                move |_| d.roll()
            })
            .collect();
        assert_eq!(a, b);
        let errors = a
            .iter()
            .filter(|f| matches!(f, Fault::Unavailable { .. }))
            .count();
        let drops = a
            .iter()
            .filter(|f| matches!(f, Fault::DropBefore | Fault::DropAfter))
            .count();
        assert!((60..140).contains(&errors), "{errors}");
        assert!((20..80).contains(&drops), "{drops}");
        let d = dice(0.0, 0.0, 7);
        assert!((0..100).all(|_| d.roll() == Fault::None));
    }

    #[test]
    fn outage_ends() {
        let o = InjectedOutage::default();
        let t0 = Instant::now();
        assert_eq!(o.remaining(t0), None);
        o.start(Duration::from_secs(5), t0);
        assert_eq!(
            o.remaining(t0 + Duration::from_secs(2)),
            Some(Duration::from_secs(3))
        );
        assert_eq!(o.remaining(t0 + Duration::from_secs(5)), None);
        o.start_token_only(Duration::from_secs(5), t0);
        assert_eq!(o.api_remaining(t0), None, "the API answers");
        assert_eq!(o.remaining(t0), Some(Duration::from_secs(5)));
    }
}
