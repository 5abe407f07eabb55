//! The verdict: from the findings alone (pure, no I/O), which clock kills the token first
//! during a sync of the configured length, whether supsync can keep such a sync alive,
//! and what to change.

use serde::Serialize;

use super::analysis::{
    IdleConclusion, SessionEstimate, idle_conclusion, session_estimate, shortening_scope,
};
use super::findings::{Findings, GrantFailure};
use super::wording::{self, Notes};
use crate::exit;

/// The clock that ends an *active* token first (docs/API.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KillerClock {
    Ttl,
    Session,
    /// The server said nothing about lifetimes.
    Unknown,
}

/// How supsync renews a token here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Renewal {
    RefreshToken,
    ClientCredentials,
    None,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// 0: supsync can keep the sync alive; 3: it cannot; 4: no token at all.
    pub exit_code: i32,
    pub sustainable: bool,
    /// The verdict in one paragraph of plain words.
    pub summary: String,
    pub first_clock: KillerClock,
    /// Seconds after issue at which `first_clock` kills an active token.
    pub token_lifetime_secs: Option<u64>,
    pub dies_within_sync: bool,
    pub shortening_scope: Option<String>,
    pub shortening_scope_ttl_secs: Option<u64>,
    /// The TTL of a token asked for without `scope`.
    pub default_ttl_secs: Option<u64>,
    pub idle: IdleConclusion,
    pub idle_window_secs: Option<u64>,
    pub session_limit: Option<SessionEstimate>,
    pub renewal: Renewal,
    pub renewals_per_sync: Option<u64>,
    /// The shortest lifetime in which a token can be fetched and carry one request,
    /// counting the whole-second precision servers give lifetimes in.
    pub min_workable_secs: f64,
    /// The facts the verdict rests on.
    pub reasons: Vec<String>,
    /// What to change: server policy, scopes, client settings.
    pub advice: Vec<String>,
}

/// Reasons and advice when no token could be obtained (exit 4).
fn no_token(f: &Findings, err: &GrantFailure) -> Verdict {
    let said = match (&err.code, &err.description) {
        (Some(c), Some(d)) => format!("{c} ({d})"),
        (Some(c), None) => c.clone(),
        _ => err.message.clone(),
    };
    let check = match err.code.as_deref() {
        Some("invalid_client") => format!(
            "Check auth.client_id ({}), the client secret (SUPSYNC_CLIENT_SECRET, \
             auth.client_secret_file or auth.client_secret) and auth.auth_style (basic or \
             post) against what the server has registered for this client.",
            f.client_id
        ),
        Some("invalid_scope") => format!(
            "Check auth.scopes ({}): the server does not allow them for client {}.",
            f.requested_scopes.join(" "),
            f.client_id
        ),
        Some("unauthorized_client" | "unsupported_grant_type") => {
            "The client may not use the client_credentials grant: ask the server's admin."
                .to_string()
        }
        Some(_) => "The server's words above say what it objects to.".to_string(),
        None if err.http_status.is_some() => format!(
            "The token endpoint {} is reachable but answered HTTP {} without a token: it is \
             overloaded, rate-limiting this client or failing. Try again later; if it \
             persists, ask its operators.",
            f.token_url,
            err.http_status.unwrap_or_default()
        ),
        None => format!(
            "Check that the token endpoint {} is right (api.base_url, auth.token_url) and \
             reachable from here.",
            f.token_url
        ),
    };
    Verdict {
        exit_code: exit::AUTH,
        sustainable: false,
        summary: format!("No token could be obtained: the server answered {said}."),
        first_clock: KillerClock::Unknown,
        token_lifetime_secs: None,
        dies_within_sync: true,
        shortening_scope: None,
        shortening_scope_ttl_secs: None,
        default_ttl_secs: None,
        idle: IdleConclusion::Unknown {
            why: "no token".into(),
        },
        idle_window_secs: None,
        session_limit: None,
        renewal: Renewal::None,
        renewals_per_sync: None,
        min_workable_secs: 0.0,
        // The summary already quotes the server; the findings hold the full message.
        reasons: Vec::new(),
        advice: vec![check],
    }
}

/// The verdict over everything the probes found.
pub fn verdict(f: &Findings) -> Verdict {
    let Some(tok) = &f.token else {
        let err = f.token_error.clone().unwrap_or_else(|| GrantFailure {
            message: "no token was requested".into(),
            ..Default::default()
        });
        return no_token(f, &err);
    };
    let d = f.sync_duration_secs;
    let mut reasons = Vec::new();
    let mut fatal: Vec<String> = Vec::new();

    let first_call = tok.first_call.as_ref();
    let rtt = first_call.map_or(0.0, |c| c.rtt_secs);
    // Lifetimes come in whole seconds (a "1 s" token may have 0.01 s left), so a token
    // must outlive one second of rounding plus a token request and one API call.
    let overhead_ms = ((tok.request_secs + rtt) * 1000.0).round() as u64;
    let min_workable = 1.0 + tok.request_secs + rtt;

    // TTL: expires_in, else what the first call's header said.
    let ttl = tok.expires_in_secs.or_else(|| {
        let c = first_call?;
        let h = c.header_expires_in_secs?;
        reasons.push("The server gave no expires_in; its X-Token-Expires-In stands in.".into());
        Some(h + c.token_age_secs.round() as u64)
    });
    if let Some(c) = first_call.filter(|c| c.is_unauthorized()) {
        fatal.push(format!(
            "a fresh token was refused on its first call ({})",
            c.error.as_deref().unwrap_or("401 without a description")
        ));
    }

    let default_ttl = f.scope_ttls.no_scope.expires_in_secs;
    let shortening = shortening_scope(&f.scope_ttls);
    let idle = idle_conclusion(&f.idle_probe);
    let idle_window = idle.window_secs();
    let session = session_estimate(f, &idle);

    let (first_clock, lifetime) = match (ttl, session.as_ref().map(|s| s.secs)) {
        (Some(t), Some(s)) if s < t => (KillerClock::Session, Some(s)),
        (Some(t), _) => (KillerClock::Ttl, Some(t)),
        (None, Some(s)) => (KillerClock::Session, Some(s)),
        (None, None) => (KillerClock::Unknown, None),
    };
    let dies_within_sync = lifetime.is_none_or(|l| l < d);

    let renewal = if f.refresh.ok == Some(true) {
        Renewal::RefreshToken
    } else if f.new_session.ok {
        Renewal::ClientCredentials
    } else {
        Renewal::None
    };

    // What kills a sync outright.
    if let Some(l) = lifetime
        && (l as f64) < min_workable
    {
        fatal.push(format!(
            "a token lives only {l} s: counted in whole seconds, with {overhead_ms} ms to \
             fetch one and carry a single request, it dies before one segment could finish"
        ));
    }
    if let Some(i) = idle_window
        && (i as f64) < min_workable
    {
        fatal.push(format!(
            "the idle window (about {i} s) leaves no room for a keep-alive call ({overhead_ms} \
             ms for a renewal and a request, plus a second of rounding): nothing can hold the \
             token open"
        ));
    }
    if dies_within_sync && renewal == Renewal::None {
        let why = [f.refresh.error.as_deref(), f.new_session.error.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("; ");
        fatal.push(format!(
            "the token dies within the {d} s sync and neither a refresh nor a new \
             client-credentials session worked{}",
            if why.is_empty() {
                String::new()
            } else {
                format!(" ({why})")
            }
        ));
    }
    if let Some(s) = &session
        && s.secs < d
        && !f.new_session.ok
    {
        fatal.push(format!(
            "the session ends after about {} s, within the {d} s sync, and a new \
             client-credentials session was refused ({})",
            s.secs,
            f.new_session.error.as_deref().unwrap_or("no reason given")
        ));
    }
    let sustainable = fatal.is_empty();

    let mut notes = Notes {
        reasons,
        advice: Vec::new(),
    };
    let cause = wording::ttl_cause(f, ttl, shortening.as_ref(), default_ttl, &mut notes);
    let renewals_per_sync = match lifetime {
        Some(l) if l > 0 && dies_within_sync => Some(d.div_ceil(l).saturating_sub(1).max(1)),
        Some(_) => Some(0),
        None => None,
    };

    // The margin only matters when tokens must be renewed during the sync.
    if dies_within_sync && sustainable {
        wording::margin(f, lifetime, &mut notes);
    }
    wording::idle(f, &idle, &mut notes);
    wording::session(f, session.as_ref(), &mut notes);
    wording::refresh(f, &mut notes);
    wording::scopes_clocks_network(f, tok, &mut notes);
    let Notes {
        mut reasons,
        mut advice,
    } = notes;
    if sustainable && !dies_within_sync {
        advice.push("Nothing to change: a token outlives the sync.".into());
    }

    let how = wording::renewal_means(f, renewal, session.as_ref());
    let summary = wording::summary(
        f,
        first_clock,
        lifetime,
        &cause,
        &fatal,
        &how,
        renewals_per_sync,
    );
    reasons.splice(0..0, fatal.iter().map(|r| format!("Cannot sustain: {r}.")));

    Verdict {
        exit_code: if sustainable {
            exit::OK
        } else {
            exit::DIAGNOSE_CANNOT_SUSTAIN
        },
        sustainable,
        summary,
        first_clock,
        token_lifetime_secs: lifetime,
        dies_within_sync,
        shortening_scope: shortening.as_ref().map(|(s, _)| s.clone()),
        shortening_scope_ttl_secs: shortening.as_ref().map(|(_, t)| *t),
        default_ttl_secs: default_ttl,
        idle,
        idle_window_secs: idle_window,
        session_limit: session,
        renewal,
        renewals_per_sync,
        min_workable_secs: (min_workable * 10.0).round() / 10.0,
        reasons,
        advice,
    }
}
