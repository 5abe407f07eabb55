//! A segment task that panics after the server applied its batch, against the in-process
//! simulator: nothing is booked for the segment (no "failed, 0 created"), the run ends as
//! a failure naming the bug, and a resume resends the batch under the same idempotency key
//! so the server stores every record once.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Scheduler;
use crate::api::{ApiClient, ConnectOptions};
use crate::config::{Config, TokenCacheMode};
use crate::engine::emit::Emitter;
use crate::engine::events::{EngineEvent, RunState, SegmentState};
use crate::engine::run::final_state;
use crate::engine::worker::run_segment;
use crate::engine::{RunMode, RunParams, plan};
use crate::secret::Secret;
use crate::sim::{Profile, SimServer};

const SECRET: &str = "change-me";
const RECORDS: u64 = 200;
const PANIC: &str = "overflow when adding duration to instant";

async fn sim() -> SimServer {
    let profile = Profile::from_toml(&format!(
        "[clients]\nsupplier-sync = \"{SECRET}\"\n[api]\nper_record_ms = 1\n\
         [faults]\nerror_rate = 0.0\ndrop_rate = 0.0\nseed = 1\n[data]\nsuppliers = 0\n"
    ))
    .unwrap();
    SimServer::start(profile, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn params(url: &str, dir: &std::path::Path, mode: RunMode) -> RunParams {
    let mut c = Config::default();
    c.api.base_url = url.to_string();
    c.auth.token_cache = TokenCacheMode::None;
    c.sync.segment_size = 50;
    c.sync.concurrency = 2;
    RunParams::new(c, Secret::new(SECRET), dir.to_path_buf(), mode)
}

fn write_source(path: &std::path::Path) {
    let mut csv =
        String::from("supplier_id,name,country,status,contact_email,certifications,updated_at\n");
    for i in 0..RECORDS {
        csv.push_str(&format!(
            "SUP-{i:06},Supplier {i},DE,approved,s{i}@example.com,ISO 9001,2026-11-02T09:14:00Z\n"
        ));
    }
    std::fs::write(path, csv).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_after_the_server_applied_a_batch_leaves_the_segment_for_an_idempotent_resend() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("s.csv");
    write_source(&src);
    let run_id = "panicky";
    let p = params(
        &sim.url(),
        dir.path(),
        RunMode::Push {
            source: src.clone(),
            run_id: Some(run_id.into()),
        },
    );
    let cancel = CancellationToken::new();
    let plan = plan::push_new(&p, &src, Some(run_id.into())).await.unwrap();
    let opts = ConnectOptions {
        token_cache: None,
        audit_log: None,
    };
    let api = ApiClient::connect(
        &p.config,
        p.client_secret.clone(),
        opts,
        cancel.child_token(),
    )
    .await
    .unwrap();
    let (tx, mut events) = mpsc::channel(4096);
    let mut s = Scheduler::new(&p, plan, api, Emitter::new(tx), &cancel).unwrap();

    // Segment 0 is sent for real, then its task panics: the server holds its 50 records.
    assert_eq!(s.queue.pop_front(), Some(0));
    let (ctx, work) = (Arc::clone(&s.ctx), s.works[0].clone());
    let (records, ticket) = (s.ledger.records(0).unwrap(), s.ctx.slots.ticket());
    let task = s.tasks.spawn(async move {
        let _ = run_segment(ctx, 0, records, work, ticket).await;
        panic!("{PANIC}\x1b[2J");
    });
    s.task_segment.insert(task.id(), 0);
    let (_commands, command_rx) = mpsc::channel(8);
    s.run_loop(command_rx, &cancel).await;
    let end = s.finish().await;
    let created = sim.stats()["records_created"].as_u64().unwrap_or(0);
    assert!(created >= 50, "segment 0 reached the server: {created}");

    let fatal = end.fatal.clone().unwrap_or_default();
    assert!(
        fatal.contains("internal error") && fatal.contains(PANIC),
        "{fatal}"
    );
    assert!(
        !fatal.contains('\x1b'),
        "escape sequences stripped: {fatal:?}"
    );
    assert_eq!(final_state(true, &end.views), RunState::Failed, "exit 1");
    let seg0 = &end.views[0];
    assert_eq!(seg0.state, SegmentState::Pending, "{seg0:?}");
    assert_eq!(seg0.counts.created, 0);
    let (_, replay) = crate::journal::read(dir.path(), run_id).unwrap();
    assert!(
        !replay.segments.contains_key(&0),
        "nothing booked for segment 0: {replay:?}"
    );
    let mut notices = Vec::new();
    while let Ok(ev) = events.try_recv() {
        if let EngineEvent::Notice(n) = ev {
            notices.push(n);
        }
    }
    assert!(
        notices
            .iter()
            .any(|n| n.contains("internal error") && n.contains("segment 0")),
        "{notices:?}"
    );

    // Resume: segment 0 is resent with its key and replayed, not stored again.
    let resume = params(
        &sim.url(),
        dir.path(),
        RunMode::Resume {
            run_id: run_id.into(),
        },
    );
    let summary = crate::engine::start(resume).task.await.unwrap();
    assert_eq!(summary.state, RunState::Completed, "{summary:?}");
    let st = sim.stats();
    assert_eq!(st["records_created"].as_u64(), Some(RECORDS), "{st}");
    assert_eq!(st["records_updated"].as_u64(), Some(0), "{st}");
    let (_, replay) = crate::journal::read(dir.path(), run_id).unwrap();
    assert_eq!(replay.counts().created, RECORDS, "{replay:?}");
}

/// `r` on a failed segment runs it next, not after every segment still pending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_segment_goes_to_the_front_of_the_queue() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("s.csv");
    write_source(&src);
    let mut p = params(
        &sim.url(),
        dir.path(),
        RunMode::Push {
            source: src.clone(),
            run_id: Some("retry-first".into()),
        },
    );
    p.config.sync.segment_size = 10;
    let cancel = CancellationToken::new();
    let mut plan = plan::push_new(&p, &src, Some("retry-first".into()))
        .await
        .unwrap();
    assert_eq!(plan.views.len(), 20);
    for i in [7, 15] {
        plan.views[i].state = SegmentState::Failed;
    }
    let opts = ConnectOptions {
        token_cache: None,
        audit_log: None,
    };
    let api = ApiClient::connect(
        &p.config,
        p.client_secret.clone(),
        opts,
        cancel.child_token(),
    )
    .await
    .unwrap();
    let (tx, _events) = mpsc::channel(4096);
    let mut s = Scheduler::new(&p, plan, api, Emitter::new(tx), &cancel).unwrap();
    assert_eq!(s.queue.len(), 18, "the failed ones are not pending");
    assert_eq!(s.retry(|v| v.index == 15).await, 1);
    assert_eq!(s.queue.front(), Some(&15), "{:?}", s.queue);
    // The other failed one goes before it: the latest retry is the next one started.
    assert_eq!(s.retry(|_| true).await, 1);
    let head: Vec<usize> = s.queue.iter().take(3).copied().collect();
    assert_eq!(head, vec![7, 15, 0], "{:?}", s.queue);
    assert_eq!(s.queue.len(), 20, "no segment queued twice");
    cancel.cancel();
}

/// A finished run that stays open for retries asks the servers for nothing: no renewal,
/// no keep-alive; the time it waits is not the sync's; a retry wakes the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_run_rests_until_a_retry_and_its_clock_stops() {
    let profile = Profile::from_toml(&format!(
        "[clients]\nsupplier-sync = \"{SECRET}\"\n[api]\nper_record_ms = 0\n\
         [tokens]\ndefault_ttl_secs = 2\nscope_ttl_secs = {{}}\n\
         [faults]\nerror_rate = 0.0\ndrop_rate = 0.0\nseed = 1\n[data]\nsuppliers = 0\n"
    ))
    .unwrap();
    let sim = SimServer::start(profile, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("s.csv");
    write_source(&src);
    let mut p = params(
        &sim.url(),
        dir.path(),
        RunMode::Push {
            source: src.clone(),
            run_id: Some("rests".into()),
        },
    );
    p.stay_alive = true;
    // Renewal due every second and a keep-alive after a second without calls: a client
    // that kept working would make several requests while the test waits.
    p.config.auth.expected_ttl_secs = 2;
    p.config.auth.refresh_margin_secs = 1;
    p.config.auth.keepalive_secs = 1;
    let cancel = CancellationToken::new();
    let plan = plan::push_new(&p, &src, Some("rests".into()))
        .await
        .unwrap();
    let opts = ConnectOptions {
        token_cache: None,
        audit_log: None,
    };
    let api = ApiClient::connect(
        &p.config,
        p.client_secret.clone(),
        opts,
        cancel.child_token(),
    )
    .await
    .unwrap();
    let (tx, mut events) = mpsc::channel(4096);
    let mut s = Scheduler::new(&p, plan, api.clone(), Emitter::new(tx), &cancel).unwrap();
    let (commands, command_rx) = mpsc::channel(8);
    let rest = std::time::Duration::from_secs(4);
    let watcher = async {
        // Wait for the engine to say the run completed (it stays alive for retries).
        while let Some(ev) = events.recv().await {
            if matches!(ev, EngineEvent::RunState(RunState::Completed)) {
                break;
            }
        }
        assert!(!api.is_awake(), "renewal and keep-alive stopped at the end");
        let before = sim.stats();
        tokio::time::sleep(rest).await;
        let after = sim.stats();
        for key in ["token_requests", "requests"] {
            assert_eq!(before[key], after[key], "{key}: {before} → {after}");
        }
        commands
            .send(crate::engine::events::Command::Stop)
            .await
            .unwrap();
    };
    let ((), ()) = tokio::join!(s.run_loop(command_rx, &cancel), watcher);
    let end = s.finish().await;
    assert!(
        end.idle >= rest,
        "the wait is not the sync's time: {:?}",
        end.idle
    );
    assert_eq!(final_state(false, &end.views), RunState::Completed);
}
