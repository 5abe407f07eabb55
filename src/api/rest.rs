//! A run that has nothing left to do rests: no background renewal, no keep-alive, so a
//! finished run the operator has not closed yet asks the servers for nothing. A retry
//! wakes it; a call made while resting still gets a token on demand (the manager renews a
//! dead one first).

use std::sync::Arc;

use super::{ApiClient, keepalive};

impl ApiClient {
    /// Stops the background renewal and keep-alive (until [`ApiClient::wake`]).
    pub fn rest(&self) {
        if let Some(bg) = self.background_slot().take() {
            bg.cancel();
            tracing::debug!(target: "supsync::token", "run finished: token renewal and keep-alive stopped");
        }
    }

    /// Starts the background renewal and keep-alive again after [`ApiClient::rest`].
    pub fn wake(self: &Arc<Self>) {
        let mut slot = self.background_slot();
        if slot.is_some() || self.cancel.is_cancelled() {
            return;
        }
        let bg = self.cancel.child_token();
        self.tokens.spawn_background(bg.clone());
        tokio::spawn(keepalive::run(
            Arc::downgrade(self),
            Arc::clone(&self.tokens),
            bg.clone(),
        ));
        *slot = Some(bg);
        tracing::debug!(target: "supsync::token", "run busy again: token renewal and keep-alive restarted");
    }

    /// True while the background renewal and keep-alive run.
    pub fn is_awake(&self) -> bool {
        self.background_slot().is_some()
    }

    fn background_slot(
        &self,
    ) -> std::sync::MutexGuard<'_, Option<tokio_util::sync::CancellationToken>> {
        // Poisoned only by a panic elsewhere; the slot itself is still coherent.
        self.background.lock().unwrap_or_else(|p| p.into_inner())
    }
}
