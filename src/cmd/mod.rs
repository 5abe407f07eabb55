//! One module per subcommand; each returns the process exit code. `drive` is the one path
//! from a command into a run; `out` is every command's stdout.

pub mod attach;
mod carry_on;
pub mod config;
pub mod demo;
pub mod diagnose;
mod drive;
mod out;
mod prefix;
pub mod ps;
pub mod run;
mod run_ids;
mod runtime;
mod shard_args;
pub mod simulate;
pub mod status;
mod status_rejects;
mod status_shards;
pub mod verify;

use crate::cli::{Cli, Command};

pub(crate) use runtime::runtime;

/// Dispatches to the subcommand and turns an error into a message and exit code 1, or 2
/// for a bad configuration (so every command reports it the same way).
pub fn dispatch(cli: Cli) -> i32 {
    let global = cli.global;
    let result = match cli.command {
        Command::Demo(a) => demo::run(&global, a),
        Command::Run(a) => run::run(&global, a),
        Command::Resume(a) => run::resume(&global, a),
        Command::Retry(a) => run::retry(&global, a),
        Command::Status(a) => status::run(&global, a),
        Command::Ps(a) => ps::run(&global, a),
        Command::Attach(a) => attach::run(&global, a),
        Command::Diagnose(a) => diagnose::run(&global, a),
        Command::Simulate(a) => simulate::run(&global, a),
        Command::Config(a) => config::run(&global, a),
        Command::Verify(a) => verify::run(&global, a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            out::eprint_line(&format!("error: {e:#}"));
            let config = e.chain().any(|c| c.is::<crate::config::ConfigError>());
            if config {
                crate::exit::CONFIG
            } else {
                crate::exit::OTHER
            }
        }
    }
}
