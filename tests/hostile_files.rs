//! Hostile files, through the real binary: a FIFO or `/dev/zero` where a key, secret,
//! password, header value or CA file belongs; a device node, a FIFO, `/dev/null` or a link
//! out of its directory as the metrics file; a FIFO where the token cache belongs; and the
//! modes of what a run writes. Each refusal of a configured file is exit 2 at load naming
//! the config key, quickly (a FIFO must not hang supsync, `/dev/zero` must not fill its
//! memory), and leaves the odd file as it was.

mod common;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{SECRET, Sim, text, write_csv};

/// How long a refused start may take: generous (a loaded CI box), but a FIFO that hangs
/// the process is never done.
const BOUND: Duration = Duration::from_secs(30);

/// What a bounded run of the binary gave: its output, how long it took and its peak
/// resident memory (VmHWM) in KiB, sampled from /proc while it ran.
struct Ran {
    out: Output,
    took: Duration,
    peak_kib: u64,
}

/// Runs `c` to its end or [`BOUND`]; past the bound it is killed and the test fails.
fn bounded(mut c: Command) -> Ran {
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let t = Instant::now();
    let mut child = c.spawn().unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status_file)
            && let Some(kib) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak_kib = peak_kib.max(kib);
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if t.elapsed() > BOUND {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "still running after {BOUND:?} (peak {peak_kib} KiB): {}",
                text(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    Ran {
        out,
        took: t.elapsed(),
        peak_kib,
    }
}

/// The binary with `cfg` and a state dir under `dir`; no secret in the environment unless
/// `with_env_secret` (a secret file is only read when the variable is absent).
fn supsync(dir: &Path, cfg: &Path, args: &[&str], with_env_secret: bool) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_supsync"));
    c.arg("--config")
        .arg(cfg)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("SUPSYNC_CONFIG")
        .env_remove("SUPSYNC_CLIENT_SECRET")
        .env_remove("SUPSYNC_SESSION_PASSWORD");
    if with_env_secret {
        c.env("SUPSYNC_CLIENT_SECRET", SECRET);
    }
    c
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// A config against a port nobody listens on: a refusal must come at load, before any
/// request. `auth` is the `[auth]` body, `extra` more tables.
fn config(dir: &Path, api: &str, auth: &str, extra: &str) -> PathBuf {
    let p = dir.join("config.toml");
    std::fs::write(
        &p,
        format!(
            "[api]\nbase_url = \"http://127.0.0.1:9\"\ntimeout_secs = 5\n{api}\n\
             [auth]\ntoken_cache = \"none\"\n{auth}\n{extra}"
        ),
    )
    .unwrap();
    p
}

/// `config --check` and `run` both end with exit 2 within the bound, naming `key` and
/// `words` in the message; the returned runs are for further checks.
fn refused_at_load(dir: &Path, cfg: &Path, key: &str, words: &str, env_secret: bool) -> Vec<Ran> {
    let src = dir.join("in.csv");
    write_csv(&src, 3, &[]);
    let mut runs = Vec::new();
    for args in [
        vec!["config", "--check"],
        vec!["run", "--source", src.to_str().unwrap(), "--headless"],
    ] {
        let r = bounded(supsync(dir, cfg, &args, env_secret));
        let all = text(&r.out);
        eprintln!("{key} / {}: {:?}, peak {} KiB", args[0], r.took, r.peak_kib);
        assert_eq!(r.out.status.code(), Some(2), "{key} {args:?}: {all}");
        assert!(
            all.contains(key) && all.contains(words),
            "{key} {args:?}: the message should name the key and say {words:?}: {all}"
        );
        assert!(!all.contains("panicked"), "{all}");
        runs.push(r);
    }
    runs
}

#[test]
fn a_fifo_where_a_key_secret_password_header_or_ca_file_belongs_is_refused_at_once() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("fifo");
    mkfifo(&fifo);
    let f = fifo.display();
    let cases: [(&str, &str, String, String, bool); 5] = [
        (
            "auth.client_secret_file",
            "",
            format!("client_secret_file = \"{f}\""),
            String::new(),
            false,
        ),
        ("api.ca_file", "", String::new(), String::new(), true),
        (
            "auth.private_key_file",
            "",
            format!("method = \"private_key_jwt\"\nprivate_key_file = \"{f}\""),
            String::new(),
            true,
        ),
        (
            "apiKey",
            "",
            String::new(),
            format!("[api.headers]\napiKey = {{ file = \"{f}\" }}"),
            true,
        ),
        (
            "auth.session.password_file",
            "",
            "kind = \"session\"".into(),
            format!("[auth.session]\nusername = \"u\"\npassword_file = \"{f}\""),
            false,
        ),
    ];
    for (key, api, auth, extra, env_secret) in cases {
        let api = if key == "api.ca_file" {
            format!("ca_file = \"{f}\"")
        } else {
            api.to_string()
        };
        let cfg = config(d.path(), &api, &auth, &extra);
        refused_at_load(
            d.path(),
            &cfg,
            key,
            "is a FIFO, not a regular file",
            env_secret,
        );
        assert!(
            std::fs::symlink_metadata(&fifo)
                .unwrap()
                .file_type()
                .is_fifo()
        );
    }
}

#[test]
fn a_fifo_as_the_config_file_is_refused_at_once() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("config.toml");
    mkfifo(&fifo);
    let r = bounded(supsync(d.path(), &fifo, &["config", "--check"], true));
    let all = text(&r.out);
    assert_eq!(r.out.status.code(), Some(2), "{all}");
    assert!(
        all.contains("config file") && all.contains("is a FIFO, not a regular file"),
        "{all}"
    );
}

#[test]
fn dev_zero_as_a_secret_file_is_refused_without_reading_it() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), "", "client_secret_file = \"/dev/zero\"", "");
    for r in refused_at_load(
        d.path(),
        &cfg,
        "auth.client_secret_file",
        "/dev/zero is a character device, not a regular file",
        false,
    ) {
        // Reading /dev/zero whole would grow the process by gigabytes within the bound.
        assert!(
            r.peak_kib < 200 * 1024,
            "peak memory {} KiB: the file was read",
            r.peak_kib
        );
    }
}

#[test]
fn an_oversized_secret_file_is_refused_naming_the_cap() {
    let d = tempfile::tempdir().unwrap();
    let big = d.path().join("secret");
    // A sparse 8 GiB file: costs no disk, and would cost 8 GiB of memory if read whole.
    std::fs::File::create(&big)
        .unwrap()
        .set_len(8 << 30)
        .unwrap();
    std::fs::set_permissions(&big, std::fs::Permissions::from_mode(0o600)).unwrap();
    let cfg = config(
        d.path(),
        "",
        &format!("client_secret_file = \"{}\"", big.display()),
        "",
    );
    for r in refused_at_load(
        d.path(),
        &cfg,
        "auth.client_secret_file",
        &format!(
            "{} is larger than 256 KiB; it should hold one client secret",
            big.display()
        ),
        false,
    ) {
        assert!(r.peak_kib < 200 * 1024, "peak memory {} KiB", r.peak_kib);
    }
}

/// A metrics file that is not a regular file is refused at load and left as it was.
fn metrics_file_refused(dir: &Path, file: &Path, words: &str) {
    let cfg = config(
        dir,
        "",
        "",
        &format!("[metrics]\nfile = \"{}\"", file.display()),
    );
    refused_at_load(dir, &cfg, "metrics.file", words, true);
}

#[test]
fn a_device_node_fifo_or_dev_null_as_the_metrics_file_is_refused_and_left_alone() {
    let d = tempfile::tempdir().unwrap();

    let fifo = d.path().join("supsync.prom");
    mkfifo(&fifo);
    metrics_file_refused(d.path(), &fifo, "is a FIFO, not a regular file");
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    std::fs::remove_file(&fifo).unwrap();

    // The same numbers as /dev/null; making one needs root (CAP_MKNOD).
    let node = d.path().join("node.prom");
    let c = std::ffi::CString::new(node.to_str().unwrap()).unwrap();
    let made = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
    if made == 0 {
        metrics_file_refused(d.path(), &node, "is a character device, not a regular file");
        let md = std::fs::symlink_metadata(&node).unwrap();
        assert!(md.file_type().is_char_device(), "the node was replaced");
    } else {
        eprintln!(
            "skipped the device node case: mknod failed ({}); it needs root",
            std::io::Error::last_os_error()
        );
    }

    // Only `config --check`: it writes nothing, so even a broken check cannot harm
    // /dev/null when the suite runs as root.
    let cfg = config(d.path(), "", "", "[metrics]\nfile = \"/dev/null\"");
    let r = bounded(supsync(d.path(), &cfg, &["config", "--check"], true));
    let all = text(&r.out);
    assert_eq!(r.out.status.code(), Some(2), "{all}");
    assert!(
        all.contains("metrics.file") && all.contains("/dev/null is a character device"),
        "{all}"
    );
    assert!(
        std::fs::symlink_metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
}

#[test]
fn a_metrics_file_that_links_out_of_its_directory_is_refused_and_its_target_kept() {
    let d = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("precious");
    std::fs::write(&target, "keep me\n").unwrap();
    let link = d.path().join("supsync.prom");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    metrics_file_refused(d.path(), &link, "is a symbolic link, not a regular file");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me\n");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_directory_is_owner_only_and_every_file_in_it_0600() {
    let sim = Sim::default().start().await;
    let url = sim.url();
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("in.csv");
    // One bad row, so the run writes a rejects file too.
    write_csv(
        &src,
        20,
        &["BAD-1,,DE,approved,x@example.com,,2026-11-02T09:14:00Z"],
    );
    let prom = d.path().join("supsync.prom");
    let cfg = config(
        d.path(),
        "",
        "keepalive_secs = 1",
        &format!(
            "[sync]\nsegment_size = 5\nconcurrency = 2\n[metrics]\nfile = \"{}\"",
            prom.display()
        ),
    );
    let text_cfg = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("http://127.0.0.1:9", &url);
    std::fs::write(&cfg, text_cfg).unwrap();
    let dir = d.path().to_path_buf();
    let (src_arg, cfg2) = (src.to_str().unwrap().to_string(), cfg.clone());
    let r = tokio::task::spawn_blocking(move || {
        bounded(supsync(
            &dir,
            &cfg2,
            &[
                "run",
                "--source",
                &src_arg,
                "--run-id",
                "modes",
                "--headless",
            ],
            true,
        ))
    })
    .await
    .unwrap();
    assert_eq!(r.out.status.code(), Some(6), "{}", text(&r.out));

    let state = d.path().join("state");
    let run = state.join("runs/modes");
    assert_eq!(mode(&state), 0o700, "the state dir");
    assert_eq!(mode(&state.join("runs")), 0o700, "runs/");
    assert_eq!(mode(&run), 0o700, "the run dir");
    let mut seen = Vec::new();
    let mut stack = vec![run.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                assert_eq!(mode(&p), 0o700, "{}", p.display());
                stack.push(p);
            } else if t.is_file() {
                assert_eq!(mode(&p), 0o600, "{}", p.display());
                seen.push(p.file_name().unwrap().to_string_lossy().into_owned());
            }
        }
    }
    for name in [
        "manifest.json",
        "journal.jsonl",
        "rejects.jsonl",
        "run.lock",
    ] {
        assert!(seen.iter().any(|s| s == name), "{name} not in {seen:?}");
    }
    // The metrics file is for the collector, which runs as another user.
    assert_eq!(mode(&prom), 0o644);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fifo_in_the_state_dir_where_the_token_cache_belongs_does_not_hang_a_run() {
    let sim = Sim::default().start().await;
    let d = tempfile::tempdir().unwrap();
    let state = d.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let fifo = state.join("token-cache");
    mkfifo(&fifo);
    let src = d.path().join("in.csv");
    write_csv(&src, 5, &[]);
    let cfg = config(d.path(), "", "", "");
    let text_cfg = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("http://127.0.0.1:9", &sim.url())
        .replace("token_cache = \"none\"", "token_cache = \"encrypted\"");
    std::fs::write(&cfg, text_cfg).unwrap();
    let dir = d.path().to_path_buf();
    let src_arg = src.to_str().unwrap().to_string();
    let r = tokio::task::spawn_blocking(move || {
        bounded(supsync(
            &dir,
            &cfg,
            &["run", "--source", &src_arg, "--headless"],
            true,
        ))
    })
    .await
    .unwrap();
    // The cache is an optimisation: it is passed over with a warning and left as it was.
    assert_eq!(r.out.status.code(), Some(0), "{}", text(&r.out));
    assert!(!text(&r.out).contains("panicked"));
    assert!(
        text(&r.out).contains("is a FIFO, not a regular file"),
        "{}",
        text(&r.out)
    );
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
}
