//! What a shard changes in planning: which of a pull's segments are its own, which paging
//! allows that, the group its shards share, and the check that a run carries on only as
//! the shard it started as.

use anyhow::bail;

use super::RunParams;
use crate::journal::Manifest;
use crate::run::{Shard, fnv1a};

/// The segments of a pull's whole layout that belong to `shard` (every N-th from the
/// K-th), renumbered from 0 for the shard's own journal; all of them without a shard.
pub(super) fn pull_layout_of(layout: Vec<(u64, u64)>, shard: Option<Shard>) -> Vec<(u64, u64)> {
    match shard {
        None => layout,
        Some(s) => layout
            .into_iter()
            .enumerate()
            .filter(|&(i, _)| s.holds_segment(i as u64))
            .map(|(_, seg)| seg)
            .collect(),
    }
}

/// A shard pull asks for its pages by position; a chain of cursors or next links can only
/// be walked from its start, so it cannot be cut between machines.
pub(super) fn check_pull_paging((positional, kind): (bool, &str)) -> anyhow::Result<()> {
    if !positional {
        bail!(
            "a pull cannot be sharded with api.pagination = {:?}: its pages form a chain \
             that is walked from the first page, so no shard can start at its own pages; \
             shards pull only APIs paged by offset_limit or page number (run the pull \
             without --shard/--shards)",
            kind
        );
    }
    Ok(())
}

/// The shard group recorded in the manifest: the `--run-id` the shards were named with, or
/// (none given) one derived from what the shards share: the direction, `basis` (a push's
/// source content hash, a pull's base URL) and N. `None` for an unsharded run.
pub(super) fn group(params: &RunParams, basis: &str) -> Option<String> {
    let shard = params.shard?;
    if let Some(g) = &params.shard_group {
        return Some(g.clone());
    }
    let direction = match params.mode {
        super::RunMode::Pull { .. } => "pull",
        _ => "push",
    };
    let hash = fnv1a(format!("{direction}\n{basis}\n{}", shard.count).as_bytes());
    Some(format!("{direction}-{hash:016x}-of{}", shard.count))
}

/// A run recorded as one shard is never carried on as another (or as the whole source):
/// its journal counts only its own slice.
pub(crate) fn check_same_shard(m: &Manifest, asked: Option<Shard>) -> anyhow::Result<()> {
    let Some(asked) = asked else {
        return Ok(());
    };
    match m.shard {
        Some(own) if own == asked => Ok(()),
        Some(own) => bail!(
            "run {} is shard {own}; it cannot carry on as shard {asked}: its journal counts \
             only shard {own}'s records (resume it with --shard {own}, or start shard {asked} \
             as its own run)",
            m.run_id
        ),
        None => bail!(
            "run {} is not sharded (it covers the whole source); it cannot carry on as shard \
             {asked} (resume it without --shard/--shards)",
            m.run_id
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shards_of_a_pull_cover_every_segment_once() {
        let whole: Vec<(u64, u64)> = (0..10).map(|i| (i * 50, 50)).collect();
        let mut seen = Vec::new();
        for k in 0..3 {
            let mine = pull_layout_of(whole.clone(), Some(Shard::new(k, 3).unwrap()));
            seen.extend(mine);
        }
        seen.sort();
        assert_eq!(seen, whole);
        let s1 = pull_layout_of(whole.clone(), Some(Shard::new(1, 3).unwrap()));
        assert_eq!(s1, vec![(50, 50), (200, 50), (350, 50)]);
        assert_eq!(pull_layout_of(whole.clone(), None), whole);
    }
}
