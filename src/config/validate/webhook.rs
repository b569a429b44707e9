//! Validation of the `webhook:` blocks: the receiver's (top level) and each store's
//! (whether webhooks are expected, and where they are relayed).

use super::{Fields, Validator};
use crate::config::quote;
use crate::config::schema::{
    DEFAULT_FORWARD_QUEUE_LIMIT, DEFAULT_WEBHOOK_GRACE, DEFAULT_WEBHOOK_MAX_SKEW,
    DEFAULT_WEBHOOK_PATH, MAX_FORWARD_QUEUE_LIMIT, STORE_WEBHOOK_KEYS, StoreWebhookConfig,
    WEBHOOK_KEYS, WebhookConfig,
};
use crate::config::yaml::Value;
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
                let credentials = "must not contain credentials (user:password@)";
                self.http_url(&f.path("forward_url"), node, credentials)
                    .map(Some)
            }
        };
        Some(StoreWebhookConfig {
            expected: expected?,
            grace: grace?,
            forward_url: forward_url?,
        })
    }

    /// The mapping at `key` with its `keys`: `Some(None)` when absent.
    pub(super) fn block<'n>(
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
        let (default, max) = (DEFAULT_FORWARD_QUEUE_LIMIT, MAX_FORWARD_QUEUE_LIMIT);
        self.count(f, "forward_queue_limit", default, max)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError};
    use std::path::Path;

    fn parse(top: &str, store: &str) -> Result<Config, ConfigError> {
        let yaml =
            format!("{top}stores:\n  - name: main\n    api_key: k\n    api_secret_env: S\n{store}");
        Config::parse(&yaml, Path::new("."), &|_| Some("secret".into()))
    }

    fn problems(top: &str, store: &str) -> Vec<String> {
        let err = parse(top, store).unwrap_err();
        err.problems().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_blocks_are_optional_with_documented_defaults() {
        let config = parse("", "").unwrap();
        assert!(config.webhook.enabled);
        assert_eq!(config.webhook.path, "/webhooks/allscale");
        assert_eq!(config.webhook.max_skew.as_secs(), 300);
        assert_eq!(config.webhook.forward_queue_limit, 10_000);
        let store = &config.stores[0].webhook;
        assert!(!store.expected && store.forward_url.is_none());
        assert_eq!(store.grace.as_secs(), 600);
        let config = parse(
            "webhook:\n  path: /hooks/a\n  forward_queue_limit: 5\n",
            "    webhook:\n      expected: true\n      forward_url: https://b.internal/x?y=1\n",
        )
        .unwrap();
        assert_eq!(config.webhook.path, "/hooks/a");
        let url = config.stores[0].webhook.forward_url.as_ref().unwrap();
        assert_eq!(url.as_str(), "https://b.internal/x?y=1");
    }

    #[test]
    fn bad_values_are_named_and_credentials_not_shown() {
        let got = problems(
            "webhook:\n  path: /metrics\n  enabled: yes please\n  forward_queue_limit: 0\n",
            "    webhook:\n      expected: 1\n      forward_url: https://user:hunter2@b.internal/\n",
        );
        let all = got.join("\n");
        assert!(
            all.contains("webhook.path: \"/metrics\" must be a path"),
            "{all}"
        );
        assert!(
            all.contains("webhook.enabled: expected true or false"),
            "{all}"
        );
        assert!(
            all.contains(
                "webhook.forward_queue_limit: expected an integer ≥ 1 (at most 100000), got 0"
            ),
            "{all}"
        );
        assert!(
            all.contains("stores[0].webhook.expected: expected true or false"),
            "{all}"
        );
        assert!(
            all.contains("stores[0].webhook.forward_url:")
                && all.contains("must not contain credentials (user:password@)"),
            "{all}"
        );
        assert!(!all.contains("hunter2"), "{all}");
    }
}
