//! Client authentication methods, extra grant parameters and API headers against the
//! simulator over HTTPS, through the real binary: the same 500-record push succeeds with
//! each method changing only `[auth]`; a server that requires an `audience` parameter and
//! an `apiKey` header refuses a client without them; bad key material stops with exit 2,
//! naming the key and the file, before any request.

mod common;

use std::path::PathBuf;

use common::keys::{API_KEY, Material, config, material, tls_sim, write};
use common::{cmd, stat, text, write_csv};
use supsync::sim::client_auth::ClientAuthProfile;

const AUDIENCE: &str = "https://suppliers.example.test";

fn auth_variants(m: &Material) -> Vec<(&'static str, String)> {
    vec![
        (
            "client_secret_basic",
            "method = \"client_secret_basic\"".into(),
        ),
        (
            "client_secret_post",
            "method = \"client_secret_post\"".into(),
        ),
        (
            "private_key_jwt RS256",
            format!(
                "method = \"private_key_jwt\"\nprivate_key_file = \"{}\"\nsigning_alg = \"RS256\"",
                m.rsa_key.display()
            ),
        ),
        (
            "private_key_jwt PS256",
            format!(
                "method = \"private_key_jwt\"\nprivate_key_file = \"{}\"\nsigning_alg = \"PS256\"",
                m.rsa_key.display()
            ),
        ),
        (
            "private_key_jwt ES256 (JWKS, kid)",
            format!(
                "method = \"private_key_jwt\"\nprivate_key_file = \"{}\"\nsigning_alg = \"ES256\"\nkey_id = \"ec-1\"",
                m.ec_key.display()
            ),
        ),
        (
            "tls_client_auth",
            format!(
                "method = \"tls_client_auth\"\nclient_cert_file = \"{}\"\nclient_key_file = \"{}\"",
                m.client_cert.display(),
                m.client_key.display()
            ),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_sync_succeeds_with_each_client_auth_method() {
    let work = tempfile::tempdir().unwrap();
    let m = material(work.path());
    let src = work.path().join("suppliers.csv");
    write_csv(&src, 500, &[]);
    for (name, auth) in auth_variants(&m) {
        let dir = tempfile::tempdir().unwrap();
        let (sim, ca) = tls_sim(&m, dir.path(), |_| {}).await;
        let cfg = config(dir.path(), &sim.url(), &ca, &auth, "");
        let (d, c, s) = (dir.path().to_path_buf(), cfg.clone(), src.clone());
        let out = tokio::task::spawn_blocking(move || {
            cmd(
                &d,
                &c,
                &["run", "--headless", "--source", s.to_str().unwrap()],
            )
            .output()
            .unwrap()
        })
        .await
        .unwrap();
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out));
        let st = sim.stats();
        assert_eq!(stat(&st, "records_total"), 500, "{name}: {st}");
        assert!(stat(&st, "tokens_issued") >= 1, "{name}: {st}");
        assert_eq!(stat(&st, "token_errors"), 0, "{name}: {st}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_refuses_a_method_with_the_wrong_credential() {
    let work = tempfile::tempdir().unwrap();
    let m = material(work.path());
    // Only the certificate is accepted: a secret client is told which methods are.
    let (sim, ca) = tls_sim(&m, work.path(), |a| {
        a.methods = vec!["tls_client_auth".into()];
    })
    .await;
    let cfg = config(
        work.path(),
        &sim.url(),
        &ca,
        "method = \"client_secret_post\"",
        "",
    );
    let d = work.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        cmd(
            &d,
            &cfg,
            &[
                "run",
                "--headless",
                "--pull",
                d.join("o.jsonl").to_str().unwrap(),
            ],
        )
        .output()
        .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("invalid_client") && stderr.contains("tls_client_auth"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_audience_and_api_key() {
    let work = tempfile::tempdir().unwrap();
    let m = material(work.path());
    let src = work.path().join("suppliers.csv");
    write_csv(&src, 500, &[]);
    let require = |a: &mut ClientAuthProfile| {
        a.required_params.insert("audience".into(), AUDIENCE.into());
        a.required_headers.insert("apiKey".into(), API_KEY.into());
    };
    let run = |dir: PathBuf, cfg: PathBuf, src: PathBuf| {
        tokio::task::spawn_blocking(move || {
            cmd(
                &dir,
                &cfg,
                &["run", "--headless", "--source", src.to_str().unwrap()],
            )
            .env("TEST_API_KEY", API_KEY)
            .output()
            .unwrap()
        })
    };
    let with_both = format!(
        "[auth.extra_params]\naudience = \"{AUDIENCE}\"\n[api.headers]\napiKey = {{ env = \"TEST_API_KEY\" }}\n"
    );

    // Both given: the sync goes through.
    let dir = tempfile::tempdir().unwrap();
    let (sim, ca) = tls_sim(&m, dir.path(), require).await;
    let cfg = config(dir.path(), &sim.url(), &ca, "", &with_both);
    let out = run(dir.path().into(), cfg, src.clone()).await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(stat(&sim.stats(), "records_total"), 500);
    assert_eq!(stat(&sim.stats(), "unauthorized"), 0);

    // No audience: the token endpoint answers 400 naming the parameter; an auth failure.
    let dir = tempfile::tempdir().unwrap();
    let (sim, ca) = tls_sim(&m, dir.path(), require).await;
    let headers_only = "[api.headers]\napiKey = { env = \"TEST_API_KEY\" }\n".to_string();
    let cfg = config(dir.path(), &sim.url(), &ca, "", &headers_only);
    let out = run(dir.path().into(), cfg, src.clone()).await.unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(text(&out).contains("audience"), "{}", text(&out));
    assert_eq!(stat(&sim.stats(), "records_total"), 0);

    // No apiKey: every API call is a 401, nothing is stored.
    let dir = tempfile::tempdir().unwrap();
    let (sim, ca) = tls_sim(&m, dir.path(), require).await;
    let params_only = format!("[auth.extra_params]\naudience = \"{AUDIENCE}\"\n");
    let cfg = config(dir.path(), &sim.url(), &ca, "", &params_only);
    let out = run(dir.path().into(), cfg, src.clone()).await.unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    let st = sim.stats();
    assert!(stat(&st, "unauthorized") > 0, "{st}");
    assert_eq!(stat(&st, "records_total"), 0, "{st}");
}

/// Bad key material: exit 2 from `config --check` and from `run`, naming the key and the
/// file, and the server never hears of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_key_material_is_exit_2_before_any_request() {
    let work = tempfile::tempdir().unwrap();
    let m = material(work.path());
    let garbage = write(
        work.path(),
        "garbage.pem",
        "-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n",
    );
    let missing = work.path().join("no-such-key.pem");
    let cases: Vec<(&str, String, Vec<String>)> = vec![
        (
            "missing key file",
            format!(
                "method = \"private_key_jwt\"\nprivate_key_file = \"{}\"",
                missing.display()
            ),
            vec![
                "auth.private_key_file".into(),
                missing.display().to_string(),
            ],
        ),
        (
            "unparseable key",
            format!(
                "method = \"private_key_jwt\"\nprivate_key_file = \"{}\"",
                garbage.display()
            ),
            vec![
                "auth.private_key_file".into(),
                garbage.display().to_string(),
            ],
        ),
        (
            "wrong algorithm for the key",
            format!(
                "method = \"private_key_jwt\"\nprivate_key_file = \"{}\"\nsigning_alg = \"RS256\"",
                m.ec_key.display()
            ),
            vec![
                "auth.private_key_file".into(),
                m.ec_key.display().to_string(),
                "ES256".into(),
            ],
        ),
        (
            "certificate without its key",
            format!(
                "method = \"tls_client_auth\"\nclient_cert_file = \"{}\"",
                m.client_cert.display()
            ),
            vec!["auth.client_key_file".into()],
        ),
        (
            "certificate with another key",
            format!(
                "method = \"tls_client_auth\"\nclient_cert_file = \"{}\"\nclient_key_file = \"{}\"",
                m.client_cert.display(),
                m.other_key.display()
            ),
            vec![
                "auth.client_key_file".into(),
                m.other_key.display().to_string(),
                m.client_cert.display().to_string(),
            ],
        ),
    ];
    let (sim, ca) = tls_sim(&m, work.path(), |_| {}).await;
    for (name, auth, needles) in cases {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), &sim.url(), &ca, &auth, "");
        let d = dir.path().to_path_buf();
        let src = d.join("s.csv");
        write_csv(&src, 10, &[]);
        let (check, run) = tokio::task::spawn_blocking(move || {
            (
                cmd(&d, &cfg, &["config", "--check"]).output().unwrap(),
                cmd(
                    &d,
                    &cfg,
                    &["run", "--headless", "--source", src.to_str().unwrap()],
                )
                .output()
                .unwrap(),
            )
        })
        .await
        .unwrap();
        for (what, out) in [("config --check", &check), ("run", &run)] {
            assert_eq!(out.status.code(), Some(2), "{name}, {what}: {}", text(out));
            let stderr = String::from_utf8_lossy(&out.stderr);
            for n in &needles {
                assert!(
                    stderr.contains(n.as_str()),
                    "{name}, {what}: no {n:?} in {stderr}"
                );
            }
        }
    }
    assert_eq!(stat(&sim.stats(), "requests"), 0, "{}", sim.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_check_shows_certificate_expiry_and_warns_of_readable_keys() {
    let work = tempfile::tempdir().unwrap();
    let m = material(work.path());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&m.client_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let auth = format!(
        "method = \"tls_client_auth\"\nclient_cert_file = \"{}\"\nclient_key_file = \"{}\"",
        m.client_cert.display(),
        m.client_key.display()
    );
    let cfg = config(work.path(), "https://127.0.0.1:9", &m.client_ca, &auth, "");
    let out = cmd(work.path(), &cfg, &["config", "--check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("CN=supplier-sync") && all.contains("expires"),
        "{all}"
    );
    #[cfg(unix)]
    assert!(
        all.contains("chmod 600") && all.contains("client.key"),
        "{all}"
    );
    assert!(
        !all.contains(m.client_key_pem.lines().nth(1).unwrap()),
        "{all}"
    );
}

/// `diagnose` builds its clients the way a run does: against a server on a private CA that
/// accepts only a client certificate it gets a token, calls the API and reads the first
/// page. `status --json` shows the run's certificate's notAfter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnose_and_status_with_a_client_certificate_and_a_private_ca() {
    let work = tempfile::tempdir().unwrap();
    let m = material(work.path());
    let (sim, ca) = tls_sim(&m, work.path(), |a| {
        a.methods = vec!["tls_client_auth".into()];
    })
    .await;
    let auth = format!(
        "method = \"tls_client_auth\"\nclient_cert_file = \"{}\"\nclient_key_file = \"{}\"",
        m.client_cert.display(),
        m.client_key.display()
    );
    let prom = work.path().join("supsync.prom");
    let cfg = config(
        work.path(),
        &sim.url(),
        &ca,
        &auth,
        &format!("[metrics]\nfile = \"{}\"\n", prom.display()),
    );
    let src = work.path().join("suppliers.csv");
    write_csv(&src, 100, &[]);
    let d = work.path().to_path_buf();
    let (diag, run, status) = tokio::task::spawn_blocking(move || {
        let diag = cmd(&d, &cfg, &["diagnose", "--json", "--probe-secs", "1"])
            .output()
            .unwrap();
        let run = cmd(
            &d,
            &cfg,
            &[
                "run",
                "--headless",
                "--run-id",
                "cert",
                "--source",
                src.to_str().unwrap(),
            ],
        )
        .output()
        .unwrap();
        let status = cmd(&d, &cfg, &["status", "cert", "--json"])
            .output()
            .unwrap();
        (diag, run, status)
    })
    .await
    .unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&diag.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&diag)));
    let f = &report["findings"];
    assert!(f["token"].is_object(), "no token: {}", text(&diag));
    assert_eq!(f["token"]["first_call"]["status"], 200, "{}", text(&diag));
    assert_eq!(f["mapping"]["first_page"]["ok"], true, "{}", text(&diag));
    assert_ne!(diag.status.code(), Some(4), "{}", text(&diag));
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let st: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let c = &st["credentials"];
    assert!(c["client_certificate_not_after"].as_str().is_some(), "{st}");
    assert!(
        c["client_certificate_days_left"].as_i64().unwrap() > 0,
        "{st}"
    );
    assert!(
        st["api_mapping"][0].as_str().unwrap().contains("contract"),
        "{st}"
    );
    // The metrics carry the certificate's notAfter, the same instant status shows.
    let metrics = std::fs::read_to_string(&prom).unwrap();
    let not_after =
        chrono::DateTime::parse_from_rfc3339(c["client_certificate_not_after"].as_str().unwrap())
            .unwrap()
            .timestamp();
    assert!(
        metrics
            .lines()
            .any(|l| l.contains("credential_expiry_timestamp_seconds")
                && l.contains("client_certificate")
                && l.ends_with(&format!(" {not_after}"))),
        "{metrics}"
    );
}
