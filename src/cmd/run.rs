//! `supsync run`, `resume` and `retry`: from the arguments and the config to a run, driven
//! with the console on a terminal, headless otherwise. `resume` and `retry` start from the
//! configuration the run recorded (see `carry_on`).

use super::drive::{Drive, console_wanted};
use super::prefix::command_prefix;
use crate::cli::{DriveArgs, GlobalArgs, ResumeArgs, RetryArgs, RunArgs};
use crate::engine::{RunMode, RunParams};
use crate::observe::ObserveOptions;
use crate::run::Shard;
use crate::{config, exit, journal};

/// The shard a run takes and the group its shards share (both `None` unsharded).
type ShardPick = (Option<Shard>, Option<String>);

pub fn run(global: &GlobalArgs, args: RunArgs) -> anyhow::Result<i32> {
    // A bad --run-id is a usage error (exit 2), said before anything starts.
    if let Some(id) = &args.run_id
        && let Err(e) = journal::validate_run_id(id)
    {
        return config_error(&format!("--run-id: {e}"));
    }
    let shard = match super::shard_args::resolve(&args.shard) {
        Ok(s) => s,
        Err(e) => return config_error(&e),
    };
    let (run_id, group) = match shard {
        None => (args.run_id, None),
        Some(s) => match super::shard_args::run_id(s, args.run_id.as_deref()) {
            Ok((id, group)) => (Some(id), group),
            Err(e) => return config_error(&e),
        },
    };
    // A shard started again with the same command (a Kubernetes index retried) carries on
    // with its own journal rather than failing on a run id that exists.
    if let (Some(s), Some(id)) = (shard, &run_id) {
        let dir = match config::state_dir(global) {
            Ok(d) => d,
            Err(e) => return config_error(&e),
        };
        if journal::run_dir(&dir, id).is_ok_and(|d| d.join(journal::MANIFEST_FILE).is_file()) {
            // Finished with failed segments (exit 3): a second start retries them.
            let failed = journal::read(&dir, id).is_ok_and(|(_, r)| {
                r.last_run_state == Some(crate::run::RunState::CompletedWithFailures)
            });
            if failed {
                eprintln!("run {id} (shard {s}) exists with failed segments: retrying them");
                let again = RetryArgs {
                    run_id: id.clone(),
                    segments: Vec::new(),
                    force_destination: false,
                    drive: args.drive,
                };
                return retry(global, again);
            }
            eprintln!("run {id} (shard {s}) exists: carrying on with its journal");
            let again = ResumeArgs {
                run_id: Some(id.clone()),
                force_destination: false,
                drive: args.drive,
                shard: args.shard,
            };
            return resume(global, again);
        }
    }
    let (source, pull) = (args.source, args.pull);
    let mode = match (source, pull) {
        (Some(source), None) => RunMode::Push { source, run_id },
        (None, Some(output)) => RunMode::Pull { output, run_id },
        // clap's "direction" group makes exactly one of them required.
        _ => anyhow::bail!("give exactly one of --source FILE or --pull OUT"),
    };
    drive(global, mode, &args.drive, None, (shard, group))
}

pub fn resume(global: &GlobalArgs, args: ResumeArgs) -> anyhow::Result<i32> {
    let dir = match config::state_dir(global) {
        Ok(d) => d,
        Err(e) => return config_error(&e),
    };
    let shard = match super::shard_args::resolve(&args.shard) {
        Ok(s) => s,
        Err(e) => return config_error(&e),
    };
    let run_id = match args.run_id {
        Some(id) => super::run_ids::resolve(&dir, &id)?,
        None => match journal::latest_unfinished(&dir)? {
            Some(id) => id,
            None => {
                eprintln!(
                    "no unfinished run under {}: nothing to resume (`{} status` lists the runs)",
                    dir.display(),
                    command_prefix(global)
                );
                return Ok(exit::OTHER);
            }
        },
    };
    // Said before anything starts (no token, no lock): the run is another shard's.
    if let Ok(m) = journal::read_manifest(&dir, &run_id)
        && let Err(e) = crate::engine::shard_plan::check_same_shard(&m, shard)
    {
        return config_error(&e);
    }
    let carry_on = CarryOn {
        run_id: run_id.clone(),
        force_destination: args.force_destination,
    };
    drive(
        global,
        RunMode::Resume { run_id },
        &args.drive,
        Some(carry_on),
        (shard, None),
    )
}

pub fn retry(global: &GlobalArgs, mut args: RetryArgs) -> anyhow::Result<i32> {
    let dir = match config::state_dir(global) {
        Ok(d) => d,
        Err(e) => return config_error(&e),
    };
    args.run_id = super::run_ids::resolve(&dir, &args.run_id)?;
    let carry_on = CarryOn {
        run_id: args.run_id.clone(),
        force_destination: args.force_destination,
    };
    drive(
        global,
        RunMode::Retry {
            run_id: args.run_id,
            segments: args.segments,
        },
        &args.drive,
        Some(carry_on),
        (None, None),
    )
}

/// A run carried on (`resume`, `retry`): it starts from the configuration it recorded.
struct CarryOn {
    run_id: String,
    force_destination: bool,
}

fn config_error(e: &dyn std::fmt::Display) -> anyhow::Result<i32> {
    eprintln!("error: {e}");
    Ok(exit::CONFIG)
}

/// Loads the config, checks it, sets up logging and drives the run (see [`super::drive`]).
fn drive(
    global: &GlobalArgs,
    mode: RunMode,
    args: &DriveArgs,
    carry_on: Option<CarryOn>,
    (shard, shard_group): ShardPick,
) -> anyhow::Result<i32> {
    let state_dir = match config::state_dir(global) {
        Ok(d) => d,
        Err(e) => return config_error(&e),
    };
    let loaded = match &carry_on {
        None => config::load(global),
        Some(c) => super::carry_on::load(
            global,
            &state_dir,
            &c.run_id,
            c.force_destination,
            &command_prefix(global),
        )?,
    };
    let loaded = match loaded {
        Ok(l) => l,
        Err(e) => return config_error(&e),
    };
    let secret = match loaded.client_secret() {
        Ok(s) => s,
        Err(e) => return config_error(&e),
    };
    let cfg = &loaded.config;
    for url in [cfg.api_url(&cfg.api.batch_path), cfg.auth_url()] {
        if let Err(e) = config::check_transport(&url, cfg.api.allow_insecure_http) {
            return config_error(&e);
        }
    }
    let console = console_wanted(args.headless());
    if console {
        crate::logging::init_console(&state_dir.join("logs"))?;
    } else {
        crate::logging::init_stderr(global.verbose);
    }
    // A run carried on keeps the shard it recorded, with or without --shard.
    let metrics_shard = shard.or_else(|| {
        let c = carry_on.as_ref()?;
        journal::read_manifest(&state_dir, &c.run_id).ok()?.shard
    });
    let how = Drive {
        console,
        ui: loaded.config.ui.clone(),
        command: command_prefix(global),
        observe: ObserveOptions {
            metrics_listen: args.metrics_listen,
            metrics_linger: args.metrics_linger,
            shard: metrics_shard.map(|s| s.to_string()),
        },
        json: args.json_progress(crate::headless::json::PROGRESS_EVERY),
    };
    let mut params = RunParams::new(loaded.config, secret, state_dir, mode);
    params.shard = shard;
    params.shard_group = shard_group;
    // engine::start spawns onto the runtime: the drive must run inside block_on.
    super::runtime()?.block_on(super::drive::drive(params, &how))
}
