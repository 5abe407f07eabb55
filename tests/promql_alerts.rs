//! The README's alert expressions are PromQL that Prometheus accepts (parsed with
//! `promql-parser`), and the "run ended without completing" alert fires on the metrics
//! textfile of a real run that failed (the binary against the simulator, a wrong client
//! secret): the series it needs exist with values that make its condition true.

mod common;

use std::collections::HashMap;

use common::{Sim, cmd, text, write_config, write_csv};

/// The expressions in the README's `promql` block, comments left out.
fn readme_expressions() -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let start = readme
        .find("```promql\n")
        .expect("a promql block in the README")
        + 10;
    let end = start + readme[start..].find("```").expect("the block ends");
    readme[start..end]
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

#[test]
fn every_readme_alert_expression_is_valid_promql() {
    let exprs = readme_expressions();
    assert!(exprs.len() >= 3, "{exprs:?}");
    for e in &exprs {
        promql_parser::parser::parse(e).unwrap_or_else(|err| panic!("{e}: {err}"));
        assert!(!e.contains(" while "), "not PromQL: {e}");
    }
    // A plain `and` between series with different labels matches nothing.
    for e in exprs.iter().filter(|e| e.contains(" and ")) {
        assert!(e.contains(" and on() "), "needs `and on()`: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_ended_alert_fires_on_the_textfile_of_a_failed_run() {
    let expr = readme_expressions()
        .into_iter()
        .find(|e| e.starts_with("supsync_run_end_timestamp_seconds > 0"))
        .expect("the run-ended alert in the README");
    // Its parts, checked below by hand against the scraped series.
    assert!(expr.contains(
        r#"supsync_run_state{state=~"failed|interrupted|completed_with_failures"} == 1"#
    ));
    promql_parser::parser::parse(&expr).unwrap();

    let sim = Sim::default().start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let cfg = write_config(&d, &sim.url(), 20, 2);
    let prom = d.join("supsync.prom");
    let mut toml = std::fs::read_to_string(&cfg).unwrap();
    toml.push_str(&format!(
        "\n[metrics]\nfile = {:?}\n",
        prom.to_str().unwrap()
    ));
    std::fs::write(&cfg, toml).unwrap();
    let src = d.join("s.csv");
    write_csv(&src, 40, &[]);
    let o = tokio::task::spawn_blocking(move || {
        cmd(
            &d,
            &cfg,
            &["run", "--headless", "--source", src.to_str().unwrap()],
        )
        .env("SUPSYNC_CLIENT_SECRET", "not-the-secret")
        .output()
        .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(4), "a refused secret: {}", text(&o));
    let file = std::fs::read_to_string(&prom).expect("the textfile is written at exit");
    let scrape = prometheus_parse::Scrape::parse(file.lines().map(|l| Ok(l.to_string())))
        .expect("the textfile parses");
    let mut series: HashMap<String, f64> = HashMap::new();
    for s in &scrape.samples {
        let v = match s.value {
            prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => continue,
        };
        let key = match s.labels.get("state") {
            Some(state) => format!("{}{{state={state}}}", s.metric),
            None => s.metric.clone(),
        };
        series.insert(key, v);
    }
    let end = series
        .get("supsync_run_end_timestamp_seconds")
        .copied()
        .unwrap_or_else(|| panic!("no end time in\n{file}"));
    assert!(end > 0.0, "left of `and on()` holds: {end}\n{file}");
    let bad_end = ["failed", "interrupted", "completed_with_failures"]
        .iter()
        .any(|st| series.get(&format!("supsync_run_state{{state={st}}}")) == Some(&1.0));
    assert!(bad_end, "right of `and on()` holds:\n{file}");
}
