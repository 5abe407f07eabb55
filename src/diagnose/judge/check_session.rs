//! The self-check's part for a session login: no session means exit 4; one session per
//! user gets its warning and several sessions none; an untested second login is reported;
//! a lockout the budget would reach gets its `auth.max_failed_logins`; a cap within the
//! sync that supsync is not told of gets its `auth.session_limit_secs`; a cap not seen is
//! reported.

use crate::diagnose::evidence::{Claim, Evidence};
use crate::diagnose::verdict::{Conclusion, Context, Line, Verdict};

/// The words of the one-session-per-user warning (`judge_session.rs`).
const ONE_SESSION: &str = "one session per user";

pub(super) fn contradictions(ctx: &Context, ev: &[Evidence], v: &Verdict, out: &mut Vec<String>) {
    let cites = |l: &Line, id: &str| l.cites.iter().any(|c| c == id);
    for e in ev {
        let id = e.id.as_str();
        let advised = |words: &str| {
            v.changes
                .iter()
                .any(|l| cites(l, id) && l.text.contains(words))
        };
        match &e.claim {
            Claim::LoginFailed { .. } if v.outcome != Conclusion::NoToken => out.push(format!(
                "{id}: no session, yet the outcome is {:?}",
                v.outcome
            )),
            Claim::SingleSession { single } => {
                if v.single_session != Some(*single) {
                    out.push(format!(
                        "{id}: one session per user {single}, verdict {:?}",
                        v.single_session
                    ));
                }
                if *single != advised(ONE_SESSION) {
                    out.push(format!(
                        "{id}: one session per user is {single}, and the warning {}",
                        if *single { "is missing" } else { "is given" }
                    ));
                }
            }
            Claim::SingleSessionUntested { .. } if !v.unknowns.iter().any(|l| cites(l, id)) => {
                out.push(format!("{id}: an untested second login not reported"))
            }
            Claim::LoginBudget {
                max,
                lockout_after: Some(n),
                ..
            } if *n > 1 && max >= n => {
                let set = format!("auth.max_failed_logins = {}", n - 1);
                if !advised(&set) {
                    out.push(format!(
                        "{id}: the server locks after {n} and supsync stops after {max}, yet \
                         `{set}` is not advised"
                    ));
                }
            }
            Claim::SessionEnd { secs } if ctx.session && *secs <= ctx.sync_secs => {
                let cap = v.session_secs.unwrap_or(*secs);
                let h = ctx.session_limit_hint_secs;
                let told = h > 0 && h <= cap && cap - h <= 2;
                let set = format!("auth.session_limit_secs = {cap}");
                let fixed = v
                    .clocks
                    .iter()
                    .any(|c| c.fix.as_ref().is_some_and(|f| f.change.contains(&set)));
                if !told && (cap as f64) >= ctx.min_workable_secs && !fixed {
                    out.push(format!(
                        "{id}: a {cap} s cap supsync is not told of, yet `{set}` is not advised"
                    ));
                }
            }
            Claim::NoCapWithin { secs }
                if v.session_secs.is_none()
                    && *secs < ctx.sync_secs
                    && !v.unknowns.iter().any(|l| cites(l, id)) =>
            {
                out.push(format!("{id}: a session cap not seen, and not reported"))
            }
            _ => {}
        }
    }
}
