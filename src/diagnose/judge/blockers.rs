//! The blockers: no token (token endpoint, client authentication), a first API call that
//! failed, and tokens revoked in use. Each kills the sync and names its fix.

use super::parts::clock;
use super::parts::ids;
use crate::diagnose::evidence::{Claim, Evidence};
use crate::diagnose::verdict::{ClockKind, Context, Fix, Verdict, Who};

/// No token with the configuration as it is. Returns whether that is so.
pub(super) fn token_endpoint(ctx: &Context, ev: &[Evidence], v: &mut Verdict) -> bool {
    let mut blocked = false;
    for e in ev {
        match &e.claim {
            Claim::ClientAuthMismatch {
                configured,
                refused_with,
                accepted,
            } => {
                blocked = true;
                let mut c = clock(
                    ClockKind::ClientAuth,
                    None,
                    match accepted {
                        Some(a) => format!(
                            "{configured} was refused with {refused_with}; the server accepts {a}"
                        ),
                        None => format!("{configured} was refused with {refused_with}"),
                    },
                    vec![e.id.clone()],
                );
                c.kills = true;
                c.fix = Some(match accepted.as_deref() {
                    Some(a) => Fix {
                        who: Who::SupsyncConfig,
                        change: format!(
                            "Set auth.method = \"{a}\"; the findings below were measured \
                             with it."
                        ),
                    },
                    None => Fix {
                        who: Who::ClientRegistration,
                        change: format!(
                            "Check auth.client_id ({}) and the client secret \
                             (SUPSYNC_CLIENT_SECRET, auth.client_secret_file or \
                             auth.client_secret) against the server's registration; neither \
                             method was accepted.",
                            ctx.client_id
                        ),
                    },
                });
                v.clocks.push(c);
            }
            Claim::TokenRefused {
                code,
                http_status,
                message,
                ..
            } => {
                blocked = true;
                let mut c = clock(
                    ClockKind::TokenEndpoint,
                    None,
                    message.clone(),
                    vec![e.id.clone()],
                );
                c.kills = true;
                let (who, change) = match (code.as_deref(), http_status) {
                    (Some("invalid_client"), _) => (
                        Who::ClientRegistration,
                        format!(
                            "Check auth.client_id ({}), the client secret \
                             (SUPSYNC_CLIENT_SECRET, auth.client_secret_file or \
                             auth.client_secret) and auth.method against what the server \
                             has registered.",
                            ctx.client_id
                        ),
                    ),
                    (Some("invalid_scope"), _) => (
                        Who::ClientRegistration,
                        format!(
                            "Check auth.scopes ({}): the server does not allow them for client {}.",
                            ctx.requested_scopes.join(" "),
                            ctx.client_id
                        ),
                    ),
                    (Some("unauthorized_client" | "unsupported_grant_type"), _) => (
                        Who::ClientRegistration,
                        "Have the client allowed the client_credentials grant.".to_string(),
                    ),
                    (Some(_), _) => (
                        Who::ServerAdmin,
                        "The server's words above say what it objects to; ask its admin."
                            .to_string(),
                    ),
                    (None, Some(429)) => (
                        Who::ServerAdmin,
                        format!(
                            "The token endpoint {} is rate-limiting this client (429): wait as \
                             it asks and try again; if it persists, have the client's \
                             token-request limit raised (supsync paces its own requests with \
                             auth.min_token_interval_ms).",
                            ctx.token_url
                        ),
                    ),
                    (None, Some(_)) => (
                        Who::ServerAdmin,
                        format!(
                            "The token endpoint {} answered without a token: it is failing. Try \
                             again later; if it persists, ask its operators.",
                            ctx.token_url
                        ),
                    ),
                    (None, None) => (
                        Who::Network,
                        format!(
                            "Check that the token endpoint {} is right (api.base_url, \
                             auth.token_url) and reachable from here (proxy, firewall).",
                            ctx.token_url
                        ),
                    ),
                };
                c.fix = Some(Fix { who, change });
                v.clocks.push(c);
            }
            _ => {}
        }
    }
    blocked
}

/// The first API call must answer 2xx, or nothing else is verified.
pub(super) fn first_api_call(ctx: &Context, ev: &[Evidence], v: &mut Verdict) {
    for e in ev {
        let Claim::FirstApiCall {
            ok: false,
            status,
            location,
            error,
        } = &e.claim
        else {
            continue;
        };
        let mut cites = vec![e.id.clone()];
        cites.extend(ids(ev, |c| matches!(c, Claim::FreshTokenRefused { .. })));
        let url = &ctx.health_url;
        let (what, who, change) = match status {
            None => (
                "the first API call got no answer".to_string(),
                Who::Network,
                format!(
                    "Nothing answered {url} within api.timeout_secs: check the host and port \
                     in api.base_url, any proxy or firewall on the way, and api.timeout_secs."
                ),
            ),
            Some(s) if (300..400).contains(s) => (
                format!(
                    "the first API call was redirected{}",
                    location
                        .as_deref()
                        .map(|l| format!(" to {l}"))
                        .unwrap_or_default()
                ),
                Who::SupsyncConfig,
                "Point api.health_path (or api.base_url) at where the redirect leads: supsync \
                 never follows a redirect with a bearer token. A redirect to a login page means \
                 a proxy in front of the API wants its own login."
                    .to_string(),
            ),
            Some(401 | 403) => (
                "a fresh token was refused by the API".to_string(),
                Who::ClientRegistration,
                format!(
                    "The API refuses a token the server just issued ({}): check auth.scopes and \
                     the client's rights on the API.",
                    error.as_deref().unwrap_or("no reason given")
                ),
            ),
            Some(404 | 405) => (
                "the first API call found no health endpoint".to_string(),
                Who::SupsyncConfig,
                format!("Check api.health_path and api.base_url: {url} does not exist."),
            ),
            Some(s) if *s == 429 || *s >= 500 => (
                "the API is failing or rate-limiting".to_string(),
                Who::ServerAdmin,
                "Try again later; if it persists, ask the API's operators.".to_string(),
            ),
            Some(_) => (
                "the first API call was refused".to_string(),
                Who::SupsyncConfig,
                format!("Check api.health_path and api.base_url ({url})."),
            ),
        };
        let mut c = clock(ClockKind::FirstApiCall, None, what, cites);
        c.kills = true;
        c.fix = Some(Fix { who, change });
        v.clocks.push(c);
    }
}

/// The first page read with the API mapping must fit it, or a pull (and the push answers
/// read the same way) would stop at the first segment.
pub(super) fn api_mapping(ev: &[Evidence], v: &mut Verdict) {
    for e in ev {
        let Claim::MappingRead {
            ok: false,
            key,
            error,
            ..
        } = &e.claim
        else {
            continue;
        };
        let words = error.as_deref().unwrap_or("no reason given");
        let mut c = clock(
            ClockKind::ApiMapping,
            None,
            format!("the first page does not fit the API mapping: {words}"),
            vec![e.id.clone()],
        );
        c.kills = true;
        c.fix = Some(match key.as_deref() {
            Some("pull_path") => Fix {
                who: Who::SupsyncConfig,
                change: "Set api.pull_path to the server's collection of suppliers (it did \
                         not answer JSON there), or pick the api.preset the server speaks; \
                         `supsync config --check` validates the change."
                    .to_string(),
            },
            Some("fields") => super::fields_fix::fields_fix(words),
            Some("push_path") => Fix {
                who: Who::SupsyncConfig,
                change: "The API has no listing, and a GET on the push's own path failed: \
                         check api.push_path (or api.item_path) against the server's \
                         documentation and that the credential may write there; the finding \
                         quotes what the server said."
                    .to_string(),
            },
            Some("expired_when") => Fix {
                who: Who::SupsyncConfig,
                change: "The server answers a dead token or session with a 2xx carrying an \
                         error: set auth.expired_when to the rule the finding names, so it \
                         is renewed and the call replayed; `supsync config --check` validates \
                         the change."
                    .to_string(),
            },
            Some("success_when") => Fix {
                who: Who::SupsyncConfig,
                change: "The server answers with a 2xx carrying an error body: find why it \
                         refuses (the finding quotes it); if such bodies are a success for \
                         your API, set api.success_when; `supsync config --check` validates \
                         the change."
                    .to_string(),
            },
            Some(key) => Fix {
                who: Who::SupsyncConfig,
                change: format!(
                    "Set api.{key} to what the server's answer holds (the finding names the \
                     pointer followed and the answer's top-level keys), or pick the api.preset \
                     the server speaks; `supsync config --check` validates the change."
                ),
            },
            None => Fix {
                who: Who::SupsyncConfig,
                change: "Check api.pull_path, api.pagination and the [api] mapping against \
                         the server's documentation; the finding quotes what the server said."
                    .to_string(),
            },
        });
        v.clocks.push(c);
    }
}

/// Tokens revoked in use: never an idle window, never fixed by keep-alive.
pub(super) fn revocation(_ctx: &Context, ev: &[Evidence], v: &mut Verdict) {
    let revoked: Vec<(&Evidence, Option<u64>)> = ev
        .iter()
        .filter_map(|e| match e.claim {
            Claim::Revoked { after_uses } => Some((e, after_uses)),
            _ => None,
        })
        .collect();
    if revoked.is_empty() {
        return;
    }
    let uses = revoked.iter().filter_map(|(_, u)| *u).min();
    let after = uses
        .map(|u| format!(" after {u} calls"))
        .unwrap_or_default();
    let mut c = clock(
        ClockKind::Revocation,
        None,
        format!("the server revokes tokens in use{after} (\"Token revoked\"), not an idle window"),
        revoked.iter().map(|(e, _)| e.id.clone()).collect(),
    );
    c.kills = true;
    c.fix = Some(Fix {
        who: Who::ServerAdmin,
        change: format!(
            "Have the revocation of tokens{after} removed, or its limit raised far above the \
             calls of a sync. Do not lower auth.keepalive_secs: each keep-alive is a use and \
             would only spend them faster."
        ),
    });
    v.clocks.push(c);
}
