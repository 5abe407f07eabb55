//! The clocks besides the TTL, the blockers (token endpoint, client authentication, the
//! first API call), the changes that are not a clock's fix, and what was not measured.

use super::clocks::ids;
use super::evidence::{Claim, Evidence, Source};
use super::verdict::{Clock, ClockKind, Conflict, Context, Fix, Line, Renewal, Verdict, Who};

fn clock(kind: ClockKind, secs: Option<u64>, what: String, cites: Vec<String>) -> Clock {
    Clock {
        kind,
        secs,
        what,
        kills: false,
        handled: None,
        fix: None,
        cites,
    }
}

fn new_session(ev: &[Evidence]) -> (bool, Vec<String>) {
    let ok = ids(ev, |c| matches!(c, Claim::NewSession { ok: true, .. }));
    let all = ids(ev, |c| matches!(c, Claim::NewSession { .. }));
    (!ok.is_empty(), all)
}

/// How supsync renews, from the refresh and re-grant outcomes.
pub(super) fn renewal(ev: &[Evidence], v: &mut Verdict) -> Renewal {
    let refresh = ids(ev, |c| matches!(c, Claim::Refresh { ok: true, .. }));
    let (regrant, regrant_ids) = new_session(ev);
    let (r, text, cites) = if !refresh.is_empty() {
        (
            Renewal::RefreshToken,
            "supsync renews with the refresh token (a refresh worked)",
            refresh,
        )
    } else if regrant {
        (
            Renewal::ClientCredentials,
            "supsync renews with new client-credentials grants (a second grant worked)",
            regrant_ids,
        )
    } else {
        let cites = ids(ev, |c| {
            matches!(c, Claim::Refresh { .. } | Claim::NewSession { .. })
        });
        if cites.is_empty() {
            return Renewal::None;
        }
        (
            Renewal::None,
            "supsync has no way to renew: neither a refresh nor a new grant worked",
            cites,
        )
    };
    v.reasons.push(Line::new(text, cites));
    r
}

pub(super) fn means(r: Renewal) -> &'static str {
    match r {
        Renewal::RefreshToken => "with the refresh token",
        Renewal::ClientCredentials => "with new client-credentials grants",
        Renewal::None => "(no way to renew)",
    }
}

/// No token with the configuration as it is. Returns whether that is so.
pub(super) fn token_endpoint(ctx: &Context, ev: &[Evidence], v: &mut Verdict) -> bool {
    let mut blocked = false;
    for e in ev {
        match &e.claim {
            Claim::ClientAuthMismatch {
                configured,
                refused_with,
                accepted,
            } => {
                blocked = true;
                let mut c = clock(
                    ClockKind::ClientAuth,
                    None,
                    match accepted {
                        Some(a) => format!(
                            "{configured} was refused with {refused_with}; the server accepts {a}"
                        ),
                        None => format!("{configured} was refused with {refused_with}"),
                    },
                    vec![e.id.clone()],
                );
                c.kills = true;
                c.fix = Some(match accepted.as_deref() {
                    Some(a) => Fix {
                        who: Who::SupsyncConfig,
                        change: format!(
                            "Set auth.auth_style = \"{}\" ({a}); the findings below were \
                             measured with it.",
                            if a.ends_with("post") { "post" } else { "basic" }
                        ),
                    },
                    None => Fix {
                        who: Who::ClientRegistration,
                        change: format!(
                            "Check auth.client_id ({}) and the client secret \
                             (SUPSYNC_CLIENT_SECRET, auth.client_secret_file or \
                             auth.client_secret) against the server's registration; neither \
                             method was accepted.",
                            ctx.client_id
                        ),
                    },
                });
                v.clocks.push(c);
            }
            Claim::TokenRefused {
                code,
                http_status,
                message,
                ..
            } => {
                blocked = true;
                let mut c = clock(
                    ClockKind::TokenEndpoint,
                    None,
                    message.clone(),
                    vec![e.id.clone()],
                );
                c.kills = true;
                let (who, change) = match (code.as_deref(), http_status) {
                    (Some("invalid_client"), _) => (
                        Who::ClientRegistration,
                        format!(
                            "Check auth.client_id ({}), the client secret \
                             (SUPSYNC_CLIENT_SECRET, auth.client_secret_file or \
                             auth.client_secret) and auth.auth_style against what the server \
                             has registered.",
                            ctx.client_id
                        ),
                    ),
                    (Some("invalid_scope"), _) => (
                        Who::ClientRegistration,
                        format!(
                            "Check auth.scopes ({}): the server does not allow them for client {}.",
                            ctx.requested_scopes.join(" "),
                            ctx.client_id
                        ),
                    ),
                    (Some("unauthorized_client" | "unsupported_grant_type"), _) => (
                        Who::ClientRegistration,
                        "Have the client allowed the client_credentials grant.".to_string(),
                    ),
                    (Some(_), _) => (
                        Who::ServerAdmin,
                        "The server's words above say what it objects to; ask its admin."
                            .to_string(),
                    ),
                    (None, Some(429)) => (
                        Who::ServerAdmin,
                        format!(
                            "The token endpoint {} is rate-limiting this client (429): wait as \
                             it asks and try again; if it persists, have the client's \
                             token-request limit raised (supsync paces its own requests with \
                             auth.min_token_interval_ms).",
                            ctx.token_url
                        ),
                    ),
                    (None, Some(_)) => (
                        Who::ServerAdmin,
                        format!(
                            "The token endpoint {} answered without a token: it is failing. Try \
                             again later; if it persists, ask its operators.",
                            ctx.token_url
                        ),
                    ),
                    (None, None) => (
                        Who::Network,
                        format!(
                            "Check that the token endpoint {} is right (api.base_url, \
                             auth.token_url) and reachable from here (proxy, firewall).",
                            ctx.token_url
                        ),
                    ),
                };
                c.fix = Some(Fix { who, change });
                v.clocks.push(c);
            }
            _ => {}
        }
    }
    blocked
}

/// The first API call must answer 2xx, or nothing else is verified.
pub(super) fn first_api_call(ctx: &Context, ev: &[Evidence], v: &mut Verdict) {
    for e in ev {
        let Claim::FirstApiCall {
            ok: false,
            status,
            location,
            error,
        } = &e.claim
        else {
            continue;
        };
        let mut cites = vec![e.id.clone()];
        cites.extend(ids(ev, |c| matches!(c, Claim::FreshTokenRefused { .. })));
        let url = &ctx.health_url;
        let (what, who, change) = match status {
            None => (
                "the first API call got no answer".to_string(),
                Who::Network,
                format!(
                    "Nothing answered {url} within api.timeout_secs: check the host and port \
                     in api.base_url, any proxy or firewall on the way, and api.timeout_secs."
                ),
            ),
            Some(s) if (300..400).contains(s) => (
                format!(
                    "the first API call was redirected{}",
                    location
                        .as_deref()
                        .map(|l| format!(" to {l}"))
                        .unwrap_or_default()
                ),
                Who::SupsyncConfig,
                "Point api.health_path (or api.base_url) at where the redirect leads: supsync \
                 never follows a redirect with a bearer token. A redirect to a login page means \
                 a proxy in front of the API wants its own login."
                    .to_string(),
            ),
            Some(401 | 403) => (
                "a fresh token was refused by the API".to_string(),
                Who::ClientRegistration,
                format!(
                    "The API refuses a token the server just issued ({}): check auth.scopes and \
                     the client's rights on the API.",
                    error.as_deref().unwrap_or("no reason given")
                ),
            ),
            Some(404 | 405) => (
                "the first API call found no health endpoint".to_string(),
                Who::SupsyncConfig,
                format!("Check api.health_path and api.base_url: {url} does not exist."),
            ),
            Some(s) if *s == 429 || *s >= 500 => (
                "the API is failing or rate-limiting".to_string(),
                Who::ServerAdmin,
                "Try again later; if it persists, ask the API's operators.".to_string(),
            ),
            Some(_) => (
                "the first API call was refused".to_string(),
                Who::SupsyncConfig,
                format!("Check api.health_path and api.base_url ({url})."),
            ),
        };
        let mut c = clock(ClockKind::FirstApiCall, None, what, cites);
        c.kills = true;
        c.fix = Some(Fix { who, change });
        v.clocks.push(c);
    }
}

/// Tokens revoked in use: never an idle window, never fixed by keep-alive.
pub(super) fn revocation(_ctx: &Context, ev: &[Evidence], v: &mut Verdict) {
    let revoked: Vec<(&Evidence, Option<u64>)> = ev
        .iter()
        .filter_map(|e| match e.claim {
            Claim::Revoked { after_uses } => Some((e, after_uses)),
            _ => None,
        })
        .collect();
    if revoked.is_empty() {
        return;
    }
    let uses = revoked.iter().filter_map(|(_, u)| *u).min();
    let after = uses
        .map(|u| format!(" after {u} calls"))
        .unwrap_or_default();
    let mut c = clock(
        ClockKind::Revocation,
        None,
        format!("the server revokes tokens in use{after} (\"Token revoked\"), not an idle window"),
        revoked.iter().map(|(e, _)| e.id.clone()).collect(),
    );
    c.kills = true;
    c.fix = Some(Fix {
        who: Who::ServerAdmin,
        change: format!(
            "Have the revocation of tokens{after} removed, or its limit raised far above the \
             calls of a sync. Do not lower auth.keepalive_secs: each keep-alive is a use and \
             would only spend them faster."
        ),
    });
    v.clocks.push(c);
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
    let header = ids(ev, |c| matches!(c, Claim::NoExpiryHeader)).is_empty();
    let k = ctx.keepalive_secs;
    let hint = ctx.idle_hint_secs > 0 && ctx.idle_hint_secs <= w;
    let cadence = k < w;
    let mut c = clock(
        ClockKind::Idle,
        Some(w),
        format!("idle window {w} s (a token unused that long dies)"),
        cites,
    );
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
        c.fix = Some(Fix {
            who: Who::SupsyncConfig,
            change: format!(
                "Set auth.idle_timeout_secs = {w} (keep-alive then twice per window) or \
                 auth.keepalive_secs = {}: auth.keepalive_secs {k} is not inside the {w} s idle \
                 window{}.",
                (w / 3).max(1),
                if header {
                    ", so a pause before supsync has learned the window loses the token"
                } else {
                    " and this server sends no X-Token-Expires-In to learn it from"
                }
            ),
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
    session_like(
        ctx,
        ev,
        v,
        ClockKind::Session,
        s,
        format!("session limit {s} s (from the client-credentials grant, refresh or not)"),
        cites,
    );
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
                        "[{}] Add offline_access to auth.scopes{}: with a refresh token supsync \
                         renews without a new session each time.",
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
                    "Idle window: not measured. A token left unused {s} s survived; a longer \
                     window would not show in that time. `supsync diagnose --probe-secs {}` \
                     leaves one unused longer than auth.keepalive_secs ({} s): if it survives, \
                     the keep-alive holds tokens open.",
                    ctx.keepalive_secs + 5,
                    ctx.keepalive_secs
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
                    "Revocation after many uses: not measured beyond {uses} calls on one token. \
                     `supsync diagnose --probe-calls N` makes N calls in a row."
                ),
                vec![id],
            ));
        }
    }
}
