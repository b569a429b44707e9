//! Webhook metrics (issue #14): what the receiver answered, when a verified webhook last
//! came, how confirmations were first seen (webhook or poll), missing webhooks, and the
//! relay's attempts, queue and lag.
//!
//! Request and forward counters are the process's own (from 0, like the API request
//! counters); confirmations, missing webhooks and disagreements are state counters,
//! exported write-ahead with a state file and counted once per intent in its life.

use std::fmt::Write as _;

use super::collector::{Collector, Scrape};
use super::histogram::Histogram;
use super::{Family, escape, header, sorted, store_sample};
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

const FORWARD_LAG: Family = Family {
    name: "allscale_webhook_forward_lag_seconds",
    kind: "histogram",
    help: "From a webhook's receipt to its successful relay.",
};
const FORWARDS: Family = Family {
    name: "allscale_webhook_forward_total",
    kind: "counter",
    help: "Attempts to relay a verified webhook to the store's webhook.forward_url: ok, http_error (not 2xx), connect_error, timeout.",
};
const LAST_RECEIVED: Family = Family {
    name: "allscale_webhook_last_received_timestamp_seconds",
    kind: "gauge",
    help: "Unix time of the last verified webhook of the store; absent until one.",
};
const REQUESTS: Family = Family {
    name: "allscale_webhook_requests_total",
    kind: "counter",
    help: "Webhooks received, by what the receiver answered: ok, bad_signature, stale_timestamp, replayed_nonce, unknown_key (store=\"unknown\"), malformed, too_large, queue_full.",
};

const LAG_BUCKETS: [f64; 10] = [0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 1800.0];

/// A store's webhook traffic: the process's own counts (from 0, like the API request
/// counters). A series exists once created (at 0 by [`WebhookSeries::init`]) or counted.
#[derive(Debug, Clone, Default)]
pub(super) struct WebhookSeries {
    /// Indexed by `WebhookResult as usize`.
    requests: [Option<u64>; WebhookResult::ALL.len()],
    /// Indexed by `ForwardResult as usize`.
    forwards: [Option<u64>; ForwardResult::ALL.len()],
    last_received: Option<f64>,
    forward_lag: Option<Histogram>,
    /// Counts kept from before the store left the config, continued by the next `init`.
    kept_requests: [u64; WebhookResult::ALL.len()],
    kept_forwards: [u64; ForwardResult::ALL.len()],
}

fn count(slot: &mut Option<u64>, n: u64) {
    *slot = Some(slot.unwrap_or(0) + n);
}

impl WebhookSeries {
    /// Creates the store's series at 0 (continuing the kept counts): every result of the
    /// receiver, and of the relay when the store relays.
    pub(super) fn init(&mut self, forwarding: bool) {
        let kept = std::mem::take(&mut self.kept_requests);
        for (slot, n) in self.requests.iter_mut().zip(kept) {
            count(slot, n);
        }
        let kept = std::mem::take(&mut self.kept_forwards);
        for (slot, n) in self.forwards.iter_mut().zip(kept) {
            if n > 0 || forwarding {
                count(slot, n);
            }
        }
        if forwarding {
            self.forward_lag
                .get_or_insert_with(|| Histogram::new(&LAG_BUCKETS));
        }
    }

    /// The store left the config: its series go, their counts are kept for when it comes
    /// back; the lag histogram starts afresh then, like the API latency histogram.
    pub(super) fn depart(&mut self) {
        for (kept, slot) in self.kept_requests.iter_mut().zip(&mut self.requests) {
            *kept += slot.take().unwrap_or(0);
        }
        for (kept, slot) in self.kept_forwards.iter_mut().zip(&mut self.forwards) {
            *kept += slot.take().unwrap_or(0);
        }
        self.last_received = None;
        self.forward_lag = None;
    }

    /// Creates `allscale_webhook_requests_total{result="unknown_key"}` at 0.
    pub(super) fn init_unknown(&mut self) {
        count(&mut self.requests[WebhookResult::UnknownKey as usize], 0);
    }

    pub(super) fn received(&mut self, result: WebhookResult) {
        count(&mut self.requests[result as usize], 1);
    }

    pub(super) fn verified(&mut self, at: f64) {
        self.last_received = Some(at);
    }

    pub(super) fn forwarded(&mut self, result: ForwardResult, lag: Option<f64>) {
        count(&mut self.forwards[result as usize], 1);
        if let Some(lag) = lag {
            self.forward_lag
                .get_or_insert_with(|| Histogram::new(&LAG_BUCKETS))
                .observe(lag);
        }
    }
}

/// The webhook traffic families of every store (by name, with its traffic; and of
/// `store="unknown"`), in the order and form of the registry that used to hold them; a
/// family without series is left out.
pub(super) fn write_traffic(out: &mut String, traffic: Vec<(String, WebhookSeries)>) {
    let stores: Vec<(String, WebhookSeries)> = traffic
        .into_iter()
        .map(|(name, series)| (escape(&name), series))
        .collect();
    if stores.iter().any(|(_, w)| w.forward_lag.is_some()) {
        header(out, &FORWARD_LAG);
        for (store, w) in &stores {
            if let Some(lag) = &w.forward_lag {
                lag.write(out, FORWARD_LAG.name, &format!("store=\"{store}\""));
            }
        }
    }
    let forwards =
        sorted(ForwardResult::ALL, ForwardResult::as_str).map(|r| (r as usize, r.as_str()));
    write_counts(out, &FORWARDS, &stores, &forwards, |w| &w.forwards);
    if stores.iter().any(|(_, w)| w.last_received.is_some()) {
        header(out, &LAST_RECEIVED);
        for (store, w) in &stores {
            if let Some(at) = w.last_received {
                store_sample(out, &LAST_RECEIVED, store, &[], at);
            }
        }
    }
    let requests =
        sorted(WebhookResult::ALL, WebhookResult::as_str).map(|r| (r as usize, r.as_str()));
    write_counts(out, &REQUESTS, &stores, &requests, |w| &w.requests);
}

/// A `{result, store}` counter family: by result label, then store.
fn write_counts(
    out: &mut String,
    family: &Family,
    stores: &[(String, WebhookSeries)],
    results: &[(usize, &str)],
    counts: fn(&WebhookSeries) -> &[Option<u64>],
) {
    if !stores
        .iter()
        .any(|(_, w)| counts(w).iter().any(Option::is_some))
    {
        return;
    }
    header(out, family);
    for (i, result) in results {
        for (store, w) in stores {
            if let Some(n) = counts(w)[*i] {
                let _ = writeln!(
                    out,
                    "{}{{result=\"{result}\",store=\"{store}\"}} {n}",
                    family.name
                );
            }
        }
    }
}

/// The state's webhook families: confirmations by source, missing webhooks and
/// disagreements (as committed, with a state file), and each relaying store's queue.
pub(super) struct StateCollector;

impl Collector for StateCollector {
    fn collect(&self, scrape: &Scrape<'_>, out: &mut String) {
        render_state(out, scrape.state);
    }
}

fn render_state(out: &mut String, state: &State) {
    let write_ahead = state.write_ahead();
    let rows: Vec<(String, crate::state::WebhookCounts, Option<usize>)> = state
        .stores()
        .iter()
        .map(|handle| {
            let st = handle.lock();
            let counts = st.counters().shown(write_ahead).webhooks.clone();
            let webhooks = st.webhooks();
            let queue = webhooks.memory().forwarding.then(|| webhooks.queued());
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
