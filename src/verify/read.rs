//! Both sides of a verification: what the run's source holds (valid records, less the ones
//! the run had rejected), and what the server holds, read through the run's mapping as a
//! pull of the collection — one page at a time (within `sync.concurrency`), every 429 and
//! `Retry-After` honoured with the engine's backoff, the token manager renewing as in a run.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use tokio_util::sync::CancellationToken;

use crate::api::{ApiClient, ApiError, ItemRead};
use crate::engine::backoff::Backoff;
use crate::record::Supplier;
use crate::source::{self, SourceError, SourceItem};

/// 429s answered without spending an attempt, as a multiple of the attempts (as in a run).
const RATE_LIMIT_CEILING: u32 = 10;

/// What the run's source holds for the server.
#[derive(Debug, Default)]
pub struct Expected {
    /// Valid records by id (a later row of the same id wins, as the server's upsert does).
    pub records: BTreeMap<String, Supplier>,
    /// Ids the run recorded as rejected (by supsync or the server): not expected there.
    pub rejected: u64,
    /// The source's SHA-256 now.
    pub hash: String,
}

/// The source's valid records, less the ids in the run's `rejects.jsonl`.
pub fn expected(source: &Path, run_dir: &Path) -> Result<Expected, SourceError> {
    let scan = source::scan(source, 10_000)?;
    let rejected: HashSet<String> = source::read_rejects(run_dir)?
        .into_iter()
        .map(|r| r.supplier_id)
        .collect();
    let mut out = Expected {
        hash: scan.content_hash.clone(),
        ..Expected::default()
    };
    for span in &scan.segments {
        for item in source::read_segment(source, scan.format, span)? {
            if let SourceItem::Valid { record, .. } = item {
                if rejected.contains(&record.supplier_id) {
                    continue;
                }
                out.records.insert(record.supplier_id.clone(), record);
            }
        }
    }
    out.rejected = rejected.len() as u64;
    Ok(out)
}

/// How the server is read.
#[derive(Debug, Clone, Copy)]
pub struct Pacing {
    pub backoff: Backoff,
    pub max_attempts: u32,
    /// Records asked for per page when the mapping leaves it to the caller.
    pub page_size: usize,
    /// The most pages read (`api.max_pages`): a list that never ends stops there.
    pub max_pages: u64,
}

/// What the read of the server found.
#[derive(Debug, Default)]
pub struct ServerRead {
    /// Records by id.
    pub records: BTreeMap<String, Supplier>,
    pub pages: u64,
    /// Records the pages gave more than once (a server that ignores its cursor).
    pub repeated: u64,
    /// Why the read stopped before the server said "last page", when it did: the
    /// comparison then rests on part of the collection, and says so.
    pub stopped_early: Option<String>,
    /// Per-id reads only: GETs made, and ids whose 2xx answer did not read as the record
    /// (with why).
    pub item_reads: u64,
    pub unreadable: BTreeMap<String, String>,
}

/// Reads the whole collection through the mapping.
pub async fn server(
    api: &ApiClient,
    pacing: &Pacing,
    cancel: &CancellationToken,
) -> Result<ServerRead, ApiError> {
    let mut out = ServerRead::default();
    let mut offset = 0u64;
    // Pages in a row that brought no record not seen before.
    let mut stale = 0u32;
    loop {
        if out.pages >= pacing.max_pages {
            out.stopped_early = Some(format!(
                "stopped after {} pages (api.max_pages) with the server still naming a next page",
                out.pages
            ));
            return Ok(out);
        }
        let page = paced(pacing, cancel, || api.pull_page(offset, pacing.page_size)).await?;
        out.pages += 1;
        let mut fresh = 0u64;
        for s in page.suppliers.iter() {
            if out.records.contains_key(&s.supplier_id) {
                out.repeated += 1;
            } else {
                fresh += 1;
            }
        }
        let n = page.suppliers.len() as u64;
        for s in page.suppliers {
            out.records.insert(s.supplier_id.clone(), s);
        }
        stale = if fresh == 0 { stale + 1 } else { 0 };
        match page.next_offset {
            _ if n == 0 => return Ok(out),
            None => return Ok(out),
            Some(next) if next <= offset => {
                out.stopped_early = Some(format!(
                    "the server's next page after record {offset} points back to record {next}"
                ));
                return Ok(out);
            }
            Some(_) if stale >= 3 => {
                out.stopped_early = Some(format!(
                    "{stale} pages in a row repeated records already read (the server seems \
                     to ignore its cursor)"
                ));
                return Ok(out);
            }
            Some(next) => offset = next,
        }
    }
}

/// Reads each of `ids` on its own path (an API with no listing), at most `in_flight`
/// GETs at a time, each paced like a page of the list.
pub async fn server_per_id(
    api: &ApiClient,
    ids: impl Iterator<Item = String>,
    in_flight: usize,
    pacing: &Pacing,
    cancel: &CancellationToken,
) -> Result<ServerRead, ApiError> {
    use futures::StreamExt;
    let mut reads = futures::stream::iter(ids.map(|id| async move {
        let got = paced(pacing, cancel, || api.read_item(&id)).await;
        (id, got)
    }))
    .buffer_unordered(in_flight.max(1));
    let mut out = ServerRead::default();
    while let Some((id, got)) = reads.next().await {
        out.item_reads += 1;
        match got? {
            ItemRead::Found(s) => {
                out.records.insert(id, s);
            }
            ItemRead::Missing => {}
            ItemRead::Unfit(why) => {
                out.unreadable.insert(id, why);
            }
        }
    }
    Ok(out)
}

/// One call, retried as a run retries a segment: 429s wait out `Retry-After` (capped at
/// `sync.max_retry_after_secs`) without spending an attempt, up to a ceiling; other
/// retryable failures spend one of `sync.max_attempts`.
async fn paced<T, F, Fut>(
    pacing: &Pacing,
    cancel: &CancellationToken,
    mut call: F,
) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    let max = pacing.max_attempts.max(1);
    let (mut spent, mut tries) = (0u32, 0u32);
    loop {
        let err = match call().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        tries += 1;
        if !err.is_retryable() || err.is_auth_failure() {
            return Err(err);
        }
        let paced = matches!(err, ApiError::RateLimited { .. })
            && tries < max.saturating_mul(RATE_LIMIT_CEILING);
        if !paced {
            spent += 1;
        }
        if spent >= max {
            return Err(err);
        }
        let wait = pacing.backoff.delay(spent.max(1), err.retry_after());
        tracing::info!(target: "supsync::verify", "{err}; reading again in {wait:?}");
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = cancel.cancelled() => return Err(ApiError::Cancelled),
        }
    }
}

/// The first token (or session), retried like a run's: the same token cache and login
/// budget beside it, so a verify shares the run's credentials and pacing of logins.
pub async fn connect(
    cfg: &crate::config::Config,
    secret: crate::secret::Secret,
    token_cache: std::path::PathBuf,
    pacing: &Pacing,
    cancel: &CancellationToken,
) -> Result<std::sync::Arc<ApiClient>, ApiError> {
    let opts = crate::api::ConnectOptions {
        token_cache: Some(token_cache),
        audit_log: None,
    };
    paced(pacing, cancel, || {
        ApiClient::connect(cfg, secret.clone(), opts.clone(), cancel.clone())
    })
    .await
}
