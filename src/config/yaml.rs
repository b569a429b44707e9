//! The generic YAML tree that validation walks, and the paths it reports problems at.
//!
//! serde-saphyr parses the text into [`Node`]s that keep the source spelling of numbers
//! and booleans; [`child`] and [`index`] build the YAML paths (`stores[1].intents[3]`)
//! as the walk goes down, and [`quote`] shows a value in a message.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::error::ConfigError;
use crate::redact::{SECRET_PLACEHOLDER, looks_like_secret, redact_secrets};

/// A YAML node. Scalars that YAML typed as numbers or booleans keep their source text in
/// `raw`, so that a field that wants a string (an intent id, an order id, a name) gets
/// exactly what was written (`order_id: 0123` is `"0123"`, not `123`).
#[derive(Debug, Clone)]
pub(super) struct Node {
    pub(super) value: Value,
    pub(super) raw: Option<String>,
}

#[derive(Debug, Clone)]
pub(super) enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// What serde-saphyr produces; turned into [`Node`] with the source text at hand.
enum RawValue {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<RawValue>>),
    Map(Vec<(Spanned<RawValue>, Spanned<RawValue>)>),
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<RawValue, E> {
        Ok(RawValue::Null)
    }
    fn visit_none<E>(self) -> Result<RawValue, E> {
        Ok(RawValue::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawValue, D::Error> {
        RawValue::deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<RawValue, D::Error> {
        RawValue::deserialize(d)
    }
    fn visit_bool<E>(self, b: bool) -> Result<RawValue, E> {
        Ok(RawValue::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<RawValue, E> {
        Ok(RawValue::Int(i128::from(n)))
    }
    fn visit_u64<E>(self, n: u64) -> Result<RawValue, E> {
        Ok(RawValue::Int(i128::from(n)))
    }
    fn visit_i128<E>(self, n: i128) -> Result<RawValue, E> {
        Ok(RawValue::Int(n))
    }
    fn visit_u128<E>(self, n: u128) -> Result<RawValue, E> {
        Ok(match i128::try_from(n) {
            Ok(n) => RawValue::Int(n),
            Err(_) => RawValue::Float(n as f64),
        })
    }
    fn visit_f64<E>(self, n: f64) -> Result<RawValue, E> {
        Ok(RawValue::Float(n))
    }
    fn visit_char<E>(self, c: char) -> Result<RawValue, E> {
        Ok(RawValue::Str(c.to_string()))
    }
    fn visit_str<E>(self, s: &str) -> Result<RawValue, E> {
        Ok(RawValue::Str(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<RawValue, E> {
        Ok(RawValue::Str(s))
    }
    fn visit_bytes<E>(self, b: &[u8]) -> Result<RawValue, E> {
        Ok(RawValue::Str(String::from_utf8_lossy(b).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(RawValue::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawValue, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(RawValue::Map(entries))
    }
}

fn to_node(spanned: Spanned<RawValue>, text: &str) -> Node {
    let span = spanned.defined.span();
    let source = || -> Option<String> {
        let start = usize::try_from(span.byte_offset()?).ok()?;
        let len = usize::try_from(span.byte_len()?).ok()?;
        let s = text.get(start..start.checked_add(len)?)?.trim();
        // A number or boolean is one plain token; anything else means the span is not
        // what we think it is, so fall back to the parsed value.
        let plausible = !s.is_empty()
            && !s.contains(|c: char| {
                c.is_whitespace() || matches!(c, '#' | ':' | ',' | '"' | '[' | ']' | '{' | '}')
            });
        plausible.then(|| s.to_owned())
    };
    match spanned.value {
        RawValue::Null => Node {
            value: Value::Null,
            raw: None,
        },
        RawValue::Bool(b) => Node {
            value: Value::Bool(b),
            raw: source().or_else(|| Some(b.to_string())),
        },
        RawValue::Int(n) => Node {
            value: Value::Int(n),
            raw: source().or_else(|| Some(n.to_string())),
        },
        RawValue::Float(n) => Node {
            value: Value::Float(n),
            raw: source().or_else(|| Some(n.to_string())),
        },
        RawValue::Str(s) => Node {
            value: Value::Str(s),
            raw: None,
        },
        RawValue::Seq(items) => Node {
            value: Value::Seq(items.into_iter().map(|i| to_node(i, text)).collect()),
            raw: None,
        },
        RawValue::Map(entries) => Node {
            value: Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (to_node(k, text), to_node(v, text)))
                    .collect(),
            ),
            raw: None,
        },
    }
}

/// YAML nodes allowed in a config: about a million long-form intents.
const LARGE_YAML_NODES: usize = 8_000_000;

/// Parses YAML text into a tree; `None` for an empty document.
pub(super) fn parse_yaml(text: &str) -> Result<Option<Node>, ConfigError> {
    let options = serde_saphyr::options! {
        // No snippets: they would echo source lines, which may hold a secret pasted by
        // mistake, into logs. The message still has the line and column.
        with_snippet: false,
        // `yes`/`no`/`on`/`off` stay strings (the "Norway problem").
        strict_booleans: true,
        // Keep numeric-looking spellings recoverable as text for string fields.
        non_finite_float_policy: serde_saphyr::NonFiniteFloatPolicy::PassThrough,
        leading_zero_numbers_as_strings: true,
        // Watch lists of a million intents must load; anchors, aliases and depth keep
        // their protective defaults.
        budget: serde_saphyr::budget! {
            max_nodes: LARGE_YAML_NODES,
            max_events: 2 * LARGE_YAML_NODES,
            max_total_scalar_bytes: 256 * 1024 * 1024,
            // Anchors in a config share a few settings; an alias bomb is cut off early.
            max_recorded_anchor_events: 10_000,
            max_aliases: 10_000,
        },
    };
    let parsed: Option<Spanned<RawValue>> = serde_saphyr::from_str_with_options(text, options)
        .map_err(|e| ConfigError::Yaml(yaml_error_message(&e.to_string())))?;
    Ok(parsed.map(|root| to_node(root, text)))
}

/// Drops serde-saphyr's programmer-facing hints from its messages, and any secret-looking
/// text they quote (a duplicate key message names the key, which may be a pasted secret).
fn yaml_error_message(message: &str) -> String {
    let message = message.replace(", set DuplicateKeyPolicy in Options if acceptable", "");
    redact_secrets(message.trim()).into_owned()
}

impl Node {
    /// The text of a scalar: strings as they are; numbers and booleans as written.
    pub(super) fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => self.raw.clone(),
            _ => None,
        }
    }

    pub(super) fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// How to show this value in a "got ..." message (shortened, never multi-line).
    pub(super) fn describe(&self) -> String {
        match &self.value {
            Value::Null => "nothing (null)".to_owned(),
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
                shorten(self.raw.as_deref().unwrap_or("?"))
            }
            Value::Str(s) => quote(s),
            Value::Seq(_) => "a list".to_owned(),
            Value::Map(_) => "a mapping".to_owned(),
        }
    }
}

/// Quotes a user value for a message, shortened to keep messages one readable line; a
/// value that looks like a secret is named, not quoted.
pub(crate) fn quote(s: &str) -> String {
    if looks_like_secret(s) {
        SECRET_PLACEHOLDER.to_owned()
    } else {
        format!("{:?}", shorten_raw(s))
    }
}

fn shorten(s: &str) -> String {
    shorten_raw(s).escape_debug().to_string()
}

fn shorten_raw(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push('…');
        out
    }
}

// The YAML paths that problems are reported at.

/// The path of `key` under `parent`; an unknown key that looks like a secret (pasted on a
/// line of its own, it parses as a key) is not spelled out.
pub(super) fn child(parent: &str, key: &str) -> String {
    let key = if looks_like_secret(key) {
        "st_…"
    } else {
        key
    };
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

pub(super) fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}
