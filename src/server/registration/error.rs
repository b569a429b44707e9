//! Why a registration API request was refused, each with its HTTP status; answered as
//! JSON `{"error": "…"}` (with the misdirected items for a 421).

use std::time::Duration;

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::config::IntentId;

/// How long a registration waits for the state database to commit it.
pub(super) const DURABLE_WITHIN: Duration = Duration::from_secs(10);

/// The challenge of a 401: the routes take the registration token, not basic auth.
const BEARER_CHALLENGE: &str = "Bearer realm=\"allscale-exporter registration\"";

/// An intent this replica does not watch, and the shard that does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct MisdirectedItem {
    pub(super) id: IntentId,
    pub(super) shard: u32,
}

#[derive(Debug, thiserror::Error)]
pub(super) enum ApiError {
    #[error("the registration API is off: the exporter's config has no `registration:` block")]
    Off,
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error(
        "the body is not a registration ({{\"store\": …, \"intents\": [{{\"id\": …, \"order_id\": …}}]}}): {0}"
    )]
    BadJson(String),
    /// A field of the request (`intents[3].id: …`) or of the path.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("unknown store {store}; this exporter's stores: {known}")]
    UnknownStore { store: String, known: String },
    #[error("intent {id} is not watched in store {store:?}")]
    NotWatched { store: String, id: IntentId },
    #[error(
        "intent {id} is watched through {sources}, not registered through this API; remove it there"
    )]
    WatchedElsewhere { id: IntentId, sources: String },
    #[error(
        "store {store:?} watches {watched} intents; registering these would take it past its \
         max_intents_per_store of {cap}, so nothing was registered"
    )]
    AtCap {
        store: String,
        cap: usize,
        watched: usize,
    },
    #[error(
        "the {what} was applied, but the state database did not commit it within {} s, so it \
         may not be durable yet; retrying is safe ({retry})",
        DURABLE_WITHIN.as_secs()
    )]
    NotDurable {
        what: &'static str,
        retry: &'static str,
    },
    #[error("{message}")]
    Misdirected {
        message: String,
        items: Vec<MisdirectedItem>,
    },
}

impl ApiError {
    pub(super) fn status(&self) -> StatusCode {
        match self {
            ApiError::Off | ApiError::UnknownStore { .. } | ApiError::NotWatched { .. } => {
                StatusCode::NOT_FOUND
            }
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::BadJson(_) | ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::WatchedElsewhere { .. } => StatusCode::CONFLICT,
            ApiError::AtCap { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotDurable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Misdirected { .. } => StatusCode::MISDIRECTED_REQUEST,
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    misdirected: Option<&'a [MisdirectedItem]>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: self.to_string(),
            misdirected: match &self {
                ApiError::Misdirected { items, .. } => Some(items),
                _ => None,
            },
        };
        let mut response = (self.status(), Json(body)).into_response();
        if matches!(self, ApiError::Unauthorized(_)) {
            let challenge = header::HeaderValue::from_static(BEARER_CHALLENGE);
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}
