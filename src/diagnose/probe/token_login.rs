//! The probe of a token login (`auth.kind = "token_login"`, docs/API.md §8), through the
//! run's own login and refresh (`auth::token_login`): one login, within the budget of
//! refused logins a run keeps (a refusal is never tried again); the lifetimes the answer
//! and the JWT state; a first call; the token watched with calls until the API refuses it,
//! within `--wait-secs`; one refresh, whether it rotates, and (when it did) the spent
//! refresh token presented once more; the logout. The chain is diagnose's own: the token
//! cache a run uses is never read or written. Tokens stay `Secret`s; only fingerprints
//! reach the findings.

use std::time::{Duration, Instant, SystemTime};

use anyhow::anyhow;

use super::calls::{Target, health, health_with_retry};
use super::oauth::Peers;
use super::options::DiagnoseOptions;
use crate::auth::grant::{Grant, GrantError, TokenEndpoint};
use crate::auth::login_budget;
use crate::auth::token_login::{TokenLogin, credential_of};
use crate::config::Config;
use crate::config::token_login::{LifetimeUnit, parse_send_as};
use crate::diagnose::evidence::dead_answer::Rules;
use crate::diagnose::evidence::findings::CallFinding;
use crate::diagnose::evidence::token_login::*;
use crate::secret::Secret;
use crate::server_text::Redactor;

/// The watch never makes more calls than this, whatever `--wait-secs` says.
const MAX_WATCH_CALLS: u32 = 1000;

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// Runs the token-login probe. `Err` only when the configuration cannot be probed.
pub async fn run(
    cfg: &Config,
    password: &Secret,
    opts: &DiagnoseOptions,
) -> anyhow::Result<TokenLoginFindings> {
    let t = &cfg.auth.token_login;
    let login_url = cfg.auth_url();
    let Peers {
        health_url,
        http,
        api_http,
        ..
    } = Peers::of(cfg, &login_url, "auth.token_login.login_path", "the login")?;
    let carry = parse_send_as(&t.send_as).map_err(|m| anyhow!("auth.token_login.send_as: {m}"))?;
    let rules = Rules::of(cfg)?;
    let at = Target {
        url: &health_url,
        carry: &carry,
        rules: &rules,
    };
    // The budget of refused logins a run keeps beside its token cache.
    let budget_file = opts
        .state_dir
        .as_ref()
        .map(|d| login_budget::file_beside(&d.join("token-cache"), &credential_of(cfg)));
    let endpoint = TokenEndpoint::with_login_budget(cfg, password, http.clone(), budget_file)
        .map_err(|e| anyhow!(e))?;
    let Some(tl) = endpoint.token_login() else {
        anyhow::bail!("internal: auth.kind = \"token_login\" without a token login");
    };
    let redactor = endpoint.redactor();
    let mut f = TokenLoginFindings {
        setup: TokenLoginSetup {
            base_url: cfg.api.base_url.clone(),
            login_url: login_url.clone(),
            user: t.username.clone(),
            send_as: t.send_as.clone(),
            refresh_url: (!t.refresh_path.is_empty()).then(|| cfg.api_url(&t.refresh_path)),
            refresh_token_at: t.refresh_token_at.clone(),
            lifetime_at: t.lifetime_at.clone(),
            lifetime_unit: match t.lifetime_unit {
                LifetimeUnit::S => "s",
                LifetimeUnit::Ms => "ms",
                LifetimeUnit::At => "at",
            }
            .into(),
            lifetime_hint_secs: t.lifetime_secs,
            sync_secs: cfg.sync.expected_duration_secs,
            wait_secs: opts.wait.as_secs(),
            logout_configured: !t.logout_path.is_empty(),
        },
        ..Default::default()
    };

    // 1. One login: never a second after a refusal (each counts toward a lockout).
    let Some(first) = login(tl, &http, redactor, &mut f).await else {
        return Ok(f);
    };
    f.token = Some(first.access_token.fingerprint());
    f.stated_lifetime_secs = first.expires_in.map(secs);
    f.jwt_lifetime_secs =
        crate::auth::answer::jwt_lifetime(first.access_token.expose(), SystemTime::now())
            .map(|s| s as f64);
    f.planned_lifetime_secs = first.lifetime.map(secs);
    f.planned_from = Some(first.lifetime_source.to_string());
    f.refresh_token_issued = first.refresh_token.is_some();
    f.refresh_lifetime_secs = first.refresh_expires_in.map(|d| d.as_secs());

    // 2. A first call: does the API take the token as it is sent?
    let call = health_with_retry(&api_http, at, &first.access_token, first.sent_at).await;
    let works = call.call.is_success();
    f.first_call = Some(call.call);
    if !works {
        f.logout = logout(cfg, &api_http, &carry, redactor, first.access_token).await;
        return Ok(f);
    }

    // 3. The token watched until the API refuses it, within --wait-secs.
    let every = cadence(first.lifetime);
    f.watch = Some(watch(&api_http, at, &first, every, Instant::now() + opts.wait).await);

    // 4. One refresh (after the token died, as a run's would come at the latest), the
    // refreshed token used once, and (asked for) the spent refresh token presented again.
    let mut latest = (first.access_token.clone(), first.refresh_token.clone());
    f.refresh = match (&first.refresh_token, tl.refreshes()) {
        (_, false) => RefreshResult::NotConfigured,
        (None, true) => RefreshResult::NoRefreshToken,
        (Some(spent), true) => match tl.refresh(&http, redactor, spent).await {
            Ok(g) => {
                let after = health_with_retry(&api_http, at, &g.access_token, g.sent_at).await;
                let rotated = g
                    .refresh_token
                    .as_ref()
                    .is_some_and(|r| r.expose() != spent.expose());
                let kept = g.refresh_token.is_none();
                if rotated && opts.reuse_check {
                    f.reuse = reuse(tl, &http, redactor, &api_http, at, spent, &g).await;
                }
                latest = (g.access_token.clone(), g.refresh_token.clone().or(latest.1));
                RefreshResult::Ok {
                    rotated,
                    kept,
                    stated_lifetime_secs: g.expires_in.map(secs),
                    call_after: Some(Box::new(after.call)),
                }
            }
            Err(GrantError::Rejected {
                code, description, ..
            }) => RefreshResult::Refused {
                status: code,
                words: description,
            },
            Err(e) => RefreshResult::Failed {
                message: e.to_string(),
            },
        },
    };

    // 5. The logout, as a run ends.
    f.logout = logout(cfg, &api_http, &carry, redactor, latest.0).await;
    Ok(f)
}

/// POSTs `auth.token_login.logout_path` with `token`, as a run ends; `None` without one.
async fn logout(
    cfg: &Config,
    api_http: &reqwest::Client,
    carry: &crate::config::Carry,
    redactor: &std::sync::Arc<Redactor>,
    token: Secret,
) -> Option<String> {
    let path = &cfg.auth.token_login.logout_path;
    if path.is_empty() {
        return None;
    }
    let ender = crate::api::session_ender(
        api_http.clone(),
        reqwest::Method::POST,
        cfg.api_url(path),
        Vec::new(),
        carry.clone(),
        std::sync::Arc::clone(redactor),
    );
    Some(match ender(token).await {
        Ok(s) => format!("HTTP {s}, the chain diagnose made is ended"),
        Err(e) => format!("failed ({e}); diagnose's chain ends with its own clocks"),
    })
}

/// The one login, within the budget; `None` when there is no token.
async fn login(
    tl: &TokenLogin,
    http: &reqwest::Client,
    redactor: &Redactor,
    f: &mut TokenLoginFindings,
) -> Option<Grant> {
    if let Err(e) = tl.may_log_in() {
        f.login = LoginResult::BudgetSpent {
            message: e.to_string(),
        };
        return None;
    }
    f.logins = 1;
    match tl.login(http, redactor).await {
        Ok(g) => {
            f.login = LoginResult::Ok {
                request_secs: secs(g.received_at.duration_since(g.sent_at)),
            };
            Some(g)
        }
        Err(e) => {
            f.login = match e {
                GrantError::LoginRefused { status, text, .. } => LoginResult::Refused {
                    answer: match text.is_empty() {
                        true => format!("HTTP {status}"),
                        false => format!("HTTP {status}: {text}"),
                    },
                },
                GrantError::LoginDenied { last, .. } => LoginResult::Refused { answer: last },
                e @ GrantError::LoginBudgetSpent { .. } => LoginResult::Refused {
                    answer: e.to_string(),
                },
                e => LoginResult::Failed {
                    message: e.to_string(),
                },
            };
            None
        }
    }
}

/// Time between the watch's calls: a tenth of the planned lifetime (0.25 to 1 s), so the
/// death is placed within that; 0.5 s when nothing states the lifetime.
fn cadence(lifetime: Option<Duration>) -> Duration {
    Duration::from_secs_f64(lifetime.map_or(0.5, |l| (l.as_secs_f64() / 10.0).clamp(0.25, 1.0)))
}

/// Calls with `g`'s access token every `every` until the API refuses it, an answer that is
/// neither 2xx nor a refusal stops the watch, or `end`. Ages count from the login's send.
async fn watch(
    http: &reqwest::Client,
    at: Target<'_>,
    g: &Grant,
    every: Duration,
    end: Instant,
) -> DeathWatch {
    let mut w = DeathWatch {
        every_secs: secs(every),
        ..Default::default()
    };
    while w.calls < MAX_WATCH_CALLS {
        let call = health(http, at, &g.access_token, g.sent_at).await.call;
        w.calls += 1;
        if call.is_success() {
            w.last_alive_secs = Some(call.token_age_secs);
        } else if call.is_refusal() {
            w.dead_age_secs = Some(call.token_age_secs);
            w.dead = Some(call);
            break;
        } else if !transient(&call) {
            w.stopped_by = Some(call);
            break;
        }
        let next = Instant::now() + every;
        if next > end {
            break;
        }
        tokio::time::sleep_until(next.into()).await;
    }
    w
}

/// No answer, 429 or 5xx: says nothing about the token.
fn transient(c: &CallFinding) -> bool {
    c.status.is_none_or(|s| s == 429 || s >= 500)
}

/// The spent refresh token `spent` presented once more, then the refreshed access token
/// of `g` called: refused, and whether that revoked the chain. `None` when the server did
/// not judge it (unreachable, busy).
async fn reuse(
    tl: &TokenLogin,
    http: &reqwest::Client,
    redactor: &Redactor,
    api_http: &reqwest::Client,
    at: Target<'_>,
    spent: &Secret,
    g: &Grant,
) -> Option<ReuseCheck> {
    let refused = match tl.refresh(http, redactor, spent).await {
        Ok(_) => false,
        Err(GrantError::Rejected { .. }) => true,
        Err(_) => return None,
    };
    let chain_revoked = match refused {
        true => {
            let c = health_with_retry(api_http, at, &g.access_token, g.sent_at).await;
            c.call.status.map(|_| c.call.is_refusal())
        }
        false => None,
    };
    Some(ReuseCheck {
        refused,
        chain_revoked,
    })
}
