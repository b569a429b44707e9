//! The schema: what a validated config holds, its defaults and limits, and the keys each
//! level of the file accepts.

use std::path::PathBuf;
use std::time::Duration;

use super::secret::Secret;
use crate::api::{ClientConfig, HttpVersion, signing::Signer};
use crate::config::{BaseUrl, IntentId};

/// Production base URL, the default for `base_url`.
pub const DEFAULT_BASE_URL: &str = "https://openapi.allscale.io";

/// Default `poll_interval`.
pub(super) const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(30);
/// Default `request_timeout`.
pub(super) const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `terminal_retention`.
pub(super) const DEFAULT_TERMINAL_RETENTION: Duration = Duration::from_secs(24 * 3600);
/// Default `max_requests_per_second` of a store.
pub(super) const DEFAULT_MAX_REQUESTS_PER_SECOND: f64 = 10.0;
/// Default `max_concurrency` of a store.
pub(super) const DEFAULT_MAX_CONCURRENCY: usize = 8;

/// Default `max_watch_age` of a store.
pub const DEFAULT_MAX_WATCH_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Default `not_found_ttl` of a store.
pub const DEFAULT_NOT_FOUND_TTL: Duration = Duration::from_secs(3600);
/// Upper bound of `max_watch_age`: a checkout still open after a year is not one to watch.
pub(super) const MAX_WATCH_AGE_LIMIT: (Duration, &str) =
    (Duration::from_secs(366 * 24 * 3600), "366 days");
/// Upper bound of `not_found_ttl`: an id unknown to the API for a month is a typo.
pub(super) const NOT_FOUND_TTL_LIMIT: (Duration, &str) =
    (Duration::from_secs(31 * 24 * 3600), "31 days");
/// Longest accepted duration (10 years): keeps `Instant + duration` arithmetic safe.
pub(super) const MAX_DURATION: Duration = Duration::from_secs(315_576_000);
/// Upper bound of `max_requests_per_second`.
pub(super) const MAX_REQUESTS_PER_SECOND_LIMIT: f64 = 10_000.0;
/// Lower bound of `max_requests_per_second` (of each replica's share with `--shard`): one
/// request every 1000 s. Slower is no use for watching checkouts, and a tiny rate (1e-12)
/// would be a request period the rate limiter cannot represent.
pub(crate) const MIN_REQUESTS_PER_SECOND: f64 = 0.001;
/// Upper bound of `max_concurrency`.
pub(super) const MAX_CONCURRENCY_LIMIT: usize = 1024;
/// Longest store name (it becomes the `store` label value), in characters.
pub(super) const MAX_STORE_NAME_CHARS: usize = 64;
/// Longest `order_id` (it becomes a label value), in characters.
const MAX_ORDER_ID_CHARS: usize = 256;

/// Why a text cannot be an order id (it becomes a label value): one rule for the config,
/// the intent sources, the registration API and webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OrderIdProblem {
    Empty,
    ControlCharacters,
    /// Longer than [`MAX_ORDER_ID_CHARS`]: this many characters.
    TooLong(usize),
}

impl OrderIdProblem {
    /// What is wrong with `text` as an order id, if anything.
    pub(crate) fn of(text: &str) -> Option<OrderIdProblem> {
        let chars = text.chars().count();
        if text.trim().is_empty() {
            Some(OrderIdProblem::Empty)
        } else if text.chars().any(char::is_control) {
            Some(OrderIdProblem::ControlCharacters)
        } else if chars > MAX_ORDER_ID_CHARS {
            Some(OrderIdProblem::TooLong(chars))
        } else {
            None
        }
    }

    /// The problem in words, the text shown as `shown` (quoted or shortened by the caller).
    pub(crate) fn message(self, shown: &str) -> String {
        match self {
            OrderIdProblem::Empty => "must not be empty (leave order_id out instead)".to_owned(),
            OrderIdProblem::ControlCharacters => {
                format!("{shown} must not contain control characters")
            }
            OrderIdProblem::TooLong(chars) => {
                format!("{shown} is too long ({chars} characters, at most {MAX_ORDER_ID_CHARS})")
            }
        }
    }
}
/// Default `registration.max_intents_per_store`: what one replica polls comfortably.
pub const DEFAULT_MAX_INTENTS_PER_STORE: usize = 200_000;
/// Upper bound of `registration.max_intents_per_store`: a cap that protects memory and the
/// API budget must itself be bounded.
pub(super) const MAX_INTENTS_PER_STORE_LIMIT: usize = 10_000_000;
/// Shortest accepted registration token: a guessable bearer token grants writes.
pub(super) const MIN_TOKEN_CHARS: usize = 16;
/// Largest accepted config file: a million long-form intents fit, a runaway file does not.
pub const MAX_CONFIG_BYTES: u64 = 128 * 1024 * 1024;

/// A validated config, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub poll_interval: Duration,
    pub request_timeout: Duration,
    pub terminal_retention: Duration,
    pub state_file: Option<PathBuf>,
    /// `state_database`: PostgreSQL instead of `state_file` (they exclude each other).
    pub state_database: Option<Box<super::database::StateDatabase>>,
    pub stores: Vec<StoreConfig>,
    /// The registration API (`POST /api/v1/intents`); off when `None`.
    pub registration: Option<RegistrationConfig>,
    /// The webhook receiver (`webhook:`), on by default.
    pub webhook: WebhookConfig,
}

/// Default `webhook.path`.
pub const DEFAULT_WEBHOOK_PATH: &str = "/webhooks/allscale";
/// Default `webhook.max_skew`: AllScale's ±5 minutes.
pub const DEFAULT_WEBHOOK_MAX_SKEW: Duration = Duration::from_secs(300);
/// Default `webhook.forward_queue_limit` (per store).
pub const DEFAULT_FORWARD_QUEUE_LIMIT: usize = 10_000;
/// Upper bound of `webhook.forward_queue_limit`: each queued event holds its body
/// (at most 64 KiB) in memory and in the state database.
pub(super) const MAX_FORWARD_QUEUE_LIMIT: usize = 100_000;
/// Default `stores[].webhook.grace`.
pub const DEFAULT_WEBHOOK_GRACE: Duration = Duration::from_secs(600);

/// The `webhook:` block: the receiver of AllScale's signed webhooks.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookConfig {
    /// `enabled: false` turns the receiver off (its path answers 404).
    pub enabled: bool,
    /// Where it listens, on the main listener or `--webhook.listen-address`.
    pub path: String,
    /// How far `X-Webhook-Timestamp` may be from the exporter's clock.
    pub max_skew: Duration,
    /// Relay events waiting per store, past which a webhook is answered 503.
    pub forward_queue_limit: usize,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            path: DEFAULT_WEBHOOK_PATH.to_owned(),
            max_skew: DEFAULT_WEBHOOK_MAX_SKEW,
            forward_queue_limit: DEFAULT_FORWARD_QUEUE_LIMIT,
        }
    }
}

/// A store's `webhook:` block.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreWebhookConfig {
    /// AllScale sends this store webhooks: a confirmation polling sees without one within
    /// `grace` is counted as missing.
    pub expected: bool,
    pub grace: Duration,
    /// Where each verified webhook is relayed, unchanged.
    pub forward_url: Option<url::Url>,
}

impl Default for StoreWebhookConfig {
    fn default() -> Self {
        Self {
            expected: false,
            grace: DEFAULT_WEBHOOK_GRACE,
            forward_url: None,
        }
    }
}

/// The `registration:` block: who may register intents, and how many a store may hold.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrationConfig {
    /// The bearer token, from `token_env` or `token_file` (never inline).
    pub token: Secret,
    /// Watched intents (of every source) past which a registration is refused.
    pub max_intents_per_store: usize,
}

/// One AllScale store: its credentials, its API budget and the intents it watches.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreConfig {
    pub name: String,
    /// Validated http(s) URL without a trailing slash.
    pub base_url: BaseUrl,
    pub api_key: String,
    pub api_secret: Secret,
    pub max_requests_per_second: f64,
    pub max_concurrency: usize,
    pub verify_response_signature: bool,
    /// Terminal intents get one detail request each, for their amounts (default on).
    pub fetch_details: bool,
    pub http_version: HttpVersion,
    /// Which per-intent series the store exports.
    pub per_intent_metrics: PerIntentMetrics,
    /// When a waiting intent needs someone (`per_intent_metrics: attention`).
    pub attention_after: AttentionAfter,
    /// A non-terminal intent watched this long (since it was added) is no longer polled.
    pub max_watch_age: Duration,
    /// An intent still `not_found` this long after it was added is no longer polled.
    pub not_found_ttl: Duration,
    pub intents: Vec<IntentConfig>,
    /// Where else the store's intents come from (`intent_sources`): files, an HTTP list.
    pub intent_sources: IntentSources,
    /// The store's webhook settings (`stores[].webhook`).
    pub webhook: StoreWebhookConfig,
}

impl StoreConfig {
    /// The settings of the store's API client; each request gets `request_timeout`.
    pub fn client_config(&self, request_timeout: Duration) -> ClientConfig {
        ClientConfig {
            base_url: self.base_url.clone(),
            api_key: self.api_key.clone(),
            signer: Signer::new(self.api_secret.expose()),
            http_version: self.http_version,
            max_concurrency: self.max_concurrency,
            request_timeout,
            verify_response_signature: self.verify_response_signature,
            user_agent: format!("allscale-exporter/{}", crate::VERSION),
        }
    }
}

/// Default `intent_sources.http.refresh_interval`.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// Shortest `intent_sources.http.refresh_interval`.
pub(super) const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// A store's `intent_sources`: both parts optional, so the default is none.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IntentSources {
    /// `files`: absolute path patterns (`*` and `?` only in the last element).
    pub files: Vec<PathBuf>,
    /// `http`: the list a backend serves.
    pub http: Option<HttpSource>,
}

impl IntentSources {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.http.is_none()
    }
}

/// `intent_sources.http`. Its `Debug` never shows the token ([`Secret`]).
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSource {
    /// http(s), with a host, no user info or fragment (a query is kept).
    pub url: url::Url,
    pub refresh_interval: Duration,
    /// From `bearer_token_file` or `bearer_token_env`, re-read at every reload.
    pub bearer_token: Option<Secret>,
}

impl HttpSource {
    /// The URL as logs show it: scheme, host, port and path (no query: it may carry a key).
    pub fn shown_url(&self) -> String {
        let mut url = self.url.clone();
        url.set_query(None);
        url.to_string()
    }
}

/// The words of `http_version`.
pub(super) const HTTP_VERSION_NAMES: [(&str, HttpVersion); 3] = [
    ("auto", HttpVersion::Auto),
    ("http1", HttpVersion::Http1),
    ("http2", HttpVersion::Http2),
];

/// Which per-intent series a store exports (`per_intent_metrics`): drill-down against
/// the series a Prometheus keeps. Aggregates are exported in every mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PerIntentMetrics {
    /// Every watched intent's series, terminal ones also past `terminal_retention`.
    All,
    /// Non-terminal intents, and terminal ones within `terminal_retention`.
    #[default]
    Active,
    /// Only the intents that need someone: waiting past `attention_after`, or finished
    /// badly within `terminal_retention` (the series `active` exports, for far fewer).
    Attention,
    /// Like `active`, but only `allscale_checkout_intent_status`.
    StatusOnly,
    /// None: aggregates only.
    None,
}

impl PerIntentMetrics {
    pub(super) const NAMES: [(&str, PerIntentMetrics); 5] = [
        ("all", PerIntentMetrics::All),
        ("active", PerIntentMetrics::Active),
        ("attention", PerIntentMetrics::Attention),
        ("status_only", PerIntentMetrics::StatusOnly),
        ("none", PerIntentMetrics::None),
    ];
}

/// `attention_after`: how long a non-terminal intent may wait in a status before someone
/// must look, per group of statuses, as the mixin's stuck-intent alerts group them (and
/// with their thresholds as defaults: keep the two equal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttentionAfter {
    /// ON_CHAIN (10): `stuckOnChainSeconds`.
    pub on_chain: Duration,
    /// PENDING_MANUAL_OPERATION (4): `stuckManualReviewSeconds`.
    pub manual_review: Duration,
    /// CREATED, VIEWED, TEMP_WALLET_RECEIVED (1-3): `stuckBeforePaymentSeconds`.
    pub before_payment: Duration,
}

impl Default for AttentionAfter {
    fn default() -> Self {
        Self {
            on_chain: Duration::from_secs(30 * 60),
            manual_review: Duration::from_secs(3600),
            before_payment: Duration::from_secs(2 * 3600),
        }
    }
}

/// Upper bound of each `attention_after` duration: a status held a month is past any
/// alert that could still help.
pub(super) const ATTENTION_AFTER_LIMIT: (Duration, &str) =
    (Duration::from_secs(31 * 24 * 3600), "31 days");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentConfig {
    pub id: IntentId,
    pub order_id: Option<String>,
}

impl Config {
    /// One-line summary for `check-config`, e.g. `2 stores, 37 intents`.
    pub fn summary(&self) -> String {
        let stores = self.stores.len();
        let intents = self.intent_count();
        format!(
            "{stores} {}, {intents} {}",
            if stores == 1 { "store" } else { "stores" },
            if intents == 1 { "intent" } else { "intents" }
        )
    }

    /// Number of watched intents across all stores.
    pub fn intent_count(&self) -> usize {
        self.stores.iter().map(|s| s.intents.len()).sum()
    }
}

/// The keys of the top level, of a store and of an intent in the long form.
pub(super) const TOP_KEYS: &[&str] = &[
    "poll_interval",
    "request_timeout",
    "terminal_retention",
    "state_file",
    "state_database",
    "stores",
    "registration",
    "webhook",
];
pub(super) const STORE_KEYS: &[&str] = &[
    "name",
    "base_url",
    "api_key",
    "api_secret_env",
    "api_secret_file",
    "max_requests_per_second",
    "max_concurrency",
    "verify_response_signature",
    "fetch_details",
    "http_version",
    "per_intent_metrics",
    "attention_after",
    "max_watch_age",
    "not_found_ttl",
    "intents",
    "intent_sources",
    "webhook",
];
pub(super) const WEBHOOK_KEYS: &[&str] = &["enabled", "path", "max_skew", "forward_queue_limit"];
pub(super) const STORE_WEBHOOK_KEYS: &[&str] = &["expected", "grace", "forward_url"];
pub(super) const ATTENTION_AFTER_KEYS: &[&str] = &["on_chain", "manual_review", "before_payment"];
pub(super) const INTENT_SOURCES_KEYS: &[&str] = &["files", "http"];
pub(super) const HTTP_SOURCE_KEYS: &[&str] = &[
    "url",
    "refresh_interval",
    "bearer_token_file",
    "bearer_token_env",
];
pub(super) const REGISTRATION_KEYS: &[&str] = &["token_env", "token_file", "max_intents_per_store"];
pub(super) const INTENT_KEYS: &[&str] = &["id", "order_id"];
pub(super) const STATE_DATABASE_KEYS: &[&str] =
    &["url", "password_file", "password_env", "import_from"];

#[cfg(test)]
mod tests {
    use super::*;

    /// `config.example.yaml` says it shows every option: each key of the schema is in it
    /// (set, or commented out with its default).
    #[test]
    fn the_example_config_shows_every_key() {
        let example = include_str!("../../config.example.yaml");
        let lists = [
            TOP_KEYS,
            STORE_KEYS,
            WEBHOOK_KEYS,
            STORE_WEBHOOK_KEYS,
            ATTENTION_AFTER_KEYS,
            INTENT_SOURCES_KEYS,
            HTTP_SOURCE_KEYS,
            REGISTRATION_KEYS,
            INTENT_KEYS,
            STATE_DATABASE_KEYS,
        ];
        let missing: Vec<&str> = lists
            .iter()
            .flat_map(|keys| keys.iter().copied())
            .filter(|key| !example.contains(&format!("{key}:")))
            .collect();
        assert!(missing.is_empty(), "config.example.yaml lacks {missing:?}");
    }
}
