//! What every segment worker shares: the client, the gate, the pace and the run's stops.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::backoff::Backoff;
use super::control::Gate;
use super::emit::Emitter;
use super::outage::Outage;
use super::pace::Pace;
use super::slots::Slots;
use crate::api::ApiClient;
use crate::source::PullSink;

/// Everything a worker needs, shared by all of them.
pub(crate) struct WorkerCtx {
    pub api: Arc<ApiClient>,
    pub gate: Arc<Gate>,
    pub emit: Emitter,
    pub backoff: Backoff,
    pub max_attempts: u32,
    pub retry_budget: u32,
    /// How long the server has failed every request; past its bound the run stops.
    pub outage: Arc<Outage>,
    /// `concurrency` places for segments talking to the server, taken in start order.
    pub slots: Arc<Slots>,
    /// How many of those places there are now, and why (the slots follow it).
    pub pace: Arc<Pace>,
    pub run_id: String,
    pub sink: Option<Arc<PullSink>>,
    /// Pull: the total the run was planned with (a page stating another is reported).
    pub planned_total: u64,
    /// Hard stop: abandon now.
    pub cancel: CancellationToken,
    /// Graceful stop: finish the request in flight, start no further attempt.
    pub stop: CancellationToken,
}
