//! Webhook metrics (issue #14): what the receiver answered, when a verified webhook last
//! came, how confirmations were first seen (webhook or poll), missing webhooks, and the
//! relay's attempts, queue and lag.
//!
//! Request and forward counters are the process's own (from 0, like the API request
//! counters); confirmations, missing webhooks and disagreements are state counters,
//! exported write-ahead with a state file and counted once per intent in its life.

use std::collections::HashMap;
use std::sync::Mutex;

use prometheus::{GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

use super::{Family, header, store_sample};
use crate::lock;
use crate::state::{ConfirmedBy, State};

/// The `result` label of `allscale_webhook_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookResult {
    Ok,
    BadSignature,
    StaleTimestamp,
    ReplayedNonce,
    UnknownKey,
    Malformed,
    TooLarge,
    /// The body did not arrive within `--web.read-body-timeout`.
    BodyTimeout,
    QueueFull,
}

impl WebhookResult {
    pub const ALL: [WebhookResult; 9] = [
        WebhookResult::Ok,
        WebhookResult::BadSignature,
        WebhookResult::StaleTimestamp,
        WebhookResult::ReplayedNonce,
        WebhookResult::UnknownKey,
        WebhookResult::Malformed,
        WebhookResult::TooLarge,
        WebhookResult::BodyTimeout,
        WebhookResult::QueueFull,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookResult::Ok => "ok",
            WebhookResult::BadSignature => "bad_signature",
            WebhookResult::StaleTimestamp => "stale_timestamp",
            WebhookResult::ReplayedNonce => "replayed_nonce",
            WebhookResult::UnknownKey => "unknown_key",
            WebhookResult::Malformed => "malformed",
            WebhookResult::TooLarge => "too_large",
            WebhookResult::BodyTimeout => "body_timeout",
            WebhookResult::QueueFull => "queue_full",
        }
    }
}

/// The `result` label of `allscale_webhook_forward_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardResult {
    Ok,
    /// The backend answered, but not 2xx.
    HttpError,
    ConnectError,
    Timeout,
}

impl ForwardResult {
    pub const ALL: [ForwardResult; 4] = [
        ForwardResult::Ok,
        ForwardResult::HttpError,
        ForwardResult::ConnectError,
        ForwardResult::Timeout,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ForwardResult::Ok => "ok",
            ForwardResult::HttpError => "http_error",
            ForwardResult::ConnectError => "connect_error",
            ForwardResult::Timeout => "timeout",
        }
    }
}

/// The `store` label of a webhook whose `X-API-Key` matches no store.
pub const UNKNOWN_STORE: &str = "unknown";

const CONFIRMATIONS: Family = Family {
    name: "allscale_checkout_intent_confirmations_total",
    kind: "counter",
    help: "Intents confirmed, each once in its life, by whichever saw the confirmation first: source=\"webhook\" (a verified webhook) or \"poll\" (a status poll).",
};
const MISSING: Family = Family {
    name: "allscale_checkout_intent_webhook_missing_total",
    kind: "counter",
    help: "Intents polling saw CONFIRMED for which no webhook arrived within webhook.grace (stores with webhook.expected: true), each once.",
};
const DISAGREEMENTS: Family = Family {
    name: "allscale_webhook_disagreements_total",
    kind: "counter",
    help: "Webhook confirmations that the status poll made to check them did not answer CONFIRMED (logged with both ids).",
};
const QUEUE: Family = Family {
    name: "allscale_webhook_forward_queue",
    kind: "gauge",
    help: "Verified webhooks waiting to be relayed to the store's webhook.forward_url.",
};

/// The registry-backed webhook series.
pub(super) struct WebhookMetrics {
    requests: IntCounterVec,
    last_received: GaugeVec,
    forwards: IntCounterVec,
    forward_lag: HistogramVec,
    /// Request and forward counts of stores that left the config, continued if they
    /// come back: within a process a counter never goes lower than a value served.
    departed: Mutex<HashMap<String, Departed>>,
}

/// A departed store's counts, by result label.
#[derive(Default)]
struct Departed {
    requests: Vec<(&'static str, u64)>,
    forwards: Vec<(&'static str, u64)>,
}

impl WebhookMetrics {
    pub(super) fn new(registry: &Registry) -> Self {
        let requests = IntCounterVec::new(
            Opts::new(
                "allscale_webhook_requests_total",
                "Webhooks received, by what the receiver answered: ok, bad_signature, stale_timestamp, replayed_nonce, unknown_key (store=\"unknown\"), malformed, too_large, queue_full.",
            ),
            &["store", "result"],
        )
        .expect("valid metric");
        let last_received = GaugeVec::new(
            Opts::new(
                "allscale_webhook_last_received_timestamp_seconds",
                "Unix time of the last verified webhook of the store; absent until one.",
            ),
            &["store"],
        )
        .expect("valid metric");
        let forwards = IntCounterVec::new(
            Opts::new(
                "allscale_webhook_forward_total",
                "Attempts to relay a verified webhook to the store's webhook.forward_url: ok, http_error (not 2xx), connect_error, timeout.",
            ),
            &["store", "result"],
        )
        .expect("valid metric");
        let forward_lag = HistogramVec::new(
            HistogramOpts::new(
                "allscale_webhook_forward_lag_seconds",
                "From a webhook's receipt to its successful relay.",
            )
            .buckets(vec![
                0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 1800.0,
            ]),
            &["store"],
        )
        .expect("valid metric");
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(last_received.clone()),
            Box::new(forwards.clone()),
            Box::new(forward_lag.clone()),
        ] {
            registry.register(c).expect("unique metric names");
        }
        Self {
            requests,
            last_received,
            forwards,
            forward_lag,
            departed: Mutex::new(HashMap::new()),
        }
    }

    /// Creates a store's series at 0: every result of the receiver, and of the relay when
    /// the store relays.
    pub(super) fn init_store(&self, store: &str, forwarding: bool) {
        if let Some(saved) = lock(&self.departed).remove(store) {
            for (result, n) in saved.requests {
                self.requests.with_label_values(&[store, result]).inc_by(n);
            }
            for (result, n) in saved.forwards {
                self.forwards.with_label_values(&[store, result]).inc_by(n);
            }
        }
        for result in WebhookResult::ALL {
            self.requests.with_label_values(&[store, result.as_str()]);
        }
        if forwarding {
            for result in ForwardResult::ALL {
                self.forwards.with_label_values(&[store, result.as_str()]);
            }
            self.forward_lag.with_label_values(&[store]);
        }
    }

    /// Drops a store's series (it left the config), keeping its counts in case it comes
    /// back; the lag histogram starts afresh then, like the API latency histogram.
    pub(super) fn remove_store(&self, store: &str) {
        let take = |vec: &IntCounterVec, results: &[&'static str]| -> Vec<(&'static str, u64)> {
            results
                .iter()
                .filter_map(|r| {
                    let n = vec.get_metric_with_label_values(&[store, r]).ok()?.get();
                    let _ = vec.remove_label_values(&[store, r]);
                    (n > 0).then_some((*r, n))
                })
                .collect()
        };
        let requests: Vec<&'static str> = WebhookResult::ALL.iter().map(|r| r.as_str()).collect();
        let forwards: Vec<&'static str> = ForwardResult::ALL.iter().map(|r| r.as_str()).collect();
        let saved = Departed {
            requests: take(&self.requests, &requests),
            forwards: take(&self.forwards, &forwards),
        };
        lock(&self.departed).insert(store.to_owned(), saved);
        let _ = self.last_received.remove_label_values(&[store]);
        let _ = self.forward_lag.remove_label_values(&[store]);
    }

    pub(super) fn init_unknown(&self) {
        self.requests
            .with_label_values(&[UNKNOWN_STORE, WebhookResult::UnknownKey.as_str()]);
    }

    pub(super) fn received(&self, store: &str, result: WebhookResult) {
        self.requests
            .with_label_values(&[store, result.as_str()])
            .inc();
    }

    pub(super) fn verified(&self, store: &str, at: f64) {
        self.last_received.with_label_values(&[store]).set(at);
    }

    pub(super) fn forwarded(&self, store: &str, result: ForwardResult, lag: Option<f64>) {
        self.forwards
            .with_label_values(&[store, result.as_str()])
            .inc();
        if let Some(lag) = lag {
            self.forward_lag.with_label_values(&[store]).observe(lag);
        }
    }
}

/// The state's webhook families: confirmations by source, missing webhooks and
/// disagreements (as committed, with a state file), and each relaying store's queue.
pub(super) fn render_state(out: &mut String, state: &State) {
    let write_ahead = state.write_ahead();
    let rows: Vec<(String, crate::state::WebhookCounts, Option<usize>)> = state
        .stores()
        .iter()
        .map(|handle| {
            let st = handle.lock();
            let counts = if write_ahead {
                st.exported.webhooks.clone()
            } else {
                st.webhook_counts.clone()
            };
            let queue = st
                .webhooks
                .memory
                .forwarding
                .then(|| st.webhooks.queue.len());
            (handle.name.clone(), counts, queue)
        })
        .collect();
    header(out, &CONFIRMATIONS);
    for (store, c, _) in &rows {
        for (by, n) in [
            (ConfirmedBy::Webhook, c.confirmed_by_webhook),
            (ConfirmedBy::Poll, c.confirmed_by_poll),
        ] {
            store_sample(out, &CONFIRMATIONS, store, &[("source", by.as_str())], n);
        }
    }
    header(out, &MISSING);
    for (store, c, _) in &rows {
        store_sample(out, &MISSING, store, &[], c.missing);
    }
    header(out, &DISAGREEMENTS);
    for (store, c, _) in &rows {
        store_sample(out, &DISAGREEMENTS, store, &[], c.disagreements);
    }
    if rows.iter().any(|(_, _, q)| q.is_some()) {
        header(out, &QUEUE);
        for (store, _, queue) in &rows {
            if let Some(n) = queue {
                store_sample(out, &QUEUE, store, &[], n);
            }
        }
    }
}
