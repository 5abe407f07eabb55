//! The shard label: on every series of a shard's metrics, on none of a whole run's.

use super::Metrics;

#[test]
fn every_series_of_a_shard_carries_its_label() {
    let text = Metrics::with_shard("h", Some("2/4")).render();
    let samples: Vec<&str> = text.lines().filter(|l| l.starts_with("supsync_")).collect();
    assert!(samples.len() > 5, "{text}");
    for l in &samples {
        assert!(l.contains("shard=\"2/4\""), "{l}");
    }
    let whole = Metrics::new("h").render();
    assert!(!whole.contains("shard="), "{whole}");
}
