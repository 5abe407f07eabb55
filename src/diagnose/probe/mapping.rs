//! One read through the API mapping: the first page of a pull, asked for as a sync would
//! ask for it, so a mapping that does not fit the server is named before a run, with the
//! `[api]` key to change.

use std::sync::Arc;
use std::time::Instant;

use anyhow::anyhow;
use tokio_util::sync::CancellationToken;

use crate::api::{ApiClient, ApiError, ConnectOptions};
use crate::config::Config;
use crate::diagnose::evidence::findings::PageRead;
use crate::mapping::ApiMapping;
use crate::secret::Secret;

/// The mapping in use. `Err` for one that cannot work (config validation refuses it too).
pub(super) fn mapping(cfg: &Config) -> anyhow::Result<ApiMapping> {
    ApiMapping::build(&cfg.api.mapping, &cfg.api.batch_path).map_err(|problems| {
        let shown: Vec<String> = problems
            .iter()
            .map(|p| format!("api.{}: {}", p.key, p.message))
            .collect();
        anyhow!("the API mapping cannot work: {}", shown.join("; "))
    })
}

/// Reads the first page with a client of its own (the same one a run builds: mapping,
/// client certificate, `api.headers`), without a token cache, and stops it again.
pub(super) async fn first_page(cfg: &Config, secret: &Secret, url: String) -> PageRead {
    first_page_with(cfg, secret, url, ConnectOptions::default(), false)
        .await
        .0
}

/// [`first_page`] with the client's token cache (and a session login's budget and lock)
/// as `opts` say; with `logout`, the client's session is logged out at the end. Returns
/// how the logout went: `None` when none was asked for or there was nothing to end.
pub(super) async fn first_page_with(
    cfg: &Config,
    secret: &Secret,
    url: String,
    opts: ConnectOptions,
    logout: bool,
) -> (PageRead, Option<Result<(), String>>) {
    let cancel = CancellationToken::new();
    let mut ended = None;
    let result = async {
        let client = ApiClient::connect(cfg, secret.clone(), opts, cancel.clone()).await?;
        let read = read_first(&client, url.clone()).await;
        if logout {
            ended = match client.logout().await {
                Ok(true) => Some(Ok(())),
                Ok(false) => None,
                Err(e) => Some(Err(e.to_string())),
            };
        }
        Ok::<_, ApiError>(read)
    }
    .await;
    cancel.cancel();
    let read = match result {
        Ok(read) => read,
        Err(e) => page_read(url, Err(e)),
    };
    (read, ended)
}

/// A session had the way a run has one, and the first page read with it.
pub(super) struct RunSession {
    pub client: Arc<ApiClient>,
    /// When `ApiClient::connect` was called and when it returned with the session.
    pub sent_at: Instant,
    pub received_at: Instant,
    pub read: PageRead,
}

/// The run's own way to a session: [`ApiClient::connect`] (the credential's lock, the
/// login budget, the login request, what a run checks first), then the first page read
/// with it. The client's renewals and keep-alive stop at once: the probes use the session
/// as it is, and must see its clocks undisturbed.
pub(super) async fn connect_and_read(
    cfg: &Config,
    secret: &Secret,
    url: String,
    opts: ConnectOptions,
) -> Result<RunSession, ApiError> {
    let cancel = CancellationToken::new();
    let sent_at = Instant::now();
    let client = ApiClient::connect(cfg, secret.clone(), opts, cancel.clone()).await;
    let received_at = Instant::now();
    let client = match client {
        Ok(c) => c,
        Err(e) => {
            cancel.cancel();
            return Err(e);
        }
    };
    let read = read_first(&client, url).await;
    cancel.cancel();
    Ok(RunSession {
        client,
        sent_at,
        received_at,
        read,
    })
}

/// The id of the record the push probe asks for: no supplier has it, so the answer is a
/// 404 from a path that takes the credential, or a refusal.
const PROBE_ID: &str = "supsync-diagnose-probe";

/// The first page; on an API without a listing (the collection answers 405), what a push
/// needs instead: the push's own path taking the credential, read with a GET of one
/// record there (what `verify` reads per id), which writes nothing.
async fn read_first(client: &ApiClient, url: String) -> PageRead {
    let page = client.pull_page(0, 1).await;
    if !matches!(page, Err(ApiError::Permanent { status: 405, .. })) {
        return page_read(url, page);
    }
    let listing = format!("GET {url} answered 405: the API has no listing (a push-only API)");
    let Some(path) = client.mapping().push.item_path() else {
        return PageRead {
            url,
            ok: true,
            no_listing: Some(format!(
                "{listing}; the push writes in batches with no path to read one record, so \
                 it was not probed without writing: the first push will tell. A pull and \
                 `verify` need a listing"
            )),
            ..Default::default()
        };
    };
    let path = path.as_str().to_string();
    match client.read_item(PROBE_ID).await {
        Ok(_) => PageRead {
            url,
            ok: true,
            no_listing: Some(format!(
                "{listing}; the push's own path {path} takes the credential (a GET of a \
                 record there answered), so a push is judged by that, not by the listing. \
                 A pull needs a listing; `verify` reads per id (api.verify_read = \"per_id\")"
            )),
            ..Default::default()
        },
        Err(e) => {
            let (words, _) = misfit(&e);
            PageRead {
                url,
                ok: false,
                error: Some(format!(
                    "{listing}; a GET on the push's own path {path} failed: {words}"
                )),
                key: Some("push_path".to_string()),
                no_listing: Some(listing),
                ..Default::default()
            }
        }
    }
}

/// What a first-page read came to, in findings.
fn page_read(url: String, result: Result<crate::api::PullPage, ApiError>) -> PageRead {
    match result {
        // A record that does not fit is a reject in a run; a first page of them is what
        // a misnamed field looks like, so say which.
        Ok(page) if page.suppliers.is_empty() && !page.misfits.is_empty() => PageRead {
            url,
            ok: false,
            records: 0,
            error: Some(format!(
                "the server's answer did not fit the mapping: record {} {}",
                page.misfits[0].index, page.misfits[0].reason
            )),
            key: Some("fields".to_string()),
            no_listing: None,
        },
        Ok(page) => PageRead {
            url,
            ok: true,
            records: page.suppliers.len(),
            error: None,
            key: None,
            no_listing: None,
        },
        Err(e) => {
            let (words, key) = misfit(&e);
            PageRead {
                url,
                ok: false,
                records: 0,
                error: Some(words),
                key: key.map(str::to_string),
                no_listing: None,
            }
        }
    }
}

/// The client's words for what went wrong, and the `[api]` key that governs it. The
/// misfit messages of the api module name the pointer they followed; that name says
/// which key points it.
fn misfit(e: &ApiError) -> (String, Option<&'static str>) {
    // A success status carrying an error: which rule would catch it is the finding.
    if let ApiError::ErrorBody {
        status,
        message,
        hint,
    } = e
    {
        let key = if hint.contains("auth.expired_when = [") {
            "expired_when"
        } else {
            "success_when"
        };
        return (
            format!(
                "the server answered HTTP {status} carrying an error body, not a page: \
                 {message}. {hint}"
            ),
            Some(key),
        );
    }
    let (words, status) = match e {
        // A 200 that does not fit is not a refusal: the client's words say so.
        ApiError::Permanent { status, .. } if (200..300).contains(status) => {
            (e.to_string(), Some(*status))
        }
        ApiError::Permanent { status, message } => (message.clone(), Some(*status)),
        other => (other.to_string(), None),
    };
    let key = if words.contains("records pointer") {
        Some("records")
    } else if words.contains("total pointer") {
        Some("total")
    } else if words.contains("did not fit the mapping: record ") {
        Some("fields")
    } else if words.contains("next link") || words.contains("Link header") {
        Some("next_link")
    } else if words.contains("not JSON") || matches!(status, Some(404 | 405)) {
        Some("pull_path")
    } else {
        None
    };
    let words = match status {
        Some(s) if s != 200 && s != 0 => format!("HTTP {s}: {words}"),
        _ => words,
    };
    (words, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misfits_name_their_key() {
        let records = ApiError::Permanent {
            status: 200,
            message: "records pointer `/items` found nothing usable; the answer's top-level \
                      keys are `data`, `links`"
                .into(),
        };
        let (words, key) = misfit(&records);
        assert_eq!(key, Some("records"));
        assert!(
            words.starts_with("the server's answer did not fit the mapping: records pointer"),
            "{words}"
        );
        assert!(
            !words.contains("refused") && !words.contains("HTTP 200"),
            "{words}"
        );
        let missing = ApiError::Permanent {
            status: 404,
            message: "not found".into(),
        };
        assert_eq!(
            misfit(&missing),
            ("HTTP 404: not found".into(), Some("pull_path"))
        );
        let limited = ApiError::RateLimited { retry_after: None };
        assert_eq!(misfit(&limited).1, None);
    }
}
