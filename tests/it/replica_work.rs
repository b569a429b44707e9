//! Issue #24, points 1 and 6, with two exporters on one throwaway PostgreSQL: they split a
//! store's intents by the partitions each leases (every intent polled, none by both), each
//! takes half of the store's budget, and one that stops hands its part to the other at
//! once (a rolling restart).

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use allscale_exporter::replica::lease::LeaseSettings;
use allscale_exporter::server::Exporter;
use allscale_exporter::simulator::Simulator;
use allscale_exporter::{config::Config, reload::ReloadOptions};
use common::sim::{KEY, SECRET, id, intent, scenario};
use common::{Metrics, postgres, scrape, test_config, wait_for};

const INTENTS: u32 = 48;

fn held(m: &Metrics) -> Option<f64> {
    m.get("allscale_exporter_replica_partitions_held", &[])
}

async fn start(config: &Config, name: &str) -> Exporter {
    let options = ReloadOptions {
        replica: name.parse().unwrap(),
        lease: LeaseSettings::of(Duration::from_secs(3)),
        ..ReloadOptions::none()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Exporter::start(config.clone(), listener, options)
        .await
        .unwrap()
}

/// Status requests per intent the simulator has answered so far.
fn polls(sim: &Simulator) -> BTreeMap<String, u64> {
    sim.stats().authenticated_by_intent
}

/// Per intent, the status requests the simulator answers within `window` from now.
async fn polls_within(sim: &Simulator, window: Duration) -> Vec<u64> {
    let before = polls(sim);
    tokio::time::sleep(window).await;
    let after = polls(sim);
    (1..=INTENTS)
        .map(|n| {
            let id = id(n);
            after.get(&id).copied().unwrap_or(0) - before.get(&id).copied().unwrap_or(0)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_split_the_intents_and_the_budget_and_one_stopping_hands_over() {
    let Some(server) = postgres::server() else {
        return;
    };
    let database = server.database();
    // Intents that stay on chain: polled every interval for the whole test.
    let intents = (1..=INTENTS).map(|n| intent(n, &[2], 3_600_000)).collect();
    let sim = Simulator::new(scenario(intents));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let serving = tokio::spawn(sim.clone().serve(listener, std::future::pending()));
    let ids: Vec<String> = (1..=INTENTS).map(id).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut config = test_config(&url, KEY, SECRET, &ids);
    config.poll_interval = Duration::from_millis(500);
    config.stores[0].max_requests_per_second = 200.0;
    config.state_database = Some(Box::new(server.state_database(&database)));

    let a = start(&config, "replica-a").await;
    wait_for(
        Duration::from_secs(15),
        "replica a to hold every partition",
        || async { (held(&scrape(a.local_addr()).await) == Some(256.0)).then_some(()) },
    )
    .await;
    let b = start(&config, "replica-b").await;
    let (ma, mb) = wait_for(Duration::from_secs(15), "a fair split", || async {
        let (ma, mb) = (scrape(a.local_addr()).await, scrape(b.local_addr()).await);
        (held(&ma) == Some(128.0) && held(&mb) == Some(128.0)).then_some((ma, mb))
    })
    .await;
    for m in [&ma, &mb] {
        assert_eq!(m.get("allscale_exporter_replicas_live", &[]), Some(2.0));
        let budget = m.get(
            "allscale_exporter_poll_budget_requests_per_second",
            &[("store", "main")],
        );
        assert_eq!(budget, Some(100.0), "half of the store's budget each");
    }

    // Each intent is polled about every 500 ms by exactly one of them: about 6 times in
    // 3 s; polled by both it would be about 12.
    let split = polls_within(&sim, Duration::from_secs(3)).await;
    assert!(
        split.iter().all(|&n| (1..=9).contains(&n)),
        "polls per intent in 3 s: {split:?}"
    );

    // A clean stop hands a's leases back: b takes everything at its next round.
    a.shutdown().await;
    wait_for(
        Duration::from_secs(10),
        "replica b to take a's part",
        || async {
            let m = scrape(b.local_addr()).await;
            let all = held(&m) == Some(256.0)
                && m.get("allscale_exporter_replicas_live", &[]) == Some(1.0);
            all.then_some(())
        },
    )
    .await;
    let alone = polls_within(&sim, Duration::from_secs(2)).await;
    assert!(
        alone.iter().all(|&n| (1..=6).contains(&n)),
        "polls per intent in 2 s after the handover: {alone:?}"
    );
    b.shutdown().await;
    serving.abort();
}
