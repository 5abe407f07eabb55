//! Sending events without ever hanging on a consumer that stopped reading.

use std::time::Duration;

use tokio::sync::mpsc;

use super::events::EngineEvent;

/// How long an outcome event may wait for room in the channel before it is given up on
/// (the consumer is stuck or gone; the journal has the outcome anyway).
const CONSUMER_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub(crate) struct Emitter {
    tx: mpsc::Sender<EngineEvent>,
}

impl Emitter {
    pub(crate) fn new(tx: mpsc::Sender<EngineEvent>) -> Self {
        Self { tx }
    }

    /// Progress (running, retrying, token ticks): dropped when the consumer lags behind;
    /// the next event of the same kind supersedes it.
    pub(crate) fn progress(&self, ev: EngineEvent) {
        // Ignored on purpose: a full or closed channel means nobody needs this one.
        let _ = self.tx.try_send(ev);
    }

    pub(crate) fn notice(&self, msg: String) {
        tracing::info!(target: "supsync::engine", "{msg}");
        let _ = self.tx.try_send(EngineEvent::Notice(msg));
    }

    /// The run holds (`Some`) or the hold is over (`None`). Logged, and never dropped: a
    /// lost end of a hold would leave a view saying "holding" for good.
    pub(crate) fn holding(&self, hold: Option<super::events::Hold>) {
        match &hold {
            Some(h) => {
                tracing::warn!(target: "supsync::engine", "{}", h.words(std::time::SystemTime::now()))
            }
            None => {
                tracing::info!(target: "supsync::engine", "the server answers again: hold over")
            }
        }
        if let Err(mpsc::error::TrySendError::Full(ev)) =
            self.tx.try_send(EngineEvent::Holding(hold))
        {
            let tx = self.tx.clone();
            tokio::spawn(async move {
                let _ = tx.send_timeout(ev, CONSUMER_TIMEOUT).await;
            });
        }
    }

    /// Outcomes, plan and end: waits for room, but not forever.
    pub(crate) async fn outcome(&self, ev: EngineEvent) {
        // Ignored on purpose: a consumer gone or stuck for CONSUMER_TIMEOUT cannot be helped,
        // and the journal already holds what it would have shown.
        let _ = self.tx.send_timeout(ev, CONSUMER_TIMEOUT).await;
    }
}
