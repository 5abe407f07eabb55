//! One segment, start to finish: read or fetch its records, send them through the API
//! client with retries, and say how it ended. The worker never touches the journal: the
//! run loop journals the outcome (fsynced) before anyone is told about it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::attempt::{Fail, attempt};
use super::events::{Counts, Reject, RejectOrigin, SegmentState};
use super::slots::{Slot, Ticket};
use super::worker_ctx::WorkerCtx;
use crate::api::{ChainPoint, Misfit, PushStatus};
use crate::record::Supplier;
use crate::run::{PullCheck, Shard};
use crate::source::{Format, SegmentSpan, SourceItem};

/// What a segment covers.
#[derive(Debug, Clone)]
pub(crate) enum Work {
    Push {
        path: Arc<PathBuf>,
        format: Format,
        span: SegmentSpan,
        /// The run's shard: the span's rows of other shards are skipped.
        shard: Option<Shard>,
    },
    /// Records `[offset, offset + records)` of the server's list.
    Pull { offset: u64 },
}

/// A segment's end, as booked in the journal.
#[derive(Debug)]
pub(crate) struct Settled {
    pub state: SegmentState,
    pub attempts: u32,
    pub counts: Counts,
    pub error: Option<String>,
    pub rejects: Vec<Reject>,
    pub duration: Duration,
    /// Pull: where the server's chain of pages goes on after this segment.
    pub continuation: Option<ChainPoint>,
    /// Pull: what the server's pages gave for the segment.
    pub pull: Option<PullCheck>,
}

#[derive(Debug)]
pub(crate) enum SegmentResult {
    Finished(Settled),
    /// Authentication is broken for good: the run must stop.
    AuthFailure {
        error: String,
    },
    /// Stopped or cancelled before an outcome: the segment stays pending.
    Abandoned,
}

pub(crate) async fn run_segment(
    ctx: Arc<WorkerCtx>,
    index: usize,
    records: u64,
    work: Work,
    ticket: Ticket,
) -> (usize, SegmentResult) {
    // From taking a slot: the wait for one is not the segment's time.
    let mut started = None;
    let outcome = match work {
        Work::Push {
            path,
            format,
            span,
            shard,
        } => {
            let at = (path, format, span, shard);
            push(&ctx, index, records, at, &ticket, &mut started).await
        }
        Work::Pull { offset } => pull(&ctx, index, records, offset, &ticket, &mut started).await,
    };
    let busy = || started.map_or(Duration::ZERO, |t: Instant| t.elapsed());
    let outcome = match outcome {
        Ok((counts, rejects, attempts, end)) => SegmentResult::Finished(Settled {
            state: if counts.rejected > 0 {
                SegmentState::DoneWithRejects
            } else {
                SegmentState::Done
            },
            attempts,
            counts,
            error: None,
            rejects,
            duration: busy(),
            continuation: end.as_ref().and_then(|e| e.continuation.clone()),
            pull: end.map(|e| e.check),
        }),
        Err(Fail::Exhausted { attempts, error }) => SegmentResult::Finished(Settled {
            state: SegmentState::Failed,
            attempts,
            counts: Counts::default(),
            error: Some(error),
            rejects: Vec::new(),
            duration: busy(),
            continuation: None,
            pull: None,
        }),
        Err(Fail::PartlyDone {
            attempts,
            error,
            counts,
        }) => SegmentResult::Finished(Settled {
            state: SegmentState::Failed,
            attempts,
            counts,
            error: Some(error),
            rejects: Vec::new(),
            duration: busy(),
            continuation: None,
            pull: None,
        }),
        Err(Fail::Auth(error)) => SegmentResult::AuthFailure { error },
        Err(Fail::Abandoned) => SegmentResult::Abandoned,
    };
    (index, outcome)
}

/// Counts, rejects, attempts, and (pull) how the server's pages ended.
type Done = (Counts, Vec<Reject>, u32, Option<PullEnd>);

/// How a pull segment's pages ended.
struct PullEnd {
    /// Where the server's chain goes on after it.
    continuation: Option<ChainPoint>,
    check: PullCheck,
}

/// Waits for this segment's turn at one of the `concurrency` slots; notes when it was
/// taken in `started`.
async fn take_slot<'a>(
    ctx: &WorkerCtx,
    ticket: &'a Ticket,
    started: &mut Option<Instant>,
) -> Result<Slot<'a>, Fail> {
    let permit = tokio::select! {
        p = ticket.take() => p.ok_or(Fail::Abandoned)?,
        _ = ctx.cancel.cancelled() => return Err(Fail::Abandoned),
        _ = ctx.stop.cancelled() => return Err(Fail::Abandoned),
    };
    *started = Some(Instant::now());
    Ok(permit)
}

async fn push(
    ctx: &Arc<WorkerCtx>,
    index: usize,
    records: u64,
    (path, format, span, shard): (Arc<PathBuf>, Format, SegmentSpan, Option<Shard>),
    ticket: &Ticket,
    started: &mut Option<Instant>,
) -> Result<Done, Fail> {
    let read = tokio::task::spawn_blocking(move || {
        crate::source::read_segment_shard(&path, format, &span, shard).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    let items = read.map_err(|error| Fail::Exhausted {
        attempts: 0,
        error: format!("cannot read the segment from the source: {error}"),
    })?;

    let mut counts = Counts::default();
    let mut rejects = Vec::new();
    let mut valid = Vec::new();
    let mut lines = HashMap::new();
    for item in items {
        match item {
            SourceItem::Valid { line, record } => {
                lines.insert(record.supplier_id.clone(), line);
                valid.push(record);
            }
            SourceItem::Invalid {
                line,
                supplier_id,
                reason,
            } => {
                counts.rejected += 1;
                rejects.push(Reject {
                    segment: index,
                    line: Some(line),
                    supplier_id,
                    reason,
                    origin: RejectOrigin::Local,
                });
            }
        }
    }
    if valid.is_empty() {
        return Ok((counts, rejects, 0, None));
    }
    // Stable across attempts, restarts and resumes: a resent segment changes nothing twice.
    let key = format!("{}-{index}", ctx.run_id);
    // Encoded as the API wants it (one batch, several, or a request per record); the
    // client keeps what succeeded across attempts.
    let batch = ctx.api.prepare_push(&valid).map_err(|e| Fail::Exhausted {
        attempts: 0,
        error: e.to_string(),
    })?;
    let batch = Arc::new(batch);
    let mut slot = take_slot(ctx, ticket, started).await?;
    let tried = attempt(ctx, index, records, &mut slot, || {
        let api = ctx.api.clone();
        let key = key.clone();
        let batch = batch.clone();
        async move { api.push(&key, &batch).await }
    })
    .await;
    drop(slot);
    let (results, attempts) = match tried {
        Ok(done) => done,
        Err(Fail::Exhausted { attempts, error }) => {
            let mut applied = Counts::default();
            for r in batch.settled() {
                if r.status != PushStatus::Rejected {
                    count(&mut applied, r.status);
                }
            }
            if applied.processed() == 0 {
                return Err(Fail::Exhausted { attempts, error });
            }
            return Err(Fail::PartlyDone {
                attempts,
                error: format!(
                    "{error} ({} of {} records applied before it failed)",
                    applied.processed(),
                    batch.records()
                ),
                counts: applied,
            });
        }
        Err(other) => return Err(other),
    };
    for r in results {
        match r.status {
            PushStatus::Rejected => {
                counts.rejected += 1;
                rejects.push(Reject {
                    segment: index,
                    line: lines.get(&r.supplier_id).copied(),
                    reason: r.error.unwrap_or_else(|| "rejected by the server".into()),
                    supplier_id: r.supplier_id,
                    origin: RejectOrigin::Server,
                });
            }
            other => count(&mut counts, other),
        }
    }
    Ok((counts, rejects, attempts, None))
}

/// One record's outcome in `c`: the server's word, one count each.
pub(crate) fn count(c: &mut Counts, status: PushStatus) {
    match status {
        PushStatus::Created => c.created += 1,
        PushStatus::Updated => c.updated += 1,
        PushStatus::Unchanged => c.unchanged += 1,
        PushStatus::Applied => c.applied += 1,
        PushStatus::Rejected => c.rejected += 1,
    }
}

async fn pull(
    ctx: &Arc<WorkerCtx>,
    index: usize,
    records: u64,
    offset: u64,
    ticket: &Ticket,
    started: &mut Option<Instant>,
) -> Result<Done, Fail> {
    let mut slot = take_slot(ctx, ticket, started).await?;
    let mut got: Vec<Supplier> = Vec::new();
    // Each record's place in the server's list, to say where repeats were met.
    let mut places: Vec<u64> = Vec::new();
    // Records that did not fit the mapping, with their place: rejects once written.
    let mut misfits: Vec<(u64, Misfit)> = Vec::new();
    let mut check = PullCheck {
        expected: records,
        ..PullCheck::default()
    };
    let mut attempts_total = 0;
    // Pages until the segment's range is covered or the server has no more.
    while check.received < records {
        let at = offset + check.received;
        let limit = usize::try_from(records - check.received).unwrap_or(usize::MAX);
        let (page, attempts) = attempt(ctx, index, records, &mut slot, || {
            let api = ctx.api.clone();
            async move { api.pull_page(at, limit).await }
        })
        .await?;
        attempts_total += attempts;
        if let Some(t) = page.total.filter(|&t| t != ctx.planned_total) {
            check.total_seen = Some(t);
        }
        let more = page.next_offset.is_some() && !page.is_empty();
        let n = page.len().min(limit);
        let mut page_misfits = page.misfits.into_iter().peekable();
        let mut suppliers = page.suppliers.into_iter();
        for k in 0..n {
            let place = at + k as u64;
            match page_misfits.next_if(|m| m.index == k) {
                Some(m) => misfits.push((place, m)),
                None => {
                    if let Some(s) = suppliers.next() {
                        got.push(s);
                        places.push(place);
                    }
                }
            }
        }
        check.received += n as u64;
        if !more {
            break;
        }
    }
    // The server part is over: the next segment may start while this one is written.
    drop(slot);
    let sink = ctx.sink.clone().ok_or_else(|| Fail::Exhausted {
        attempts: attempts_total,
        error: "internal: pull without an output sink".into(),
    })?;
    let misfit_ids: Vec<String> = misfits.iter().map(|(_, m)| m.supplier_id.clone()).collect();
    let written = tokio::task::spawn_blocking(move || {
        let ids: Vec<&str> = misfit_ids.iter().map(String::as_str).collect();
        sink.write_segment_with(index, &got, &ids)
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    let written = written.map_err(|error| Fail::Exhausted {
        attempts: attempts_total,
        error: format!("cannot write the pulled records: {error}"),
    })?;
    let mut counts = Counts {
        pulled: written.records,
        ..Counts::default()
    };
    let mut rejects = Vec::new();
    let mut repeated: Vec<u64> = written
        .repeats
        .iter()
        .filter_map(|&i| places.get(i).copied())
        .collect();
    for (j, (place, m)) in misfits.into_iter().enumerate() {
        if written.misfit_repeats.contains(&j) {
            repeated.push(place);
            continue;
        }
        counts.rejected += 1;
        rejects.push(Reject {
            segment: index,
            line: None,
            supplier_id: m.supplier_id,
            reason: format!(
                "record {place} of the server's list did not fit the mapping: it {}",
                m.reason
            ),
            origin: RejectOrigin::Mapping,
        });
    }
    check.repeated = repeated.len() as u64;
    let page_size = ctx.api.pull_page_size().max(1) as u64;
    if let Some(first) = repeated.iter().min().map(|p| p / page_size) {
        let on_it = repeated.iter().filter(|p| *p / page_size == first).count();
        check.first_repeat = Some((first + 1, on_it as u64));
    }
    // Journaled with the outcome: a resume starts the chain's walk here, not at its start.
    let continuation = ctx.api.chain_point(offset + check.received).await;
    let end = PullEnd {
        continuation,
        check,
    };
    Ok((counts, rejects, attempts_total, Some(end)))
}
