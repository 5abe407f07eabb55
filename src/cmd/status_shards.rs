//! `supsync status --shards GROUP [--in DIR|GLOB]…`: the shards of one logical run summed
//! from their journals (each shard has its own state dir, often side by side on a shared
//! volume), and the shard line of a single run's status.
//!
//! Shards belong together by the `shard_group` their manifests record: the `--run-id`
//! they were started with, or (none given) a name derived from the direction, the source
//! (push: its content hash; pull: the base URL) and N.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::out::print_out;
use crate::exit;
use crate::journal::{self, Manifest, RunListing};
use crate::run::{Counts, Direction, RunState, Shard};

/// The shard a single run's `status` shows (text: a line after the first).
pub(super) fn with_shard_line(text: String, m: &Manifest) -> String {
    let Some(shard) = m.shard else {
        return text;
    };
    let group = m.shard_group.as_deref().unwrap_or("?");
    let line =
        format!("shard:    {shard} of group {group} (`status --shards {group}` sums them)\n");
    match text.split_once('\n') {
        Some((first, rest)) => format!("{first}\n{line}{rest}"),
        None => format!("{text}\n{line}"),
    }
}

/// The shard a single run's `status --json` shows.
pub(super) fn add_shard(v: &mut serde_json::Value, m: &Manifest) {
    if let (Some(o), Some(shard)) = (v.as_object_mut(), m.shard) {
        o.insert("shard".into(), shard.to_string().into());
        o.insert("shard_group".into(), m.shard_group.clone().into());
    }
}

#[derive(Debug, Serialize)]
struct ShardRow {
    shard: String,
    run_id: String,
    state_dir: String,
    /// The last state its journal holds ("running (live)" while a process holds it).
    state: String,
    records: u64,
    segments_total: usize,
    segments_done: usize,
    segments_failed: usize,
    counts: Counts,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
}

#[derive(Debug, Serialize)]
struct FleetReport {
    group: String,
    direction: Option<Direction>,
    shards_expected: u32,
    shards_found: usize,
    /// Indices of the N with no journal found.
    missing: Vec<u32>,
    /// Shards found more than once (two runs claim the same slice): all are summed, so
    /// the sums are not to be trusted until the extra run is removed.
    duplicates: Vec<String>,
    total_records: u64,
    segments_total: usize,
    segments_done: usize,
    segments_failed: usize,
    counts: Counts,
    /// Every shard found, each once, each completed.
    complete: bool,
    shards: Vec<ShardRow>,
}

pub(super) fn run(
    default_dir: &Path,
    group: &str,
    dirs: &[String],
    json: bool,
) -> anyhow::Result<i32> {
    let mut roots = Vec::new();
    if dirs.is_empty() {
        roots.push(default_dir.to_path_buf());
    }
    for d in dirs {
        let found = expand(d);
        if found.is_empty() {
            eprintln!("error: --in {d}: no such directory");
            return Ok(exit::CONFIG);
        }
        roots.extend(found);
    }
    let members = find(&roots, group)?;
    let Some((first, _, _)) = members.first() else {
        let list: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
        eprintln!(
            "no shard of {group:?} under {}: give the group (the --run-id the shards were \
             started with) or one shard's run id, and --in the shards' state dirs (a glob \
             such as '/state/*' works)",
            list.join(", ")
        );
        return Ok(exit::OTHER);
    };
    let group = first.shard_group.clone().unwrap_or_default();
    let report = fold(group, &members);
    if json {
        print_out(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    } else {
        print_out(&text(&report))?;
    }
    Ok(exit::OK)
}

/// Every run under `roots` whose manifest records `group` (or, when `group` names a shard
/// run, that run's group), with its listing and state dir.
fn find(roots: &[PathBuf], group: &str) -> anyhow::Result<Vec<(Manifest, RunListing, PathBuf)>> {
    let mut all = Vec::new();
    for root in roots {
        for l in journal::list_runs(root)? {
            if let Ok(m) = journal::read_manifest(root, &l.run_id)
                && m.shard.is_some()
            {
                all.push((m, l, root.clone()));
            }
        }
    }
    let wanted = all
        .iter()
        .find(|(m, _, _)| m.run_id == group)
        .and_then(|(m, _, _)| m.shard_group.clone())
        .unwrap_or_else(|| group.to_string());
    all.retain(|(m, _, _)| m.shard_group.as_deref() == Some(wanted.as_str()));
    all.sort_by_key(|(m, _, _)| m.shard.map(|s| (s.count, s.index)));
    Ok(all)
}

/// A shard's own records: a push's manifest counts them; a pull's manifest keeps the
/// server's whole total, of which the shard takes every N-th segment.
fn shard_records(m: &Manifest, shard: Shard) -> u64 {
    if m.direction == Direction::Push {
        return m.total_records;
    }
    let size = m.segment_size.max(1) as u64;
    let segments = m.total_records.div_ceil(size);
    (u64::from(shard.index)..segments)
        .step_by(shard.count as usize)
        .map(|i| size.min(m.total_records - i * size))
        .sum()
}

fn fold(group: String, members: &[(Manifest, RunListing, PathBuf)]) -> FleetReport {
    let expected = members
        .iter()
        .filter_map(|(m, _, _)| m.shard.map(|s| s.count))
        .max()
        .unwrap_or(0);
    let mut r = FleetReport {
        group,
        direction: members.first().map(|(m, _, _)| m.direction),
        shards_expected: expected,
        shards_found: 0,
        missing: Vec::new(),
        duplicates: Vec::new(),
        total_records: 0,
        segments_total: 0,
        segments_done: 0,
        segments_failed: 0,
        counts: Counts::default(),
        complete: false,
        shards: Vec::new(),
    };
    let mut seen = vec![0u32; expected as usize];
    let mut all_done = true;
    for (m, l, dir) in members {
        let Some(shard) = m.shard else { continue };
        if shard.count != expected {
            r.duplicates.push(format!(
                "{} is shard {shard}, not one of {expected}",
                m.run_id
            ));
        } else if let Some(n) = seen.get_mut(shard.index as usize) {
            *n += 1;
            if *n == 2 {
                r.duplicates.push(shard.to_string());
            }
        }
        let live = journal::run_dir(dir, &l.run_id)
            .ok()
            .and_then(|d| journal::lock_holder(&d))
            .is_some();
        let state = match (live, l.last_state) {
            (true, _) => "running (live)".to_string(),
            (false, Some(s)) => s.to_string(),
            (false, None) => "not started".to_string(),
        };
        all_done &= !live
            && l.problem.is_none()
            && matches!(
                l.last_state,
                Some(RunState::Completed | RunState::CompletedWithFailures)
            );
        let records = shard_records(m, shard);
        r.total_records += records;
        r.segments_total += l.segments_total;
        r.segments_done += l.segments_done;
        r.segments_failed += l.segments_failed;
        r.counts.add(&l.counts);
        r.shards.push(ShardRow {
            shard: shard.to_string(),
            run_id: l.run_id.clone(),
            state_dir: dir.display().to_string(),
            state,
            records,
            segments_total: l.segments_total,
            segments_done: l.segments_done,
            segments_failed: l.segments_failed,
            counts: l.counts,
            problem: l.problem.clone(),
        });
    }
    r.shards_found = r.shards.len();
    r.missing = (0..expected).filter(|&k| seen[k as usize] == 0).collect();
    r.complete = all_done && r.missing.is_empty() && r.duplicates.is_empty();
    r
}

fn text(r: &FleetReport) -> String {
    let mut out = format!(
        "group {}: {} of {} shards found, {}\n",
        r.group,
        r.shards_found,
        r.shards_expected,
        if r.complete {
            "all completed"
        } else {
            "not all completed"
        }
    );
    out.push_str(&format!(
        "records:  {} in all; segments {}/{} done, {} failed\n",
        r.total_records, r.segments_done, r.segments_total, r.segments_failed
    ));
    let c = &r.counts;
    out.push_str(&format!(
        "counts:   {} created, {} updated, {} unchanged, {} applied, {} rejected, {} pulled\n",
        c.created, c.updated, c.unchanged, c.applied, c.rejected, c.pulled
    ));
    if !r.missing.is_empty() {
        let m: Vec<String> = r.missing.iter().map(u32::to_string).collect();
        out.push_str(&format!(
            "missing:  shard(s) {} of {} (no journal under the dirs given)\n",
            m.join(", "),
            r.shards_expected
        ));
    }
    if !r.duplicates.is_empty() {
        out.push_str(&format!(
            "warning:  shard(s) found more than once: {}; the sums count each run found\n",
            r.duplicates.join("; ")
        ));
    }
    for s in &r.shards {
        out.push_str(&format!(
            "  {:<7} {:<28} {:<24} {:>5}/{:<5} segments done, {} failed  {}\n",
            s.shard,
            s.run_id,
            s.problem
                .as_deref()
                .map_or(s.state.clone(), |p| format!("damaged: {p}")),
            s.segments_done,
            s.segments_total,
            s.segments_failed,
            s.state_dir
        ));
    }
    out
}

/// The directories a `--in` value names: itself, or what its glob matches (`*` and `?`
/// within one path part).
fn expand(pattern: &str) -> Vec<PathBuf> {
    if !pattern.contains(['*', '?']) {
        let p = PathBuf::from(pattern);
        return if p.is_dir() { vec![p] } else { Vec::new() };
    }
    let path = Path::new(pattern);
    let mut found = vec![PathBuf::new()];
    for part in path.components() {
        let part = part.as_os_str().to_string_lossy();
        let mut next = Vec::new();
        for base in &found {
            if !part.contains(['*', '?']) {
                next.push(base.join(part.as_ref()));
                continue;
            }
            let dir = if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base.as_path()
            };
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .flatten()
                .filter_map(|e| e.file_name().to_str().map(String::from))
                .filter(|n| !n.starts_with('.') && wildcard(&part, n))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| base.join(n)));
        }
        found = next;
    }
    found.into_iter().filter(|p| p.is_dir()).collect()
}

/// `*` (any run of characters) and `?` (one character) against a whole name.
fn wildcard(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_whole_names() {
        assert!(wildcard("shard-*", "shard-0"));
        assert!(wildcard("*", "x"));
        assert!(wildcard("s?-*-x", "s1-abc-x"));
        assert!(!wildcard("shard-*", "other"));
        assert!(!wildcard("s?", "s12"));
        assert!(wildcard("a*b*c", "aXbYbc"));
    }

    #[test]
    fn a_pull_shard_counts_its_own_segments() {
        let mut m = crate::journal::tests::manifest("r", "2026-12-07T00:00:00Z");
        m.direction = Direction::Pull;
        m.total_records = 120;
        m.segment_size = 50;
        let of = |k| shard_records(&m, Shard::new(k, 2).unwrap());
        assert_eq!((of(0), of(1)), (70, 50));
    }
}
