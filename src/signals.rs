//! The signals that ask a run to stop (headless and console alike): SIGINT (Ctrl-C), SIGTERM (systemd,
//! Kubernetes, `timeout`) and SIGHUP (the terminal or the session went away). All three
//! mean the same thing here: stop like Ctrl-C, so the run ends resumably with exit 5
//! instead of dying with the shell's 130/143/129 and no summary.

use tokio::signal::unix::{Signal, SignalKind, signal};

pub(crate) struct StopSignals {
    /// `None` when a handler could not be installed: that signal keeps its default action.
    int: Option<Signal>,
    term: Option<Signal>,
    hup: Option<Signal>,
}

impl StopSignals {
    /// Installs the handlers. A failure leaves that one signal at its default action (the
    /// run still works, it just cannot stop gracefully on it); it is logged, not fatal.
    pub(crate) fn install() -> Self {
        let one = |kind: SignalKind, name: &str| match signal(kind) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!("cannot handle {name} ({e}): it will end the run abruptly");
                None
            }
        };
        Self {
            int: one(SignalKind::interrupt(), "SIGINT"),
            term: one(SignalKind::terminate(), "SIGTERM"),
            hup: one(SignalKind::hangup(), "SIGHUP"),
        }
    }

    /// The next stop signal's name; pending forever when none can arrive.
    pub(crate) async fn recv(&mut self) -> &'static str {
        tokio::select! {
            Some(()) = next(&mut self.int) => "SIGINT",
            Some(()) = next(&mut self.term) => "SIGTERM",
            Some(()) = next(&mut self.hup) => "SIGHUP",
            else => std::future::pending().await,
        }
    }
}

async fn next(s: &mut Option<Signal>) -> Option<()> {
    match s {
        Some(s) => s.recv().await,
        None => None,
    }
}
