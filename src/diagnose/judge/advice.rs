//! What to change besides the clocks' own fixes (scopes, refresh tokens, clocks, stated
//! lifetimes), and what the probes could not see in their time.

use super::parts::ids;
use crate::diagnose::evidence::{Claim, Evidence};
use crate::diagnose::verdict::{Conflict, Context, Line, Verdict, Who};

/// Changes that are no clock's fix: scopes, refresh tokens, clocks, stated lifetimes.
pub(super) fn other_changes(ctx: &Context, ev: &[Evidence], v: &mut Verdict, out: &mut Vec<Line>) {
    for e in ev {
        let cite = vec![e.id.clone()];
        match &e.claim {
            Claim::ScopesNotGranted { scopes } => out.push(Line::new(
                format!(
                    "[{}] The server did not grant {}: have it allowed for client {}, or drop \
                     it from auth.scopes.",
                    Who::ClientRegistration,
                    scopes.join(" "),
                    ctx.client_id
                ),
                cite,
            )),
            Claim::RefreshToken {
                issued: false,
                offline_access_requested: false,
                with_offline_access,
            } => match with_offline_access {
                Some(false) => v.reasons.push(Line::new(
                    "No refresh token came, not even with offline_access: supsync renews with \
                     new client-credentials grants.",
                    cite,
                )),
                known => out.push(Line::new(
                    format!(
                        "[{}] No refresh token (offline_access not requested): every renewal \
                         is a new client-credentials grant. Add offline_access to \
                         auth.scopes{}: with a refresh token supsync renews without a new \
                         session each time.",
                        Who::SupsyncConfig,
                        if known.is_some() {
                            " (a grant with it brought a refresh token)"
                        } else {
                            " (or the server's equivalent)"
                        }
                    ),
                    cite,
                )),
            },
            Claim::RefreshToken {
                issued: false,
                offline_access_requested: true,
                ..
            } => v.reasons.push(Line::new(
                "No refresh token came although offline_access was requested (RFC 6749 §4.4.3: \
                 a client-credentials grant SHOULD NOT return one); supsync renews with new \
                 client-credentials grants.",
                cite,
            )),
            Claim::ClockSkew { secs } if secs.abs() >= 5 => {
                let trusted = ids(ev, |c| matches!(c, Claim::Ttl { .. }));
                let mut findings = cite.clone();
                findings.extend(trusted.iter().cloned());
                v.conflicts.push(Conflict {
                    text: format!(
                        "The JWT's exp read against the local clock is {} s off from its \
                         lifetime; trusting exp - iat and the server's Date (exp is on the \
                         server's clock, {} s {} the local one).",
                        secs.abs(),
                        secs.abs(),
                        if *secs > 0 { "ahead of" } else { "behind" }
                    ),
                    findings,
                    trusted,
                });
                out.push(Line::new(
                    format!(
                        "[{}] The server's clock is {} s {} this machine's: fix NTP on the side \
                         that is off. supsync counts lifetimes on its own monotonic clock and \
                         is not affected; anything comparing the JWT's exp with a local clock is.",
                        Who::ServerAdmin,
                        secs.abs(),
                        if *secs > 0 { "ahead of" } else { "behind" }
                    ),
                    cite,
                ));
            }
            Claim::NoLifetimeStated => {
                let end = ids(ev, |c| matches!(c, Claim::EndsBy { .. }));
                let mut cites = cite.clone();
                cites.extend(end);
                out.push(Line::new(
                    format!(
                        "[{}] The server states no lifetime: set auth.expected_ttl_secs to what \
                         it hands out (now {} s), or have expires_in sent.",
                        Who::SupsyncConfig,
                        ctx.expected_ttl_secs
                    ),
                    cites,
                ));
            }
            _ => {}
        }
    }
}

/// What the probes could not see in their time, and what would show it.
pub(super) fn unknowns(ctx: &Context, ev: &[Evidence], v: &mut Verdict) {
    if v.idle_window_secs.is_none() {
        let longer = ids(ev, |c| matches!(c, Claim::IdleLongerThan { .. }));
        let nothing = ids(ev, |c| matches!(c, Claim::NothingShorterThan { .. }));
        let survived = ev.iter().find_map(|e| match e.claim {
            Claim::IdleLongerThan { secs } => Some(secs),
            _ => None,
        });
        if !nothing.is_empty() {
            v.reasons.push(Line::new(
                "X-Token-Expires-In tracked the TTL: no idle window or session end shorter \
                 than it.",
                nothing,
            ));
        } else if let Some(s) = survived {
            v.unknowns.push(Line::new(
                format!(
                    "Idle window: not measured. A {n} left unused {s} s survived; a longer \
                     window would not show in that time. `supsync diagnose --probe-secs {}` \
                     leaves one unused longer than auth.keepalive_secs ({} s){}: if it \
                     survives, the keep-alive holds {n}s open.",
                    ctx.keepalive_secs + 5,
                    ctx.keepalive_secs,
                    if ctx.session {
                        " (and, where a second session is allowed, `--wait-secs` leaves one \
                         unused that long)"
                    } else {
                        ""
                    },
                    n = ctx.noun()
                ),
                longer,
            ));
        }
    }
    if ids(ev, |c| matches!(c, Claim::Revoked { .. })).is_empty() {
        let within = ev.iter().find_map(|e| match e.claim {
            Claim::NoRevocationWithin { uses } => Some((e.id.clone(), uses)),
            _ => None,
        });
        if let Some((id, uses)) = within {
            v.unknowns.push(Line::new(
                format!(
                    "Revocation after many uses: not measured beyond {uses} calls on one {}. \
                     `supsync diagnose --probe-calls N` makes N calls in a row.",
                    ctx.noun()
                ),
                vec![id],
            ));
        }
    }
}
