//! `POST /oauth/token` (docs/API.md §1): client authentication (HTTP Basic, the body, a
//! signed assertion or a client certificate: see `client_auth.rs`), the
//! `client_credentials` and `refresh_token` grants, RFC 6749 error answers.

use std::sync::Arc;
use std::time::Instant;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::sim::client_auth::{self, ASSERTION_TYPE};
use crate::sim::server::PeerCertificate;
use crate::sim::state::{Sim, lock};
use crate::sim::stats::Stats;
use crate::sim::tokens::{Issued, RefreshError};
use crate::sim::{quirks, reply};

const FORM_LIMIT: usize = 64 * 1024;
const LOG: &str = "supsync::sim";

pub async fn token(
    State(sim): State<Arc<Sim>>,
    peer: Option<Extension<PeerCertificate>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    Stats::bump(&sim.stats.requests);
    Stats::bump(&sim.stats.token_requests);
    let peer = peer.map(|Extension(p)| p);
    let resp = match grant(&sim, &headers, peer.as_ref(), body).await {
        Ok(resp) => resp,
        Err(resp) => {
            Stats::bump(&sim.stats.token_errors);
            if resp.status() == StatusCode::UNAUTHORIZED {
                Stats::bump(&sim.stats.unauthorized);
            }
            resp
        }
    };
    no_store(resp)
}

async fn grant(
    sim: &Sim,
    headers: &HeaderMap,
    peer: Option<&PeerCertificate>,
    body: Body,
) -> Result<Response, Response> {
    if let Some(left) = sim.outage.remaining(Instant::now()) {
        Stats::bump(&sim.stats.outage_rejections);
        return Err(reply::with_retry_after(
            reply::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the authorization server is unavailable (simulated outage)",
            ),
            left.as_secs_f64().ceil() as u64,
        ));
    }
    if reply::media_type(headers).as_deref() != Some("application/x-www-form-urlencoded") {
        return Err(invalid_request(
            "the token request must be application/x-www-form-urlencoded",
        ));
    }
    let bytes = reply::read_body(body, FORM_LIMIT).await?;
    let quirks = &sim.profile.tokens.token_quirks;
    if let Some(resp) = quirks::hostile(quirks, headers, &bytes) {
        return if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(resp)
        };
    }
    let form = Form::parse(&bytes)?;
    let client_id = authenticate_client(sim, headers, &form, peer)?;
    let now = Instant::now();
    let grant_type = form
        .get("grant_type")
        .ok_or_else(|| invalid_request("grant_type is missing"))?;
    let required = &sim.profile.auth;
    if (grant_type == "client_credentials" || required.required_params_on_refresh)
        && let Some(why) = client_auth::missing_param(&required.required_params, |k| form.get(k))
    {
        return Err(invalid_request(&why));
    }
    let scope = match form.get("scope") {
        Some(s) => Some(parse_scope(s)?),
        None => None,
    };
    let mut issued = match grant_type {
        "client_credentials" => {
            let scope = scope.unwrap_or_else(|| sim.profile.tokens.default_scopes.clone());
            let issued = lock(&sim.tokens).client_credentials(&client_id, scope, now);
            Stats::bump(&sim.stats.sessions);
            issued
        }
        "refresh_token" => {
            let rt = form
                .get("refresh_token")
                .ok_or_else(|| invalid_request("refresh_token is missing"))?;
            let result = lock(&sim.tokens).refresh(&client_id, rt, scope, now);
            match result {
                Ok(issued) => {
                    Stats::bump(&sim.stats.refreshes);
                    issued
                }
                Err(RefreshError::Reuse) => {
                    Stats::bump(&sim.stats.refresh_reuse);
                    Stats::bump(&sim.stats.invalid_grant);
                    tracing::warn!(target: LOG, client = %client_id, "refresh token reused: session revoked");
                    return Err(oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "refresh token already used: the session is revoked",
                    ));
                }
                Err(RefreshError::InvalidGrant(why)) => {
                    Stats::bump(&sim.stats.invalid_grant);
                    tracing::info!(target: LOG, client = %client_id, reason = %why, "refresh refused");
                    return Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", &why));
                }
                Err(RefreshError::TooEarly { left, window }) => {
                    Stats::bump(&sim.stats.refresh_too_early);
                    tracing::info!(target: LOG, client = %client_id, "refresh refused: too early");
                    return Err(oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        &too_early(left, window, &sim.profile.tokens.refresh_window_text),
                    ));
                }
                Err(RefreshError::InvalidScope(why)) => {
                    return Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", &why));
                }
            }
        }
        other => {
            let shown: String = other.chars().take(60).collect();
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!(
                    "grant_type {shown:?} is not supported; use client_credentials or refresh_token"
                ),
            ));
        }
    };
    if quirks::unusable_tokens(quirks) {
        // A token the resource API has never heard of: every call with it is a 401.
        issued.access_token = quirks::opaque_token();
    }
    Stats::bump(&sim.stats.tokens_issued);
    tracing::info!(
        target: LOG,
        grant = grant_type,
        client = %client_id,
        scope = %issued.scope.join(" "),
        expires_in = issued.expires_in,
        refresh_token = issued.refresh_token.is_some(),
        "token issued"
    );
    let mut body = success_body(&issued);
    quirks::reshape(quirks, &mut body);
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, quirks::content_type(quirks))],
        body.to_string(),
    )
        .into_response())
}

/// The "too early" refusal of docs/API.md §1.3: clients read "too early" and "within N s".
/// `text`, when not empty, says it in a vendor's words instead.
pub fn too_early(left: std::time::Duration, window: std::time::Duration, text: &str) -> String {
    let left = left.as_secs_f64().ceil() as u64;
    if !text.is_empty() {
        return text
            .replace("{window}", &window.as_secs().to_string())
            .replace("{left}", &left.to_string());
    }
    format!(
        "refresh too early: the access token expires in {} s; a refresh is accepted within {} s \
         of expiry",
        left,
        window.as_secs()
    )
}

fn success_body(i: &Issued) -> serde_json::Value {
    let mut body = serde_json::json!({
        "access_token": i.access_token,
        "token_type": "Bearer",
        "expires_in": i.expires_in,
    });
    if !i.scope.is_empty() {
        body["scope"] = i.scope.join(" ").into();
    }
    if let (Some(rt), Some(left)) = (&i.refresh_token, i.refresh_expires_in) {
        body["refresh_token"] = rt.clone().into();
        body["refresh_expires_in"] = left.into();
    }
    body
}

/// Form parameters; each may appear once (RFC 6749 §3.2).
struct Form(Vec<(String, String)>);

impl Form {
    fn parse(bytes: &[u8]) -> Result<Form, Response> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(bytes)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        for (i, (k, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(seen, _)| seen == k) {
                let shown: String = k.chars().take(40).collect();
                return Err(invalid_request(&format!(
                    "parameter {shown:?} appears more than once"
                )));
            }
        }
        Ok(Form(pairs))
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The client, by the one method the request uses: HTTP Basic (id and secret
/// form-urlencoded, then base64: RFC 6749 §2.3.1), `client_id` + `client_secret` in the
/// body, a signed `client_assertion` (RFC 7523), or a verified client certificate whose
/// common name is the `client_id` in the body (RFC 8705). The method must be one the
/// profile accepts; a refusal names the methods it does.
fn authenticate_client(
    sim: &Sim,
    headers: &HeaderMap,
    form: &Form,
    peer: Option<&PeerCertificate>,
) -> Result<String, Response> {
    let basic = match headers.get(header::AUTHORIZATION) {
        Some(v) => Some(parse_basic(v).ok_or_else(|| {
            invalid_client("the Authorization header is not valid HTTP Basic credentials")
        })?),
        None => None,
    };
    let in_body = form.get("client_secret").is_some();
    let assertion = form.get("client_assertion");
    let used = [basic.is_some(), in_body, assertion.is_some()];
    if used.iter().filter(|u| **u).count() > 1 {
        return Err(invalid_request(
            "the client authenticated in more than one way (Basic, body secret, assertion); use one",
        ));
    }
    let method = if basic.is_some() {
        "client_secret_basic"
    } else if in_body {
        "client_secret_post"
    } else if assertion.is_some() {
        "private_key_jwt"
    } else if peer.is_some() {
        "tls_client_auth"
    } else {
        return Err(invalid_client(
            "client authentication is missing (HTTP Basic, client_id + client_secret, a \
             client assertion or a client certificate)",
        ));
    };
    let accepted = &sim.profile.auth;
    if !accepted.accepts(method) {
        let list = if accepted.methods.is_empty() {
            client_auth::METHODS.join(", ")
        } else {
            accepted.methods.join(", ")
        };
        return Err(invalid_client(&format!(
            "client authentication method {method} is not accepted; this server accepts {list}"
        )));
    }
    let refused = |id: &str, why: &str| {
        tracing::info!(target: LOG, client = %id.chars().take(60).collect::<String>(), method, reason = why, "client authentication failed");
        invalid_client(&format!("client authentication failed ({method}): {why}"))
    };
    match (basic, assertion) {
        (Some((id, secret)), _) => check_secret(sim, id, &secret, &refused),
        (None, Some(jwt)) => {
            if form.get("client_assertion_type") != Some(ASSERTION_TYPE) {
                return Err(invalid_request(&format!(
                    "client_assertion_type must be {ASSERTION_TYPE}"
                )));
            }
            let audience = accepted
                .assertion_audience
                .clone()
                .unwrap_or_else(|| sim.token_url.clone());
            let id = sim
                .verifier
                .verify(jwt, &audience)
                .map_err(|why| refused(form.get("client_id").unwrap_or_default(), &why))?;
            match form.get("client_id") {
                Some(body_id) if body_id != id => Err(refused(
                    body_id,
                    "client_id differs from the assertion's subject",
                )),
                _ if sim.profile.clients.contains_key(&id) => Ok(id),
                _ => Err(refused(&id, "unknown client")),
            }
        }
        (None, None) if in_body => {
            let id = form.get("client_id").unwrap_or_default().to_string();
            let secret = form.get("client_secret").unwrap_or_default();
            check_secret(sim, id, secret, &refused)
        }
        (None, None) => {
            let id = form.get("client_id").unwrap_or_default();
            let named = peer.and_then(|p| client_auth::certificate_client(&p.0));
            match named {
                Some(cn) if cn == id && sim.profile.clients.contains_key(id) => Ok(cn),
                Some(_) => Err(refused(
                    id,
                    "the certificate's common name is not the client_id",
                )),
                None => Err(refused(id, "the client certificate cannot be read")),
            }
        }
    }
}

fn check_secret(
    sim: &Sim,
    id: String,
    secret: &str,
    refused: &dyn Fn(&str, &str) -> Response,
) -> Result<String, Response> {
    match sim.profile.clients.get(&id) {
        Some(expected) if expected == secret => Ok(id),
        _ => Err(refused(&id, "wrong client id or secret")),
    }
}

fn parse_basic(v: &HeaderValue) -> Option<(String, String)> {
    let v = v.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(rest.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

/// application/x-www-form-urlencoded decoding of one value (`+` is a space).
fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            // A `%` not followed by two hex digits is kept as is (a client that did
            // not encode its secret still gets in when the secret has no `+`).
            b'%' if i + 2 < bytes.len() && hex_pair(bytes[i + 1], bytes[i + 2]).is_some() => {
                out.extend(hex_pair(bytes[i + 1], bytes[i + 2]));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn hex_pair(a: u8, b: u8) -> Option<u8> {
    let digit = |c: u8| (c as char).to_digit(16);
    Some((digit(a)? * 16 + digit(b)?) as u8)
}

/// Space-separated scope tokens (RFC 6749 §3.3), duplicates dropped, order kept. Any
/// well-formed scope is granted: the simulator models lifetimes, not authorization.
fn parse_scope(s: &str) -> Result<Vec<String>, Response> {
    let mut out: Vec<String> = Vec::new();
    for tok in s.split(' ').filter(|t| !t.is_empty()) {
        let ok = tok
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
        if !ok || tok.len() > 200 {
            let shown: String = tok.chars().take(40).collect();
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                &format!("scope {shown:?} is not a valid scope token"),
            ));
        }
        if !out.iter().any(|t| t == tok) {
            out.push(tok.to_string());
        }
    }
    Ok(out)
}

fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response {
    reply::error(status, code, description)
}

fn invalid_request(description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

fn invalid_client(description: &str) -> Response {
    let mut resp = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description);
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"supsync-sim\""),
    );
    resp
}

/// RFC 6749 §5.1: token responses must not be cached.
fn no_store(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let enc = STANDARD.encode("supplier%2Dsync:p%40ss+word%3A1");
        let v = HeaderValue::from_str(&format!("Basic {enc}")).unwrap();
        assert_eq!(
            parse_basic(&v),
            Some(("supplier-sync".into(), "p@ss word:1".into()))
        );
        let raw = STANDARD.encode("supplier-sync:change-me");
        let v = HeaderValue::from_str(&format!("basic {raw}")).unwrap();
        assert_eq!(parse_basic(&v).unwrap().1, "change-me");
        assert!(parse_basic(&HeaderValue::from_static("Basic !!!")).is_none());
        assert!(parse_basic(&HeaderValue::from_static("Bearer abc")).is_none());
        assert_eq!(form_decode("a%"), Some("a%".into()));
        assert_eq!(form_decode("a%4"), Some("a%4".into()));
        assert_eq!(form_decode("%zz%41"), Some("%zzA".into()));
    }

    #[test]
    fn scopes_are_checked_and_deduplicated() {
        assert_eq!(parse_scope("a  b a").unwrap(), vec!["a", "b"]);
        assert!(parse_scope("bad\"quote").is_err());
        assert!(parse_scope("").unwrap().is_empty());
    }
}
