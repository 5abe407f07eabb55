//! What a run is asked to do: its mode and settings, as a command hands them to the engine.

use std::path::PathBuf;

use crate::config::Config;
use crate::secret::Secret;

/// What to run.
#[derive(Debug, Clone)]
pub enum RunMode {
    /// Push the records of a CSV / JSON Lines file.
    Push {
        source: PathBuf,
        run_id: Option<String>,
    },
    /// Pull every supplier into a file.
    Pull {
        output: PathBuf,
        run_id: Option<String>,
    },
    /// Carry on with an unfinished run.
    Resume { run_id: String },
    /// Retry failed segments of a run (all when `segments` is empty).
    Retry {
        run_id: String,
        segments: Vec<usize>,
    },
}

#[derive(Debug, Clone)]
pub struct RunParams {
    pub config: Config,
    pub client_secret: Secret,
    pub state_dir: PathBuf,
    pub mode: RunMode,
    /// Keep the run open after every segment has finished, until `Command::Stop`, `cancel`
    /// or the command sender is dropped (the console, so `r`/`R` can still retry).
    /// Headless and tests: false, the run ends when nothing is pending or running.
    pub stay_alive: bool,
    /// This process's slice of the source when the run is one of several shards; a
    /// resume of a run recorded as another shard is refused.
    pub shard: Option<crate::run::Shard>,
    /// The name the shards of one logical run share (`--run-id`); without one, the plan
    /// derives it from the source (see `shard_plan::group`).
    pub shard_group: Option<String>,
}

impl RunParams {
    pub fn new(config: Config, client_secret: Secret, state_dir: PathBuf, mode: RunMode) -> Self {
        Self {
            config,
            client_secret,
            state_dir,
            mode,
            stay_alive: false,
            shard: None,
            shard_group: None,
        }
    }
}
