//! Issue #25 point 1: the time from an intent's creation (the first 4 bytes of its
//! ObjectId) to its outcome, through the real exporter and the simulator, with ids that
//! carry known creation times; restored from the state database after a restart.

use std::time::Duration;

use allscale_exporter::clock::Clock;

use crate::common::Metrics;
use crate::common::sim::{Harness, KEY, scenario};
use allscale_exporter::simulator::SimIntent;

const HISTOGRAM: &str = "allscale_checkout_intent_time_to_outcome_seconds";
const UNOBSERVED: &str = "allscale_checkout_intent_time_to_outcome_unobserved_total";

/// An id created at Unix second `created`.
fn id_created_at(created: u64, n: u32) -> String {
    format!("{created:08x}c3d4e5f6{n:08x}")
}

fn bucket(m: &Metrics, outcome: &str, le: &str) -> f64 {
    let labels = [("store", "main"), ("outcome", outcome), ("le", le)];
    m.value(&format!("{HISTOGRAM}_bucket"), &labels)
}

fn count(m: &Metrics, outcome: &str) -> f64 {
    m.value(
        &format!("{HISTOGRAM}_count"),
        &[("store", "main"), ("outcome", outcome)],
    )
}

fn unobserved(m: &Metrics, reason: &str) -> f64 {
    m.value(UNOBSERVED, &[("store", "main"), ("reason", reason)])
}

fn sim_intent(id: &str, lifecycle: &[i64]) -> SimIntent {
    SimIntent {
        lifecycle: lifecycle.to_vec(),
        step: Duration::from_millis(100),
        ..SimIntent::new(id.to_string(), KEY)
    }
}

/// Confirmed 600 s after creation: in `le="900"`, not in `le="600"` (the clock stands
/// a fraction of a second past the creation's whole second); created an hour ahead of
/// its outcome or 40 days before it: counted unobserved, in no bucket. Then the same
/// after a restart, restored from the state database, not observed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_to_outcome_from_the_ids_creation_survives_a_restart() {
    let now = Clock::system().now().as_secs();
    let confirmed = id_created_at(now - 600, 1);
    let future = id_created_at(now + 3600, 2);
    let too_old = id_created_at(now - 40 * 24 * 3600, 3);
    let intents = || {
        vec![
            sim_intent(&confirmed, &[1, 20]),
            sim_intent(&future, &[1, -1]),
            sim_intent(&too_old, &[-1]),
        ]
    };
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("state.db");
    let with_state = |config: &mut allscale_exporter::config::Config, _: &[String]| {
        config.state_file = Some(state_file.clone());
    };

    let (h, _hand) = Harness::start_driven(scenario(intents()), with_state).await;
    let three = |m: &Metrics| m.sum("allscale_checkout_intent_terminal_total", &[]) == 3.0;
    let m = h.wait_metrics("three outcomes", three).await;
    assert_observed_once(&m);
    let sum = m.value(
        &format!("{HISTOGRAM}_sum"),
        &[("store", "main"), ("outcome", "confirmed")],
    );
    assert!((600.0..601.0).contains(&sum), "sum {sum}");
    crate::common::assert_promtool_clean(&m.text);
    h.stop().await;

    let (h, _hand) = Harness::start_driven(scenario(intents()), with_state).await;
    let m = h.wait_metrics("three outcomes restored", three).await;
    assert_observed_once(&m);
    h.stop().await;
}

fn assert_observed_once(m: &Metrics) {
    assert_eq!(bucket(m, "confirmed", "600"), 0.0, "600 s and a fraction");
    assert_eq!(bucket(m, "confirmed", "900"), 1.0);
    assert_eq!(bucket(m, "confirmed", "+Inf"), 1.0);
    assert_eq!(count(m, "confirmed"), 1.0);
    assert_eq!(bucket(m, "failed", "+Inf"), 0.0, "neither failure observed");
    assert_eq!(count(m, "failed"), 0.0);
    assert_eq!(unobserved(m, "future"), 1.0);
    assert_eq!(unobserved(m, "too_old"), 1.0);
    assert_eq!(m.outcome("failed"), 2.0, "yet counted as outcomes");
}
