//! `--shard K/N` and `--shards N` + `JOB_COMPLETION_INDEX` (the Kubernetes Indexed Job
//! convention) to one [`Shard`], and a shard's run id.

use crate::cli::ShardArgs;
use crate::journal;
use crate::run::Shard;

/// The variable a Kubernetes Indexed Job sets to the pod's index.
pub const INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

/// The shard the arguments ask for, reading the index from the environment for `--shards`.
pub(super) fn resolve(args: &ShardArgs) -> Result<Option<Shard>, String> {
    resolve_with(args, std::env::var(INDEX_ENV).ok().as_deref())
}

fn resolve_with(args: &ShardArgs, index: Option<&str>) -> Result<Option<Shard>, String> {
    match (&args.shard, args.shards) {
        (Some(k_of_n), _) => Shard::parse(k_of_n)
            .map(Some)
            .map_err(|e| format!("--shard: {e}")),
        (None, Some(n)) => {
            let Some(raw) = index else {
                return Err(format!(
                    "--shards {n} takes this process's shard from {INDEX_ENV} (set by a \
                     Kubernetes Indexed Job), which is not set; set it, or give --shard K/{n}"
                ));
            };
            let k = raw.trim().parse::<u32>().map_err(|_| {
                format!(
                    "{INDEX_ENV} = {:?} is not a shard index (a whole number from 0 to {})",
                    crate::source::clip(raw, 20),
                    n.saturating_sub(1)
                )
            })?;
            Shard::new(k, n)
                .map(Some)
                .map_err(|e| format!("--shards {n} with {INDEX_ENV} = {k}: {e}"))
        }
        (None, None) => Ok(None),
    }
}

/// A shard run's id: the name given (or a generated one) with `-sKofN` appended, so each
/// shard has its own run, and the group its shards share (the name given).
pub(super) fn run_id(
    shard: Shard,
    given: Option<&str>,
) -> Result<(String, Option<String>), String> {
    let base = given.map_or_else(journal::new_run_id, str::to_string);
    let id = format!("{base}{}", shard.run_id_suffix());
    journal::validate_run_id(&id).map_err(|e| format!("--run-id with shard {shard}: {e}"))?;
    Ok((id, given.map(str::to_string)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(shard: Option<&str>, shards: Option<u32>) -> ShardArgs {
        ShardArgs {
            shard: shard.map(String::from),
            shards,
        }
    }

    #[test]
    fn both_forms_give_the_same_shard_and_bad_input_is_named() {
        let want = Some(Shard::new(2, 4).unwrap());
        assert_eq!(resolve_with(&args(Some("2/4"), None), None), Ok(want));
        assert_eq!(resolve_with(&args(None, Some(4)), Some("2")), Ok(want));
        assert_eq!(resolve_with(&args(None, None), Some("2")), Ok(None));
        let e = resolve_with(&args(None, Some(4)), None).unwrap_err();
        assert!(
            e.contains("JOB_COMPLETION_INDEX") && e.contains("not set"),
            "{e}"
        );
        let e = resolve_with(&args(None, Some(4)), Some("two")).unwrap_err();
        assert!(e.contains("\"two\" is not a shard index"), "{e}");
        let e = resolve_with(&args(None, Some(4)), Some("4")).unwrap_err();
        assert!(
            e.contains("JOB_COMPLETION_INDEX = 4") && e.contains("0 to 3"),
            "{e}"
        );
        let e = resolve_with(&args(None, Some(0)), Some("0")).unwrap_err();
        assert!(e.contains("at least 1"), "{e}");
        let e = resolve_with(&args(Some("5/4"), None), None).unwrap_err();
        assert!(e.starts_with("--shard:"), "{e}");
    }

    #[test]
    fn a_shard_run_id_names_its_shard_and_keeps_the_group() {
        let s = Shard::new(1, 4).unwrap();
        let (id, group) = run_id(s, Some("nightly")).unwrap();
        assert_eq!(
            (id.as_str(), group.as_deref()),
            ("nightly-s1of4", Some("nightly"))
        );
        let (id, group) = run_id(s, None).unwrap();
        assert!(id.ends_with("-s1of4") && group.is_none(), "{id}");
        assert!(run_id(s, Some(&"x".repeat(64))).is_err());
    }
}
