//! `[api_key]` of a profile: static API keys instead of bearer tokens. A call carries an
//! accepted key in a header (with an optional prefix, e.g. `Token `) or a query parameter;
//! anything else is a 401 with a JSON body. Keys never expire. Off by default.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::sim::reply;
use crate::sim::state::Sim;
use crate::sim::stats::Stats;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiKeyProfile {
    pub enabled: bool,
    /// The header that carries the key (ignored when `query` is set).
    pub header: String,
    /// Text before the key in the header's value (`"Token "`, `"Bearer "`); "" = none.
    pub prefix: String,
    /// The query parameter that carries the key; "" = the header does.
    pub query: String,
    /// The keys accepted.
    pub keys: Vec<String>,
}

impl Default for ApiKeyProfile {
    fn default() -> Self {
        Self {
            enabled: false,
            header: "X-Api-Key".into(),
            prefix: String::new(),
            query: String::new(),
            keys: vec!["sim-api-key-1".into()],
        }
    }
}

impl ApiKeyProfile {
    pub fn check(&self, other_auth: bool) -> Result<(), String> {
        if !self.enabled {
            return Ok(());
        }
        if other_auth {
            return Err(
                "[api_key] cannot be enabled with [session] or [token_login]: calls carry one \
                 credential"
                    .into(),
            );
        }
        if self.keys.iter().any(|k| k.trim().is_empty()) || self.keys.is_empty() {
            return Err("[api_key] keys must list at least one non-empty key".into());
        }
        if self.query.is_empty()
            && axum::http::HeaderName::from_bytes(self.header.as_bytes()).is_err()
        {
            return Err(format!(
                "[api_key] header = {:?} is not a header name",
                self.header
            ));
        }
        Ok(())
    }

    /// The key this call carries, if any.
    fn carried(&self, headers: &HeaderMap) -> Option<String> {
        let (name, prefix) = match self.query.is_empty() {
            true => (self.header.as_str(), self.prefix.as_str()),
            false => (QUERY_KEY, ""),
        };
        let value = headers.get(name)?.to_str().ok()?;
        value.strip_prefix(prefix).map(str::to_string)
    }
}

/// Where [`lift_query`] puts a key that came in the query, for the gate (which reads
/// headers only). Any such header a client sends is dropped first.
const QUERY_KEY: &str = "x-sim-api-key-from-query";

/// With `[api_key] query` set: the key leaves the URL (the handlers read their own query
/// parameters) and goes to [`QUERY_KEY`].
pub async fn lift_query(State(sim): State<Arc<Sim>>, mut req: Request, next: Next) -> Response {
    req.headers_mut().remove(QUERY_KEY);
    let name = sim.profile.api_key.query.as_str();
    if let Some(query) = req.uri().query().map(str::to_string) {
        let (keys, rest): (Vec<_>, Vec<_>) =
            url::form_urlencoded::parse(query.as_bytes()).partition(|(k, _)| k == name);
        if let Some((_, key)) = keys.first()
            && let Ok(v) = HeaderValue::from_str(key)
        {
            req.headers_mut().insert(QUERY_KEY, v);
        }
        let rest: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(rest)
            .finish();
        let path = req.uri().path().to_string();
        let joined = match rest.is_empty() {
            true => path,
            false => format!("{path}?{rest}"),
        };
        if let Ok(uri) = joined.parse::<Uri>() {
            *req.uri_mut() = uri;
        }
    }
    next.run(req).await
}

/// Admits a call with an accepted key (the client id is `api-key`), else a 401.
pub fn check(sim: &Sim, headers: &HeaderMap) -> Result<String, Response> {
    let p = &sim.profile.api_key;
    match p.carried(headers) {
        Some(k) if p.keys.contains(&k) => Ok("api-key".into()),
        carried => {
            Stats::bump(&sim.stats.unauthorized);
            Stats::bump(&sim.stats.api_unauthorized);
            let why = match carried {
                Some(k) => format!("API key {} is not accepted", crate::secret::fingerprint(&k)),
                None => "no API key in the request".into(),
            };
            tracing::info!(target: "supsync::sim", reason = %why, "API key refused");
            Err(reply::unauthorized("invalid_api_key", &why))
        }
    }
}
