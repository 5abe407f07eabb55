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
    ("view", &["auth", "engine", "journal", "run"]),
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

/// Diagnose's sub-rooms, by stage, and the sub-rooms each may import from: the verdict's
/// types at the bottom, the probes (the only network) beside the judges, the words on top.
/// `src/diagnose/mod.rs` wires them together and is not checked.
const DIAGNOSE_ALLOWED: &[(&str, &[&str])] = &[
    ("verdict", &[]),
    ("evidence", &["verdict"]),
    ("judge", &["evidence", "verdict"]),
    ("probe", &["evidence", "verdict"]),
    ("report", &["evidence", "verdict", "judge"]),
];

/// The text a file holds before its unit tests (whose `super::` means the file itself).
fn before_tests(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |at| &text[..at])
}

/// The diagnose sub-rooms a file names, however it spells the path.
fn diagnose_rooms_named(file: &Path, text: &str) -> BTreeSet<String> {
    let text = before_tests(text);
    let only_prefix = |prefix: &str| -> BTreeSet<String> {
        // Keep `prefix` paths only: hide real `crate::` paths first.
        let hidden = text.replace("crate::", "krate::");
        let hidden = hidden.replace(&prefix.replace("crate::", "krate::"), "crate::");
        rooms_named(&hidden)
    };
    let mut named = only_prefix("crate::diagnose::");
    let is_mod = file.file_name().is_some_and(|n| n == "mod.rs");
    named.extend(only_prefix(if is_mod {
        "super::"
    } else {
        "super::super::"
    }));
    named
}

#[test]
fn diagnose_sub_rooms_import_only_downwards() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/diagnose");
    let allowed: BTreeMap<&str, BTreeSet<&str>> = DIAGNOSE_ALLOWED
        .iter()
        .map(|(room, deps)| (*room, deps.iter().copied().collect()))
        .collect();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&root).unwrap();
        if rel.components().count() < 2 || is_test_code(file) {
            continue; // diagnose's own mod.rs wires the sub-rooms together
        }
        let room = room_of(&root, file);
        let Some(deps) = allowed.get(room.as_str()) else {
            wrong.push(format!(
                "{}: diagnose sub-room `{room}` is not on the map (add it to \
                 ARCHITECTURE.md and DIAGNOSE_ALLOWED)",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for named in diagnose_rooms_named(file, &text) {
            if named == room {
                continue;
            }
            if !allowed.contains_key(named.as_str()) {
                wrong.push(format!(
                    "{}: `diagnose::{room}` reaches `diagnose::{named}`, which is no \
                     sub-room (the sub-rooms never import diagnose's top)",
                    file.display()
                ));
            } else if !deps.contains(named.as_str()) {
                wrong.push(format!(
                    "{}: `diagnose::{room}` imports `diagnose::{named}`",
                    file.display()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "arrows between diagnose's sub-rooms that ARCHITECTURE.md does not allow:\n{}",
        wrong.join("\n")
    );
}

/// The text with every path that starts at the folder's module turned into `crate::…`, so
/// `rooms_named` reads the folder's members: `crate::<module>::x`, and `super::x` with as
/// many `super`s as the file sits below the folder (`ups`); other paths are hidden.
fn folder_paths(module: &str, ups: usize, text: &str) -> String {
    let hidden = text.replace("crate::", "krate::");
    let mut out = hidden.replace(&format!("krate::{module}::"), "crate::");
    if ups == 0 {
        return out;
    }
    let mut marked = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(at) = rest.find("super::") {
        let (before, from) = rest.split_at(at);
        marked.push_str(before);
        let mut k = 0;
        let mut tail = from;
        while let Some(t) = tail.strip_prefix("super::") {
            k += 1;
            tail = t;
        }
        marked.push_str(if k == ups { "crate::" } else { "up::" });
        rest = tail;
    }
    marked.push_str(rest);
    out = marked;
    out
}

/// A `mod.rs`'s re-exports, `pub use x::{A, b::C};`: each name it re-exports, with the
/// member `x` that holds it. A re-export is the folder's face, not an import of `mod.rs`.
fn re_exports(text: &str, members: &BTreeSet<String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for statement in text.split(';') {
        let s = statement.trim_start();
        let Some(after_pub) = s.strip_prefix("pub") else {
            continue;
        };
        let after_vis = match after_pub.strip_prefix('(') {
            Some(r) => r.split_once(')').map_or(r, |(_, a)| a),
            None => after_pub,
        };
        let Some(path) = after_vis.trim_start().strip_prefix("use ") else {
            continue;
        };
        let path = path.trim_start();
        let path = path.strip_prefix("self::").unwrap_or(path);
        let Some((member, items)) = path.split_once("::") else {
            continue;
        };
        if !members.contains(member) {
            continue;
        }
        for word in items.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if !word.is_empty() && !["self", "as", "super", "crate"].contains(&word) {
                out.insert(word.to_string(), member.to_string());
            }
        }
    }
    out
}

/// The text of a `mod.rs` less its `mod x;` lines and its re-exports: what is left are
/// the uses of its members.
fn mod_body(text: &str) -> String {
    let mut keep = String::new();
    for statement in text.split_inclusive(';') {
        let s = statement
            .lines()
            .filter(|l| !l.trim_start().starts_with("//") && !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        let s = s.trim_start();
        let s = s
            .strip_prefix("pub")
            .map_or(s, |r| match r.strip_prefix('(') {
                Some(r) => r.split_once(')').map_or(r, |(_, a)| a).trim_start(),
                None => r.trim_start(),
            });
        if s.starts_with("mod ")
            || (s.starts_with("use ") && statement.trim_start().starts_with("pub"))
        {
            continue;
        }
        keep.push_str(statement);
    }
    keep
}

/// The arrows between the members of one folder: its files by stem (`mod` for `mod.rs`)
/// and its sub-folders, each as one member. `files` are paths relative to the folder, with
/// their text; `module` is the folder's path in the crate (`auth`, `diagnose::verdict`).
fn folder_arrows(module: &str, files: &[(PathBuf, String)]) -> BTreeMap<String, BTreeSet<String>> {
    let member_of = |rel: &Path| -> String {
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        first.trim_end_matches(".rs").to_string()
    };
    let members: BTreeSet<String> = files.iter().map(|(rel, _)| member_of(rel)).collect();
    let reexported = files
        .iter()
        .find(|(rel, _)| rel == Path::new("mod.rs"))
        .map(|(_, text)| re_exports(before_tests(text), &members))
        .unwrap_or_default();
    let mut arrows: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, text) in files {
        let from = member_of(rel);
        let is_mod = rel.file_name().is_some_and(|n| n == "mod.rs");
        let ups = rel.components().count() - usize::from(is_mod);
        let text = without_comments(before_tests(text));
        let text = if rel == Path::new("mod.rs") {
            mod_body(&text)
        } else {
            text.to_string()
        };
        let mut named = rooms_named(&folder_paths(module, ups, &text));
        if ups == 0 {
            // The folder's own `mod.rs` names its members without a prefix: `x::f()`.
            for m in members.iter().filter(|m| *m != "mod") {
                let needle = format!("{m}::");
                let bare = text.match_indices(&needle).any(|(at, _)| {
                    !text[..at]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c == ':' || c == '_' || c.is_ascii_alphanumeric())
                });
                if bare {
                    named.insert(m.clone());
                }
            }
        }
        let to = arrows.entry(from.clone()).or_default();
        for name in named {
            let target = if members.contains(&name) {
                name
            } else if let Some(holder) = reexported.get(&name) {
                holder.clone()
            } else if members.contains("mod") {
                "mod".to_string()
            } else {
                continue;
            };
            if target != from {
                to.insert(target);
            }
        }
    }
    arrows
}

/// The text less its `//` comments (doc links name paths that are no imports).
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(at) if !l[..at].ends_with(':') => &l[..at],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every circle of arrows, each as `a -> b -> a`.
fn circles_in(arrows: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut circles = Vec::new();
    for start in arrows.keys() {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
        while let Some((at, path)) = todo.pop() {
            for next in arrows.get(&at).into_iter().flatten() {
                if next == start {
                    circles.push(format!("{} -> {start}", path.join(" -> ")));
                } else if seen.insert(next.clone()) {
                    let mut p = path.clone();
                    p.push(next.clone());
                    todo.push((next.clone(), p));
                }
            }
        }
    }
    circles
}

fn folders(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.push(path.clone());
            folders(&path, out);
        }
    }
}

/// Folders (under `src/`) whose files still import each other round a circle: debt to pay
/// down by moving the shared piece into a file below both. The list only shrinks: a folder
/// on it that has no circle left fails too, so its entry goes.
const CIRCLES_TO_UNTANGLE: &[&str] = &["sim"];

#[test]
fn no_import_circle_inside_any_room() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut dirs = Vec::new();
    folders(&src, &mut dirs);
    let mut circles = Vec::new();
    for dir in dirs {
        let rel = dir.strip_prefix(&src).unwrap();
        let module = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().to_string())
            .collect::<Vec<_>>()
            .join("::");
        let mut paths = Vec::new();
        rust_files(&dir, &mut paths);
        let files: Vec<(PathBuf, String)> = paths
            .iter()
            .filter(|f| !is_test_code(f))
            .map(|f| {
                let text = std::fs::read_to_string(f).unwrap();
                (f.strip_prefix(&dir).unwrap().to_path_buf(), text)
            })
            .collect();
        let found = circles_in(&folder_arrows(&module, &files));
        let known = CIRCLES_TO_UNTANGLE.contains(&rel.to_string_lossy().as_ref());
        if known && found.is_empty() {
            circles.push(format!(
                "src/{}/ has no import circle left: take it off CIRCLES_TO_UNTANGLE",
                rel.display()
            ));
        }
        if !known {
            for circle in found {
                circles.push(format!("src/{}/: {circle}", rel.display()));
            }
        }
    }
    assert!(
        circles.is_empty(),
        "import circles between the files of a room (members named by stem; move the \
         shared piece down into a file both import):\n{}",
        circles.join("\n")
    );
}

#[test]
fn the_circle_scanner_sees_a_circle_through_mod_and_sub_folders() {
    let files = |list: &[(&str, &str)]| -> Vec<(PathBuf, String)> {
        list.iter()
            .map(|(p, t)| (PathBuf::from(p), t.to_string()))
            .collect()
    };
    // a -> b through `super::`, b -> a through an item `mod.rs` re-exports from `a`.
    let round = files(&[
        ("mod.rs", "mod a;\nmod b;\npub use a::Thing;\n"),
        ("a.rs", "use super::b::helper;\n"),
        ("b.rs", "use super::Thing;\n"),
    ]);
    assert_eq!(circles_in(&folder_arrows("room", &round)).len(), 2);
    // A sub-folder's file reaches the folder with two `super`s; the folder's `mod.rs`
    // calls into it by its bare name.
    let deep = files(&[
        ("mod.rs", "mod c;\nmod sub;\npub fn go() { sub::run() }\n"),
        ("sub/mod.rs", "mod inner;\n"),
        (
            "sub/inner.rs",
            "use super::super::c::X;\nuse crate::room::go;\n",
        ),
        (
            "c.rs",
            "pub struct X;\n#[cfg(test)]\nuse super::sub::inner;\n",
        ),
    ]);
    let arrows = folder_arrows("room", &deep);
    assert_eq!(
        arrows["sub"],
        BTreeSet::from(["c".to_string(), "mod".to_string()])
    );
    assert_eq!(
        circles_in(&arrows),
        ["mod -> sub -> mod", "sub -> mod -> sub"]
    );
    // Declaring children and re-exporting them is no arrow: no circle here.
    let fine = files(&[
        ("mod.rs", "mod a;\nmod b;\npub(crate) use b::{Y, Z};\n"),
        ("a.rs", "use super::Y;\n"),
        ("b.rs", "pub struct Y;\npub struct Z;\n"),
    ]);
    assert!(circles_in(&folder_arrows("room", &fine)).is_empty());
}

/// Names of the project's concepts: each is defined once under `src/`, so a reader who meets
/// one knows what it means. A second meaning gets its own precise name instead (a worker's
/// `SegmentResult`, the simulator's `WriteEffect`, a source row's `RowCheck`, …).
const ONE_MEANING: &[&str] = &[
    "Access",
    "Answer",
    "Carry",
    "Claims",
    "Clock",
    "Counts",
    "Death",
    "Ended",
    "Entry",
    "Hold",
    "InFlight",
    "KeyCheck",
    "LoginError",
    "Outage",
    "Outcome",
    "Plan",
    "Recorded",
    "Redactor",
    "Refused",
    "Renewal",
    "Replay",
    "Session",
    "Signal",
    "Verdict",
    "Window",
];

/// The type names a file defines (`struct`, `enum`, `trait`, `type`, any visibility), with
/// their line numbers, before its unit tests.
fn types_defined(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in before_tests(text).lines().enumerate() {
        let mut rest = line.trim_start();
        if let Some(r) = rest.strip_prefix("pub") {
            rest = match r.strip_prefix('(') {
                Some(r) => r.split_once(')').map_or(r, |(_, after)| after),
                None => r,
            }
            .trim_start();
        }
        for kw in ["struct ", "enum ", "trait ", "type "] {
            if let Some(r) = rest.strip_prefix(kw) {
                let name: String = r
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if name.starts_with(|c: char| c.is_ascii_uppercase()) {
                    out.push((n + 1, name));
                }
            }
        }
    }
    out
}

#[test]
fn the_type_scanner_sees_every_visibility() {
    let text = "pub(crate) enum Outcome {\n    struct Claims<'a> {\npub(in crate::sim) struct \
                Hold;\ntype Carry = u8;\nlet struct_ = 1;\n#[cfg(test)]\nstruct Verdict;";
    let names: Vec<String> = types_defined(text).into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["Outcome", "Claims", "Hold", "Carry"]);
}

#[test]
fn each_concept_name_has_one_meaning() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut places: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in files.iter().filter(|f| !is_test_code(f)) {
        let text = std::fs::read_to_string(file).unwrap();
        for (line, name) in types_defined(&text) {
            if ONE_MEANING.contains(&name.as_str()) {
                let at = format!("{}:{line}", file.strip_prefix(&src).unwrap().display());
                places.entry(name).or_default().push(at);
            }
        }
    }
    let twice: Vec<String> = places
        .iter()
        .filter(|(_, at)| at.len() > 1)
        .map(|(name, at)| format!("`{name}` in {}", at.join(", ")))
        .collect();
    assert!(
        twice.is_empty(),
        "concept names defined more than once (give each other meaning its own name):\n{}",
        twice.join("\n")
    );
}
