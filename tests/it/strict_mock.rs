//! The exporter against an independent, strict implementation of the AllScale auth rules
//! (tests/strict_mock.py, Python stdlib, no shared code): every request must be accepted,
//! and the exported statuses, outcome counters and error-code counters must be exact.

use crate::common;

use std::time::Duration;

use allscale_exporter::reload::ReloadOptions;
use allscale_exporter::server::Exporter;
use common::processes::{MOCK_KEY as KEY, MOCK_SECRET as SECRET, StrictMock};
use common::{Metrics, scrape, test_config, wait_for};

const CONFIRMED: &str = "65b2f3d0d2d9c0a1b2c3d4e5";
const UNDERPAID: &str = "65b2f3d0d2d9c0a1b2c3d4e6";
const FAILED: &str = "65b2f3d0d2d9c0a1b2c3d4e7";
const ON_CHAIN: &str = "65b2f3d0d2d9c0a1b2c3d4e8";
const INTERNAL_ERROR: &str = "65b2f3d0d2d9c0a1b2c3d4e9";
const FORBIDDEN: &str = "65b2f3d0d2d9c0a1b2c3d4ea";
const MISSING: &str = "65b2f3d0d2d9c0a1b2c3d4eb";

fn start_mock(sign_responses: bool) -> StrictMock {
    let intents = serde_json::json!({
        CONFIRMED: [1, 2, 10, 20],
        UNDERPAID: [1, -3],
        FAILED: [2, -1],
        ON_CHAIN: [1, 10],
        INTERNAL_ERROR: {"error_code": 90000, "http_status": 500},
        FORBIDDEN: {"owner": "other"},
    });
    StrictMock::start(&intents, sign_responses)
}

fn ids() -> Vec<&'static str> {
    vec![
        CONFIRMED,
        UNDERPAID,
        FAILED,
        ON_CHAIN,
        INTERNAL_ERROR,
        FORBIDDEN,
        MISSING,
    ]
}

async fn run_against_strict_mock(verify_response_signature: bool) {
    let mock = start_mock(verify_response_signature);
    let base = mock.base_url();
    let mut config = test_config(&base, KEY, SECRET, &ids());
    config.stores[0].verify_response_signature = verify_response_signature;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let exporter = Exporter::start(config, listener, ReloadOptions::none())
        .await
        .unwrap();
    let addr = exporter.local_addr();

    let m: Metrics = wait_for(
        Duration::from_secs(20),
        "three terminal outcomes",
        || async {
            let m = scrape(addr).await;
            let terminal = m.sum("allscale_checkout_intent_terminal_total", &[]);
            let on_chain = m.get(
                "allscale_checkout_intent_status",
                &[("store", "main"), ("intent_id", ON_CHAIN)],
            );
            (terminal == 3.0 && on_chain == Some(10.0)).then_some(m)
        },
    )
    .await;
    // Let several more rounds run: terminal intents must not be polled again.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let m2 = scrape(addr).await;
    let stats = mock.stats().await;
    exporter.shutdown().await;

    assert_eq!(stats["violations"], serde_json::json!([]), "{stats:#}");
    assert_eq!(stats["rejected"], serde_json::json!([]), "{stats:#}");
    // Each terminal intent was polled exactly as often as its lifecycle is long.
    assert_eq!(stats["accepted"][CONFIRMED], 4, "{stats:#}");
    assert_eq!(stats["accepted"][UNDERPAID], 2, "{stats:#}");
    assert_eq!(stats["accepted"][FAILED], 2, "{stats:#}");

    let intent = |id: &'static str| vec![("store", "main"), ("intent_id", id)];
    for (id, status) in [
        (CONFIRMED, 20.0),
        (UNDERPAID, -3.0),
        (FAILED, -1.0),
        (ON_CHAIN, 10.0),
    ] {
        assert_eq!(
            m2.value("allscale_checkout_intent_status", &intent(id)),
            status
        );
    }
    for id in [INTERNAL_ERROR, FORBIDDEN, MISSING] {
        assert_eq!(
            m2.get("allscale_checkout_intent_status", &intent(id)),
            None,
            "{id}"
        );
    }
    let outcome = |o| {
        m2.value(
            "allscale_checkout_intent_terminal_total",
            &[("store", "main"), ("outcome", o)],
        )
    };
    assert_eq!(outcome("confirmed"), 1.0);
    assert_eq!(outcome("underpaid"), 1.0);
    assert_eq!(outcome("failed"), 1.0);
    for o in ["rejected", "canceled", "timeout"] {
        assert_eq!(outcome(o), 0.0, "{o}");
    }
    let by_status = |s| {
        m2.value(
            "allscale_checkout_intents",
            &[("store", "main"), ("status", s)],
        )
    };
    assert_eq!(by_status("confirmed"), 1.0);
    assert_eq!(by_status("on_chain"), 1.0);
    assert_eq!(by_status("not_found"), 1.0);
    assert_eq!(by_status("created"), 0.0);
    assert_eq!(
        m2.value("allscale_exporter_watched_intents", &[("store", "main")]),
        7.0
    );
    assert_eq!(
        m2.value(
            "allscale_checkout_intent_transitions_total",
            &[("store", "main"), ("from", "on_chain"), ("to", "confirmed")]
        ),
        1.0
    );

    // Error codes: exporter counters match what the mock answered.
    let err = |code| {
        m2.value(
            "allscale_api_errors_total",
            &[("store", "main"), ("code", code)],
        )
    };
    let accepted = |id: &str| stats["accepted"][id].as_f64().unwrap_or(0.0);
    assert!(err("90000") >= 1.0 && err("30001") >= 1.0 && err("50001") >= 1.0);
    assert!(err("90000") <= accepted(INTERNAL_ERROR));
    assert_eq!(err("20001"), 0.0);
    assert_eq!(err("20002"), 0.0);
    let ok = m2.value(
        "allscale_api_requests_total",
        &[("store", "main"), ("endpoint", "status"), ("result", "ok")],
    );
    assert!(ok >= 4.0 + 2.0 + 2.0 + 2.0, "ok = {ok}");
    assert_eq!(
        m2.value(
            "allscale_api_requests_total",
            &[
                ("store", "main"),
                ("endpoint", "status"),
                ("result", "bad_response_signature")
            ]
        ),
        0.0
    );
    // The first scrape already had every terminal outcome: the totals never moved after.
    for o in ["confirmed", "underpaid", "failed"] {
        let labels = [("store", "main"), ("outcome", o)];
        assert_eq!(
            m.value("allscale_checkout_intent_terminal_total", &labels),
            m2.value("allscale_checkout_intent_terminal_total", &labels)
        );
    }
    common::assert_promtool_clean(&m2.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_mock_accepts_every_request_and_metrics_are_exact() {
    run_against_strict_mock(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_mock_signed_responses_verify() {
    run_against_strict_mock(true).await;
}
