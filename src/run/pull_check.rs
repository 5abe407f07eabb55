//! What a pull segment got from the server besides its count, journaled with it: enough to
//! tell, once every segment is done, whether the pull adds up (the server's pages gave
//! every record it stated, each once, under a total that held still) and to say how it
//! does not when it does not.

use serde::{Deserialize, Serialize};

/// One pull segment's view of the server's pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullCheck {
    /// Records the segment's range should hold (the planned total, cut to segments).
    pub expected: u64,
    /// Records the server's pages gave for the range: repeats and misfits included.
    pub received: u64,
    /// Of those, records whose id was already written (by this or another segment).
    pub repeated: u64,
    /// The page (1-based, at the pull's page size) where the first repeat was met, and
    /// how many of that page's records were repeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_repeat: Option<(u64, u64)>,
    /// A total the server stated on this segment's pages that is not the one the pull
    /// was planned with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_seen: Option<u64>,
}

/// Why a pull whose segments all finished does not add up, in one line (`None` when it
/// does). `planned`: the total the pull was planned with; `checks`: every segment's, in
/// segment order; `written`: records in the output.
pub fn pull_shortfall<'a>(
    planned: u64,
    checks: impl IntoIterator<Item = &'a PullCheck>,
    written: u64,
) -> Option<String> {
    let (mut expected, mut received, mut repeated) = (0u64, 0u64, 0u64);
    let (mut first_repeat, mut total_seen) = (None, None);
    for c in checks {
        expected += c.expected;
        received += c.received;
        repeated += c.repeated;
        first_repeat = first_repeat.or(c.first_repeat);
        total_seen = total_seen.or(c.total_seen);
    }
    let mut said = Vec::new();
    if let Some(seen) = total_seen {
        said.push(format!(
            "the server's total changed mid-pull: {planned} records when the pull was \
             planned, {seen} on a later page"
        ));
    }
    if received < expected {
        said.push(format!(
            "expected {expected} records, the server's pages ended after {received} ({} short)",
            expected - received
        ));
    }
    if repeated > 0 {
        said.push(match first_repeat {
            Some((page, n)) if n < repeated => format!(
                "page {page} repeated {n} records already written ({repeated} repeats in \
                 all, each written once)"
            ),
            Some((page, n)) => format!("page {page} repeated {n} records already written"),
            None => format!("the server's pages repeated {repeated} records already written"),
        });
    }
    if said.is_empty() {
        return None;
    }
    let then = if received < expected || repeated > 0 {
        "pull again once the server's paging is fixed"
    } else {
        "the list changed while it was read; pull again for a consistent copy"
    };
    Some(format!(
        "the pull does not add up: {}; the output holds {written} of the {planned} records \
         the server stated; {then}",
        said.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(expected: u64, received: u64) -> PullCheck {
        PullCheck {
            expected,
            received,
            ..PullCheck::default()
        }
    }

    #[test]
    fn a_pull_that_adds_up_says_nothing() {
        assert_eq!(pull_shortfall(100, &[seg(50, 50), seg(50, 50)], 100), None);
        assert_eq!(pull_shortfall(0, &[], 0), None);
    }

    #[test]
    fn a_short_chain_names_the_shortfall() {
        let mut checks = vec![seg(50, 30)];
        checks.extend((1..20).map(|_| seg(50, 0)));
        let t = pull_shortfall(1000, &checks, 30).unwrap();
        assert!(
            t.contains("expected 1000 records, the server's pages ended after 30 (970 short)"),
            "{t}"
        );
        assert!(t.contains("the output holds 30 of the 1000"), "{t}");
    }

    #[test]
    fn repeats_name_the_first_page_and_the_sum() {
        let mut a = seg(10, 10);
        a.repeated = 10;
        a.first_repeat = Some((3, 10));
        let mut b = seg(10, 10);
        b.repeated = 10;
        b.first_repeat = Some((4, 10));
        let t = pull_shortfall(30, &[seg(10, 10), a, b], 10).unwrap();
        assert!(
            t.contains("page 3 repeated 10 records already written (20 repeats in all, each"),
            "{t}"
        );
        assert!(!t.contains("short"), "{t}");
    }

    #[test]
    fn a_changed_total_is_named_with_both_figures() {
        let mut a = seg(50, 50);
        a.total_seen = Some(40);
        let t = pull_shortfall(50, &[a], 50).unwrap();
        assert!(t.contains("50 records when the pull was planned, 40 on a later page"));
    }
}
