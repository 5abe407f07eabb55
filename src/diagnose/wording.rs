//! The plain words of the verdict: the one-paragraph summary, the reasons (facts the
//! verdict rests on) and the advice (what to change). Pure string building over the
//! findings and what `verdict` decided.

use super::analysis::{IdleConclusion, SessionEstimate};
use super::findings::{ConnectionOutcome, Findings, TokenFinding};
use super::verdict::{KillerClock, Renewal};

/// How supsync renews here, as the end of "renewing it ahead of time …".
pub(super) fn renewal_means(
    f: &Findings,
    renewal: Renewal,
    session: Option<&SessionEstimate>,
) -> String {
    let new_sessions = match session {
        Some(s) if s.secs < f.sync_duration_secs && f.new_session.ok => {
            format!(
                ", and with a new client-credentials session every ~{} s",
                s.secs
            )
        }
        _ => String::new(),
    };
    match renewal {
        Renewal::RefreshToken => format!("with the refresh token{new_sessions}"),
        Renewal::ClientCredentials => "with new client-credentials grants".into(),
        Renewal::None => String::new(),
    }
}

/// Reasons and advice collected while reading the findings.
pub(super) struct Notes {
    pub reasons: Vec<String>,
    pub advice: Vec<String>,
}

/// Why the TTL is what it is: the clause for the summary (", because scope X …"), with
/// the matching advice.
pub(super) fn ttl_cause(
    f: &Findings,
    ttl: Option<u64>,
    shortening: Option<&(String, u64)>,
    default_ttl: Option<u64>,
    notes: &mut Notes,
) -> String {
    let mut cause = String::new();
    if let Some(t) = ttl {
        if t < f.expected_ttl_secs {
            cause = match (shortening, default_ttl) {
                (Some((scope, st)), def) if *st == t => format!(
                    ", because scope {scope} has a per-scope TTL of {st} s{}",
                    def.map(|d| format!(" (without it: {d} s)"))
                        .unwrap_or_default()
                ),
                (_, Some(def)) if def == t => {
                    format!(", because the server's default TTL is {t} s (no scope shortens it)")
                }
                _ => ", and no single configured scope explains it".into(),
            };
            match (shortening, default_ttl) {
                (Some((scope, st)), def) if *st == t => {
                    notes.advice.push(format!(
                        "Server policy: the per-scope TTL of {scope} ({st} s) overrides the \
                         default{}; have the server's admin raise or remove it if {} s tokens \
                         are meant.",
                        def.map(|d| format!(" of {d} s")).unwrap_or_default(),
                        f.expected_ttl_secs
                    ));
                    notes.advice.push(format!(
                        "Scopes: a token without {scope} lives longer, but drop it from \
                         auth.scopes only if the sync does not need it."
                    ));
                }
                (_, Some(def)) if def == t => notes.advice.push(format!(
                    "Server policy: the default TTL is {t} s; have it raised, or set \
                     auth.expected_ttl_secs = {t} so the expectation matches the server."
                )),
                _ => {}
            }
        } else if t > f.expected_ttl_secs {
            notes.reasons.push(format!(
                "Tokens live {t} s, longer than the expected {} s.",
                f.expected_ttl_secs
            ));
        }
    }

    cause
}

/// Whether `refresh_margin_secs` suits tokens of `lifetime`.
pub(super) fn margin(f: &Findings, lifetime: Option<u64>, notes: &mut Notes) {
    if let Some(l) = lifetime {
        let m = f.refresh_margin_secs;
        if m.saturating_mul(2) <= l {
            notes.advice.push(format!(
                "Client margin: refresh_margin_secs {m} is fine for {l} s tokens."
            ));
        } else {
            notes.advice.push(format!(
                "Client margin: refresh_margin_secs {m} is too long for {l} s tokens; supsync \
                 caps it to a fraction of the lifetime, but set it to about {} s to say so.",
                (l / 4).max(1)
            ));
        }
    }
}

/// What the idle probe means for a paused sync and `keepalive_secs`.
pub(super) fn idle(f: &Findings, idle: &IdleConclusion, notes: &mut Notes) {
    match idle {
        IdleConclusion::Sliding { secs } | IdleConclusion::DiedWhileIdle { secs, .. } => {
            let k = f.keepalive_secs;
            if k >= *secs {
                notes.advice.push(format!(
                    "Client keep-alive: keepalive_secs {k} is not shorter than the {secs} s \
                     idle window; set it to about {} s so a paused sync keeps its token.",
                    (secs / 3).max(1)
                ));
            } else {
                notes.reasons.push(format!(
                    "An idle window of about {secs} s kills a token left unused; supsync's \
                     keep-alive every {k} s (and every request) holds it open."
                ));
            }
        }
        IdleConclusion::TtlOnly { secs } => notes.reasons.push(format!(
            "No idle window or session limit shorter than {secs} s was seen."
        )),
        IdleConclusion::FixedEnd { .. } => {}
        IdleConclusion::Unknown { why } => {
            notes
                .reasons
                .push(format!("Idle window: not measured ({why})."));
        }
    }
}

/// The session limit against the sync's length.
pub(super) fn session(f: &Findings, session: Option<&SessionEstimate>, notes: &mut Notes) {
    let d = f.sync_duration_secs;
    if let Some(s) = session {
        if s.secs >= d {
            notes.reasons.push(format!(
                "The session ends about {} s after it starts: not before a {d} s sync ends.",
                s.secs
            ));
        } else {
            notes.reasons.push(format!(
                "The session ends about {} s after it starts; supsync then starts a new \
                 client-credentials session{}.",
                s.secs,
                if f.new_session.ok {
                    " (which works here)"
                } else {
                    ""
                }
            ));
        }
    } else if f.refresh.ok == Some(true) {
        notes.reasons.push(
            "No session limit was visible in one refresh; a longer refresh chain would show one."
                .into(),
        );
    }
}

/// Refresh tokens: issued at all, refused, rotating.
pub(super) fn refresh(f: &Findings, notes: &mut Notes) {
    match (f.refresh.issued, f.refresh.ok, f.refresh.rotated) {
        (false, _, _) => notes.reasons.push(
            "No refresh token came (RFC 6749 §4.4.3: a client-credentials grant SHOULD NOT \
             return one); supsync renews with new client-credentials grants."
                .into(),
        ),
        (true, Some(false), _) => notes.reasons.push(format!(
            "A refresh was refused ({}); supsync falls back to new client-credentials sessions.",
            f.refresh.error.as_deref().unwrap_or("no reason given")
        )),
        (true, Some(true), Some(true)) => notes.reasons.push(
            "Refresh works and rotates the refresh token (the old one is spent at once).".into(),
        ),
        (true, Some(true), _) => {
            notes
                .reasons
                .push("Refresh works; the refresh token does not rotate.".into());
        }
        (true, None, _) => {}
    }
}

/// Restricted scopes, clock skew and connections cut while idle.
pub(super) fn scopes_clocks_network(f: &Findings, tok: &TokenFinding, notes: &mut Notes) {
    if !tok.missing_scopes.is_empty() {
        notes.advice.push(format!(
            "Scopes: the server did not grant {}; calls that need it will be refused. Have \
             it allowed for client {}, or drop it from auth.scopes.",
            tok.missing_scopes.join(" "),
            f.client_id
        ));
    }

    let skew = f
        .clock_skew
        .date_skew_secs
        .or(f.clock_skew.jwt_iat_skew_secs);
    if let Some(s) = skew.filter(|s| s.abs() >= 5) {
        notes.advice.push(format!(
            "Clocks: the server's clock is {} s {} the local one; supsync counts lifetimes \
             from expires_in on its own monotonic clock and is not affected, but anything \
             comparing JWT exp with the local clock is. Fix NTP on the side that is off.",
            s.abs(),
            if s > 0 { "ahead of" } else { "behind" }
        ));
    }

    match f.connection.outcome {
        ConnectionOutcome::IdleConnectionCut => notes.advice.push(format!(
            "Network: connections left idle for {:.0} s were cut (twice) while fresh ones \
             worked: a proxy, load balancer or NAT between here and the server drops idle \
             connections. That is not the token: supsync retries such failures as transient, \
             but have that idle timeout raised, or keep keepalive_secs below it.",
            f.connection.idle_secs
        )),
        ConnectionOutcome::RandomDrops => notes.reasons.push(
            "A connection dropped, but not again after the same idle time: a transient fault, \
             not the token and not an idle-connection cut."
                .into(),
        ),
        _ => {}
    }
}

/// The verdict in one paragraph: which clock kills the token first, and whether supsync
/// can keep the sync alive.
pub(super) fn summary(
    f: &Findings,
    clock: KillerClock,
    lifetime: Option<u64>,
    cause: &str,
    fatal: &[String],
    how: &str,
    renewals: Option<u64>,
) -> String {
    let sustainable = fatal.is_empty();
    let d = f.sync_duration_secs;
    let expected = f.expected_ttl_secs;
    let first = match (clock, lifetime) {
        (KillerClock::Ttl, Some(l)) if l < expected => {
            format!(
                "The token's TTL kills it first: {l} s after issue, not the expected {expected} s{cause}."
            )
        }
        (KillerClock::Ttl, Some(l)) => {
            format!("The token's TTL ends it after {l} s (expected {expected} s).")
        }
        (KillerClock::Session, Some(l)) => format!(
            "The session's absolute limit kills the token first: about {l} s after the session starts, before its TTL."
        ),
        _ => "The server did not say how long its tokens live.".to_string(),
    };
    let second = if !sustainable {
        format!(
            "supsync cannot keep a {d} s sync alive: {}.",
            fatal.join("; ")
        )
    } else if lifetime.is_some_and(|l| l >= d) {
        format!("Fine: nothing kills it during a {d} s sync.")
    } else {
        match renewals {
            Some(n) => format!(
                "supsync can keep a {d} s sync alive by renewing it ahead of time {how} (about {n} renewal{} per sync).",
                if n == 1 { "" } else { "s" }
            ),
            None => format!("supsync can keep a {d} s sync alive by renewing ahead of time {how}."),
        }
    };
    format!("{first} {second}")
}
