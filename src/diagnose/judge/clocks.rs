//! Judging the findings: the TTL (which source to trust, which scope shortens it), the
//! order of the clocks, the outcome and the summary. The other clocks are in
//! `clocks_more.rs`.

use super::clocks_more as more;
use super::parts::ids;
use super::{advice, blockers, session as judge_session, signal as judge_signal};
use crate::diagnose::evidence::{Claim, Evidence, Source};
use crate::diagnose::verdict::{
    Clock, ClockKind, Conclusion, Conflict, Context, Fix, Line, RenewalPath, Verdict, Who,
};

pub(super) fn judge(ctx: &Context, ev: &[Evidence]) -> Verdict {
    let mut v = Verdict {
        exit_code: 0,
        outcome: Conclusion::Sustainable,
        summary: Line::new("", Vec::new()),
        killer: None,
        clocks: Vec::new(),
        changes: Vec::new(),
        reasons: Vec::new(),
        unknowns: Vec::new(),
        conflicts: Vec::new(),
        self_check_failed: false,
        renewal: RenewalPath::None,
        token_lifetime_secs: None,
        shortening_scope: None,
        default_ttl_secs: None,
        idle_window_secs: None,
        session_secs: None,
        expiry_signal: None,
        refresh_window_secs: None,
        single_session: None,
        lockout_after: None,
    };
    let no_token =
        blockers::token_endpoint(ctx, ev, &mut v) | judge_session::login_blocker(ctx, ev, &mut v);
    blockers::first_api_call(ctx, ev, &mut v);
    blockers::api_mapping(ev, &mut v);
    blockers::revocation(ctx, ev, &mut v);
    v.renewal = match ctx.session {
        true => judge_session::renewal(ev, &mut v),
        false => more::renewal(ev, &mut v),
    };
    let mut changes = Vec::new();
    ttl(ctx, ev, &mut v, &mut changes);
    more::idle(ctx, ev, &mut v);
    more::session(ctx, ev, &mut v);
    more::refresh_expiry(ctx, ev, &mut v);
    more::unexplained_end(ctx, ev, &mut v);
    more::connection(ctx, ev, &mut v);
    if ctx.session {
        judge_session::lines(ctx, ev, &mut v, &mut changes);
    }
    advice::other_changes(ctx, ev, &mut v, &mut changes);
    judge_signal::expiry_signal(ctx, ev, &mut v);
    judge_signal::refresh_window(ctx, ev, &mut v, &mut changes);
    advice::unknowns(ctx, ev, &mut v);

    // Untimed blockers first, then shortest first; equal times keep the kind order.
    v.clocks
        .sort_by_key(|c| (c.secs.is_some(), c.secs.unwrap_or(0), c.kind as u8));
    let killers: Vec<&Clock> = v.clocks.iter().filter(|c| c.kills).collect();
    v.outcome = if no_token {
        Conclusion::NoToken
    } else if killers.is_empty() {
        Conclusion::Sustainable
    } else if killers
        .iter()
        .all(|c| matches!(c.kind, ClockKind::FirstApiCall | ClockKind::ApiMapping))
    {
        Conclusion::ApiNotVerified
    } else {
        Conclusion::CannotSustain
    };
    v.killer = killers
        .first()
        .map(|c| c.kind)
        .or_else(|| v.clocks.first().map(|c| c.kind));

    // What to change: what makes the sync work first, then what would help.
    let mut lines: Vec<Line> = Vec::new();
    for pass in [true, false] {
        for c in v.clocks.iter().filter(|c| c.kills == pass) {
            if let Some(fix) = &c.fix {
                lines.push(Line::new(
                    format!("[{}] {}", fix.who, fix.change),
                    c.cites.clone(),
                ));
            }
        }
    }
    lines.extend(changes);
    if lines.is_empty() {
        let cites = nothing_cites(ev, &v);
        lines.push(Line::new(
            format!(
                "Nothing to change: nothing the probes saw ends the sync or needs a setting \
                 changed for a {} s sync.",
                ctx.sync_secs
            ),
            cites,
        ));
    }
    v.changes = lines;
    v.summary = summary(ctx, ev, &v);
    v
}

/// The findings a "nothing to change" rests on: the lifetime ones, else all.
fn nothing_cites(ev: &[Evidence], v: &Verdict) -> Vec<String> {
    let mut c: Vec<String> = v.clocks.iter().flat_map(|c| c.cites.clone()).collect();
    c.extend(ids(ev, |c| {
        matches!(c, Claim::Ttl { .. } | Claim::NothingShorterThan { .. })
    }));
    if c.is_empty() {
        c = ev.iter().map(|e| e.id.clone()).collect();
    }
    c.dedup();
    c
}

/// The TTL the verdict trusts, the scope that shortens it, and its clock.
fn ttl(ctx: &Context, ev: &[Evidence], v: &mut Verdict, changes: &mut Vec<Line>) {
    let d = ctx.sync_secs;
    let ttls: Vec<(&Evidence, u64)> = ev
        .iter()
        .filter_map(|e| match e.claim {
            Claim::Ttl { secs } => Some((e, secs)),
            _ => None,
        })
        .collect();
    let Some(min) = ttls.iter().map(|(_, s)| *s).min() else {
        return;
    };
    let (agree, disagree): (Vec<_>, Vec<_>) = ttls.iter().partition(|(_, s)| *s <= min + 2);
    // Among those agreeing, an exact statement before an estimate: the stated expires_in,
    // else the JWT's exp − iat, else the shortest. Estimates read against `Date` (whole
    // seconds) land a second either side, and a second lost must not rename the TTL.
    let stated = |src: Source| agree.iter().find(|(e, _)| e.source == src);
    let chosen = stated(Source::ExpiresIn)
        .or_else(|| stated(Source::JwtClaims))
        .map_or(min, |(_, s)| *s);
    let mut cites: Vec<String> = agree.iter().map(|(e, _)| e.id.clone()).collect();
    let header_agrees = ids(
        ev,
        |c| matches!(c, Claim::EndsBy { secs } if secs.abs_diff(chosen) <= 2),
    );
    cites.extend(header_agrees.iter().cloned());
    let overstated = !disagree.is_empty();
    if overstated {
        let longest = disagree.iter().map(|(_, s)| *s).max().unwrap_or(min);
        v.conflicts.push(Conflict {
            text: format!(
                "The findings disagree on the token's lifetime: {} s against {longest} s. \
                 Trusting {chosen} s: a token is refused at its earliest end{}.",
                chosen,
                if header_agrees.is_empty() {
                    ""
                } else {
                    ", and X-Token-Expires-In agrees"
                }
            ),
            findings: ttls.iter().map(|(e, _)| e.id.clone()).collect(),
            trusted: cites.clone(),
        });
    }
    v.token_lifetime_secs = Some(chosen);
    let shortening = scope_cause(ctx, ev, v, chosen);

    if chosen > d && (chosen as f64) >= ctx.min_workable_secs {
        v.reasons.push(Line::new(
            format!("Tokens live {chosen} s, longer than the {d} s sync."),
            cites,
        ));
        return;
    }
    let too_short = (chosen as f64) < ctx.min_workable_secs;
    let no_header = !ids(ev, |c| matches!(c, Claim::NoExpiryHeader)).is_empty();
    let renew = v.renewal != RenewalPath::None;
    let kills = too_short || !renew || (overstated && no_header);
    let (cause, fix) = match &shortening {
        Some((scope, st, base, scope_ids)) => {
            cites.extend(scope_ids.iter().cloned());
            (
                format!(", because scope {scope} carries its own TTL of {st} s (default {base} s)"),
                Some(Fix {
                    who: Who::ServerAdmin,
                    change: format!(
                        "Raise or remove the per-scope TTL of {scope} ({st} s; the default is \
                         {base} s) if {} s tokens are meant; or drop {scope} from auth.scopes \
                         if the sync does not need it.",
                        ctx.expected_ttl_secs
                    ),
                }),
            )
        }
        None if overstated => (
            ", though expires_in states longer".to_string(),
            Some(Fix {
                who: Who::ServerAdmin,
                change: format!(
                    "The token answer overstates the lifetime: have expires_in state the \
                     {chosen} s the token really lives (its JWT exp){}.",
                    if no_header {
                        "; until then supsync renews only after a refused call"
                    } else {
                        ""
                    }
                ),
            }),
        ),
        None if v.default_ttl_secs.is_some_and(|b| b.abs_diff(chosen) <= 2)
            && chosen < ctx.expected_ttl_secs =>
        {
            (
                ", the server's default TTL (no scope shortens it)".to_string(),
                Some(Fix {
                    who: Who::ServerAdmin,
                    change: format!(
                        "The server's default TTL is {chosen} s, not the expected {} s: have it \
                         raised if longer tokens are meant, or set auth.expected_ttl_secs = \
                         {chosen}.",
                        ctx.expected_ttl_secs
                    ),
                }),
            )
        }
        None => (String::new(), None),
    };
    let fix = if too_short {
        Some(Fix {
            who: Who::ServerAdmin,
            change: format!(
                "Tokens live {chosen} s: counted in whole seconds, with {:.2} s to fetch one \
                 and carry a request, they die before a segment finishes. Have the TTL raised{}.",
                ctx.min_workable_secs,
                shortening
                    .as_ref()
                    .map(|(s, ..)| format!(" (the per-scope TTL of {s})"))
                    .unwrap_or_default()
            ),
        })
    } else if !renew {
        Some(Fix {
            who: Who::ClientRegistration,
            change: "Neither a refresh nor a new client-credentials grant worked: have the \
                     client allowed to renew (refresh tokens or repeated client-credentials \
                     grants)."
                .to_string(),
        })
    } else {
        fix
    };
    // A run renews each token its refresh margin before it ends (the margin capped to a
    // share of the lifetime, as the token manager caps it), so a token serves less than
    // its lifetime.
    let margin = ctx
        .refresh_margin_secs
        .min(chosen / u64::from(crate::auth::state::MARGIN_FRACTION));
    let serves = chosen.saturating_sub(margin).max(1);
    let renewals = d.div_ceil(serves).saturating_sub(1).max(1);
    v.clocks.push(Clock {
        kind: ClockKind::Ttl,
        secs: Some(chosen),
        what: format!("TTL {chosen} s{cause}"),
        kills,
        handled: (!kills).then(|| {
            format!(
                "renewed ahead of time {} (about {renewals} per sync)",
                more::means(v.renewal)
            )
        }),
        fix,
        cites: cites.clone(),
    });
    // The margin only matters when it is long against the token's life.
    if !too_short && ctx.refresh_margin_secs.saturating_mul(2) > chosen {
        changes.push(Line::new(
            format!(
                "[{}] auth.refresh_margin_secs {} is long for {chosen} s tokens; supsync caps \
                 it to a fraction of the lifetime, but set it to about {} s to say so.",
                Who::SupsyncConfig,
                ctx.refresh_margin_secs,
                (chosen / 4).max(1)
            ),
            cites,
        ));
    }
}

/// The scope whose own TTL the token carries: `(scope, its TTL, default TTL, cites)`.
/// The default is the TTL of a request without scope unless the server granted default
/// scopes to it (then the longest single-scope TTL stands in).
fn scope_cause(
    _ctx: &Context,
    ev: &[Evidence],
    v: &mut Verdict,
    ttl: u64,
) -> Option<(String, u64, u64, Vec<String>)> {
    let mut none: Option<(&Evidence, u64, Option<Vec<String>>)> = None;
    let mut singles: Vec<(&Evidence, String, u64)> = Vec::new();
    for e in ev {
        if let Claim::ScopeTtl {
            scope,
            secs,
            granted,
        } = &e.claim
        {
            match scope {
                None => none = Some((e, *secs, granted.clone())),
                Some(s) => singles.push((e, s.clone(), *secs)),
            }
        }
    }
    let longest = singles.iter().max_by_key(|(_, _, s)| *s);
    let baseline = match (&none, longest) {
        (Some((e, secs, Some(g))), _) if !g.is_empty() => {
            v.reasons.push(Line::new(
                format!(
                    "A request without scope was granted \"{}\" (default scopes, RFC 6749 \
                     §3.3): its {secs} s is not the server's default TTL{}.",
                    g.join(" "),
                    longest
                        .map(|(_, s, t)| format!("; {s} alone ({t} s) stands in for it"))
                        .unwrap_or_default()
                ),
                [Some(e.id.clone()), longest.map(|(e, ..)| e.id.clone())]
                    .into_iter()
                    .flatten()
                    .collect(),
            ));
            longest.map(|(_, _, t)| *t)
        }
        (Some((e, secs, None)), Some((le, ls, lt))) if secs + 2 < *lt => {
            v.conflicts.push(Conflict {
                text: format!(
                    "A token asked for without scope lives {secs} s, shorter than one for {ls} \
                     alone ({lt} s): the server most likely grants default scopes to a \
                     scope-less request (it did not say which). Trusting the single-scope \
                     TTLs for the default."
                ),
                findings: vec![e.id.clone(), le.id.clone()],
                trusted: vec![le.id.clone()],
            });
            Some(*lt)
        }
        (Some((_, secs, _)), _) => Some(*secs),
        (None, l) => l.map(|(_, _, t)| *t),
    };
    v.default_ttl_secs = baseline;
    let (e, scope, st) = singles.iter().min_by_key(|(_, _, s)| *s)?;
    let base = baseline?;
    if *st + 2 > base || st.abs_diff(ttl) > 2 {
        return None;
    }
    v.shortening_scope = Some(scope.clone());
    let mut cites = vec![e.id.clone()];
    cites.extend(
        ev.iter()
            .filter(|x| matches!(&x.claim, Claim::ScopeTtl { secs, .. } if *secs == base))
            .map(|x| x.id.clone())
            .take(1),
    );
    Some((scope.clone(), *st, base, cites))
}

fn summary(ctx: &Context, ev: &[Evidence], v: &Verdict) -> Line {
    let d = ctx.sync_secs;
    let killers: Vec<&Clock> = v.clocks.iter().filter(|c| c.kills).collect();
    let list = |cs: &[&Clock]| {
        cs.iter()
            .map(|c| c.what.clone())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let all: Vec<&Clock> = v.clocks.iter().collect();
    let cites = |cs: &[&Clock]| {
        let mut c: Vec<String> = cs.iter().flat_map(|c| c.cites.clone()).collect();
        c.dedup();
        c
    };
    match v.outcome {
        Conclusion::NoToken => Line::new(
            format!(
                "No {} with this configuration: {}. {}",
                ctx.noun(),
                list(&killers),
                killers
                    .first()
                    .and_then(|c| c.fix.as_ref())
                    .map(|f| f.change.clone())
                    .unwrap_or_default()
            ),
            cites(&killers),
        ),
        Conclusion::CannotSustain | Conclusion::ApiNotVerified => Line::new(
            format!(
                "supsync cannot keep a {d} s sync alive as configured. {} kill{} it: {}. See \
                 what to change.",
                killers.len(),
                if killers.len() == 1 { "s" } else { "" },
                list(&killers)
            ),
            cites(&killers),
        ),
        Conclusion::Sustainable if all.is_empty() => Line::new(
            format!(
                "Fine: nothing the probes saw ends a {} within a {d} s sync{}.",
                ctx.noun(),
                v.token_lifetime_secs
                    .map(|t| format!(" (tokens live {t} s)"))
                    .unwrap_or_default()
            ),
            nothing_cites(ev, v),
        ),
        Conclusion::Sustainable => Line::new(
            format!(
                "supsync can keep a {d} s sync alive. Clocks within it, shortest first: {}. {}",
                all.iter()
                    .map(|c| c.what.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
                "Each is handled (see below)."
            ),
            cites(&all),
        ),
    }
}
