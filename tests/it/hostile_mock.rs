//! Issue #6: the real exporter binary against the independent strict mock
//! (tests/strict_mock.py) serving one hostile answer kind per intent, beside healthy
//! intents. The exporter stays up, counts every hostile answer under the result docs/contract.md
//! gives it, polls the healthy intents to their terminal status, stays under 100 MB peak
//! RSS, and never shows the API secret in its logs, `/metrics` or `/`.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use allscale_exporter::api::client::RequestResult;
use common::processes::{ExporterProcess, MOCK_SECRET, StrictMock, mock_config_yaml_with};
use common::{get, scrape, wait_for};
use serde_json::{Value, json};

const CONFIRMED: &str = "690000000000000000000c01";
const UNDERPAID: &str = "690000000000000000000c02";
const FAILED: &str = "690000000000000000000c03";

/// Each hostile kind of the mock and the `result` docs/contract.md gives it: a 2xx answer that
/// is not a well-formed envelope (or is over the size cap) is `decode_error`; a non-2xx
/// answer without an envelope is `http_error`; no answer within `request_timeout` is
/// `timeout`; a connection torn down mid-answer never delivered an answer at all, so it
/// is a transport failure, `connect_error`.
const HOSTILE: [(&str, &str); 11] = [
    ("not_json", "decode_error"),
    ("no_code", "decode_error"),
    ("string_payload", "decode_error"),
    // A multi-byte character across the quoted prefix once panicked the store's poller.
    ("unicode_payload", "decode_error"),
    ("float_payload", "decode_error"),
    ("huge", "decode_error"),
    ("huge_declared", "decode_error"),
    ("html_502", "http_error"),
    ("slow", "timeout"),
    ("trickle", "timeout"),
    ("reset", "connect_error"),
];

/// Rounds of every hostile answer to serve before measuring (several 16 MiB answers).
const ROUNDS: u64 = 5;

/// The peak resident set allowed (issue #6: "under 100 MB").
const MAX_PEAK_RSS_BYTES: u64 = 100_000_000;

fn hostile_id(i: usize) -> String {
    format!("69{i:022x}")
}

fn served(stats: &Value, table: &str, kind: &str) -> u64 {
    stats[table][kind].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_answers_from_an_independent_mock_are_counted_and_harmless() {
    run(false).await;
}

/// The same with signed responses: the mock signs every hostile answer over its full
/// intended body, so the signature check passes and the answer itself is what fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_answers_with_signed_responses_are_classified_the_same() {
    run(true).await;
}

async fn run(verify_response_signature: bool) {
    let mut intents = json!({
        CONFIRMED: [1, 2, 10, 20],
        UNDERPAID: [1, -3],
        FAILED: [2, -1],
    });
    let hostile_ids: Vec<String> = (0..HOSTILE.len()).map(hostile_id).collect();
    for ((kind, _), id) in HOSTILE.iter().zip(&hostile_ids) {
        intents[id] = json!({ "hostile": kind });
    }
    let mock = StrictMock::start(&intents, verify_response_signature);
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, format!("{MOCK_SECRET}\n")).unwrap();
    let config = dir.path().join("config.yaml");
    let mut ids = vec![CONFIRMED, UNDERPAID, FAILED];
    ids.extend(hostile_ids.iter().map(String::as_str));
    let mut yaml = mock_config_yaml_with(&mock, &secret, "1s", "1s", "", &ids);
    if verify_response_signature {
        yaml = yaml.replace(
            "    max_requests",
            "    verify_response_signature: true\n    max_requests",
        );
        assert!(yaml.contains("verify_response_signature: true"), "{yaml}");
    }
    std::fs::write(&config, yaml).unwrap();
    let mut exporter = ExporterProcess::start(&config, &["--log.level=debug"]);
    let addr = exporter.addr;

    // Healthy intents terminal, and several rounds of every hostile kind served, the
    // 16 MiB ones each abandoned by the exporter before the mock could write it all.
    wait_for(
        Duration::from_secs(90),
        "healthy intents terminal and every hostile kind served several times",
        || async {
            let m = scrape(addr).await;
            let stats = mock.stats().await;
            let healthy = m.status(CONFIRMED) == Some(20.0)
                && m.status(UNDERPAID) == Some(-3.0)
                && m.status(FAILED) == Some(-1.0);
            let rounds = HOSTILE
                .iter()
                .all(|(kind, _)| served(&stats, "hostile_served", kind) >= ROUNDS);
            let hung_up = ["huge", "huge_declared"]
                .iter()
                .all(|kind| served(&stats, "hostile_client_gone", kind) >= 1);
            (healthy && rounds && hung_up).then_some(())
        },
    )
    .await;

    // Bracket one scrape between two stats reads: every hostile answer the mock started
    // before `before` has been counted by the exporter unless it is still in flight (at
    // most one request per intent), and none the mock had not started yet can be.
    let before = mock.stats().await;
    let m = scrape(addr).await;
    let after = mock.stats().await;
    let peak_rss = exporter.proc_status_bytes("VmHWM");
    let rss = exporter.proc_status_bytes("VmRSS");
    assert!(
        exporter.is_running(),
        "the exporter died:\n{}",
        exporter.logs()
    );
    let (healthz, _) = get(addr, "/healthz").await;
    let (landing_status, landing) = get(addr, "/").await;
    let (_, readyz) = get(addr, "/readyz").await;
    let logs = exporter.logs();
    exporter.terminate();

    // Observed numbers, for the record.
    let mut observed = BTreeMap::new();
    for result in RequestResult::ALL.map(RequestResult::as_str) {
        observed.insert(result, m.requests(result));
    }
    eprintln!("VmHWM {peak_rss} bytes, VmRSS {rss} bytes");
    eprintln!("requests by result: {observed:?}");
    eprintln!(
        "mock hostile_served {} hostile_client_gone {}",
        after["hostile_served"], after["hostile_client_gone"]
    );

    // The mock verified every request's signing: none was refused.
    assert_eq!(after["violations"], json!([]), "{after:#}");
    assert_eq!(after["rejected"], json!([]), "{after:#}");

    // Healthy intents: exact statuses, outcomes and request counts.
    assert_eq!(m.status(CONFIRMED), Some(20.0));
    assert_eq!(m.status(UNDERPAID), Some(-3.0));
    assert_eq!(m.status(FAILED), Some(-1.0));
    for outcome in ["confirmed", "underpaid", "failed"] {
        assert_eq!(m.outcome(outcome), 1.0, "{outcome}");
    }
    for outcome in ["rejected", "canceled", "timeout"] {
        assert_eq!(m.outcome(outcome), 0.0, "{outcome}");
    }
    for (id, polls) in [(CONFIRMED, 4), (UNDERPAID, 2), (FAILED, 2)] {
        assert_eq!(after["accepted"][id], polls, "{id}: {after:#}");
    }
    assert_eq!(observed["ok"], 8.0, "only healthy answers are ok");

    // Hostile intents: never a status, never a success.
    for ((kind, _), id) in HOSTILE.iter().zip(&hostile_ids) {
        let labels = [("store", "main"), ("intent_id", id.as_str())];
        assert_eq!(
            m.get("allscale_checkout_intent_status", &labels),
            None,
            "hostile kind {kind} produced a status"
        );
        assert_eq!(
            m.get(
                "allscale_checkout_intent_last_success_timestamp_seconds",
                &labels
            ),
            None,
            "hostile kind {kind} counted as a success"
        );
    }

    // Each result counts exactly the hostile answers of its kinds, up to the requests
    // in flight at the scrape.
    for result in ["decode_error", "http_error", "timeout", "connect_error"] {
        let kinds: Vec<&str> = HOSTILE
            .iter()
            .filter(|(_, r)| *r == result)
            .map(|(k, _)| *k)
            .collect();
        let sum = |stats: &Value| -> u64 {
            kinds
                .iter()
                .map(|k| served(stats, "hostile_served", k))
                .sum()
        };
        let (lower, upper) = (sum(&before).saturating_sub(kinds.len() as u64), sum(&after));
        let counted = observed[result];
        assert!(
            counted >= kinds.len() as f64 && counted >= lower as f64 && counted <= upper as f64,
            "{result} = {counted}, expected {lower}..={upper} (kinds {kinds:?}; \
             at least one per kind); all results: {observed:?}"
        );
    }
    for result in ["api_error", "bad_response_signature"] {
        assert_eq!(observed[result], 0.0, "{result}: {observed:?}");
    }

    // Still up, and small.
    assert_eq!(healthz, 200);
    assert!(
        peak_rss < MAX_PEAK_RSS_BYTES,
        "peak RSS {peak_rss} bytes is over {MAX_PEAK_RSS_BYTES}"
    );

    // The secret is nowhere to be seen.
    assert!(
        logs.contains("DEBUG") && logs.len() > 1000,
        "debug logging produced too little to be a test:\n{logs}"
    );
    assert!(
        !logs.contains(MOCK_SECRET),
        "the secret leaked into the logs"
    );
    assert!(
        !m.text.contains(MOCK_SECRET),
        "the secret leaked into /metrics"
    );
    assert_eq!(landing_status, 200);
    assert!(!landing.contains(MOCK_SECRET), "the secret leaked into /");
    assert!(
        !readyz.contains(MOCK_SECRET),
        "the secret leaked into /readyz"
    );
}
