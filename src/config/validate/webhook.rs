//! Validation of the `webhook:` blocks: the receiver's (top level) and each store's
//! (whether webhooks are expected, and where they are relayed).

use super::sources::parse_source_url;
use super::store::redact_userinfo;
use super::{Fields, Validator};
use crate::config::quote;
use crate::config::schema::{
    DEFAULT_FORWARD_QUEUE_LIMIT, DEFAULT_WEBHOOK_GRACE, DEFAULT_WEBHOOK_MAX_SKEW,
    DEFAULT_WEBHOOK_PATH, MAX_FORWARD_QUEUE_LIMIT, STORE_WEBHOOK_KEYS, StoreWebhookConfig,
    WEBHOOK_KEYS, WebhookConfig,
};
use crate::config::yaml::{Node, Value};
use std::time::Duration;

/// Longest `max_skew`: AllScale signs with a ±5 minute window; an hour is already lax.
const MAX_SKEW_LIMIT: (Duration, &str) = (Duration::from_secs(3600), "1 hour");
/// Longest `grace`.
const GRACE_LIMIT: (Duration, &str) = (Duration::from_secs(7 * 24 * 3600), "7 days");

impl Validator<'_> {
    /// The top-level `webhook:` block (defaults when absent).
    pub(super) fn webhook(&mut self, f: &Fields) -> Option<WebhookConfig> {
        let Some(f) = self.block(f, "webhook", WEBHOOK_KEYS)? else {
            return Some(WebhookConfig::default());
        };
        let enabled = self.flag(&f, "enabled", true);
        let path = self.webhook_path(&f);
        let max_skew =
            self.bounded_duration(&f, "max_skew", DEFAULT_WEBHOOK_MAX_SKEW, MAX_SKEW_LIMIT);
        let limit = self.forward_queue_limit(&f);
        Some(WebhookConfig {
            enabled: enabled?,
            path: path?,
            max_skew: max_skew?,
            forward_queue_limit: limit?,
        })
    }

    /// A store's `webhook:` block (defaults when absent).
    pub(super) fn store_webhook(&mut self, f: &Fields) -> Option<StoreWebhookConfig> {
        let Some(f) = self.block(f, "webhook", STORE_WEBHOOK_KEYS)? else {
            return Some(StoreWebhookConfig::default());
        };
        let expected = self.flag(&f, "expected", false);
        let grace = self.bounded_duration(&f, "grace", DEFAULT_WEBHOOK_GRACE, GRACE_LIMIT);
        let forward_url = match f.get("forward_url") {
            None => Some(None),
            Some(node) => {
                let path = f.path("forward_url");
                let text = self.text(&path, node, "an http(s) URL")?;
                match parse_source_url(text.trim()) {
                    Ok(url) => Some(Some(url)),
                    Err(why) => {
                        let why = why.replace(
                            "bearer_token_file or bearer_token_env",
                            "no credentials in the URL",
                        );
                        self.problem(path, format!("{} {why}", quote(&redact_userinfo(&text))));
                        None
                    }
                }
            }
        };
        Some(StoreWebhookConfig {
            expected: expected?,
            grace: grace?,
            forward_url: forward_url?,
        })
    }

    /// The mapping at `key` with its `keys`: `Some(None)` when absent.
    fn block<'n>(
        &mut self,
        f: &Fields<'n>,
        key: &str,
        keys: &[&'static str],
    ) -> Option<Option<Fields<'n>>> {
        let Some(node) = f.get(key) else {
            return Some(None);
        };
        let path = f.path(key);
        let Value::Map(entries) = &node.value else {
            self.problem(
                path,
                format!(
                    "expected a mapping ({}), got {}",
                    keys.join(", "),
                    node.describe()
                ),
            );
            return None;
        };
        Some(Some(self.fields(&path, entries, keys, &mut |_, _| false)))
    }

    fn flag(&mut self, f: &Fields, key: &str, default: bool) -> Option<bool> {
        match f.get(key) {
            None => Some(default),
            Some(Node {
                value: Value::Bool(b),
                ..
            }) => Some(*b),
            Some(other) => {
                self.problem(
                    f.path(key),
                    format!("expected true or false, got {}", other.describe()),
                );
                None
            }
        }
    }

    fn webhook_path(&mut self, f: &Fields) -> Option<String> {
        let Some(node) = f.get("path") else {
            return Some(DEFAULT_WEBHOOK_PATH.to_owned());
        };
        let path = f.path("path");
        let text = self.text(&path, node, "a URL path such as /webhooks/allscale")?;
        let reserved = [
            "/metrics",
            "/healthz",
            "/readyz",
            "/-/reload",
            "/api/v1/intents",
        ];
        let valid = text.starts_with('/')
            && text.len() > 1
            && text
                .bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b'?' | b'#' | b'{' | b'}' | b'*'))
            && !reserved
                .iter()
                .any(|r| text == *r || text.starts_with(&format!("{r}/")));
        if !valid {
            self.problem(
                path,
                format!(
                    "{} must be a path starting with / (no query, no spaces, no {{ }} or *), \
                     not one of the exporter's own routes",
                    quote(&text)
                ),
            );
            return None;
        }
        Some(text)
    }

    fn forward_queue_limit(&mut self, f: &Fields) -> Option<usize> {
        let Some(node) = f.get("forward_queue_limit") else {
            return Some(DEFAULT_FORWARD_QUEUE_LIMIT);
        };
        let n = match node.value {
            Value::Int(n) => usize::try_from(n)
                .ok()
                .filter(|n| (1..=MAX_FORWARD_QUEUE_LIMIT).contains(n)),
            _ => None,
        };
        if n.is_none() {
            self.problem(
                f.path("forward_queue_limit"),
                format!(
                    "expected an integer from 1 to {MAX_FORWARD_QUEUE_LIMIT}, got {}",
                    node.describe()
                ),
            );
        }
        n
    }
}
