//! Confirmation webhooks, as AllScale sends them (`docs/allscale-api.md` §6): a signed
//! `POST` of JSON to the merchant's URL when an intent turns CONFIRMED, plus the faulty
//! kinds a receiver must refuse or deduplicate, so exporter tests can drive each case.
//!
//! Delivery model (ours: AllScale documents that it retries, not how): a `normal`
//! webhook whose request gets a non-2xx answer or none is retried up to `retries` times,
//! waiting `retry_backoff` and then twice as long each time; every retry keeps the
//! `X-Webhook-Id` and body but has a new timestamp, nonce and signature. The fault kinds
//! send exactly the requests their name says, whatever the answer, so a test sees only
//! them. Each send runs in its own task and at most [`MAX_IN_FLIGHT`] run at once, so
//! sending never delays an answer to a poll.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::body::Bytes;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::answer::padded;
use super::scenario::check_webhook_url;
use super::{Inner, SimWebhook, Starts, WebhookKind};
use allscale_api::signing::{WebhookFields, sha256_hex, sign, webhook_canonical};

/// Most webhook sends in flight at once: many `at_launch` intents confirming together
/// wait for a slot rather than opening thousands of connections.
const MAX_IN_FLIGHT: usize = 32;
/// Age of a `stale` webhook's timestamp: twice the ±5 minutes a receiver accepts.
const STALE_AGE_SECS: u64 = 600;
/// Padding of an `oversize` body, past the 64 KiB a receiver should cap bodies at.
const OVERSIZE_PADDING: usize = 80 * 1024;
/// The key and secret of `unknown_key` webhooks: no scenario's store has them.
const UNKNOWN_KEY: &str = "st_webhook_unknown_key";
const UNKNOWN_SECRET: &str = "st_webhook_unknown_secret";

/// The sender's shared part of the simulator.
pub(super) struct WebhookRt {
    config: SimWebhook,
    /// The scenario's (or `--webhook.url`'s) URL, parsed once.
    url: Option<reqwest::Url>,
    /// Built once; an error (kept as text) fails every send instead of panicking.
    client: Result<reqwest::Client, String>,
    slots: tokio::sync::Semaphore,
    /// Whether the `at_launch` intents' webhooks have been scheduled.
    launched: AtomicBool,
}

impl WebhookRt {
    pub(super) fn new(config: Option<SimWebhook>) -> WebhookRt {
        let config = config.unwrap_or_default();
        let url = config
            .url
            .as_deref()
            .and_then(|u| match check_webhook_url(u) {
                Ok(url) => Some(url),
                Err(e) => {
                    tracing::warn!(error = %e, "webhook.url unusable: no webhooks on confirmation");
                    None
                }
            });
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| e.to_string());
        WebhookRt {
            config,
            url,
            client,
            slots: tokio::sync::Semaphore::new(MAX_IN_FLIGHT),
            launched: AtomicBool::new(false),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(super) enum WebhookError {
    #[error("request body is not a webhook request: {0}")]
    BadRequest(String),
    #[error("intent {0:?} is not in the scenario")]
    UnknownIntent(String),
    #[error("kind none sends nothing")]
    KindNone,
    #[error("no url: set webhook.url in the scenario, --webhook.url, or url here")]
    NoUrl,
    #[error("url {0}")]
    BadUrl(String),
    #[error("intent {0:?} has no key in the scenario")]
    NoOwner(String),
    #[error("webhook client unavailable: {0}")]
    Client(String),
}

impl WebhookError {
    pub(super) fn http_status(&self) -> StatusCode {
        match self {
            WebhookError::UnknownIntent(_) => StatusCode::NOT_FOUND,
            WebhookError::NoOwner(_) | WebhookError::Client(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// The body of `POST /-/webhooks/send`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SendRequest {
    intent_id: String,
    #[serde(default = "normal")]
    kind: WebhookKind,
    #[serde(default)]
    url: Option<String>,
}

fn normal() -> WebhookKind {
    WebhookKind::Normal
}

/// What one send did: the answer of `POST /-/webhooks/send`.
#[derive(Debug, Serialize)]
pub(super) struct WebhookReport {
    pub(super) intent_id: String,
    pub(super) kind: &'static str,
    pub(super) url: String,
    /// The send's `X-Webhook-Id`: every request of one send (copies, duplicates and
    /// retries) carries it.
    pub(super) webhook_id: String,
    /// Every request made, in order.
    pub(super) deliveries: Vec<DeliveryReport>,
}

/// One request as sent, and what the receiver answered.
#[derive(Debug, Clone, Serialize)]
pub(super) struct DeliveryReport {
    pub(super) api_key: String,
    pub(super) webhook_id: String,
    pub(super) timestamp: u64,
    pub(super) nonce: String,
    pub(super) signature: String,
    pub(super) body_bytes: usize,
    pub(super) body_sha256: String,
    /// A retry of a failed `normal` delivery.
    pub(super) retry: bool,
    /// The receiver's HTTP status; `null` when it gave none (then `error` says why).
    pub(super) status: Option<u16>,
    pub(super) error: Option<String>,
}

/// One request ready to go out.
struct Delivery {
    report: DeliveryReport,
    body: Bytes,
}

/// Who signs a send's requests, and with what.
struct Signing<'a> {
    url: &'a reqwest::Url,
    api_key: &'a str,
    secret: String,
    webhook_id: &'a str,
    body: &'a Bytes,
    body_sha256: String,
}

impl Signing<'_> {
    /// A freshly signed request: a new nonce, timestamp `now - age`.
    fn delivery(&self, now: u64, age: u64) -> Delivery {
        let timestamp = now.saturating_sub(age);
        let nonce = uuid::Uuid::new_v4().to_string();
        let ts = timestamp.to_string();
        let canonical = webhook_canonical(&WebhookFields {
            method: "POST",
            path: self.url.path(),
            query: self.url.query().unwrap_or(""),
            webhook_id: self.webhook_id,
            timestamp: &ts,
            nonce: &nonce,
            body_sha256: &self.body_sha256,
        });
        Delivery {
            report: DeliveryReport {
                api_key: self.api_key.to_owned(),
                webhook_id: self.webhook_id.to_owned(),
                timestamp,
                nonce,
                signature: sign(&self.secret, &canonical),
                body_bytes: self.body.len(),
                body_sha256: self.body_sha256.clone(),
                retry: false,
                status: None,
                error: None,
            },
            body: self.body.clone(),
        }
    }
}

impl Inner {
    /// Called once per intent when its lifecycle clock starts: if the lifecycle reaches
    /// CONFIRMED and a webhook is due, a task sleeps until then (plus `delay`) and sends
    /// it. Holds only a weak reference, so a dropped simulator sends nothing.
    pub(super) fn lifecycle_started(&self, ii: usize, started: Instant) {
        let intent = &self.intents[ii];
        let kind = intent.webhook.unwrap_or(WebhookKind::Normal);
        let (Some(url), false) = (self.webhooks.url.clone(), kind == WebhookKind::Off) else {
            return;
        };
        let Some(at) = intent
            .confirmed_after()
            .and_then(|after| started.checked_add(after))
            .and_then(|t| t.checked_add(self.webhooks.config.delay))
        else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(intent = %intent.id, "no async runtime: webhook not scheduled");
            return;
        };
        let me = self.me.clone();
        runtime.spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            let Some(inner) = me.upgrade() else { return };
            if let Err(e) = inner.send_webhook(ii, kind, &url).await {
                tracing::warn!(error = %e, "confirmation webhook not sent");
            }
        });
    }

    /// Schedules the webhooks of the `at_launch` intents, once, as soon as it is called
    /// inside an async runtime (at construction or when the router is built).
    pub(super) fn launch_webhooks(&self) {
        if self.webhooks.url.is_none() || tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        if self.webhooks.launched.swap(true, Ordering::AcqRel) {
            return;
        }
        for (ii, intent) in self.intents.iter().enumerate() {
            if let (Starts::AtLaunch, Some(&started)) = (intent.starts, intent.started.get()) {
                self.lifecycle_started(ii, started);
            }
        }
    }

    /// `POST /-/webhooks/send`: one webhook of the asked kind, now.
    pub(super) async fn admin_send(&self, body: &[u8]) -> Result<WebhookReport, WebhookError> {
        let req: SendRequest =
            serde_json::from_slice(body).map_err(|e| WebhookError::BadRequest(e.to_string()))?;
        let ii = *self
            .intent_index
            .get(&req.intent_id)
            .ok_or_else(|| WebhookError::UnknownIntent(req.intent_id.clone()))?;
        let url = match req.url {
            Some(u) => check_webhook_url(&u).map_err(WebhookError::BadUrl)?,
            None => self.webhooks.url.clone().ok_or(WebhookError::NoUrl)?,
        };
        self.send_webhook(ii, req.kind, &url).await
    }

    /// Sends intent `ii`'s webhook of `kind` to `url`, retrying a `normal` one.
    pub(super) async fn send_webhook(
        &self,
        ii: usize,
        kind: WebhookKind,
        url: &reqwest::Url,
    ) -> Result<WebhookReport, WebhookError> {
        let intent = &self.intents[ii];
        if kind == WebhookKind::Off {
            return Err(WebhookError::KindNone);
        }
        let ki = intent
            .owner
            .ok_or_else(|| WebhookError::NoOwner(intent.id.to_string()))?;
        let client = self
            .webhooks
            .client
            .as_ref()
            .map_err(|e| WebhookError::Client(e.clone()))?;
        // The semaphore is never closed; should it be, send without a slot.
        let _slot = self.webhooks.slots.acquire().await.ok();
        let key = &self.keys[ki];
        let (api_key, secret) = match kind {
            WebhookKind::UnknownKey => (UNKNOWN_KEY, UNKNOWN_SECRET),
            _ => (key.api_key.as_str(), key.api_secret.as_str()),
        };
        let json = serde_json::to_vec(&WebhookBody::new(&intent.id, intent.details.as_deref()))
            .expect("strings and integers serialize");
        let body = Bytes::from(match kind {
            WebhookKind::Oversize => padded(json, OVERSIZE_PADDING),
            WebhookKind::Malformed => json[..json.len() / 2].to_vec(),
            _ => json,
        });
        let webhook_id = format!("whk_{}", uuid::Uuid::new_v4().simple());
        let signing = Signing {
            url,
            api_key,
            secret: match kind {
                WebhookKind::Forged => format!("{secret}.forged"),
                _ => secret.to_owned(),
            },
            webhook_id: &webhook_id,
            body_sha256: sha256_hex(&body),
            body: &body,
        };
        self.record_webhook_sent(kind.as_str());
        let mut report = WebhookReport {
            intent_id: intent.id.to_string(),
            kind: kind.as_str(),
            url: url.to_string(),
            webhook_id: webhook_id.clone(),
            deliveries: Vec::new(),
        };
        let age = if kind == WebhookKind::Stale {
            STALE_AGE_SECS
        } else {
            0
        };
        let first = signing.delivery(self.server_now(), age);
        match kind {
            WebhookKind::Replayed => {
                let again = Delivery {
                    report: first.report.clone(),
                    body: first.body.clone(),
                };
                for d in [first, again] {
                    report.deliveries.push(self.post(client, url, d).await);
                }
            }
            WebhookKind::Duplicate => {
                report.deliveries.push(self.post(client, url, first).await);
                let second = signing.delivery(self.server_now(), 0);
                report.deliveries.push(self.post(client, url, second).await);
            }
            WebhookKind::Normal => {
                let mut next = Some(first);
                let mut wait = self.webhooks.config.retry_backoff;
                for _ in 0..=self.webhooks.config.retries {
                    let d = match next.take() {
                        Some(d) => d,
                        None => {
                            tokio::time::sleep(wait).await;
                            wait = wait.saturating_mul(2);
                            let mut d = signing.delivery(self.server_now(), 0);
                            d.report.retry = true;
                            d
                        }
                    };
                    let sent = self.post(client, url, d).await;
                    let ok = sent.status.is_some_and(|s| (200..300).contains(&s));
                    report.deliveries.push(sent);
                    if ok {
                        break;
                    }
                }
            }
            _ => report.deliveries.push(self.post(client, url, first).await),
        }
        Ok(report)
    }

    /// Makes one request and fills in the receiver's answer.
    async fn post(
        &self,
        client: &reqwest::Client,
        url: &reqwest::Url,
        d: Delivery,
    ) -> DeliveryReport {
        let Delivery { mut report, body } = d;
        let result = client
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-API-Key", &report.api_key)
            .header("X-Webhook-Id", &report.webhook_id)
            .header("X-Webhook-Timestamp", report.timestamp.to_string())
            .header("X-Webhook-Nonce", &report.nonce)
            .header("X-Webhook-Signature", &report.signature)
            .body(body)
            .send()
            .await;
        match result {
            Ok(resp) => report.status = Some(resp.status().as_u16()),
            Err(e) => report.error = Some(error_chain(&e)),
        }
        self.record_webhook_request(report.status, report.retry);
        report
    }
}

/// An error and its sources on one line ("connection refused" is a source of reqwest's
/// "error sending request").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

mod body;
#[cfg(test)]
mod tests;

pub(super) use body::BodyDetails;
use body::WebhookBody;
