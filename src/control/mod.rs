//! Control and observation from another process: every run serves a control socket (a Unix
//! domain socket `control.sock` in its run directory, mode 0600, removed at the end), fed
//! by a tap on the run's event stream, never by a second path into the engine.
//!
//! - [`wire`]: the line format (engine events out, operator commands in).
//! - [`server`]: the run's side ([`serve`] in the drive path).
//! - [`client`]: a look at a run (`supsync ps`) and an engine handle over the socket
//!   (`supsync attach`, which runs the same console on it).
//! - [`live`]: which runs under the state dir answer on their socket.
//!
//! Access is the file's: only the user running the sync can connect, and anyone who can
//! may pause, resume, renew the token or retry segments, as at the console itself. Nothing
//! secret crosses the socket (the token status carries only a fingerprint).

pub mod client;
mod clients;
mod conn;
pub mod live;
mod server;
mod snapshot;
pub mod socket;
pub mod wire;

pub use live::{LiveRun, live_runs};
pub use server::{ControlServer, serve};
pub use socket::{SOCKET_FILE, socket_path};
