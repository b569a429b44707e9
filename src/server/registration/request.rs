//! Reading and validating a registration request, all of it before anything is applied:
//! the body within its size, the JSON, every item's id and order id. Untrusted text is
//! echoed shortened, on character boundaries only.

use axum::body::Body;
use bytes::Bytes;
use serde::Deserialize;

use super::error::ApiError;
use crate::config::{IntentConfig, IntentId, OrderIdProblem};
use crate::text::prefix;

/// Largest accepted body: 1,000 items with long order ids fit.
pub(super) const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most intents in one request.
pub(super) const MAX_INTENTS: usize = 1000;
/// Bytes of an untrusted value quoted in an answer.
const SHOWN_BYTES: usize = 64;
/// Bytes of the JSON parser's message (it may quote the body).
const SHOWN_MESSAGE_BYTES: usize = 300;

/// A validated registration: the store's name and its intents.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Batch {
    pub(super) store: String,
    pub(super) intents: Vec<IntentConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBatch {
    store: String,
    /// Each an id string (the config's short form) or `{"id", "order_id"}`: read item by
    /// item, so that a problem names the item and the forms, not a parser's type.
    intents: Vec<serde_json::Value>,
}

/// The forms an item may take, as a refusal names them.
const ITEM_FORMS: &str =
    r#"an intent id string, or {"id": "<id>", "order_id": "<order id>"} (order_id optional)"#;

/// The body, refused (413) past [`MAX_BODY_BYTES`] while it is read.
pub(super) async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if too_large {
                ApiError::TooLarge(format!(
                    "the body is larger than {} MiB; send at most {MAX_INTENTS} intents per request",
                    MAX_BODY_BYTES / (1024 * 1024)
                ))
            } else {
                ApiError::Invalid("the request body could not be read".to_owned())
            }
        })
}

/// The store a refused body names, if it is JSON with a `store` string (to count the
/// refusal for that store).
pub(super) fn store_named(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct StoreOnly {
        store: String,
    }
    serde_json::from_slice::<StoreOnly>(body)
        .ok()
        .map(|s| s.store)
}

/// The batch in `body`, or the first problem found (and how many more there are).
pub(super) fn parse(body: &[u8]) -> Result<Batch, ApiError> {
    let raw: RawBatch = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadJson(prefix(&e.to_string(), SHOWN_MESSAGE_BYTES).to_owned()))?;
    match raw.intents.len() {
        0 => return Err(ApiError::Invalid("intents: the list is empty".to_owned())),
        n if n > MAX_INTENTS => {
            return Err(ApiError::TooLarge(format!(
                "intents: {n} items; at most {MAX_INTENTS} per request"
            )));
        }
        _ => {}
    }
    let mut intents = Vec::with_capacity(raw.intents.len());
    let mut problems = Vec::new();
    for (i, item) in raw.intents.into_iter().enumerate() {
        match validate_item(i, item) {
            Ok(intent) => intents.push(intent),
            Err(problem) => problems.push(problem),
        }
    }
    match problems.as_slice() {
        [] => Ok(Batch {
            store: raw.store,
            intents,
        }),
        [first] => Err(ApiError::Invalid(first.clone())),
        [first, rest @ ..] => Err(ApiError::Invalid(format!(
            "{first} (and {} more problems)",
            rest.len()
        ))),
    }
}

fn validate_item(i: usize, item: serde_json::Value) -> Result<IntentConfig, String> {
    use serde_json::Value;
    let (id, order_id) = match item {
        Value::String(id) => {
            let id = intent_id(&format!("intents[{i}]"), &id)?;
            return Ok(IntentConfig { id, order_id: None });
        }
        Value::Object(mut fields) => (fields.remove("id"), {
            let order_id = fields.remove("order_id");
            if let Some(unknown) = fields.keys().next() {
                return Err(format!(
                    "intents[{i}]: unknown field {}; an item is {ITEM_FORMS}",
                    shown(unknown)
                ));
            }
            order_id
        }),
        _ => return Err(format!("intents[{i}]: expected {ITEM_FORMS}")),
    };
    let id = match id {
        Some(Value::String(id)) => intent_id(&format!("intents[{i}].id"), &id)?,
        Some(_) => return Err(format!("intents[{i}].id: expected a string")),
        None => {
            return Err(format!(
                "intents[{i}]: missing \"id\"; an item is {ITEM_FORMS}"
            ));
        }
    };
    let order_id = match order_id {
        None | Some(Value::Null) => None,
        Some(Value::String(order_id)) => Some(validate_order_id(i, order_id)?),
        Some(_) => return Err(format!("intents[{i}].order_id: expected a string")),
    };
    Ok(IntentConfig { id, order_id })
}

/// `text` as an intent id, or the problem named after `field`.
pub(super) fn intent_id(field: &str, text: &str) -> Result<IntentId, String> {
    IntentId::parse(text).ok_or_else(|| {
        format!(
            "{field}: {} is not an intent id (24 hexadecimal characters)",
            shown(text)
        )
    })
}

/// The same rules as an `order_id` in the config (it becomes a label value).
fn validate_order_id(i: usize, order_id: String) -> Result<String, String> {
    match OrderIdProblem::of(&order_id) {
        None => Ok(order_id),
        Some(problem) => Err(format!(
            "intents[{i}].order_id: {}",
            problem.message(&shown(&order_id))
        )),
    }
}

/// Untrusted text as quoted in an answer: escaped, and cut (on a character boundary) with
/// `…` past [`SHOWN_BYTES`].
pub(super) fn shown(text: &str) -> String {
    let cut = prefix(text, SHOWN_BYTES);
    let ellipsis = if cut.len() < text.len() { "…" } else { "" };
    format!("{cut:?}{ellipsis}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    const A: &str = "65f0a1b2c3d4e5f6a7b8c9d0";

    fn problem(body: &str) -> (StatusCode, String) {
        let e = parse(body.as_bytes()).unwrap_err();
        (e.status(), e.to_string())
    }

    #[test]
    fn a_valid_batch_is_parsed_with_ids_lower_cased() {
        let body = format!(
            r#"{{"store": "main", "intents": [{{"id": "{}", "order_id": "o-1"}}, {{"id": "{A}"}}]}}"#,
            A.to_uppercase()
        );
        let batch = parse(body.as_bytes()).unwrap();
        assert_eq!(batch.store, "main");
        assert_eq!(batch.intents.len(), 2);
        assert_eq!(batch.intents[0].id.as_str(), A);
        assert_eq!(batch.intents[0].order_id.as_deref(), Some("o-1"));
        assert_eq!(batch.intents[1].order_id, None);
    }

    #[test]
    fn every_bad_item_is_named_with_its_problem() {
        let long = "é".repeat(257); // one over MAX_ORDER_ID_CHARS
        let items = format!(
            r#"[{{"id": "{A}"}}, {{"id": "{A}", "order_id": "{long}"}}, {{"id": "{A}", "order_id": "a\u0007"}}, {{"id": "xyz"}}]"#
        );
        let (status, message) = problem(&format!(r#"{{"store": "s", "intents": {items}}}"#));
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let shown_long = "é".repeat(SHOWN_BYTES / 2);
        assert_eq!(
            message,
            format!(
                "intents[1].order_id: \"{shown_long}\"… is too long (257 characters, at most 256) (and 2 more problems)"
            )
        );
        let (_, message) = problem(r#"{"store": "s", "intents": [{"id": "xyz"}]}"#);
        assert_eq!(
            message,
            "intents[0].id: \"xyz\" is not an intent id (24 hexadecimal characters)"
        );
        let (_, message) = problem(&format!(
            r#"{{"store": "s", "intents": [{{"id": "{A}", "order_id": " "}}]}}"#
        ));
        assert!(message.starts_with("intents[0].order_id: must not be empty"));
    }

    /// The config's short form, a bare id, is an item too; any other shape is refused
    /// with the forms named, never a parser's type name.
    #[test]
    fn an_item_is_an_id_or_an_object_and_a_refusal_names_both_forms() {
        let body = format!(
            r#"{{"store": "main", "intents": ["{A}", {{"id": "{A}", "order_id": null}}]}}"#
        );
        let batch = parse(body.as_bytes()).unwrap();
        assert_eq!(batch.intents[0].id.as_str(), A);
        assert_eq!(batch.intents[0].order_id, None);
        assert_eq!(batch.intents[1].order_id, None);
        let (status, message) = problem(r#"{"store": "s", "intents": [5]}"#);
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(message, format!("intents[0]: expected {ITEM_FORMS}"));
        let (_, message) = problem(&format!(
            r#"{{"store": "s", "intents": [{{"id": "{A}", "orderid": "x"}}]}}"#
        ));
        assert_eq!(
            message,
            format!("intents[0]: unknown field \"orderid\"; an item is {ITEM_FORMS}")
        );
        let (_, message) = problem(r#"{"store": "s", "intents": [{"order_id": "x"}]}"#);
        assert!(
            message.starts_with("intents[0]: missing \"id\""),
            "{message}"
        );
        let (_, message) = problem(r#"{"store": "s", "intents": ["xyz"]}"#);
        assert_eq!(
            message,
            "intents[0]: \"xyz\" is not an intent id (24 hexadecimal characters)"
        );
        assert!(!message.contains("Raw"));
    }

    #[test]
    fn bad_json_empty_and_oversized_lists_are_refused() {
        let (status, message) = problem(r#"{"store": "s", "intents": [{"id": 5}]}"#);
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(message, "intents[0].id: expected a string");
        let (_, message) = problem(r#"{"store": "s", "intents": [], "extra": 1}"#);
        assert!(message.contains("unknown field `extra`"), "{message}");
        let (status, message) = problem(r#"{"store": "s", "intents": []}"#);
        assert_eq!(
            (status, message.as_str()),
            (StatusCode::BAD_REQUEST, "intents: the list is empty")
        );
        let items = vec![format!(r#"{{"id": "{A}"}}"#); MAX_INTENTS + 1].join(",");
        let (status, message) = problem(&format!(r#"{{"store": "s", "intents": [{items}]}}"#));
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(message, "intents: 1001 items; at most 1000 per request");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_413() {
        let body = Body::from(vec![b' '; MAX_BODY_BYTES + 1]);
        let e = read_body(body).await.unwrap_err();
        assert_eq!(e.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body = Body::from(vec![b' '; MAX_BODY_BYTES]);
        assert_eq!(read_body(body).await.unwrap().len(), MAX_BODY_BYTES);
    }

    #[test]
    fn shown_text_is_cut_on_a_character_boundary() {
        assert_eq!(shown("abc"), "\"abc\"");
        let cut = shown(&"€".repeat(40));
        assert_eq!(cut, format!("\"{}\"…", "€".repeat(SHOWN_BYTES / 3)));
    }

    proptest::proptest! {
        /// Any bytes as a body: never a panic, always a 4xx with a one-line message.
        #[test]
        fn any_body_is_a_batch_or_a_4xx(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            if let Err(e) = parse(&body) {
                proptest::prop_assert!(e.status().is_client_error());
                proptest::prop_assert!(e.to_string().len() < 2 * SHOWN_MESSAGE_BYTES);
            }
        }

        /// Near-valid bodies (any text as store, id and order id) exercise the item checks.
        #[test]
        fn any_item_text_is_valid_or_a_400(store in ".{0,8}", id in ".{0,30}", order in proptest::option::of(".{0,300}")) {
            let body = serde_json::json!({"store": store, "intents": [{"id": id, "order_id": order}]});
            match parse(body.to_string().as_bytes()) {
                Ok(batch) => proptest::prop_assert_eq!(batch.intents.len(), 1),
                Err(e) => {
                    proptest::prop_assert_eq!(e.status(), StatusCode::BAD_REQUEST);
                    proptest::prop_assert!(e.to_string().starts_with("intents[0]."));
                }
            }
        }
    }
}
