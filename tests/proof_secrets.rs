//! Secret canary: proof that no secret or token ever leaks. The simulator knows the
//! client by a recognisable secret; supsync reaches it through a recording relay, so every
//! access and refresh token the server issued is known. Then push, pull, status, config and diagnose run through the
//! real binary (debug logging on), and a push runs in a pseudo-terminal. Every byte they
//! wrote (stdout, stderr, the terminal, and every file under the state and work
//! directories: journals, manifests, audit log, rejects, logs, the encrypted token cache)
//! is searched for the secret, its HTTP Basic form and each token: zero hits.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{Sim, stat, text, write_csv};
use portable_pty::{CommandBuilder, PtySize, native_pty_system};

const CANARY: &str = "canary-secret-7f9c2e";

/// Every `"<field>":"<value>"` in the recorded server bytes.
fn issued(bytes: &[u8], field: &str) -> Vec<String> {
    let s = String::from_utf8_lossy(bytes);
    let key = format!("\"{field}\":\"");
    let mut out: Vec<String> = s
        .match_indices(&key)
        .filter_map(|(i, _)| {
            let rest = &s[i + key.len()..];
            rest.find('"').map(|end| rest[..end].to_string())
        })
        .filter(|t| t.len() >= 16)
        .collect();
    out.sort();
    out.dedup();
    out
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn binary(dir: &Path, cfg: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_supsync"))
        .arg("--config")
        .arg(cfg)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("-vv")
        .args(args)
        .env("SUPSYNC_CLIENT_SECRET", CANARY)
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// A push in a pty, as an operator would start it; returns every byte of the terminal.
fn push_in_pty(dir: &Path, cfg: &Path, src: &Path) -> Vec<u8> {
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 40,
            cols: 120,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_supsync"));
    cmd.arg("--config");
    cmd.arg(cfg);
    cmd.arg("--state-dir");
    cmd.arg(dir.join("state"));
    cmd.args(["run", "--run-id", "canary-console", "--source"]);
    cmd.arg(src);
    cmd.env("SUPSYNC_CLIENT_SECRET", CANARY);
    cmd.env("TERM", "xterm-256color");
    cmd.env_remove("RUST_LOG");
    let mut child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().unwrap();
    let mut writer = pair.master.take_writer().unwrap();
    let raw = Arc::new(Mutex::new(Vec::new()));
    let r = raw.clone();
    std::thread::spawn(move || {
        let _master = pair.master;
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            r.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    // Let it sync (the console stays up when done), then quit as an operator would.
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() && t.elapsed() < Duration::from_secs(8) {
        std::thread::sleep(Duration::from_millis(100));
    }
    for key in ["q", "y"] {
        let _ = std::io::Write::write_all(&mut writer, key.as_bytes());
        std::thread::sleep(Duration::from_millis(500));
    }
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    raw.lock().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_token_in_any_byte_written() {
    let sim = Sim {
        secret: CANARY.into(),
        // ~3 s of pushing through 2 s tokens: several refreshes, rotated refresh tokens.
        per_record_ms: 10,
        suppliers: 300,
        ..Sim::default()
    }
    .start()
    .await;
    let (url, recorded) =
        common::relay::relay(&sim.addr.to_string(), common::relay::Keep::ServerSent).await;
    let work = tempfile::tempdir().unwrap();
    let d = work.path().to_path_buf();
    let cfg = d.join("config.toml");
    // The default encrypted token cache, so resumed runs and the cache file are covered.
    std::fs::write(
        &cfg,
        format!(
            "[api]\nbase_url = \"{url}\"\ntimeout_secs = 5\n[auth]\nkeepalive_secs = 1\n\
             [sync]\nsegment_size = 50\nconcurrency = 2\nbackoff_initial_ms = 20\n\
             backoff_max_ms = 200\n"
        ),
    )
    .unwrap();
    let src = d.join("suppliers.csv");
    write_csv(
        &src,
        600,
        &["SUP-900001,Bad Country,XXX,approved,a@example.com,,2026-11-02T09:14:00Z"],
    );
    let out = d.join("pulled.jsonl");
    let (d2, cfg2, src2, out2) = (d.clone(), cfg.clone(), src.clone(), out.clone());
    let (outputs, screen) = tokio::task::spawn_blocking(move || {
        let s = src2.to_str().unwrap();
        let o = out2.to_str().unwrap();
        let mut outputs = Vec::new();
        for args in [
            vec![
                "run",
                "--headless",
                "--run-id",
                "canary-push",
                "--source",
                s,
            ],
            vec!["run", "--headless", "--run-id", "canary-pull", "--pull", o],
            vec!["status"],
            vec!["status", "canary-push", "--json"],
            vec!["config"],
            vec!["diagnose"],
            vec!["diagnose", "--json"],
        ] {
            let r = binary(&d2, &cfg2, &args);
            outputs.push((args.join(" "), r));
        }
        let screen = push_in_pty(&d2, &cfg2, &src2);
        (outputs, screen)
    })
    .await
    .unwrap();
    let push = &outputs[0].1;
    assert_eq!(
        push.status.code(),
        Some(6),
        "push, 1 reject: {}",
        text(push)
    );
    assert_eq!(
        outputs[1].1.status.code(),
        Some(0),
        "pull: {}",
        text(&outputs[1].1)
    );
    assert!(
        screen.windows(8).any(|w| w == b"\x1b[?1049h"),
        "the console took the terminal (alternate screen)"
    );

    let server_bytes = recorded.lock().unwrap().clone();
    let access = issued(&server_bytes, "access_token");
    let refresh = issued(&server_bytes, "refresh_token");
    let st = sim.stats();
    assert!(
        access.len() as u64 >= stat(&st, "tokens_issued") && !refresh.is_empty(),
        "the relay saw every token the server issued ({} access, {} refresh): {st}",
        access.len(),
        refresh.len()
    );
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("supplier-sync:{CANARY}"));
    let mut needles: Vec<(String, String)> = vec![
        ("client secret".into(), CANARY.into()),
        ("Basic credentials".into(), basic),
    ];
    for t in access.iter().chain(&refresh) {
        needles.push(("token".into(), t.clone()));
        // A printed prefix or suffix would leak as much: look for the tail alone too.
        needles.push(("token tail".into(), t[t.len() - 16..].to_string()));
    }

    // Every byte written: outputs, the terminal, every file under the work dir (state dir,
    // journals, manifests, audit log, rejects, pulled file, logs, token cache and key).
    let mut haystacks: Vec<(String, Vec<u8>)> = Vec::new();
    for (cmd, o) in &outputs {
        haystacks.push((format!("`{cmd}` stdout"), o.stdout.clone()));
        haystacks.push((format!("`{cmd}` stderr"), o.stderr.clone()));
    }
    haystacks.push(("console pty".into(), screen));
    let mut files = Vec::new();
    files_under(&d, &mut files);
    for f in &files {
        if f.ends_with("config.toml") {
            continue; // written by this test, holds no secret either
        }
        haystacks.push((f.display().to_string(), std::fs::read(f).unwrap()));
    }
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    assert!(
        names.iter().any(|n| n.contains("journal.jsonl"))
            && names.iter().any(|n| n.contains("manifest.json"))
            && names.iter().any(|n| n.contains("rejects.jsonl")),
        "the search covers the run files: {names:#?}"
    );
    let mut hits = Vec::new();
    for (what, bytes) in &haystacks {
        for (kind, needle) in &needles {
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                hits.push(format!("{kind} found in {what}"));
            }
        }
    }
    let bytes: usize = haystacks.iter().map(|(_, b)| b.len()).sum();
    eprintln!(
        "searched {} outputs and files ({bytes} bytes) for the secret and {} access + {} refresh \
         tokens: {} hits; files: {names:#?}",
        haystacks.len(),
        access.len(),
        refresh.len(),
        hits.len()
    );
    assert!(hits.is_empty(), "{hits:#?}");
}

/// An identity provider that echoes the request (Authorization header and form body) in
/// its error, with escape sequences: push, status and diagnose through the real binary.
/// Neither the secret nor its Basic form appears in any output or file, and no escape
/// sequence reaches the terminal output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoing_token_endpoint_reveals_no_secret() {
    let mut profile = Sim {
        secret: CANARY.into(),
        ..Sim::default()
    }
    .profile();
    profile.tokens.token_quirks = vec![supsync::sim::TokenQuirk::EchoRequest];
    let sim = supsync::sim::SimServer::start(profile, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let d = work.path().to_path_buf();
    let cfg = d.join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[api]\nbase_url = \"{}\"\n[sync]\nmax_attempts = 2\nbackoff_initial_ms = 20\n",
            sim.url()
        ),
    )
    .unwrap();
    let src = d.join("suppliers.csv");
    write_csv(&src, 20, &[]);
    let (d2, cfg2, src2) = (d.clone(), cfg.clone(), src.clone());
    let outputs = tokio::task::spawn_blocking(move || {
        let s = src2.to_str().unwrap();
        let mut outputs = Vec::new();
        for args in [
            vec!["run", "--headless", "--run-id", "echo", "--source", s],
            vec!["status", "echo"],
            vec!["diagnose"],
            vec!["diagnose", "--json"],
        ] {
            let r = binary(&d2, &cfg2, &args);
            outputs.push((args.join(" "), r));
        }
        outputs
    })
    .await
    .unwrap();
    assert_eq!(
        outputs[0].1.status.code(),
        Some(4),
        "{}",
        text(&outputs[0].1)
    );
    assert!(
        text(&outputs[0].1).contains("\nerror: "),
        "an error: line: {}",
        text(&outputs[0].1)
    );
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("supplier-sync:{CANARY}"));
    let mut hits = Vec::new();
    let mut haystacks: Vec<(String, Vec<u8>)> = Vec::new();
    for (cmd, o) in &outputs {
        haystacks.push((format!("`{cmd}` stdout"), o.stdout.clone()));
        haystacks.push((format!("`{cmd}` stderr"), o.stderr.clone()));
        for (stream, bytes) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
            if bytes.contains(&0x1b) || bytes.contains(&0x07) {
                hits.push(format!("an escape sequence in `{cmd}` {stream}"));
            }
        }
    }
    let mut files = Vec::new();
    files_under(&d, &mut files);
    for f in files.iter().filter(|f| !f.ends_with("config.toml")) {
        haystacks.push((f.display().to_string(), std::fs::read(f).unwrap()));
    }
    assert!(
        files.iter().any(|f| f.ends_with("token-audit.jsonl")),
        "the audit log is searched too: {files:#?}"
    );
    for (what, bytes) in &haystacks {
        for (kind, needle) in [("client secret", CANARY), ("Basic credentials", &basic)] {
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                hits.push(format!("{kind} found in {what}"));
            }
        }
    }
    assert!(hits.is_empty(), "{hits:#?}");
}

/// The key material of the other client auth methods: the `private_key_jwt` key, the
/// client certificate's key (presented to the API too) and an `apiKey` header value read
/// from a file. Push, status, config and diagnose through the real binary (debug
/// logging on): no line of either key and not the header value appears in any output or
/// in any file under the state dir.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_private_key_or_api_key_in_any_byte_written() {
    use common::keys::{API_KEY, config, material, tls_sim, write};
    let work = tempfile::tempdir().unwrap();
    let m = material(work.path());
    let api_key_file = write(work.path(), "api-key", API_KEY);
    let headers = format!(
        "[api.headers]\napiKey = {{ file = \"{}\" }}\n",
        api_key_file.display()
    );
    let src = work.path().join("suppliers.csv");
    write_csv(&src, 200, &[]);
    let methods = [
        format!(
            "method = \"private_key_jwt\"\nprivate_key_file = \"{}\"\nsigning_alg = \"ES256\"\nkey_id = \"ec-1\"",
            m.ec_key.display()
        ),
        format!(
            "method = \"tls_client_auth\"\nclient_cert_file = \"{}\"\nclient_key_file = \"{}\"",
            m.client_cert.display(),
            m.client_key.display()
        ),
    ];
    let mut haystacks: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, auth) in methods.iter().enumerate() {
        let dir = work.path().join(format!("m{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let (sim, ca) = tls_sim(&m, &dir, |a| {
            a.required_headers.insert("apiKey".into(), API_KEY.into());
        })
        .await;
        let client_identity = if i == 1 {
            "client_identity = true\n"
        } else {
            ""
        };
        let cfg = config(&dir, &sim.url(), &ca, auth, &headers);
        // api.client_identity goes under [api]: prepend it to the file.
        let text0 = std::fs::read_to_string(&cfg).unwrap();
        std::fs::write(
            &cfg,
            text0.replacen("[api]\n", &format!("[api]\n{client_identity}"), 1),
        )
        .unwrap();
        let (d, c, s) = (dir.clone(), cfg.clone(), src.clone());
        let outputs = tokio::task::spawn_blocking(move || {
            let mut outputs = Vec::new();
            for args in [
                vec![
                    "run",
                    "--headless",
                    "--run-id",
                    "keys",
                    "--source",
                    s.to_str().unwrap(),
                ],
                vec!["status"],
                vec!["status", "keys", "--json"],
                vec!["config"],
                vec!["config", "--check"],
                vec!["diagnose"],
            ] {
                outputs.push((args.join(" "), binary(&d, &c, &args)));
            }
            outputs
        })
        .await
        .unwrap();
        assert_eq!(
            outputs[0].1.status.code(),
            Some(0),
            "method {i}: {}",
            text(&outputs[0].1)
        );
        assert_eq!(stat(&sim.stats(), "records_total"), 200);
        for (cmd, o) in outputs {
            haystacks.push((format!("m{i} `{cmd}` stdout"), o.stdout));
            haystacks.push((format!("m{i} `{cmd}` stderr"), o.stderr));
        }
        let mut files = Vec::new();
        files_under(&dir.join("state"), &mut files);
        assert!(
            files
                .iter()
                .any(|f| f.display().to_string().contains("journal")),
            "the search covers the run files: {files:#?}"
        );
        for f in files {
            haystacks.push((f.display().to_string(), std::fs::read(&f).unwrap()));
        }
    }
    // Every base64 line of each PEM key (a line is 64 characters of key), and the value.
    let mut needles: Vec<(String, String)> = vec![("apiKey value".into(), API_KEY.into())];
    for (what, pem) in [
        ("private_key_jwt key", &m.ec_key_pem),
        ("client certificate key", &m.client_key_pem),
    ] {
        for line in pem
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() >= 16)
        {
            needles.push((what.into(), line.to_string()));
        }
    }
    assert!(needles.len() >= 5, "{needles:?}");
    let mut hits = Vec::new();
    for (what, bytes) in &haystacks {
        for (kind, needle) in &needles {
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                hits.push(format!("{kind} found in {what}"));
            }
        }
    }
    let bytes: usize = haystacks.iter().map(|(_, b)| b.len()).sum();
    eprintln!(
        "searched {} outputs and files ({bytes} bytes) for {} needles: {} hits",
        haystacks.len(),
        needles.len(),
        hits.len()
    );
    assert!(hits.is_empty(), "{hits:#?}");
}
