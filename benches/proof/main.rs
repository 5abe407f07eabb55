//! Proof benchmarks (the README's figures): supsync's promises measured against the in-process
//! simulator over loopback and through the real (release) binary. Each figure prints one
//! `FIGURE name: …` line.
//!
//! ```sh
//! cargo bench --bench proof                 # every figure (about 4 minutes)
//! cargo bench --bench proof -- efficiency   # one: efficiency overhead console render
//!                                           #      idle memory resume credential
//! ```
//! Not part of `cargo test` (a `harness = false` bench target).

mod console;
mod credential;
mod efficiency;
mod memory;
mod overhead;
mod resume;
mod support;

type Bench = fn();

const BENCHES: [(&str, Bench); 8] = [
    ("efficiency", efficiency::run),
    ("styles", efficiency::styles),
    ("overhead", overhead::run),
    ("render", console::render),
    ("idle", console::idle),
    ("memory", memory::run),
    ("resume", resume::run),
    ("credential", credential::run),
];

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
        if wanted.is_empty() || wanted.iter().any(|w| w == name) {
            eprintln!("--- {name}");
            bench();
        }
    }
}
