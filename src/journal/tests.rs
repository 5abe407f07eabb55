use super::*;

pub(crate) fn manifest(run_id: &str, created_at: &str) -> Manifest {
    Manifest {
        version: MANIFEST_VERSION,
        run_id: run_id.into(),
        direction: Direction::Push,
        source: Some("suppliers.csv".into()),
        source_hash: Some("ab".repeat(32)),
        output: None,
        base_url: "http://127.0.0.1:9".into(),
        segment_size: 50,
        total_records: 200,
        segments: 4,
        created_at: created_at.into(),
        config: serde_json::json!({"auth": {"client_id": "supplier-sync", "client_secret": "change-me"}}),
        shard: None,
        shard_group: None,
    }
}

fn done(index: usize, created: u64) -> Entry {
    let counts = Counts {
        created,
        ..Counts::default()
    };
    Entry::segment(index, SegmentState::Done, 1, counts, None)
}

#[test]
fn create_append_open_replays_latest_entry_per_segment() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest("r1", "2026-11-25T22:00:00Z");
    {
        let mut j = Journal::create(dir.path(), &m).unwrap();
        j.append(&Entry::run(RunState::Running)).unwrap();
        let failed = Entry::segment(
            0,
            SegmentState::Failed,
            5,
            Counts::default(),
            Some("503".into()),
        );
        j.append(&failed).unwrap();
        j.append(&done(1, 50)).unwrap();
        j.append(&done(0, 50)).unwrap();
        j.append(&Entry::run(RunState::Interrupted)).unwrap();
        assert!(matches!(
            Journal::create(dir.path(), &m),
            Err(JournalError::RunExists { .. })
        ));
    }
    let (_j, read_back, replay) = Journal::open(dir.path(), "r1").unwrap();
    assert_eq!(read_back.run_id, "r1");
    assert_eq!(read_back.config["auth"]["client_secret"], "[redacted]");
    assert_eq!(replay.entries, 5);
    assert_eq!(replay.segments.len(), 2);
    assert_eq!(replay.segments[&0].state, SegmentState::Done);
    assert_eq!(replay.counts().created, 100);
    assert_eq!(replay.last_run_state, Some(RunState::Interrupted));
    assert_eq!(replay.torn_tail, None);
    let text = std::fs::read_to_string(dir.path().join("runs/r1/journal.jsonl")).unwrap();
    assert!(
        text.starts_with(r#"{"kind":"run","state":"running","at":""#),
        "{text}"
    );
    assert!(!text.contains("change-me"));
}

/// A journal line as supsync writes it (sealed, with its `\n`).
fn sealed(e: &Entry) -> String {
    String::from_utf8(integrity::encode_line(e).unwrap()).unwrap() + "\n"
}

#[test]
fn a_damaged_line_in_the_middle_is_reported_by_number_and_never_trusted() {
    let dir = tempfile::tempdir().unwrap();
    drop(Journal::create(dir.path(), &manifest("r2", "2026-11-25T22:00:00Z")).unwrap());
    let path = dir.path().join("runs/r2/journal.jsonl");
    // Segment 1 done; its line then has `"index":1` flipped to 9 (one bit: '1'^'9'
    // differ in bit 3). Segment 2's line is garbage; segment 3 is fine.
    let flipped = sealed(&done(1, 50)).replace(r#""index":1"#, r#""index":9"#);
    let failed_then_done = [
        sealed(&Entry::segment(
            2,
            SegmentState::Failed,
            3,
            Counts::default(),
            Some("503".into()),
        )),
        sealed(&done(2, 50)).replace("\"created\":50", "\"created\":58"),
    ];
    let text = [
        sealed(&Entry::run(RunState::Running)),
        flipped,
        failed_then_done[0].clone(),
        failed_then_done[1].clone(),
        "{garbage\n".into(),
        sealed(&done(3, 50)),
        sealed(&Entry::run(RunState::Interrupted)),
    ]
    .concat();
    std::fs::write(&path, &text).unwrap();
    let (_, r) = read(dir.path(), "r2").unwrap();
    let lines: Vec<_> = r.damaged.iter().map(|d| (d.line, d.segment)).collect();
    // Index 9 is beyond the run's 4 segments: nothing to redo by name, and segment 1
    // has no trusted outcome anyway. Segment 2's earlier failure is not trusted
    // either: the damaged line may have been newer.
    assert_eq!(lines, [(2, None), (4, Some(2)), (5, None)]);
    assert_eq!(r.segments.keys().copied().collect::<Vec<_>>(), [3]);
    assert_eq!(r.counts().created, 50, "only verified outcomes count");
    assert_eq!(r.entries, 4);
    assert_eq!(r.last_run_state, Some(RunState::Interrupted));
    let w = r.warning().unwrap();
    assert!(w.contains(&path.display().to_string()), "{w}");
    assert!(
        w.contains("line 2 (checksum mismatch)") && w.contains("line 5"),
        "{w}"
    );
    assert!(
        w.contains("line 4 (checksum mismatch; it reads as segment 2)"),
        "{w}"
    );
    // The writer opens it too, and a later verified outcome supersedes the damage.
    let (mut j, _, r2) = Journal::open(dir.path(), "r2").unwrap();
    assert_eq!(r2.damaged, r.damaged);
    j.append(&done(1, 50)).unwrap();
    j.append(&done(2, 50)).unwrap();
    drop(j);
    let (_, r) = read(dir.path(), "r2").unwrap();
    assert_eq!(r.counts().created, 150);
    assert_eq!(r.damaged.len(), 3, "the damage stays on record");
}

#[test]
fn a_verified_entry_beyond_the_run_is_an_error_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    drop(Journal::create(dir.path(), &manifest("r5", "2026-11-25T22:00:00Z")).unwrap());
    let path = dir.path().join("runs/r5/journal.jsonl");
    std::fs::write(&path, sealed(&done(0, 1)) + &sealed(&done(7, 1))).unwrap();
    let err = read(dir.path(), "r5").unwrap_err().to_string();
    assert!(
        err.contains("at line 2") && err.contains("segment 7"),
        "{err}"
    );
    assert!(Journal::open(dir.path(), "r5").is_err());
}

#[test]
fn many_damaged_lines_make_one_short_warning() {
    let dir = tempfile::tempdir().unwrap();
    drop(Journal::create(dir.path(), &manifest("r6", "2026-11-25T22:00:00Z")).unwrap());
    let path = dir.path().join("runs/r6/journal.jsonl");
    let body = "not a line\n".repeat(1000) + &sealed(&Entry::run(RunState::Interrupted));
    std::fs::write(&path, body).unwrap();
    let (_, r) = read(dir.path(), "r6").unwrap();
    assert_eq!(r.damaged.len(), 1000);
    let w = r.warning().unwrap();
    assert!(w.contains("and 995 more line(s)") && w.len() < 600, "{w}");
}

#[test]
fn a_legacy_run_without_checksums_still_resumes_and_is_called_unverified() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs/old");
    std::fs::create_dir_all(&runs).unwrap();
    let mut m = manifest("old", "2026-11-25T22:00:00Z");
    m.version = 1;
    std::fs::write(
        runs.join(MANIFEST_FILE),
        serde_json::to_vec_pretty(&m).unwrap(),
    )
    .unwrap();
    let plain = |e: &Entry| serde_json::to_string(e).unwrap() + "\n";
    std::fs::write(
        runs.join(JOURNAL_FILE),
        plain(&done(0, 50)) + &plain(&done(1, 50)),
    )
    .unwrap();
    {
        let (mut j, read_back, r) = Journal::open(dir.path(), "old").unwrap();
        assert_eq!((read_back.version, r.legacy_lines), (1, 2));
        assert_eq!(r.counts().created, 100);
        assert!(
            r.warning()
                .unwrap()
                .contains("2 line(s) were written by an older")
        );
        j.append(&done(2, 50)).unwrap();
    }
    // Once a sealed line is there, an unsealed one after it is damage.
    let path = runs.join(JOURNAL_FILE);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&plain(&done(3, 50)));
    text.push_str(&sealed(&Entry::run(RunState::Interrupted)));
    std::fs::write(&path, text).unwrap();
    let (_, r) = read(dir.path(), "old").unwrap();
    assert_eq!((r.legacy_lines, r.counts().created), (2, 150));
    assert_eq!(r.damaged[0].line, 4);
    assert_eq!(r.damaged[0].reason, "it carries no checksum");
}

#[test]
fn a_damaged_manifest_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    drop(Journal::create(dir.path(), &manifest("m1", "2026-11-25T22:00:00Z")).unwrap());
    let path = dir.path().join("runs/m1").join(MANIFEST_FILE);
    let good = std::fs::read_to_string(&path).unwrap();
    assert!(
        good.contains("\"version\": 2") && good.contains("\"crc\": \""),
        "{good}"
    );
    let cases = [
        good.replace("\"segments\": 4", "\"segments\": 5"),
        good.replace("\"version\": 2", "\"version\": 3"),
        good.replace("\"crc\"", "\"crs\""),
    ];
    for bad in cases {
        std::fs::write(&path, &bad).unwrap();
        let err = read(dir.path(), "m1").unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(
            err.contains("integrity check") || err.contains("carries no checksum"),
            "{err}"
        );
        assert!(Journal::open(dir.path(), "m1").is_err());
    }
    // Every single-bit flip of the file is refused, never read as something else.
    let bytes = good.into_bytes();
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut bad = bytes.clone();
            bad[i] ^= 1 << bit;
            std::fs::write(&path, &bad).unwrap();
            assert!(
                read(dir.path(), "m1").is_err(),
                "flip at byte {i}: {}",
                String::from_utf8_lossy(&bad)
            );
        }
    }
}

#[cfg(unix)]
#[test]
fn run_files_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::create(dir.path(), &manifest("p1", "2026-11-25T22:00:00Z")).unwrap();
    j.append(&done(0, 1)).unwrap();
    drop(j);
    let run = dir.path().join("runs/p1");
    let mode = |f: &str| std::fs::metadata(run.join(f)).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode(JOURNAL_FILE), mode(MANIFEST_FILE)), (0o600, 0o600));
    // An older, world-readable journal is tightened when the run is opened.
    std::fs::set_permissions(
        run.join(JOURNAL_FILE),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::write(
        run.join(JOURNAL_FILE),
        std::fs::read_to_string(run.join(JOURNAL_FILE)).unwrap() + "{torn",
    )
    .unwrap();
    drop(Journal::open(dir.path(), "p1").unwrap());
    assert_eq!((mode(JOURNAL_FILE), mode(TORN_FILE)), (0o600, 0o600));
}

#[test]
fn listing_is_newest_first_and_finds_the_latest_unfinished_run() {
    let dir = tempfile::tempdir().unwrap();
    assert!(list_runs(dir.path()).unwrap().is_empty());
    assert_eq!(latest_unfinished(dir.path()).unwrap(), None);
    let mut a = Journal::create(dir.path(), &manifest("a", "2026-11-25T20:00:00Z")).unwrap();
    a.append(&done(0, 3)).unwrap();
    a.append(&Entry::run(RunState::Interrupted)).unwrap();
    let mut b = Journal::create(dir.path(), &manifest("b", "2026-11-25T21:00:00Z")).unwrap();
    b.append(&Entry::run(RunState::Completed)).unwrap();
    std::fs::create_dir_all(dir.path().join("runs/not-a-run")).unwrap();
    let runs = list_runs(dir.path()).unwrap();
    let ids: Vec<_> = runs.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(ids, ["b", "a"]);
    assert_eq!((runs[1].segments_done, runs[1].counts.created), (1, 3));
    assert_eq!(latest_unfinished(dir.path()).unwrap().as_deref(), Some("a"));
    assert!(matches!(
        read(dir.path(), "zzz"),
        Err(JournalError::NoSuchRun { .. })
    ));
    assert!(matches!(
        read(dir.path(), "../etc"),
        Err(JournalError::InvalidRunId { .. })
    ));
}

#[test]
fn chain_points_of_finished_segments_come_back_and_older_lines_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest("r9", "2026-11-25T22:00:00Z");
    let with_point = |index: usize, state: SegmentState, offset: u64| {
        let mut e = Entry::segment(index, state, 1, Counts::default(), None);
        if let Entry::Segment { continuation, .. } = &mut e {
            *continuation = Some(Continuation {
                offset,
                next: format!("http://h/s?after={offset}"),
            });
        }
        e
    };
    {
        let mut j = Journal::create(dir.path(), &m).unwrap();
        j.append(&with_point(0, SegmentState::Done, 50)).unwrap();
        // A line as written before chain points existed.
        j.append(&done(1, 50)).unwrap();
        // Only a finished segment's point is trusted.
        j.append(&with_point(2, SegmentState::Running, 150))
            .unwrap();
    }
    let text = std::fs::read_to_string(dir.path().join("runs/r9/journal.jsonl")).unwrap();
    assert!(
        !text.lines().nth(1).unwrap().contains("continuation"),
        "{text}"
    );
    let (_j, _m, replay) = Journal::open(dir.path(), "r9").unwrap();
    assert_eq!(replay.damaged, vec![]);
    let points: Vec<_> = replay.continuations().cloned().collect();
    assert_eq!(
        points,
        vec![Continuation {
            offset: 50,
            next: "http://h/s?after=50".into()
        }]
    );
}
