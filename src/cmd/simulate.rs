//! `supsync simulate`: the API simulator for operators rehearsing syncs (docs/API.md §5).

use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::Context;

use crate::cli::{GlobalArgs, SimulateArgs};
use crate::sim::{Profile, SimServer};

pub fn run(global: &GlobalArgs, args: SimulateArgs) -> anyhow::Result<i32> {
    // Request logs are the point of running it in a terminal: info unless -v asks for more.
    crate::logging::init_stderr(global.verbose.max(1));
    let profile = match Profile::load(&args.profile) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(crate::exit::CONFIG);
        }
    };
    let listen = match resolve(&args.listen) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(crate::exit::CONFIG);
        }
    };
    let rt = super::runtime()?;
    rt.block_on(async move {
        // Signal handlers go in before the address is printed: a script may send SIGTERM
        // the moment it has read the line, and must get a clean stop, not the default kill.
        let stop = StopSignal::install()?;
        let server = if args.tls {
            SimServer::start_tls(profile, listen).await
        } else {
            SimServer::start(profile, listen).await
        }
        .with_context(|| format!("could not start the simulator on {listen}"))?;
        // The stdout line scripts read the port from; everything else goes to stderr.
        super::out::print_line(&format!("listening on {}", server.url()))?;
        if let Some(pem) = server.ca_pem() {
            let path = args.ca_out.clone().unwrap_or_else(|| {
                std::env::temp_dir().join(format!("supsync-sim-ca-{}.pem", server.addr.port()))
            });
            // Often in the shared temp dir under a name others can guess: replaced through a
            // rename that refuses a link or device there, never written through one.
            crate::source::write_file_atomic(&path, pem.as_bytes())
                .with_context(|| format!("could not write the CA file {}", path.display()))?;
            super::out::print_line(&format!(
                "trust CA file {} (api.ca_file = \"{}\")",
                path.display(),
                path.display()
            ))?;
        }
        tracing::info!(target: "supsync::sim", profile = %args.profile, "simulator up; Ctrl-C stops it");
        stop.wait().await;
        server.shutdown().await;
        Ok(crate::exit::OK)
    })
}

fn resolve(listen: &str) -> Result<SocketAddr, String> {
    listen
        .to_socket_addrs()
        .map_err(|e| format!("--listen {listen:?} is not HOST:PORT: {e}"))?
        .next()
        .ok_or_else(|| format!("--listen {listen:?} resolves to no address"))
}

/// Ctrl-C, or SIGTERM on Unix; registered when installed, awaited later.
struct StopSignal {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl StopSignal {
    fn install() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                term: signal(SignalKind::terminate()).context("could not watch SIGTERM")?,
                int: signal(SignalKind::interrupt()).context("could not watch Ctrl-C")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn wait(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
        #[cfg(not(unix))]
        {
            // Ignored on purpose: if Ctrl-C cannot be watched, stopping is all we can do.
            let _ = tokio::signal::ctrl_c().await;
            let _ = &mut self;
        }
    }
}
