//! A fake AllScale Open API: the status endpoint with the real auth rules, scripted
//! lifecycles, injected errors, rate limiting, latency and optional response signing.
//!
//! Routes:
//! - `GET /v1/checkout_intents/{id}/status` — the status endpoint (payload: an integer).
//! - `GET /v1/checkout_intents/{id}` — the intent detail endpoint (payload: an object with
//!   the id, the current status and the amounts; `detail`); the same auth, ownership,
//!   failures and lifecycle as the status endpoint.
//! - `GET /v1/test/ping` — payload `{"pong":"ok"}`; checks key, clock and signing.
//! - `GET /-/stats` — unauthenticated JSON of [`SimStats`] (not an API route: no envelope).
//! - `POST /-/webhooks/send` — unauthenticated, for tests: sends one webhook of a given
//!   kind now and answers with what was sent and what the receiver answered.
//! - anything else — HTTP 404 with an error envelope (code 99999), before any auth check.
//!
//! Every API answer is the envelope `{"code","payload","error","request_id"}` with an
//! `X-Request-Id` header equal to `request_id`. Authentication follows the real API, in
//! this order (`docs/allscale-api.md` §1):
//! 1. a missing (or empty, or non-ASCII) `X-API-Key`, `X-Timestamp`, `X-Nonce` or
//!    `X-Signature`, or an unknown API key → 20001, HTTP 401;
//! 2. `X-Timestamp` not a decimal integer, or outside ±`timestamp_window` → 20002, HTTP 401;
//! 3. a signature that does not verify over the request as received (raw path and query
//!    exactly as on the request line, SHA-256 of the received body) → 20002, HTTP 401;
//! 4. a nonce already used with this key → 20002, HTTP 401 (a nonce is only recorded once
//!    its signature verified; it is remembered until `max(now, X-Timestamp) + window`);
//! 5. more than `rate_limit_per_second` authenticated requests for the key in the current
//!    unix second → 40001, HTTP 429, `Retry-After: 1` (the nonce is still consumed).
//!
//! Then the endpoint: an id not in the scenario → 50001 (HTTP 404); an intent owned by
//! another key → 30001 (HTTP 403); then the intent's injected failure, if any; otherwise
//! code 0 with the intent's current lifecycle status. The lifecycle clock starts at the
//! intent's first authenticated poll by its owner (or at launch, `starts: at_launch`); the
//! status is `lifecycle[min(elapsed / step, len - 1)]`. When it reaches 20 (CONFIRMED)
//! and a webhook url is set, the intent's webhook is sent once (`webhook`).
//!
//! One concern a file: `scenario` (the scenario file: schema, loading, validation),
//! `auth` (the request checks above, the nonce replay window and the clock), `lifecycle`
//! (per-intent ownership, status sequence and injected failures), `detail` (the detail
//! payload: amounts, exact defaults, broken payloads), `answer` (what is
//! answered and its exact bytes: the envelope, malformed and hostile bodies), `routes`
//! (the axum handlers, rendering and response signing), `stats` (the `/-/stats`
//! counters) and `webhook` (confirmation webhooks: bodies, faulty kinds, signing,
//! retries).

mod answer;
mod auth;
mod detail;
mod lifecycle;
mod routes;
mod scenario;
mod stats;
#[cfg(test)]
mod testkit;
mod webhook;

pub use scenario::{
    DetailMalformed, MAX_WEBHOOK_RETRIES, Malformed, Scenario, ScenarioError, SimDetail,
    SimFailure, SimIntent, SimKey, SimWebhook, Starts, WebhookKind, default_lifecycle,
    default_step, default_timestamp_window, default_webhook_backoff, default_webhook_retries,
    default_webhook_timeout,
};
pub use stats::{MALFORMED_STATS_CODE, SimStats, UNKNOWN_KEY_STATS, WebhookStats};

use std::collections::HashMap;
use std::hash::RandomState;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};

use auth::KeyRt;
use lifecycle::IntentRt;
use routes::{
    detail_route, fallback_route, ping_route, stats_route, status_route, webhook_send_route,
};
use webhook::WebhookRt;

/// A running simulator's shared state; cheap to clone.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

struct Inner {
    latency: Duration,
    sign_responses: bool,
    window_secs: u64,
    /// Added to the simulator's clock (auth window, response timestamps, `Date`).
    clock_offset: i64,
    keys: Vec<KeyRt>,
    key_index: HashMap<String, usize>,
    intents: Vec<IntentRt>,
    intent_index: HashMap<String, usize>,
    /// Two independent keyed hashers: nonces are remembered as 128-bit hashes.
    nonce_hashers: (RandomState, RandomState),
    stats: Mutex<SimStats>,
    webhooks: WebhookRt,
    /// This simulator itself, for the tasks that send webhooks later.
    me: Weak<Inner>,
}

impl Inner {
    fn new(scenario: Scenario, me: Weak<Inner>) -> Inner {
        let mut key_index = HashMap::with_capacity(scenario.keys.len());
        let mut keys = Vec::with_capacity(scenario.keys.len());
        for k in scenario.keys {
            // With an unvalidated scenario, the first of duplicate keys wins.
            key_index.entry(k.api_key.clone()).or_insert(keys.len());
            keys.push(KeyRt::new(k));
        }
        let mut intent_index = HashMap::with_capacity(scenario.intents.len());
        let mut intents = Vec::with_capacity(scenario.intents.len());
        for i in scenario.intents {
            intent_index.entry(i.id.clone()).or_insert(intents.len());
            let owner = key_index.get(&i.key).copied();
            intents.push(IntentRt::new(i, owner));
        }
        Inner {
            latency: scenario.latency,
            clock_offset: scenario.clock_offset_seconds,
            sign_responses: scenario.sign_responses,
            window_secs: scenario.timestamp_window.as_secs(),
            keys,
            key_index,
            intents,
            intent_index,
            nonce_hashers: (RandomState::new(), RandomState::new()),
            stats: Mutex::new(SimStats::default()),
            webhooks: WebhookRt::new(scenario.webhook),
            me,
        }
    }
}

impl Simulator {
    /// Inside an async runtime, this also schedules the webhooks of `at_launch` intents
    /// (outside one, [`Simulator::router`] does).
    pub fn new(scenario: Scenario) -> Self {
        let inner = Arc::new_cyclic(|me| Inner::new(scenario, me.clone()));
        inner.launch_webhooks();
        Simulator { inner }
    }
    /// The axum router serving the API (and `GET /-/stats` with [`SimStats`] as JSON,
    /// `POST /-/webhooks/send` for tests).
    pub fn router(&self) -> axum::Router {
        self.inner.launch_webhooks();
        Router::new()
            .route("/v1/checkout_intents/{id}", get(detail_route))
            .route("/v1/checkout_intents/{id}/status", get(status_route))
            .route("/v1/test/ping", get(ping_route))
            .route("/-/stats", get(stats_route))
            .route("/-/webhooks/send", post(webhook_send_route))
            .fallback(fallback_route)
            .with_state(self.clone())
    }
    pub fn stats(&self) -> SimStats {
        lock(&self.inner.stats).clone()
    }
    /// Serves on `listener` until `shutdown` completes.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }
}

/// Locks `mutex`, a poisoned one too: the data behind every lock here is plain (maps,
/// counters), and a panic while it was held leaves nothing half-done that is worse than
/// losing the data; so the simulator keeps serving it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::testkit::SCENARIO;
    use super::*;

    #[tokio::test]
    async fn serve_stops_on_shutdown() {
        let sim = Simulator::new(Scenario::from_yaml_str(SCENARIO).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(sim.serve(listener, async {
            let _ = rx.await;
        }));
        tx.send(()).unwrap();
        let result = tokio::time::timeout(Duration::from_secs(5), task).await;
        assert!(matches!(result, Ok(Ok(Ok(())))));
    }
}
