//! Planning a run: cutting it into segments and opening its journal. A new push scans the
//! source; a new pull asks the server how many records there are; a resume or retry opens
//! the journal, replays it and (for a push) checks the source is the file it started with.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use tokio_util::sync::CancellationToken;

use super::RunParams;
use super::backoff::Backoff;
use super::events::{Direction, SegmentState, SegmentView};
use super::retry::Retry;
use super::worker::Work;
use crate::api::{ApiClient, ChainPoint};
use crate::journal::{self, Journal, Manifest, Replay};
use crate::run::{PullCheck, Shard};
use crate::source::{self, SourceScan};

pub(crate) struct Plan {
    pub journal: Journal,
    pub manifest: Manifest,
    /// One per segment, in index order.
    pub works: Vec<Work>,
    /// Every segment as replayed (pending for a new run).
    pub views: Vec<SegmentView>,
    /// Records of a push source that will be rejected locally.
    pub local_invalid: u64,
    /// What the operator should read before the run starts.
    pub notices: Vec<String>,
    /// A resumed pull: where finished segments left the server's chain of pages (opaque
    /// to the engine; the API client takes them back).
    pub continuations: Vec<ChainPoint>,
    /// A resumed pull: what the finished segments got from the server's pages, by index.
    pub pull_checks: Vec<Option<PullCheck>>,
}

async fn scan_source(
    path: &Path,
    segment_size: usize,
    shard: Option<Shard>,
) -> anyhow::Result<SourceScan> {
    let p = path.to_path_buf();
    tokio::task::spawn_blocking(move || source::scan_shard(&p, segment_size, shard))
        .await
        .context("the source scan stopped unexpectedly")?
        .map_err(anyhow::Error::from)
}

fn manifest(
    params: &RunParams,
    run_id: String,
    direction: Direction,
    total_records: u64,
    segments: usize,
) -> anyhow::Result<Manifest> {
    // The effective configuration, minus the secret (its field is skip_serializing) and
    // with the webhook and ping URLs redacted: their keys stay in memory only.
    let mut recorded = params.config.clone();
    recorded.notify = recorded.notify.redacted();
    let config = serde_json::to_value(&recorded).context("cannot record the configuration")?;
    Ok(Manifest {
        version: journal::MANIFEST_VERSION,
        run_id,
        direction,
        source: None,
        source_hash: None,
        output: None,
        base_url: params.config.api.base_url.clone(),
        segment_size: params.config.sync.segment_size,
        total_records,
        segments,
        created_at: crate::journal::now_rfc3339(),
        config,
        shard: params.shard,
        shard_group: None,
    })
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

pub(crate) async fn push_new(
    params: &RunParams,
    source_path: &Path,
    run_id: Option<String>,
) -> anyhow::Result<Plan> {
    let size = params.config.sync.segment_size;
    let scan = scan_source(source_path, size, params.shard).await?;
    let run_id = run_id.unwrap_or_else(journal::new_run_id);
    let path = absolute(source_path);
    let mut notices = scan.warnings.clone();
    if let Some(shard) = params.shard
        && scan.records == 0
    {
        notices.push(format!(
            "shard {shard} holds none of {}'s records: nothing to push",
            path.display()
        ));
    }
    let mut m = manifest(
        params,
        run_id,
        Direction::Push,
        scan.records,
        scan.segments.len(),
    )?;
    m.source = Some(path.clone());
    m.source_hash = Some(scan.content_hash.clone());
    m.shard_group = super::shard_plan::group(params, &scan.content_hash);
    let journal = Journal::create(&params.state_dir, &m)
        .with_context(|| format!("cannot create the journal of run {}", m.run_id))?;
    let views = scan
        .segments
        .iter()
        .map(|s| SegmentView::pending(s.index, s.records))
        .collect();
    Ok(Plan {
        journal,
        manifest: m,
        works: push_works(&path, &scan, params.shard),
        views,
        local_invalid: scan.invalid,
        notices,
        continuations: Vec::new(),
        pull_checks: Vec::new(),
    })
}

fn push_works(path: &Path, scan: &SourceScan, shard: Option<Shard>) -> Vec<Work> {
    let path = Arc::new(path.to_path_buf());
    scan.segments
        .iter()
        .map(|span| Work::Push {
            path: path.clone(),
            format: scan.format,
            span: span.clone(),
            shard,
        })
        .collect()
}

/// The most segments a pull plans. A segment costs memory in the plan and the console
/// whatever its size, and the count comes from the server's `total`: a server claiming
/// 10^12 records must get an error, not an allocation of terabytes. A million segments
/// of the default 50 is 50 million records; a larger real list takes a larger
/// `sync.segment_size`.
pub(crate) const MAX_PULL_SEGMENTS: u64 = 1_000_000;

/// Refuses a server-stated total that would need more than [`MAX_PULL_SEGMENTS`].
fn check_pull_total(total: u64, size: usize) -> anyhow::Result<()> {
    let segments = total.div_ceil(size.max(1) as u64);
    if segments > MAX_PULL_SEGMENTS {
        bail!(
            "the server says it holds {total} suppliers: at sync.segment_size = {size} that is \
             {segments} segments, more than the {MAX_PULL_SEGMENTS} a pull plans; if the count \
             is real, raise sync.segment_size (to at least {}), otherwise the server's total \
             is wrong",
            total.div_ceil(MAX_PULL_SEGMENTS)
        );
    }
    Ok(())
}

/// Segment `i` of a pull covers records `[i·size, min((i+1)·size, total))`. The caller has
/// checked the total with [`check_pull_total`].
fn pull_layout(total: u64, size: usize) -> Vec<(u64, u64)> {
    let size = size.max(1) as u64;
    (0..total.div_ceil(size))
        .map(|i| (i * size, size.min(total - i * size)))
        .collect()
}

/// A pull's output must be writable as asked before anything starts (no journal for a run
/// that could never finish).
pub(crate) fn check_output(output: &Path) -> anyhow::Result<()> {
    if source::Format::from_extension(output).is_none() {
        bail!(
            "{}: unknown output format; name the file .jsonl or .csv",
            output.display()
        );
    }
    let dir = match output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        bail!(
            "{}: the directory {} does not exist; create it first",
            output.display(),
            dir.display()
        );
    }
    if output.is_dir() {
        bail!("{} is a directory; give a file name", output.display());
    }
    Ok(())
}

pub(crate) async fn pull_new(
    params: &RunParams,
    output: &Path,
    run_id: Option<String>,
    api: &ApiClient,
    cancel: &CancellationToken,
) -> anyhow::Result<Plan> {
    let size = params.config.sync.segment_size;
    if size == 0 {
        bail!("sync.segment_size must be at least 1");
    }
    if params.shard.is_some() {
        super::shard_plan::check_pull_paging(api.pull_paging())?;
    }
    let total = first_page_total(params, api, cancel).await?;
    check_pull_total(total, size)?;
    let run_id = run_id.unwrap_or_else(journal::new_run_id);
    let layout = super::shard_plan::pull_layout_of(pull_layout(total, size), params.shard);
    // A shard's manifest keeps the server's whole total: pages are checked against it.
    let mut m = manifest(params, run_id, Direction::Pull, total, layout.len())?;
    m.output = Some(absolute(output));
    m.shard_group = super::shard_plan::group(params, &params.config.api.base_url);
    let journal = Journal::create(&params.state_dir, &m)
        .with_context(|| format!("cannot create the journal of run {}", m.run_id))?;
    Ok(Plan {
        journal,
        works: layout
            .iter()
            .map(|&(offset, _)| Work::Pull { offset })
            .collect(),
        views: layout
            .iter()
            .enumerate()
            .map(|(i, &(_, n))| SegmentView::pending(i, n))
            .collect(),
        manifest: m,
        local_invalid: 0,
        notices: Vec::new(),
        continuations: Vec::new(),
        pull_checks: Vec::new(),
    })
}

/// The server's record count, from a first small page (retrying transient failures).
async fn first_page_total(
    params: &RunParams,
    api: &ApiClient,
    cancel: &CancellationToken,
) -> anyhow::Result<u64> {
    let mut retry = Retry::new(Backoff::from_config(&params.config.sync), cancel);
    retry
        .call(params.config.sync.max_attempts, || api.pull_total())
        .await
        .map_err(|e| anyhow!(e).context("cannot learn how many suppliers to pull"))
}

/// Opens an existing run. `retry`: `Some(segments)` turns those failed segments (all
/// failed ones when empty) back to pending.
pub(crate) async fn open(
    params: &RunParams,
    run_id: &str,
    retry: Option<&[usize]>,
) -> anyhow::Result<Plan> {
    let (journal, m, replay) = Journal::open(&params.state_dir, run_id)
        .with_context(|| format!("cannot open run {run_id}"))?;
    super::shard_plan::check_same_shard(&m, params.shard)?;
    let mut notices = Vec::new();
    if let Some(warning) = replay.warning() {
        notices.push(format!("journal: {warning}"));
    }
    if m.base_url != params.config.api.base_url {
        notices.push(format!(
            "run {run_id} started against {}; carrying on against {}",
            m.base_url, params.config.api.base_url
        ));
    }
    let (works, sizes, local_invalid) = match m.direction {
        Direction::Push => {
            let path = m
                .source
                .clone()
                .ok_or_else(|| anyhow!("run {run_id}: its manifest names no source file"))?;
            let scan = scan_source(&path, m.segment_size, m.shard)
                .await
                .with_context(|| {
                    format!("run {run_id} cannot go on: its source file is not readable as it was")
                })?;
            if Some(&scan.content_hash) != m.source_hash.as_ref()
                || scan.segments.len() != m.segments
            {
                bail!(
                    "{} changed since run {run_id} started (its content hash differs), so its \
                     segments no longer line up with the journal; start a new run with \
                     `supsync run --source {}`",
                    path.display(),
                    path.display()
                );
            }
            let sizes = scan.segments.iter().map(|s| s.records).collect::<Vec<_>>();
            (push_works(&path, &scan, m.shard), sizes, scan.invalid)
        }
        Direction::Pull => {
            check_pull_total(m.total_records, m.segment_size)
                .with_context(|| format!("run {run_id} cannot go on"))?;
            let layout = super::shard_plan::pull_layout_of(
                pull_layout(m.total_records, m.segment_size),
                m.shard,
            );
            (
                layout
                    .iter()
                    .map(|&(o, _)| Work::Pull { offset: o })
                    .collect(),
                layout.iter().map(|&(_, n)| n).collect(),
                0,
            )
        }
    };
    let mut views = replayed_views(&replay, &sizes);
    if let Some(wanted) = retry {
        reset_failed(&mut views, wanted, run_id)?;
    }
    let continuations = replay
        .continuations()
        .map(|c| ChainPoint {
            offset: c.offset,
            next: c.next.clone(),
        })
        .collect();
    let pull_checks = views
        .iter()
        .map(|v| {
            let r = replay.segments.get(&v.index)?;
            r.pull.filter(|_| v.state.is_finished())
        })
        .collect();
    Ok(Plan {
        journal,
        manifest: m,
        works,
        views,
        local_invalid,
        notices,
        continuations,
        pull_checks,
    })
}

fn replayed_views(replay: &Replay, sizes: &[u64]) -> Vec<SegmentView> {
    sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let mut v = SegmentView::pending(i, n);
            if let Some(r) = replay.segments.get(&i) {
                // Only outcomes are journaled; anything unfinished starts over as pending.
                if r.state.is_finished() {
                    v.state = r.state;
                    v.attempts = r.attempts;
                    v.counts = r.counts;
                    v.last_error = r.error.clone();
                }
            }
            v
        })
        .collect()
}

fn reset_failed(views: &mut [SegmentView], wanted: &[usize], run_id: &str) -> anyhow::Result<()> {
    for &i in wanted {
        match views.get(i) {
            None => bail!(
                "run {run_id} has segments 0..{}; there is no segment {i}",
                views.len().saturating_sub(1)
            ),
            Some(v) if v.state != SegmentState::Failed => bail!(
                "segment {i} of run {run_id} is {:?}, not failed; only failed segments can be retried",
                v.state
            ),
            Some(_) => {}
        }
    }
    for v in views.iter_mut() {
        if v.state == SegmentState::Failed && (wanted.is_empty() || wanted.contains(&v.index)) {
            *v = SegmentView::pending(v.index, v.records);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_layout_covers_every_record_once() {
        assert_eq!(pull_layout(0, 50), vec![]);
        assert_eq!(pull_layout(120, 50), vec![(0, 50), (50, 50), (100, 20)]);
        assert_eq!(pull_layout(100, 50), vec![(0, 50), (50, 50)]);
    }

    #[test]
    fn an_absurd_pull_total_is_refused_before_anything_is_allocated() {
        let e = check_pull_total(1_000_000_000_000, 50)
            .unwrap_err()
            .to_string();
        assert!(e.contains("1000000000000 suppliers"), "{e}");
        assert!(e.contains("20000000000 segments"), "{e}");
        assert!(e.contains("sync.segment_size (to at least 1000000)"), "{e}");
        assert!(check_pull_total(u64::MAX, 1).is_err());
        assert!(check_pull_total(MAX_PULL_SEGMENTS * 50, 50).is_ok());
        assert!(check_pull_total(MAX_PULL_SEGMENTS * 50 + 1, 50).is_err());
        assert!(check_pull_total(0, 0).is_ok());
    }

    #[test]
    fn retry_resets_only_failed_segments_and_checks_the_request() {
        let mut views: Vec<_> = (0..3).map(|i| SegmentView::pending(i, 10)).collect();
        views[0].state = SegmentState::Done;
        views[1].state = SegmentState::Failed;
        views[1].attempts = 5;
        assert!(reset_failed(&mut views.clone(), &[0], "r").is_err());
        assert!(reset_failed(&mut views.clone(), &[7], "r").is_err());
        reset_failed(&mut views, &[], "r").unwrap();
        assert_eq!(views[0].state, SegmentState::Done);
        assert_eq!(views[1].state, SegmentState::Pending);
        assert_eq!(views[1].attempts, 0);
    }
}
