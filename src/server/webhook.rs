//! The webhook receiver: `POST /webhooks/allscale` (the path is configurable). AllScale
//! signs each webhook with the store's API secret; the store is found by `X-API-Key`.
//! A webhook without a valid, fresh signature changes nothing. A verified one confirms
//! its intent (counted once with polling), is queued for the relay when the store has a
//! `forward_url`, and is answered 200 once all of that is committed.
//!
//! Answers: 200; 401 unknown key, bad or missing signature, stale timestamp; 400 a body
//! that is not the documented JSON; 409 a replayed nonce; 413 a body over 64 KiB; 503 the
//! relay queue is full (AllScale retries). Each is counted under its result.

use axum::Router;
use axum::body::Body;
use axum::extract::{OriginalUri, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::shared::Shared;
use crate::api::webhook::{Webhook, WebhookError, WebhookHeaders};
use crate::config::{Config, IntentConfig, IntentId, OrderIdProblem, StoreConfig};
use crate::metrics::{UNKNOWN_STORE, WebhookResult};
use crate::state::{Accepted, ForwardRequest, Memory, Refused, WebhookEvent};
use crate::text::prefix;

/// Largest accepted body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// How long a webhook waits for its commit before it is answered 503.
const DURABLE_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);
/// Headers relayed with the body, as received.
const RELAYED: [&str; 6] = [
    "content-type",
    "x-api-key",
    "x-webhook-id",
    "x-webhook-timestamp",
    "x-webhook-nonce",
    "x-webhook-signature",
];

/// The receiver's route at `path`, outside basic auth (AllScale has no credentials for it).
pub(super) fn routes(path: &str) -> Router<Shared> {
    Router::new().route(path, post(receive))
}

/// Why a webhook was refused, with its answer.
struct Refusal {
    result: WebhookResult,
    status: StatusCode,
    message: String,
}

impl Refusal {
    fn new(result: WebhookResult, status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            result,
            status,
            message: message.into(),
        }
    }
}

async fn receive(
    AxumState(shared): AxumState<Shared>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let config = shared.config.borrow().clone();
    if !config.webhook.enabled {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Some(store) = store_of(&config, &headers) else {
        shared
            .metrics
            .webhook_received(UNKNOWN_STORE, WebhookResult::UnknownKey);
        refused(
            UNKNOWN_STORE,
            WebhookResult::UnknownKey,
            "its X-API-Key matches no store",
        );
        return answer(StatusCode::UNAUTHORIZED, "unknown X-API-Key");
    };
    let store = store.clone();
    let outcome = take(&shared, &config, &store, &uri, &headers, body).await;
    let (result, response) = match outcome {
        Ok((accepted, durable)) => {
            shared
                .metrics
                .webhook_verified(&store.name, shared.clock.now().as_secs_f64());
            let status = if durable {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            let body = json!({"result": accepted_name(accepted), "durable": durable});
            (
                WebhookResult::Ok,
                (status, axum::Json(body)).into_response(),
            )
        }
        Err(refusal) => {
            refused(&store.name, refusal.result, &refusal.message);
            let response = answer(refusal.status, &refusal.message);
            (refusal.result, response)
        }
    };
    shared.metrics.webhook_received(&store.name, result);
    response
}

/// Logs a refusal, at most once a minute per store and result (anyone can send one; the
/// counter counts them all): `count` is how many this line stands for.
fn refused(store: &str, result: WebhookResult, reason: &str) {
    let kind = format!("webhook/{store}/{}", result.as_str());
    if let Some(count) = crate::log_limit::outside(&kind) {
        let result = result.as_str();
        tracing::warn!(
            store,
            result,
            reason,
            count,
            "webhook refused (count: refusals of this kind since the last such line)"
        );
    }
}

fn answer(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": message}))).into_response()
}

fn accepted_name(accepted: Accepted) -> &'static str {
    match accepted {
        Accepted::Confirmed => "confirmed",
        Accepted::AlreadyFinal => "already_final",
        Accepted::NotOwned => "relayed_only",
        Accepted::Duplicate => "duplicate",
    }
}

/// The store whose API key the webhook names.
fn store_of<'c>(config: &'c Config, headers: &HeaderMap) -> Option<&'c StoreConfig> {
    let key = headers.get("x-api-key")?.to_str().ok()?.trim();
    config.stores.iter().find(|s| s.api_key == key)
}

/// Verifies and takes one webhook of `store`; returns what it did and whether it was
/// committed in time.
async fn take(
    shared: &Shared,
    config: &Config,
    store: &StoreConfig,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Accepted, bool), Refusal> {
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            if crate::web::body::timed_out(&e) {
                let message = "the body did not arrive in time (--web.read-body-timeout)";
                return Refusal::new(
                    WebhookResult::BodyTimeout,
                    StatusCode::REQUEST_TIMEOUT,
                    message,
                );
            }
            Refusal::new(
                WebhookResult::TooLarge,
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the body is larger than {} KiB (or could not be read)",
                    MAX_BODY_BYTES / 1024
                ),
            )
        })?;
    let signed = WebhookHeaders::from_map(headers).map_err(unverified)?;
    let webhook = Webhook {
        method: "POST",
        path_and_query: uri.path_and_query().map_or(uri.path(), |p| p.as_str()),
        headers: signed,
        body: &body,
    };
    let (secret, max_skew) = (store.api_secret.expose(), config.webhook.max_skew);
    // The timestamp AllScale signed is checked against the wall clock, as the API
    // client checks answers: not the exporter's clock, which tests may move.
    webhook
        .verify(secret, crate::api::clock::since_epoch(), max_skew)
        .map_err(unverified)?;
    let intent = parse_body(&body)?;
    let forward = store.webhook.forward_url.as_ref().map(|_| ForwardRequest {
        path_and_query: uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        headers: RELAYED
            .iter()
            .filter_map(|name| Some((name.to_string(), headers.get(*name)?.as_bytes().to_vec())))
            .collect(),
        body: body.to_vec(),
    });
    let event = WebhookEvent {
        webhook_id: signed.id.to_owned(),
        nonce: signed.nonce.to_owned(),
        owned: shared.shard.owns(intent.id.as_str()),
        intent,
        forward,
    };
    let Some(handle) = shared.state.store(&store.name) else {
        return Err(Refusal::new(
            WebhookResult::UnknownKey,
            StatusCode::UNAUTHORIZED,
            "unknown store",
        ));
    };
    let memory = Memory::of(config, store);
    let intent_id = event.intent.id.clone();
    let now = shared.clock.now();
    if let Some(group) = &shared.group {
        group.before_webhook(&handle, &event, now).await;
    }
    let (accepted, version) =
        handle.edit_watch_list(true, |st| st.accept_webhook(event, memory, now));
    let accepted = accepted.map_err(|refused| match refused {
        Refused::ReplayedNonce => Refusal::new(
            WebhookResult::ReplayedNonce,
            StatusCode::CONFLICT,
            "this X-Webhook-Nonce was seen already",
        ),
        Refused::QueueFull => Refusal::new(
            WebhookResult::QueueFull,
            StatusCode::SERVICE_UNAVAILABLE,
            "the relay queue is full; retry later",
        ),
    })?;
    tracing::info!(store = %store.name, intent_id = %intent_id, webhook_id = %signed.id, result = accepted_name(accepted), "webhook verified");
    let durable = !shared.state.write_ahead()
        || shared
            .durability
            .durable(version, DURABLE_WITHIN)
            .await
            .is_ok();
    Ok((accepted, durable))
}

/// The answer to a webhook that does not verify.
fn unverified(e: WebhookError) -> Refusal {
    let (result, message) = match e {
        WebhookError::Stale {
            timestamp,
            max_skew,
        } => (
            WebhookResult::StaleTimestamp,
            format!(
                "X-Webhook-Timestamp {:?} is more than {} s from the exporter's clock",
                prefix(&timestamp, 32),
                max_skew.as_secs_f64()
            ),
        ),
        other => (WebhookResult::BadSignature, other.to_string()),
    };
    Refusal::new(result, StatusCode::UNAUTHORIZED, message)
}

/// The intent a webhook body names: a JSON object with `allscale_checkout_intent_id`
/// (or `all_scale_checkout_intent_id`, as the detail endpoint spells it) and, if present,
/// string `order_id`, `amount_coins`, `coin_symbol`, `tx_hash` and an integer `chain_id`.
fn parse_body(body: &[u8]) -> Result<IntentConfig, Refusal> {
    let malformed =
        |why: String| Refusal::new(WebhookResult::Malformed, StatusCode::BAD_REQUEST, why);
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        malformed(format!(
            "the body is not JSON: {}",
            prefix(&e.to_string(), 200)
        ))
    })?;
    let Value::Object(fields) = value else {
        return Err(malformed("the body is not a JSON object".into()));
    };
    let id = [
        "allscale_checkout_intent_id",
        "all_scale_checkout_intent_id",
    ]
    .iter()
    .find_map(|k| fields.get(*k))
    .ok_or_else(|| malformed("allscale_checkout_intent_id is missing".into()))?;
    let id = id.as_str().and_then(IntentId::parse).ok_or_else(|| {
        malformed(
            "allscale_checkout_intent_id is not an intent id (24 hexadecimal characters)".into(),
        )
    })?;
    for key in ["order_id", "amount_coins", "coin_symbol", "tx_hash"] {
        if fields
            .get(key)
            .is_some_and(|v| !v.is_string() && !v.is_null())
        {
            return Err(malformed(format!("{key} is not a string")));
        }
    }
    if fields
        .get("chain_id")
        .is_some_and(|v| !v.is_i64() && !v.is_u64() && !v.is_null())
    {
        return Err(malformed("chain_id is not an integer".into()));
    }
    let order_id = fields
        .get("order_id")
        .and_then(Value::as_str)
        .filter(|o| OrderIdProblem::of(o).is_none())
        .map(str::to_owned);
    Ok(IntentConfig { id, order_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The answers to unverified webhooks, word for word as before the verification
    /// moved to the API crate.
    #[test]
    fn unverified_webhooks_are_answered_401_with_what_is_wrong() {
        let stale = WebhookError::Stale {
            timestamp: "1".repeat(40),
            max_skew: std::time::Duration::from_millis(1500),
        };
        let cases = [
            (
                WebhookError::Header("x-webhook-nonce"),
                WebhookResult::BadSignature,
                "missing or invalid x-webhook-nonce header".to_owned(),
            ),
            (
                WebhookError::Signature,
                WebhookResult::BadSignature,
                "the signature does not verify with the store's API secret".to_owned(),
            ),
            (
                stale,
                WebhookResult::StaleTimestamp,
                format!(
                    "X-Webhook-Timestamp \"{}\" is more than 1.5 s from the exporter's clock",
                    "1".repeat(32)
                ),
            ),
        ];
        for (error, result, message) in cases {
            let refusal = unverified(error);
            assert_eq!(
                (refusal.result, refusal.status, refusal.message),
                (result, StatusCode::UNAUTHORIZED, message)
            );
        }
    }
}
