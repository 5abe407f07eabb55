//! Evidence: each measurement read into one claim about the server's clocks, with its
//! source and an id (`F1`, `F2`…) that the verdict cites. The verdict is computed from
//! these claims alone, so `check` can hold it to them. The findings (what the probes
//! measured, plain data) live here too: evidence is what was seen, read.

pub mod analysis;
mod calls;
mod claim;
pub mod dead_answer;
pub mod findings;
mod findings_call;
mod findings_session;
mod findings_signal;
pub mod jwt;
pub mod said;
mod session;
mod signal;
mod token;
pub mod token_login;

use claim::Collector;
pub use claim::{Claim, Death, Evidence, Signal, SignalKind, Source, Window, shown};
pub use findings::Findings;

/// Reads every measurement into findings, in the order a reader checks them.
pub fn collect(f: &Findings) -> Vec<Evidence> {
    let mut c = Collector::default();
    if let Some(a) = &f.client_auth {
        c.add(
            Source::ClientAuth,
            format!(
                "{} was refused ({}); {} {}",
                a.configured,
                a.refused_with,
                a.tried,
                if a.other_works {
                    "got a token".to_string()
                } else {
                    format!(
                        "was refused too ({})",
                        a.other_error.as_deref().unwrap_or("no reason given")
                    )
                }
            ),
            Claim::ClientAuthMismatch {
                configured: a.configured.clone(),
                refused_with: a.refused_with.clone(),
                accepted: a.other_works.then(|| a.tried.clone()),
            },
        );
    }
    if let Some(s) = &f.session {
        session::collect(&mut c, f, s);
        mapping_read(&mut c, f);
        return c.0;
    }
    let Some(tok) = &f.token else {
        if f.client_auth.is_none()
            && let Some(e) = &f.token_error
        {
            c.add(
                Source::TokenEndpoint,
                e.message.clone(),
                Claim::TokenRefused {
                    code: e.code.clone(),
                    description: e.description.clone(),
                    http_status: e.http_status,
                    message: e.message.clone(),
                },
            );
        }
        return c.0;
    };
    token::token(&mut c, f, tok);
    calls::calls(&mut c, f, tok);
    signal::collect(&mut c, f);
    mapping_read(&mut c, f);
    c.0
}

/// The first page through the mapping, with the mapping's preset named.
fn mapping_read(c: &mut Collector, f: &Findings) {
    let Some(read) = &f.mapping.first_page else {
        return;
    };
    let says = match (&read.error, read.records, &read.no_listing) {
        (Some(e), _, _) => format!("GET {} with the API mapping: {e}", read.url),
        (None, _, Some(words)) => words.clone(),
        (None, 0, None) => format!(
            "GET {} with the API mapping: the answer fits, and the list is empty (the field \
             mapping could not be checked on a record)",
            read.url
        ),
        (None, n, None) => format!(
            "GET {} with the API mapping: the answer fits; {n} record read",
            read.url
        ),
    };
    c.add(
        Source::ApiMapping,
        says,
        Claim::MappingRead {
            ok: read.ok,
            records: read.records,
            key: read.key.clone(),
            error: read.error.clone(),
        },
    );
}
