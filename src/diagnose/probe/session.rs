//! The probes of a session login (`auth.kind = "session"`, docs/API.md §7), in the order
//! that spends the least: a session (a live one from the token cache, else one login
//! within the login budget, under the credential's lock); health calls with it (carried
//! as `auth.session.send_as` says) for `X-Token-Expires-In`, `Date` and the idle window; a
//! second login and the first session's next call (one session per user?), unless the
//! cache shows a running sync's session that it would end; then, within `--wait-secs`, a
//! session kept alive until its cap shows (and ends it) and one left unused until its idle
//! window ends it; the answer to a dead session; the logouts. The first session is had
//! through the run's own client (`ApiClient::connect`), which also reads the first page
//! with the API mapping; at most `--logins` logins are made with the password. Session ids stay `Secret`s; only fingerprints reach the findings.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::anyhow;

use super::calls::{Target, health, health_with_retry, idle_probe, use_probe};
use super::oauth::Peers;
use super::options::DiagnoseOptions;
use super::session_access::{Access, secs};
use super::session_logins::{FirstSession, LIVE_IN_CACHE, RunPath, first_session, second_login};
use super::session_watch::{cadence, cap_watch, idle_death};
use super::{mapping as probe_mapping, signal as probe_signal};
use crate::api::ConnectOptions;
use crate::auth::cache::TokenCache;
use crate::auth::grant::{Grant, TokenEndpoint};
use crate::auth::login_budget;
use crate::auth::session_login::{credential_of, login_budget_file};
use crate::auth::status::LifetimeSource;
use crate::config::{Carry, Config, TokenCacheMode};
use crate::diagnose::evidence::analysis::idle_conclusion;
use crate::diagnose::evidence::dead_answer::Rules;
use crate::diagnose::evidence::findings::*;
use crate::secret::Secret;

/// Runs every session probe. `Err` only when the configuration cannot be probed at all.
pub async fn run(
    cfg: &Config,
    password: &Secret,
    opts: &DiagnoseOptions,
) -> anyhow::Result<Findings> {
    let login_url = cfg.login_url();
    let Peers {
        health_url,
        timeout,
        http,
        api_http,
    } = Peers::of(cfg, &login_url, "auth.session.login_path", "the login")?;
    let carry = Carry::parse(&cfg.auth.session.send_as)
        .map_err(|m| anyhow!("auth.session.send_as: {m}"))?;
    let mapping = probe_mapping::mapping(cfg)?;
    let rules = Rules::of(cfg)?;
    let at = Target {
        url: &health_url,
        carry: &carry,
        rules: &rules,
    };
    // The files a run uses: the login budget beside the token cache, and its lock.
    let cache_path = opts.state_dir.as_ref().map(|d| d.join("token-cache"));
    let budget_file = cache_path.as_deref().map(|c| login_budget_file(c, cfg));
    let endpoint = TokenEndpoint::with_login_budget(cfg, password, http, budget_file.clone())
        .map_err(|e| anyhow!(e))?;
    let (budget_before, lock_path) = match endpoint.session() {
        Some(l) => (budget_read(&l.budget().recorded()), l.budget().lock_path()),
        None => anyhow::bail!("internal: auth.kind = \"session\" without a session login"),
    };
    let cache = match (&cfg.auth.token_cache, &cache_path) {
        (TokenCacheMode::Encrypted, Some(p)) => {
            Some(TokenCache::for_session(p.clone(), &credential_of(cfg)))
        }
        _ => None,
    };
    // Sessions diagnose made end with the run's own logout request.
    let logout = crate::api::session_ender_of(
        cfg,
        api_http.clone(),
        at.carry.clone(),
        std::sync::Arc::clone(endpoint.redactor()),
    )
    .map_err(|e| anyhow!("{e}"))?;

    let mut f = base(cfg, opts, &health_url, &login_url, &mapping);
    let mut s = SessionFindings {
        user: cfg.auth.session.username.clone(),
        login_url,
        session_from: cfg.auth.session.session_from.clone(),
        send_as: cfg.auth.session.send_as.clone(),
        max_failed_logins: cfg.auth.max_failed_logins,
        session_limit_hint_secs: cfg.auth.session_limit_secs,
        budget_file: budget_file.as_ref().map(|p| p.display().to_string()),
        budget_before,
        ..Default::default()
    };
    s.locked = recorded_lock(&s.budget_before);
    let mut access = Access::new(
        endpoint,
        api_http.clone(),
        at,
        cache,
        lock_path,
        logout,
        opts.logins,
    );
    let connect = ConnectOptions {
        token_cache: cache_path.clone(),
        audit_log: None,
    };
    let pull_url = cfg.api_url(&mapping.pull.path);

    // 1. A session: a live one from the cache, else one the way a run gets it (which
    // reads the first page with the mapping too). No token cache for it, so that no
    // running sync takes a session diagnose will log out.
    let mut run_cfg = cfg.clone();
    run_cfg.auth.token_cache = TokenCacheMode::None;
    let run_path = RunPath {
        cfg: run_cfg,
        password,
        url: pull_url.clone(),
        connect: connect.clone(),
    };
    let FirstSession {
        grant: first,
        read: first_read,
        client: run_client,
    } = match first_session(&mut access, &mut s, &run_path).await {
        Some(got) => got,
        None => {
            f.session = Some(s);
            return Ok(f);
        }
    };
    let mut tok = TokenFinding {
        fingerprint: first.access_token.fingerprint(),
        lifetime_source: Some(LifetimeSource::Session),
        request_secs: secs(first.received_at.duration_since(first.sent_at)),
        ..Default::default()
    };
    let call = health_with_retry(&api_http, at, &first.access_token, first.sent_at).await;
    if let Some(date) = call.date {
        f.clock_skew.date_skew_secs =
            Some((unix(date) + 0.5 - unix(call.local_mid)).round() as i64);
        f.clock_skew.date_header = call.date_raw.clone();
    }
    let api_works = call.call.is_success();
    tok.first_call = Some(call.call);
    f.token = Some(tok);
    f.use_probe.planned = opts.probe_calls;
    if api_works {
        let label = if s.borrowed { "cached" } else { "first" };
        f.use_probe = use_probe(&api_http, at, &first, opts.probe_calls).await;
        let (idle, conn) = idle_probe(cfg, at, timeout, label, &first, opts).await;
        f.idle_probe = idle;
        f.connection = conn;
    }
    let window = idle_conclusion(&f.idle_probe).window_secs();
    let first_alive = f.idle_probe.second.as_ref().is_some_and(|c| c.is_success());

    // 2. Does a second login end the first session? Never with a running sync's session
    // in the cache: the second login would end that one too; and only when `--logins`
    // allows one more login with this password.
    let mut second = None;
    s.second_login = if s.borrowed {
        SecondLogin::Skipped {
            why: LIVE_IN_CACHE.into(),
        }
    } else if access.logins_left(&s) == 0 {
        SecondLogin::Skipped {
            why: format!(
                "--logins {} allows no second login with this password (--logins 2 tests \
                 whether a second login ends the first session)",
                opts.logins
            ),
        }
    } else if !first_alive {
        SecondLogin::NotTried
    } else if let Some(client) = &run_client {
        let (tested, g) = second_login(&mut access, &mut s, &api_http, at, &first, client).await;
        second = g;
        tested
    } else {
        SecondLogin::NotTried
    };

    // 3. The clocks, within --wait-secs: the newest session kept alive until its cap
    // shows; the first, when a second login left it alive, unused until its idle window
    // ends it.
    let end = Instant::now() + opts.wait;
    if api_works {
        let every = cadence(window);
        let first_still = matches!(s.second_login, SecondLogin::Tested { ended: false, .. });
        let (kept, kept_label) = match &second {
            Some(g) => (g, "the second session"),
            None if s.borrowed => (&first, "the session from the cache"),
            None => (&first, "the first session"),
        };
        let left_alone = async {
            match (&second, first_still) {
                (Some(_), true) => {
                    idle_death(&api_http, at, &first, Instant::now(), window, end).await
                }
                _ => None,
            }
        };
        let (watch, idle) = tokio::join!(
            cap_watch(&api_http, at, kept, kept_label, every, end),
            left_alone
        );
        s.cap_watch = Some(watch);
        s.idle_death = idle;
    }

    // 4. The logouts, then how the API answers a dead session (one already seen, else a
    // logged-out one, else an id it never issued).
    let logged_out = access.logout_all(&mut s).await;
    if api_works {
        f.expiry_signal = Some(match dead_seen(&s, &first, second.as_ref()) {
            Some(seen) => seen,
            None => match logged_out {
                Some(id) => after_logout(&api_http, at, &id).await,
                None => probe_signal::expiry_signal(&api_http, at, &f, &[], Duration::ZERO).await,
            },
        });
    }

    // 5. One read with the API mapping, as a run reads. The run's client read it with
    // the first session already; a live session of another process in the cache is used
    // as it is, by a client that shares the cache (no login of its own).
    if api_works {
        match first_read {
            Some(read) => f.mapping.first_page = Some(read),
            None => {
                let connect = ConnectOptions {
                    token_cache: cache_path.clone(),
                    audit_log: None,
                };
                let (read, _) =
                    probe_mapping::first_page_with(cfg, password, pull_url, connect, false).await;
                f.mapping.first_page = Some(read);
            }
        }
    }

    // 6. No dead session of diagnose's making left in the cache for a run to try.
    if !s.borrowed && access.cache.is_some() {
        s.cache_after = match access.hold(&mut s).await {
            Ok(_lock) => match access.look_in_cache().await.0 {
                CacheRead::Empty => None,
                other => Some(other),
            },
            Err(_) => None,
        };
    }
    f.session = Some(s);
    Ok(f)
}

/// The findings every probe fills in, for a session login.
fn base(
    cfg: &Config,
    opts: &DiagnoseOptions,
    health_url: &str,
    login_url: &str,
    mapping: &crate::mapping::ApiMapping,
) -> Findings {
    Findings {
        base_url: cfg.api.base_url.clone(),
        token_url: login_url.to_string(),
        client_id: cfg.auth.session.username.clone(),
        expected_ttl_secs: cfg.auth.expected_ttl_secs,
        sync_duration_secs: cfg.sync.expected_duration_secs,
        refresh_margin_secs: cfg.auth.refresh_margin_secs,
        keepalive_secs: cfg.auth.keepalive_secs,
        idle_hint_secs: cfg.auth.idle_timeout_secs,
        expired_when: cfg.auth.expired_when.clone(),
        refresh_window_secs: cfg.auth.refresh_window_secs,
        wait_secs: opts.wait.as_secs(),
        auth_method: "session login".into(),
        health_url: health_url.to_string(),
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
    }
}

/// A dead session's answer the probes already saw, the most telling first: one its own
/// clock ended, one a newer login ended, one left dead in the cache.
fn dead_seen(s: &SessionFindings, first: &Grant, second: Option<&Grant>) -> Option<SignalFinding> {
    let seen = |which: String, fp: String, call: &CallFinding| SignalFinding {
        how: DeadHow::RefusedInUse { which },
        token: fp,
        call: call.clone(),
        shortest_left_secs: None,
    };
    let kept = second.unwrap_or(first).access_token.fingerprint();
    if let Some(w) = &s.cap_watch
        && let Some(call) = &w.dead
    {
        return Some(seen(
            format!(
                "{}, kept alive with calls, at {:.1} s after its login",
                w.session,
                w.dead_age_secs.unwrap_or(0.0)
            ),
            kept,
            call,
        ));
    }
    if let Some(d) = &s.idle_death
        && d.call.is_refusal()
    {
        return Some(seen(
            format!("the first session, left unused {:.1} s", d.unused_secs),
            first.access_token.fingerprint(),
            &d.call,
        ));
    }
    if let SecondLogin::Tested {
        first_after,
        ended: true,
        ..
    } = &s.second_login
    {
        return Some(seen(
            "the first session, after a second login".into(),
            first.access_token.fingerprint(),
            first_after,
        ));
    }
    if let CacheRead::Dead {
        fingerprint,
        answer,
        ..
    } = &s.cache
    {
        return Some(seen(
            "a session left in the token cache".into(),
            fingerprint.clone(),
            answer,
        ));
    }
    None
}

/// The answer to a session diagnose has just logged out.
async fn after_logout(http: &reqwest::Client, at: Target<'_>, id: &Secret) -> SignalFinding {
    let call = health(http, at, id, Instant::now()).await.call;
    SignalFinding {
        how: DeadHow::RefusedInUse {
            which: "a session after its logout".into(),
        },
        token: id.fingerprint(),
        call,
        shortest_left_secs: None,
    }
}

fn budget_read(r: &login_budget::BudgetRecord) -> BudgetRead {
    BudgetRead {
        refused: r.refused,
        refused_other_password: r.refused_other_password,
        locked_for_secs: r
            .locked_until
            .and_then(|u| u.duration_since(SystemTime::now()).ok())
            .filter(|d| !d.is_zero())
            .map(|d| d.as_secs().max(1)),
        last: r.last.clone(),
    }
}

/// A 423 the budget file recorded (its last refusal).
fn recorded_lock(b: &BudgetRead) -> Option<LockedSeen> {
    let last = b.last.as_deref()?;
    let words = last.strip_prefix("HTTP 423")?;
    let words = words.trim_start_matches(':').trim();
    Some(LockedSeen {
        words: words.to_string(),
        lockout_after: super::session_access::lockout_after(words),
        retry_after_secs: b.locked_for_secs,
        now: false,
    })
}

fn unix(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}
