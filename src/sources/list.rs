//! The list format every pull source reads: a JSON array whose items are intent ids
//! (`"65f0…"`) or objects `{"id": "65f0…", "order_id": "…"}` (`order_id` optional).
//!
//! A list is valid as a whole or not at all: the first bad item is the problem, named by
//! its index (counting from 0, like the config's `intents[3]`), and the caller keeps the
//! last good list. Duplicate ids are fine (the watch list is a set); when one repeats with
//! an `order_id`, the last one given wins.

use std::collections::HashMap;

use serde_json::Value;

use crate::config::{IntentConfig, IntentId, OrderIdProblem, quote};

/// Why a list was refused. Messages quote at most a shortened item value, with anything
/// that looks like a secret replaced (see [`quote`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("expected a JSON array of intent ids or {{\"id\", \"order_id\"}} objects, got {0}")]
    NotAnArray(&'static str),
    #[error("item {index}: {why}")]
    Item { index: usize, why: String },
    #[error("is larger than {0} MiB")]
    TooLarge(u64),
    #[error("is not valid UTF-8")]
    NotUtf8,
}

/// Parses a list; ids are lower-cased, duplicates merged, in first-seen order.
pub fn parse(bytes: &[u8]) -> Result<Vec<IntentConfig>, ListError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ListError::NotUtf8)?;
    // serde_json's syntax errors name a line and column, never the text.
    let value: Value = serde_json::from_str(text).map_err(|e| ListError::Json(e.to_string()))?;
    let Value::Array(items) = value else {
        return Err(ListError::NotAnArray(kind(&value)));
    };
    let mut out: Vec<IntentConfig> = Vec::with_capacity(items.len());
    let mut seen: HashMap<IntentId, usize> = HashMap::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let intent = parse_item(item).map_err(|why| ListError::Item { index, why })?;
        match seen.get(&intent.id) {
            Some(&at) => {
                if intent.order_id.is_some() {
                    out[at].order_id = intent.order_id;
                }
            }
            None => {
                seen.insert(intent.id.clone(), out.len());
                out.push(intent);
            }
        }
    }
    Ok(out)
}

fn parse_item(item: &Value) -> Result<IntentConfig, String> {
    match item {
        Value::String(text) => Ok(IntentConfig {
            id: intent_id(text)?,
            order_id: None,
        }),
        Value::Object(fields) => {
            if let Some(key) = fields
                .keys()
                .find(|k| !matches!(k.as_str(), "id" | "order_id"))
            {
                return Err(format!(
                    "unknown key {} (an item has id and optional order_id)",
                    quote(key)
                ));
            }
            let id = match fields.get("id") {
                Some(Value::String(text)) => intent_id(text)?,
                Some(other) => return Err(format!("id must be a string, got {}", kind(other))),
                None => return Err("has no id".to_owned()),
            };
            let order_id = match fields.get("order_id") {
                None | Some(Value::Null) => None,
                Some(Value::String(text)) => Some(order_id(text)?),
                Some(other) => {
                    return Err(format!("order_id must be a string, got {}", kind(other)));
                }
            };
            Ok(IntentConfig { id, order_id })
        }
        other => Err(format!(
            "expected an intent id or an object with id, got {}",
            kind(other)
        )),
    }
}

fn intent_id(text: &str) -> Result<IntentId, String> {
    IntentId::parse(text).ok_or_else(|| format!("{} is not an intent id", quote(text)))
}

/// As the config's `order_id`: 1–`MAX_ORDER_ID_CHARS` characters, no control characters.
fn order_id(text: &str) -> Result<String, String> {
    match OrderIdProblem::of(text) {
        None => Ok(text.to_owned()),
        Some(problem) => Err(format!("order_id {}", problem.message(&quote(text)))),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "65f0a1b2c3d4e5f6a7b8c9d0";
    const B: &str = "65F0A1B2C3D4E5F6A7B8C9D1";

    fn ids(list: &[IntentConfig]) -> Vec<&str> {
        list.iter().map(|i| i.id.as_str()).collect()
    }

    #[test]
    fn short_and_long_items_are_read_and_merged() {
        let text = format!(
            r#"[{A:?}, {{"id": {B:?}, "order_id": "o-1"}}, {{"id": {A:?}, "order_id": null}}, {A:?}]"#
        );
        let list = parse(text.as_bytes()).unwrap();
        assert_eq!(ids(&list), [A, "65f0a1b2c3d4e5f6a7b8c9d1"]);
        assert_eq!(list[1].order_id.as_deref(), Some("o-1"));
        assert_eq!(list[0].order_id, None);
        assert_eq!(parse(b"[]").unwrap(), []);
    }

    #[test]
    fn the_first_bad_item_is_named_by_its_index() {
        let text = format!(r#"[{A:?}, {B:?}, {A:?}, "xyz"]"#);
        assert_eq!(
            parse(text.as_bytes()).unwrap_err().to_string(),
            r#"item 3: "xyz" is not an intent id"#
        );
        for (text, want) in [
            ("{}", "got an object"),
            (
                "[1]",
                "item 0: expected an intent id or an object with id, got a number",
            ),
            (r#"[{"order_id": "x"}]"#, "item 0: has no id"),
            (
                r#"[{"id": 5}]"#,
                "item 0: id must be a string, got a number",
            ),
            (r#"[{"id": "st_live_secret"}]"#, "not shown"),
            (r#"[{"ids": "x"}]"#, r#"item 0: unknown key "ids""#),
            ("[", "not valid JSON"),
        ] {
            let got = parse(text.as_bytes()).unwrap_err().to_string();
            assert!(got.contains(want), "{text}: {got}");
            assert!(!got.contains("st_live_secret"), "{got}");
        }
        let long = format!(r#"[{{"id": {A:?}, "order_id": {:?}}}]"#, "x".repeat(257));
        assert!(
            parse(long.as_bytes())
                .unwrap_err()
                .to_string()
                .contains("too long")
        );
        let control = format!(r#"[{{"id": {A:?}, "order_id": "a\nb"}}]"#);
        assert!(
            parse(control.as_bytes())
                .unwrap_err()
                .to_string()
                .contains("control")
        );
        assert_eq!(parse(b"[\"\xff\"]"), Err(ListError::NotUtf8));
    }

    proptest::proptest! {
        /// Any bytes: an answer, never a panic.
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = parse(&bytes);
        }

        /// JSON-looking text made of brackets, quotes and id characters: never a panic.
        #[test]
        fn json_like_text_never_panics(chars in proptest::collection::vec(
            proptest::sample::select(vec!['[', ']', '{', '}', '"', ',', ':', 'a', '0', 'i', 'd', ' ']),
            0..96,
        )) {
            let text: String = chars.into_iter().collect();
            let _ = parse(text.as_bytes());
        }

        /// Any list of valid ids round-trips.
        #[test]
        fn valid_ids_round_trip(ns in proptest::collection::vec(0u64..1000, 0..50)) {
            let ids: Vec<String> = ns.iter().map(|n| format!("{n:024x}")).collect();
            let list = parse(serde_json::to_string(&ids).unwrap().as_bytes()).unwrap();
            let mut want = ids.clone();
            want.dedup_by(|a, b| a == b);
            let mut unique = std::collections::HashSet::new();
            want.retain(|id| unique.insert(id.clone()));
            proptest::prop_assert_eq!(ids_of(&list), want);
        }
    }

    fn ids_of(list: &[IntentConfig]) -> Vec<String> {
        list.iter().map(|i| i.id.to_string()).collect()
    }
}
