//! Judging: pure functions from the evidence (and the configuration it was measured
//! against) to the parts of a verdict — each clock, the renewal, the expiry signal, the
//! changes — then the self-check that holds the verdict to its evidence. No network, no
//! words beyond the verdict's own lines: `report` prints them.

mod advice;
mod blockers;
pub mod check;
mod check_session;
mod clocks;
mod clocks_more;
mod fields_fix;
mod parts;
mod session;
mod signal;
pub mod token_login;
mod token_login_refresh;

#[cfg(test)]
mod check_tests;
#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod signal_tests;

use crate::diagnose::evidence::{Evidence, Findings};
use crate::diagnose::verdict::{Conclusion, Conflict, Context, Verdict};
use crate::exit;

/// The configuration the findings were measured against, as the judges read it.
pub fn context(f: &Findings) -> Context {
    let (req, rtt) = f.token.as_ref().map_or((0.0, 0.0), |t| {
        (
            t.request_secs,
            t.first_call.as_ref().map_or(0.0, |c| c.rtt_secs),
        )
    });
    Context {
        sync_secs: f.sync_duration_secs,
        expected_ttl_secs: f.expected_ttl_secs,
        keepalive_secs: f.keepalive_secs,
        refresh_margin_secs: f.refresh_margin_secs,
        idle_hint_secs: f.idle_hint_secs,
        requested_scopes: f.requested_scopes.clone(),
        client_id: f.client_id.clone(),
        token_url: f.token_url.clone(),
        health_url: f.health_url.clone(),
        auth_method: f.auth_method.clone(),
        probe_secs: f.probe_secs,
        probe_calls: u64::from(f.use_probe.planned) + u64::from(f.use_probe.earlier_uses),
        expired_when: f.expired_when.clone(),
        refresh_window_secs: f.refresh_window_secs,
        wait_secs: f.wait_secs,
        min_workable_secs: ((1.0 + req + rtt) * 100.0).round() / 100.0,
        session: f.session.is_some(),
        session_limit_hint_secs: f.session.as_ref().map_or(0, |s| s.session_limit_hint_secs),
        max_failed_logins: f.session.as_ref().map_or(0, |s| s.max_failed_logins),
    }
}

/// The verdict over the findings of one run.
pub fn of(f: &Findings, ev: &[Evidence]) -> Verdict {
    verdict(&context(f), ev)
}

/// The verdict over `ev`, judged against `ctx`. Any disagreement `check` finds between
/// the two is reported among the conflicts, never hidden, and fails the verdict: a
/// diagnosis that contradicts its own findings proves nothing, so it cannot exit 0.
pub fn verdict(ctx: &Context, ev: &[Evidence]) -> Verdict {
    let mut v = clocks::judge(ctx, ev);
    v.exit_code = match v.outcome {
        Conclusion::Sustainable => exit::OK,
        Conclusion::CannotSustain | Conclusion::ApiNotVerified => exit::DIAGNOSE_CANNOT_SUSTAIN,
        Conclusion::NoToken => exit::AUTH,
    };
    let problems = check::contradictions(ctx, ev, &v);
    held_to(&mut v, problems);
    v
}

/// Reports the self-check's problems among the conflicts and fails the verdict on any: a
/// diagnosis that contradicts its own findings proves nothing, so it never exits 0.
pub(crate) fn held_to(v: &mut Verdict, problems: Vec<String>) {
    if !problems.is_empty() {
        v.self_check_failed = true;
        if v.exit_code == exit::OK {
            v.exit_code = exit::DIAGNOSE_CANNOT_SUSTAIN;
        }
    }
    for problem in problems {
        v.conflicts.push(Conflict {
            text: format!("verdict check: {problem}"),
            findings: Vec::new(),
            trusted: Vec::new(),
        });
    }
}
