//! What the figures share: a simulator profile, generated sources, a config file, and a
//! child run of the real binary measured with `wait4` (CPU time and peak RSS of that
//! process alone; the simulator lives in this process and is not counted).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use supsync::sim::{Profile, SimServer};

pub const SECRET: &str = "bench-secret";

/// Simulator profile: clocks (scope TTL, idle, session in seconds) and API limits.
pub struct SimSpec {
    pub scope_ttl: u64,
    pub idle: u64,
    pub session: u64,
    pub per_record_ms: u64,
    pub max_batch: u64,
    pub max_concurrent: u64,
    /// Suppliers the simulator holds at start (what a pull gets).
    pub suppliers: u64,
}

impl SimSpec {
    /// Long clocks, no per-record work, no limits: the client is the only cost.
    pub fn unlimited(max_batch: u64) -> Self {
        SimSpec {
            scope_ttl: 900,
            idle: 900,
            session: 3600,
            per_record_ms: 0,
            max_batch,
            max_concurrent: 0,
            suppliers: 0,
        }
    }

    pub fn profile(&self) -> Profile {
        Profile::from_toml(&format!(
            r#"
[tokens]
default_ttl_secs = 3600
scope_ttl_secs = {{ supplier_mgmt = {ttl} }}
idle_timeout_secs = {idle}
absolute_timeout_secs = {session}
[clients]
supplier-sync = "{SECRET}"
[api]
per_record_ms = {prm}
max_batch = {mb}
max_concurrent = {mc}
[faults]
error_rate = 0.0
drop_rate = 0.0
[data]
suppliers = {sup}
"#,
            ttl = self.scope_ttl,
            idle = self.idle,
            session = self.session,
            prm = self.per_record_ms,
            mb = self.max_batch,
            mc = self.max_concurrent,
            sup = self.suppliers,
        ))
        .expect("bench profile parses")
    }

    pub fn start(&self, rt: &tokio::runtime::Runtime) -> SimServer {
        rt.block_on(SimServer::start(
            self.profile(),
            "127.0.0.1:0".parse().expect("loopback address"),
        ))
        .expect("simulator starts on loopback")
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

pub fn row(i: u64) -> String {
    format!(
        "SUP-{i:07},Supplier {i} Ltd,DE,approved,q{i}@example.com,ISO 9001;IATF 16949,2026-11-02T09:14:00Z\n"
    )
}

/// Writes `n` valid suppliers as CSV, streaming (a million rows never sit in memory).
pub fn write_csv(path: &Path, n: u64) {
    let mut w = BufWriter::new(File::create(path).expect("create the source file"));
    w.write_all(b"supplier_id,name,country,status,contact_email,certifications,updated_at\n")
        .expect("write the source");
    for i in 0..n {
        w.write_all(row(i).as_bytes()).expect("write the source");
    }
    w.flush().expect("write the source");
}

pub fn write_config(dir: &Path, url: &str, segment: usize, concurrency: usize) -> PathBuf {
    let p = dir.join("config.toml");
    std::fs::write(
        &p,
        format!(
            r#"
[api]
base_url = "{url}"
timeout_secs = 60
[auth]
token_cache = "none"
[sync]
segment_size = {segment}
concurrency = {concurrency}
backoff_initial_ms = 20
backoff_max_ms = 500
"#
        ),
    )
    .expect("write the config");
    p
}

/// One measured run of the real binary.
pub struct ChildRun {
    pub code: Option<i32>,
    pub wall: Duration,
    /// User + system CPU of the child.
    pub cpu: Duration,
    /// Peak resident set of the child (VmHWM), bytes.
    pub max_rss: u64,
    pub stdout: String,
    pub stderr: String,
    /// CPU the hypervisor gave other guests while the child ran (see [`steal_time`]).
    pub stolen: Duration,
}

/// Runs `target/release/supsync <args>` with the config, state dir and secret, waits for
/// it with `wait4` and returns its own resource usage.
pub fn run_supsync(dir: &Path, cfg: &Path, args: &[&str]) -> ChildRun {
    let out = dir.join("child.stdout");
    let err = dir.join("child.stderr");
    let started = Instant::now();
    let stolen_before = steal_time();
    // Waited for below with wait4 (which std's Child cannot do), hence the allow.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(env!("CARGO_BIN_EXE_supsync"))
        .arg("--config")
        .arg(cfg)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .args(args)
        .env("SUPSYNC_CLIENT_SECRET", SECRET)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(File::create(&out).expect("stdout file"))
        .stderr(File::create(&err).expect("stderr file"))
        .spawn()
        .expect("the release binary starts");
    let pid = child.id() as libc::pid_t;
    // Peak RSS from the child's own VmHWM, sampled until it exits: wait4's ru_maxrss would
    // also count this process's RSS at spawn time (Linux carries the parent's high-water
    // mark across fork and exec), and this process holds the simulator's records.
    let hwm = std::thread::spawn(move || {
        let mut peak = 0u64;
        while let Some(kb) = vm_hwm_kb(pid) {
            peak = peak.max(kb);
            std::thread::sleep(Duration::from_millis(20));
        }
        peak * 1024
    });
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet waited for; both pointers are valid.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4 on the child");
    let wall = started.elapsed();
    let stolen = steal_time().saturating_sub(stolen_before);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    let max_rss = hwm.join().unwrap_or(0);
    ChildRun {
        code,
        wall,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        max_rss,
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
        stolen,
    }
}

/// One headless push of `records` generated suppliers through the real binary.
pub struct Push {
    pub run: ChildRun,
    /// The simulator's counters after the run.
    pub stats: serde_json::Value,
    pub source_bytes: u64,
}

/// Pushes `records` generated suppliers to `sim` with the given segment size and
/// concurrency, and checks the run succeeded and created every one of them.
pub fn push_through(sim: &SimServer, records: u64, segment: usize, concurrency: usize) -> Push {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path().join("suppliers.csv");
    write_csv(&src, records);
    let source_bytes = std::fs::metadata(&src).map_or(0, |m| m.len());
    let cfg = write_config(dir.path(), &sim.url(), segment, concurrency);
    let src_arg = src.to_string_lossy().to_string();
    let run = run_supsync(
        dir.path(),
        &cfg,
        &["run", "--headless", "--source", &src_arg],
    );
    run.expect_code(0);
    let stats = sim.stats();
    assert_eq!(stat(&stats, "records_created"), records, "{stats}");
    Push {
        run,
        stats,
        source_bytes,
    }
}

/// VmHWM of a live process, in kB; `None` once it has exited (a zombie has no memory).
fn vm_hwm_kb(pid: libc::pid_t) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

impl ChildRun {
    /// Panics with the child's output unless it exited with `code`.
    pub fn expect_code(&self, code: i32) {
        assert_eq!(
            self.code,
            Some(code),
            "supsync exited {:?}\nstdout:\n{}\nstderr:\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
    }
}

pub fn stat(v: &serde_json::Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_default()
}

/// CPU time the hypervisor gave to other guests ("steal", all CPUs together) since boot;
/// zero where /proc/stat has no such column.
pub fn steal_time() -> Duration {
    let ticks = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            let cpu = s.lines().next()?.to_string();
            cpu.split_whitespace().nth(8)?.parse::<u64>().ok()
        })
        .unwrap_or(0);
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

/// Prints the machine the figures come from.
pub fn machine() {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024 / 1024);
    println!("MACHINE: {cpus} CPUs ({model}), {mem} GiB RAM");
}
