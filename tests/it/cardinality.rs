//! Issue #16: `per_intent_metrics` trades drill-down for series, per store, and
//! `/metrics` is gzip-compressed for scrapers that ask for it.

use crate::common;

use std::io::Read as _;
use std::time::Duration;

use allscale_exporter::config::{PerIntentMetrics, StoreConfig};
use common::Metrics;
use common::sim::{Harness, id, intent, scenario};

const MODES: [(&str, PerIntentMetrics); 4] = [
    ("all", PerIntentMetrics::All),
    ("active", PerIntentMetrics::Active),
    ("status_only", PerIntentMetrics::StatusOnly),
    ("none", PerIntentMetrics::None),
];

/// Per-intent series of `store` in `family`: their intent ids.
fn ids(m: &Metrics, family: &str, store: &str) -> Vec<String> {
    m.series
        .keys()
        .filter(|(name, labels)| name == family && labels["store"] == store)
        .map(|(_, labels)| labels["intent_id"].clone())
        .collect()
}

/// One store per mode, each watching the same two intents: 1 confirms at once (and is
/// past `terminal_retention` once the exporter's clock moved a second on), 2 stays on
/// chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_mode_exports_its_per_intent_series_and_every_aggregate() {
    let sc = scenario(vec![intent(1, &[20], 100), intent(2, &[10], 100)]);
    let (h, clock) = Harness::start_driven(sc, |config, _| {
        config.terminal_retention = Duration::from_secs(1);
        let template = config.stores[0].clone();
        config.stores = MODES
            .iter()
            .map(|(name, mode)| StoreConfig {
                name: (*name).to_string(),
                per_intent_metrics: *mode,
                ..template.clone()
            })
            .collect();
    })
    .await;
    h.wait_metrics(
        "every store polled both, intent 1 past the retention",
        |m| {
            MODES.iter().all(|(store, _)| {
                let by = |status| {
                    m.get(
                        "allscale_checkout_intents",
                        &[("store", store), ("status", status)],
                    )
                };
                by("confirmed") == Some(1.0) && by("on_chain") == Some(1.0)
            })
        },
    )
    .await;
    clock.advance(Duration::from_millis(1200));
    let m = h.scrape().await;
    let (one, two) = (id(1), id(2));
    let status = "allscale_checkout_intent_status";
    let changed = "allscale_checkout_intent_status_change_timestamp_seconds";
    let success = "allscale_checkout_intent_last_success_timestamp_seconds";
    assert_eq!(ids(&m, status, "all"), [one.as_str(), two.as_str()]);
    assert_eq!(ids(&m, changed, "all"), [one.as_str(), two.as_str()]);
    assert_eq!(
        ids(&m, status, "active"),
        [two.as_str()],
        "1 is past the retention"
    );
    assert_eq!(ids(&m, success, "active"), [two.as_str()]);
    assert_eq!(ids(&m, status, "status_only"), [two.as_str()]);
    assert!(ids(&m, changed, "status_only").is_empty());
    assert!(ids(&m, success, "status_only").is_empty());
    for family in [status, changed, success] {
        assert!(ids(&m, family, "none").is_empty(), "{family}");
    }
    for (store, _) in MODES {
        let labels = [("store", store), ("outcome", "confirmed")];
        assert_eq!(
            m.value("allscale_checkout_intent_terminal_total", &labels),
            1.0
        );
        let oldest = m.value(
            "allscale_checkout_oldest_status_change_timestamp_seconds",
            &[("store", store), ("status", "on_chain")],
        );
        assert!(oldest > 1.7e9, "{store}: {oldest}");
        assert_eq!(
            m.get(
                "allscale_checkout_oldest_status_change_timestamp_seconds",
                &[("store", store), ("status", "confirmed")],
            ),
            None,
            "terminal intents are not waiting"
        );
    }
    h.stop().await;
}

/// `Accept-Encoding: gzip` (as Prometheus sends it) gets the same page gzip-compressed,
/// with `Content-Encoding` and `Vary`; without it the page is plain.
#[tokio::test]
async fn metrics_are_gzip_compressed_when_asked() {
    let sc = scenario((1..=50).map(|n| intent(n, &[10], 100)).collect());
    let h = Harness::start(sc, |_, _| {}).await;
    h.wait_metrics("polled", |m| {
        m.get(
            "allscale_checkout_intents",
            &[("store", "main"), ("status", "on_chain")],
        ) == Some(50.0)
    })
    .await;
    let url = format!("http://{}/metrics", h.exporter.local_addr());
    let client = reqwest::Client::new();
    let fetch = |encoding: &'static str| {
        let request = client.get(&url).header("accept-encoding", encoding);
        async move { request.send().await.unwrap() }
    };
    let packed = fetch("gzip").await;
    assert_eq!(packed.status(), 200);
    let headers = packed.headers().clone();
    assert_eq!(headers["content-encoding"], "gzip");
    assert_eq!(headers["vary"], "accept-encoding");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let bytes = packed.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .expect("a gzip body");
    let unpacked = Metrics::parse(&text);
    assert_eq!(unpacked.sum("allscale_checkout_intent_status", &[]), 500.0);
    let plain = fetch("identity").await;
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.text().await.unwrap();
    assert!(
        bytes.len() * 4 < plain.len(),
        "{} vs {}",
        bytes.len(),
        plain.len()
    );
    h.stop().await;
}
