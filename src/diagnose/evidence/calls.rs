//! Findings from the API calls: the first call, `X-Token-Expires-In` over successive
//! calls, every 401 in the server's words, calls in a row on one token, the idle probe
//! and the idle connection.

use super::analysis::{IdleConclusion, idle_conclusion};
use super::claim::{Claim, Collector, Source, noun, refusal};
use super::findings::{CallFinding, ConnectionOutcome, Findings, TokenFinding};
use super::said::DeadBy;

pub(super) fn calls(c: &mut Collector, f: &Findings, tok: &TokenFinding) {
    let Some(first) = &tok.first_call else {
        return;
    };
    let answered = match first.status {
        Some(s) => {
            let mut words = format!("GET {}: HTTP {s}", f.health_url);
            if let Some(l) = &first.location {
                words.push_str(&format!(", Location: {l}"));
            }
            if let Some(e) = &first.error {
                words.push_str(&format!(" ({e})"));
            }
            words
        }
        None => format!(
            "GET {}: no answer ({})",
            f.health_url,
            first.error.as_deref().unwrap_or("no reason")
        ),
    };
    c.add(
        Source::FirstApiCall,
        answered,
        Claim::FirstApiCall {
            ok: first.is_success(),
            status: first.status,
            location: first.location.clone(),
            error: first.error.clone(),
        },
    );
    if let Some((words, _)) = refusal(first) {
        c.add(
            Source::ApiRefusal,
            format!("a fresh {} was refused on its first call: {words}", noun(f)),
            Claim::FreshTokenRefused {
                description: first.error.clone().unwrap_or_default(),
            },
        );
    }
    if first.is_success() {
        match first.header_expires_in_secs {
            Some(h) => {
                let by = (h as f64 + first.token_age_secs).round() as u64 + 1;
                c.add(
                    Source::ExpiryHeader,
                    format!(
                        "X-Token-Expires-In {h} s at {n} age {:.1} s: the {n} ends by about \
                         {by} s, every clock counted",
                        first.token_age_secs,
                        n = noun(f)
                    ),
                    Claim::EndsBy { secs: by },
                );
            }
            None => c.add(
                Source::ExpiryHeader,
                format!(
                    "the API sends no X-Token-Expires-In: idle windows and session ends show \
                     only when a {} dies",
                    noun(f)
                ),
                Claim::NoExpiryHeader,
            ),
        }
    }
    uses(c, f);
    idle(c, f);
    match f.connection.outcome {
        ConnectionOutcome::IdleConnectionCut => c.add(
            Source::Connection,
            format!(
                "a connection left idle {:.0} s was cut, twice, while a fresh one worked{}",
                f.connection.idle_secs,
                f.connection
                    .detail
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ),
            Claim::ConnectionCut {
                idle_secs: f.connection.idle_secs.floor().max(1.0) as u64,
            },
        ),
        ConnectionOutcome::RandomDrops => c.add(
            Source::Connection,
            "a connection dropped once, but not again after the same idle time",
            Claim::ConnectionDrop,
        ),
        _ => {}
    }
}

/// Calls in a row on the configured-scope token.
fn uses(c: &mut Collector, f: &Findings) {
    let p = &f.use_probe;
    if p.calls.is_empty() {
        return;
    }
    let refused = p.calls.iter().position(|call| !call.is_success());
    match refused {
        Some(i) => {
            let call = &p.calls[i];
            let uses = u64::from(p.earlier_uses) + i as u64;
            refused_call(
                c,
                f,
                call,
                Some(uses),
                &format!("call {} in a row", uses + 1),
            );
        }
        None => {
            let uses = u64::from(p.earlier_uses) + p.calls.len() as u64;
            c.add(
                Source::ProbeLimit,
                format!("{uses} calls in a row on one {} were all answered", noun(f)),
                Claim::NoRevocationWithin { uses },
            );
        }
    }
}

/// A refused call, by the clock its words name.
fn refused_call(
    c: &mut Collector,
    f: &Findings,
    call: &CallFinding,
    uses: Option<u64>,
    which: &str,
) {
    let Some((words, dead)) = refusal(call) else {
        return;
    };
    let says = format!("{which}: {words}");
    match dead {
        DeadBy::Revoked => c.add(
            Source::ApiRefusal,
            says,
            Claim::Revoked { after_uses: uses },
        ),
        DeadBy::Idle {
            timeout_secs: Some(t),
        } => c.add(Source::ApiRefusal, says, Claim::IdleWindow { secs: t }),
        DeadBy::Idle { timeout_secs: None } => {
            // Died after this long unused, window unnamed: at most that, and at least the
            // quiet between the calls that kept a session alive.
            let died_secs = f.idle_probe.waited_secs.floor().max(1.0) as u64;
            let survived_secs = f
                .session
                .as_ref()
                .and_then(|s| s.cap_watch.as_ref())
                .filter(|w| {
                    w.ticks
                        .iter()
                        .filter(|t| t.status.is_some_and(|s| s < 300))
                        .count()
                        > 1
                })
                .map_or(0, |w| w.every_secs.floor() as u64)
                .min(died_secs.saturating_sub(1));
            c.add(
                Source::ApiRefusal,
                says,
                Claim::IdleAtMost {
                    survived_secs,
                    died_secs,
                },
            );
        }
        DeadBy::Session {
            after_secs: Some(s),
        } => c.add(Source::ApiRefusal, says, Claim::SessionEnd { secs: s }),
        DeadBy::Ttl {
            after_secs: Some(s),
        } => c.add(Source::ApiRefusal, says, Claim::EndsBy { secs: s }),
        _ => c.add(
            Source::ApiRefusal,
            says,
            Claim::FreshTokenRefused {
                description: call.error.clone().unwrap_or_default(),
            },
        ),
    }
}

/// The idle probe: the server's words when a call was refused, the headers otherwise.
fn idle(c: &mut Collector, f: &Findings) {
    let p = &f.idle_probe;
    let (Some(first), Some(second)) = (&p.first, &p.second) else {
        return;
    };
    if !first.is_success() {
        refused_call(c, f, first, None, "idle probe, first call");
        return;
    }
    if second.is_refusal() {
        refused_call(
            c,
            f,
            second,
            None,
            &format!("idle probe, after {:.1} s unused", p.waited_secs),
        );
        return;
    }
    // A header that is missing or empty is said so, never rendered as a number of seconds.
    let header = |h: Option<u64>| h.map_or("none".to_string(), |h| format!("{h} s"));
    let label = format!(
        "idle probe on the {} {}: X-Token-Expires-In {}, then {} after {:.1} s unused",
        p.token,
        noun(f),
        header(first.header_expires_in_secs),
        header(second.header_expires_in_secs),
        p.waited_secs
    );
    match idle_conclusion(p) {
        IdleConclusion::Sliding { secs } => c.add(
            Source::ExpiryHeader,
            format!("{label}: slides back up, an idle window of about {secs} s"),
            Claim::IdleWindow { secs },
        ),
        IdleConclusion::FixedEnd {
            after_start_secs, ..
        } => c.add(
            Source::ExpiryHeader,
            format!(
                "{label}: keeps falling below the TTL, a fixed end about {after_start_secs} s \
                 after the session starts"
            ),
            Claim::SessionEnd {
                secs: after_start_secs,
            },
        ),
        IdleConclusion::TtlOnly { .. } => {
            let secs = p.token_ttl_secs.unwrap_or(0);
            c.add(
                Source::ExpiryHeader,
                format!(
                    "{label}: tracks the TTL, nothing ends that {} before {secs} s",
                    noun(f)
                ),
                Claim::NothingShorterThan { secs },
            )
        }
        IdleConclusion::DiedWhileIdle { secs, .. } => c.add(
            Source::ApiRefusal,
            format!("{label}: the {} died unused", noun(f)),
            Claim::IdleWindow { secs },
        ),
        IdleConclusion::Unknown { .. } if second.is_success() => {
            let secs = p.waited_secs.floor() as u64;
            c.add(
                Source::ProbeLimit,
                format!("{label}: the {} survived {secs} s unused", noun(f)),
                Claim::IdleLongerThan { secs },
            );
        }
        IdleConclusion::Unknown { .. } => {}
    }
}
