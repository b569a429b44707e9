//! Every metric the exporter exports, declared once with its HELP text.
//!
//! Request metrics live in a `prometheus` registry that the poller updates as answers
//! arrive. Intent metrics are rendered from [`State`] at scrape time, straight to text:
//! with 100k watched intents that is far cheaper than keeping 400k registry children.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::api::ApiCode;
use crate::api::{Endpoint, RequestResult};
use crate::lock;
use crate::shard::Shard;
use crate::state::{Source, State};
use crate::supervise::Task;

mod intents;
mod money;
mod plan;
mod sources;
mod webhooks;

pub use plan::PlanCell;
pub use sources::SourceRecorder;
pub use webhooks::{ForwardResult, UNKNOWN_STORE, WebhookResult};

/// Undocumented codes get their own series up to this many per store, then `other`:
/// a misbehaving API must not blow up cardinality.
pub const MAX_EXTRA_ERROR_CODES: usize = 16;

const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A metric family rendered by hand from [`State`].
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
}

/// A store's request counters, kept while it is out of the config.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreCounters {
    /// `endpoint` and `result` labels → count.
    pub requests: BTreeMap<(Endpoint, RequestResult), u64>,
    /// `code` label → count.
    pub errors: BTreeMap<String, u64>,
}

/// The registry-backed metrics and the hand-rendered intent families.
pub struct Metrics {
    registry: Registry,
    api_requests: IntCounterVec,
    api_errors: IntCounterVec,
    api_up: IntGaugeVec,
    api_clock_skew: GaugeVec,
    api_duration: HistogramVec,
    reload_successful: IntGauge,
    reload_success_timestamp: Gauge,
    shard_info: IntGaugeVec,
    task_restarts: IntCounterVec,
    /// Request counters of stores that left the config, continued if they come back:
    /// within a process a counter never goes lower than a value already served.
    departed: Mutex<HashMap<String, StoreCounters>>,
    extra_error_codes: Mutex<HashMap<String, BTreeSet<i64>>>,
    plans: plan::Plans,
    sources: sources::SourceMetrics,
    webhooks: webhooks::WebhookMetrics,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let api_requests = IntCounterVec::new(
            Opts::new(
                "allscale_api_requests_total",
                "Requests to the AllScale API by endpoint (status, detail) and result (ok, api_error, http_error, timeout, connect_error, decode_error, bad_response_signature).",
            ),
            &["store", "endpoint", "result"],
        )
        .expect("valid metric");
        let api_errors = IntCounterVec::new(
            Opts::new(
                "allscale_api_errors_total",
                "Error codes in AllScale API envelopes (code != 0).",
            ),
            &["store", "code"],
        )
        .expect("valid metric");
        let api_up = IntGaugeVec::new(
            Opts::new(
                "allscale_api_up",
                "1 when the store's latest request got a well-formed answer that was neither an auth failure nor a server error.",
            ),
            &["store"],
        )
        .expect("valid metric");
        let api_clock_skew = GaugeVec::new(
            Opts::new(
                "allscale_api_clock_skew_seconds",
                "The API server's clock minus the exporter's, from the latest answer's X-Response-Timestamp or Date header (requests are refused beyond +-300 s).",
            ),
            &["store"],
        )
        .expect("valid metric");
        let api_duration = HistogramVec::new(
            HistogramOpts::new(
                "allscale_api_request_duration_seconds",
                "Time from sending a request to the AllScale API to reading its whole answer.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["store", "endpoint"],
        )
        .expect("valid metric");
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
                "Restarts of a long-lived task (poller, reloader, state_writer, http_server, intent_source, webhook_relay) after it panicked or ended unexpectedly.",
            ),
            &["task"],
        )
        .expect("valid metric");
        for task in Task::ALL {
            task_restarts.with_label_values(&[task.as_str()]);
        }
        for collector in [
            Box::new(api_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(api_errors.clone()),
            Box::new(api_up.clone()),
            Box::new(api_clock_skew.clone()),
            Box::new(api_duration.clone()),
            Box::new(reload_successful.clone()),
            Box::new(reload_success_timestamp.clone()),
            Box::new(build_info),
            Box::new(shard_info.clone()),
            Box::new(task_restarts.clone()),
            Box::new(prometheus::process_collector::ProcessCollector::for_self()),
        ] {
            registry.register(collector).expect("unique metric names");
        }
        let webhooks = webhooks::WebhookMetrics::new(&registry);
        Self {
            registry,
            api_requests,
            api_errors,
            api_up,
            api_clock_skew,
            api_duration,
            reload_successful,
            reload_success_timestamp,
            shard_info,
            task_restarts,
            departed: Mutex::new(HashMap::new()),
            extra_error_codes: Mutex::new(HashMap::new()),
            plans: plan::Plans::default(),
            sources: sources::SourceMetrics::default(),
            webhooks,
        }
    }

    /// Creates a store's request series at 0 (so rates and alerts start from a sample)
    /// and returns its recorder.
    pub fn store_recorder(self: &Arc<Self>, store: &str) -> StoreRecorder {
        let departed = lock(&self.departed).remove(store);
        if let Some(saved) = departed {
            self.restore_store_counters(store, &saved);
        }
        for code in ApiCode::DOCUMENTED {
            self.api_errors
                .with_label_values(&[store, &code.to_string()]);
        }
        StoreRecorder {
            requests: Endpoint::ALL.map(|endpoint| {
                RequestResult::ALL.map(|result| {
                    self.api_requests.with_label_values(&[
                        store,
                        endpoint.as_str(),
                        result.as_str(),
                    ])
                })
            }),
            duration: Endpoint::ALL.map(|endpoint| {
                self.api_duration
                    .with_label_values(&[store, endpoint.as_str()])
            }),
            up: None,
            skew: None,
            plan: self.plans.cell(store),
            store: store.to_string(),
            metrics: Arc::clone(self),
        }
    }

    /// The error-code labels a store has series for.
    fn error_labels(&self, store: &str) -> Vec<String> {
        let extra = self
            .lock_extra_codes()
            .get(store)
            .cloned()
            .unwrap_or_default();
        ApiCode::DOCUMENTED
            .into_iter()
            .map(ApiCode::code)
            .chain(extra.iter().copied())
            .map(|code| code.to_string())
            .chain(std::iter::once("other".to_string()))
            .collect()
    }

    /// The request counters of a store.
    fn store_counters(&self, store: &str) -> StoreCounters {
        let requests = request_labels()
            .map(|(endpoint, result)| {
                let c = self.api_requests.with_label_values(&[
                    store,
                    endpoint.as_str(),
                    result.as_str(),
                ]);
                ((endpoint, result), c.get())
            })
            .collect();
        let errors = self
            .error_labels(store)
            .into_iter()
            .filter_map(|code| {
                let c = self
                    .api_errors
                    .get_metric_with_label_values(&[store, &code])
                    .ok()?;
                (c.get() > 0 || code != "other").then(|| (code, c.get()))
            })
            .collect();
        StoreCounters { requests, errors }
    }

    /// Continues a store's request counters (called before polling).
    fn restore_store_counters(&self, store: &str, saved: &StoreCounters) {
        for ((endpoint, result), n) in &saved.requests {
            self.api_requests
                .with_label_values(&[store, endpoint.as_str(), result.as_str()])
                .inc_by(*n);
        }
        for (code, n) in &saved.errors {
            let label = match code.parse::<i64>() {
                Ok(code) => self.error_code_label(store, ApiCode::from_code(code)),
                Err(_) => "other".to_string(),
            };
            self.api_errors
                .with_label_values(&[store, &label])
                .inc_by(*n);
        }
    }

    /// Drops every request series of a store that left the config, keeping their values
    /// in case it comes back.
    pub fn remove_store(&self, store: &str) {
        let saved = self.store_counters(store);
        lock(&self.departed).insert(store.to_string(), saved);
        for (endpoint, result) in request_labels() {
            let _ =
                self.api_requests
                    .remove_label_values(&[store, endpoint.as_str(), result.as_str()]);
        }
        for code in self.error_labels(store) {
            let _ = self.api_errors.remove_label_values(&[store, &code]);
        }
        let _ = self.api_up.remove_label_values(&[store]);
        let _ = self.api_clock_skew.remove_label_values(&[store]);
        for endpoint in Endpoint::ALL {
            let _ = self
                .api_duration
                .remove_label_values(&[store, endpoint.as_str()]);
        }
        self.lock_extra_codes().remove(store);
        self.plans.remove(store);
        self.webhooks.remove_store(store);
    }

    /// The recorder of `store`'s `source` (file, http, api): while one is held, the
    /// store's `allscale_exporter_source_*{source}` series are exported.
    pub fn source(&self, store: &str, source: Source) -> SourceRecorder {
        self.sources.recorder(store, source)
    }

    /// Creates a store's webhook series at 0, or continues them where they were when the
    /// store left the config.
    pub fn webhook_store(&self, store: &str, forwarding: bool) {
        self.webhooks.init_store(store, forwarding);
    }

    /// Creates `allscale_webhook_requests_total{store="unknown",result="unknown_key"}` at 0.
    pub fn webhook_unknown_store(&self) {
        self.webhooks.init_unknown();
    }

    /// Counts what the receiver answered a webhook of `store` ([`UNKNOWN_STORE`] when its
    /// key matched none).
    pub fn webhook_received(&self, store: &str, result: WebhookResult) {
        self.webhooks.received(store, result);
    }

    /// A webhook of `store` verified at `at` (unix seconds).
    pub fn webhook_verified(&self, store: &str, at: f64) {
        self.webhooks.verified(store, at);
    }

    /// Counts a relay attempt; `lag` (receipt to success) when it succeeded.
    pub fn webhook_forwarded(&self, store: &str, result: ForwardResult, lag: Option<f64>) {
        self.webhooks.forwarded(store, result, lag);
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
        self.sources.config_loaded(ok, now);
        if applied {
            self.reload_success_timestamp.set(now);
        }
    }

    /// The `code` label: a documented code as it is, an undocumented one as it is up to
    /// [`MAX_EXTRA_ERROR_CODES`] per store, then `other`.
    fn error_code_label(&self, store: &str, code: ApiCode) -> String {
        let ApiCode::Other(code) = code else {
            return code.to_string();
        };
        let mut extra = self.lock_extra_codes();
        let seen = extra.entry(store.to_string()).or_default();
        if seen.contains(&code) || seen.len() < MAX_EXTRA_ERROR_CODES {
            seen.insert(code);
            code.to_string()
        } else {
            "other".to_string()
        }
    }

    fn lock_extra_codes(&self) -> std::sync::MutexGuard<'_, HashMap<String, BTreeSet<i64>>> {
        lock(&self.extra_error_codes)
    }

    /// The whole `/metrics` page in the Prometheus text format (0.0.4).
    pub fn render(&self, state: &State, now: f64) -> String {
        let mut out = String::with_capacity(64 * 1024);
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding cannot fail");
        out.push_str(&String::from_utf8_lossy(&buf));
        self.plans.render(&mut out, now);
        intents::render_state(&mut out, state, now);
        self.sources.render(&mut out, state);
        webhooks::render_state(&mut out, state);
        money::render_state(&mut out, state);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Every `(endpoint, result)` label pair of `allscale_api_requests_total`.
fn request_labels() -> impl Iterator<Item = (Endpoint, RequestResult)> {
    Endpoint::ALL
        .into_iter()
        .flat_map(|e| RequestResult::ALL.map(|r| (e, r)))
}

/// What one finished API request tells the request metrics. The poller makes it from the
/// client's answer, so the metrics know the label sets and nothing of the client.
#[derive(Debug, Clone, PartialEq)]
pub struct Answered {
    pub endpoint: Endpoint,
    pub result: RequestResult,
    pub elapsed: std::time::Duration,
    /// The envelope's error code, for an API error.
    pub api_code: Option<ApiCode>,
    /// `allscale_api_up`: reachable, authenticated, and not a server error.
    pub reachable: bool,
    /// The API's clock minus ours, seconds, when the answer said.
    pub clock_skew: Option<f64>,
}

/// A store's request series, resolved once: recording a request hashes no labels.
pub struct StoreRecorder {
    /// Built from `Endpoint::ALL` and `RequestResult::ALL`, in declaration order.
    requests: [[IntCounter; RequestResult::ALL.len()]; Endpoint::ALL.len()],
    duration: [Histogram; Endpoint::ALL.len()],
    /// Created with the first request, so a store that never polls has no `api_up`.
    up: Option<IntGauge>,
    skew: Option<Gauge>,
    plan: Arc<PlanCell>,
    store: String,
    metrics: Arc<Metrics>,
}

impl StoreRecorder {
    /// The store's budget plan, which the poller keeps current.
    pub fn plan(&self) -> &PlanCell {
        &self.plan
    }

    /// Records one finished request.
    pub fn record(&mut self, answered: &Answered) {
        let endpoint = answered.endpoint as usize;
        self.requests[endpoint][answered.result as usize].inc();
        self.duration[endpoint].observe(answered.elapsed.as_secs_f64());
        if let Some(code) = answered.api_code {
            let label = self.metrics.error_code_label(&self.store, code);
            self.metrics
                .api_errors
                .with_label_values(&[&self.store, &label])
                .inc();
        }
        let up = self
            .up
            .get_or_insert_with(|| self.metrics.api_up.with_label_values(&[&self.store]));
        up.set(i64::from(answered.reachable));
        if let Some(skew) = answered.clock_skew {
            let gauge = self.skew.get_or_insert_with(|| {
                self.metrics
                    .api_clock_skew
                    .with_label_values(&[&self.store])
            });
            gauge.set(skew);
        }
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

    #[test]
    fn escapes_label_values() {
        assert_eq!(escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape("x\ny"), "x\\ny");
    }

    #[test]
    fn extra_error_codes_are_capped_per_store() {
        let m = Metrics::new();
        for code in 0..(MAX_EXTRA_ERROR_CODES as i64) {
            assert_eq!(
                m.error_code_label("s", ApiCode::from_code(70000 + code)),
                (70000 + code).to_string()
            );
        }
        let label = |store, code| m.error_code_label(store, ApiCode::from_code(code));
        assert_eq!(label("s", 1), "other");
        assert_eq!(label("s", 70000), "70000");
        assert_eq!(label("s", 90000), "90000");
        assert_eq!(label("t", 1), "1");
    }
}
