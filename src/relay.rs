//! The webhook relay (issue #14 point 3): each verified webhook of a store with
//! `webhook.forward_url` goes on to the merchant's backend unchanged, once the state
//! database holds it (AllScale was answered then, not when the backend answers).
//!
//! The request: `POST`, the same body bytes and the relayed headers (`Content-Type`,
//! `X-API-Key`, `X-Webhook-*`) as received, so the backend's own HMAC check passes. The
//! URL: `forward_url`'s scheme, host and port with the path and query AllScale used
//! (they are signed); a `forward_url` with a path other than `/`, or with a query, is
//! used exactly as it is ([`target`]), and the backend must then verify against the
//! original path and query. No redirects, no proxy, within `request_timeout`.
//!
//! One supervised task per relaying store, strictly in order (one event in flight): a 2xx
//! answer removes the event from the queue (and the database); anything else is counted,
//! logged once per kind until a relay works again, and the SAME event is tried again
//! after a backoff of 1 s, 2 s, 4 s, … at most [`MAX_BACKOFF`], with jitter. A store that
//! loses its `forward_url` stops relaying; its events stay queued, in the state file too.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::sync::watch;
use url::Url;

use crate::clock::Clock;
use crate::config::Config;
use crate::metrics::{ForwardResult, Metrics};
use crate::reconcile::{Kind, Specs, Wanted};
use crate::sources::http::chain;
use crate::state::store::Durability;
use crate::state::{Queued, StoreHandle};
use crate::supervise::Task;

/// The first retry delay of a failed relay; doubles per failure in a row.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest retry delay.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// An idle relay looks at its queue at least this often, commits or not.
const IDLE_RECHECK: Duration = Duration::from_secs(5);

/// What a store's relay runs with; a change restarts it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spec {
    url: Url,
    timeout: Duration,
}

/// The relays' part of the task set: one task per store with a `forward_url`; a change
/// of its settings restarts it (an event in flight finishes first, within
/// `request_timeout`).
pub(crate) struct Relays {
    /// Only events a commit holds are relayed.
    durability: Arc<Durability>,
    metrics: Arc<Metrics>,
    /// For the relay lag (receipt to success).
    clock: Clock,
}

impl Relays {
    pub(crate) fn new(durability: Arc<Durability>, metrics: Arc<Metrics>, clock: Clock) -> Self {
        Self {
            durability,
            metrics,
            clock,
        }
    }
}

impl Kind for Relays {
    type Key = String;
    type Spec = Spec;
    type Error = Infallible;
    const TASK: Task = Task::WebhookRelay;

    fn wanted(
        &self,
        config: &Config,
        _running: &Specs<'_, Self>,
    ) -> Result<Wanted<Self>, Infallible> {
        let wanted = config.stores.iter().filter_map(|store| {
            let url = store.webhook.forward_url.clone()?;
            let timeout = config.request_timeout;
            Some((store.name.clone(), Spec { url, timeout }))
        });
        Ok(wanted.collect())
    }

    fn needs_restart(&self, running: &Spec, wanted: &Spec) -> bool {
        running != wanted
    }

    fn run(
        &self,
        _key: &String,
        store: &StoreHandle,
        spec: watch::Receiver<Spec>,
        stop: watch::Receiver<bool>,
    ) -> impl Future<Output = ()> + Send + use<> {
        let (handle, metrics) = (store.clone(), Arc::clone(&self.metrics));
        let spec = spec.borrow().clone();
        let (commits, clock) = (self.durability.commits(), self.clock.clone());
        run_relay(handle, commits, metrics, clock, spec, stop)
    }

    fn started(&self, name: &String, spec: &Spec) {
        tracing::info!(store = %name, url = %shown(&spec.url), "relaying webhooks");
    }

    fn gone(&self, name: &String, _store: &StoreHandle) {
        tracing::info!(store = %name, "webhook relay stopped (no forward_url); queued events stay queued");
    }
}

/// Where an event received at `path_and_query` goes: `forward_url` with that path and
/// query when `forward_url` has the root path and no query, else `forward_url` itself.
pub fn target(forward_url: &Url, path_and_query: &str) -> Url {
    if forward_url.path() != "/" || forward_url.query().is_some() {
        return forward_url.clone();
    }
    let (path, query) = match path_and_query.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path_and_query, None),
    };
    let mut url = forward_url.clone();
    url.set_path(if path.is_empty() { "/" } else { path });
    url.set_query(query);
    url
}

/// A URL as logs show it: without its query (it may carry a key).
fn shown(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.to_string()
}

/// The delay before the next try after `failures` failures in a row (at least 1):
/// [`FIRST_BACKOFF`] doubled per failure, at most [`MAX_BACKOFF`], scaled by `jitter`
/// (taken in 0.5..=1).
pub fn backoff(failures: u32, jitter: f64) -> Duration {
    let doubled = FIRST_BACKOFF.saturating_mul(1 << failures.saturating_sub(1).min(16));
    doubled.min(MAX_BACKOFF).mul_f64(jitter.clamp(0.5, 1.0))
}

/// Why a relay attempt failed.
#[derive(Debug)]
struct Failure {
    result: ForwardResult,
    /// Logged once until a relay works again: `status 500`, `connect`, `timeout`.
    kind: String,
    detail: String,
}

/// One store's relay, until `stop` flips.
async fn run_relay(
    handle: StoreHandle,
    mut commits: watch::Receiver<u64>,
    metrics: Arc<Metrics>,
    clock: Clock,
    spec: Spec,
    mut stop: watch::Receiver<bool>,
) {
    let client = match client(spec.timeout) {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(store = %handle.name, error = %chain(&e), "the webhook relay cannot run: no HTTP client");
            return crate::stopped(&mut stop).await;
        }
    };
    let mut logged: Vec<String> = Vec::new();
    let mut failures = 0u32;
    while let Some(event) = next_event(&handle, &mut commits, &mut stop).await {
        let url = target(&spec.url, &event.request.path_and_query);
        // Not cut short by `stop`: an event in flight finishes within the timeout.
        match send(&client, &url, &event).await {
            Ok(()) => {
                handle.lock().delivered(event.seq);
                handle.record_change(false);
                let lag = clock.now().since(event.received_at).as_secs_f64();
                metrics.webhook_forwarded(&handle.name, ForwardResult::Ok, Some(lag));
                tracing::debug!(store = %handle.name, webhook_id = %event.webhook_id, lag_seconds = lag, "webhook relayed");
                if !logged.is_empty() {
                    tracing::info!(store = %handle.name, url = %shown(&url), "webhook relay works again");
                    logged.clear();
                }
                failures = 0;
            }
            Err(failure) => {
                metrics.webhook_forwarded(&handle.name, failure.result, None);
                failures = failures.saturating_add(1);
                let delay = backoff(failures, rand::random_range(0.5..=1.0));
                if !logged.contains(&failure.kind) {
                    tracing::warn!(store = %handle.name, webhook_id = %event.webhook_id, url = %shown(&url), result = failure.result.as_str(), error = %failure.detail, retry_in_seconds = delay.as_secs_f64(), "cannot relay a webhook; will retry it (later events wait behind it)");
                    logged.push(failure.kind);
                }
                tokio::select! {
                    _ = crate::stopped(&mut stop) => return,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

fn client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(format!("allscale-exporter/{}", crate::VERSION))
        .build()
}

/// The oldest durable event of the store, waiting for commits (and at least every
/// [`IDLE_RECHECK`]) until there is one; `None` once `stop` flips.
async fn next_event(
    handle: &StoreHandle,
    commits: &mut watch::Receiver<u64>,
    stop: &mut watch::Receiver<bool>,
) -> Option<Queued> {
    loop {
        if *stop.borrow() {
            return None;
        }
        // Seen before looking: a commit after the look wakes the wait below.
        commits.borrow_and_update();
        if let Some(event) = handle.lock().webhooks().next_to_forward().cloned() {
            return Some(event);
        }
        let committed = async {
            if commits.changed().await.is_err() {
                tokio::time::sleep(IDLE_RECHECK).await;
            }
        };
        tokio::select! {
            _ = crate::stopped(stop) => return None,
            _ = committed => {}
            _ = tokio::time::sleep(IDLE_RECHECK) => {}
        }
    }
}

/// One attempt: `POST url` with the event's headers and body; `Ok` on a 2xx answer.
async fn send(client: &reqwest::Client, url: &Url, event: &Queued) -> Result<(), Failure> {
    let mut headers = HeaderMap::new();
    for (name, value) in &event.request.headers {
        // Valid: they came from a request that was parsed (and the database keeps them).
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    let request = client
        .post(url.clone())
        .headers(headers)
        .body(event.request.body.clone());
    match request.send().await {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => {
            let status = response.status();
            Err(Failure {
                result: ForwardResult::HttpError,
                kind: format!("status {}", status.as_u16()),
                detail: format!("answered {status}"),
            })
        }
        Err(e) => {
            let result = if e.is_timeout() {
                ForwardResult::Timeout
            } else {
                ForwardResult::ConnectError
            };
            Err(Failure {
                result,
                kind: result.as_str().to_owned(),
                detail: chain(&e),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn a_root_forward_url_takes_the_original_path_and_query() {
        let at = |forward: &str, received: &str| target(&url(forward), received).to_string();
        assert_eq!(
            at("http://backend:8080", "/webhooks/allscale?store=a&x=%20y"),
            "http://backend:8080/webhooks/allscale?store=a&x=%20y"
        );
        assert_eq!(
            at("https://backend/", "/webhooks/allscale"),
            "https://backend/webhooks/allscale"
        );
        assert_eq!(
            at("http://b/", "/h?"),
            "http://b/h?",
            "an empty query stays"
        );
        // A path or a query of its own: used as it is.
        assert_eq!(
            at("http://b/hooks/in", "/webhooks/allscale?s=1"),
            "http://b/hooks/in"
        );
        assert_eq!(at("http://b/?k=v", "/webhooks/allscale"), "http://b/?k=v");
    }

    #[test]
    fn logs_show_no_query() {
        assert_eq!(shown(&url("http://b:1/h?key=secret")), "http://b:1/h");
    }

    #[test]
    fn the_backoff_doubles_to_a_minute_with_jitter_below() {
        let secs = |n| backoff(n, 1.0).as_secs();
        assert_eq!(
            (1..=8).map(secs).collect::<Vec<_>>(),
            [1, 2, 4, 8, 16, 32, 60, 60]
        );
        assert_eq!(backoff(u32::MAX, 1.0), MAX_BACKOFF);
        assert_eq!(backoff(1, 0.5), Duration::from_millis(500));
        assert_eq!(
            backoff(7, 0.0),
            Duration::from_secs(30),
            "jitter at most halves"
        );
        assert_eq!(backoff(0, 1.0), FIRST_BACKOFF);
    }
}
