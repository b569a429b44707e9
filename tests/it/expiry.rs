//! Issue #13, intents that never finish, with the real binary against the strict mock:
//! with `max_watch_age: 2s` and `not_found_ttl: 2s`, an intent that stays on chain
//! expires and one the API never knows is dropped; each is counted once, neither is
//! polled again, and after a SIGKILL and a restart both are still counted once and still
//! not polled. In process, the same limits pass on the exporter's manual clock.

use crate::common;

use std::time::Duration;

use allscale_exporter::config::{IntentConfig, IntentId};
use common::processes::{ExporterProcess, MOCK_SECRET, StrictMock, mock_config_yaml};
use common::sim::{Harness, id, intent, scenario};
use common::{Metrics, scrape, wait_for};
use serde_json::{Value, json};

/// On chain for ever.
const ON_CHAIN: &str = "67000000000000000000001a";
/// Not in the mock's file: 50001 on every poll.
const UNKNOWN: &str = "67000000000000000000001b";

fn expired(m: &Metrics) -> f64 {
    m.value(
        "allscale_checkout_intent_expired_total",
        &[("store", "main")],
    )
}

fn dropped(m: &Metrics) -> f64 {
    m.value(
        "allscale_exporter_intents_dropped_total",
        &[("store", "main"), ("reason", "not_found")],
    )
}

/// Requests the mock accepted for `id`.
fn polls(stats: &Value, id: &str) -> u64 {
    stats["accepted"][id].as_u64().unwrap_or(0)
}

/// Both counted once, neither polled for a while (several poll intervals), and the
/// given-up intents shown as the contract says.
async fn assert_counted_once_and_not_polled(mock: &StrictMock, exporter: &ExporterProcess) {
    let before = mock.stats().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = mock.stats().await;
    for id in [ON_CHAIN, UNKNOWN] {
        assert_eq!(polls(&after, id), polls(&before, id), "{id} polled again");
    }
    let m = scrape(exporter.addr).await;
    assert_eq!(expired(&m), 1.0);
    assert_eq!(dropped(&m), 1.0);
    assert_eq!(m.status(ON_CHAIN), None, "an expired intent has no series");
    assert_eq!(
        m.value("allscale_exporter_watched_intents", &[("store", "main")]),
        2.0,
        "still in the watch list"
    );
    assert_eq!(
        m.sum("allscale_checkout_intents", &[("store", "main")]),
        0.0,
        "counted under no status"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuck_and_unknown_intents_expire_and_drop_once_also_across_a_sigkill() {
    let mock = StrictMock::start(&json!({ ON_CHAIN: [1, 10] }), false);
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, MOCK_SECRET).unwrap();
    let state_file = dir.path().join("state.db");
    let extra = format!("state_file: {}\n", state_file.display());
    let yaml = mock_config_yaml(&mock, &secret, &extra, &[ON_CHAIN, UNKNOWN]).replace(
        "    intents:\n",
        "    max_watch_age: 2s\n    not_found_ttl: 2s\n    intents:\n",
    );
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, yaml).unwrap();

    let first = ExporterProcess::start(&config, &[]);
    let m = wait_for(
        Duration::from_secs(10),
        "on chain and not found",
        || async {
            let m = scrape(first.addr).await;
            (m.status(ON_CHAIN) == Some(10.0)).then_some(m)
        },
    )
    .await;
    assert_eq!(expired(&m), 0.0, "not before the age");
    assert_eq!(dropped(&m), 0.0);
    // Exported once saved: what the file holds from here on.
    wait_for(Duration::from_secs(10), "expired and dropped", || async {
        let m = scrape(first.addr).await;
        (expired(&m) == 1.0 && dropped(&m) == 1.0).then_some(())
    })
    .await;
    let stats = mock.stats().await;
    assert!(polls(&stats, ON_CHAIN) >= 2 && polls(&stats, UNKNOWN) >= 2);
    assert_counted_once_and_not_polled(&mock, &first).await;
    let logs = first.logs();
    assert!(logs.contains("intent expired"), "{logs}");
    assert!(logs.contains("intent dropped"), "{logs}");
    first.kill();

    let polls_at_stop = mock.stats().await;
    let second = ExporterProcess::start(&config, &[]);
    let m = scrape(second.addr).await;
    assert_eq!(expired(&m), 1.0, "restored from the state file");
    assert_eq!(dropped(&m), 1.0);
    assert_counted_once_and_not_polled(&mock, &second).await;
    let now = mock.stats().await;
    for id in [ON_CHAIN, UNKNOWN] {
        assert_eq!(
            polls(&now, id),
            polls(&polls_at_stop, id),
            "{id} polled after the restart"
        );
    }
    assert_eq!(now["violations"], json!([]));
    let saved = |id| common::statedb::saved_intent(&state_file, "main", id).unwrap();
    assert!(
        saved(ON_CHAIN)["expired_at"].is_f64(),
        "{}",
        saved(ON_CHAIN)
    );
    assert!(saved(ON_CHAIN)["added_at"].is_f64(), "{}", saved(ON_CHAIN));
    assert_eq!(
        saved(UNKNOWN)["dropped_reason"],
        "not_found",
        "{}",
        saved(UNKNOWN)
    );
    second.terminate();
}

/// The limits follow the exporter's clock (a manual one here): nothing is given up before
/// it passes them, however slow the machine, and both intents are once it has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limits_pass_on_the_exporter_s_clock() {
    const LIMIT: Duration = Duration::from_secs(600);
    let on_chain = scenario(vec![intent(1, &[10], 60_000)]);
    let (h, clock) = Harness::start_driven(on_chain, |c, _| {
        let store = &mut c.stores[0];
        (store.max_watch_age, store.not_found_ttl) = (LIMIT, LIMIT);
        let unknown = IntentId::parse(&id(2)).unwrap();
        store.intents.push(IntentConfig {
            id: unknown,
            order_id: None,
        });
    })
    .await;
    let not_found = |m: &Metrics| {
        m.value(
            "allscale_checkout_intents",
            &[("store", "main"), ("status", "not_found")],
        )
    };
    let m = h
        .wait_metrics("on chain and not found", |m| {
            m.status(&id(1)) == Some(10.0) && not_found(m) == 1.0
        })
        .await;
    assert_eq!(expired(&m), 0.0, "not before the age");
    assert_eq!(dropped(&m), 0.0);
    // Twice the limits: the intents were added a moment after the clock was set.
    clock.advance(2 * LIMIT);
    let m = h
        .wait_metrics("expired and dropped", |m| {
            expired(m) == 1.0 && dropped(m) == 1.0
        })
        .await;
    assert_eq!(m.status(&id(1)), None, "an expired intent has no series");
    assert_eq!(
        m.value("allscale_exporter_watched_intents", &[("store", "main")]),
        2.0,
        "still in the watch list"
    );
    h.stop().await;
}
