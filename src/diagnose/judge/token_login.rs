//! The verdict on a token login (pure, from its findings alone): no token (the login
//! refused or failed), the API not verified, the clock that ends the access tokens
//! against what a run plans renewals with, how the API answers a dead token, and the
//! refresh (works, rotates, the spent token refused again, its own lifetime).

use super::token_login_refresh::{answer, config, refresh, secs};
use crate::diagnose::evidence::token_login::{LoginResult, RefreshResult, TokenLoginFindings};
use crate::diagnose::verdict::{Conclusion, Fix, TokenLoginVerdict, Who};
use crate::exit;

/// The shortest lifetime that carries a renewal and a call.
const MIN_WORKABLE_SECS: f64 = 2.0;

/// How much earlier than planned a token may die and still count as dying on plan: a
/// second of whole-second rounding and a tenth for the server's own reckoning.
fn tolerance(planned: f64) -> f64 {
    1.0 + planned / 10.0
}

pub fn of(f: &TokenLoginFindings) -> TokenLoginVerdict {
    let mut v = TokenLoginVerdict {
        outcome: Conclusion::Sustainable,
        exit_code: exit::OK,
        summary: String::new(),
        lifetime_secs: None,
        lifetime_from: None,
        died_at_secs: f.watch.as_ref().and_then(|w| w.dead_age_secs),
        refreshes: matches!(f.refresh, RefreshResult::Ok { .. }),
        rotates: match &f.refresh {
            RefreshResult::Ok { rotated, .. } => Some(*rotated),
            _ => None,
        },
        facts: Vec::new(),
        changes: Vec::new(),
    };
    if !login(f, &mut v) || !first_call(f, &mut v) {
        return finish(v);
    }
    lifetime(f, &mut v);
    refresh(f, &mut v);
    if let Some(l) = &f.logout {
        v.facts.push(format!("Logout: {l}."));
    }
    finish(v)
}

/// The exit code of the outcome, and a summary when none was set.
fn finish(mut v: TokenLoginVerdict) -> TokenLoginVerdict {
    v.exit_code = match v.outcome {
        Conclusion::Sustainable => exit::OK,
        Conclusion::CannotSustain | Conclusion::ApiNotVerified => exit::DIAGNOSE_CANNOT_SUSTAIN,
        Conclusion::NoToken => exit::AUTH,
    };
    if v.summary.is_empty() {
        let renew = match v.refreshes {
            true => "refreshes",
            false => "logs in again",
        };
        v.summary = match (v.lifetime_secs, &v.lifetime_from) {
            (Some(l), Some(from)) => format!(
                "A sync can be kept alive: access tokens live {} ({from}), and supsync {renew} \
                 ahead of that.",
                secs(l)
            ),
            _ => format!(
                "A sync can be kept alive: supsync {renew} when the API refuses a token, and \
                 learns its lifetime then."
            ),
        };
        if !v.changes.is_empty() {
            v.summary
                .push_str(" One change avoids expired answers; see below.");
        }
    }
    v
}

/// The login; `false` when there is no token.
fn login(f: &TokenLoginFindings, v: &mut TokenLoginVerdict) -> bool {
    let s = &f.setup;
    let password = "the password (SUPSYNC_TOKEN_LOGIN_PASSWORD, auth.token_login.password_file \
                    or auth.token_login.password)";
    let (summary, change) = match &f.login {
        LoginResult::Ok { request_secs } => {
            v.facts.push(format!(
                "Logged in as {} at {} ({} login request, answered in {}).",
                s.user,
                s.login_url,
                f.logins,
                secs(*request_secs)
            ));
            return true;
        }
        LoginResult::Refused { answer } => (
            format!(
                "No token: the login as {} was refused ({answer}). diagnose made {} login and \
                 does not try again after a refusal: refused logins count toward locking the \
                 account.",
                s.user, f.logins
            ),
            format!(
                "Check auth.token_login.username ({}) and {password}, and that \
                 username_field and password_field name the login's fields.",
                s.user
            ),
        ),
        LoginResult::BudgetSpent { message } => (
            format!("No token: no login was tried. {message}"),
            format!("Fix {password}, then run `supsync diagnose` again."),
        ),
        LoginResult::Failed { message } => (
            format!("No token: the login at {} failed: {message}", s.login_url),
            "Check auth.token_login.login_path and api.base_url (reachable from here), and \
             that access_token_at points at the token in the login's answer."
                .to_string(),
        ),
        LoginResult::NotTried => (
            "No token: no login was made.".to_string(),
            "Run `supsync diagnose` again.".to_string(),
        ),
    };
    v.outcome = Conclusion::NoToken;
    v.summary = summary;
    v.changes.push(config(change));
    false
}

/// The first call with the fresh token; `false` when the API did not accept it.
fn first_call(f: &TokenLoginFindings, v: &mut TokenLoginVerdict) -> bool {
    let Some(c) = &f.first_call else {
        return true;
    };
    if c.is_success() {
        return true;
    }
    v.outcome = Conclusion::ApiNotVerified;
    if c.is_refusal() {
        v.summary = format!(
            "The API refused the token at once ({}): it does not take the token as it is sent \
             ({}).",
            answer(c),
            f.setup.send_as
        );
        v.changes.push(config(format!(
            "Check auth.token_login.send_as (now {:?}; most platforms want \"bearer\").",
            f.setup.send_as
        )));
    } else {
        v.summary = format!(
            "Not verified: the first call with the token got {}.",
            answer(c)
        );
        v.changes.push(config(
            "Check api.health_path and api.base_url: the call must answer 2xx with a live \
             token."
                .into(),
        ));
    }
    false
}

/// The lifetime as the answer states it, with its unit.
fn stated_words(f: &TokenLoginFindings, l: f64) -> String {
    let s = &f.setup;
    let raw = match s.lifetime_unit.as_str() {
        "ms" => format!("{} ms", (l * 1000.0).round() as u64),
        "at" => format!("an expiry {} away", secs(l)),
        _ => format!("{} s", l.round() as u64),
    };
    format!(
        "The login's answer states the access token's lifetime at {}: {raw} ({}).",
        s.lifetime_at,
        secs(l)
    )
}

/// The clock that ends the access tokens, against what a run plans with.
fn lifetime(f: &TokenLoginFindings, v: &mut TokenLoginVerdict) {
    let s = &f.setup;
    match (f.stated_lifetime_secs, s.lifetime_at.is_empty()) {
        (Some(l), _) => v.facts.push(stated_words(f, l)),
        (None, true) => v
            .facts
            .push("No lifetime pointer is configured (auth.token_login.lifetime_at).".into()),
        (None, false) => v.facts.push(format!(
            "The login's answer states no lifetime at {} (auth.token_login.lifetime_at).",
            s.lifetime_at
        )),
    }
    v.facts.push(match f.jwt_lifetime_secs {
        Some(j) => format!(
            "The access token is a JWT whose exp is {} away (read without checking its \
             signature).",
            secs(j)
        ),
        None => "The access token is no JWT with exp.".into(),
    });
    if s.lifetime_hint_secs > 0 {
        v.facts.push(format!(
            "auth.token_login.lifetime_secs = {}.",
            s.lifetime_hint_secs
        ));
    }
    let planned = f.planned_lifetime_secs;
    let from = f.planned_from.clone();
    let Some(w) = &f.watch else {
        v.lifetime_secs = planned;
        v.lifetime_from = from;
        return;
    };
    let (Some(dead), Some(died)) = (&w.dead, w.dead_age_secs) else {
        let alive = w.last_alive_secs.unwrap_or(0.0);
        v.facts.push(match &w.stopped_by {
            Some(c) => format!(
                "The watch stopped {} after the login on an answer that is neither 2xx nor a \
                 refusal: {}.",
                secs(c.token_age_secs),
                answer(c)
            ),
            None => format!(
                "The token was still accepted {} after the login, when the watch ended \
                 ({} calls, one every {}; `--wait-secs N` watches longer).",
                secs(alive),
                w.calls,
                secs(w.every_secs)
            ),
        });
        v.lifetime_secs = planned;
        v.lifetime_from = from;
        if planned.is_none() {
            v.facts.push(
                "Nothing states the lifetime and the token outlived the watch: a run uses the \
                 first token until the API refuses it, then renews ahead of that age (one \
                 expired answer per request in flight then)."
                    .into(),
            );
        }
        return;
    };
    let last = w
        .last_alive_secs
        .map_or(String::new(), |a| format!(", last accepted at {}", secs(a)));
    v.facts.push(format!(
        "The API refused the token {} after the login{last}: {} — the clock that ends it.",
        secs(died),
        answer(dead)
    ));
    v.lifetime_secs = Some(died);
    v.lifetime_from = Some(format!(
        "the first expired answer, {} after the login",
        secs(died)
    ));
    if died < MIN_WORKABLE_SECS {
        v.outcome = Conclusion::CannotSustain;
        v.summary = format!(
            "Tokens die {} after the login: too soon for a renewal and a call.",
            secs(died)
        );
        v.changes.push(Fix {
            who: Who::ServerAdmin,
            change: "Have the access tokens' lifetime raised (Directus: ACCESS_TOKEN_TTL).".into(),
        });
        return;
    }
    // A 403 or a 2xx carrying an error is taken for a dead token only by a rule.
    if dead.status != Some(401)
        && dead
            .expired_when
            .as_ref()
            .is_none_or(|r| r.matched.is_none())
    {
        v.outcome = Conclusion::CannotSustain;
        v.summary = format!(
            "The API answers a dead token with {}, which a run does not take for an expired \
             token: the call fails instead of renewing.",
            answer(dead)
        );
        let rule = dead.expired_when.as_ref().and_then(|r| r.suggested.clone());
        v.changes.push(config(match rule {
            Some(r) => format!("Add auth.expired_when = [{r:?}]."),
            None => "Add an auth.expired_when rule that matches this answer.".into(),
        }));
        return;
    }
    let fix = (died.floor() as u64).max(2);
    match planned {
        None => {
            v.facts.push(format!(
                "Nothing states the lifetime: a run uses the first token until the API refuses \
                 it ({} after the login here), then renews ahead of that age.",
                secs(died)
            ));
            v.changes.push(config(format!(
                "Set auth.token_login.lifetime_secs = {fix}: supsync then renews ahead of the \
                 {} clock from the first token on, without the expired answer it learns it \
                 from.",
                secs(died)
            )));
        }
        Some(p) if died + tolerance(p) < p => {
            v.facts.push(format!(
                "A run plans renewals with {} ({}), but the token died at {}: every token would \
                 meet an expired answer before its renewal (renewed then, the call replayed \
                 once).",
                secs(p),
                from.as_deref().unwrap_or("planned"),
                secs(died)
            ));
            v.changes.push(config(format!(
                "Set auth.token_login.lifetime_secs = {fix}: supsync then renews ahead of the \
                 {} clock instead of after a refused call.",
                secs(died)
            )));
        }
        Some(p) => {
            v.facts.push(format!(
                "A run plans renewals with {} ({}): ahead of the clock.",
                secs(p),
                from.as_deref().unwrap_or("planned")
            ));
        }
    }
}

#[cfg(test)]
#[path = "token_login_tests.rs"]
mod tests;
