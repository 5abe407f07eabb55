//! Proof benchmarks (the README's figures): supsync's promises measured against the in-process
//! simulator over loopback and through the real (release) binary. Each figure prints one
//! `FIGURE name: …` line.
//!
//! ```sh
//! cargo bench --bench proof                 # every figure (about 4 minutes)
//! cargo bench --bench proof -- efficiency   # one: efficiency long styles overhead render
//!                                           #      idle memory resume credential
//! cargo bench --bench proof -- window       # the ~7-minute refresh-window soak
//! ```
//! The soak runs only when named.
//! Not part of `cargo test` (a `harness = false` bench target).

mod console;
mod credential;
mod efficiency;
mod long_calls;
mod memory;
mod overhead;
mod resume;
mod soak;
mod support;

type Bench = fn();

const BENCHES: [(&str, Bench); 10] = [
    ("efficiency", efficiency::run),
    ("long", long_calls::run),
    ("styles", efficiency::styles),
    ("overhead", overhead::run),
    ("render", console::render),
    ("idle", console::idle),
    ("memory", memory::run),
    ("resume", resume::run),
    ("credential", credential::run),
    ("window", soak::window),
];

/// Too long for "every figure": run only when named.
const SOAKS: [&str; 1] = ["window"];

fn main() {
    // `cargo bench` passes `--bench`; names select figures, none means all.
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    for name in &wanted {
        if !BENCHES.iter().any(|(n, _)| n == name) {
            let names: Vec<&str> = BENCHES.iter().map(|(n, _)| *n).collect();
            eprintln!("unknown figure `{name}`; choose from {}", names.join(", "));
            std::process::exit(2);
        }
    }
    support::machine();
    for (name, bench) in BENCHES {
        let named = wanted.iter().any(|w| w == name);
        if named || (wanted.is_empty() && !SOAKS.contains(&name)) {
            eprintln!("--- {name}");
            bench();
        }
    }
}
