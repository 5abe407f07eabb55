//! Session logins (docs/API.md §7): the login, logout and keep-alive endpoints, and where a
//! resource call carries its session id (read by `gate.rs`). The clocks and the lockout
//! bookkeeping live in `sessions.rs`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::sim::gate;
use crate::sim::reply;
use crate::sim::session_profile::{IdIn, SessionIdCarry, SessionProfile};
use crate::sim::sessions::LoginRefused;
use crate::sim::state::{Sim, lock};
use crate::sim::stats::Stats;

const BODY_LIMIT: usize = 64 * 1024;
const LOG: &str = "supsync::sim";

/// The session id a request carries the way `[session] carry` says, or why there is none.
pub fn carried<'h>(cfg: &SessionProfile, headers: &'h HeaderMap) -> Result<&'h str, String> {
    match cfg.carry {
        SessionIdCarry::Header => {
            let name = &cfg.header_name;
            let v = headers
                .get(name.as_str())
                .ok_or_else(|| format!("No session: the {name} header is missing"))?;
            let v = v
                .to_str()
                .map_err(|_| format!("No session: the {name} header is not ASCII"))?
                .trim();
            if v.is_empty() {
                return Err(format!("No session: the {name} header is empty"));
            }
            Ok(v)
        }
        SessionIdCarry::Bearer => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, id)| id.trim())
            .filter(|id| !id.is_empty())
            .ok_or_else(|| "No session: no Authorization: Bearer header".to_string()),
        SessionIdCarry::Cookie => {
            let name = &cfg.cookie_name;
            headers
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .filter_map(|pair| pair.trim().split_once('='))
                .find(|(k, _)| k.trim() == name)
                .map(|(_, v)| v.trim().trim_matches('"'))
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("No session: no {name} cookie in the Cookie header"))
        }
    }
}

/// `POST login_path`.
pub async fn login(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Body) -> Response {
    Stats::bump(&sim.stats.requests);
    let resp = match attempt(&sim, &headers, body).await {
        Ok(resp) | Err(resp) => resp,
    };
    no_store(resp)
}

async fn attempt(sim: &Sim, headers: &HeaderMap, body: Body) -> Result<Response, Response> {
    outage(sim)?;
    let cfg = &sim.profile.session;
    let bytes = reply::read_body(body, BODY_LIMIT).await?;
    let (user, password) = credentials(
        reply::media_type(headers).as_deref(),
        &bytes,
        &cfg.login_fields,
    )?;
    let expected = cfg.users.get(&user).map(String::as_str);
    // Only known users are tracked: arbitrary names must not grow the server's memory.
    let _in_flight = match expected {
        Some(_) => {
            let n = lock(&sim.sessions).login_started(&user);
            sim.stats
                .session_concurrent_logins_max
                .fetch_max(n, std::sync::atomic::Ordering::Relaxed);
            Some(InFlightSession {
                sim,
                user: user.clone(),
            })
        }
        None => None,
    };
    // The password hash: logins sent together overlap here.
    tokio::time::sleep(Duration::from_millis(cfg.login_ms)).await;
    let result = lock(&sim.sessions).login(&user, expected, &password, Instant::now());
    let done = match result {
        Ok(done) => done,
        Err(LoginRefused::Invalid { locked_now }) => {
            Stats::bump(&sim.stats.session_login_failures);
            Stats::bump(&sim.stats.unauthorized);
            if locked_now {
                Stats::bump(&sim.stats.session_lockouts);
                tracing::warn!(target: LOG, %user, failures = cfg.lockout_after, secs = cfg.lockout_secs, "user locked out");
            } else {
                // A name no user has is the caller's text: not written to the log as is.
                let shown = if expected.is_some() {
                    user.as_str()
                } else {
                    "(unknown)"
                };
                tracing::info!(target: LOG, user = %shown, "login refused: wrong user name or password");
            }
            let mut resp = match cfg.refusal_text.as_str() {
                "" => StatusCode::UNAUTHORIZED.into_response(),
                words => reply::error(StatusCode::UNAUTHORIZED, "invalid_credentials", words),
            };
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Session error=\"invalid_credentials\""),
            );
            return Err(resp);
        }
        Err(LoginRefused::Locked { left }) => {
            Stats::bump(&sim.stats.session_login_refused_locked);
            let secs = left.as_secs_f64().ceil() as u64;
            tracing::info!(target: LOG, %user, secs_left = secs, "login refused: user locked");
            let resp = reply::error(
                StatusCode::LOCKED,
                "account_locked",
                format!(
                    "locked for {secs} s after {} failed logins",
                    cfg.lockout_after
                ),
            );
            return Err(reply::with_retry_after(resp, secs));
        }
    };
    Stats::bump(&sim.stats.session_logins);
    sim.stats
        .session_live_max
        .fetch_max(done.live, std::sync::atomic::Ordering::Relaxed);
    for _ in 0..done.ended_others {
        Stats::bump(&sim.stats.sessions_ended_by_newer_login);
    }
    tracing::info!(
        target: LOG,
        %user,
        session = %crate::secret::fingerprint(&done.id),
        ended_others = done.ended_others,
        "session login"
    );
    Ok(success(cfg, &user, &done.id))
}

/// The login's answer, the id placed as `id_in` says.
fn success(cfg: &SessionProfile, user: &str, id: &str) -> Response {
    let body = match cfg.id_in {
        IdIn::Body => serde_json::json!({"sessionId": id, "user": user}),
        IdIn::Header | IdIn::Cookie => serde_json::json!({"user": user}),
    };
    let mut resp = reply::json(StatusCode::OK, &body);
    let placed = match cfg.id_in {
        IdIn::Body => None,
        IdIn::Header => HeaderName::from_bytes(cfg.header_name.as_bytes())
            .ok()
            .zip(HeaderValue::from_str(id).ok()),
        IdIn::Cookie => {
            HeaderValue::from_str(&format!("{}={id}; Path=/; HttpOnly", cfg.cookie_name))
                .ok()
                .map(|v| (header::SET_COOKIE, v))
        }
    };
    if let Some((name, value)) = placed {
        resp.headers_mut().insert(name, value);
    }
    for i in 0..cfg.login_extra_cookies {
        if let Ok(v) = HeaderValue::from_str(&format!("pref{i}=1; Path=/")) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

/// Decrements the user's logins in flight however the login ends, a client hanging up
/// during the password hash included.
struct InFlightSession<'a> {
    sim: &'a Sim,
    user: String,
}

impl Drop for InFlightSession<'_> {
    fn drop(&mut self) {
        lock(&self.sim.sessions).login_done(&self.user);
    }
}

/// The user name and password of a JSON or form body, which must also carry `required`.
fn credentials(
    media: Option<&str>,
    bytes: &[u8],
    required: &std::collections::BTreeMap<String, String>,
) -> Result<(String, String), Response> {
    let fields: Vec<(String, String)> = match media {
        Some("application/json") => {
            let v: serde_json::Value = serde_json::from_slice(bytes)
                .map_err(|e| invalid_request(&format!("the login body is not JSON: {e}")))?;
            let serde_json::Value::Object(map) = v else {
                return Err(invalid_request("the login body must be a JSON object"));
            };
            map.into_iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string())))
                .collect()
        }
        Some("application/x-www-form-urlencoded") => url::form_urlencoded::parse(bytes)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        _ => {
            return Err(invalid_request(
                "the login request must be application/json or application/x-www-form-urlencoded",
            ));
        }
    };
    let field = |names: &[&str]| {
        names.iter().find_map(|n| {
            fields
                .iter()
                .find(|(k, v)| k == n && !v.is_empty())
                .map(|(_, v)| v.clone())
        })
    };
    for (name, value) in required {
        if field(&[name.as_str()]).as_deref() != Some(value.as_str()) {
            return Err(invalid_request(&format!(
                "the login field {name} is missing or wrong"
            )));
        }
    }
    let user = field(&["username", "user", "userName"]);
    let password = field(&["password"]);
    match (user, password) {
        (Some(u), Some(p)) => Ok((u, p)),
        (None, _) => Err(invalid_request("username is missing")),
        (_, None) => Err(invalid_request("password is missing")),
    }
}

/// `POST`, `PUT` or `DELETE logout_path`: ends the carried session; 204 whatever it was.
pub async fn logout(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> Response {
    Stats::bump(&sim.stats.requests);
    if let Err(resp) = outage(&sim) {
        return resp;
    }
    Stats::bump(&sim.stats.session_logouts);
    if let Ok(id) = carried(&sim.profile.session, &headers) {
        let ended = lock(&sim.sessions).logout(id, Instant::now());
        tracing::info!(target: LOG, session = %crate::secret::fingerprint(id), ended, "session logout");
    }
    no_store(StatusCode::NO_CONTENT.into_response())
}

/// `GET` or `POST keepalive_path`: a resource call that does nothing but slide the window.
pub async fn keepalive(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> Response {
    match gate::admit(&sim, &headers) {
        Ok(adm) => {
            Stats::bump(&sim.stats.session_keepalives);
            adm.finish(reply::json(
                StatusCode::OK,
                &serde_json::json!({"status": "ok"}),
            ))
        }
        Err(resp) => resp,
    }
}

/// During an outage (`/_sim/outage`) the login server is down too.
fn outage(sim: &Sim) -> Result<(), Response> {
    match sim.outage.remaining(Instant::now()) {
        Some(left) => {
            Stats::bump(&sim.stats.outage_rejections);
            Err(reply::with_retry_after(
                reply::error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "service_unavailable",
                    "the login server is unavailable (simulated outage)",
                ),
                left.as_secs_f64().ceil() as u64,
            ))
        }
        None => Ok(()),
    }
}

fn invalid_request(description: &str) -> Response {
    reply::error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

fn no_store(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(carry: SessionIdCarry) -> SessionProfile {
        let mut p = crate::sim::Profile::default().session;
        p.carry = carry;
        p
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn the_id_is_read_from_the_header_or_among_other_cookies() {
        let c = cfg(SessionIdCarry::Header);
        assert_eq!(
            carried(&c, &headers(&[("x-session-id", " abc ")])),
            Ok("abc")
        );
        let e = carried(&c, &headers(&[("cookie", "SESSIONID=abc")])).unwrap_err();
        assert!(e.contains("X-Session-Id header is missing"), "{e}");
        assert!(carried(&c, &headers(&[("x-session-id", "")])).is_err());
        let c = cfg(SessionIdCarry::Cookie);
        let h = headers(&[("cookie", "theme=dark; SESSIONID=abc; lang=de")]);
        assert_eq!(carried(&c, &h), Ok("abc"));
        let h = headers(&[("cookie", "theme=dark"), ("cookie", "SESSIONID=\"q\"")]);
        assert_eq!(carried(&c, &h), Ok("q"));
        let h = headers(&[("cookie", "XSESSIONID=abc; SESSIONID=")]);
        let e = carried(&c, &h).unwrap_err();
        assert!(e.contains("no SESSIONID cookie"), "{e}");
        assert!(carried(&c, &headers(&[("x-session-id", "abc")])).is_err());
    }

    #[test]
    fn json_and_form_bodies_name_the_user_three_ways() {
        let json = Some("application/json");
        let form = Some("application/x-www-form-urlencoded");
        let none = Default::default();
        let ok = |m, b: &str| credentials(m, b.as_bytes(), &none).ok();
        let want = Some(("bot".to_string(), "p w".to_string()));
        assert_eq!(ok(json, r#"{"username":"bot","password":"p w"}"#), want);
        assert_eq!(ok(json, r#"{"user":"bot","password":"p w"}"#), want);
        assert_eq!(ok(json, r#"{"userName":"bot","password":"p w"}"#), want);
        assert_eq!(ok(form, "username=bot&password=p+w"), want);
        assert_eq!(ok(form, "userName=bot&password=p%20w"), want);
        for (m, b) in [
            (json, "{"),
            (json, "[]"),
            (json, r#"{"username":"bot"}"#),
            (json, r#"{"password":"x"}"#),
            (form, "username=&password=x"),
            (None, "username=bot&password=x"),
            (Some("text/plain"), "username=bot&password=x"),
        ] {
            let resp = credentials(m, b.as_bytes(), &none).unwrap_err();
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{b}");
        }
    }

    #[test]
    fn required_login_fields_must_be_there_with_their_values() {
        let json = Some("application/json");
        let mut need = std::collections::BTreeMap::new();
        need.insert("workspaceId".to_string(), "ws-1".to_string());
        let with = r#"{"username":"bot","password":"pw","workspaceId":"ws-1"}"#;
        assert!(credentials(json, with.as_bytes(), &need).is_ok());
        for b in [
            r#"{"username":"bot","password":"pw"}"#,
            r#"{"username":"bot","password":"pw","workspaceId":"ws-2"}"#,
        ] {
            let resp = credentials(json, b.as_bytes(), &need).unwrap_err();
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{b}");
        }
    }
}
