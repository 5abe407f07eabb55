//! `supsync status [RUN_ID] [--json]`: the runs, or one run's summary and segment table,
//! from the journal alone (no network, no lock: it can watch a run in progress).

use std::collections::BTreeMap;

use serde::Serialize;

use super::out::print_out;
use crate::cli::{GlobalArgs, StatusArgs};
use crate::journal::{self, Manifest, Replay};
use crate::run::{Counts, Direction, Outcome, RunState, SegmentState};
use crate::view::RunView;
use crate::{config, exit};

/// At most this many state ranges are printed; the rest is summed up in one line.
const MAX_RANGES_SHOWN: usize = 40;

pub fn run(global: &GlobalArgs, args: StatusArgs) -> anyhow::Result<i32> {
    let dir = match config::state_dir(global) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::CONFIG);
        }
    };
    let prefix = super::prefix::command_prefix(global);
    if let Some(group) = &args.shards {
        return super::status_shards::run(&dir, group, &args.dirs, args.json);
    }
    match args.run_id {
        None => list(&dir, args.json, &prefix),
        Some(id) => {
            let id = super::run_ids::resolve(&dir, &id)?;
            let (manifest, replay) = journal::read(&dir, &id)?;
            let run_dir = journal::run_dir(&dir, &id)?;
            let mut report = RunReport::new(&manifest, &replay, &prefix);
            if let Some(pid) = journal::lock_holder(&run_dir) {
                let view = RunView::from_journal(&manifest, &replay, std::time::Instant::now());
                report.live(pid, &view, &prefix);
            }
            if report.counts.rejected > 0 {
                let path = run_dir.join("rejects.jsonl");
                (report.rejects, report.rejects_more) = super::status_rejects::first(&path);
                report.rejects_file = Some(path.display().to_string());
            }
            if args.json {
                let mut v = serde_json::to_value(&report)?;
                super::status_shards::add_shard(&mut v, &manifest);
                print_out(&format!("{}\n", serde_json::to_string_pretty(&v)?))?;
            } else {
                print_out(&super::status_shards::with_shard_line(
                    report.text(),
                    &manifest,
                ))?;
            }
            Ok(exit::OK)
        }
    }
}

fn list(dir: &std::path::Path, json: bool, prefix: &str) -> anyhow::Result<i32> {
    let runs = journal::list_runs(dir)?;
    if json {
        print_out(&format!("{}\n", serde_json::to_string_pretty(&runs)?))?;
        return Ok(exit::OK);
    }
    if runs.is_empty() {
        print_out(&format!("no runs under {}\n", dir.display()))?;
        return Ok(exit::OK);
    }
    let mut text = String::new();
    let now = std::time::Instant::now();
    for r in &runs {
        let live = journal::run_dir(dir, &r.run_id)
            .ok()
            .and_then(|d| journal::lock_holder(&d));
        // Each run through the same view its own summary read (a damaged one has none).
        let view = match &r.problem {
            Some(_) => None,
            None => journal::read(dir, &r.run_id)
                .ok()
                .map(|(m, replay)| RunView::from_journal(&m, &replay, now)),
        };
        text.push_str(&journal_listing_line(r, view.as_ref(), live));
        text.push('\n');
    }
    text.push_str(&format!("details: {prefix} status RUN_ID\n"));
    print_out(&text)?;
    Ok(exit::OK)
}

/// `view`: the run as its journal tells it (`None` when it cannot be read); `live`: the
/// pid (if known) of the process working on the run now.
fn journal_listing_line(
    r: &journal::RunListing,
    view: Option<&RunView>,
    live: Option<Option<u32>>,
) -> String {
    let state = match (view, &r.problem, live) {
        (_, Some(p), _) => format!("damaged: {p}"),
        (None, None, _) => "damaged: the journal cannot be read".into(),
        // Never "resumable": a resume would find it in use; `attach` watches it.
        (v, _, Some(pid)) => live_words(pid, v),
        (Some(v), None, None) => match (r.last_state, v.outcome()) {
            (Some(_), Some(o)) if !r.is_unfinished() => o.to_string(),
            (Some(RunState::Failed | RunState::Interrupted), Some(o)) => {
                format!("{o} (resumable)")
            }
            // Journaled as running, yet no process holds it: it was killed or crashed.
            _ => "stopped unfinished (resumable)".into(),
        },
    };
    let (done, failed, total) = view.map_or((0, 0, r.segments_total), |v| {
        (v.done(), v.failed(), v.segments.len())
    });
    format!(
        "{:<28} {:<5} {:<25} {:>6}/{:<6} segments done, {} failed  {}",
        r.run_id,
        r.direction.to_string(),
        state,
        done,
        total,
        failed,
        r.created_at
    )
}

/// A live run's state, in the process `pid`: running, or paused as its journal says; when
/// the journal says it ended, the process is still open (a console waiting for `q` or a
/// retry).
fn live_words(pid: Option<u32>, v: Option<&RunView>) -> String {
    let pid = pid.map(|p| format!(", pid {p}")).unwrap_or_default();
    match v.map(|v| (v.state, ended(v))) {
        Some((_, Some(o))) => format!("{o} (live{pid}: still open)"),
        Some((RunState::Paused, None)) => format!("paused (live{pid})"),
        _ => format!("running (live{pid})"),
    }
}

/// How the run ended, when its journal says it has and nothing is left to do.
fn ended(v: &RunView) -> Option<Outcome> {
    v.outcome()
        .filter(|_| v.state.is_terminal() && v.unfinished() == 0)
}

/// Consecutive segments in the same state (and, for failures, with the same error).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Range {
    pub first: usize,
    pub last: usize,
    pub state: SegmentState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Groups segment states into ranges, so 20,000 segments print as a handful of lines.
pub fn group(states: &[(SegmentState, Option<String>)]) -> Vec<Range> {
    let mut out: Vec<Range> = Vec::new();
    for (i, (state, error)) in states.iter().enumerate() {
        match out.last_mut() {
            Some(r) if r.state == *state && r.error == *error && r.last + 1 == i => r.last = i,
            _ => out.push(Range {
                first: i,
                last: i,
                state: *state,
                error: error.clone(),
            }),
        }
    }
    out
}

#[derive(Debug, Serialize)]
struct RunReport {
    run_id: String,
    direction: Direction,
    state: String,
    /// How the run ended (the word the headless summary and the README's exit-code table
    /// use), with its exit code; null while it has not ended (running, or killed).
    outcome: Option<String>,
    exit_code: Option<i32>,
    /// Why a failed run stopped (the error it ended with; secrets were never in it).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    source: Option<String>,
    output: Option<String>,
    base_url: String,
    created_at: String,
    total_records: u64,
    segment_size: usize,
    segments: usize,
    /// Segments per state.
    by_state: BTreeMap<String, usize>,
    counts: Counts,
    ranges: Vec<Range>,
    #[serde(skip_serializing_if = "Option::is_none")]
    journal_warning: Option<String>,
    /// Where the rejected records and their reasons are, when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    rejects_file: Option<String>,
    /// The first rejects (line, supplier id, reason) and how many more the file holds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rejects: Vec<crate::run::Reject>,
    #[serde(skip_serializing_if = "is_zero")]
    rejects_more: u64,
    /// A process works on the run now (it holds the run's lock); `pid` names it.
    live: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<u32>,
    /// The command that carries this run on, if any.
    next: Option<String>,
    /// The ends of the run's long-lived credentials, as far as its manifest knows them.
    credentials: Credentials,
    /// The API mapping the run recorded, one line per part (empty when it does not load).
    api_mapping: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Credentials {
    /// `auth.secret_expires_at` as the run recorded it (RFC 3339), and the whole days left
    /// until then (negative once past).
    client_secret_expires_at: Option<String>,
    client_secret_days_left: Option<i64>,
    /// The notAfter of the recorded `auth.client_cert_file`, read now (absent when the run
    /// used none or the file is gone), and the whole days left until then.
    client_certificate_not_after: Option<String>,
    client_certificate_days_left: Option<i64>,
}

impl Credentials {
    fn of(m: &Manifest) -> Self {
        let at = m.config["auth"]["secret_expires_at"]
            .as_str()
            .and_then(|s| config::parse_expiry(s).ok());
        let at = at.map(chrono::DateTime::<chrono::Utc>::from);
        let cert = m.config["auth"]["client_cert_file"]
            .as_str()
            .and_then(|p| {
                config::key_material::certificate("auth.client_cert_file", p.as_ref()).ok()
            })
            .map(|c| chrono::DateTime::<chrono::Utc>::from(c.not_after));
        let now = chrono::Utc::now();
        let text =
            |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        Credentials {
            client_secret_expires_at: at.map(text),
            client_secret_days_left: at.map(|t| (t - now).num_days()),
            client_certificate_not_after: cert.map(text),
            client_certificate_days_left: cert.map(|t| (t - now).num_days()),
        }
    }
}

/// The mapping as the run recorded it (a preset and its overrides), described.
fn recorded_mapping(m: &Manifest) -> Vec<String> {
    config::recorded::Recorded::from_manifest(&m.run_id, &m.config)
        .and_then(|r| r.config())
        .ok()
        .and_then(|c| crate::mapping::ApiMapping::build(&c.api.mapping, &c.api.batch_path).ok())
        .map(|m| m.describe())
        .unwrap_or_default()
}

impl RunReport {
    fn new(m: &Manifest, replay: &Replay, prefix: &str) -> Self {
        // The same view the run's own screens and summary read, fed from its journal.
        let view = RunView::from_journal(m, replay, std::time::Instant::now());
        let states: Vec<_> = view
            .segments
            .iter()
            .map(|v| (v.state, v.last_error.clone()))
            .collect();
        let by_state = SegmentState::ALL
            .iter()
            .map(|&s| (s.to_string(), view.totals.count(s)))
            .filter(|(_, n)| *n > 0)
            .collect();
        let pending = view.unfinished() > 0;
        let failed = view.failed() > 0;
        let state = match replay.last_run_state {
            Some(s) if s.is_terminal() && !(pending && s != RunState::Failed) => s.to_string(),
            _ if pending => "unfinished (resumable)".into(),
            _ if failed => RunState::CompletedWithFailures.to_string(),
            _ => RunState::Completed.to_string(),
        };
        let outcome = view.outcome();
        // Why it stopped, or (a pull that did not add up) why it completed with failures,
        // while that is still the run's last word (a resume after it records its own end).
        let reason = replay.last_run_reason.clone().filter(|_| {
            matches!(
                replay.last_run_state,
                Some(RunState::Failed | RunState::CompletedWithFailures)
            )
        });
        let next = if pending {
            Some(format!("{prefix} resume {}", m.run_id))
        } else if failed {
            Some(format!("{prefix} retry {}", m.run_id))
        } else {
            None
        };
        RunReport {
            run_id: m.run_id.clone(),
            direction: m.direction,
            state,
            outcome: outcome.map(|o| o.to_string()),
            exit_code: outcome.map(Outcome::exit_code),
            reason,
            source: m.source.as_ref().map(|p| p.display().to_string()),
            output: m.output.as_ref().map(|p| p.display().to_string()),
            base_url: m.base_url.clone(),
            created_at: m.created_at.clone(),
            total_records: m.total_records,
            segment_size: m.segment_size,
            segments: m.segments,
            by_state,
            counts: view.totals.counts,
            ranges: group(&states),
            journal_warning: replay.warning(),
            rejects_file: None,
            rejects: Vec::new(),
            rejects_more: 0,
            live: false,
            pid: None,
            next,
            credentials: Credentials::of(m),
            api_mapping: recorded_mapping(m),
        }
    }

    /// A process holds the run: it is running (or waiting for its operator), whatever the
    /// journal says so far; `attach` watches it, a resume would be refused.
    fn live(&mut self, pid: Option<u32>, view: &RunView, prefix: &str) {
        self.live = true;
        self.pid = pid;
        self.state = live_words(pid, Some(view));
        self.outcome = None;
        self.exit_code = None;
        self.next = Some(format!("{prefix} attach {}", self.run_id));
    }

    fn text(&self) -> String {
        let mut out = String::new();
        let mut line = |s: String| {
            out.push_str(&s);
            out.push('\n');
        };
        line(format!(
            "run {} ({}): {}",
            self.run_id,
            self.direction,
            self.outcome.as_deref().unwrap_or(&self.state)
        ));
        if let Some(r) = &self.reason {
            let label = if self.exit_code == Some(crate::exit::FAILED_SEGMENTS) {
                "warning:"
            } else {
                "stopped: "
            };
            line(format!("{label} {r}"));
        }
        line(format!("created:  {}", self.created_at));
        if let Some(s) = &self.source {
            line(format!("source:   {s}"));
        }
        if let Some(o) = &self.output {
            line(format!("output:   {o}"));
        }
        line(format!("api:      {}", self.base_url));
        if let Some((first, rest)) = self.api_mapping.split_first() {
            line(format!("mapping:  {first}"));
            for l in rest {
                line(format!("          {l}"));
            }
        }
        line(format!(
            "records:  {} in {} segments of {}",
            self.total_records, self.segments, self.segment_size
        ));
        let c = &self.counts;
        line(match self.direction {
            Direction::Push => format!(
                "counts:   {} created, {} updated, {} unchanged, {} applied, {} rejected",
                c.created, c.updated, c.unchanged, c.applied, c.rejected
            ),
            Direction::Pull if c.rejected > 0 => format!(
                "counts:   {} pulled, {} rejected (did not fit the mapping)",
                c.pulled, c.rejected
            ),
            Direction::Pull => format!("counts:   {} pulled", c.pulled),
        });
        let tally: Vec<String> = self
            .by_state
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect();
        line(format!("segments: {}", tally.join(", ")));
        for r in self.ranges.iter().take(MAX_RANGES_SHOWN) {
            let span = if r.first == r.last {
                format!("{}", r.first)
            } else {
                format!("{}-{}", r.first, r.last)
            };
            let err = r
                .error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default();
            line(format!("  {span:>13}  {}{err}", r.state));
        }
        if self.ranges.len() > MAX_RANGES_SHOWN {
            line(format!(
                "  … {} more ranges (--json lists them all)",
                self.ranges.len() - MAX_RANGES_SHOWN
            ));
        }
        if let Some(r) = &self.rejects_file {
            line(format!("rejects:  {} in {r}", c.rejected));
            for rej in &self.rejects {
                line(super::status_rejects::line(rej));
            }
            if self.rejects_more > 0 {
                line(format!("  … {} more in the file", self.rejects_more));
            }
        }
        if let Some(w) = &self.journal_warning {
            line(format!("journal:  {w}"));
        }
        if let (Some(at), Some(left)) = (
            &self.credentials.client_secret_expires_at,
            self.credentials.client_secret_days_left,
        ) {
            line(format!("secret:   expires {at} ({left} days left)"));
        }
        if let (Some(at), Some(left)) = (
            &self.credentials.client_certificate_not_after,
            self.credentials.client_certificate_days_left,
        ) {
            line(format!("cert:     expires {at} ({left} days left)"));
        }
        if let Some(n) = &self.next {
            line(format!("next:     {n}"));
        }
        out
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use SegmentState::*;

    #[test]
    fn groups_runs_of_equal_state_and_error() {
        let boom = Some("HTTP 503".to_string());
        let states = vec![
            (Done, None),
            (Done, None),
            (Failed, boom.clone()),
            (Failed, boom.clone()),
            (Failed, Some("HTTP 413".into())),
            (Pending, None),
            (Done, None),
        ];
        let g = group(&states);
        let spans: Vec<_> = g.iter().map(|r| (r.first, r.last, r.state)).collect();
        assert_eq!(
            spans,
            vec![
                (0, 1, Done),
                (2, 3, Failed),
                (4, 4, Failed),
                (5, 5, Pending),
                (6, 6, Done)
            ]
        );
        assert_eq!(g[1].error, boom);
    }

    #[test]
    fn twenty_thousand_segments_stay_compact() {
        let mut states = vec![(Done, None); 20_000];
        states[7_000] = (Failed, Some("x".into()));
        for s in states.iter_mut().skip(15_000) {
            *s = (Pending, None);
        }
        assert_eq!(group(&states).len(), 4);
        assert!(group(&[]).is_empty());
    }
}
