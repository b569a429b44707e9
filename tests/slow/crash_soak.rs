//! Issue #11, point 4: exported counters never go backwards across a crash. The real
//! binary, with a state file, is SIGKILLed at random moments (often within the one-second
//! save delay) 30 times while outcomes keep happening on the independent strict mock. After
//! every restart, each outcome and transition counter is at least what the killed process
//! last served, and every other `_total` counter starts again from 0 (it counts no more
//! than the new process has sent). At the end every intent is counted exactly once.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::processes::{ExporterProcess, MOCK_SECRET, StrictMock, mock_config_yaml};
use common::{Metrics, scrape, wait_for};
use rand::Rng;
use serde_json::{Map, Value, json};

const KILLS: usize = 30;
const INTENTS: usize = 40;
/// Terminal statuses the intents end in, in turn: confirmed, failed, rejected, underpaid.
const ENDS: [(i64, &str); 4] = [
    (20, "confirmed"),
    (-1, "failed"),
    (-2, "rejected"),
    (-3, "underpaid"),
];

/// Counters a restart restores from the state file.
const RESTORED: [&str; 2] = [
    "allscale_checkout_intent_terminal_total",
    "allscale_checkout_intent_transitions_total",
];

type Series = (String, BTreeMap<String, String>);

fn intent_id(i: usize) -> String {
    format!("6b{i:022x}")
}

/// Intent `i` goes on chain after a moment and reaches its end at a time spread over
/// the soak, so outcomes happen before, during and after kills.
fn lifecycles() -> Value {
    let mut intents = Map::new();
    for i in 0..INTENTS {
        let end = 1.0 + i as f64 * 0.8;
        let (status, _) = ENDS[i % ENDS.len()];
        intents.insert(
            intent_id(i),
            json!({"timed": [[0, 1], [end - 0.5, 10], [end, status]]}),
        );
    }
    Value::Object(intents)
}

fn counters(m: &Metrics) -> BTreeMap<Series, f64> {
    m.series
        .iter()
        .filter(|((name, _), _)| name.ends_with("_total"))
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// Requests the mock has seen, accepted or not.
async fn requests_seen(mock: &StrictMock) -> f64 {
    mock.stats().await["total"].as_f64().unwrap_or(0.0)
}

/// Scrapes for a random moment, checking counters rise within the process; returns the
/// last values served.
async fn serve_a_while(exporter: &ExporterProcess) -> BTreeMap<Series, f64> {
    let life = Duration::from_millis(rand::rng().random_range(100..1500));
    let until = std::time::Instant::now() + life;
    let mut last = counters(&scrape(exporter.addr).await);
    while std::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = counters(&scrape(exporter.addr).await);
        for (series, value) in &now {
            let before = last.get(series).copied().unwrap_or(0.0);
            assert!(
                *value >= before,
                "{series:?} fell from {before} to {value} in one process"
            );
        }
        last = now;
    }
    last
}

/// The first scrape after a restart against what the killed process served last.
fn assert_nothing_went_back(last: &BTreeMap<Series, f64>, first: &Metrics, sent: f64, kill: usize) {
    let first = counters(first);
    for (series, served) in last {
        let now = first.get(series).copied().unwrap_or(0.0);
        if RESTORED.contains(&series.0.as_str()) {
            assert!(
                now >= *served,
                "kill {kill}: {series:?} went back from {served} to {now}"
            );
        } else if now < *served {
            assert!(
                now <= sent,
                "kill {kill}: {series:?} is {now}, neither >= {served} nor a fresh count (sent {sent})"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_never_go_back_across_random_sigkills() {
    let mock = StrictMock::start(&lifecycles(), false);
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, MOCK_SECRET).unwrap();
    let state_file = dir.path().join("state.json");
    let extra = format!("state_file: {}\n", state_file.display());
    let ids: Vec<String> = (0..INTENTS).map(intent_id).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, mock_config_yaml(&mock, &secret, &extra, &ids)).unwrap();

    let mut exporter = ExporterProcess::start(&config, &[]);
    for kill in 0..KILLS {
        let last = serve_a_while(&exporter).await;
        exporter.kill();
        let seen_at_kill = requests_seen(&mock).await;
        exporter = ExporterProcess::start(&config, &[]);
        let first = scrape(exporter.addr).await;
        let sent = requests_seen(&mock).await - seen_at_kill;
        assert_nothing_went_back(&last, &first, sent, kill);
    }
    let m = wait_for(Duration::from_secs(40), "every intent terminal", || async {
        let m = scrape(exporter.addr).await;
        let total: f64 = ENDS.iter().map(|(_, o)| m.outcome(o)).sum();
        (total >= INTENTS as f64).then_some(m)
    })
    .await;
    for (i, (_, outcome)) in ENDS.iter().enumerate() {
        let expected = (0..INTENTS).filter(|n| n % ENDS.len() == i).count() as f64;
        assert_eq!(
            m.outcome(outcome),
            expected,
            "{outcome}: each intent counted once"
        );
    }
    exporter.terminate();
}
