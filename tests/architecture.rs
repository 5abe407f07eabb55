//! The map in ARCHITECTURE.md, checked: every `crate::room` a file under `src/` names must
//! be a room its own room may depend on. An arrow that runs back up fails here, naming the
//! file, so the map stays true without anyone re-reading it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each room and the rooms it may import from (the floors of ARCHITECTURE.md).
const ALLOWED: &[(&str, &[&str])] = &[
    // Ground floor: vocabulary and plain data, no arrows out.
    // The exit codes are plain numbers; an outcome knows its own.
    ("run", &["exit"]),
    ("record", &[]),
    ("secret", &[]),
    ("exit", &[]),
    ("logging", &["safe_file"]),
    ("cli", &[]),
    ("retry_after", &[]),
    ("signals", &[]),
    // Opening files: regular files only, non-blocking, capped, never through a link.
    ("safe_file", &[]),
    // Server text is data: stripped, redacted and capped before anyone shows it.
    ("server_text", &["secret"]),
    // Inputs and durable state.
    // What an operator's API looks like, as data shared by the client and the simulator.
    ("mapping", &["record"]),
    ("config", &["cli", "mapping", "safe_file", "secret"]),
    ("source", &["record", "run", "safe_file"]),
    ("journal", &["run", "safe_file", "source"]),
    // The server side: independent of the client.
    ("sim", &["mapping", "record", "secret"]),
    // Talking to the servers.
    (
        "auth",
        &[
            "config",
            "logging",
            "retry_after",
            "safe_file",
            "secret",
            "server_text",
        ],
    ),
    (
        "api",
        &[
            "auth",
            "config",
            "mapping",
            "record",
            "retry_after",
            "secret",
            "server_text",
        ],
    ),
    // Doing the work.
    (
        "engine",
        &[
            "api", "auth", "config", "exit", "journal", "record", "run", "secret", "source",
        ],
    ),
    (
        "diagnose",
        &[
            "api",
            "auth",
            "config",
            "exit",
            "mapping",
            "secret",
            "server_text",
        ],
    ),
    // Consumers of a run's events.
    ("summary", &["engine", "run"]),
    ("view", &["auth", "engine", "run"]),
    (
        "headless",
        &[
            "auth", "engine", "observe", "run", "secret", "signals", "summary", "view",
        ],
    ),
    (
        "observe",
        &[
            "auth",
            "config",
            "engine",
            "run",
            "safe_file",
            "secret",
            "summary",
            "view",
        ],
    ),
    (
        "control",
        &[
            "auth", "config", "engine", "journal", "logging", "observe", "run", "secret", "view",
        ],
    ),
    (
        "console",
        &[
            "auth", "config", "engine", "exit", "logging", "run", "signals", "summary", "view",
        ],
    ),
    // Reading a push run's destination back and comparing it with the run's source.
    (
        "verify",
        &[
            "api", "config", "engine", "exit", "mapping", "record", "secret", "source",
        ],
    ),
    // Commands wire rooms together: they may see every room (checked below as "*").
    ("cmd", &["*"]),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Unit-test files (`tests.rs`, `*_tests.rs`, `proptests.rs`) may reach any room: a test
/// of the engine talks to the real simulator, which the engine itself never imports.
fn is_test_code(file: &Path) -> bool {
    let name = file.file_stem().unwrap_or_default().to_string_lossy();
    name == "tests" || name == "proptests" || name.ends_with("_tests")
}

/// The room a file belongs to: `src/engine/ledger.rs` → `engine`, `src/run.rs` → `run`.
fn room_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// Every room named as `crate::room` or inside `crate::{a, b::c}`.
fn rooms_named(text: &str) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // A `use crate::{…}` group: the first path segment of each top-level item.
            let mut depth = 0usize;
            let mut item_start = true;
            for (i, ch) in group.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        rest = &group[i..];
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_ascii_alphabetic() || c == '_') => {
                        let name: String = group[i..]
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                            .collect();
                        named.insert(name);
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                named.insert(name);
            }
        }
    }
    named
}

#[test]
fn no_room_imports_from_a_room_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let allowed: BTreeMap<&str, BTreeSet<&str>> = ALLOWED
        .iter()
        .map(|(room, deps)| (*room, deps.iter().copied().collect()))
        .collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let room = room_of(&src, file);
        if room == "lib" || room == "main" || is_test_code(file) {
            continue;
        }
        let Some(deps) = allowed.get(room.as_str()) else {
            wrong.push(format!(
                "{}: room `{room}` is not on the map (add it to ARCHITECTURE.md and ALLOWED)",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        if deps.contains("*") {
            continue;
        }
        for named in rooms_named(&text) {
            if named != room
                && allowed.contains_key(named.as_str())
                && !deps.contains(named.as_str())
            {
                wrong.push(format!("{}: `{room}` imports `{named}`", file.display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "arrows that ARCHITECTURE.md does not allow:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_engine_never_touches_the_terminal() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src.join("engine"), &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for word in ["ratatui", "crossterm", "crate::console"] {
            assert!(
                !text.contains(word),
                "{} names `{word}`: the engine knows nothing of the terminal",
                file.display()
            );
        }
    }
}

#[test]
fn the_scanner_sees_grouped_and_plain_imports() {
    let text =
        "use crate::{config, exit::CONFIG, journal::{self, Entry}};\nlet x = crate::engine::start;";
    let named: Vec<String> = rooms_named(text).into_iter().collect();
    assert_eq!(named, ["config", "engine", "exit", "journal"]);
}
