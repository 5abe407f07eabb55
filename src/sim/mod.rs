//! The simulator of shared/API.md (issue 2): an axum server that behaves like a QMS
//! supplier API behind an OAuth2 server, the three token clocks and faults included.
//!
//! SKELETON: the signatures are the contract tests, the demo and benchmarks use.

use std::net::SocketAddr;

/// A simulator profile (shared/API.md §5). Built-in `realistic` / `demo`, or TOML.
#[derive(Debug, Clone)]
pub struct Profile {
    _private: (),
}

impl Profile {
    /// `realistic` or `demo`.
    pub fn builtin(name: &str) -> Option<Profile> {
        let _ = name;
        None
    }

    /// A profile from TOML text; missing keys take the `realistic` defaults.
    pub fn from_toml(text: &str) -> Result<Profile, String> {
        let _ = text;
        Err("simulator not built yet".into())
    }

    /// `--profile` argument: a built-in name or a TOML file path.
    pub fn load(arg: &str) -> Result<Profile, String> {
        let _ = arg;
        Err("simulator not built yet".into())
    }
}

/// A running simulator. Dropping it (or `shutdown`) stops the server.
pub struct SimServer {
    pub addr: SocketAddr,
}

impl SimServer {
    /// Starts on `listen` (port 0 picks a free one) in the current tokio runtime.
    pub async fn start(profile: Profile, listen: SocketAddr) -> std::io::Result<SimServer> {
        let _ = (profile, listen);
        Err(std::io::Error::other("simulator not built yet"))
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}
