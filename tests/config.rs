//! `supsync config` through the real binary: invalid-config fixtures, precedence, lookup and
//! secret masking. Each run gets a clean environment and its own HOME/XDG dirs.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Runs the binary with only HOME/XDG (inside the sandbox) and the given env vars.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_supsync"));
        cmd.env_clear()
            .current_dir(self.dir.path())
            .env("HOME", self.path("home"))
            .env("XDG_CONFIG_HOME", self.path("xdg-config"))
            .env("XDG_STATE_HOME", self.path("xdg-state"))
            .args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn check(&self, file: &str, text: &str) -> Out {
        self.write(file, text);
        self.run(&["config", "--check", "--config", file], &[])
    }
}

/// Asserts exit 2 with exactly one error line on stderr (and nothing on stdout).
fn one_error(out: &Out) -> &str {
    assert_eq!(
        out.code, 2,
        "stdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    assert!(out.stdout.is_empty(), "stdout: {}", out.stdout);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "stderr: {}", out.stderr);
    lines[0]
}

fn line_for<'a>(stdout: &'a str, key: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no `{key}` line in:\n{stdout}"))
}

#[test]
fn misspelt_key_names_key_and_line_and_exits_2() {
    let sb = Sandbox::new();
    let out = sb.check("bad.toml", "[sync]\nsegment_size = 10\nconcurency = 4\n");
    assert_eq!(
        one_error(&out),
        "error: bad.toml:3: unknown key `concurency` in [sync] (did you mean `concurrency`?)"
    );
}

#[test]
fn wrong_type_names_key_line_and_types() {
    let sb = Sandbox::new();
    let out = sb.check(
        "bad.toml",
        "[api]\ntimeout_secs = 5\n\n[sync]\nconcurrency = \"four\"\n",
    );
    assert_eq!(
        one_error(&out),
        "error: bad.toml:5: sync.concurrency: expected an integer, found a string"
    );
}

#[test]
fn bad_url_is_refused() {
    let sb = Sandbox::new();
    let out = sb.check("bad.toml", "[api]\n\nbase_url = \"qms example com\"\n");
    let err = one_error(&out);
    assert!(
        err.starts_with("error: bad.toml:3: api.base_url: \"qms example com\" is not a valid URL"),
        "{err}"
    );
}

#[test]
fn insecure_http_is_refused_unless_allowed() {
    let sb = Sandbox::new();
    let out = sb.check("bad.toml", "[api]\nbase_url = \"http://qms.example.com\"\n");
    let err = one_error(&out);
    assert!(err.starts_with("error: bad.toml:2: api.base_url:"), "{err}");
    assert!(
        err.contains("plain http://") && err.contains("allow_insecure_http"),
        "{err}"
    );

    let out = sb.check(
        "lab.toml",
        "[api]\nbase_url = \"http://qms.example.com\"\nallow_insecure_http = true\n",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Loopback needs no permission.
    let out = sb.check(
        "local.toml",
        "[api]\nbase_url = \"http://localhost:9000\"\n",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn missing_named_file_is_an_error() {
    let sb = Sandbox::new();
    let out = sb.run(&["config", "--check", "--config", "nope.toml"], &[]);
    let err = one_error(&out);
    assert!(
        err.contains("config file nope.toml does not exist"),
        "{err}"
    );
    // SUPSYNC_CONFIG names a file just as --config does.
    let out = sb.run(&["config"], &[("SUPSYNC_CONFIG", "gone.toml")]);
    assert!(one_error(&out).contains("gone.toml does not exist"));
}

#[test]
fn env_wins_over_file_and_set_wins_over_env() {
    let sb = Sandbox::new();
    sb.write("c.toml", "[sync]\nconcurrency = 2\nsegment_size = 20\n");
    let env = [("SUPSYNC_SYNC_CONCURRENCY", "6")];
    let out = sb.run(&["config", "--config", "c.toml"], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let line = line_for(&out.stdout, "concurrency");
    assert!(line.starts_with("concurrency = 6 "), "{line}");
    assert!(line.ends_with("# env SUPSYNC_SYNC_CONCURRENCY"), "{line}");
    assert!(line_for(&out.stdout, "segment_size").ends_with("# file c.toml:3"));
    assert!(line_for(&out.stdout, "max_attempts").ends_with("# default"));

    let out = sb.run(
        &[
            "config",
            "--config",
            "c.toml",
            "--set",
            "sync.concurrency=9",
        ],
        &env,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let line = line_for(&out.stdout, "concurrency");
    assert!(
        line.starts_with("concurrency = 9 ") && line.ends_with("# flag --set"),
        "{line}"
    );
}

#[test]
fn env_value_of_wrong_type_names_the_variable() {
    let sb = Sandbox::new();
    let out = sb.run(
        &["config", "--check"],
        &[("SUPSYNC_SYNC_CONCURRENCY", "lots")],
    );
    assert_eq!(
        one_error(&out),
        "error: environment variable SUPSYNC_SYNC_CONCURRENCY: sync.concurrency: expected an integer, found \"lots\""
    );
    let out = sb.run(&["config", "--check", "--set", "sync.concurrency=0"], &[]);
    assert_eq!(
        one_error(&out),
        "error: --set sync.concurrency=0: must be between 1 and 64, found 0"
    );
}

#[test]
fn check_passes_on_the_example() {
    let sb = Sandbox::new();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let out = sb.run(
        &["config", "--check", "--config", example.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    assert!(out.stdout.starts_with("ok: "));
}

#[test]
fn platform_config_file_is_found_and_state_dir_reported() {
    let sb = Sandbox::new();
    let cfg = sb.write("xdg-config/supsync/config.toml", "[ui]\ntick_ms = 250\n");
    let out = sb.run(&["config"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains(&format!("# config file: {}", cfg.display())),
        "{}",
        out.stdout
    );
    let line = line_for(&out.stdout, "tick_ms");
    assert!(
        line.ends_with(&format!("# file {}:2", cfg.display())),
        "{line}"
    );
    let state = sb.path("xdg-state").join("supsync");
    assert!(
        out.stdout
            .contains(&format!("# state dir:   {}", state.display()))
    );

    let out = sb.run(&["config", "--state-dir", "/srv/supsync"], &[]);
    assert!(
        out.stdout.contains("# state dir:   /srv/supsync"),
        "{}",
        out.stdout
    );
    let out = sb.run(&["config"], &[("SUPSYNC_STATE_DIR", "/var/lib/supsync")]);
    assert!(
        out.stdout.contains("# state dir:   /var/lib/supsync"),
        "{}",
        out.stdout
    );
}

#[test]
fn secret_is_never_printed() {
    let sb = Sandbox::new();
    let env_secret = "ENV-SECRET-c0ffee-41";
    let file_secret = "FILE-SECRET-bead-42";
    let inline_secret = "INLINE-SECRET-f00d-43";
    let secret_path = sb.write("client_secret", &format!("{file_secret}\n"));
    set_mode(&secret_path, 0o600);
    sb.write(
        "c.toml",
        &format!(
            "[auth]\nclient_secret = \"{inline_secret}\"\nclient_secret_file = \"client_secret\"\n"
        ),
    );
    let leaks = |out: &Out| {
        let all = format!("{}{}", out.stdout, out.stderr);
        [env_secret, file_secret, inline_secret]
            .into_iter()
            .filter(|s| all.contains(s))
            .collect::<Vec<_>>()
    };

    // Env beats the file, which beats inline; each time only a fingerprint shows.
    let out = sb.run(
        &["config", "--config", "c.toml"],
        &[("SUPSYNC_CLIENT_SECRET", env_secret)],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(leaks(&out).is_empty(), "leaked {:?}", leaks(&out));
    let line = line_for(&out.stdout, "client_secret");
    assert!(
        line.contains("<secret #") && line.ends_with("# env SUPSYNC_CLIENT_SECRET"),
        "{line}"
    );
    assert!(
        out.stdout
            .contains("# warning: c.toml:2: auth.client_secret: an inline client secret")
    );

    let out = sb.run(&["config", "--config", "c.toml"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(leaks(&out).is_empty(), "leaked {:?}", leaks(&out));
    let line = line_for(&out.stdout, "client_secret");
    // Relative to the config file (here: in the working directory).
    assert!(line.ends_with("# secret file client_secret"), "{line}");

    sb.write(
        "inline.toml",
        &format!("[auth]\nclient_secret = \"{inline_secret}\"\n"),
    );
    for args in [
        &["config", "--config", "inline.toml"][..],
        &["config", "--check", "--config", "inline.toml"][..],
    ] {
        let out = sb.run(args, &[]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(leaks(&out).is_empty(), "leaked {:?}", leaks(&out));
    }
}

#[test]
fn broken_secret_file_fails_the_check_and_loose_permissions_warn() {
    let sb = Sandbox::new();
    sb.write(
        "c.toml",
        "[auth]\nclient_secret_file = \"missing_secret\"\n",
    );
    let out = sb.run(&["config", "--check", "--config", "c.toml"], &[]);
    let err = one_error(&out);
    assert!(
        err.contains("c.toml:2: auth.client_secret_file: cannot read the client secret file"),
        "{err}"
    );

    let secret = sb.write("open_secret", "OPEN-SECRET-77\n");
    set_mode(&secret, 0o644);
    sb.write("o.toml", "[auth]\nclient_secret_file = \"open_secret\"\n");
    let out = sb.run(&["config", "--check", "--config", "o.toml"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    if cfg!(unix) {
        assert!(
            out.stderr.contains("warning: ") && out.stderr.contains("chmod 600"),
            "{}",
            out.stderr
        );
    }
    assert!(!out.stderr.contains("OPEN-SECRET-77") && !out.stdout.contains("OPEN-SECRET-77"));
}

fn set_mode(path: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
}
