//! Findings from the token answers: `expires_in`, the JWT's claims and the server's
//! `Date`, the TTL per scope set, refresh tokens and their expiry, a second session.

use super::claim::{Claim, Collector, Source};
use super::findings::{Findings, TokenFinding};
use crate::auth::status::LifetimeSource;

pub(super) fn token(c: &mut Collector, f: &Findings, tok: &TokenFinding) {
    match tok.expires_in_secs {
        Some(e) => c.add(
            Source::ExpiresIn,
            format!(
                "expires_in {e} s for scopes \"{}\" (expected {} s)",
                f.requested_scopes.join(" "),
                f.expected_ttl_secs
            ),
            Claim::Ttl { secs: e },
        ),
        None if tok.lifetime_source == Some(LifetimeSource::Configured) => c.add(
            Source::ExpiresIn,
            format!(
                "no expires_in and no JWT exp: supsync plans with auth.expected_ttl_secs ({} s)",
                f.expected_ttl_secs
            ),
            Claim::NoLifetimeStated,
        ),
        None => {}
    }
    if let Some(j) = &tok.jwt
        && let Some(l) = j.lifetime_secs().filter(|l| *l > 0)
    {
        c.add(
            Source::JwtClaims,
            format!("JWT exp - iat = {l} s (claims decoded without verification)"),
            Claim::Ttl { secs: l as u64 },
        );
    }
    if let (Some(r), Some(age)) = (
        f.clock_skew.jwt_exp_minus_date_secs,
        f.clock_skew.at_token_age_secs,
    ) && r > 0
    {
        let by_server = (r as f64 + age).round() as u64;
        c.add(
            Source::ServerDate,
            format!(
                "JWT exp is {r} s after the server's Date at token age {age:.1} s: about \
                 {by_server} s by the server's own clock"
            ),
            Claim::Ttl { secs: by_server },
        );
    }
    if let Some(skew) = f.clock_skew.date_skew_secs {
        let local = tok
            .jwt
            .as_ref()
            .and_then(|j| j.lifetime_secs())
            .map(|l| {
                format!(
                    "; JWT exp read against the local clock would say about {} s",
                    l - skew
                )
            })
            .unwrap_or_default();
        c.add(
            Source::ServerDate,
            format!("server Date minus local clock: {skew:+} s (±1 s){local}"),
            Claim::ClockSkew { secs: skew },
        );
    }
    scopes(c, f, tok);
    refresh(c, f, tok);
}

fn scopes(c: &mut Collector, f: &Findings, tok: &TokenFinding) {
    let t = &f.scope_ttls;
    let granted_words = |g: &Option<Vec<String>>| match g {
        Some(g) if g.is_empty() => ", granted no scope".to_string(),
        Some(g) => format!(", granted \"{}\"", g.join(" ")),
        None => ", granted scope not stated".to_string(),
    };
    if let Some(secs) = t.no_scope.expires_in_secs {
        c.add(
            Source::Scope,
            format!(
                "a token asked for without scope: expires_in {secs} s{}",
                granted_words(&t.no_scope.granted)
            ),
            Claim::ScopeTtl {
                scope: None,
                secs,
                granted: t.no_scope.granted.clone(),
            },
        );
    }
    for s in &t.alone {
        if let Some(secs) = s.expires_in_secs {
            c.add(
                Source::Scope,
                format!(
                    "a token for {} alone: expires_in {secs} s{}",
                    s.scope,
                    granted_words(&s.granted)
                ),
                Claim::ScopeTtl {
                    scope: Some(s.scope.clone()),
                    secs,
                    granted: s.granted.clone(),
                },
            );
        }
    }
    if !tok.missing_scopes.is_empty() {
        c.add(
            Source::Scope,
            format!(
                "requested \"{}\", the server did not grant {}",
                f.requested_scopes.join(" "),
                tok.missing_scopes.join(" ")
            ),
            Claim::ScopesNotGranted {
                scopes: tok.missing_scopes.clone(),
            },
        );
    }
}

fn refresh(c: &mut Collector, f: &Findings, tok: &TokenFinding) {
    let offline = f.requested_scopes.iter().any(|s| s == "offline_access");
    let with = f.refresh.with_offline_access;
    c.add(
        Source::Refresh,
        match (&tok.refresh_token, offline, with) {
            (Some(fp), _, _) => format!("a refresh token came ({fp})"),
            (None, true, _) => "no refresh token came, though offline_access was requested".into(),
            (None, false, Some(true)) => "no refresh token came; offline_access was not \
                requested, and a grant with it added did bring one"
                .into(),
            (None, false, Some(false)) => "no refresh token came, not even for a grant with \
                offline_access added"
                .into(),
            (None, false, None) => "no refresh token came; offline_access was not requested".into(),
        },
        Claim::RefreshToken {
            issued: tok.refresh_token.is_some(),
            offline_access_requested: offline,
            with_offline_access: with,
        },
    );
    let r = &f.refresh;
    if let Some(ok) = r.ok {
        let words = if ok {
            format!(
                "one refresh after {:.1} s worked; the refresh token {}",
                r.after_secs.unwrap_or(0.0),
                if r.rotated == Some(true) {
                    "rotates"
                } else {
                    "does not rotate"
                }
            )
        } else {
            format!(
                "one refresh was refused: {}",
                r.error.as_deref().unwrap_or("no reason given")
            )
        };
        c.add(
            Source::Refresh,
            words,
            Claim::Refresh {
                ok,
                rotated: r.rotated,
                error: r.error.clone(),
            },
        );
    }
    refresh_expiry(c, f, tok);
    c.add(
        Source::Regrant,
        if f.new_session.ok {
            "a second client-credentials grant worked".to_string()
        } else {
            format!(
                "a second client-credentials grant was refused: {}",
                f.new_session.error.as_deref().unwrap_or("no reason given")
            )
        },
        Claim::NewSession {
            ok: f.new_session.ok,
            error: f.new_session.error.clone(),
        },
    );
}

/// `refresh_expires_in` before and after one refresh: falling with a rotating token is
/// the session's end; otherwise it is the refresh token's own expiry.
fn refresh_expiry(c: &mut Collector, f: &Findings, tok: &TokenFinding) {
    let r = &f.refresh;
    let Some(r1) = tok.refresh_expires_in_secs else {
        return;
    };
    match (r.after_secs, r.refresh_expires_in_secs, r.rotated) {
        (Some(after), Some(r2), Some(true))
            if after >= 1.0 && (r1 as f64 - r2 as f64) >= after / 2.0 =>
        {
            c.add(
                Source::RefreshExpiresIn,
                format!(
                    "refresh_expires_in fell from {r1} s to {r2} s across a refresh {after:.0} s \
                     later although the refresh token rotated: the session ends about {r1} s \
                     after it starts"
                ),
                Claim::SessionEnd { secs: r1 },
            );
        }
        (Some(after), Some(r2), _) => c.add(
            Source::RefreshExpiresIn,
            format!(
                "refresh_expires_in {r1} s, then {r2} s after a refresh {after:.0} s later: a \
                 refresh token lives about {r1} s"
            ),
            Claim::RefreshTokenExpiry { secs: r1 },
        ),
        _ => c.add(
            Source::RefreshExpiresIn,
            format!("refresh_expires_in {r1} s"),
            Claim::RefreshTokenExpiry { secs: r1 },
        ),
    }
    if let (Some(e1), Some(e2), Some(after)) =
        (tok.expires_in_secs, r.expires_in_secs, r.after_secs)
        && e2 + 2 < e1
    {
        let end = (after + e2 as f64).round() as u64;
        c.add(
            Source::Refresh,
            format!(
                "a token refreshed {after:.0} s into the session got expires_in {e2} s instead \
                 of {e1} s: capped by a session end about {end} s after its start"
            ),
            Claim::SessionEnd { secs: end },
        );
    }
}
