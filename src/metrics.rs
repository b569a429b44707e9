//! Every metric the exporter exports, declared once with its HELP text.
//!
//! The page is a list of collectors (`collector::Collector`), each writing its
//! families at scrape time from where it keeps them: the stores' own series (API
//! requests, budget plans, webhook traffic, sources: `stores`, with the one memory of
//! stores that left the config), the intent families rendered from [`State`] straight to
//! text (with 100k watched intents far cheaper than keeping 400k registry children), and
//! the process-level series in `prometheus` registries.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use prometheus::{Gauge, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

use crate::replica::owned::Ownership;
use crate::shard::Shard;
use crate::state::{Source, State};
use crate::supervise::Task;

mod api;
mod attention;
mod collector;
mod histogram;
mod intents;
mod money;
mod plan;
mod sources;
mod stores;
mod time_to_outcome;
mod webhooks;

pub use api::{Answered, StoreRecorder};
use collector::{Collector, Registered, Scrape};
pub use plan::PlanCell;
pub use sources::SourceRecorder;
pub use webhooks::{ForwardResult, UNKNOWN_STORE, WebhookResult};

/// A metric family written by a collector: declared once, with its HELP text.
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
}

/// The collectors that make the page, and where the exporter records into them.
pub struct Metrics {
    /// In the order the page lists them.
    collectors: Vec<Box<dyn Collector>>,
    reload_successful: IntGauge,
    reload_success_timestamp: Gauge,
    shard_info: IntGaugeVec,
    task_restarts: IntCounterVec,
    stores: Arc<stores::Stores>,
    config_source: Arc<sources::ConfigSource>,
    /// The exporter's own registry, for families only some processes export.
    own: Registry,
    replica: OnceLock<ReplicaGauges>,
    /// In a group: what this replica holds ([`Metrics::follow`]).
    ownership: OnceLock<Ownership>,
}

/// A replica's part of a group sharing a state database (exported only by such a one).
#[derive(Clone)]
pub struct ReplicaGauges {
    /// `allscale_exporter_replica_partitions_held`.
    pub held: IntGauge,
    /// `allscale_exporter_replicas_live`.
    pub live: IntGauge,
    /// `allscale_exporter_state_database_up`.
    pub database_up: IntGauge,
}

impl Metrics {
    pub fn new() -> Self {
        let reload_successful = IntGauge::new(
            "allscale_exporter_config_last_reload_successful",
            "1 when the last attempt to load the config succeeded.",
        )
        .expect("valid metric");
        let reload_success_timestamp = Gauge::new(
            "allscale_exporter_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful config load.",
        )
        .expect("valid metric");
        let build_info = IntGaugeVec::new(
            Opts::new(
                "allscale_exporter_build_info",
                "Always 1; the exporter's version and git revision.",
            ),
            &["version", "revision"],
        )
        .expect("valid metric");
        build_info
            .with_label_values(&[crate::VERSION, crate::REVISION])
            .set(1);
        let shard_info = IntGaugeVec::new(
            Opts::new(
                "allscale_exporter_shard_info",
                "Always 1; which shard of the watch list this replica polls (shard K of shards N).",
            ),
            &["shard", "shards"],
        )
        .expect("valid metric");
        let task_restarts = IntCounterVec::new(
            Opts::new(
                "allscale_exporter_task_restarts_total",
                "Restarts of a long-lived task (poller, reloader, state_writer, http_server, intent_source, webhook_relay, replica_leases) after it panicked or ended unexpectedly.",
            ),
            &["task"],
        )
        .expect("valid metric");
        for task in Task::ALL {
            task_restarts.with_label_values(&[task.as_str()]);
        }
        let own = Registry::new();
        for collector in [
            Box::new(reload_successful.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(reload_success_timestamp.clone()),
            Box::new(build_info),
            Box::new(shard_info.clone()),
            Box::new(task_restarts.clone()),
        ] {
            own.register(collector).expect("unique metric names");
        }
        let process = Registry::new();
        process
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("unique metric names");
        let stores = Arc::new(stores::Stores::default());
        let config_source = Arc::new(sources::ConfigSource::default());
        // The first four keep the order of the one registry that used to hold their
        // families: by name.
        let collectors: Vec<Box<dyn Collector>> = vec![
            Box::new(stores::ApiCollector(Arc::clone(&stores))),
            Box::new(Registered(own.clone())),
            Box::new(stores::TrafficCollector(Arc::clone(&stores))),
            Box::new(Registered(process)),
            Box::new(stores::PlanCollector(Arc::clone(&stores))),
            Box::new(intents::IntentCollector),
            Box::new(time_to_outcome::TimeToOutcomeCollector),
            Box::new(stores::SourceCollector {
                stores: Arc::clone(&stores),
                config: Arc::clone(&config_source),
            }),
            Box::new(webhooks::StateCollector),
            Box::new(money::MoneyCollector),
        ];
        Self {
            collectors,
            reload_successful,
            reload_success_timestamp,
            shard_info,
            task_restarts,
            stores,
            config_source,
            own,
            replica: OnceLock::new(),
            ownership: OnceLock::new(),
        }
    }

    /// Creates a store's request series at 0 (so rates and alerts start from a sample),
    /// continuing its counters if it had left the config, and returns its recorder.
    pub fn store_recorder(&self, store: &str) -> StoreRecorder {
        self.stores.with(store, stores::StoreSeries::recorder)
    }

    /// Drops every series of a store that left the config, keeping its counters in case
    /// it comes back.
    pub fn remove_store(&self, store: &str) {
        self.stores.depart(store);
    }

    /// The recorder of `store`'s `source` (file, http, api): while one is held, the
    /// store's `allscale_exporter_source_*{source}` series are exported.
    pub fn source(&self, store: &str, source: Source) -> SourceRecorder {
        self.stores.with(store, |s| s.source(source))
    }

    /// Creates a store's webhook series at 0, or continues them where they were when the
    /// store left the config.
    pub fn webhook_store(&self, store: &str, forwarding: bool) {
        self.stores.with(store, |s| s.webhooks.init(forwarding));
    }

    /// Creates `allscale_webhook_requests_total{store="unknown",result="unknown_key"}` at 0.
    pub fn webhook_unknown_store(&self) {
        self.stores
            .with(UNKNOWN_STORE, |s| s.webhooks.init_unknown());
    }

    /// Counts what the receiver answered a webhook of `store` ([`UNKNOWN_STORE`] when its
    /// key matched none).
    pub fn webhook_received(&self, store: &str, result: WebhookResult) {
        self.stores.with(store, |s| s.webhooks.received(result));
    }

    /// A webhook of `store` verified at `at` (unix seconds).
    pub fn webhook_verified(&self, store: &str, at: f64) {
        self.stores.with(store, |s| s.webhooks.verified(at));
    }

    /// Counts a relay attempt; `lag` (receipt to success) when it succeeded.
    pub fn webhook_forwarded(&self, store: &str, result: ForwardResult, lag: Option<f64>) {
        self.stores
            .with(store, |s| s.webhooks.forwarded(result, lag));
    }

    /// The replica's gauges, registered at the first call (a process in a group only).
    pub fn replica(&self) -> ReplicaGauges {
        self.replica
            .get_or_init(|| {
                let gauge = |name: &str, help: &str| {
                    let gauge = IntGauge::new(name, help).expect("valid metric");
                    // A name registered twice is the only error; the OnceLock prevents it.
                    let _ = self.own.register(Box::new(gauge.clone()));
                    gauge
                };
                ReplicaGauges {
                    held: gauge(
                        "allscale_exporter_replica_partitions_held",
                        "Partitions of the intent id space (of 256) this replica holds a lease on and polls; 0 while it holds none or its leases ran out.",
                    ),
                    live: gauge(
                        "allscale_exporter_replicas_live",
                        "Replicas sharing the state database that the last lease round counted live, this one included.",
                    ),
                    database_up: gauge(
                        "allscale_exporter_state_database_up",
                        "1 when this replica's last lease round or look at the group's rows reached the state database, else 0 (it stops polling when its leases run out).",
                    ),
                }
            })
            .clone()
    }

    /// In a group sharing a state database: the per-intent series and the intent
    /// aggregates cover only the partitions `ownership` says this replica holds.
    pub fn follow(&self, ownership: Ownership) {
        let _ = self.ownership.set(ownership);
    }

    /// The task restart counter, for the `Supervisor`.
    pub fn task_restarts(&self) -> IntCounterVec {
        self.task_restarts.clone()
    }

    /// Exports which shard this replica is (set once at start).
    pub fn set_shard(&self, shard: Shard) {
        self.shard_info.reset();
        self.shard_info
            .with_label_values(&[&shard.index.to_string(), &shard.count.to_string()])
            .set(1);
    }

    /// Records a config load at `now`: `applied` when a new config took effect then. It
    /// is also the config source's success or error.
    pub fn set_reload_result(&self, ok: bool, applied: bool, now: f64) {
        self.reload_successful.set(i64::from(ok));
        self.config_source.loaded(ok, now);
        if applied {
            self.reload_success_timestamp.set(now);
        }
    }

    /// The whole `/metrics` page in the Prometheus text format (0.0.4).
    pub fn render(&self, state: &State, now: f64) -> String {
        let mut out = String::with_capacity(64 * 1024);
        let claims = self.ownership.get().map(|o| *o.borrow());
        let scrape = Scrape { state, now, claims };
        for collector in &self.collectors {
            collector.collect(&scrape, &mut out);
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// One per-store sample: `name{store="…",key="value",…} value`; `store` is escaped, the
/// other label values are closed sets that need none.
fn store_sample(
    out: &mut String,
    family: &Family,
    store: &str,
    labels: &[(&str, &str)],
    value: impl std::fmt::Display,
) {
    let _ = write!(out, "{}{{store=\"{store}\"", family.name);
    for (key, label) in labels {
        let _ = write!(out, ",{key}=\"{label}\"");
    }
    let _ = writeln!(out, "}} {value}");
}

/// The values of a closed label set, sorted by their label text (as the `prometheus`
/// registry sorted series).
fn sorted<T: Copy, const N: usize>(mut all: [T; N], label: fn(T) -> &'static str) -> [T; N] {
    all.sort_by_key(|t| label(*t));
    all
}

fn header(out: &mut String, family: &Family) {
    let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
    let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind);
}

/// Escapes a label value for the text format.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ApiCode, Endpoint, RequestResult};
    use crate::config::Config;

    fn state() -> Arc<State> {
        let yaml = "stores:\n  - name: main\n    api_key: k\n    api_secret_env: S\n    \
                    intents: [650000000000000000000001]\n";
        let config = Config::parse(yaml, std::path::Path::new("."), &|_| Some("s".into()));
        State::new(&config.unwrap())
    }

    /// The value of the series `series` (name and labels, as written) on `page`.
    fn value<'a>(page: &'a str, series: &str) -> Option<&'a str> {
        page.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
    }

    /// Every counter family of a store's own series continues where it was when the store
    /// comes back; its gauges and latency start afresh; nothing of it shows meanwhile.
    #[test]
    fn a_store_that_leaves_and_comes_back_continues_its_counters() {
        let (metrics, state) = (Metrics::new(), state());
        metrics.webhook_store("main", true);
        let mut recorder = metrics.store_recorder("main");
        recorder.record(&Answered {
            endpoint: Endpoint::Status,
            result: RequestResult::ApiError,
            elapsed: std::time::Duration::from_millis(20),
            api_code: Some(ApiCode::from_code(70001)),
            reachable: true,
            clock_skew: Some(2.0),
        });
        metrics.webhook_received("main", WebhookResult::Ok);
        metrics.webhook_verified("main", 50.0);
        metrics.webhook_forwarded("main", ForwardResult::Ok, Some(0.2));
        metrics.source("main", Source::File).failed();
        drop(recorder);
        metrics.remove_store("main");
        let page = metrics.render(&state, 100.0);
        for family in [
            "allscale_api_",
            "allscale_webhook_requests_total",
            "allscale_webhook_forward_",
            "allscale_webhook_last_received",
            "allscale_exporter_poll_",
            "allscale_exporter_source_errors_total{store=\"main\",source=\"file\"}",
        ] {
            assert!(
                !page
                    .lines()
                    .any(|l| l.starts_with(family) && l.contains("main")),
                "{family} of a departed store:\n{page}"
            );
        }
        metrics.webhook_store("main", true);
        let _recorder = metrics.store_recorder("main");
        let _file = metrics.source("main", Source::File);
        let page = metrics.render(&state, 100.0);
        for (series, expected) in [
            (
                r#"allscale_api_requests_total{endpoint="status",result="api_error",store="main"}"#,
                Some("1"),
            ),
            (
                r#"allscale_api_errors_total{code="70001",store="main"}"#,
                Some("1"),
            ),
            (
                r#"allscale_webhook_requests_total{result="ok",store="main"}"#,
                Some("1"),
            ),
            (
                r#"allscale_webhook_forward_total{result="ok",store="main"}"#,
                Some("1"),
            ),
            (
                r#"allscale_exporter_source_errors_total{store="main",source="file"}"#,
                Some("1"),
            ),
            (
                r#"allscale_api_request_duration_seconds_count{endpoint="status",store="main"}"#,
                Some("0"),
            ),
            (
                r#"allscale_webhook_forward_lag_seconds_count{store="main"}"#,
                Some("0"),
            ),
            (
                r#"allscale_exporter_poll_lag_seconds{store="main"}"#,
                Some("0"),
            ),
            (r#"allscale_api_up{store="main"}"#, None),
            (r#"allscale_api_clock_skew_seconds{store="main"}"#, None),
            (
                r#"allscale_webhook_last_received_timestamp_seconds{store="main"}"#,
                None,
            ),
        ] {
            assert_eq!(value(&page, series), expected, "{series} in\n{page}");
        }
    }

    #[test]
    fn escapes_label_values() {
        assert_eq!(escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape("x\ny"), "x\\ny");
    }
}
