//! The registration API: AllScale cannot list a merchant's intents, so the merchant's
//! backend registers each new one here (`POST /api/v1/intents`), can look one up
//! (`GET /api/v1/intents/{store}/{id}`) and stop watching it (`DELETE …`).
//!
//! The routes take the `registration:` block's bearer token, not the `/metrics` basic
//! auth: reading metrics must not grant writes. Without the block they answer 404. A
//! change is answered only once the state database committed it (with a `state_file`),
//! and a batch is validated whole before any of it is applied.

mod error;
mod request;

use std::net::SocketAddr;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State as AxumState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::shared::Shared;
use crate::api::Status;
use crate::clock::UnixTime;
use crate::config::{IntentConfig, IntentId, RegistrationConfig, Secret};
use crate::state::{IntentState, Source, Sources, StoreHandle, Unregistered};
use error::{ApiError, DURABLE_WITHIN, MisdirectedItem};

/// The routes, for the server's router (outside the basic-auth layer).
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/intents", post(register))
        .route("/api/v1/intents/{store}/{id}", get(show).delete(unregister))
}

/// What `POST /api/v1/intents` did.
#[derive(Serialize)]
struct Registered {
    registered: usize,
    already_watched: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    misdirected: Vec<MisdirectedItem>,
}

async fn register(
    AxumState(shared): AxumState<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Registered>, ApiError> {
    let settings = authorize(&shared, &headers)?;
    let body = request::read_body(body).await?;
    let batch = request::parse(&body).inspect_err(|_| {
        // A bad batch for a known store counts as an error of its `api` source.
        if let Some(handle) = request::store_named(&body).and_then(|s| shared.state.store(&s)) {
            shared.metrics.source(&handle.name, Source::Api).failed();
        }
    })?;
    let handle = store(&shared, &batch.store)?;
    // Counted for the store's `api` source: accepted, or refused.
    let recorder = shared.metrics.source(&handle.name, Source::Api);
    let count = batch.intents.len();
    let result = register_batch(&shared, &handle, &settings, batch.intents).await;
    match &result {
        Ok(Json(done)) => {
            recorder.succeeded(shared.clock.now().as_secs_f64());
            // One line per accepted request (only a holder of the token can cause it).
            tracing::info!(store = %handle.name, intents = count, registered = done.registered, already_watched = done.already_watched, misdirected = done.misdirected.len(), %peer, "intents registered");
        }
        Err(_) => recorder.failed(),
    }
    result
}

/// Registers the intents of a parsed batch this replica owns, all or none.
async fn register_batch(
    shared: &Shared,
    handle: &StoreHandle,
    settings: &RegistrationConfig,
    intents: Vec<IntentConfig>,
) -> Result<Json<Registered>, ApiError> {
    let (owned, misdirected): (Vec<_>, Vec<_>) = intents
        .into_iter()
        .partition(|intent| shared.shard.owns(intent.id.as_str()));
    let misdirected: Vec<_> = misdirected
        .iter()
        .map(|intent| misdirected_item(shared, &intent.id))
        .collect();
    if owned.is_empty() {
        return Err(ApiError::Misdirected {
            message: format!(
                "no intent of this request belongs to shard {} of this replica; send each to \
                 the replica of its shard",
                shared.shard
            ),
            items: misdirected,
        });
    }
    let max = settings.max_intents_per_store;
    let now = shared.clock.now();
    let (result, version) = handle.edit_watch_list(true, |st| st.register(&owned, max, now));
    let done = result.map_err(|watched| ApiError::AtCap {
        store: handle.name.clone(),
        cap: max,
        watched,
    })?;
    durable(
        shared,
        handle,
        version,
        "registration",
        "registering is idempotent",
    )
    .await?;
    Ok(Json(Registered {
        registered: done.registered,
        already_watched: done.already_watched,
        misdirected,
    }))
}

/// What the exporter knows of one intent.
#[derive(Serialize)]
struct IntentView {
    store: String,
    id: IntentId,
    order_id: Option<String>,
    status: Option<StatusView>,
    not_found: bool,
    /// When the current status (or not_found) was first seen.
    since: Option<f64>,
    last_success_at: Option<f64>,
    sources: Vec<&'static str>,
    added_at: Option<f64>,
    outcome_counted: bool,
    outcome: Option<&'static str>,
    terminal_at: Option<f64>,
    /// False for a final intent no source names any more, remembered for
    /// `terminal_retention`.
    watched: bool,
}

#[derive(Serialize)]
struct StatusView {
    code: i64,
    /// The API's enum name (`CONFIRMED`, `ON_CHAIN`, or `UNKNOWN` for an undocumented code).
    name: String,
}

impl IntentView {
    fn new(store: &str, id: IntentId, intent: &IntentState, watched: bool) -> Self {
        Self {
            store: store.to_owned(),
            id,
            order_id: intent.order_id().map(str::to_owned),
            status: intent.status().map(|s| StatusView {
                code: s.code(),
                name: s.class().as_str().to_ascii_uppercase(),
            }),
            not_found: intent.not_found(),
            since: intent.status_changed_at().map(UnixTime::as_secs_f64),
            last_success_at: intent.last_success_at().map(UnixTime::as_secs_f64),
            sources: intent.sources().iter().map(Source::as_str).collect(),
            added_at: intent.added_at().map(UnixTime::as_secs_f64),
            outcome_counted: intent.is_terminal(),
            outcome: intent
                .status()
                .and_then(Status::outcome)
                .filter(|_| intent.is_terminal())
                .map(|o| o.as_str()),
            terminal_at: intent.terminal_at().map(UnixTime::as_secs_f64),
            watched,
        }
    }
}

async fn show(
    AxumState(shared): AxumState<Shared>,
    headers: HeaderMap,
    path: Path<(String, String)>,
) -> Result<Json<IntentView>, ApiError> {
    authorize(&shared, &headers)?;
    view(&shared, path)
}

/// `GET /intents/{store}/{id}`: the same view, read-only, behind the `/metrics` basic
/// auth instead of the registration token (the landing page links to it).
pub(super) async fn intent_json(
    AxumState(shared): AxumState<Shared>,
    path: Path<(String, String)>,
) -> Response {
    view(&shared, path).into_response()
}

fn view(
    shared: &Shared,
    Path((store_name, id)): Path<(String, String)>,
) -> Result<Json<IntentView>, ApiError> {
    let (handle, id) = owned_intent(shared, &store_name, &id)?;
    let st = handle.lock();
    let found = match st.intent(id.as_str()) {
        Some(intent) => Some((intent, true)),
        None => st
            .intents()
            .retired(id.as_str())
            .map(|intent| (intent, false)),
    };
    let Some((intent, watched)) = found else {
        return Err(ApiError::NotWatched {
            store: handle.name.clone(),
            id,
        });
    };
    Ok(Json(IntentView::new(&handle.name, id, intent, watched)))
}

async fn unregister(
    AxumState(shared): AxumState<Shared>,
    headers: HeaderMap,
    Path((store_name, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    authorize(&shared, &headers)?;
    let (handle, id) = owned_intent(&shared, &store_name, &id)?;
    let (outcome, version) = handle.edit_watch_list(true, |st| st.unregister(&id));
    match outcome {
        Unregistered::Removed { still_watched } => {
            let retry = "a repeated DELETE answers 404 once it is gone";
            durable(&shared, &handle, version, "removal", retry).await?;
            tracing::debug!(store = %handle.name, intent = %id, still_watched = %still_watched.names(), "registration removed");
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Unregistered::NotRegistered(sources) => Err(ApiError::WatchedElsewhere {
            id,
            sources: source_list(sources),
        }),
        Unregistered::NotWatched => Err(ApiError::NotWatched {
            store: handle.name.clone(),
            id,
        }),
    }
}

/// The registration settings, if the request carries their token.
fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<RegistrationConfig, ApiError> {
    let settings = shared.config.borrow().registration.clone();
    let settings = settings.ok_or(ApiError::Off)?;
    let value = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .ok_or(ApiError::Unauthorized(
            "missing bearer token (Authorization: Bearer <the registration token>)",
        ))?;
    let Some(token) = strip_scheme(value, b"bearer ") else {
        return Err(ApiError::Unauthorized(
            "these routes take the registration token as a bearer token \
             (Authorization: Bearer …); /metrics credentials do not grant writes",
        ));
    };
    if token_matches(&settings.token, token) {
        Ok(settings)
    } else {
        Err(ApiError::Unauthorized("invalid bearer token"))
    }
}

/// The credentials after a case-insensitive `scheme` (with its space).
fn strip_scheme<'a>(value: &'a [u8], scheme: &[u8]) -> Option<&'a [u8]> {
    let head = value.get(..scheme.len())?;
    head.eq_ignore_ascii_case(scheme)
        .then(|| value[scheme.len()..].trim_ascii())
}

/// Compares digests in constant time: neither the token's bytes nor its length leak
/// through the answer time.
fn token_matches(token: &Secret, presented: &[u8]) -> bool {
    let want = Sha256::digest(token.expose().as_bytes());
    let got = Sha256::digest(presented);
    want.ct_eq(&got).into()
}

/// The store of that name, or 404 with the names there are (labels on `/metrics`, so
/// no secret).
fn store(shared: &Shared, name: &str) -> Result<StoreHandle, ApiError> {
    shared.state.store(name).ok_or_else(|| {
        let known: Vec<String> = shared
            .state
            .stores()
            .iter()
            .map(|h| format!("{:?}", h.name))
            .collect();
        ApiError::UnknownStore {
            store: request::shown(name),
            known: known.join(", "),
        }
    })
}

/// The store and id of a GET or DELETE path, the id this replica's (else 421).
fn owned_intent(
    shared: &Shared,
    store_name: &str,
    id: &str,
) -> Result<(StoreHandle, IntentId), ApiError> {
    let id = request::intent_id("id", id).map_err(ApiError::Invalid)?;
    let handle = store(shared, store_name)?;
    if !shared.shard.owns(id.as_str()) {
        let item = misdirected_item(shared, &id);
        return Err(ApiError::Misdirected {
            message: format!(
                "intent {id} belongs to shard {} of {}, not to this replica ({})",
                item.shard, shared.shard.count, shared.shard
            ),
            items: vec![item],
        });
    }
    Ok((handle, id))
}

fn misdirected_item(shared: &Shared, id: &IntentId) -> MisdirectedItem {
    MisdirectedItem {
        id: id.clone(),
        shard: shared.shard.owner(id.as_str()),
    }
}

/// Waits until the state database committed `version`; at once without a `state_file`
/// or `state_database` (nothing outlives the process then, and the docs say so).
async fn durable(
    shared: &Shared,
    handle: &StoreHandle,
    version: u64,
    what: &'static str,
    retry: &'static str,
) -> Result<(), ApiError> {
    let config = shared.config.borrow().clone();
    if config.state_file.is_none() && config.state_database.is_none() {
        return Ok(());
    }
    let committed = shared.durability.durable(version, DURABLE_WITHIN).await;
    committed.map_err(|_| {
        // Once a minute per store at most: each request of a flood would add a line.
        let kind = format!("not_durable/{}", handle.name);
        if let Some(count) = crate::log_limit::outside(&kind) {
            tracing::warn!(store = %handle.name, count, "a {what} was not committed to the state database in time");
        }
        ApiError::NotDurable { what, retry }
    })
}

/// `config and file` for a 409.
fn source_list(sources: Sources) -> String {
    let names: Vec<&str> = sources.iter().map(Source::as_str).collect();
    names.join(" and ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_after_a_bearer_scheme_matches() {
        let token = Secret::new("0123456789abcdef");
        fn presented(value: &[u8]) -> Option<&[u8]> {
            strip_scheme(value, b"bearer ")
        }
        assert_eq!(
            presented(b"BEARER  0123456789abcdef "),
            Some(&b"0123456789abcdef"[..])
        );
        assert_eq!(presented(b"Basic YWxpY2U6cHc="), None);
        assert_eq!(presented(b"Bear"), None);
        assert!(token_matches(&token, b"0123456789abcdef"));
        for wrong in [&b"0123456789abcde"[..], b"0123456789abcdeF", b""] {
            assert!(!token_matches(&token, wrong));
        }
    }
}
