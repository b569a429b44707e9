//! Hot reload, end to end with the real binary against the independent strict mock:
//! every trigger (rename-save, in-place write, ConfigMap symlink swap, SIGHUP,
//! POST /-/reload, checksum fallback), an invalid file keeping the old config, and
//! intents that stay keeping their counters.

use crate::common;

use std::path::PathBuf;
use std::time::Duration;

use common::processes::{ExporterProcess, MOCK_SECRET, StrictMock, mock_config_yaml, rename_save};
use common::{Metrics, scrape, wait_for};
use serde_json::json;

const CONFIRMED: &str = "66000000000000000000000a";
const STAYS: &str = "66000000000000000000000b";
const UNDERPAID: &str = "66000000000000000000000c";
const ADDED: &str = "66000000000000000000000d";

fn mock() -> StrictMock {
    StrictMock::start(
        &json!({
            CONFIRMED: [1, 2, 20],
            STAYS: [1, 10],
            UNDERPAID: [2, -3],
            ADDED: [3],
        }),
        false,
    )
}

/// A temp dir with the secret file and the config path.
struct Files {
    dir: tempfile::TempDir,
    secret: PathBuf,
}

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, MOCK_SECRET).unwrap();
        Files { dir, secret }
    }

    fn config(&self, mock: &StrictMock, intents: &[&str]) -> String {
        mock_config_yaml(mock, &self.secret, "", intents)
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("config.yaml")
    }
}

fn watched(m: &Metrics) -> f64 {
    m.value("allscale_exporter_watched_intents", &[("store", "main")])
}

fn reload_ok(m: &Metrics) -> f64 {
    m.value("allscale_exporter_config_last_reload_successful", &[])
}

async fn wait_until(
    exporter: &ExporterProcess,
    limit: Duration,
    what: &str,
    cond: impl Fn(&Metrics) -> bool,
) -> Metrics {
    wait_for(limit, what, || async {
        let m = scrape(exporter.addr).await;
        cond(&m).then_some(m)
    })
    .await
}

/// Starts with CONFIRMED and STAYS, waits for the confirmed outcome.
async fn start_and_confirm(files: &Files, mock: &StrictMock, args: &[&str]) -> ExporterProcess {
    std::fs::write(files.path(), files.config(mock, &[CONFIRMED, STAYS])).unwrap();
    let exporter = ExporterProcess::start(&files.path(), args);
    wait_until(&exporter, Duration::from_secs(10), "confirmed", |m| {
        m.outcome("confirmed") == 1.0 && m.status(STAYS) == Some(10.0)
    })
    .await;
    exporter
}

/// After the swap: STAYS removed, UNDERPAID added and counted, confirmed still 1.
async fn assert_swapped(exporter: &ExporterProcess, within: Duration) {
    let m = wait_until(exporter, within, "the new watch list", |m| {
        m.status(STAYS).is_none() && m.outcome("underpaid") == 1.0
    })
    .await;
    assert_eq!(m.outcome("confirmed"), 1.0, "counter lost or doubled");
    assert_eq!(
        m.status(CONFIRMED),
        Some(20.0),
        "kept intent lost its state"
    );
    assert_eq!(m.status(UNDERPAID), Some(-3.0));
    assert_eq!(watched(&m), 2.0);
    assert_eq!(reload_ok(&m), 1.0);
    assert!(
        !m.text.contains(STAYS),
        "removed intent still has series:\n{}",
        m.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_save_is_applied_within_5_seconds_with_counters_intact() {
    let (mock, files) = (mock(), Files::new());
    let exporter = start_and_confirm(&files, &mock, &["--config.check-interval=0s"]).await;
    let before = scrape(exporter.addr).await;
    let stamp = before.value(
        "allscale_exporter_config_last_reload_success_timestamp_seconds",
        &[],
    );
    rename_save(&files.path(), &files.config(&mock, &[CONFIRMED, UNDERPAID]));
    assert_swapped(&exporter, Duration::from_secs(5)).await;
    let after = scrape(exporter.addr).await;
    assert!(
        after.value(
            "allscale_exporter_config_last_reload_success_timestamp_seconds",
            &[]
        ) > stamp
    );
    // Transitions counted before the reload are still there.
    assert_eq!(
        after.value(
            "allscale_checkout_intent_transitions_total",
            &[("store", "main"), ("from", "viewed"), ("to", "confirmed")]
        ),
        1.0
    );
    exporter.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_place_write_is_applied() {
    let (mock, files) = (mock(), Files::new());
    let exporter = start_and_confirm(&files, &mock, &["--config.check-interval=0s"]).await;
    std::fs::write(files.path(), files.config(&mock, &[CONFIRMED, UNDERPAID])).unwrap();
    assert_swapped(&exporter, Duration::from_secs(5)).await;
    exporter.terminate();
}

/// Kubernetes mounts a ConfigMap as `config.yaml -> ..data/config.yaml`, `..data ->
/// ..<timestamp>`, and updates it by swapping the `..data` symlink atomically.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configmap_symlink_swap_is_applied() {
    let (mock, files) = (mock(), Files::new());
    let root = files.dir.path().join("configmap");
    std::fs::create_dir(&root).unwrap();
    let write_version = |name: &str, content: &str| -> PathBuf {
        let dir = root.join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("config.yaml"), content).unwrap();
        dir
    };
    write_version("..2026_11_25_01", &files.config(&mock, &[CONFIRMED, STAYS]));
    std::os::unix::fs::symlink("..2026_11_25_01", root.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/config.yaml", root.join("config.yaml")).unwrap();
    let config = root.join("config.yaml");
    let exporter = ExporterProcess::start(&config, &["--config.check-interval=0s"]);
    wait_until(&exporter, Duration::from_secs(10), "confirmed", |m| {
        m.outcome("confirmed") == 1.0 && m.status(STAYS) == Some(10.0)
    })
    .await;
    write_version(
        "..2026_11_25_02",
        &files.config(&mock, &[CONFIRMED, UNDERPAID]),
    );
    std::os::unix::fs::symlink("..2026_11_25_02", root.join("..data_tmp")).unwrap();
    std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
    assert_swapped(&exporter, Duration::from_secs(5)).await;
    exporter.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_and_post_reload_with_file_events_off() {
    let (mock, files) = (mock(), Files::new());
    let args = ["--config.check-interval=0s", "--config.watch=false"];
    let exporter = start_and_confirm(&files, &mock, &args).await;
    std::fs::write(files.path(), files.config(&mock, &[CONFIRMED, UNDERPAID])).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let m = scrape(exporter.addr).await;
    assert_eq!(
        m.status(STAYS),
        Some(10.0),
        "reloaded with every trigger off"
    );
    exporter.signal("HUP");
    assert_swapped(&exporter, Duration::from_secs(5)).await;

    let client = reqwest::Client::new();
    let url = format!("http://{}/-/reload", exporter.addr);
    std::fs::write(
        files.path(),
        files.config(&mock, &[CONFIRMED, UNDERPAID, ADDED]),
    )
    .unwrap();
    let resp = client.post(&url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.text().await.unwrap().contains("3 intents"));
    let m = wait_until(
        &exporter,
        Duration::from_secs(5),
        "added intent polled",
        |m| m.status(ADDED) == Some(3.0),
    )
    .await;
    assert_eq!(watched(&m), 3.0);
    // Same file again: 200, unchanged.
    let resp = client.post(&url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.text().await.unwrap().contains("unchanged"));
    // An invalid file: 500 naming every problem; the old config keeps running.
    std::fs::write(files.path(), "poll_interval: soon\nstores: []\n").unwrap();
    let resp = client.post(&url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 500);
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("poll_interval") && body.contains("stores"),
        "{body}"
    );
    let m = scrape(exporter.addr).await;
    assert_eq!(reload_ok(&m), 0.0);
    assert_eq!(watched(&m), 3.0);
    // Other methods are refused.
    let resp = client.get(&url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    exporter.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checksum_fallback_applies_changes_when_events_are_off() {
    let (mock, files) = (mock(), Files::new());
    let args = ["--config.check-interval=300ms", "--config.watch=false"];
    let exporter = start_and_confirm(&files, &mock, &args).await;
    std::fs::write(files.path(), files.config(&mock, &[CONFIRMED, UNDERPAID])).unwrap();
    assert_swapped(&exporter, Duration::from_secs(5)).await;
    exporter.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_file_keeps_the_old_config_until_fixed() {
    let (mock, files) = (mock(), Files::new());
    let exporter = start_and_confirm(&files, &mock, &["--config.check-interval=0s"]).await;
    let stamp_of = |m: &Metrics| {
        m.value(
            "allscale_exporter_config_last_reload_success_timestamp_seconds",
            &[],
        )
    };
    let before = scrape(exporter.addr).await;
    let bad = format!(
        "{}    api_secret: hunter2-inline\n",
        files.config(&mock, &[CONFIRMED, UNDERPAID])
    );
    rename_save(&files.path(), &bad);
    let m = wait_until(&exporter, Duration::from_secs(5), "reload failure", |m| {
        reload_ok(m) == 0.0
    })
    .await;
    assert_eq!(
        stamp_of(&m),
        stamp_of(&before),
        "timestamp moved on a failure"
    );
    assert_eq!(watched(&m), 2.0);
    let requests = |m: &Metrics| m.sum("allscale_api_requests_total", &[("result", "ok")]);
    let polled = requests(&m);
    tokio::time::sleep(Duration::from_millis(900)).await;
    let m = scrape(exporter.addr).await;
    assert!(requests(&m) > polled, "the old config stopped polling");
    assert_eq!(m.status(STAYS), Some(10.0));
    let logs = exporter.logs();
    assert!(logs.contains("inline secrets are not allowed"), "{logs}");
    assert!(
        !logs.contains("hunter2-inline"),
        "an inline secret leaked into the logs"
    );
    rename_save(&files.path(), &files.config(&mock, &[CONFIRMED, UNDERPAID]));
    assert_swapped(&exporter, Duration::from_secs(5)).await;
    exporter.terminate();
}

/// The config directory disappears (a volume unmounted, a deploy script's rm -rf) and
/// comes back: the old config keeps running meanwhile, the error is logged once, and the
/// periodic check picks up the restored file even though the directory watch is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_directory_removed_and_restored() {
    let (mock, files) = (mock(), Files::new());
    let conf_dir = files.dir.path().join("conf");
    std::fs::create_dir(&conf_dir).unwrap();
    let path = conf_dir.join("config.yaml");
    std::fs::write(&path, files.config(&mock, &[CONFIRMED, STAYS])).unwrap();
    let exporter = ExporterProcess::start(&path, &["--config.check-interval=200ms"]);
    wait_until(&exporter, Duration::from_secs(10), "confirmed", |m| {
        m.outcome("confirmed") == 1.0 && m.status(STAYS) == Some(10.0)
    })
    .await;
    std::fs::remove_dir_all(&conf_dir).unwrap();
    let m = wait_until(&exporter, Duration::from_secs(5), "reload failure", |m| {
        reload_ok(m) == 0.0
    })
    .await;
    assert_eq!(watched(&m), 2.0, "the old config stopped");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let failures = exporter.logs().matches("config reload failed").count();
    assert_eq!(
        failures, 1,
        "a missing file must be logged once, not at every check"
    );
    std::fs::create_dir(&conf_dir).unwrap();
    std::fs::write(&path, files.config(&mock, &[CONFIRMED, UNDERPAID])).unwrap();
    assert_swapped(&exporter, Duration::from_secs(5)).await;
    exporter.terminate();
}

/// Issue #11, point 5: a store removed from the config and put back a moment later (a
/// bad ConfigMap edit, fixed) remembers its terminal intents: they are not polled again
/// and their outcomes are not counted again; its counters continue where they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_removed_and_put_back_neither_polls_nor_counts_its_finished_intents_again() {
    let (mock, files) = (mock(), Files::new());
    let exporter = start_and_confirm(&files, &mock, &["--config.check-interval=0s"]).await;
    let before = scrape(exporter.addr).await;
    let polls = mock.stats().await["accepted"][CONFIRMED].clone();
    let without_main = files
        .config(&mock, &[STAYS])
        .replace("name: main", "name: other");
    rename_save(&files.path(), &without_main);
    let main = [("store", "main")];
    wait_until(&exporter, Duration::from_secs(5), "main removed", |m| {
        m.get("allscale_exporter_watched_intents", &main).is_none()
    })
    .await;
    rename_save(&files.path(), &files.config(&mock, &[CONFIRMED, STAYS]));
    wait_until(&exporter, Duration::from_secs(5), "main back", |m| {
        m.get("allscale_exporter_watched_intents", &main) == Some(2.0)
            && m.status(STAYS) == Some(10.0)
    })
    .await;
    // A few poll intervals for a wrongly re-polled intent to show up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let m = scrape(exporter.addr).await;
    assert_eq!(m.outcome("confirmed"), 1.0, "counted again");
    assert_eq!(m.status(CONFIRMED), Some(20.0));
    assert_eq!(
        mock.stats().await["accepted"][CONFIRMED],
        polls,
        "the terminal intent was polled again"
    );
    assert!(
        m.requests("ok") >= before.requests("ok"),
        "request counters went back"
    );
    exporter.terminate();
}

/// Started from the config's directory with `--config.file=config.yaml` and relative
/// `state_file` and `api_secret_file`, the periodic check must find the file unchanged:
/// start-up and reload resolve relative paths against the same (absolute) directory, so
/// the same bytes parse to the same config and nothing is re-applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relative_config_file_is_not_reloaded_by_the_periodic_check() {
    let (mock, files) = (mock(), Files::new());
    let relative = |intents: &[&str]| {
        mock_config_yaml(
            &mock,
            std::path::Path::new("secret"),
            "state_file: state.json\n",
            intents,
        )
    };
    std::fs::write(files.path(), relative(&[CONFIRMED, STAYS])).unwrap();
    let args = ["--config.check-interval=1s", "--config.watch=false"];
    let exporter = ExporterProcess::start_in(Some(files.dir.path()), "config.yaml".as_ref(), &args);
    let stamp_of = |m: &Metrics| {
        m.value(
            "allscale_exporter_config_last_reload_success_timestamp_seconds",
            &[],
        )
    };
    let before = wait_until(&exporter, Duration::from_secs(10), "confirmed", |m| {
        m.outcome("confirmed") == 1.0
    })
    .await;
    // Two periodic checks (each 1 s, plus the 250 ms debounce).
    tokio::time::sleep(Duration::from_millis(2800)).await;
    let after = scrape(exporter.addr).await;
    let logs = exporter.logs();
    assert!(
        !logs.contains("config reloaded"),
        "an unchanged file was re-applied:\n{logs}"
    );
    assert_eq!(stamp_of(&after), stamp_of(&before), "spurious reload");
    // The check does run: a real change is applied, and the state file is where it was.
    std::fs::write(files.path(), relative(&[CONFIRMED, UNDERPAID])).unwrap();
    assert_swapped(&exporter, Duration::from_secs(5)).await;
    assert_eq!(exporter.logs().matches("config reloaded").count(), 1);
    exporter.terminate();
    assert!(
        files.dir.path().join("state.json").is_file(),
        "no state file"
    );
}
