//! The exporter against the built-in simulator, in process, over real HTTP on loopback.

use std::time::Duration;

use allscale_exporter::clock::{Clock, ManualHand};
use allscale_exporter::config::Config;
use allscale_exporter::reload::ReloadOptions;
use allscale_exporter::server::Exporter;
use allscale_exporter::simulator::{Scenario, SimIntent, SimKey, SimStats, Simulator};

use super::{Metrics, poll_until, scrape, test_config};

pub const KEY: &str = "st_sim_key";
pub const SECRET: &str = "st_sim_secret";
pub const OTHER_KEY: &str = "st_other_key";

/// A 24-hex id from a small number.
pub fn id(n: u32) -> String {
    format!("65f0a1b2c3d4e5f6{n:08x}")
}

/// Asks the simulator at `sim` to send one webhook of `kind` for intent `n` to `url` now
/// (`POST /-/webhooks/send`); returns its report once the receiver answered: one
/// `deliveries` entry per request it sent.
pub async fn send_webhook(sim: &str, n: u32, kind: &str, url: &str) -> serde_json::Value {
    reqwest::Client::new()
        .post(format!("{sim}/-/webhooks/send"))
        .json(&serde_json::json!({"intent_id": id(n), "kind": kind, "url": url}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub fn intent(n: u32, lifecycle: &[i64], step_ms: u64) -> SimIntent {
    SimIntent {
        lifecycle: lifecycle.to_vec(),
        step: Duration::from_millis(step_ms),
        ..SimIntent::new(id(n), KEY)
    }
}

pub fn scenario(intents: Vec<SimIntent>) -> Scenario {
    Scenario {
        latency: Duration::ZERO,
        sign_responses: false,
        clock_offset_seconds: 0,
        timestamp_window: Duration::from_secs(300),
        keys: vec![
            SimKey {
                api_key: KEY.to_string(),
                api_secret: SECRET.to_string(),
                rate_limit_per_second: None,
            },
            SimKey {
                api_key: OTHER_KEY.to_string(),
                api_secret: "st_other_secret".to_string(),
                rate_limit_per_second: None,
            },
        ],
        intents,
        webhook: None,
    }
}

/// Simulator and exporter running on 127.0.0.1:0.
pub struct Harness {
    pub sim: Simulator,
    /// The simulator's `http://host:port`.
    pub sim_base: String,
    pub exporter: Exporter,
    stop_sim: tokio::sync::oneshot::Sender<()>,
}

impl Harness {
    pub async fn start(scenario: Scenario, configure: impl FnOnce(&mut Config, &[String])) -> Self {
        let ids: Vec<String> = scenario.intents.iter().map(|i| i.id.clone()).collect();
        Self::start_with_ids(scenario, ids, configure).await
    }

    /// [`Harness::start`] on a manual clock standing at the wall clock's now: the test
    /// moves the exporter's time (retention, `webhook.grace`) with the hand instead of
    /// waiting for it. Polling and timeouts still run on real time.
    pub async fn start_driven(
        scenario: Scenario,
        configure: impl FnOnce(&mut Config, &[String]),
    ) -> (Self, ManualHand) {
        let (clock, hand) = Clock::manual(Clock::system().now());
        let ids: Vec<String> = scenario.intents.iter().map(|i| i.id.clone()).collect();
        let options = ReloadOptions {
            clock,
            ..ReloadOptions::none()
        };
        let h = Self::start_with_options(scenario, ids, options, configure).await;
        (h, hand)
    }

    pub async fn start_with_ids(
        scenario: Scenario,
        ids: Vec<String>,
        configure: impl FnOnce(&mut Config, &[String]),
    ) -> Self {
        Self::start_with_options(scenario, ids, ReloadOptions::none(), configure).await
    }

    /// [`Harness::start_with_ids`] with `options` (a shard, a web config).
    pub async fn start_with_options(
        scenario: Scenario,
        ids: Vec<String>,
        options: ReloadOptions,
        configure: impl FnOnce(&mut Config, &[String]),
    ) -> Self {
        let sim = Simulator::new(scenario);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop_sim, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(sim.clone().serve(listener, async {
            let _ = stopped.await;
        }));
        let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut config = test_config(&base, KEY, SECRET, &id_refs);
        let base = base.clone();
        configure(&mut config, &ids);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let exporter = Exporter::start(config, listener, options).await.unwrap();
        Harness {
            sim,
            sim_base: base,
            exporter,
            stop_sim,
        }
    }

    pub async fn scrape(&self) -> Metrics {
        scrape(self.exporter.local_addr()).await
    }

    /// Scrapes until `cond` holds; after 20 s fails with what the last scrape showed
    /// (its non-histogram samples) and the simulator's counts, to diagnose from.
    pub async fn wait_metrics(&self, what: &str, cond: impl Fn(&Metrics) -> bool) -> Metrics {
        let limit = Duration::from_secs(20);
        let found = poll_until(limit, || async {
            let m = self.scrape().await;
            cond(&m).then_some(m)
        })
        .await;
        if let Some(m) = found {
            return m;
        }
        let last = self.scrape().await;
        let seen: Vec<&str> = last
            .text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.contains("_bucket{"))
            .collect();
        panic!(
            "timed out after {limit:?} waiting for {what}; the last scrape:\n{}\nthe simulator: {:?}",
            seen.join("\n"),
            self.sim.stats()
        );
    }

    pub async fn stop(self) -> SimStats {
        self.exporter.shutdown().await;
        let stats = self.sim.stats();
        let _ = self.stop_sim.send(());
        stats
    }
}
