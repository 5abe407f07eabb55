//! Where each effective value came from, so `supsync config` can say it and every error
//! can point at the line, variable or flag to fix.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// The layer that set a value. Later layers win: default < recorded < file < env < flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    /// The configuration a run recorded in its manifest (`resume`, `retry`).
    Recorded {
        run_id: String,
    },
    File {
        path: PathBuf,
        line: usize,
    },
    Env {
        var: String,
    },
    Flag {
        arg: String,
    },
}

impl Origin {
    /// Prefix for an error about a value from this origin, e.g. `bad.toml:3: `.
    pub fn error_prefix(&self) -> String {
        match self {
            Origin::Default => String::new(),
            Origin::Recorded { run_id } => format!("run {run_id}'s recorded configuration: "),
            Origin::File { path, line } => format!("{}:{line}: ", path.display()),
            Origin::Env { var } => format!("environment variable {var}: "),
            Origin::Flag { arg } => format!("--set {arg}: "),
        }
    }
}

impl fmt::Display for Origin {
    /// `default`, `recorded by run ID`, `file path:line`, `env VAR`, `flag --set`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => write!(f, "default"),
            Origin::Recorded { run_id } => write!(f, "recorded by run {run_id}"),
            Origin::File { path, line } => write!(f, "file {}:{line}", path.display()),
            Origin::Env { var } => write!(f, "env {var}"),
            Origin::Flag { .. } => write!(f, "flag --set"),
        }
    }
}

/// Origins by dotted key (`sync.concurrency`); a key not recorded is a default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    origins: BTreeMap<String, Origin>,
}

static DEFAULT: Origin = Origin::Default;

impl Provenance {
    pub fn set(&mut self, dotted: impl Into<String>, origin: Origin) {
        self.origins.insert(dotted.into(), origin);
    }

    pub fn get(&self, dotted: &str) -> &Origin {
        self.origins.get(dotted).unwrap_or(&DEFAULT)
    }

    /// The error prefix for a key, with the key named when the origin does not name it.
    pub fn locate(&self, dotted: &str) -> String {
        match self.get(dotted) {
            Origin::Default => format!("{dotted} (default): "),
            o @ Origin::Flag { .. } => o.error_prefix(),
            o => format!("{}{dotted}: ", o.error_prefix()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_prefixes() {
        let file = Origin::File {
            path: "bad.toml".into(),
            line: 3,
        };
        assert_eq!(file.to_string(), "file bad.toml:3");
        assert_eq!(file.error_prefix(), "bad.toml:3: ");
        let env = Origin::Env {
            var: "SUPSYNC_SYNC_CONCURRENCY".into(),
        };
        assert_eq!(env.to_string(), "env SUPSYNC_SYNC_CONCURRENCY");
        let flag = Origin::Flag {
            arg: "ui.tick_ms=5".into(),
        };
        assert_eq!(flag.to_string(), "flag --set");

        let mut p = Provenance::default();
        p.set("sync.concurrency", file);
        assert_eq!(
            p.locate("sync.concurrency"),
            "bad.toml:3: sync.concurrency: "
        );
        assert_eq!(p.locate("ui.tick_ms"), "ui.tick_ms (default): ");
        assert_eq!(p.get("ui.tick_ms"), &Origin::Default);
        p.set("ui.tick_ms", flag);
        assert_eq!(p.locate("ui.tick_ms"), "--set ui.tick_ms=5: ");
    }
}
