//! The verdict on a session login (pure, from the findings alone): no session at all and
//! what to fix, the session's cap against `auth.session_limit_secs`, one session per user,
//! the lockout risk of `auth.max_failed_logins`, the cached session and the logouts.
//! The idle window, the expiry signal and the calls are judged as for tokens.

use super::parts::clock;
use super::parts::ids;
use crate::diagnose::evidence::findings::LoginFailure;
use crate::diagnose::evidence::{Claim, Evidence};
use crate::diagnose::verdict::{ClockKind, Context, Fix, Line, RenewalPath, Verdict, Who};

/// No session with the configuration as it is. Returns whether that is so.
pub(super) fn login_blocker(ctx: &Context, ev: &[Evidence], v: &mut Verdict) -> bool {
    let mut blocked = false;
    for e in ev {
        let Claim::LoginFailed {
            reason,
            http_status,
            message,
        } = &e.claim
        else {
            continue;
        };
        blocked = true;
        let user = &ctx.client_id;
        let (who, change) = match reason {
            LoginFailure::BudgetSpent | LoginFailure::Refused => (
                Who::SupsyncConfig,
                format!(
                    "Fix the session password (SUPSYNC_SESSION_PASSWORD, \
                     auth.session.password_file or auth.session.password) or \
                     auth.session.username ({user}), then run `supsync resume`: no login is \
                     tried with this password again, by diagnose, run or resume, so the \
                     server does not lock the account."
                ),
            ),
            LoginFailure::Locked => (
                Who::ServerAdmin,
                format!(
                    "The server has locked {user}: wait for the lock to end or have its admin \
                     unlock it; fix the password first if it was wrong, then run `supsync \
                     resume`."
                ),
            ),
            LoginFailure::LockBusy => (
                Who::SupsyncConfig,
                format!(
                    "Another supsync process is logging in as {user}: run `supsync diagnose` \
                     again when it is done."
                ),
            ),
            LoginFailure::Unreachable => (
                Who::Network,
                format!(
                    "Check that the login endpoint {} is right (api.base_url, \
                     auth.session.login_path) and reachable from here (proxy, firewall).",
                    ctx.token_url
                ),
            ),
            LoginFailure::ServerError => (
                Who::ServerAdmin,
                format!(
                    "The login endpoint {} answered HTTP {}: try again later; if it persists, \
                     ask its operators.",
                    ctx.token_url,
                    http_status.map_or("-".into(), |s| s.to_string())
                ),
            ),
            LoginFailure::Unusable => (
                Who::SupsyncConfig,
                "Check auth.session.login_path (the login itself) and \
                 auth.session.session_from (where its answer puts the session id)."
                    .to_string(),
            ),
            LoginFailure::Rejected => (
                Who::SupsyncConfig,
                "Check auth.session.login_body, username_field and password_field against \
                 what the login expects."
                    .to_string(),
            ),
        };
        let mut c = clock(
            ClockKind::SessionLogin,
            None,
            message.clone(),
            vec![e.id.clone()],
        );
        c.kills = true;
        c.fix = Some(Fix { who, change });
        v.clocks.push(c);
    }
    blocked
}

/// How supsync renews a session: by a new login (docs/API.md §7.6).
pub(super) fn renewal(ev: &[Evidence], v: &mut Verdict) -> RenewalPath {
    let logins = ids(ev, |c| matches!(c, Claim::SessionLogin { .. }));
    if logins.is_empty() {
        return RenewalPath::None;
    }
    let borrowed = ev
        .iter()
        .any(|e| matches!(e.claim, Claim::SessionLogin { borrowed: true, .. }));
    v.reasons.push(Line::new(
        if borrowed {
            "supsync renews a session by logging in again once the cached one ends"
        } else {
            "supsync renews a session by logging in again (a login worked)"
        },
        logins,
    ));
    RenewalPath::SessionLogin
}

/// The session's cap, `s` seconds from its login, within the sync: supsync logs in again
/// ahead of it when told (`auth.session_limit_secs`) or after the call it refuses.
pub(super) fn cap(ctx: &Context, v: &mut Verdict, s: u64, what: String, cites: Vec<String>) {
    let hint = ctx.session_limit_hint_secs;
    let told = hint > 0 && hint <= s && s - hint <= 2;
    let mut c = clock(ClockKind::Session, Some(s), what, cites);
    let logins = ctx.sync_secs.div_ceil(s.max(1));
    if (s as f64) < ctx.min_workable_secs {
        c.kills = true;
        c.fix = Some(Fix {
            who: Who::ServerAdmin,
            change: format!(
                "The session cap ({s} s) leaves no room for a login and a call: have it raised."
            ),
        });
    } else if told {
        c.handled = Some(format!(
            "auth.session_limit_secs = {hint}: supsync logs in again ahead of the cap (about \
             {logins} logins per sync)"
        ));
    } else {
        c.handled = Some(format!(
            "supsync logs in again once X-Token-Expires-In shows the cap close, else after the \
             call the cap refuses, which it replays once (about {logins} logins per sync)"
        ));
        c.fix = Some(Fix {
            who: Who::SupsyncConfig,
            change: format!(
                "Set auth.session_limit_secs = {s}{}: supsync then logs in again ahead of the \
                 cap instead of after a call it refuses.",
                if hint > 0 {
                    format!(" (now {hint})")
                } else {
                    String::new()
                }
            ),
        });
    }
    v.clocks.push(c);
}

/// The lines only a session login has: one session per user, the lockout risk, the
/// cached session, a cap not seen, other ends, the logouts.
pub(super) fn lines(ctx: &Context, ev: &[Evidence], v: &mut Verdict, changes: &mut Vec<Line>) {
    let user = &ctx.client_id;
    for e in ev {
        let cite = vec![e.id.clone()];
        match &e.claim {
            Claim::SingleSession { single: true } => {
                v.single_session = Some(true);
                changes.push(Line::new(
                    format!(
                        "[{}] The server allows one session per user: a second login as {user} \
                         ended the first. Do not run two supsync processes with different \
                         caches (state dirs) for this user: each login ends the other's \
                         session. Processes sharing one state dir share one session.",
                        Who::SupsyncConfig
                    ),
                    cite,
                ));
            }
            Claim::SingleSession { single: false } => {
                v.single_session = Some(false);
                v.reasons.push(Line::new(
                    format!(
                        "A second login as {user} left the first session alive: the server \
                         allows several sessions per user, so supsync processes with different \
                         caches do not end each other's sessions."
                    ),
                    cite,
                ));
            }
            Claim::SingleSessionUntested { why } => v.unknowns.push(Line::new(
                format!(
                    "Whether a second login ends the first: not tested ({why}). Run `supsync \
                     diagnose` while no sync of {user} runs to test it."
                ),
                cite,
            )),
            Claim::LoginBudget { .. } => lockout(ctx, e, v, changes),
            Claim::SessionLogin { borrowed: true, .. } => {
                v.reasons.push(Line::new(
                    format!(
                        "A live session of {user} was in the token cache: diagnose used it as \
                         it is (no login, no logout), so a sync using it keeps it."
                    ),
                    cite.clone(),
                ));
                v.unknowns.push(Line::new(
                    "The password: not tried, as no login was made; a run tries it when the \
                     cached session ends.",
                    cite,
                ));
            }
            Claim::DeadCachedSession { cleared } => v.reasons.push(Line::new(
                format!(
                    "The token cache held a session the API refused; {}",
                    if *cleared {
                        "it is forgotten, so the next run logs in at once."
                    } else {
                        "it could not be removed: the next run logs in after one refused call."
                    }
                ),
                cite,
            )),
            Claim::SessionEnded { description } => v.reasons.push(Line::new(
                format!(
                    "A session ended during the probes for another reason: \"{description}\"{}",
                    if description.contains("newer login") {
                        format!(
                            ": another login as {user} (another process, or a person) ended \
                             it; with one session per user every login ends the others."
                        )
                    } else {
                        ".".into()
                    }
                ),
                cite,
            )),
            Claim::NoCapWithin { secs } if v.session_secs.is_none() => {
                if *secs >= ctx.sync_secs {
                    v.reasons.push(Line::new(
                        format!(
                            "Nothing ends a session kept alive within {secs} s of its login: \
                             longer than the {} s sync.",
                            ctx.sync_secs
                        ),
                        cite,
                    ));
                } else {
                    v.unknowns.push(Line::new(
                        format!(
                            "Session cap: not seen; a session kept alive with calls lived \
                             {secs} s past its login, so a cap, if any, is later. `supsync \
                             diagnose --wait-secs N` keeps one alive up to N s{}.",
                            match ctx.session_limit_hint_secs {
                                0 => "; if the server's admin knows the cap, set \
                                      auth.session_limit_secs to it"
                                    .to_string(),
                                h => format!("; auth.session_limit_secs = {h} is not checked"),
                            }
                        ),
                        cite,
                    ));
                }
            }
            Claim::Logout {
                configured,
                made,
                failed,
                ..
            } => v.reasons.push(Line::new(
                match (configured, failed) {
                    (true, 0) => format!(
                        "diagnose logged out the {made} session(s) it made \
                         (auth.session.logout_path); a run ends its session the same way."
                    ),
                    (true, n) => format!(
                        "{n} of diagnose's {made} logouts failed: those sessions end by the \
                         server's clocks."
                    ),
                    (false, _) => "auth.session.logout_path is not set: diagnose's sessions, \
                                   and a run's, end only by the server's idle window or cap."
                        .to_string(),
                },
                cite,
            )),
            _ => {}
        }
    }
}

/// `auth.max_failed_logins` against the lockout the server showed (a login budget
/// finding `e`).
fn lockout(ctx: &Context, e: &Evidence, v: &mut Verdict, changes: &mut Vec<Line>) {
    let Claim::LoginBudget {
        refused,
        max,
        lockout_after,
        locked,
    } = e.claim
    else {
        return;
    };
    let cite = vec![e.id.clone()];
    let user = &ctx.client_id;
    v.lockout_after = lockout_after;
    match lockout_after {
        Some(n) if max >= n && n > 1 => changes.push(Line::new(
            format!(
                "[{}] Set auth.max_failed_logins = {}: the server locks {user} after {n} failed \
                 logins in a row (its 423 says so), and supsync stops only after {max}, so a \
                 wrong password would lock the account for everyone using it.",
                Who::SupsyncConfig,
                n - 1
            ),
            cite,
        )),
        Some(n) if max >= n => changes.push(Line::new(
            format!(
                "[{}] The server locks {user} after a single failed login: have the lockout \
                 raised, or check the password before every run.",
                Who::ServerAdmin
            ),
            cite,
        )),
        Some(n) => v.reasons.push(Line::new(
            format!(
                "auth.max_failed_logins = {max} stops supsync {} refused login{} before the \
                 server locks {user} (after {n}, its 423 says).",
                n - max,
                if n - max == 1 { "" } else { "s" }
            ),
            cite,
        )),
        None if refused > 0 || locked => v.reasons.push(Line::new(
            format!(
                "{refused} refused login{} in a row counted for this password{}; the server \
                 did not name its lockout threshold: auth.max_failed_logins = {max} stops \
                 supsync after {max} (many servers lock after 5).",
                if refused == 1 { "" } else { "s" },
                if locked {
                    ", and the account was locked"
                } else {
                    ""
                }
            ),
            cite,
        )),
        None => {}
    }
}
