//! Bad-input suite, table-driven through the real binary: config typos and
//! wrong types, secrets missing or wrong, unreachable and insecure endpoints, garbage
//! sources, damaged journals, an unwritable state dir, a source changed under a resume,
//! unknown runs, bad arguments. Each case must end with its documented exit code (README:
//! 0 ok, 1 other, 2 config/usage, 3 failed segments, 4 auth, 5 interrupted, 6 rejects), a clear
//! error naming what is wrong, no panic, and nothing sent that should not be: cases that
//! fail before syncing leave the simulator's record counters untouched.

mod common;

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use common::{SECRET, Sim, stat, text, write_csv};

/// The environment a case runs in.
struct Ctx {
    dir: PathBuf,
    url: String,
}

impl Ctx {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
    fn arg(&self, name: &str) -> String {
        self.path(name).to_string_lossy().into_owned()
    }
    /// A config file `name` with a good base plus `extra` lines appended to `[sync]`, or
    /// replacing the whole file when `extra` starts with `!`.
    fn config(&self, name: &str, extra: &str) -> String {
        let body = match extra.strip_prefix('!') {
            Some(whole) => whole.replace("{url}", &self.url),
            None => format!(
                "[api]\nbase_url = \"{}\"\ntimeout_secs = 3\n[auth]\ntoken_cache = \"none\"\n\
                 [sync]\nsegment_size = 50\nconcurrency = 2\nmax_attempts = 2\n\
                 backoff_initial_ms = 10\nbackoff_max_ms = 50\n{extra}\n",
                self.url
            ),
        };
        std::fs::write(self.path(name), body).unwrap();
        self.arg(name)
    }
}

/// Command line (after the binary) and extra environment (an empty value removes it).
type Invocation = (Vec<String>, Vec<(&'static str, String)>);

struct Case {
    name: &'static str,
    /// Builds the command line (after the binary) and extra environment.
    args: fn(&Ctx) -> Invocation,
    code: i32,
    /// Words the error must contain (case-insensitive), naming what is wrong.
    needles: &'static [&'static str],
    /// True when the case may legitimately sync records (it ran; rejects or failures).
    may_sync: bool,
}

fn v(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// `--config <cfg> --state-dir <dir>/state run --headless --source <src>`
fn push(c: &Ctx, cfg: &str, src: &str) -> Vec<String> {
    let cfg = c.config("c.toml", cfg);
    v(&[
        "--config",
        &cfg,
        "--state-dir",
        &c.arg("state"),
        "run",
        "--headless",
        "--source",
        &c.arg(src),
    ])
}

fn with_cfg(c: &Ctx, cfg: &str, rest: &[&str]) -> Vec<String> {
    let cfg = c.config("c.toml", cfg);
    let mut a = v(&["--config", &cfg, "--state-dir", &c.arg("state")]);
    a.extend(v(rest));
    a
}

/// [`push`] with the default config and `ok.csv`, `var` set to `value`.
fn push_env(c: &Ctx, var: &'static str, value: &str) -> Invocation {
    (push(c, "", "ok.csv"), vec![(var, value.to_string())])
}

fn none() -> Vec<(&'static str, String)> {
    Vec::new()
}

fn cases() -> Vec<Case> {
    vec![
        // ---- configuration ----
        Case {
            name: "misspelt key",
            args: |c| (push(c, "concurrancy = 4", "ok.csv"), none()),
            code: 2,
            needles: &["concurrancy"],
            may_sync: false,
        },
        Case {
            name: "wrong type",
            args: |c| (push(c, "retry_budget = \"lots\"", "ok.csv"), none()),
            code: 2,
            needles: &["retry_budget"],
            may_sync: false,
        },
        Case {
            name: "out of range",
            args: |c| (push(c, "[ui]\ntick_ms = 5", "ok.csv"), none()),
            code: 2,
            needles: &["tick_ms"],
            may_sync: false,
        },
        Case {
            name: "unknown section",
            args: |c| (push(c, "[synk]\nconcurrency = 2", "ok.csv"), none()),
            code: 2,
            needles: &["synk"],
            may_sync: false,
        },
        Case {
            name: "TOML syntax error",
            args: |c| (push(c, "segment_size = ", "ok.csv"), none()),
            code: 2,
            needles: &["c.toml"],
            may_sync: false,
        },
        Case {
            name: "backoff initial above max",
            args: |c| {
                let cfg = "!\n[api]\nbase_url = \"{url}\"\n[sync]\nbackoff_initial_ms = 9000\n\
                           backoff_max_ms = 100\n";
                (push(c, cfg, "ok.csv"), none())
            },
            code: 2,
            needles: &["backoff"],
            may_sync: false,
        },
        Case {
            name: "base_url not a URL",
            args: |c| {
                let a = push(c, "!\n[api]\nbase_url = \"not a url\"\n", "ok.csv");
                (a, none())
            },
            code: 2,
            needles: &["base_url"],
            may_sync: false,
        },
        Case {
            name: "plain http to a non-loopback host",
            args: |c| {
                let a = push(
                    c,
                    "!\n[api]\nbase_url = \"http://example.invalid\"\n",
                    "ok.csv",
                );
                (a, none())
            },
            code: 2,
            needles: &["http://", "allow_insecure_http"],
            may_sync: false,
        },
        Case {
            name: "plain http token_url to a non-loopback host",
            args: |c| {
                let cfg = "!\n[api]\nbase_url = \"{url}\"\n[auth]\n\
                           token_url = \"http://idp.example.invalid/oauth/token\"\n";
                (push(c, cfg, "ok.csv"), none())
            },
            code: 2,
            needles: &["http://idp.example.invalid"],
            may_sync: false,
        },
        Case {
            name: "--set with a bad value",
            args: |c| {
                let mut a = v(&["--set", "sync.concurrency=abc"]);
                a.extend(push(c, "", "ok.csv"));
                (a, none())
            },
            code: 2,
            needles: &["concurrency"],
            may_sync: false,
        },
        Case {
            name: "--set of an unknown key",
            args: |c| {
                let mut a = v(&["--set", "sync.nosuch=1"]);
                a.extend(push(c, "", "ok.csv"));
                (a, none())
            },
            code: 2,
            needles: &["nosuch"],
            may_sync: false,
        },
        Case {
            name: "environment override of the wrong type",
            args: |c| push_env(c, "SUPSYNC_SYNC_CONCURRENCY", "many"),
            code: 2,
            needles: &["SUPSYNC_SYNC_CONCURRENCY"],
            may_sync: false,
        },
        Case {
            name: "config file missing",
            args: |c| {
                let a = v(&[
                    "--config",
                    &c.arg("absent.toml"),
                    "--state-dir",
                    &c.arg("state"),
                    "run",
                    "--headless",
                    "--source",
                    &c.arg("ok.csv"),
                ]);
                (a, none())
            },
            code: 2,
            needles: &["absent.toml"],
            may_sync: false,
        },
        // ---- secrets and authentication ----
        Case {
            name: "missing secret",
            args: |c| push_env(c, "SUPSYNC_CLIENT_SECRET", ""),
            code: 2,
            needles: &["secret"],
            may_sync: false,
        },
        Case {
            name: "secret file missing",
            args: |c| {
                let cfg =
                    "!\n[api]\nbase_url = \"{url}\"\n[auth]\nclient_secret_file = \"nope.txt\"\n";
                (
                    push(c, cfg, "ok.csv"),
                    vec![("SUPSYNC_CLIENT_SECRET", String::new())],
                )
            },
            code: 2,
            needles: &["nope.txt"],
            may_sync: false,
        },
        Case {
            name: "wrong secret",
            args: |c| push_env(c, "SUPSYNC_CLIENT_SECRET", "wrong"),
            code: 4,
            needles: &["invalid_client"],
            may_sync: false,
        },
        Case {
            name: "unknown client id",
            args: |c| {
                let cfg = "!\n[api]\nbase_url = \"{url}\"\n[auth]\nclient_id = \"stranger\"\n\
                           token_cache = \"none\"\n";
                (push(c, cfg, "ok.csv"), none())
            },
            code: 4,
            needles: &["invalid_client"],
            may_sync: false,
        },
        Case {
            name: "auth_style not one of its values",
            args: |c| {
                let cfg = "!\n[api]\nbase_url = \"{url}\"\n[auth]\nauth_style = \"digest\"\n";
                (push(c, cfg, "ok.csv"), none())
            },
            code: 2,
            needles: &["auth_style", "digest"],
            may_sync: false,
        },
        Case {
            name: "unreachable host",
            args: |c| {
                let cfg = "!\n[api]\nbase_url = \"http://127.0.0.1:9\"\ntimeout_secs = 2\n\
                           [auth]\ntoken_cache = \"none\"\n";
                (push(c, cfg, "ok.csv"), none())
            },
            code: 4,
            needles: &["127.0.0.1:9", "unreachable"],
            may_sync: false,
        },
        // ---- sources ----
        Case {
            name: "source file missing",
            args: |c| (push(c, "", "absent.csv"), none()),
            code: 1,
            needles: &["absent.csv"],
            may_sync: false,
        },
        Case {
            name: "source is a directory",
            args: |c| (push(c, "", "adir"), none()),
            code: 1,
            needles: &["adir"],
            may_sync: false,
        },
        Case {
            name: "empty CSV",
            args: |c| (push(c, "", "empty.csv"), none()),
            code: 1,
            needles: &["empty"],
            may_sync: false,
        },
        Case {
            name: "CSV missing a column",
            args: |c| (push(c, "", "cols.csv"), none()),
            code: 1,
            needles: &["column"],
            may_sync: false,
        },
        Case {
            name: "binary garbage as CSV",
            args: |c| (push(c, "", "garbage.csv"), none()),
            code: 1,
            needles: &["garbage.csv"],
            may_sync: false,
        },
        Case {
            name: "CSV with invalid rows",
            args: |c| (push(c, "", "bad-rows.csv"), none()),
            code: 6,
            needles: &["rejected"],
            may_sync: true,
        },
        Case {
            name: "JSONL with garbage lines",
            args: |c| (push(c, "", "mixed.jsonl"), none()),
            code: 6,
            needles: &["rejected"],
            may_sync: true,
        },
        Case {
            name: "JSONL that is all garbage",
            args: |c| (push(c, "", "junk.jsonl"), none()),
            code: 1,
            needles: &["junk.jsonl", "JSON Lines"],
            may_sync: false,
        },
        Case {
            name: "segment larger than the server's max batch",
            args: |c| {
                let a = push(c, "", "three.csv");
                let mut s = v(&["--set", "sync.segment_size=500"]);
                s.extend(a);
                (s, none())
            },
            code: 3,
            needles: &["413"],
            may_sync: false,
        },
        // ---- runs, journals, state ----
        Case {
            name: "invalid run id",
            args: |c| {
                let mut a = push(c, "", "ok.csv");
                a.extend(v(&["--run-id", "../evil"]));
                (a, none())
            },
            code: 2,
            needles: &["--run-id", "../evil"],
            may_sync: false,
        },
        Case {
            name: "resume an unknown run",
            args: |c| {
                (
                    with_cfg(c, "", &["resume", "no-such-run", "--headless"]),
                    none(),
                )
            },
            code: 1,
            needles: &["no-such-run"],
            may_sync: false,
        },
        Case {
            name: "status of an unknown run",
            args: |c| (with_cfg(c, "", &["status", "no-such-run"]), none()),
            code: 1,
            needles: &["no-such-run"],
            may_sync: false,
        },
        Case {
            name: "retry an unknown run",
            args: |c| {
                (
                    with_cfg(c, "", &["retry", "no-such-run", "--headless"]),
                    none(),
                )
            },
            code: 1,
            needles: &["no-such-run"],
            may_sync: false,
        },
        Case {
            name: "retry --segment not a number",
            args: |c| {
                (
                    with_cfg(c, "", &["retry", "done-run", "--segment", "x"]),
                    none(),
                )
            },
            code: 2,
            needles: &["--segment"],
            may_sync: false,
        },
        Case {
            name: "retry --segment out of range",
            args: |c| {
                let a = with_cfg(
                    c,
                    "",
                    &["retry", "done-run", "--segment", "999", "--headless"],
                );
                (a, none())
            },
            code: 1,
            needles: &["999"],
            may_sync: false,
        },
        Case {
            // A damaged line is named and not trusted; its segment is sent again under the
            // same Idempotency-Key, so the server creates nothing twice.
            name: "corrupt journal line",
            args: |c| {
                (
                    with_cfg(c, "", &["resume", "corrupt-run", "--headless"]),
                    none(),
                )
            },
            code: 0,
            needles: &["journal.jsonl: line 2", "not trusted"],
            may_sync: false,
        },
        Case {
            name: "corrupt manifest",
            args: |c| (with_cfg(c, "", &["status", "bad-manifest"]), none()),
            code: 1,
            needles: &["manifest"],
            may_sync: false,
        },
        Case {
            name: "source changed before resume",
            args: |c| {
                (
                    with_cfg(c, "", &["resume", "changed-run", "--headless"]),
                    none(),
                )
            },
            code: 1,
            needles: &["changed"],
            may_sync: false,
        },
        Case {
            name: "state dir under a regular file",
            args: |c| {
                let cfg = c.config("c.toml", "");
                let a = v(&[
                    "--config",
                    &cfg,
                    "--state-dir",
                    &c.arg("a-file/state"),
                    "run",
                    "--headless",
                    "--source",
                    &c.arg("ok.csv"),
                ]);
                (a, none())
            },
            code: 1,
            needles: &["a-file"],
            may_sync: false,
        },
        Case {
            name: "pull into a directory that does not exist",
            args: |c| {
                let out = c.arg("no/such/dir/out.jsonl");
                (
                    with_cfg(c, "", &["run", "--headless", "--pull", &out]),
                    none(),
                )
            },
            code: 1,
            needles: &["no/such/dir"],
            may_sync: false,
        },
        Case {
            name: "run with neither --source nor --pull",
            args: |c| (with_cfg(c, "", &["run", "--headless"]), none()),
            code: 2,
            needles: &["--source"],
            may_sync: false,
        },
        Case {
            name: "unknown subcommand",
            args: |c| (with_cfg(c, "", &["sync-everything"]), none()),
            code: 2,
            needles: &["sync-everything"],
            may_sync: false,
        },
    ]
}

/// Writes the fixture files every case may use.
fn fixtures(c: &Ctx) {
    write_csv(&c.path("ok.csv"), 20, &[]);
    std::fs::create_dir_all(c.path("adir")).unwrap();
    std::fs::write(c.path("empty.csv"), "").unwrap();
    std::fs::write(c.path("cols.csv"), "supplier_id,name\nSUP-1,A\n").unwrap();
    std::fs::write(
        c.path("garbage.csv"),
        (0..4096u32)
            .map(|i| (i * 7 % 256) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    write_csv(
        &c.path("bad-rows.csv"),
        0,
        &[
            "SUP-100001,Good One,FR,approved,a@example.com,,2026-11-02T09:14:00Z",
            "SUP-100002,Bad Mail,FR,approved,not-an-email,,2026-11-02T09:14:00Z",
            "SUP-100003,Bad Country,XXX,approved,a@example.com,,2026-11-02T09:14:00Z",
            "SUP-100004,\"Unclosed quote,FR,approved,a@example.com,,2026-11-02T09:14:00Z",
        ],
    );
    let good = r#"{"supplier_id":"SUP-200001","name":"Acme","country":"DE","status":"approved","contact_email":"q@acme.example","certifications":["ISO 9001"],"updated_at":"2026-11-02T09:14:00Z"}"#;
    std::fs::write(
        c.path("mixed.jsonl"),
        format!("{good}\n{{not json\n[1,2,3]\n{{\"supplier_id\":42}}\n\n"),
    )
    .unwrap();
    std::fs::write(c.path("junk.jsonl"), "{nope\n<xml/>\n\"string\"\n").unwrap();
    std::fs::write(c.path("a-file"), "a regular file, not a directory").unwrap();
}

fn run(c: &Ctx, args: &[String], env: &[(&str, String)]) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_supsync"));
    cmd.args(args)
        .env("SUPSYNC_CLIENT_SECRET", SECRET)
        .env("HOME", &c.dir)
        .env("XDG_CONFIG_HOME", c.path("xdg-config"))
        .env("XDG_STATE_HOME", c.path("xdg-state"))
        .env_remove("RUST_LOG")
        .env_remove("SUPSYNC_CONFIG")
        .env_remove("SUPSYNC_STATE_DIR")
        .stdin(std::process::Stdio::null());
    for (k, val) in env {
        if val.is_empty() {
            cmd.env_remove(k);
        } else {
            cmd.env(k, val);
        }
    }
    cmd.output().unwrap()
}

/// Runs that the journal cases need: one done, one with a corrupt middle line, one with
/// a garbage manifest, one interrupted whose source then changes.
fn prepare_runs(c: &Ctx) {
    let cfg = c.config("prep.toml", "");
    let base = |id: &str, src: &str| {
        v(&[
            "--config",
            &cfg,
            "--state-dir",
            &c.arg("state"),
            "run",
            "--headless",
            "--run-id",
            id,
            "--source",
            &c.arg(src),
        ])
    };
    write_csv(&c.path("three.csv"), 150, &[]);
    for id in ["done-run", "corrupt-run", "bad-manifest"] {
        let o = run(c, &base(id, "three.csv"), &[]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    let runs = c.path("state/runs");
    let j = runs.join("corrupt-run/journal.jsonl");
    let body = std::fs::read_to_string(&j).unwrap();
    let mut lines: Vec<&str> = body.lines().collect();
    assert!(lines.len() >= 3, "{body}");
    lines[1] = "{\"kind\":\"segment\",\"index\":GARBAGE";
    std::fs::write(&j, lines.join("\n") + "\n").unwrap();
    std::fs::write(
        runs.join("bad-manifest/manifest.json"),
        "{\"version\": 1, \"run_",
    )
    .unwrap();

    // Interrupted: killed once its manifest exists (slow server), then the source changes.
    write_csv(&c.path("changing.csv"), 200, &[]);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_supsync"))
        .args(base("changed-run", "changing.csv"))
        .args(["--set", "sync.concurrency=1"])
        .env("SUPSYNC_CLIENT_SECRET", SECRET)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let manifest = runs.join("changed-run/manifest.json");
    let t = Instant::now();
    while !manifest.exists() {
        assert!(t.elapsed() < Duration::from_secs(20), "no manifest");
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
    write_csv(&c.path("changing.csv"), 201, &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_input_gets_one_clear_line_and_its_exit_code() {
    // 40 ms a record: the interrupted run's first segment takes 2 s, time enough to kill it.
    let sim = Sim {
        per_record_ms: 40,
        ..Sim::default()
    }
    .start()
    .await;
    let dir = tempfile::tempdir().unwrap();
    let c = Ctx {
        dir: dir.path().to_path_buf(),
        url: sim.url(),
    };
    fixtures(&c);
    let c = tokio::task::spawn_blocking(move || {
        prepare_runs(&c);
        c
    })
    .await
    .unwrap();
    let cases = cases();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let before = sim.stats();
        let (args, env) = (case.args)(&c);
        let o = tokio::task::block_in_place(|| run(&c, &args, &env));
        let after = sim.stats();
        let t = text(&o);
        let stderr = String::from_utf8_lossy(&o.stderr).to_string();
        let lower = t.to_lowercase();
        let all = format!("{}\n{stderr}", String::from_utf8_lossy(&o.stdout));
        let errors: Vec<&str> = all.lines().filter(|l| l.starts_with("error")).collect();
        let mut wrong = Vec::new();
        if o.status.code() != Some(case.code) {
            wrong.push(format!("exit {:?}, want {}", o.status.code(), case.code));
        }
        if lower.contains("panicked") || lower.contains("backtrace") {
            wrong.push("panicked".into());
        }
        for n in case.needles {
            if !lower.contains(&n.to_lowercase()) {
                wrong.push(format!("does not mention {n:?}"));
            }
        }
        if errors.len() > 1 {
            wrong.push(format!("{} error lines, want one", errors.len()));
        }
        let synced = stat(&after, "records_created") - stat(&before, "records_created");
        if !case.may_sync && synced > 0 {
            wrong.push(format!("{synced} records created"));
        }
        eprintln!(
            "[{}] {:<45} exit {:?}: {}",
            if wrong.is_empty() { "ok" } else { "FAIL" },
            case.name,
            o.status.code(),
            errors
                .first()
                .copied()
                .unwrap_or_else(|| stderr.lines().last().unwrap_or(""))
        );
        if !wrong.is_empty() {
            failures.push(format!("{}: {}\n{t}", case.name, wrong.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
}
