//! Issue #16: `per_intent_metrics` trades drill-down for series, per store, and
//! `/metrics` is gzip-compressed for scrapers that ask for it.

use crate::common;

use std::io::Read as _;
use std::time::Duration;

use allscale_exporter::config::{PerIntentMetrics, StoreConfig};
use allscale_exporter::simulator::SimIntent;
use common::Metrics;
use common::sim::{Harness, id, intent, scenario};

const MODES: [(&str, PerIntentMetrics); 5] = [
    ("all", PerIntentMetrics::All),
    ("active", PerIntentMetrics::Active),
    ("attention", PerIntentMetrics::Attention),
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
        assert!(
            ids(&m, family, "attention").is_empty(),
            "{family}: confirmed, and on chain for less than 25 minutes"
        );
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

/// The per-intent families `active` exports, which `attention` exports for fewer intents.
const PER_INTENT: [&str; 4] = [
    "allscale_checkout_intent_status",
    "allscale_checkout_intent_status_change_timestamp_seconds",
    "allscale_checkout_intent_last_success_timestamp_seconds",
    "allscale_checkout_intent_info",
];

/// The intents (by number) with series in `store`: the same in every per-intent family
/// (each intent has an order id, so `_info` too), or the test fails naming the family.
fn numbers(m: &Metrics, store: &str) -> Vec<u32> {
    let of = |family| -> Vec<u32> {
        let mut ns: Vec<u32> = ids(m, family, store)
            .iter()
            .map(|i| u32::from_str_radix(&i[16..], 16).unwrap())
            .collect();
        ns.sort_unstable();
        ns
    };
    let status = of(PER_INTENT[0]);
    for family in &PER_INTENT[1..] {
        assert_eq!(of(family), status, "{family} against the status series");
    }
    status
}

/// Issue #25: `attention` exports an intent's series only while someone must look at
/// it: waiting in a status past that status's `attention_after` (from 5 minutes before,
/// so Prometheus has them when the stuck alert's threshold passes), or finished badly
/// (failed, rejected, underpaid, confirmed short) within `terminal_retention`. The
/// aggregates count every intent. The exporter's clock is moved by hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attention_exports_only_the_intents_that_need_someone() {
    let short = SimIntent {
        paid_coins: Some("12.00".into()),
        ..intent(5, &[20], 100)
    };
    let sc = scenario(vec![
        intent(1, &[10], 100),
        intent(2, &[-1], 100),
        intent(3, &[-3], 100),
        intent(4, &[20], 100),
        short,
        intent(6, &[1], 100),
        intent(7, &[-4], 100),
        intent(8, &[4], 100),
        intent(9, &[-2], 100),
    ]);
    let (h, clock) = Harness::start_driven(sc, |config, _| {
        config.terminal_retention = Duration::from_secs(3600);
        let store = &mut config.stores[0];
        store.name = "attn".into();
        store.per_intent_metrics = PerIntentMetrics::Attention;
        for (n, intent) in store.intents.iter_mut().enumerate() {
            intent.order_id = Some(format!("order-{}", n + 1));
        }
    })
    .await;
    let m = h
        .wait_metrics("every intent polled, every detail counted", |m| {
            let by = |status| {
                m.get(
                    "allscale_checkout_intents",
                    &[("store", "attn"), ("status", status)],
                )
            };
            by("on_chain") == Some(1.0)
                && by("created") == Some(1.0)
                && by("pending_manual_operation") == Some(1.0)
                && m.sum(
                    "allscale_api_requests_total",
                    &[("endpoint", "detail"), ("result", "ok")],
                ) == 6.0
        })
        .await;
    assert_eq!(
        m.value(
            "allscale_checkout_confirmed_short_total",
            &[("store", "attn")]
        ),
        1.0
    );
    assert_eq!(
        numbers(&m, "attn"),
        [2, 3, 5, 9],
        "failed, underpaid, confirmed short, rejected; not the healthy, the confirmed in \
         full or the canceled"
    );
    assert_eq!(
        m.value(
            "allscale_checkout_intent_status",
            &[("store", "attn"), ("intent_id", &id(5))]
        ),
        20.0,
        "the short confirmation reads confirmed"
    );
    assert_eq!(
        m.value("allscale_exporter_watched_intents", &[("store", "attn")]),
        9.0
    );
    let aggregate: f64 = m.sum("allscale_checkout_intents", &[("store", "attn")]);
    assert_eq!(aggregate, 9.0, "the aggregates count every intent");

    // 24 minutes on chain: not yet (the on-chain threshold is 30m).
    clock.advance(Duration::from_secs(24 * 60));
    assert_eq!(numbers(&h.scrape().await, "attn"), [2, 3, 5, 9]);
    // 30 minutes and a second: the intent on chain has its series, with the time it
    // entered the status; manual review (1h) and before payment (2h) still wait.
    clock.advance(Duration::from_secs(6 * 60 + 1));
    let m = h.scrape().await;
    assert_eq!(numbers(&m, "attn"), [1, 2, 3, 5, 9]);
    let entered = m.value(
        "allscale_checkout_intent_status_change_timestamp_seconds",
        &[("store", "attn"), ("intent_id", &id(1))],
    );
    let oldest = m.value(
        "allscale_checkout_oldest_status_change_timestamp_seconds",
        &[("store", "attn"), ("status", "on_chain")],
    );
    assert_eq!(entered, oldest);
    // An hour and a minute: past terminal_retention, the bad outcomes are gone; the
    // intent in manual review is past its hour; the one before payment waits for 2h.
    clock.advance(Duration::from_secs(30 * 60 + 60));
    assert_eq!(numbers(&h.scrape().await, "attn"), [1, 8]);
    // Two hours: the intent not paid for has its series too.
    clock.advance(Duration::from_secs(3600));
    assert_eq!(numbers(&h.scrape().await, "attn"), [1, 6, 8]);
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
