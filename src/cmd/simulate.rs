//! `supsync simulate`: the API simulator for operators rehearsing syncs (shared/API.md).

use std::io::Write;
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
        let server = SimServer::start(profile, listen)
            .await
            .with_context(|| format!("could not listen on {listen}"))?;
        // The one stdout line scripts read the port from; everything else goes to stderr.
        let mut out = std::io::stdout();
        writeln!(out, "listening on {}", server.url()).context("could not write to stdout")?;
        out.flush().context("could not write to stdout")?;
        tracing::info!(target: "supsync::sim", profile = %args.profile, "simulator up; Ctrl-C stops it");
        stop_signal().await?;
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

/// Ctrl-C, or SIGTERM on Unix.
async fn stop_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("could not watch SIGTERM")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("could not watch Ctrl-C")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("could not watch Ctrl-C")?;
    Ok(())
}
