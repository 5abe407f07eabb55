//! Command line: global options and subcommands. Each subcommand lives in `cmd/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "supsync",
    version,
    about = "Supplier data syncs that survive token expiry: a console, a headless engine, a diagnosis and an API simulator"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// Configuration file (default: the platform config dir's supsync/config.toml).
    #[arg(long, global = true, env = "SUPSYNC_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where runs, journals and the token cache live (default: the platform state dir).
    #[arg(long, global = true, env = "SUPSYNC_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Override one config value, e.g. `--set sync.concurrency=8` (repeatable; beats env and file).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// More log detail on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Watch a whole sync against a built-in simulator: no server or config needed.
    Demo(DemoArgs),
    /// Start a sync: push a local file into the API, or pull the API into a file.
    Run(RunArgs),
    /// Carry on with an interrupted run (default: the latest unfinished one), with the
    /// settings it recorded; the config file, env and --set override them.
    Resume(ResumeArgs),
    /// Retry failed segments of a finished run.
    Retry(RetryArgs),
    /// List runs, or show one run's summary and segments, from the journal alone.
    Status(StatusArgs),
    /// List the runs going on now on this machine (live, from their control sockets).
    Ps(PsArgs),
    /// Open the console on a run going on in another process; `q` detaches, the run goes on.
    Attach(AttachArgs),
    /// Find out which clock kills the token early, and why.
    Diagnose(DiagnoseArgs),
    /// Read the destination back through a push run's mapping and compare it with what the
    /// run pushed: exit 0 when the server holds every record as the source has it, 3 when
    /// records are missing or different.
    Verify(VerifyArgs),
    /// Run the supplier API simulator (OAuth2 server included), quirks and all.
    Simulate(SimulateArgs),
    /// Print the effective configuration and where each value came from.
    Config(ConfigArgs),
}

/// How a run is shown and watched; the same for `demo`, `run`, `resume` and `retry`.
#[derive(Debug, Clone, Default, Args)]
pub struct DriveArgs {
    /// No console, even on a terminal: progress lines and a summary.
    #[arg(long)]
    pub headless: bool,
    /// For scripts: NDJSON events on stdout, one JSON object per line (progress, token
    /// renewals, segment outcomes, notices, the summary last). Implies --headless; the
    /// human progress and summary go to stderr.
    #[arg(long)]
    pub json: bool,
    /// Milliseconds between --json `progress` events (default 5000). For tests.
    #[arg(long, hide = true, env = "SUPSYNC_JSON_PROGRESS_MS", value_name = "MS")]
    pub json_progress_ms: Option<u64>,
    /// Serve Prometheus metrics on `http://ADDR/metrics` while the run lasts (beats
    /// `metrics.listen`).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Keep serving `/metrics` this many seconds after the run ends, so the last scrape
    /// sees the end (beats `metrics.linger_secs`; default 0: exit at once).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub metrics_linger: Option<u64>,
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Supplier records to generate.
    #[arg(long, default_value_t = 500)]
    pub records: u64,
    /// The API style the demo's simulator serves and the client speaks (its preset in
    /// the `[api]` mapping; docs/API.md §6).
    #[arg(long, value_enum, value_name = "STYLE", default_value_t = ApiStyle::Contract)]
    pub api: ApiStyle,
    /// How the client authenticates: OAuth2 bearer tokens, or a session login whose id
    /// rides in a header (docs/API.md §7: idle window, cap, one session per user).
    #[arg(long, value_enum, value_name = "KIND", default_value_t = DemoAuth::Oauth2)]
    pub auth: DemoAuth,
    /// How the demo's server answers a call with a dead token or session: a 401, a 403,
    /// or a 200 whose body carries the error (the client gets the matching
    /// `auth.expired_when` rule; docs/API.md §2.5).
    #[arg(long, value_enum, value_name = "SIGNAL", default_value_t = DemoExpiry::Status401)]
    pub expiry: DemoExpiry,
    #[command(flatten)]
    pub drive: DriveArgs,
}

/// How the demo's client authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DemoAuth {
    /// Client-credentials and refresh-token grants, a bearer token on every call.
    Oauth2,
    /// A login with user and password, the session id on every call.
    Session,
    /// A data platform's login for an access and a refresh token (Directus's shape), the
    /// refresh endpoint rotating both, a bearer token on every call.
    #[value(name = "token_login")]
    TokenLogin,
}

/// How the demo's server says a token or session is dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DemoExpiry {
    #[value(name = "401")]
    Status401,
    #[value(name = "403")]
    Status403,
    #[value(name = "200-body")]
    Body200,
}

/// The API styles the simulator serves, each a preset of the `[api]` mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApiStyle {
    /// supsync's own contract: batches of records with an Idempotency-Key, offset/limit pulls.
    Contract,
    /// `{"data": …}` envelopes, one PUT per record (an upsert), next links in the body.
    #[value(name = "data_rest")]
    DataRest,
    /// OData v4: a JSON `$batch` of PUT sub-requests, `value` arrays, `$top`/`$skip`.
    Odata,
}

impl ApiStyle {
    /// The preset's name, as `api.preset` and a profile's `[api] style` spell it.
    pub fn preset(self) -> &'static str {
        match self {
            ApiStyle::Contract => "contract",
            ApiStyle::DataRest => "data_rest",
            ApiStyle::Odata => "odata",
        }
    }
}

#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("direction").required(true).args(["source", "pull"])))]
pub struct RunArgs {
    /// Push the records of this CSV or JSON Lines file.
    #[arg(long, value_name = "FILE")]
    pub source: Option<PathBuf>,
    /// Pull every supplier into this file (.jsonl or .csv).
    #[arg(long, value_name = "OUT")]
    pub pull: Option<PathBuf>,
    #[command(flatten)]
    pub drive: DriveArgs,
    /// Name the run (default: generated from the time).
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
    #[command(flatten)]
    pub shard: ShardArgs,
}

/// One shard of a run cut across processes or machines (README "Shards").
#[derive(Debug, Clone, Default, Args)]
pub struct ShardArgs {
    /// Take shard K of N (K from 0): a push takes the records whose supplier id hashes to
    /// K, a pull every N-th page range from the K-th. The run id gets `-sKofN` appended.
    #[arg(long, value_name = "K/N", conflicts_with = "shards")]
    pub shard: Option<String>,
    /// N shards, this process's K from the environment's JOB_COMPLETION_INDEX (what a
    /// Kubernetes Indexed Job sets).
    #[arg(long, value_name = "N")]
    pub shards: Option<u32>,
}

#[derive(Debug, Clone, Args)]
pub struct ResumeArgs {
    pub run_id: Option<String>,
    /// Carry on even though the configuration names another destination (base URL, token
    /// URL, API paths) than the run recorded.
    #[arg(long)]
    pub force_destination: bool,
    #[command(flatten)]
    pub drive: DriveArgs,
    /// Carry on only as this shard: a run recorded as another one is refused.
    #[command(flatten)]
    pub shard: ShardArgs,
}

#[derive(Debug, Clone, Args)]
pub struct RetryArgs {
    pub run_id: String,
    /// Segment to retry (repeatable; default: every failed segment).
    #[arg(long = "segment", value_name = "N")]
    pub segments: Vec<usize>,
    /// Retry even though the configuration names another destination (base URL, token
    /// URL, API paths) than the run recorded.
    #[arg(long)]
    pub force_destination: bool,
    #[command(flatten)]
    pub drive: DriveArgs,
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    pub run_id: Option<String>,
    #[arg(long)]
    pub json: bool,
    /// The shards of one run summed: GROUP is the `--run-id` they were started with (or
    /// any shard's own run id). Their journals are looked for under --in.
    #[arg(long, value_name = "GROUP", conflicts_with = "run_id")]
    pub shards: Option<String>,
    /// With --shards: a state dir holding shard runs, or a glob of them such as
    /// `/state/*` (`*` and `?` within a path part; repeatable; default: the state dir).
    #[arg(long = "in", value_name = "DIR|GLOB", requires = "shards")]
    pub dirs: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// The push run to verify (any unique prefix of its id).
    pub run_id: String,
    /// Also list records on the server that the source does not have.
    #[arg(long)]
    pub extra: bool,
    /// The report as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct PsArgs {
    /// A JSON array of the live runs instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct AttachArgs {
    /// The run to attach to (default: the only live one).
    pub run_id: Option<String>,
    /// Only watch: pause, refresh and retry keys are ignored.
    #[arg(long)]
    pub read_only: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DiagnoseArgs {
    /// One JSON object instead of the report.
    #[arg(long)]
    pub json: bool,
    /// How long the idle probe may leave a token unused, in seconds (an idle window
    /// longer than this does not show unless the server sends X-Token-Expires-In).
    #[arg(long, value_name = "SECS", default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub probe_secs: u64,
    /// Calls made in a row on one token, to see a revocation after some uses.
    #[arg(long, value_name = "N", default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub probe_calls: u32,
    /// How long a probe may wait for a token to run out (to see how the API answers a
    /// dead one) or for the server's refresh window to open (to refresh inside it), in
    /// seconds; 0 never waits.
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub wait_secs: u64,
    /// Logins with the configured password a session diagnose may make (1: idle window,
    /// cap and dead-session answer on one session; 2: also whether a second login ends
    /// the first). A refused login is never tried again, whatever N.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub logins: u32,
    /// Token logins: after a refresh that rotates, present the spent refresh token once
    /// more to see whether the server detects reuse (and revokes the chain). Off unless
    /// asked: a server may record a reused refresh token as a security event on the user.
    #[arg(long)]
    pub reuse_check: bool,
}

#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// `realistic`, `demo`, or a profile TOML file.
    #[arg(long, default_value = "realistic")]
    pub profile: String,
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Serve HTTPS with a certificate made at start; its CA is written to a file for
    /// clients to trust (`api.ca_file`), and the path printed.
    #[arg(long)]
    pub tls: bool,
    /// With --tls: where to write the CA certificate (default: the temp dir).
    #[arg(long, value_name = "PATH", requires = "tls")]
    pub ca_out: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// Only validate; print nothing but errors.
    #[arg(long)]
    pub check: bool,
}

impl DriveArgs {
    /// No console: asked for, or implied by `--json` (stdout belongs to the events).
    pub fn headless(&self) -> bool {
        self.headless || self.json
    }

    /// With `--json`: how often a `progress` event is written (`default` unless the
    /// test-only interval is set).
    pub fn json_progress(&self, default: std::time::Duration) -> Option<std::time::Duration> {
        self.json.then(|| {
            self.json_progress_ms
                .map_or(default, |ms| std::time::Duration::from_millis(ms.max(10)))
        })
    }
}
