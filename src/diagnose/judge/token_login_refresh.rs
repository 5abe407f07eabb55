//! The refresh of a token login, judged (pure): works and the API takes its token,
//! rotates, the spent refresh token refused again (reuse detection), the refresh token's
//! own lifetime; and the small words the token-login judge shares.

use crate::diagnose::evidence::findings::CallFinding;
use crate::diagnose::evidence::token_login::{RefreshResult, TokenLoginFindings};
use crate::diagnose::verdict::{Conclusion, Fix, TokenLoginVerdict, Who};

pub(super) fn config(change: String) -> Fix {
    Fix {
        who: Who::SupsyncConfig,
        change,
    }
}

/// A call's status and the server's words, for a sentence.
pub(super) fn answer(c: &CallFinding) -> String {
    let status = c
        .status
        .map_or_else(|| "no answer".to_string(), |s| format!("HTTP {s}"));
    match &c.error {
        Some(e) => format!("{status} \"{e}\""),
        None => status,
    }
}

pub(super) fn secs(s: f64) -> String {
    format!("{:.1} s", s)
}

/// Renewals per sync for tokens of `lifetime` seconds.
pub(super) fn per_sync(sync: u64, lifetime: f64) -> u64 {
    (sync as f64 / lifetime.max(1.0)).ceil() as u64
}

/// The refresh: works, rotates, the spent token refused again, its own lifetime.
pub(super) fn refresh(f: &TokenLoginFindings, v: &mut TokenLoginVerdict) {
    let s = &f.setup;
    let logins = v
        .lifetime_secs
        .map(|l| format!(" (about {} per sync)", per_sync(s.sync_secs, l)))
        .unwrap_or_default();
    match &f.refresh {
        RefreshResult::NotConfigured => {
            v.facts.push(format!(
                "No refresh endpoint (auth.token_login.refresh_path = \"\"): every renewal is a \
                 login{logins}."
            ));
            if f.refresh_token_issued {
                v.changes.push(config(
                    "The login issues a refresh token: set auth.token_login.refresh_path, so \
                     renewals refresh instead of logging in."
                        .into(),
                ));
            }
        }
        RefreshResult::NoRefreshToken => {
            v.facts.push(format!(
                "The login's answer has no refresh token at {:?} (auth.token_login.\
                 refresh_token_at): every renewal is a login{logins}.",
                s.refresh_token_at
            ));
        }
        RefreshResult::Refused { status, words } => {
            v.facts.push(format!(
                "The refresh endpoint refused the refresh token ({status}{}): a run falls back \
                 to a new login at each renewal{logins}.",
                words.as_deref().map_or(String::new(), |w| format!(": {w}"))
            ));
            v.changes.push(config(
                "Check auth.token_login.refresh_path, refresh_field and refresh_extra against \
                 the platform's refresh request."
                    .into(),
            ));
        }
        RefreshResult::Failed { message } => v.facts.push(format!(
            "The refresh failed ({message}): a run retries it, then logs in again."
        )),
        RefreshResult::Ok {
            rotated,
            kept,
            stated_lifetime_secs,
            call_after,
        } => {
            if let Some(c) = call_after.as_ref().filter(|c| !c.is_success()) {
                v.outcome = Conclusion::CannotSustain;
                v.summary = format!(
                    "The refresh answers, but the API refuses the refreshed access token ({}): \
                     renewals give tokens a run cannot use.",
                    answer(c)
                );
                v.changes.push(config(
                    "Check auth.token_login.access_token_at against the refresh's answer.".into(),
                ));
                return;
            }
            let rotation = match (rotated, kept) {
                (true, _) => "it rotates the refresh token (a new one each time)",
                (false, true) => "the answer holds no new refresh token: the old one stays in use",
                (false, false) => "the same refresh token came back: it does not rotate",
            };
            let life = stated_lifetime_secs
                .map(|l| format!(", the new token stated to live {}", secs(l)))
                .unwrap_or_default();
            v.facts.push(format!(
                "The refresh works: a new access token the API accepts{life}; {rotation}."
            ));
        }
    }
    if let Some(r) = &f.reuse {
        v.facts.push(match (r.refused, r.chain_revoked) {
            (true, Some(true)) => "The spent refresh token, presented again, was refused and \
                                   revoked the chain (the refreshed access token was refused \
                                   after it): processes on one user must share one state dir, \
                                   whose lock keeps them on one chain."
                .into(),
            (true, _) => "The spent refresh token, presented again, was refused: it is \
                          single-use."
                .into(),
            (false, _) => "The spent refresh token, presented again, was accepted: the server \
                           does not detect reuse."
                .into(),
        });
    } else if matches!(f.refresh, RefreshResult::Ok { rotated: true, .. }) {
        v.facts.push(
            "Whether the server detects a reused refresh token was not tried (--reuse-check \
             does: it presents the spent one again, which a server may log as a security \
             event)."
                .into(),
        );
    }
    match f.refresh_lifetime_secs {
        Some(r) if r < s.sync_secs => v.facts.push(format!(
            "The refresh token lives {r} s (stated in the answer), less than the {} s sync: a run \
             logs in again before it ends (about {} logins per sync).",
            s.sync_secs,
            s.sync_secs.div_ceil(r.max(1))
        )),
        Some(r) => v.facts.push(format!(
            "The refresh token lives {r} s (stated in the answer): longer than the {} s sync.",
            s.sync_secs
        )),
        None if f.refresh_token_issued => v.facts.push(
            "The answer states no lifetime for the refresh token; when it ends, the refused \
             refresh falls back to a login."
                .into(),
        ),
        None => {}
    }
}
