//! Findings of a session login (`auth.kind = "session"`, docs/API.md §7): how the session
//! was had, the login budget and the server's lockout, the calls made with it (shared with
//! tokens: `evidence_calls.rs`), whether a second login ends the first, the cap and idle
//! window watched within `--wait-secs`, the answer to a dead session, the logouts.

use super::claim::{Claim, Collector, Source, refusal};
use super::findings::*;
use super::said::DeadBy;
use crate::auth::manager::says_replaced_by_login;

pub(super) fn collect(c: &mut Collector, f: &Findings, s: &SessionFindings) {
    cache(c, s, &s.cache, "");
    login(c, s);
    budget(c, s);
    let Some(tok) = &f.token else {
        return;
    };
    if let Some(skew) = f.clock_skew.date_skew_secs {
        c.add(
            Source::ServerDate,
            format!("server Date minus local clock: {skew:+} s (±1 s)"),
            Claim::ClockSkew { secs: skew },
        );
    }
    super::calls::calls(c, f, tok);
    second_login(c, s);
    if let Some(w) = &s.cap_watch {
        cap_watch(c, w);
    }
    if let Some(d) = &s.idle_death {
        idle_death(c, d);
    }
    super::signal::collect(c, f);
    logout(c, s);
    if let Some(after) = &s.cache_after {
        cache(c, s, after, "at the end, ");
    }
}

fn cache(c: &mut Collector, s: &SessionFindings, read: &CacheRead, when: &str) {
    match read {
        CacheRead::Live {
            fingerprint,
            age_secs,
        } if s.borrowed && when.is_empty() => c.add(
            Source::TokenCache,
            format!(
                "a live session of {} in the token cache (session {fingerprint}, logged in \
                 {age_secs} s ago by a supsync process): the probes use it as it is — no \
                 login, no logout",
                s.user
            ),
            Claim::SessionLogin {
                logins: 0,
                borrowed: true,
            },
        ),
        CacheRead::Dead {
            fingerprint,
            answer,
            cleared,
        } => c.add(
            Source::TokenCache,
            format!(
                "{when}the token cache held a session the API refused (session {fingerprint}: \
                 {}): {}",
                refusal(answer).map_or_else(|| "refused".to_string(), |(w, _)| w),
                if *cleared {
                    "forgotten, so no run tries it"
                } else {
                    "it could not be removed"
                }
            ),
            Claim::DeadCachedSession { cleared: *cleared },
        ),
        _ => {}
    }
}

fn login(c: &mut Collector, s: &SessionFindings) {
    let sent = s.logins.iter().filter(|l| l.sent).count();
    let lock = match s.lock.outcome {
        LockOutcome::Held => format!(
            "each under the credential's lock {}",
            s.lock.path.as_deref().unwrap_or("")
        ),
        LockOutcome::Unavailable => format!(
            "without the credential's lock, which cannot be used ({})",
            s.lock.error.as_deref().unwrap_or("no reason given")
        ),
        LockOutcome::NoStateDir => "without a lock (no state dir)".into(),
        LockOutcome::Busy => "none while another process held the credential's lock".into(),
    };
    let unreadable = match &s.cache {
        CacheRead::Unreadable { error } => {
            format!(" (the token cache could not be read: {error}; a run starts afresh too)")
        }
        _ => String::new(),
    };
    if let Some(e) = &s.login_error {
        let made = match sent {
            0 => "no login request made by diagnose".to_string(),
            n => format!("{n} login request{} made by diagnose, {lock}", plural(n)),
        };
        c.add(
            Source::SessionLogin,
            format!("{} ({made}){unreadable}", e.message),
            Claim::LoginFailed {
                reason: e.reason,
                http_status: e.http_status,
                message: e.message.clone(),
            },
        );
        return;
    }
    if s.borrowed {
        return;
    }
    let Some(first) = s.logins.iter().find(|l| l.ok) else {
        return;
    };
    let ok = s.logins.iter().filter(|l| l.ok).count() as u32;
    c.add(
        Source::SessionLogin,
        format!(
            "logged in as {} at {}: {} from {}, sent as {}; {sent} login request{} by \
             diagnose, {lock}{unreadable}",
            s.user,
            s.login_url,
            first.result,
            s.session_from,
            s.send_as,
            plural(sent)
        ),
        Claim::SessionLogin {
            logins: ok,
            borrowed: false,
        },
    );
}

fn budget(c: &mut Collector, s: &SessionFindings) {
    let b = &s.budget_before;
    // Refused logins in a row this run added before any login worked.
    let now = s
        .logins
        .iter()
        .take_while(|l| !l.ok)
        .filter(|l| l.refused)
        .count() as u32;
    let refused = b.refused + now;
    let file = match &s.budget_file {
        Some(p) => format!("the login budget ({p})"),
        None => "the login budget (in memory: no state dir)".into(),
    };
    let mut says = format!(
        "{file} held {} refused login{} in a row for this password before diagnose",
        b.refused,
        plural(b.refused as usize)
    );
    if b.refused_other_password > 0 {
        says.push_str(&format!(
            " ({} for another password, which do not count)",
            b.refused_other_password
        ));
    }
    if let Some(last) = &b.last {
        says.push_str(&format!(" (last: {last})"));
    }
    if now > 0 {
        says.push_str(&format!("; diagnose's logins were refused {now} more"));
    }
    says.push_str(&format!(
        "; auth.max_failed_logins = {}",
        s.max_failed_logins
    ));
    if let Some(l) = &s.locked {
        says.push_str(&format!(
            "; {} 423 says \"{}\"{}",
            if l.now { "the login's" } else { "a recorded" },
            l.words,
            match l.lockout_after {
                Some(n) => format!(": the server locks {} after {n} failed logins", s.user),
                None => String::new(),
            }
        ));
    }
    c.add(
        Source::LoginBudget,
        says,
        Claim::LoginBudget {
            refused,
            max: s.max_failed_logins,
            lockout_after: s.locked.as_ref().and_then(|l| l.lockout_after),
            locked: s.locked.is_some(),
        },
    );
}

fn second_login(c: &mut Collector, s: &SessionFindings) {
    match &s.second_login {
        SecondLogin::Tested {
            first_after,
            ended,
            cache_checked,
        } => {
            let answer = match refusal(first_after) {
                Some((words, _)) => words,
                None => format!(
                    "HTTP {}",
                    first_after
                        .status
                        .map_or("- (no answer)".into(), |s| s.to_string())
                ),
            };
            let unseen = if *cache_checked {
                ""
            } else {
                " (no token cache to look in for a running sync's session first)"
            };
            c.add(
                Source::SecondLogin,
                format!(
                    "a second login as {}, then a call with the first session: {answer}: {}{unseen}",
                    s.user,
                    if *ended {
                        "the second login ended the first session"
                    } else {
                        "both sessions live"
                    }
                ),
                Claim::SingleSession { single: *ended },
            );
        }
        SecondLogin::Skipped { why } => c.add(
            Source::SecondLogin,
            format!("no second login: {why}"),
            Claim::SingleSessionUntested { why: why.clone() },
        ),
        SecondLogin::Failed { error } => c.add(
            Source::SecondLogin,
            format!("a second login failed: {error}"),
            Claim::SingleSessionUntested {
                why: format!("the second login failed ({error})"),
            },
        ),
        SecondLogin::NotTried => {}
    }
}

fn cap_watch(c: &mut Collector, w: &CapWatch) {
    let kept = format!(
        "{} kept alive with a call every {:.1} s",
        w.session, w.every_secs
    );
    if let Some(end) = w.fixed_end_secs {
        c.add(
            Source::ExpiryHeader,
            format!(
                "{kept}: X-Token-Expires-In stopped sliding back up with the calls: a fixed end \
                 about {end} s after the login{}",
                if w.dead.is_some() {
                    ""
                } else {
                    " (past --wait-secs: not watched to its end)"
                }
            ),
            Claim::SessionEnd { secs: end },
        );
    }
    if let Some(call) = &w.dead {
        let Some((words, dead)) = refusal(call) else {
            return;
        };
        let says = format!(
            "{kept}, at {:.1} s after its login: {words}",
            w.dead_age_secs.unwrap_or(0.0)
        );
        let description = call.error.clone().unwrap_or_default();
        // A session kept busy that ends is ended by a clock, whatever the words: its cap,
        // at the age it died, unless the words name another cause (a revocation, another
        // login) or the time themselves.
        let claim = match dead {
            DeadBy::Session {
                after_secs: Some(s),
            } => Claim::SessionEnd { secs: s },
            DeadBy::Idle {
                timeout_secs: Some(t),
            } => Claim::IdleWindow { secs: t },
            // Idle words on a busy session: the calls came too far apart, not a cap.
            DeadBy::Revoked | DeadBy::Idle { .. } => Claim::SessionEnded { description },
            _ if says_replaced_by_login(&description) => Claim::SessionEnded { description },
            _ => match w.dead_age_secs {
                Some(age) => Claim::SessionEnd {
                    secs: age.floor() as u64,
                },
                None => Claim::SessionEnded { description },
            },
        };
        c.add(Source::ApiRefusal, says, claim);
        return;
    }
    if w.fixed_end_secs.is_some() {
        return;
    }
    let last = w
        .ticks
        .iter()
        .rev()
        .find(|t| t.status.is_some_and(|s| s < 300));
    let Some(last) = last else {
        return;
    };
    let secs = w.alive_until_secs.unwrap_or(last.age_secs.floor() as u64);
    let header = if last.header_secs.is_some() {
        "X-Token-Expires-In kept sliding back up"
    } else {
        "every call was answered"
    };
    c.add(
        Source::ProbeLimit,
        format!(
            "{kept} for {:.0} s (--wait-secs): {header}; nothing ends it within {secs} s of \
             its login",
            last.age_secs
        ),
        Claim::NoCapWithin { secs },
    );
}

fn idle_death(c: &mut Collector, d: &IdleDeath) {
    let left = format!("the first session, left unused {:.1} s", d.unused_secs);
    if d.call.is_success() {
        let secs = d.unused_secs.floor() as u64;
        c.add(
            Source::ProbeLimit,
            format!("{left}, still answered: an idle window, if any, is longer"),
            Claim::IdleLongerThan { secs },
        );
        return;
    }
    let Some((words, dead)) = refusal(&d.call) else {
        return;
    };
    let claim = match dead {
        DeadBy::Idle {
            timeout_secs: Some(t),
        } => Claim::IdleWindow { secs: t },
        DeadBy::Idle { timeout_secs: None } => Claim::IdleAtMost {
            survived_secs: 0,
            died_secs: (d.unused_secs.floor() as u64).max(1),
        },
        _ => Claim::SessionEnded {
            description: d.call.error.clone().unwrap_or_default(),
        },
    };
    c.add(Source::ApiRefusal, format!("{left}: {words}"), claim);
}

fn logout(c: &mut Collector, s: &SessionFindings) {
    let l = &s.logout;
    if l.made == 0 {
        return;
    }
    let says = if l.configured {
        let mut says = format!(
            "diagnose logged out {} of the {} session{} it made",
            l.ended,
            l.made,
            plural(l.made as usize)
        );
        if !l.failed.is_empty() {
            says.push_str(&format!("; failed: {}", l.failed.join("; ")));
        }
        says
    } else {
        format!(
            "auth.session.logout_path is not set: the {} session{} diagnose made end by the \
             server's clocks",
            l.made,
            plural(l.made as usize)
        )
    };
    c.add(
        Source::Logout,
        says,
        Claim::Logout {
            configured: l.configured,
            made: l.made,
            ended: l.ended,
            failed: l.failed.len() as u32,
        },
    );
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
