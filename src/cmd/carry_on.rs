//! The configuration of a run that is carried on (`resume`, `retry`): what the run recorded,
//! with the config file, env and `--set` over it, and its destination guarded.

use std::path::Path;

use crate::config::recorded::{self, Recorded};
use crate::config::{self, ConfigError, LoadedConfig};
use crate::journal::{self, JournalError};

/// Loads the configuration `run_id` carries on with. `Ok(Err(_))` is a configuration error
/// (exit 2): a destination that moved without `--force-destination`, a bad override.
/// `Err(_)` is anything else (no such run, an unreadable manifest).
pub(super) fn load(
    global: &crate::cli::GlobalArgs,
    state_dir: &Path,
    run_id: &str,
    force_destination: bool,
    prefix: &str,
) -> anyhow::Result<Result<LoadedConfig, ConfigError>> {
    let manifest = journal::read_manifest(state_dir, run_id).map_err(|e| match e {
        // The journal's own hint cannot know the global options; this one names them.
        JournalError::NoSuchRun { run_id, state_dir } => anyhow::anyhow!(
            "no run {run_id} in {}; `{prefix} status` lists the runs",
            state_dir.display()
        ),
        e => anyhow::Error::from(e),
    })?;
    let mut rec = match Recorded::from_manifest(run_id, &manifest.config) {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    // Every manifest names its base URL, also one whose config lacks it.
    if let toml::Value::Table(api) = rec
        .table
        .entry("api")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
    {
        api.entry("base_url")
            .or_insert_with(|| toml::Value::String(manifest.base_url.clone()));
    }
    let loaded = match config::load_for_run(global, &rec) {
        Ok(l) => l,
        Err(e) => return Ok(Err(e)),
    };
    let was = match rec.config() {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let moved = match recorded::moved(&was, &loaded.config, &loaded.provenance) {
        Ok(m) => m,
        Err(e) => return Ok(Err(e)),
    };
    if moved.is_empty() {
        return Ok(Ok(loaded));
    }
    let lines: Vec<String> = moved
        .iter()
        .map(|m| {
            format!(
                "  {}: recorded {}, now {} ({})",
                m.key, m.recorded, m.now, m.origin
            )
        })
        .collect();
    if force_destination {
        tracing::warn!(
            "run {run_id} carries on against another destination than it started with (--force-destination):\n{}",
            lines.join("\n")
        );
        return Ok(Ok(loaded));
    }
    Ok(Err(ConfigError::Invalid(format!(
        "run {run_id} started against another destination than this configuration names:\n{}\n\
         A run carries on against the server it started with, whose settings it recorded: \
         drop the override, or add --force-destination to carry on against the new one",
        lines.join("\n")
    ))))
}
