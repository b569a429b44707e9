//! Issue #13 point 5, budget planning: when the pollable intents need more requests than
//! the store's budget, every intent is still polled, evenly, at the longer effective
//! interval, and the planning metrics say so.

use crate::common;

use std::time::Duration;

use common::Metrics;
use common::sim::{Harness, id, intent, scenario};

const MAIN: [(&str, &str); 1] = [("store", "main")];

/// `n` intents that stay pending, polled every second within `budget` requests a second.
async fn start(n: u32, budget: f64) -> Harness {
    let intents = (1..=n).map(|i| intent(i, &[1], 1000)).collect();
    Harness::start(scenario(intents), |c, _| {
        c.poll_interval = Duration::from_secs(1);
        c.stores[0].max_requests_per_second = budget;
    })
    .await
}

fn plan(m: &Metrics, name: &str) -> f64 {
    m.value(name, &MAIN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_budget_every_intent_is_polled_evenly_at_the_effective_interval() {
    // Demand 40/s against a budget of 10/s: each intent every 4.08 s instead of every 1 s.
    let h = start(40, 10.0).await;
    let m = h
        .wait_metrics("a poll running late", |m| {
            plan(m, "allscale_exporter_poll_lag_seconds") > 0.0
        })
        .await;
    assert_eq!(
        plan(&m, "allscale_exporter_poll_demand_requests_per_second"),
        40.0
    );
    assert_eq!(
        plan(&m, "allscale_exporter_poll_budget_requests_per_second"),
        10.0
    );
    // 40 intents at the usable rate, 10/s spread over the budget's window of 1.02 s.
    let effective = plan(&m, "allscale_exporter_effective_poll_interval_seconds");
    assert!((effective - 4.08).abs() < 1e-9, "{effective}");
    // Two full rounds at the effective interval, and then some.
    tokio::time::sleep(Duration::from_secs(9)).await;
    let m = h.scrape().await;
    let lag = plan(&m, "allscale_exporter_poll_lag_seconds");
    // Each intent waits one effective interval (4 s) for a poll due after one (1 s).
    assert!(lag > 1.0 && lag < 6.0, "lag {lag}, expected about 3 s");
    let stats = h.stop().await;
    let counts: Vec<u64> = (1..=40)
        .map(|n| {
            stats
                .authenticated_by_intent
                .get(&id(n))
                .copied()
                .unwrap_or(0)
        })
        .collect();
    let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
    assert!(*min >= 2, "an intent starved: {counts:?}");
    assert!(max - min <= 1, "uneven polling: {counts:?}");
    // Within the budget in total: ~10 s at 10/s (the burst allowance adds a couple).
    let total: u64 = counts.iter().sum();
    assert!(total <= 10 * 12, "over budget: {total} requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn within_budget_the_effective_interval_is_the_poll_interval() {
    let h = start(5, 10.0).await;
    let m = h
        .wait_metrics("every intent polled", |m| m.requests("ok") >= 10.0)
        .await;
    assert_eq!(
        plan(&m, "allscale_exporter_poll_demand_requests_per_second"),
        5.0
    );
    assert_eq!(
        plan(&m, "allscale_exporter_effective_poll_interval_seconds"),
        1.0
    );
    let lag = plan(&m, "allscale_exporter_poll_lag_seconds");
    assert!(lag < 0.5, "lag {lag} within budget");
    h.stop().await;
}
