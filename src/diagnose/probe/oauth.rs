//! The measurements: token grants per scope set, one refresh (again inside a refresh
//! window), a second session, health calls for `X-Token-Expires-In` and `Date`, a pooled
//! connection left idle, and the answer to a dead token. Tokens stay `Secret`s; only
//! fingerprints reach the findings.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow};

use super::calls::{Target, health_with_retry, idle_probe, use_probe};
use super::options::DiagnoseOptions;
use super::{mapping as probe_mapping, signal as probe_signal};
use crate::auth::client_auth::{Peer, http_client};
use crate::auth::grant::{Grant, GrantError, TokenEndpoint};
use crate::config::{Carry, ClientAuthMethod, Config, check_transport};
use crate::diagnose::evidence::dead_answer::Rules;
use crate::diagnose::evidence::findings::*;
use crate::diagnose::evidence::jwt;
use crate::secret::Secret;

/// What every probe talks through: the health URL, the request timeout, and the HTTP
/// clients of the credential's endpoint and of the API.
pub(super) struct Peers {
    pub health_url: String,
    pub timeout: Duration,
    pub http: reqwest::Client,
    pub api_http: reqwest::Client,
}

impl Peers {
    /// Both URLs checked for transport (`key` names the credential's), and the clients
    /// built with the TLS set-up a run uses: `api.ca_file` trusted, the client
    /// certificate presented to each peer that is to see it.
    pub(super) fn of(
        cfg: &Config,
        credential_url: &str,
        key: &str,
        what: &str,
    ) -> anyhow::Result<Peers> {
        let health_url = cfg.api_url(&cfg.api.health_path);
        check_transport(credential_url, cfg.api.allow_insecure_http)
            .map_err(|e| anyhow!("{key}: {e}"))?;
        check_transport(&health_url, cfg.api.allow_insecure_http)
            .map_err(|e| anyhow!("api.base_url: {e}"))?;
        let timeout = Duration::from_secs(cfg.api.timeout_secs.max(1));
        let http = http_client(cfg, Peer::TokenEndpoint, timeout)
            .map_err(|e| anyhow!(e))
            .with_context(|| format!("could not build the HTTP client for {what}"))?;
        let api_http = http_client(cfg, Peer::Api, timeout)
            .map_err(|e| anyhow!(e))
            .context("could not build the HTTP client for the API")?;
        Ok(Peers {
            health_url,
            timeout,
            http,
            api_http,
        })
    }
}

/// Runs every probe. `Err` only when the configuration cannot be probed at all.
pub async fn run(
    cfg: &Config,
    secret: &Secret,
    opts: &DiagnoseOptions,
) -> anyhow::Result<Findings> {
    let token_url = cfg.token_url();
    let Peers {
        health_url,
        timeout,
        http,
        api_http,
    } = Peers::of(cfg, &token_url, "auth.token_url", "the token endpoint")?;
    let mut endpoint = TokenEndpoint::new(cfg, secret, http.clone()).map_err(|e| anyhow!(e))?;
    let mapping = probe_mapping::mapping(cfg)?;
    let rules = Rules::of(cfg)?;
    let at = Target {
        url: &health_url,
        carry: &Carry::Bearer,
        rules: &rules,
    };
    // The configuration the probes run with: the other client-auth method when only that
    // one works, so the lifetimes can still be measured.
    let mut cfg = cfg.clone();

    let mut f = Findings {
        base_url: cfg.api.base_url.clone(),
        token_url,
        client_id: cfg.auth.client_id.clone(),
        requested_scopes: cfg.auth.scopes.clone(),
        expected_ttl_secs: cfg.auth.expected_ttl_secs,
        sync_duration_secs: cfg.sync.expected_duration_secs,
        refresh_margin_secs: cfg.auth.refresh_margin_secs,
        keepalive_secs: cfg.auth.keepalive_secs,
        idle_hint_secs: cfg.auth.idle_timeout_secs,
        expired_when: cfg.auth.expired_when.clone(),
        refresh_window_secs: cfg.auth.refresh_window_secs,
        wait_secs: opts.wait.as_secs(),
        auth_method: cfg.client_auth_method().as_str().into(),
        health_url: health_url.clone(),
        probe_secs: opts.idle_wait.as_secs(),
        connection: ConnectionProbe {
            outcome: ConnectionOutcome::NotTested,
            ..Default::default()
        },
        mapping: MappingFinding {
            describe: mapping.describe(),
            first_page: None,
        },
        ..Default::default()
    };

    // 1. A token for the configured scopes: everything else hangs on it.
    let main = match with_retry(|| endpoint.client_credentials(None)).await {
        Ok(g) => g,
        Err(e) if e.is_invalid_client() && other_secret_method(&cfg).is_some() => {
            // Right secret, wrong method? Ask once the other way before giving up.
            f.token_error = Some(failure(&e));
            let other = other_secret_method(&cfg).unwrap_or_default();
            cfg.auth.method = other;
            cfg.auth.auth_style = None;
            let alt = TokenEndpoint::new(&cfg, secret, http.clone()).map_err(|e| anyhow!(e))?;
            let mut found = ClientAuthFinding {
                configured: f.auth_method.clone(),
                refused_with: short(&e),
                tried: other.as_str().into(),
                ..Default::default()
            };
            match with_retry(|| alt.client_credentials(None)).await {
                Ok(g) => {
                    found.other_works = true;
                    f.client_auth = Some(found);
                    endpoint = alt;
                    g
                }
                Err(e2) => {
                    found.other_error = Some(short(&e2));
                    f.client_auth = Some(found);
                    return Ok(f);
                }
            }
        }
        Err(e) => {
            f.token_error = Some(failure(&e));
            return Ok(f);
        }
    };
    let cfg = &cfg;
    // The local wall clock halfway through the (last) token request: when the server
    // most likely stamped `iat`.
    let mid = main.sent_at + main.received_at.duration_since(main.sent_at) / 2;
    let now = SystemTime::now();
    let wall_issued = now.checked_sub(mid.elapsed()).unwrap_or(now);
    let mut tok = token_finding(&main, &cfg.auth.scopes);
    if let Some(claims) = &tok.jwt
        && let Some(iat) = claims.iat
    {
        f.clock_skew.jwt_iat_skew_secs =
            Some((iat as f64 + 0.5 - unix(wall_issued)).round() as i64);
    }
    let first = health_with_retry(&api_http, at, &main.access_token, main.sent_at).await;
    if let Some(date) = first.date {
        f.clock_skew.date_skew_secs =
            Some((unix(date) + 0.5 - unix(first.local_mid)).round() as i64);
        f.clock_skew.date_header = first.date_raw.clone();
        if let Some(exp) = tok.jwt.as_ref().and_then(|j| j.exp) {
            // `Date` is whole seconds, cut down: the server's instant is up to 1 s later.
            f.clock_skew.jwt_exp_minus_date_secs = Some(exp - unix(date).round() as i64);
            f.clock_skew.at_token_age_secs = Some(first.call.token_age_secs);
        }
    }
    let api_works = first.call.is_success();
    tok.first_call = Some(first.call);
    f.use_probe.planned = opts.probe_calls;
    if api_works {
        f.use_probe = use_probe(&api_http, at, &main, opts.probe_calls).await;
    }
    f.scope_ttls.all_secs = tok.expires_in_secs;
    f.refresh.issued = main.refresh_token.is_some();
    f.token = Some(tok);

    // 2. The TTL for no scope and for each configured scope alone.
    let none = with_retry(|| endpoint.client_credentials(Some(&[]))).await;
    f.scope_ttls.no_scope = scope_ttl("", &none);
    let mut candidates: Vec<(String, Grant)> = Vec::new();
    if let Ok(g) = none {
        candidates.push(("no scope".into(), g));
    }
    for scope in &cfg.auth.scopes {
        let one = vec![scope.clone()];
        let g = with_retry(|| endpoint.client_credentials(Some(&one))).await;
        f.scope_ttls.alone.push(scope_ttl(scope, &g));
        if let Ok(g) = g {
            candidates.push((format!("{scope} alone"), g));
        }
    }
    candidates.push(("configured scopes".into(), main.clone()));

    // 3. Idle window and idle connections, on the longest-lived token.
    // `rev`: on a tie the first candidate (no scope) wins, the plainest token.
    let (label, probe_grant) = candidates
        .iter()
        .rev()
        .max_by_key(|(_, g)| g.expires_in.map(|d| d.as_secs()).unwrap_or(0))
        .map(|(l, g)| (l.clone(), g))
        .unwrap_or_else(|| ("configured scopes".to_string(), &main));
    // Without a working first call the idle probe would only repeat its failure (a hang
    // would cost a timeout per call).
    if api_works {
        let (idle, conn) = idle_probe(cfg, at, timeout, &label, probe_grant, opts).await;
        f.idle_probe = idle;
        f.connection = conn;
    } else {
        f.idle_probe.token = label;
    }

    // 4. One refresh (never retried after a lost answer: the retry would be a reuse; asked
    // again only after a refusal as too early, which spends nothing). On a fresh
    // connection: the pooled one has sat idle through the probe, and a proxy that cuts
    // idle connections must not pass for a refused refresh.
    if let Some(rt) = &main.refresh_token {
        let fresh = http_client(cfg, Peer::TokenEndpoint, timeout)
            .map_err(|e| anyhow!(e))
            .context("could not build the HTTP client")
            .and_then(|h| TokenEndpoint::new(cfg, secret, h).map_err(|e| anyhow!(e)))?;
        let ends = main.expires_in.map(|d| main.sent_at + d);
        let left = ends.map_or(0.0, |e| secs(e.saturating_duration_since(Instant::now())));
        let answer = fresh.refresh(rt).await;
        let outcome = probe_signal::outcome(&answer, short);
        let answer = match (answer, outcome) {
            (Err(e), first @ TryOutcome::TooEarly { .. }) => {
                // A refresh window, not a refusal: ask again inside it while that fits.
                let (window, accepted) = probe_signal::refresh_window(
                    short(&e),
                    first,
                    ends,
                    left,
                    opts.wait,
                    || fresh.refresh(rt),
                    short,
                )
                .await;
                let last = window.tries.last().map(|t| t.outcome.clone());
                f.refresh.too_early = Some(window);
                match (accepted, last) {
                    (Some(g), _) => Some(Ok(g)),
                    (None, Some(TryOutcome::Failed { error })) => Some(Err(error)),
                    // Refused only as too early: no failed refresh.
                    _ => None,
                }
            }
            (answer, _) => Some(answer.map_err(|e| short(&e))),
        };
        match answer {
            Some(Ok(g)) => {
                f.refresh.ok = Some(true);
                f.refresh.rotated = Some(g.refresh_token.as_ref().is_some_and(|n| n != rt));
                f.refresh.after_secs = Some(secs(g.sent_at.duration_since(main.sent_at)));
                f.refresh.expires_in_secs = g.expires_in.map(|d| d.as_secs());
                f.refresh.refresh_expires_in_secs = g.refresh_expires_in.map(|d| d.as_secs());
            }
            Some(Err(e)) => {
                f.refresh.ok = Some(false);
                f.refresh.error = Some(e);
            }
            None => {}
        }
    }

    // 4b. No refresh token and offline_access not asked for: would asking bring one?
    let offline = "offline_access".to_string();
    if main.refresh_token.is_none() && !cfg.auth.scopes.contains(&offline) {
        let mut with = cfg.auth.scopes.clone();
        with.push(offline);
        if let Ok(g) = with_retry(|| endpoint.client_credentials(Some(&with))).await {
            f.refresh.with_offline_access = Some(g.refresh_token.is_some());
        }
    }

    // 5. Can a new session be had (the fallback when refresh is refused or absent)?
    match with_retry(|| endpoint.client_credentials(None)).await {
        Ok(_) => f.new_session.ok = true,
        Err(e) => f.new_session.error = Some(short(&e)),
    }

    // 6. One read with the API mapping, last: it takes a token of its own, which must not
    // disturb the clocks measured above.
    if api_works {
        let url = cfg.api_url(&mapping.pull.path);
        f.mapping.first_page = Some(probe_mapping::first_page(cfg, secret, url).await);
    }

    // 7. How the API answers a dead token, last: it may wait for one to run out.
    if api_works {
        let grants: Vec<&Grant> = candidates.iter().map(|(_, g)| g).collect();
        let signal = probe_signal::expiry_signal(&api_http, at, &f, &grants, opts.wait).await;
        f.expiry_signal = Some(signal);
    }
    Ok(f)
}

fn token_finding(g: &Grant, requested: &[String]) -> TokenFinding {
    let (missing, extra) = match &g.granted_scopes {
        Some(granted) => scope_difference(requested, granted),
        None => (Vec::new(), Vec::new()),
    };
    TokenFinding {
        fingerprint: g.access_token.fingerprint(),
        expires_in_secs: g.expires_in.map(|d| d.as_secs()),
        lifetime_source: Some(g.lifetime_source),
        granted_scopes: g.granted_scopes.clone(),
        missing_scopes: missing,
        extra_scopes: extra,
        refresh_token: g.refresh_token.as_ref().map(Secret::fingerprint),
        refresh_expires_in_secs: g.refresh_expires_in.map(|d| d.as_secs()),
        request_secs: secs(g.received_at.duration_since(g.sent_at)),
        jwt: jwt::decode_unverified(g.access_token.expose()),
        first_call: None,
    }
}

fn scope_ttl(scope: &str, g: &Result<Grant, GrantError>) -> ScopeTtl {
    ScopeTtl {
        scope: scope.into(),
        granted: g.as_ref().ok().and_then(|g| g.granted_scopes.clone()),
        expires_in_secs: g
            .as_ref()
            .ok()
            .and_then(|g| g.expires_in)
            .map(|d| d.as_secs()),
        error: g.as_ref().err().map(short),
    }
}

/// A client-credentials grant retried briefly on transport failures.
async fn with_retry<F, Fut>(mut op: F) -> Result<Grant, GrantError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Grant, GrantError>>,
{
    let mut result = op().await;
    for _ in 0..2 {
        match &result {
            Err(e) if e.is_transient() => {
                tokio::time::sleep(Duration::from_millis(300)).await;
                result = op().await;
            }
            _ => break,
        }
    }
    result
}

/// The other way to send the same client secret, for the "wrong method?" retry. Key-based
/// methods have no other way to try.
fn other_secret_method(cfg: &Config) -> Option<ClientAuthMethod> {
    match cfg.client_auth_method() {
        ClientAuthMethod::ClientSecretBasic => Some(ClientAuthMethod::ClientSecretPost),
        ClientAuthMethod::ClientSecretPost => Some(ClientAuthMethod::ClientSecretBasic),
        ClientAuthMethod::PrivateKeyJwt | ClientAuthMethod::TlsClientAuth => None,
    }
}

fn failure(e: &GrantError) -> GrantFailure {
    match e {
        GrantError::Rejected {
            code, description, ..
        } => GrantFailure {
            code: Some(code.clone()),
            description: description.clone(),
            message: e.to_string(),
            http_status: None,
        },
        _ => GrantFailure {
            code: None,
            description: None,
            message: e.to_string(),
            http_status: e.http_status(),
        },
    }
}

/// The server's words, short: `invalid_scope (scope x not allowed)`.
fn short(e: &GrantError) -> String {
    match e {
        GrantError::Rejected {
            code,
            description: Some(d),
            ..
        } => format!("{code} ({d})"),
        GrantError::Rejected { code, .. } => code.clone(),
        other => other.to_string(),
    }
}

fn unix(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}
