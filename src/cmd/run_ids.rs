//! Run ids as operators type them: any unique prefix of a run's id names it (ids are 20
//! characters), wherever a run id is taken (`status`, `resume`, `retry`, `attach`).

use std::path::Path;

/// The full id of the run `given` names under `state_dir`: itself when a run has exactly
/// that id, else the one run whose id starts with it. No match returns `given` unchanged
/// (the command then says there is no such run, in its own words); several is an error
/// that lists them.
pub(crate) fn resolve(state_dir: &Path, given: &str) -> anyhow::Result<String> {
    let runs = state_dir.join("runs");
    if given.is_empty() || runs.join(given).is_dir() {
        return Ok(given.to_string());
    }
    let mut matches: Vec<String> = match std::fs::read_dir(&runs) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().to_str().map(String::from))
            .filter(|id| id.starts_with(given))
            .collect(),
        Err(_) => Vec::new(),
    };
    matches.sort();
    match matches.len() {
        0 => Ok(given.to_string()),
        1 => Ok(matches.remove(0)),
        n => anyhow::bail!(
            "run id prefix {given:?} is ambiguous: {n} runs start with it ({}); type more of the id",
            matches.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unique_prefix_names_its_run_and_an_ambiguous_one_lists_the_candidates() {
        let dir = tempfile::tempdir().unwrap();
        for id in [
            "20261207-1900-aaaa",
            "20261207-1900-abcd",
            "20261208-0800-zzzz",
        ] {
            std::fs::create_dir_all(dir.path().join("runs").join(id)).unwrap();
        }
        let r = |g: &str| resolve(dir.path(), g);
        assert_eq!(r("20261208").unwrap(), "20261208-0800-zzzz");
        assert_eq!(r("20261207-1900-ab").unwrap(), "20261207-1900-abcd");
        assert_eq!(r("20261207-1900-aaaa").unwrap(), "20261207-1900-aaaa");
        assert_eq!(
            r("nope").unwrap(),
            "nope",
            "the command reports no such run"
        );
        let e = r("20261207").unwrap_err().to_string();
        assert!(
            e.contains("ambiguous")
                && e.contains("20261207-1900-aaaa")
                && e.contains("20261207-1900-abcd"),
            "{e}"
        );
    }
}
