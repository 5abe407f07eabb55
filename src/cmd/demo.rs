//! `supsync demo`: a whole sync against the built-in simulator, no server or config needed.
//! The simulator runs in-process on a free loopback port with the `demo` profile (every
//! token clock divided by 60), N deterministic supplier records (a few deliberately
//! invalid) are written to a CSV under the state dir, and a push runs in the console, or
//! headless when asked or when stdout is not a terminal. `--api STYLE` makes the simulator
//! serve that API style and the client speak it through the matching preset.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::drive::{Drive, console_wanted, drive};
use super::out::print_line;
use super::prefix::command_prefix;
use crate::cli::{ApiStyle, DemoArgs, DemoAuth, DemoExpiry, GlobalArgs};
use crate::config::{AuthKind, Config, TokenCacheMode, UiConfig};
use crate::engine::{RunMode, RunParams};
use crate::observe::ObserveOptions;
use crate::record::Supplier;
use crate::secret::Secret;
use crate::sim::{ExpirySignal, Profile, SimServer};

const CLIENT_ID: &str = "supplier-sync";
const CLIENT_SECRET: &str = "change-me";
/// The most records a demo generates: about three hours at the demo's pace, and a few
/// tens of megabytes in its in-process simulator's store.
const MAX_RECORDS: u64 = 100_000;
/// One record in this many is invalid (≈1.5%), so the demo shows rejects.
const INVALID_EVERY: u64 = 67;

pub fn run(global: &GlobalArgs, args: DemoArgs) -> anyhow::Result<i32> {
    if args.records == 0 || args.records > MAX_RECORDS {
        // Usage, like a bad argument: exit 2 with the reason.
        super::out::eprint_line(&format!(
            "error: --records {} is outside 1..={MAX_RECORDS}: the demo's simulator paces about \
             9 records a second (100,000 take about three hours) and keeps every pushed record \
             in memory; for a load test start `supsync simulate` and push a file of your own \
             with `supsync run --source`",
            args.records
        ));
        return Ok(crate::exit::CONFIG);
    }
    let console = console_wanted(args.drive.headless());
    let state_dir = crate::config::state_dir(global)
        .context("could not work out the state directory (set --state-dir)")?
        .join("demo");
    crate::safe_file::create_private_dir_all(&state_dir)
        .with_context(|| format!("could not create {}", state_dir.display()))?;
    let source = write_source(&state_dir, args.records)?;
    if console {
        crate::logging::init_console(&state_dir)?;
    } else {
        // Headless, a newcomer still sees the token's renewals (the point of the demo);
        // -v adds everything else, the simulator's requests included.
        match global.verbose {
            0 => crate::logging::init_stderr_filter("warn,supsync::token=info"),
            v => crate::logging::init_stderr(v),
        }
    }
    // Demo runs live in their own state dir, so the printed `status`/`retry` hints must
    // name it or they would look in the wrong place.
    let demo_global = GlobalArgs {
        state_dir: Some(state_dir.clone()),
        ..global.clone()
    };
    let how = Drive {
        console,
        ui: UiConfig::default(),
        command: command_prefix(&demo_global),
        observe: ObserveOptions {
            metrics_listen: args.drive.metrics_listen,
            metrics_linger: args.drive.metrics_linger,
            shard: None,
        },
        json: args
            .drive
            .json_progress(crate::headless::json::PROGRESS_EVERY),
    };

    let rt = super::runtime()?;
    let code = rt.block_on(async {
        let profile = demo_profile(args.api, args.auth, args.expiry)?;
        let listen: SocketAddr = ([127, 0, 0, 1], 0).into();
        let sim = SimServer::start(profile, listen)
            .await
            .context("could not start the demo simulator on 127.0.0.1")?;
        tracing::info!(
            "demo simulator listening on {} (API style {})",
            sim.url(),
            args.api.preset()
        );
        let mut config = demo_config(&sim.url());
        config.api.mapping.preset = Some(args.api.preset().to_string());
        speak(&mut config, args.auth, args.expiry);
        // One record at a time for a per-record style too, so every style plays at the
        // demo's pace (the refreshes and the session limit fall inside the run).
        config.api.mapping.push_concurrency = Some(1);
        let config = with_overrides(config, &global.set)?;
        let params = RunParams::new(
            config,
            Secret::new(CLIENT_SECRET),
            state_dir.clone(),
            RunMode::Push {
                source,
                run_id: None,
            },
        );
        let code = drive(params, &how).await;
        // What arrived, as the server saw it (`-v` shows it; tests read it).
        let stats = sim.stats();
        tracing::info!(
            target: "supsync::demo",
            "demo simulator ({} style) stored {} records: {} created, {} updated, {} rejected",
            args.api.preset(),
            stats["records_stored"],
            stats["records_created"],
            stats["records_updated"],
            stats["records_rejected"]
        );
        drop(sim);
        code
    })?;
    if code == crate::exit::INTERRUPTED {
        let note = format!(
            "(demo: its simulator stopped with it, so resuming needs a simulator again; `supsync demo` starts a fresh run. Demo runs live in {})",
            state_dir.display()
        );
        // With --json, stdout holds only the events, the summary last. Not written (the
        // terminal hung up): the run's exit code stands all the same.
        if args.drive.json {
            crate::cmd::out::eprint_line(&note);
        } else {
            let _ = print_line(&note);
        }
    }
    Ok(code)
}

/// With `--expiry 403|200-body`, one demo token in this many dies early.
const DEMO_EARLY_DEATH_EVERY: u64 = 3;

/// The built-in `demo` profile serving `style`, with sessions instead of bearer tokens when
/// asked, and dead credentials answered the `expiry` way.
fn demo_profile(style: ApiStyle, auth: DemoAuth, expiry: DemoExpiry) -> anyhow::Result<Profile> {
    let mut profile =
        Profile::builtin("demo").context("the built-in `demo` simulator profile is missing")?;
    profile.api.style = style.preset().to_string();
    // The demo profile's `[session]` has the demo clocks (15 s idle, 60 s cap, 30 s lock);
    // its user `sync-bot` has the demo's password.
    profile.session.enabled = auth == DemoAuth::Session;
    // Its user `sync-bot@example.com` has the demo's password; the demo clocks apply.
    profile.token_login.enabled = auth == DemoAuth::TokenLogin;
    profile.tokens.expiry_signal = match expiry {
        DemoExpiry::Status401 => ExpirySignal::Unauthorized,
        DemoExpiry::Status403 => ExpirySignal::Forbidden,
        DemoExpiry::Body200 => ExpirySignal::Body200,
    };
    // The demo renews before any clock kills a token, so the chosen answer would never be
    // seen: one token in three dies early instead.
    if expiry != DemoExpiry::Status401 {
        profile.tokens.early_death_every = DEMO_EARLY_DEATH_EVERY;
    }
    // The profile's checks ran on the built-in style; the new one must build too.
    profile
        .api
        .styled()
        .map_err(|e| anyhow::anyhow!("the demo simulator cannot serve {style:?}: {e}"))?;
    Ok(profile)
}

/// The client side of `--auth` and `--expiry`: a session login with the simulator's
/// defaults (docs/API.md §7) and a logout at the end; the `auth.expired_when` rule that
/// reads the server's way of saying "dead" (docs/API.md §2.5).
fn speak(c: &mut Config, auth: DemoAuth, expiry: DemoExpiry) {
    if auth == DemoAuth::Session {
        c.auth.kind = AuthKind::Session;
        c.auth.session.logout_path = "/api/v1/session/logout".into();
    }
    if auth == DemoAuth::TokenLogin {
        c.auth.kind = AuthKind::TokenLogin;
        c.auth.token_login.logout_path = "/auth/logout".into();
    }
    let rule = match expiry {
        DemoExpiry::Status401 => None,
        DemoExpiry::Status403 => Some("403 /error = token_expired"),
        DemoExpiry::Body200 => Some("200 /error/code = TOKEN_EXPIRED"),
    };
    c.auth.expired_when = rule.into_iter().map(String::from).collect();
}

/// The demo's configuration with the command line's `--set` over it, validated like any
/// other layer: an operator trying a setting in the demo sees it used, or told why not,
/// never silently dropped.
fn with_overrides(config: Config, sets: &[String]) -> anyhow::Result<Config> {
    if sets.is_empty() {
        return Ok(config);
    }
    let json = serde_json::to_value(&config).context("could not lay out the demo configuration")?;
    let base = crate::config::recorded::Recorded::from_manifest("demo", &json)?;
    let loaded = crate::config::load::load_layered(
        Some(&base),
        None,
        None,
        &std::collections::BTreeMap::new(),
        sets,
    )?;
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    Ok(loaded.config)
}

/// Settings sized for the demo profile's clocks (15 s tokens, 15 s idle, 60 s sessions).
pub fn demo_config(base_url: &str) -> Config {
    let mut c = Config::default();
    c.api.base_url = base_url.to_string();
    c.api.timeout_secs = 10;
    c.auth.client_id = CLIENT_ID.into();
    c.auth.refresh_margin_secs = 4;
    c.auth.expected_ttl_secs = 60;
    c.auth.keepalive_secs = 5;
    // The demo profile's clocks are known: the token pane counts them down from the start.
    c.auth.idle_timeout_secs = 15;
    c.auth.session_limit_secs = 60;
    c.auth.token_cache = TokenCacheMode::None;
    // The demo simulator works 100 ms a record and in parallel: one request at a time
    // makes 500 records last ≈ 55 s, long enough for several refreshes under the run and
    // the 60 s session limit right at its end (the console keeps the token alive after).
    c.sync.segment_size = 10;
    c.sync.concurrency = 1;
    c.sync.max_attempts = 5;
    c.sync.backoff_initial_ms = 200;
    c.sync.backoff_max_ms = 2_000;
    // `realistic`'s 120 s divided by 60, like every other demo duration: a long outage
    // then shows failed segments within seconds (and `r`/`R` bring them back).
    c.sync.max_retry_after_secs = 2;
    c.sync.expected_duration_secs = 60;
    c
}

/// Writes the demo's records to `<dir>/demo-suppliers-<n>.csv` (same content every time).
fn write_source(dir: &Path, n: u64) -> anyhow::Result<PathBuf> {
    let path = dir.join(format!("demo-suppliers-{n}.csv"));
    crate::source::write_csv_iter(&path, (0..n).map(demo_record))
        .with_context(|| format!("could not write the demo records to {}", path.display()))?;
    Ok(path)
}

/// `n` plausible suppliers, the same every time; one in [`INVALID_EVERY`] breaks one rule.
pub fn demo_records(n: u64) -> Vec<Supplier> {
    (0..n).map(demo_record).collect()
}

/// The demo's `i`-th supplier (generated on demand, so no run holds them all).
pub fn demo_record(i: u64) -> Supplier {
    const NAMES: [&str; 8] = [
        "Acme Castings",
        "Nordic Fasteners",
        "Baltic Polymers",
        "Rhein Precision",
        "Iberia Forge",
        "Alpine Sensors",
        "Danube Plating",
        "Carpathia Moulds",
    ];
    const SUFFIX: [&str; 4] = ["Ltd", "GmbH", "S.A.", "AB"];
    const COUNTRIES: [&str; 8] = ["DE", "SE", "PL", "FR", "ES", "AT", "HU", "RO"];
    const CERTS: [&str; 3] = ["ISO 9001", "IATF 16949", "ISO 14001"];
    let k = i as usize;
    let mut s = Supplier {
        supplier_id: format!("SUP-{:06}", 100_000 + i),
        name: format!("{} {} {}", NAMES[k % 8], SUFFIX[(k / 8) % 4], i),
        country: COUNTRIES[(k * 7) % 8].into(),
        status: crate::record::STATUSES[(k / 3) % 4].into(),
        contact_email: format!("quality{i}@supplier{}.example", k % 97),
        certifications: CERTS[..1 + k % 3].iter().map(|c| c.to_string()).collect(),
        updated_at: format!("2026-11-{:02}T09:{:02}:00Z", 1 + k % 28, k % 60),
    };
    if i % INVALID_EVERY == 13 {
        match (i / INVALID_EVERY) % 4 {
            0 => s.country = "XX".into(),
            1 => s.status = "blacklisted".into(),
            2 => s.contact_email = "not-an-address".into(),
            _ => s.name = String::new(),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_records_are_deterministic_with_a_few_invalid() {
        let a = demo_records(500);
        assert_eq!(a, demo_records(500));
        assert_eq!(a.len(), 500);
        let invalid = a
            .iter()
            .filter(|s| crate::record::validate(s).is_err())
            .count();
        assert_eq!(invalid, 8, "≈1.6% of 500");
        let ids: std::collections::HashSet<_> = a.iter().map(|s| &s.supplier_id).collect();
        assert_eq!(ids.len(), 500, "ids are unique");
    }

    #[test]
    fn every_api_style_is_a_preset_the_simulator_serves() {
        use clap::ValueEnum;
        for style in ApiStyle::value_variants() {
            assert!(
                crate::mapping::PRESETS.contains(&style.preset()),
                "{style:?}"
            );
            let p = demo_profile(*style, DemoAuth::Oauth2, DemoExpiry::Status401).unwrap();
            assert_eq!(p.api.style, style.preset());
            assert_eq!(
                p.api.styled().unwrap().is_some(),
                *style != ApiStyle::Contract,
                "contract is served by the plain API, the others by the styled one"
            );
        }
    }

    #[test]
    fn set_overrides_reach_the_demo_and_bad_ones_are_refused() {
        let c = demo_config("http://127.0.0.1:4321");
        let same = with_overrides(c.clone(), &[]).unwrap();
        assert_eq!(same, c);
        let four = with_overrides(c.clone(), &["sync.concurrency=4".into()]).unwrap();
        assert_eq!(four.sync.concurrency, 4);
        // Everything else is the demo's own.
        let mut expected = c.clone();
        expected.sync.concurrency = 4;
        assert_eq!(four, expected);
        let bad = with_overrides(c, &["sync.concurency=4".into()]).unwrap_err();
        assert!(format!("{bad:#}").contains("concurency"), "{bad:#}");
    }

    #[test]
    fn the_demo_client_speaks_what_its_simulator_serves() {
        let p = demo_profile(ApiStyle::Contract, DemoAuth::Session, DemoExpiry::Status403).unwrap();
        assert!(p.session.enabled);
        assert_eq!(p.tokens.expiry_signal, ExpirySignal::Forbidden);
        assert_eq!(p.tokens.early_death_every, DEMO_EARLY_DEATH_EVERY);
        let mut c = demo_config("http://127.0.0.1:4321");
        speak(&mut c, DemoAuth::Session, DemoExpiry::Status403);
        assert_eq!(c.auth.kind, AuthKind::Session);
        // The simulator's user and the demo's password are the same pair.
        assert_eq!(
            p.session
                .users
                .get(&c.auth.session.username)
                .map(String::as_str),
            Some(CLIENT_SECRET)
        );
        assert_eq!(c.auth.expired_when, ["403 /error = token_expired"]);
        let plain =
            demo_profile(ApiStyle::Contract, DemoAuth::Oauth2, DemoExpiry::Body200).unwrap();
        assert!(!plain.session.enabled);
        let mut c = demo_config("http://127.0.0.1:4321");
        speak(&mut c, DemoAuth::Oauth2, DemoExpiry::Body200);
        assert_eq!(c.auth.kind, AuthKind::Oauth2);
        assert_eq!(c.auth.expired_when, ["200 /error/code = TOKEN_EXPIRED"]);
    }

    #[test]
    fn demo_config_points_at_the_simulator_with_demo_margins() {
        let c = demo_config("http://127.0.0.1:4321");
        assert_eq!(c.token_url(), "http://127.0.0.1:4321/oauth/token");
        assert_eq!(c.auth.token_cache, TokenCacheMode::None);
        assert!(
            c.auth.refresh_margin_secs < 15 / 2,
            "margin under half the 15 s TTL"
        );
        assert!(
            c.auth.keepalive_secs < 15,
            "keep-alive inside the 15 s idle window"
        );
        assert_eq!(
            (c.auth.idle_timeout_secs, c.auth.session_limit_secs),
            (15, 60),
            "the demo profile's idle window and session limit, counted down from the start"
        );
        assert!(crate::config::check_transport(&c.api.base_url, false).is_ok());
    }
}
