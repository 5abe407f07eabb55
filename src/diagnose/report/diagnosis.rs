//! What one diagnose found and concluded, whole: what `--json` prints and `text` words.

use serde::Serialize;

use crate::diagnose::evidence::{Evidence, Findings};
use crate::diagnose::verdict::Verdict;

/// Findings, the evidence read from them and the verdict over it: what `--json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    pub findings: Findings,
    pub evidence: Vec<Evidence>,
    pub verdict: Verdict,
}

impl Diagnosis {
    pub fn exit_code(&self) -> i32 {
        self.verdict.exit_code
    }
}
