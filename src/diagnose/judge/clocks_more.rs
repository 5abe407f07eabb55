//! The clocks besides the TTL: idle window, session end, refresh-token expiry, an end no
//! other clock explains, idle connections cut; and how supsync renews.

use super::parts::{clock, ids};
use crate::diagnose::evidence::{Claim, Evidence, Source};
use crate::diagnose::verdict::{
    ClockKind, Conflict, Context, Fix, Line, RenewalPath, Verdict, Who,
};

fn new_session(ev: &[Evidence]) -> (bool, Vec<String>) {
    let ok = ids(ev, |c| matches!(c, Claim::NewSession { ok: true, .. }));
    let all = ids(ev, |c| matches!(c, Claim::NewSession { .. }));
    (!ok.is_empty(), all)
}

/// How supsync renews, from the refresh and re-grant outcomes.
pub(super) fn renewal(ev: &[Evidence], v: &mut Verdict) -> RenewalPath {
    let refresh = ids(ev, |c| matches!(c, Claim::Refresh { ok: true, .. }));
    let (regrant, regrant_ids) = new_session(ev);
    let windowed = ids(ev, |c| matches!(c, Claim::RefreshWindow(_)));
    let refused = ids(ev, |c| matches!(c, Claim::Refresh { ok: false, .. }));
    let (r, text, cites) = if !refresh.is_empty() {
        (
            RenewalPath::RefreshToken,
            "supsync renews with the refresh token (a refresh worked)",
            refresh,
        )
    } else if !windowed.is_empty() && refused.is_empty() {
        (
            RenewalPath::RefreshToken,
            "supsync renews with the refresh token inside the server's refresh window (a \
             refresh was refused only as too early)",
            windowed,
        )
    } else if regrant {
        (
            RenewalPath::ClientCredentials,
            "supsync renews with new client-credentials grants (a second grant worked)",
            regrant_ids,
        )
    } else {
        let cites = ids(ev, |c| {
            matches!(c, Claim::Refresh { .. } | Claim::NewSession { .. })
        });
        if cites.is_empty() {
            return RenewalPath::None;
        }
        (
            RenewalPath::None,
            "supsync has no way to renew: neither a refresh nor a new grant worked",
            cites,
        )
    };
    v.reasons.push(Line::new(text, cites));
    r
}

pub(super) fn means(r: RenewalPath) -> &'static str {
    match r {
        RenewalPath::RefreshToken => "with the refresh token",
        RenewalPath::ClientCredentials => "with new client-credentials grants",
        RenewalPath::SessionLogin => "with a new login",
        RenewalPath::None => "(no way to renew)",
    }
}

/// The idle window: the server's stated timeout wins over what headers suggest.
pub(super) fn idle(ctx: &Context, ev: &[Evidence], v: &mut Verdict) {
    let windows: Vec<(&Evidence, u64)> = ev
        .iter()
        .filter_map(|e| match e.claim {
            Claim::IdleWindow { secs } => Some((e, secs)),
            _ => None,
        })
        .collect();
    let Some(&(_, first)) = windows.first() else {
        idle_range(ctx, ev, v);
        return;
    };
    let stated: Vec<&(&Evidence, u64)> = windows
        .iter()
        .filter(|(e, _)| e.source == Source::ApiRefusal)
        .collect();
    let w = stated.first().map_or(first, |(_, s)| *s);
    let (trusted, other): (Vec<_>, Vec<_>) = windows.iter().partition(|(_, s)| s.abs_diff(w) <= 2);
    if !other.is_empty() {
        v.conflicts.push(Conflict {
            text: format!(
                "The findings disagree on the idle window; trusting {w} s{}.",
                if stated.is_empty() {
                    ""
                } else {
                    ", the server's own words in a 401"
                }
            ),
            findings: windows.iter().map(|(e, _)| e.id.clone()).collect(),
            trusted: trusted.iter().map(|(e, _)| e.id.clone()).collect(),
        });
    }
    v.idle_window_secs = Some(w);
    let cites: Vec<String> = trusted.iter().map(|(e, _)| e.id.clone()).collect();
    let what = format!("idle window {w} s (a {} unused that long dies)", ctx.noun());
    idle_clock(ctx, ev, v, w, what, cites);
}

/// An idle window known only as a range: a quiet time that survived and one that killed.
/// The verdict works with the smaller, so no advice exceeds what was seen to survive.
fn idle_range(ctx: &Context, ev: &[Evidence], v: &mut Verdict) {
    let Some((e, survived, died)) = ev
        .iter()
        .filter_map(|e| match e.claim {
            Claim::IdleAtMost {
                survived_secs,
                died_secs,
            } => Some((e, survived_secs, died_secs)),
            _ => None,
        })
        .min_by_key(|(_, _, d)| *d)
    else {
        return;
    };
    let w = match survived {
        0 => died.saturating_sub(1).max(1),
        s => s,
    };
    v.idle_window_secs = Some(w);
    let range = match survived {
        0 => format!("≤ {died} s"),
        s => format!("≤ {s}–{died} s"),
    };
    let what = format!(
        "idle window {range} (a {} unused {died} s died; the server named no window)",
        ctx.noun()
    );
    idle_clock(ctx, ev, v, w, what, vec![e.id.clone()]);
}

/// The idle clock at `w` seconds: handled by the keep-alive cadence or a setting, else
/// the setting that fits.
fn idle_clock(
    ctx: &Context,
    ev: &[Evidence],
    v: &mut Verdict,
    w: u64,
    what: String,
    cites: Vec<String>,
) {
    let header = ids(ev, |c| matches!(c, Claim::NoExpiryHeader)).is_empty();
    let k = ctx.keepalive_secs;
    let hint = ctx.idle_hint_secs > 0 && ctx.idle_hint_secs <= w;
    let cadence = k < w;
    let mut c = clock(ClockKind::Idle, Some(w), what, cites);
    if (w as f64) < ctx.min_workable_secs {
        c.kills = true;
        c.fix = Some(Fix {
            who: Who::ServerAdmin,
            change: format!(
                "The idle window ({w} s) leaves no room for a keep-alive call: have it raised."
            ),
        });
    } else if cadence {
        c.handled = Some(format!(
            "keep-alive every {k} s (auth.keepalive_secs) while no other call is made"
        ));
    } else if hint {
        c.handled = Some(
            "auth.idle_timeout_secs tells supsync the window: keep-alive twice per window".into(),
        );
    } else {
        c.kills = !header;
        c.handled = header.then(|| {
            "supsync learns the window from X-Token-Expires-In and then keeps alive twice per \
             window"
                .to_string()
        });
        let revoking = !ids(ev, |c| matches!(c, Claim::Revoked { .. })).is_empty();
        let why = if header {
            format!(
                ", so a pause before supsync has learned the window loses the {}",
                ctx.noun()
            )
        } else {
            " and this server sends no X-Token-Expires-In to learn it from".to_string()
        };
        // On a server that revokes by use count a shorter keep-alive cadence spends uses;
        // telling supsync the window keeps the keep-alives to two per window.
        let change = if revoking {
            format!(
                "Set auth.idle_timeout_secs = {w} (keep-alive then twice per window, and only \
                 while idle): auth.keepalive_secs {k} is not inside the {w} s idle window{why}. \
                 Each keep-alive is a use on this server, so fix the revocation first."
            )
        } else {
            format!(
                "Set auth.idle_timeout_secs = {w} (keep-alive then twice per window) or \
                 auth.keepalive_secs = {}: auth.keepalive_secs {k} is not inside the {w} s idle \
                 window{why}.",
                (w / 3).max(1)
            )
        };
        c.fix = Some(Fix {
            who: Who::SupsyncConfig,
            change,
        });
    }
    v.clocks.push(c);
}

/// The session's absolute end.
pub(super) fn session(ctx: &Context, ev: &[Evidence], v: &mut Verdict) {
    let ends: Vec<(&Evidence, u64)> = ev
        .iter()
        .filter_map(|e| match e.claim {
            Claim::SessionEnd { secs } => Some((e, secs)),
            _ => None,
        })
        .collect();
    let Some(s) = ends.iter().map(|(_, s)| *s).min() else {
        return;
    };
    v.session_secs = Some(s);
    let cites: Vec<String> = ends.iter().map(|(e, _)| e.id.clone()).collect();
    if s > ctx.sync_secs {
        v.reasons.push(Line::new(
            format!(
                "A session ends {s} s after it starts: after the {} s sync.",
                ctx.sync_secs
            ),
            cites,
        ));
        return;
    }
    let what = match ctx.session {
        true => format!("session cap {s} s (from the login, kept alive or not)"),
        false => format!("session limit {s} s (from the client-credentials grant, refresh or not)"),
    };
    session_like(ctx, ev, v, ClockKind::Session, s, what, cites);
}

/// A session end or a refresh chain's end: supsync starts a new session.
fn session_like(
    ctx: &Context,
    ev: &[Evidence],
    v: &mut Verdict,
    kind: ClockKind,
    s: u64,
    what: String,
    mut cites: Vec<String>,
) {
    if ctx.session {
        return super::session::cap(ctx, v, s, what, cites);
    }
    let (ok, regrant) = new_session(ev);
    cites.extend(regrant);
    let mut c = clock(kind, Some(s), what, cites);
    c.kills = !ok;
    c.handled = ok.then(|| format!("a new client-credentials session every ~{s} s"));
    let setting = if kind == ClockKind::Session {
        "absolute session limit"
    } else {
        "refresh-token lifetime"
    };
    c.fix = Some(if ok {
        Fix {
            who: Who::ServerAdmin,
            change: format!(
                "Optional: have the {setting} ({s} s) raised above the {} s sync, so no new \
                 session is needed.",
                ctx.sync_secs
            ),
        }
    } else {
        Fix {
            who: Who::ClientRegistration,
            change: format!(
                "A new client-credentials session was refused: have the client allowed \
                 repeated grants, or the {setting} ({s} s) raised above the sync."
            ),
        }
    });
    v.clocks.push(c);
}

/// A refresh token that expires before it is needed or before the sync ends.
pub(super) fn refresh_expiry(ctx: &Context, ev: &[Evidence], v: &mut Verdict) {
    let exp: Vec<(&Evidence, u64)> = ev
        .iter()
        .filter_map(|e| match e.claim {
            Claim::RefreshTokenExpiry { secs } => Some((e, secs)),
            _ => None,
        })
        .collect();
    let Some(r) = exp.iter().map(|(_, s)| *s).min() else {
        return;
    };
    let rotates = !ids(ev, |c| {
        matches!(
            c,
            Claim::Refresh {
                rotated: Some(true),
                ..
            }
        )
    })
    .is_empty();
    let ttl = v.token_lifetime_secs.unwrap_or(u64::MAX);
    // A rotating token is replaced at each refresh: only one that dies before the next
    // refresh matters. A fixed one ends the chain once.
    let matters = if rotates { r < ttl } else { r <= ctx.sync_secs };
    if !matters || v.session_secs.is_some_and(|s| s.abs_diff(r) <= 2) {
        return;
    }
    let what = if rotates {
        format!("refresh-token expiry {r} s (each dies before the token it would renew)")
    } else {
        format!("refresh-token expiry {r} s (the refresh token does not rotate)")
    };
    session_like(
        ctx,
        ev,
        v,
        ClockKind::RefreshExpiry,
        r,
        what,
        exp.iter().map(|(e, _)| e.id.clone()).collect(),
    );
}

/// The header says the token ends earlier than any clock found explains.
pub(super) fn unexplained_end(ctx: &Context, ev: &[Evidence], v: &mut Verdict) {
    let ends: Vec<(&Evidence, u64)> = ev
        .iter()
        .filter_map(|e| match e.claim {
            Claim::EndsBy { secs } => Some((e, secs)),
            _ => None,
        })
        .collect();
    let Some(&(e, end)) = ends.iter().min_by_key(|(_, s)| *s) else {
        return;
    };
    // A session's deadline after a call is its idle window or its cap, which the idle
    // probe and the cap watch read; alone it tells neither.
    if ctx.session {
        return;
    }
    let explained = v
        .clocks
        .iter()
        .chain(std::iter::empty())
        .filter_map(|c| c.secs)
        .chain(v.token_lifetime_secs)
        .chain(v.idle_window_secs)
        .chain(v.session_secs)
        .any(|s| s <= end + 2);
    if explained || end > ctx.sync_secs {
        return;
    }
    if v.token_lifetime_secs.is_none() {
        let mut c = clock(
            ClockKind::Ttl,
            Some(end),
            format!(
                "a token ends by {end} s by X-Token-Expires-In (the answer stated no lifetime)"
            ),
            vec![e.id.clone()],
        );
        c.handled =
            Some("supsync learns the end from X-Token-Expires-In and renews ahead of it".into());
        v.token_lifetime_secs = Some(end);
        v.clocks.push(c);
        return;
    }
    v.session_secs = Some(end);
    session_like(
        ctx,
        ev,
        v,
        ClockKind::Session,
        end,
        format!(
            "a fixed end {end} s after issue that no TTL or idle window explains (X-Token-Expires-In)"
        ),
        vec![e.id.clone()],
    );
}

/// Connections cut while idle: not the token.
pub(super) fn connection(ctx: &Context, ev: &[Evidence], v: &mut Verdict) {
    for e in ev {
        match e.claim {
            Claim::ConnectionCut { idle_secs } => {
                let mut c = clock(
                    ClockKind::ConnectionCut,
                    Some(idle_secs),
                    format!("connections idle ~{idle_secs} s are cut on the way (not the token)"),
                    vec![e.id.clone()],
                );
                c.handled = Some("supsync retries a cut connection as a transient failure".into());
                c.fix = Some(Fix {
                    who: Who::Network,
                    change: format!(
                        "A proxy, load balancer or NAT between here and the server cuts \
                         connections idle ~{idle_secs} s: have its idle timeout raised above \
                         auth.keepalive_secs ({} s).",
                        ctx.keepalive_secs
                    ),
                });
                v.clocks.push(c);
            }
            Claim::ConnectionDrop => v.reasons.push(Line::new(
                "A connection dropped once but not again after the same idle time: a transient \
                 fault, not the token.",
                vec![e.id.clone()],
            )),
            _ => {}
        }
    }
}
