//! `api.headers`: extra headers every request carries, resolved from their sources once
//! the client is built (the session's logout sends them too).

use super::{ApiError, config_error};
use crate::config::Config;

/// `api.headers`, resolved from their sources, each marked sensitive (HTTP/2 never
/// indexes it; reqwest's `Debug` never shows it).
pub(super) fn extra_headers(
    cfg: &Config,
) -> Result<Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>, ApiError> {
    let mut out = Vec::new();
    for (name, source) in &cfg.api.headers {
        let value = source
            .resolve(name)
            .map_err(|m| config_error(format!("api.headers: {m}")))?;
        let header = reqwest::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| config_error(format!("api.headers: {name:?} is not a header name")))?;
        let mut v = reqwest::header::HeaderValue::from_str(value.expose()).map_err(|_| {
            config_error(format!(
                "api.headers: the value of {name} is not a valid header value (control \
                 characters or non-ASCII)"
            ))
        })?;
        v.set_sensitive(true);
        out.push((header, v));
    }
    Ok(out)
}
