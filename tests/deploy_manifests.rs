//! The Kubernetes manifests in deploy/ are what the README tells an operator to apply: each
//! parses, the Indexed Job (and the CronJob's) keeps the shard contract (completions =
//! parallelism = `--shards`, the index from JOB_COMPLETION_INDEX), its pod failure policy
//! speaks supsync's real exit codes, what it mounts and reads exists in the other
//! manifests, and the ConfigMap's config passes `supsync config --check`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_norway::Value;
use supsync::exit;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

/// Every YAML file under deploy/, recursively.
fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
}

/// Every document of every manifest, by kind and name; each parses and has both.
fn documents() -> BTreeMap<(String, String), Value> {
    let mut files = Vec::new();
    yaml_files(&deploy_dir(), &mut files);
    assert!(files.len() >= 6, "manifests in deploy/: {files:?}");
    let mut docs = BTreeMap::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for d in serde_norway::Deserializer::from_str(&text) {
            let v = <Value as serde::Deserialize>::deserialize(d)
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let kind = s(&v["kind"], &f, "kind");
            let name = s(&v["metadata"]["name"], &f, "metadata.name");
            assert!(v["apiVersion"].is_string(), "{}: apiVersion", f.display());
            let dup = docs.insert((kind.clone(), name.clone()), v);
            assert!(dup.is_none(), "{kind} {name} defined twice");
        }
    }
    docs
}

fn s(v: &Value, f: &Path, what: &str) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("{}: {what} missing or not a string", f.display()))
        .to_string()
}

fn get<'a>(docs: &'a BTreeMap<(String, String), Value>, kind: &str, name: &str) -> &'a Value {
    docs.get(&(kind.to_string(), name.to_string()))
        .unwrap_or_else(|| panic!("no {kind} {name} in deploy/"))
}

fn codes(rule: &Value) -> Vec<i64> {
    rule["onExitCodes"]["values"]
        .as_sequence()
        .map(|v| v.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

/// The shard contract of one Indexed Job spec; `what` names it in failures.
fn check_indexed_job(spec: &Value, docs: &BTreeMap<(String, String), Value>, what: &str) {
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"), "{what}");
    let n = spec["completions"].as_i64().expect("completions");
    assert_eq!(
        spec["parallelism"].as_i64(),
        Some(n),
        "{what}: parallelism = completions"
    );
    assert!(
        spec["backoffLimitPerIndex"]
            .as_i64()
            .is_some_and(|b| b >= 1),
        "{what}"
    );

    // The failure policy speaks supsync's exit codes.
    let rules = spec["podFailurePolicy"]["rules"]
        .as_sequence()
        .expect("rules");
    let action_of = |code: i32| {
        rules
            .iter()
            .find(|r| codes(r).contains(&i64::from(code)))
            .and_then(|r| r["action"].as_str())
            .unwrap_or("none")
    };
    assert_eq!(action_of(exit::AUTH), "FailJob", "{what}: auth failure");
    assert_eq!(action_of(exit::CONFIG), "FailJob", "{what}: bad config");
    assert_eq!(
        action_of(exit::FAILED_SEGMENTS),
        "Count",
        "{what}: retry the index"
    );
    assert_eq!(
        action_of(exit::INTERRUPTED),
        "Count",
        "{what}: retry the index"
    );
    assert_eq!(action_of(exit::REJECTS), "FailIndex", "{what}: rejects");
    for r in rules {
        if !r["onExitCodes"].is_null() {
            assert_eq!(r["onExitCodes"]["containerName"].as_str(), Some("supsync"));
            assert_eq!(r["onExitCodes"]["operator"].as_str(), Some("In"));
        }
    }

    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"].as_str(), Some("Never"), "{what}");
    let containers = pod["containers"].as_sequence().expect("containers");
    let c = containers
        .iter()
        .find(|c| c["name"].as_str() == Some("supsync"))
        .expect("a container named supsync");
    let args: Vec<&str> = c["args"]
        .as_sequence()
        .expect("args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(args.contains(&"run"), "{what}: {args:?}");
    assert!(
        args.contains(&format!("--shards={n}").as_str()),
        "{what}: --shards must be the completions ({n}): {args:?}"
    );
    assert!(!args.iter().any(|a| a.starts_with("--shard=")), "{what}");
    assert!(
        args.iter()
            .any(|a| a.starts_with("--state-dir=") && a.contains("$(JOB_COMPLETION_INDEX)")),
        "{what}: each index its own state dir: {args:?}"
    );

    // Volumes: each mount has a volume, each volume's source exists.
    let volumes = pod["volumes"].as_sequence().expect("volumes");
    for m in c["volumeMounts"].as_sequence().expect("volumeMounts") {
        let name = m["name"].as_str().unwrap();
        let v = volumes
            .iter()
            .find(|v| v["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("{what}: mount {name} has no volume"));
        if let Some(claim) = v["persistentVolumeClaim"]["claimName"].as_str() {
            get(docs, "PersistentVolumeClaim", claim);
        } else if let Some(cm) = v["configMap"]["name"].as_str() {
            get(docs, "ConfigMap", cm);
        } else {
            panic!("{what}: volume {name} is neither a claim nor a config map");
        }
    }
    let config_mount = c["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"].as_str() == Some("/etc/supsync"))
        .expect("the config mounted at /etc/supsync");
    assert!(
        args.contains(&"--config=/etc/supsync/config.toml"),
        "{config_mount:?}"
    );

    // Secrets: what the container reads exists in the Secret manifest.
    let env = c["env"].as_sequence().expect("env");
    let mut read = Vec::new();
    for e in env {
        let Some(r) = e["valueFrom"]["secretKeyRef"].as_mapping() else {
            continue;
        };
        let secret = r[&Value::from("name")].as_str().unwrap();
        let key = r[&Value::from("key")].as_str().unwrap();
        let data = &get(docs, "Secret", secret)["stringData"];
        assert!(
            !data[key].is_null(),
            "{what}: Secret {secret} has no key {key}"
        );
        read.push(e["name"].as_str().unwrap().to_string());
    }
    for var in ["SUPSYNC_CLIENT_SECRET", "SUPSYNC_CACHE_KEY"] {
        assert!(read.iter().any(|r| r == var), "{what}: {var} from a Secret");
    }
}

#[test]
fn the_indexed_job_and_the_cronjob_keep_the_shard_contract() {
    let docs = documents();
    let job = get(&docs, "Job", "supsync-push");
    check_indexed_job(&job["spec"], &docs, "job.yaml");
    let cron = get(&docs, "CronJob", "supsync-nightly");
    assert!(cron["spec"]["schedule"].is_string());
    assert_eq!(cron["spec"]["concurrencyPolicy"].as_str(), Some("Forbid"));
    check_indexed_job(&cron["spec"]["jobTemplate"]["spec"], &docs, "cronjob.yaml");
    let svc = get(&docs, "Service", "supsync-valkey");
    let dep = get(&docs, "Deployment", "supsync-valkey");
    assert_eq!(
        svc["spec"]["selector"], dep["spec"]["template"]["metadata"]["labels"],
        "the Valkey Service selects its Deployment's pods"
    );
}

#[test]
fn the_config_map_holds_a_config_supsync_accepts() {
    let docs = documents();
    let toml = get(&docs, "ConfigMap", "supsync-config")["data"]["config.toml"]
        .as_str()
        .expect("config.toml in the ConfigMap")
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, toml).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_supsync"))
        .args(["config", "--check", "--config"])
        .arg(&path)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .env("SUPSYNC_CLIENT_SECRET", "a-long-enough-client-secret")
        // As the pods get it from the Secret: the Redis token cache needs its key.
        .env(
            "SUPSYNC_CACHE_KEY",
            "a-long-random-passphrase-from-the-secret",
        )
        .env_remove("SUPSYNC_CONFIG")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
