//! `supsync verify RUN_ID [--extra] [--json]`: reads the destination back through the push
//! run's recorded configuration (mapping, auth, token cache) and compares it with the
//! run's source; exit 0 when they agree, 3 when records are missing or different.

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use super::out::print_out;
use super::prefix::command_prefix;
use crate::api::ApiError;
use crate::cli::{GlobalArgs, VerifyArgs};
use crate::engine::backoff::Backoff;
use crate::run::Direction;
use crate::verify::{self, Report, read};
use crate::{config, exit, journal};

pub fn run(global: &GlobalArgs, args: VerifyArgs) -> anyhow::Result<i32> {
    let state_dir = match config::state_dir(global) {
        Ok(d) => d,
        Err(e) => return usage(&e),
    };
    let prefix = command_prefix(global);
    let run_id = match resolve(&state_dir, &args.run_id, &prefix)? {
        Ok(id) => id,
        Err(e) => return usage(&e),
    };
    let manifest = journal::read_manifest(&state_dir, &run_id)?;
    if manifest.direction != Direction::Push || manifest.source.is_none() {
        return usage(&format!(
            "run {run_id} is a pull: verify compares what a push run sent with what the \
             server holds"
        ));
    }
    let loaded = match super::carry_on::load(global, &state_dir, &run_id, false, &prefix)? {
        Ok(l) => l,
        Err(e) => return usage(&e),
    };
    let secret = match loaded.client_secret() {
        Ok(s) => s,
        Err(e) => return usage(&e),
    };
    let cfg = loaded.config;
    for url in [cfg.api_url(&cfg.api.batch_path), cfg.auth_url()] {
        if let Err(e) = config::check_transport(&url, cfg.api.allow_insecure_http) {
            return usage(&e);
        }
    }
    crate::logging::init_stderr(global.verbose);
    let opts = Options {
        extra: args.extra,
        json: args.json,
    };
    super::runtime()?.block_on(check(&state_dir, &run_id, &cfg, secret, opts))
}

/// What to report besides missing and different records, and how.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Options {
    pub extra: bool,
    pub json: bool,
}

/// Verifies push run `run_id` with its configuration `cfg` (the recorded one, with what
/// the operator gave over it) and prints the report; the exit code. Also what the console's
/// `v` runs at the end of a push, in the run's own process.
pub(super) async fn check(
    state_dir: &std::path::Path,
    run_id: &str,
    cfg: &config::Config,
    secret: crate::secret::Secret,
    opts: Options,
) -> anyhow::Result<i32> {
    let manifest = journal::read_manifest(state_dir, run_id)?;
    let Some(source) = manifest.source.clone() else {
        anyhow::bail!("run {run_id} names no source file");
    };
    let run_dir = journal::run_dir(state_dir, run_id)?;
    let expected = read::expected(&source, &run_dir).with_context(|| {
        format!(
            "cannot read the run's source {} to compare with",
            source.display()
        )
    })?;
    let changed = manifest
        .source_hash
        .as_deref()
        .is_some_and(|h| h != expected.hash);
    let mut pacing = read::Pacing {
        backoff: Backoff::from_config(&cfg.sync),
        max_attempts: cfg.sync.max_attempts,
        page_size: cfg.sync.segment_size.max(1),
        max_pages: u64::MAX,
    };
    let per_id = cfg.api.verify_read == "per_id";
    if per_id && opts.extra {
        return usage(
            &"--extra needs a listing of the server's records, and api.verify_read = \
              \"per_id\" reads only the records the run pushed; drop --extra",
        );
    }
    // `auto` steers a run's segments, not these reads: under it, the old fixed default of
    // 4 within its bounds (the number itself would be unbounded).
    let in_flight = match cfg.sync.concurrency_is_auto() {
        true => 4.clamp(cfg.sync.min_concurrency, cfg.sync.max_concurrency.max(1)),
        false => cfg.sync.concurrency,
    };
    let ids = expected.records.keys().cloned().collect::<Vec<_>>();
    let token_cache = state_dir.join("token-cache");
    let cancel = CancellationToken::new();
    let mut signals = crate::signals::StopSignals::install();
    let work = async {
        let api = read::connect(cfg, secret, token_cache, &pacing, &cancel).await?;
        pacing.max_pages = api.mapping().pull.max_pages;
        let got = if per_id {
            read::server_per_id(&api, ids.into_iter(), in_flight, &pacing, &cancel).await
        } else {
            read::server(&api, &pacing, &cancel).await
        };
        api.end_session().await;
        got
    };
    let read = tokio::select! {
        r = work => r,
        name = signals.recv() => {
            cancel.cancel();
            Err(ApiError::Permanent { status: 0, message: format!("stopped by {name}") })
        }
    };
    let server = match read {
        Ok(s) => s,
        Err(e) => {
            super::out::eprint_line(&format!(
                "error: cannot read the server back through run {run_id}'s mapping: {e}"
            ));
            return Ok(if e.is_auth_failure() {
                exit::AUTH
            } else {
                exit::OTHER
            });
        }
    };
    let mut c = verify::compare(
        &expected.records,
        &server.records,
        &fields(cfg)?,
        opts.extra,
    );
    // A per-id answer that did not read as the record is not "missing" (the server
    // answered): it is a record the server does not hold as the source has it.
    if !server.unreadable.is_empty() {
        c.missing.retain(|id| !server.unreadable.contains_key(id));
        for (id, why) in &server.unreadable {
            c.different.push(verify::Different {
                supplier_id: id.clone(),
                fields: vec![format!("unreadable: {why}")],
            });
        }
        c.different
            .sort_by(|a, b| a.supplier_id.cmp(&b.supplier_id));
    }
    let report = Report::new(
        run_id,
        &source.display().to_string(),
        changed,
        &expected,
        &server,
        &c,
        opts.extra,
    );
    if opts.json {
        print_out(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    } else {
        print_out(&report.text())?;
    }
    Ok(report.exit_code)
}

/// The field names of the run's mapping.
fn fields(cfg: &config::Config) -> anyhow::Result<crate::mapping::FieldMap> {
    crate::mapping::ApiMapping::build(&cfg.api.mapping, &cfg.api.batch_path)
        .map(|m| m.fields)
        .map_err(|problems| anyhow::anyhow!("the run's API mapping does not build: {problems:?}"))
}

/// The run `given` names: its id, or the one run whose id starts with it.
fn resolve(
    state_dir: &std::path::Path,
    given: &str,
    prefix: &str,
) -> anyhow::Result<Result<String, String>> {
    if journal::validate_run_id(given).is_ok() && journal::run_dir(state_dir, given)?.is_dir() {
        return Ok(Ok(given.to_string()));
    }
    let runs = journal::list_runs(state_dir)?;
    let matching: Vec<&str> = runs
        .iter()
        .map(|r| r.run_id.as_str())
        .filter(|id| id.starts_with(given))
        .collect();
    Ok(match matching.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(format!(
            "no run {given} in {}; `{prefix} status` lists the runs",
            state_dir.display()
        )),
        many => Err(format!(
            "{given} names {} runs ({}); give more of the id",
            many.len(),
            many.join(", ")
        )),
    })
}

fn usage(e: &dyn std::fmt::Display) -> anyhow::Result<i32> {
    super::out::eprint_line(&format!("error: {e}"));
    Ok(exit::CONFIG)
}
