//! Restart safety with the real binary against the independent strict mock: after SIGTERM
//! and after SIGKILL, each terminal outcome is still counted exactly once, statuses are
//! exported at once from the state file, terminal intents are not polled again, a
//! transition that happened while the exporter was down is counted once, and request
//! counters start again from 0 in the new process (a reset Prometheus handles).

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::processes::{ExporterProcess, MOCK_SECRET, StrictMock, mock_config_yaml};
use common::{Metrics, scrape, wait_for};
use serde_json::{Value, json};

const CONFIRMED: &str = "67000000000000000000000a";
const FAILED: &str = "67000000000000000000000b";
const STAYS: &str = "67000000000000000000000c";
/// On chain for its first seconds, confirmed later: while the exporter is down.
const LATE: &str = "67000000000000000000000d";
/// When LATE turns confirmed, in seconds since the mock started.
const LATE_AT: f64 = 6.0;

fn transitions(m: &Metrics, from: &str, to: &str) -> f64 {
    m.get(
        "allscale_checkout_intent_transitions_total",
        &[("store", "main"), ("from", from), ("to", to)],
    )
    .unwrap_or(0.0)
}

/// Requests the mock accepted, over every intent.
fn total(accepted: &Value) -> f64 {
    accepted
        .as_object()
        .map_or(0, |m| m.values().filter_map(Value::as_u64).sum::<u64>()) as f64
}

fn saved_intent(state_file: &Path, id: &str) -> Option<Value> {
    common::statedb::saved_intent(state_file, "main", id)
}

async fn restart_after(graceful: bool) {
    let started = Instant::now();
    let mock = StrictMock::start(
        &json!({
            CONFIRMED: [1, 2, 20],
            FAILED: [1, -1],
            STAYS: [1, 10],
            LATE: {"timed": [[0, 10], [LATE_AT, 20]]},
        }),
        false,
    );
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, MOCK_SECRET).unwrap();
    let state_file = dir.path().join("state").join("state.db");
    std::fs::create_dir(state_file.parent().unwrap()).unwrap();
    let extra = format!("state_file: {}\n", state_file.display());
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        mock_config_yaml(&mock, &secret, &extra, &[CONFIRMED, FAILED, STAYS, LATE]),
    )
    .unwrap();

    let first = ExporterProcess::start(&config, &[]);
    wait_for(
        Duration::from_secs(10),
        "outcomes and LATE on chain",
        || async {
            let m = scrape(first.addr).await;
            let done = m.outcome("confirmed") == 1.0
                && m.outcome("failed") == 1.0
                && m.status(LATE) == Some(10.0)
                && m.status(STAYS) == Some(10.0);
            done.then_some(())
        },
    )
    .await;
    assert!(
        started.elapsed().as_secs_f64() < LATE_AT - 1.0,
        "set-up too slow for this test"
    );
    // The state file catches up within about a second of the changes.
    wait_for(Duration::from_secs(3), "the state file", || async {
        let saved = |id| saved_intent(&state_file, id).unwrap_or(Value::Null);
        let ok = saved(CONFIRMED)["terminal_at"].is_f64()
            && saved(FAILED)["terminal_at"].is_f64()
            && saved(LATE)["status"] == 10
            && saved(STAYS)["status"] == 10;
        ok.then_some(())
    })
    .await;
    if graceful {
        first.terminate();
    } else {
        first.kill();
    }

    let polls_at_stop = mock.stats().await["accepted"].clone();
    // Stay down until LATE has been confirmed on the API side.
    let wait = LATE_AT + 0.5 - started.elapsed().as_secs_f64();
    if wait > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    }

    let second = ExporterProcess::start(&config, &[]);
    // The very first scrape already has the saved statuses and counters.
    let m = scrape(second.addr).await;
    assert_eq!(
        m.status(CONFIRMED),
        Some(20.0),
        "not exported from the state file"
    );
    assert_eq!(m.status(FAILED), Some(-1.0));
    assert_eq!(m.outcome("confirmed"), 1.0);
    assert_eq!(m.outcome("failed"), 1.0);
    // Request counters are the new process's own: no more than it has sent.
    let ok_now = m.sum("allscale_api_requests_total", &[("result", "ok")]);
    let sent_since = total(&mock.stats().await["accepted"]) - total(&polls_at_stop);
    assert!(
        ok_now <= sent_since,
        "request counters restored instead of starting from 0: {ok_now} > {sent_since}"
    );

    let m = wait_for(
        Duration::from_secs(10),
        "LATE confirmed after restart",
        || async {
            let m = scrape(second.addr).await;
            // Outcomes are exported once saved, about a second after they happen.
            (m.status(LATE) == Some(20.0) && m.outcome("confirmed") >= 2.0).then_some(m)
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let m2 = scrape(second.addr).await;
    for m in [&m, &m2] {
        assert_eq!(m.outcome("confirmed"), 2.0, "CONFIRMED once + LATE once");
        assert_eq!(m.outcome("failed"), 1.0);
        assert_eq!(transitions(m, "on_chain", "confirmed"), 1.0);
    }
    let polls_now = mock.stats().await["accepted"].clone();
    for id in [CONFIRMED, FAILED] {
        assert_eq!(
            polls_now[id], polls_at_stop[id],
            "terminal intent {id} polled again"
        );
    }
    assert!(polls_now[STAYS].as_u64() > polls_at_stop[STAYS].as_u64());
    let stats = mock.stats().await;
    assert_eq!(stats["violations"], json!([]));
    second.terminate();
    // After a clean stop the database holds the final counters.
    let saved = common::statedb::saved_counter(&state_file, "main", "outcome", "confirmed");
    assert_eq!(saved, Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_sigterm_counts_each_outcome_once() {
    restart_after(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_sigkill_counts_each_outcome_once() {
    restart_after(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_state_file_is_moved_aside_and_the_exporter_starts_fresh() {
    let mock = StrictMock::start(&json!({CONFIRMED: [20]}), false);
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, MOCK_SECRET).unwrap();
    let state_file = dir.path().join("state.json");
    std::fs::write(
        &state_file,
        "{\"format_version\": 1, \"stores\": {\"main\": tru",
    )
    .unwrap();
    let extra = format!("state_file: {}\n", state_file.display());
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        mock_config_yaml(&mock, &secret, &extra, &[CONFIRMED]),
    )
    .unwrap();
    let exporter = ExporterProcess::start(&config, &[]);
    let m = wait_for(Duration::from_secs(10), "a fresh count", || async {
        let m = scrape(exporter.addr).await;
        (m.outcome("confirmed") == 1.0).then_some(m)
    })
    .await;
    assert_eq!(m.status(CONFIRMED), Some(20.0));
    let aside: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("state.json.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "corrupt file not kept aside");
    let kept = std::fs::read_to_string(dir.path().join(&aside[0])).unwrap();
    assert!(kept.ends_with("tru"), "the corrupt file was altered");
    assert!(
        exporter.logs().contains("STATE DATABASE UNUSABLE"),
        "{}",
        exporter.logs()
    );
    wait_for(Duration::from_secs(5), "a new state file", || async {
        saved_intent(&state_file, CONFIRMED)
            .filter(|v| v["terminal_at"].is_f64())
            .map(|_| ())
    })
    .await;
    exporter.terminate();
}

/// The state file cannot be written (its directory is missing: a volume not mounted yet):
/// the exporter logs it once, keeps polling and serving (the intent's status is exported),
/// says so on /metrics, holds the outcome counter until it is saved, and saves as soon
/// as it can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_file_write_failures_are_logged_and_retried() {
    let mock = StrictMock::start(&json!({CONFIRMED: [1, 20], STAYS: [1, 10]}), false);
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, MOCK_SECRET).unwrap();
    let state_dir = dir.path().join("not-yet");
    let state_file = state_dir.join("state.db");
    let extra = format!("state_file: {}\n", state_file.display());
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        mock_config_yaml(&mock, &secret, &extra, &[CONFIRMED, STAYS]),
    )
    .unwrap();
    let exporter = ExporterProcess::start(&config, &[]);
    wait_for(Duration::from_secs(10), "confirmed", || async {
        let m = scrape(exporter.addr).await;
        (m.status(CONFIRMED) == Some(20.0)).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let logs = exporter.logs();
    assert_eq!(
        logs.matches("cannot write the state database").count(),
        1,
        "{logs}"
    );
    assert!(!state_file.exists());
    let m = scrape(exporter.addr).await;
    assert_eq!(
        m.value("allscale_exporter_state_file_last_save_successful", &[]),
        0.0
    );
    assert_eq!(
        m.outcome("confirmed"),
        0.0,
        "exported before it was durable"
    );
    std::fs::create_dir(&state_dir).unwrap();
    // A failed save is retried within about a second; then the outcome is exported.
    wait_for(Duration::from_secs(10), "saved and exported", || async {
        let m = scrape(exporter.addr).await;
        let saved = m.value("allscale_exporter_state_file_last_save_successful", &[]) == 1.0;
        (saved && m.outcome("confirmed") == 1.0).then_some(())
    })
    .await;
    exporter.terminate();
    let saved = saved_intent(&state_file, CONFIRMED).expect("state saved once possible");
    assert!(saved["terminal_at"].is_f64());
}

/// A JSON state file of an earlier version at `state_file` is imported once: its
/// outcomes are not counted again, its terminal intents not polled again, its
/// non-terminal ones continue; the JSON file is kept beside the database as
/// `<state_file>.v1.json`, and the next start reads the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_json_state_file_is_imported_once_and_kept_beside() {
    let mock = StrictMock::start(&json!({CONFIRMED: [20], STAYS: [10]}), false);
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, MOCK_SECRET).unwrap();
    let state_file = dir.path().join("state.json");
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        - 60.0;
    let old = json!({
        "format_version": 2,
        "written_at": 1.0,
        "stores": {"main": {
            "terminal_total": {"confirmed": 7, "failed": 2},
            "transitions": [{"from": "on_chain", "to": "confirmed", "count": 7}],
            "api_requests": {"ok": 500},
            "intents": {
                CONFIRMED: {"status": 20, "not_found": false, "status_changed_at": t,
                            "last_success_at": t, "terminal_at": t, "added_at": t},
                STAYS: {"status": 10, "not_found": false, "status_changed_at": t,
                        "last_success_at": t, "terminal_at": null, "added_at": t}
            },
            "expired_total": 3
        }}
    });
    let old_text = old.to_string();
    std::fs::write(&state_file, &old_text).unwrap();
    let extra = format!("state_file: {}\n", state_file.display());
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        mock_config_yaml(&mock, &secret, &extra, &[CONFIRMED, STAYS]),
    )
    .unwrap();
    for start in 0..2 {
        let exporter = ExporterProcess::start(&config, &[]);
        let m = scrape(exporter.addr).await;
        assert_eq!(m.outcome("confirmed"), 7.0, "start {start}");
        assert_eq!(m.outcome("failed"), 2.0);
        assert_eq!(transitions(&m, "on_chain", "confirmed"), 7.0);
        assert_eq!(m.status(CONFIRMED), Some(20.0));
        assert_eq!(
            m.value(
                "allscale_checkout_intent_expired_total",
                &[("store", "main")]
            ),
            3.0
        );
        wait_for(Duration::from_secs(10), "STAYS polled", || async {
            let stats = mock.stats().await;
            (stats["accepted"][STAYS].as_u64() > Some(start)).then_some(())
        })
        .await;
        exporter.terminate();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("state.json.v1.json")).unwrap(),
            old_text,
            "the JSON file is kept as it was"
        );
        let saved = common::statedb::saved_intent(&state_file, "main", CONFIRMED).unwrap();
        // The state keeps times to the millisecond (`UnixTime`): the import rounds them.
        let kept = allscale_exporter::clock::UnixTime::from_secs_f64(t).as_secs_f64();
        assert_eq!(saved["terminal_at"], kept);
        assert_eq!(saved["status_name"], "CONFIRMED");
    }
    let stats = mock.stats().await;
    assert_eq!(
        stats["accepted"].get(CONFIRMED),
        None,
        "terminal: never polled"
    );
    assert_eq!(stats["violations"], json!([]));
}
