//! The binary as an operator runs it: `--version`, `check-config`, `demo`, and the
//! exporter itself with SIGTERM.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{scrape, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_allscale-exporter");

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/config/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn version_prints_version_and_revision() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");
    assert!(text.contains("revision"), "{text}");
}

#[test]
fn check_config_accepts_the_example_and_summarises_it() {
    let example = std::fs::read_to_string(format!(
        "{}/config.example.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.db");
    let shipped = "state_file: /var/lib/allscale-exporter/state.db";
    assert!(example.contains(shipped));
    let example_path = dir.path().join("config.yaml");
    let here = format!("state_file: {}", state.display());
    std::fs::write(&example_path, example.replace(shipped, &here)).unwrap();
    let example = example_path.display().to_string();
    let out = Command::new(BIN)
        .args(["check-config", &example])
        .env("ALLSCALE_API_SECRET", "st_example")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("OK") && stdout.contains("store"),
        "{stdout}"
    );
    assert!(stdout.contains("intent"), "{stdout}");
}

#[test]
fn check_config_lists_every_problem_and_exits_1() {
    let out = Command::new(BIN)
        .args(["check-config", &fixture("many_problems.yaml")])
        .env_remove("ALLSCALE_API_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let problems = stderr
        .lines()
        .filter(|l| l.trim_start().contains(": "))
        .count();
    assert!(problems >= 3, "expected several problems, got:\n{stderr}");
}

#[test]
fn check_config_on_a_missing_file_names_it() {
    let out = Command::new(BIN)
        .args(["check-config", "/nonexistent/allscale.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/allscale.yaml"));
}

#[test]
fn simulate_refuses_a_webhook_url_that_is_not_http() {
    // Refused before it listens: the scenario is checked first.
    let out = Command::new(BIN)
        .args([
            "simulate",
            "--listen",
            "127.0.0.1:0",
            "--webhook.url",
            "https://x/",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--webhook.url") && stderr.contains("http://"),
        "{stderr}"
    );
}

#[test]
fn running_without_config_file_is_a_clear_error() {
    let out = Command::new(BIN).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--config.file"));
}

/// A child process killed on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sigterm(child: &Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

/// The newcomer's path: `demo` shows every terminal outcome within 30 seconds, and
/// stops cleanly on SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_reaches_every_outcome_within_30_seconds() {
    let mut child = Command::new(BIN)
        .args([
            "demo",
            "--web.listen-address=127.0.0.1:0",
            "--log.level=warn",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut demo = Running(child);
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines.next().expect("demo printed its URLs").unwrap();
        if let Some(url) = line.split_whitespace().find(|w| w.ends_with("/metrics")) {
            let host = url
                .trim_start_matches("http://")
                .trim_end_matches("/metrics");
            break host.parse().unwrap();
        }
    };
    let m = wait_for(
        Duration::from_secs(40),
        "every outcome in the demo",
        || async {
            let m = scrape(addr).await;
            let all = common::OUTCOMES.iter().all(|o| {
                m.value(
                    "allscale_checkout_intent_terminal_total",
                    &[("store", "demo"), ("outcome", o)],
                ) >= 1.0
            });
            all.then_some(m)
        },
    )
    .await;
    let on_chain = m.value(
        "allscale_checkout_intents",
        &[("store", "demo"), ("status", "on_chain")],
    );
    assert!(on_chain >= 1.0, "some demo intents stay on chain");
    assert_eq!(
        m.value(
            "allscale_checkout_intents",
            &[("store", "demo"), ("status", "not_found")]
        ),
        1.0
    );
    assert_eq!(
        m.value(
            "allscale_api_requests_total",
            &[
                ("store", "demo"),
                ("endpoint", "status"),
                ("result", "bad_response_signature")
            ]
        ),
        0.0
    );
    // The simulator sends signed webhooks for half the confirming intents, and every one
    // verifies; confirmations by webhook and by poll add up to the confirmed outcomes.
    let webhook = |result| {
        m.value(
            "allscale_webhook_requests_total",
            &[("store", "demo"), ("result", result)],
        )
    };
    assert!(webhook("ok") >= 1.0, "no webhook verified in the demo");
    assert_eq!(webhook("bad_signature"), 0.0);
    let by = |source| {
        m.value(
            "allscale_checkout_intent_confirmations_total",
            &[("store", "demo"), ("source", source)],
        )
    };
    let confirmed = m.value(
        "allscale_checkout_intent_terminal_total",
        &[("store", "demo"), ("outcome", "confirmed")],
    );
    assert_eq!(by("webhook") + by("poll"), confirmed);
    // The demo keeps registering intents through the registration API (19 + 1 unknown
    // at start).
    assert!(
        m.value("allscale_exporter_watched_intents", &[("store", "demo")]) > 20.0,
        "the demo's watch list did not grow"
    );
    assert_eq!(
        m.value("allscale_exporter_config_last_reload_successful", &[]),
        1.0
    );
    sigterm(&demo.0);
    let status = demo.0.wait().unwrap();
    assert!(status.success(), "demo exited with {status}");
}

/// The sharded StatefulSet example must pass the same N to `--shard` as its replica count.
#[test]
fn sharded_statefulset_shard_count_matches_replicas() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/kubernetes-sharded/statefulset.yaml"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let replicas: u32 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("replicas: "))
        .expect("replicas")
        .parse()
        .unwrap();
    let shard = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("- --shard=$(POD_INDEX)/"))
        .expect("--shard argument");
    assert_eq!(shard.parse::<u32>().unwrap(), replicas);
    let out = Command::new(BIN)
        .args(["--shard", &format!("{replicas}/{replicas}")])
        .output()
        .unwrap();
    assert!(!out.status.success(), "K must be below N");
}

/// Mebibytes in a Kubernetes quantity such as `128Mi` on the line after `key: `.
fn mebibytes(manifest: &str, key: &str) -> u64 {
    let path = format!("{}/deploy/{manifest}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .find_map(|l| l.trim().strip_prefix(key)?.strip_suffix("Mi"))
        .unwrap_or_else(|| panic!("no {key}...Mi in {path}"))
        .parse()
        .unwrap()
}

/// The registration cap of the Kubernetes examples' ConfigMap (one per store, and per
/// replica when sharded): the intents the state volumes must hold.
fn configured_intent_cap() -> u64 {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/kubernetes/configmap.yaml"
    ))
    .unwrap();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("max_intents_per_store: "))
        .expect("the ConfigMap sets registration.max_intents_per_store")
        .parse()
        .unwrap()
}

/// The state volumes of the examples hold the state database at the ConfigMap's cap
/// on intents, scaled from the real database at 100k intents: at its largest, just
/// before a compaction (100k rows, four events per row, the WAL), twice (a file moved
/// aside as unusable keeps a copy). The manifests' comments give the same arithmetic.
#[test]
fn kubernetes_state_volumes_hold_the_state_database_at_the_intent_cap() {
    use allscale_exporter::api::Status;
    use allscale_exporter::clock::UnixTime;
    use allscale_exporter::state::db::{COMPACT_RATIO, Db};
    use allscale_exporter::state::store::{Batch, Store, StoreBatch};
    use allscale_exporter::state::{IntentRow, IntentState, Source, Sources};
    let at = 1_764_050_000.123_456_7;
    let mut sources = Sources::default();
    sources.insert(Source::Api);
    let ids: Vec<_> = (0..100_000u64)
        .map(|i| {
            allscale_exporter::config::IntentId::parse(&format!(
                "{:024x}",
                i.wrapping_mul(0x9e37_79b9_7f4a_7c15)
            ))
            .expect("24 hex")
        })
        .collect();
    let batch = |status: Status| Batch {
        stores: vec![StoreBatch {
            name: "main".into(),
            rows: ids
                .iter()
                .enumerate()
                .map(|(n, id)| {
                    let time = UnixTime::from_secs_f64;
                    let intent = IntentState::from_row(IntentRow {
                        sources,
                        order_id: Some(format!("wc-order-{n:08}")),
                        status: Some(status),
                        status_changed_at: Some(time(at)),
                        last_success_at: Some(time(at + 0.987_654_3)),
                        added_at: Some(time(at - 3600.0)),
                        ..IntentRow::default()
                    });
                    (id.clone(), Some(intent))
                })
                .collect(),
            counts: Default::default(),
            ..StoreBatch::default()
        }],
        kept: vec!["main".into()],
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut db = Db::open(&path).unwrap();
    db.write(&batch(Status::Created)).unwrap();
    db.compact().unwrap();
    let size = || {
        ["", "-wal"]
            .iter()
            .map(|s| std::fs::metadata(format!("{}{s}", path.display())).map_or(0, |m| m.len()))
            .sum::<u64>()
    };
    let mut largest = size();
    let statuses = [
        Status::Viewed,
        Status::OnChain,
        Status::Created,
        Status::Viewed,
    ];
    assert_eq!(statuses.len() as i64, COMPACT_RATIO);
    for status in statuses {
        db.write(&batch(status)).unwrap();
        largest = largest.max(size());
    }
    assert!(
        largest / 100_000 < 2_000,
        "{} bytes per intent",
        largest / 100_000
    );
    let cap = configured_intent_cap();
    let needed = 2 * largest * cap / 100_000;
    for (manifest, key) in [
        ("kubernetes/pvc.yaml", "storage: "),
        ("kubernetes-sharded/statefulset.yaml", "storage: "),
    ] {
        let have = mebibytes(manifest, key) * 1024 * 1024;
        assert!(
            have >= needed,
            "{manifest}: {have} bytes < 2 x {largest} x {cap} / 100k (the state database at the ConfigMap's max_intents_per_store)"
        );
    }
}

/// A taken port is named with the flag that moves it, once (not the OS error twice), for
/// the demo, the exporter and the simulator.
#[test]
fn a_taken_port_is_named_with_its_flag() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let config = format!("{}/config.example.yaml", env!("CARGO_MANIFEST_DIR"));
    let runs: [(&[&str], &str); 3] = [
        (
            &["demo", "--web.listen-address", &addr],
            "--web.listen-address",
        ),
        (
            &["--config.file", &config, "--web.listen-address", &addr],
            "--web.listen-address",
        ),
        (&["simulate", "--listen", &addr], "--listen"),
    ];
    for (args, flag) in runs {
        let out = Command::new(BIN)
            .args(args)
            .env("ALLSCALE_API_SECRET", "st_example")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        let error = stderr
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or("");
        assert!(
            error.contains(&addr) && error.contains(flag),
            "{args:?}: {stderr}"
        );
        assert_eq!(error.matches("in use").count(), 1, "{args:?}: {error}");
    }
}

/// `check-config` refuses a `state_file` whose directory does not exist (the exporter would
/// start and save nothing), naming the directory.
#[test]
fn check_config_refuses_a_state_file_it_could_not_create() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("not-mounted-yet");
    let config = dir.path().join("config.yaml");
    let yaml = format!(
        "state_file: {}/state.db\nstores:\n  - name: main\n    api_key: st_k\n    api_secret_env: ALLSCALE_API_SECRET\n",
        missing.display()
    );
    std::fs::write(&config, &yaml).unwrap();
    let check = || {
        Command::new(BIN)
            .arg("check-config")
            .arg(&config)
            .env("ALLSCALE_API_SECRET", "st_example")
            .output()
            .unwrap()
    };
    let out = check();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let named = format!("the directory {} does not exist", missing.display());
    assert!(stderr.contains(&named), "{stderr}");
    std::fs::create_dir(&missing).unwrap();
    let out = check();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_dir(&missing).unwrap().count(),
        0,
        "the probe file stays"
    );
}
