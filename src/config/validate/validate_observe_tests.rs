use std::collections::BTreeMap;

use crate::config::load_from;

fn load(text: &str) -> Result<crate::config::LoadedConfig, String> {
    load_from(Some("o.toml".into()), Some(text), &BTreeMap::new(), &[]).map_err(|e| e.to_string())
}

fn problem(text: &str) -> String {
    match load(text) {
        Ok(_) => panic!("expected a validation error for\n{text}"),
        Err(e) => e,
    }
}

#[test]
fn webhook_and_ping_follow_the_tls_or_loopback_rule() {
    let e = problem("[notify]\nwebhook_url = \"http://alerts.example.com/hook\"\n");
    assert!(e.starts_with("o.toml:2: notify.webhook_url: "), "{e}");
    assert!(e.contains("plain http://"), "{e}");
    let e = problem("[notify]\nping_url = \"http://hc.example.com/ping/abc\"\n");
    assert!(e.starts_with("o.toml:2: notify.ping_url: "), "{e}");
    assert!(e.contains("plain http://"), "{e}");
    load("[notify]\nwebhook_url = \"http://127.0.0.1:9/hook\"\nping_url = \"https://hc-ping.com/x\"\n")
        .unwrap();
    let e = problem("[notify]\nwebhook_url = \"ftp://x/y\"\n");
    assert!(e.contains("notify.webhook_url"), "{e}");
    // A refused URL is named without its key.
    let e = problem("[notify]\nping_url = \"http://u:pw@hc.example.com/k3y?token=t0k\"\n");
    assert!(e.contains("http://hc.example.com/…"), "{e}");
    assert!(
        !e.contains("k3y") && !e.contains("t0k") && !e.contains("pw"),
        "{e}"
    );
}

#[test]
fn hook_command_must_exist_and_be_executable() {
    let e = problem("[notify]\ncommand = [\"supsync-no-such-hook-program\", \"-x\"]\n");
    assert!(e.starts_with("o.toml:2: notify.command: "), "{e}");
    assert!(e.contains("not found on PATH"), "{e}");
    load("[notify]\ncommand = [\"sh\", \"-c\", \"cat >/dev/null\"]\n").unwrap();

    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("hook.sh");
    std::fs::write(&script, "#!/bin/sh\ncat >/dev/null\n").unwrap();
    let text = format!("[notify]\ncommand = [{:?}]\n", script.display().to_string());
    let e = problem(&text);
    assert!(e.contains("is not executable"), "{e}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        load(&text).unwrap();
    }
    let e = problem("[notify]\ncommand = [\"/no/such/dir/hook\"]\n");
    assert!(
        e.contains("notify.command") && e.contains("/no/such/dir/hook"),
        "{e}"
    );
}

#[test]
fn metrics_file_directory_must_take_a_file() {
    // A missing directory rather than a read-only one: tests may run as root, who can
    // write anywhere, and the check itself (creating a file there) is the same.
    let e = problem("[metrics]\nfile = \"/no/such/dir/supsync.prom\"\n");
    assert!(e.starts_with("o.toml:2: metrics.file: "), "{e}");
    assert!(e.contains("/no/such/dir"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let e = problem(&format!(
        "[metrics]\nfile = {:?}\n",
        dir.path().display().to_string()
    ));
    assert!(e.contains("is a directory"), "{e}");
    let file = dir.path().join("supsync.prom");
    load(&format!(
        "[metrics]\nfile = {:?}\n",
        file.display().to_string()
    ))
    .unwrap();
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "the check leaves no file behind"
    );
}

#[test]
fn relative_metrics_file_and_hook_path_are_relative_to_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = dir.path().join("hooks");
    std::fs::create_dir(&hooks).unwrap();
    let script = hooks.join("alert.sh");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let cfg = dir.path().join("c.toml");
    let text =
        "[notify]\ncommand = [\"./hooks/alert.sh\", \"--quiet\"]\n[metrics]\nfile = \"m.prom\"\n";
    let loaded = load_from(Some(cfg), Some(text), &BTreeMap::new(), &[]).unwrap();
    assert_eq!(
        loaded.config.metrics.file.as_deref(),
        Some(dir.path().join("m.prom").as_path())
    );
    assert_eq!(
        loaded.config.notify.command,
        vec![
            dir.path().join("./hooks/alert.sh").display().to_string(),
            "--quiet".to_string()
        ]
    );
}

#[test]
fn events_listen_and_bounds() {
    let e = problem("[notify]\nevents = [\"token_renewal_faild\"]\n");
    assert!(e.contains("notify.events"), "{e}");
    assert!(e.contains("did you mean \"token_renewal_failed\""), "{e}");
    let e = problem("[metrics]\nlisten = \"9464\"\n");
    assert!(e.starts_with("o.toml:2: metrics.listen: "), "{e}");
    assert!(e.contains("127.0.0.1:9464"), "{e}");
    load("[metrics]\nlisten = \"127.0.0.1:9464\"\n").unwrap();
    let e = problem("[notify]\nwebhook_attempts = 0\n");
    assert!(
        e.contains("notify.webhook_attempts: must be between 1 and 10"),
        "{e}"
    );
    let e = problem("[metrics]\nfile_interval_secs = 0\n");
    assert!(e.contains("metrics.file_interval_secs"), "{e}");
}

#[test]
fn env_reaches_the_new_sections() {
    let env = BTreeMap::from([
        (
            "SUPSYNC_NOTIFY_WEBHOOK_URL".to_string(),
            "https://alerts.example.com/hook".to_string(),
        ),
        (
            "SUPSYNC_NOTIFY_COMMAND".to_string(),
            "sh -c true".to_string(),
        ),
        (
            "SUPSYNC_METRICS_LISTEN".to_string(),
            "127.0.0.1:9464".to_string(),
        ),
    ]);
    let loaded = load_from(None, None, &env, &[]).unwrap();
    assert_eq!(
        loaded.config.notify.webhook_url.as_deref(),
        Some("https://alerts.example.com/hook")
    );
    assert_eq!(loaded.config.notify.command, vec!["sh", "-c", "true"]);
    assert_eq!(
        loaded.config.metrics.listen.as_deref(),
        Some("127.0.0.1:9464")
    );
}
