//! `auth.secret_expires_at`: validated by `config --check`, warned about at run start
//! within 14 days (stderr, and a `notice` with `--json`), shown by `status --json`.

mod common;

use common::{Sim, cmd, text, write_config, write_csv};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_close_to_its_end_is_warned_about_and_shown() {
    let sim = Sim::default().start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let cfg = write_config(&d, &sim.url(), 50, 2);
    let src = d.join("s.csv");
    write_csv(&src, 100, &[]);

    // A date that is not one: exit 2 naming the key and the line.
    let base = std::fs::read_to_string(&cfg).unwrap();
    let with = |value: &str| {
        base.replace(
            "[auth]\n",
            &format!("[auth]\nsecret_expires_at = \"{value}\"\n"),
        )
    };
    std::fs::write(&cfg, with("31.03.2027")).unwrap();
    let o = cmd(&d, &cfg, &["config", "--check"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("auth.secret_expires_at") && err.contains("RFC 3339"),
        "{err}"
    );

    // Five days from now (a date: that day's start, UTC).
    let soon = (chrono::Utc::now() + chrono::Duration::days(5)).date_naive();
    std::fs::write(&cfg, with(&soon.to_string())).unwrap();
    let o = cmd(&d, &cfg, &["config", "--check"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let o = cmd(&d, &cfg, &["run", "--json", "--run-id", "exp", "--source"])
        .arg(&src)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("client secret expires at"), "{}", text(&o));
    let lines: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let notice = lines
        .iter()
        .find(|v| v["type"] == "notice")
        .unwrap_or_else(|| panic!("no notice: {lines:?}"));
    let msg = notice["message"].as_str().unwrap();
    assert!(
        msg.contains("client secret expires at") && msg.contains("days left"),
        "{msg}"
    );

    let o = cmd(&d, &cfg, &["status", "exp", "--json"])
        .output()
        .unwrap();
    let st: Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = &st["credentials"];
    assert_eq!(
        c["client_secret_expires_at"],
        format!("{soon}T00:00:00Z"),
        "{st}"
    );
    let left = c["client_secret_days_left"].as_i64().unwrap();
    assert!((4..=5).contains(&left), "{st}");
}
