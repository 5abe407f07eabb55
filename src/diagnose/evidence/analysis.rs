//! Pure readings of single measurements: which scope shortens the TTL, what the two
//! `X-Token-Expires-In` samples say about an idle window, and where the evidence puts the
//! session's absolute end. `verdict` combines them.

use serde::Serialize;

use super::findings::{Findings, IdleProbe, ScopeTtls};

/// The scope whose own TTL is the shortest, when it is shorter than the server's default
/// (the no-scope TTL, or else the longest single-scope TTL): `(scope, ttl_secs)`.
pub fn shortening_scope(t: &ScopeTtls) -> Option<(String, u64)> {
    let (scope, ttl) = t
        .alone
        .iter()
        .filter_map(|s| Some((s.scope.clone(), s.expires_in_secs?)))
        .min_by_key(|(_, ttl)| *ttl)?;
    let baseline = t
        .no_scope
        .expires_in_secs
        .or_else(|| t.alone.iter().filter_map(|s| s.expires_in_secs).max())?;
    (ttl < baseline).then_some((scope, ttl))
}

/// What two health calls some seconds apart say about the server's other clocks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IdleConclusion {
    /// The header came back to the same value after the wait: a sliding idle window of
    /// about `secs` (each call moves the token's idle deadline to now + `secs`).
    Sliding { secs: u64 },
    /// The header fell by the wait and is below the TTL: a fixed end (session limit)
    /// `after_start_secs` after that token's session began.
    FixedEnd {
        remaining_secs: u64,
        after_start_secs: u64,
    },
    /// The header tracks the TTL: no idle window or session limit shorter than `secs`.
    TtlOnly { secs: u64 },
    /// The token died during the wait: an idle window of at most `secs`.
    DiedWhileIdle {
        secs: u64,
        description: Option<String>,
    },
    /// Nothing can be said, and why.
    Unknown { why: String },
}

impl IdleConclusion {
    /// The idle window, when one was seen.
    pub fn window_secs(&self) -> Option<u64> {
        match self {
            IdleConclusion::Sliding { secs } | IdleConclusion::DiedWhileIdle { secs, .. } => {
                Some(*secs)
            }
            _ => None,
        }
    }
}

/// Reads the idle probe. Headers are whole seconds, so "came back up" means the second
/// value lost less than half of the time waited; a falling header loses all of it.
pub fn idle_conclusion(p: &IdleProbe) -> IdleConclusion {
    let unknown = |why: String| IdleConclusion::Unknown { why };
    let Some(first) = &p.first else {
        return unknown("no health call could be made".into());
    };
    if first.is_unauthorized() || first.status.is_none() {
        let what = first.error.clone().unwrap_or_else(|| "no answer".into());
        return unknown(format!("the first health call failed: {what}"));
    }
    let Some(h1) = first.header_expires_in_secs else {
        return unknown(
            "the server sends no X-Token-Expires-In, so an idle window cannot be seen \
             without waiting it out"
                .into(),
        );
    };
    let Some(second) = &p.second else {
        return unknown("the second health call was not made".into());
    };
    let waited = p.waited_secs;
    if second.is_unauthorized() {
        // Died while unused: the window is at most the time waited, and the first header
        // (taken right after a call) is the best estimate of it.
        return IdleConclusion::DiedWhileIdle {
            secs: h1.min(waited.ceil() as u64),
            description: second.error.clone(),
        };
    }
    let Some(h2) = second.header_expires_in_secs else {
        let what = second.error.clone().unwrap_or_else(|| "no header".into());
        return unknown(format!("the second health call told nothing: {what}"));
    };
    if waited < 1.0 {
        return unknown(format!(
            "waited only {waited:.1} s between calls, below the header's 1 s resolution"
        ));
    }
    let fell = (h1 as f64 - h2 as f64) >= waited / 2.0;
    if !fell {
        // Headers are cut down to whole seconds: right after a call a window of N s reads
        // N - 1.
        return IdleConclusion::Sliding { secs: h2 + 1 };
    }
    let ttl_left = p
        .token_ttl_secs
        .map(|ttl| ttl as f64 - first.token_age_secs);
    match ttl_left {
        Some(left) if h1 as f64 >= left - 2.0 => IdleConclusion::TtlOnly { secs: h1 },
        _ => IdleConclusion::FixedEnd {
            remaining_secs: h2,
            after_start_secs: (second.token_age_secs + h2 as f64).round() as u64,
        },
    }
}

/// The session's absolute end, estimated from whichever evidence exists.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionEstimate {
    /// Seconds from a session's start (its client-credentials grant) to its end.
    pub secs: u64,
    pub evidence: Vec<String>,
}

/// Combines the refresh chain (`refresh_expires_in` and `expires_in` shrinking toward a
/// common end) and a falling `X-Token-Expires-In` into one estimate (the smallest).
pub fn session_estimate(f: &Findings, idle: &IdleConclusion) -> Option<SessionEstimate> {
    let mut found: Vec<(u64, String)> = Vec::new();
    if let (Some(tok), Some(after)) = (&f.token, f.refresh.after_secs) {
        if let (Some(r1), Some(r2)) = (
            tok.refresh_expires_in_secs,
            f.refresh.refresh_expires_in_secs,
        ) && after >= 1.0
            && (r1 as f64 - r2 as f64) >= after / 2.0
        {
            found.push((
                r1,
                format!(
                    "refresh_expires_in fell from {r1} s to {r2} s across a refresh {after:.0} s \
                     later: the refresh chain ends about {r1} s after the session starts"
                ),
            ));
        }
        if let (Some(e1), Some(e2)) = (tok.expires_in_secs, f.refresh.expires_in_secs)
            && e2 + 2 < e1
        {
            let end = (after + e2 as f64).round() as u64;
            found.push((
                end,
                format!(
                    "a token refreshed {after:.0} s into the session got expires_in {e2} s \
                     instead of {e1} s: capped by a session end about {end} s after its start"
                ),
            ));
        }
    }
    if let IdleConclusion::FixedEnd {
        remaining_secs,
        after_start_secs,
    } = idle
    {
        found.push((
            *after_start_secs,
            format!(
                "X-Token-Expires-In kept falling ({remaining_secs} s left) below the token's \
                 TTL: a fixed end about {after_start_secs} s after the session starts"
            ),
        ));
    }
    let secs = found.iter().map(|(s, _)| *s).min()?;
    Some(SessionEstimate {
        secs,
        evidence: found.into_iter().map(|(_, e)| e).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::evidence::findings::{
        CallFinding, RefreshFinding, ScopeTtl, TokenFinding,
    };

    fn st(scope: &str, ttl: Option<u64>) -> ScopeTtl {
        ScopeTtl {
            scope: scope.into(),
            expires_in_secs: ttl,
            granted: None,
            error: None,
        }
    }

    #[test]
    fn names_the_scope_with_a_shorter_ttl() {
        let t = ScopeTtls {
            no_scope: st("", Some(3600)),
            alone: vec![
                st("offline_access", Some(3600)),
                st("supplier_mgmt", Some(900)),
            ],
            all_secs: Some(900),
        };
        assert_eq!(shortening_scope(&t), Some(("supplier_mgmt".into(), 900)));
    }

    #[test]
    fn no_scope_shortens_when_all_match_the_default() {
        let t = ScopeTtls {
            no_scope: st("", Some(3600)),
            alone: vec![st("a", Some(3600)), st("b", Some(3600))],
            all_secs: Some(3600),
        };
        assert_eq!(shortening_scope(&t), None);
    }

    #[test]
    fn without_a_no_scope_answer_the_longest_scope_is_the_baseline() {
        let t = ScopeTtls {
            no_scope: st("", None),
            alone: vec![st("a", Some(600)), st("b", None), st("c", Some(1800))],
            all_secs: Some(600),
        };
        assert_eq!(shortening_scope(&t), Some(("a".into(), 600)));
        let none = ScopeTtls::default();
        assert_eq!(shortening_scope(&none), None);
    }

    fn call(status: u16, header: Option<u64>, age: f64) -> CallFinding {
        CallFinding {
            status: Some(status),
            header_expires_in_secs: header,
            token_age_secs: age,
            rtt_secs: 0.002,
            ..Default::default()
        }
    }

    fn probe(ttl: u64, h1: Option<u64>, second: Option<CallFinding>, waited: f64) -> IdleProbe {
        IdleProbe {
            token: "no scope".into(),
            token_ttl_secs: Some(ttl),
            first: Some(call(200, h1, 0.1)),
            second,
            waited_secs: waited,
        }
    }

    #[test]
    fn a_header_that_comes_back_up_is_an_idle_window() {
        let p = probe(3600, Some(899), Some(call(200, Some(899), 3.1)), 3.0);
        assert_eq!(idle_conclusion(&p), IdleConclusion::Sliding { secs: 900 });
        assert_eq!(idle_conclusion(&p).window_secs(), Some(900));
    }

    #[test]
    fn a_header_that_tracks_the_ttl_shows_no_shorter_clock() {
        let p = probe(3600, Some(3599), Some(call(200, Some(3596), 3.1)), 3.0);
        assert_eq!(idle_conclusion(&p), IdleConclusion::TtlOnly { secs: 3599 });
    }

    #[test]
    fn a_falling_header_below_the_ttl_is_a_fixed_end() {
        let p = probe(3600, Some(59), Some(call(200, Some(56), 3.1)), 3.0);
        assert_eq!(
            idle_conclusion(&p),
            IdleConclusion::FixedEnd {
                remaining_secs: 56,
                after_start_secs: 59
            }
        );
    }

    #[test]
    fn a_token_dead_after_the_wait_bounds_the_window() {
        let mut dead = call(401, None, 3.1);
        dead.error = Some("Token idle for 0m 03s (idle timeout 0m 02s)".into());
        let p = probe(3600, Some(2), Some(dead), 3.0);
        match idle_conclusion(&p) {
            IdleConclusion::DiedWhileIdle { secs, description } => {
                assert_eq!(secs, 2);
                assert!(description.unwrap().contains("idle"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn missing_evidence_is_unknown_with_a_reason() {
        let p = probe(3600, None, Some(call(200, None, 3.0)), 3.0);
        assert!(
            matches!(idle_conclusion(&p), IdleConclusion::Unknown { why } if why.contains("X-Token-Expires-In"))
        );
        let p = probe(3600, Some(900), Some(call(200, Some(900), 0.6)), 0.5);
        assert!(matches!(
            idle_conclusion(&p),
            IdleConclusion::Unknown { .. }
        ));
        let p = IdleProbe::default();
        assert!(matches!(
            idle_conclusion(&p),
            IdleConclusion::Unknown { .. }
        ));
    }

    fn with_refresh(r1: u64, r2: u64, e1: u64, e2: u64, after: f64) -> Findings {
        Findings {
            token: Some(TokenFinding {
                expires_in_secs: Some(e1),
                refresh_expires_in_secs: Some(r1),
                ..Default::default()
            }),
            refresh: RefreshFinding {
                issued: true,
                ok: Some(true),
                after_secs: Some(after),
                expires_in_secs: Some(e2),
                refresh_expires_in_secs: Some(r2),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn a_shrinking_refresh_expiry_reveals_the_session_end() {
        let f = with_refresh(3600, 3597, 900, 900, 3.0);
        let s = session_estimate(&f, &IdleConclusion::Unknown { why: String::new() }).unwrap();
        assert_eq!(s.secs, 3600);
        assert_eq!(s.evidence.len(), 1);
    }

    #[test]
    fn a_renewed_refresh_expiry_reveals_nothing() {
        let f = with_refresh(86400, 86400, 900, 900, 3.0);
        assert_eq!(
            session_estimate(&f, &IdleConclusion::TtlOnly { secs: 900 }),
            None
        );
    }

    #[test]
    fn a_capped_refreshed_token_and_a_falling_header_both_count() {
        let f = with_refresh(86400, 86400, 900, 100, 3.0);
        let idle = IdleConclusion::FixedEnd {
            remaining_secs: 120,
            after_start_secs: 125,
        };
        let s = session_estimate(&f, &idle).unwrap();
        assert_eq!(s.secs, 103);
        assert_eq!(s.evidence.len(), 2);
    }
}
