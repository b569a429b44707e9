//! The scenario file: its schema, loading and validation.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A scenario file: who may call, which intents exist and how they behave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Latency added to every answer.
    #[serde(default, with = "humantime_serde")]
    pub latency: Duration,
    /// Sign every response (X-Response-* headers) with the caller's secret.
    #[serde(default)]
    pub sign_responses: bool,
    /// Seconds added to the simulator's clock, to test clock-skew monitoring (it then
    /// judges X-Timestamp, and stamps its answers, with the shifted clock).
    #[serde(default)]
    pub clock_offset_seconds: i64,
    /// Accepted clock skew of X-Timestamp (the docs say ±5 minutes).
    #[serde(default = "default_timestamp_window", with = "humantime_serde")]
    pub timestamp_window: Duration,
    pub keys: Vec<SimKey>,
    #[serde(default)]
    pub intents: Vec<SimIntent>,
    /// Where and how confirmation webhooks are sent; absent = none are sent on their own
    /// (`POST /-/webhooks/send` can still send one to the `url` it is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<SimWebhook>,
}

pub fn default_timestamp_window() -> Duration {
    Duration::from_secs(300)
}

/// An API key the simulator accepts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimKey {
    pub api_key: String,
    /// The simulator's copy of the secret (a test fixture, not a production secret).
    pub api_secret: String,
    /// Requests per second accepted for this key; more get 40001 / HTTP 429.
    /// Absent = unlimited; `0` rejects every authenticated request.
    #[serde(default)]
    pub rate_limit_per_second: Option<u32>,
}

/// A checkout intent and its scripted life.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimIntent {
    /// 24-hex id.
    pub id: String,
    /// The api_key that owns it; any other key gets 30001.
    pub key: String,
    /// Statuses it goes through, one per `step`, starting at its first poll; it stays at
    /// the last one.
    #[serde(default = "default_lifecycle")]
    pub lifecycle: Vec<i64>,
    #[serde(default = "default_step", with = "humantime_serde")]
    pub step: Duration,
    /// Injected failure, if any.
    #[serde(default)]
    pub fail: Option<SimFailure>,
    /// When the lifecycle clock starts (default: at the first authenticated poll).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts: Option<Starts>,
    /// The webhook sent when the lifecycle reaches 20 (default `normal` when a webhook
    /// url is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookKind>,
    /// Webhook body fields; defaults in `webhook::WebhookBody`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// A decimal string such as `12.50`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_coins: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coin_symbol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<u64>,
    /// Intent detail fields (`GET /v1/checkout_intents/{id}`); defaults in
    /// `detail::Detail`. The fiat currency of the order, e.g. `USD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency_symbol: Option<String>,
    /// The order amount in the currency's cents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_cents: Option<u64>,
    /// The amount actually paid, a decimal string (`actual_paid_amount`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_coins: Option<String>,
    /// The service fee, a decimal string (`service_fee_amount`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_coins: Option<String>,
    /// What the store nets, a decimal string (`net_income_amount`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_coins: Option<String>,
    /// A broken detail answer instead of the documented one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<SimDetail>,
}

impl SimIntent {
    /// The short form: `id` owned by `key`, every other field at its default.
    pub fn new(id: impl Into<String>, key: impl Into<String>) -> SimIntent {
        SimIntent {
            id: id.into(),
            key: key.into(),
            lifecycle: default_lifecycle(),
            step: default_step(),
            fail: None,
            starts: None,
            webhook: None,
            order_id: None,
            amount_coins: None,
            coin_symbol: None,
            chain_id: None,
            currency_symbol: None,
            amount_cents: None,
            paid_coins: None,
            fee_coins: None,
            net_coins: None,
            detail: None,
        }
    }
}

/// How an intent's detail answers are broken (`detail:` in a scenario).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimDetail {
    pub malformed: DetailMalformed,
}

/// Kinds of broken detail payloads: a valid `code: 0` envelope whose payload is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetailMalformed {
    /// `actual_paid_amount` is a negative decimal string (`"-12.50"`).
    NegativeAmount,
    /// `actual_paid_amount` is a JSON number (`12.5`), not a string.
    FloatAmount,
    /// `actual_paid_amount` is absent.
    MissingField,
    /// The payload is an array holding the object, not the object.
    NotAnObject,
    /// `coin_symbol` is a number (`12345`), not a string.
    BadCoin,
}

/// When an intent's lifecycle clock starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Starts {
    /// At its owner's first authenticated poll (an intent nobody polls stays at its first
    /// status).
    #[default]
    FirstPoll,
    /// When the simulator starts, so an intent the exporter never polls still confirms
    /// and sends its webhook (the exporter learns of it from the webhook alone).
    AtLaunch,
}

/// The scenario's webhook sender: the merchant URL and AllScale's delivery model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimWebhook {
    /// `http://` URL to POST to; absent = only `--webhook.url` or the admin route's
    /// `url` say where.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Wait after the intent turns CONFIRMED before sending.
    #[serde(default, with = "humantime_serde")]
    pub delay: Duration,
    /// Per request (connect, send, answer headers).
    #[serde(default = "default_webhook_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Further attempts of a `normal` delivery after a non-2xx answer or no answer.
    #[serde(default = "default_webhook_retries")]
    pub retries: u32,
    /// Wait before the first retry; it doubles for each further one.
    #[serde(default = "default_webhook_backoff", with = "humantime_serde")]
    pub retry_backoff: Duration,
}

impl Default for SimWebhook {
    fn default() -> Self {
        SimWebhook {
            url: None,
            delay: Duration::ZERO,
            timeout: default_webhook_timeout(),
            retries: default_webhook_retries(),
            retry_backoff: default_webhook_backoff(),
        }
    }
}

pub fn default_webhook_timeout() -> Duration {
    Duration::from_secs(5)
}

pub fn default_webhook_retries() -> u32 {
    3
}

pub fn default_webhook_backoff() -> Duration {
    Duration::from_secs(1)
}

/// Most retries a scenario may ask for: AllScale's retries are bounded, and so are ours.
pub const MAX_WEBHOOK_RETRIES: u32 = 10;

/// Which webhook an intent sends on confirmation, or the admin route sends now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookKind {
    /// Correctly signed, documented body; retried on failure.
    Normal,
    /// No webhook for this intent.
    #[serde(rename = "none")]
    Off,
    /// Signed with a wrong secret.
    Forged,
    /// Correctly signed, timestamp 10 minutes old.
    Stale,
    /// The same request (bytes, nonce and all) sent twice.
    Replayed,
    /// Correctly signed body over 64 KiB.
    Oversize,
    /// Signed with a key and secret the store does not have.
    UnknownKey,
    /// Correctly signed body that is not the documented JSON.
    Malformed,
    /// Two deliveries with one X-Webhook-Id, each freshly signed with its own nonce.
    Duplicate,
}

impl WebhookKind {
    /// The name used in scenarios, the admin route and `/-/stats`.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookKind::Normal => "normal",
            WebhookKind::Off => "none",
            WebhookKind::Forged => "forged",
            WebhookKind::Stale => "stale",
            WebhookKind::Replayed => "replayed",
            WebhookKind::Oversize => "oversize",
            WebhookKind::UnknownKey => "unknown_key",
            WebhookKind::Malformed => "malformed",
            WebhookKind::Duplicate => "duplicate",
        }
    }
}

pub fn default_lifecycle() -> Vec<i64> {
    vec![1]
}

pub fn default_step() -> Duration {
    Duration::from_secs(5)
}

/// How an intent's answers fail.
///
/// Exactly one of `code` and `malformed` may be set; `bad_signature` combines with either
/// or stands alone (then the answer is the normal one, wrongly signed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimFailure {
    /// Answer with this envelope error code (e.g. 90000).
    #[serde(default)]
    pub code: Option<i64>,
    /// HTTP status of the failing answer (default 200, for `code` and `malformed` alike).
    #[serde(default)]
    pub http_status: Option<u16>,
    /// Answer with a malformed body instead.
    #[serde(default)]
    pub malformed: Option<Malformed>,
    /// Sign the answer with a wrong signature (only when `sign_responses`).
    #[serde(default)]
    pub bad_signature: bool,
    /// Fail only the first N authenticated polls; absent = always.
    #[serde(default)]
    pub first: Option<u32>,
}

/// Kinds of malformed answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Malformed {
    /// A body that is not JSON.
    NotJson,
    /// A JSON object without `code`.
    NoCode,
    /// `code: 0` with a string payload.
    StringPayload,
    /// A valid envelope padded past the exporter's 64 KiB body cap.
    Oversize,
    /// 16 MiB of body, streamed (the client must stop reading at its cap).
    Huge,
    /// A valid envelope sent one byte every 50 ms (slower than any sane timeout).
    Trickle,
    /// Half an envelope, then the connection is cut.
    Reset,
    /// Nothing at all for 60 s.
    Stall,
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario file {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("scenario is invalid: {0}")]
    Invalid(String),
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Scenario::from_yaml_str(&text).map_err(|e| match e {
            ScenarioError::Invalid(msg) => {
                ScenarioError::Invalid(format!("{}: {msg}", path.display()))
            }
            other => other,
        })
    }

    pub fn from_yaml_str(text: &str) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = serde_saphyr::from_str_with_options(text, scenario_options())
            .map_err(|e| ScenarioError::Invalid(e.to_string()))?;
        let problems = scenario.problems();
        if problems.is_empty() {
            Ok(scenario)
        } else {
            Err(ScenarioError::Invalid(problems.join("; ")))
        }
    }

    /// The scenario with its webhook url set to `url` (the `--webhook.url` flag), keeping
    /// the block's other settings.
    pub fn with_webhook_url(mut self, url: &str) -> Result<Scenario, ScenarioError> {
        check_webhook_url(url)
            .map_err(|e| ScenarioError::Invalid(format!("--webhook.url: {e}")))?;
        self.webhook.get_or_insert_with(SimWebhook::default).url = Some(url.to_owned());
        Ok(self)
    }

    /// Every validation problem, each naming the offending item.
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.timestamp_window < Duration::from_secs(1) {
            out.push("timestamp_window: must be at least 1s".to_owned());
        }
        if self.keys.is_empty() {
            out.push("keys: at least one key is required".to_owned());
        }
        let mut keys: HashMap<&str, usize> = HashMap::new();
        for (i, k) in self.keys.iter().enumerate() {
            if k.api_key.is_empty() {
                out.push(format!("keys[{i}]: api_key is empty"));
            }
            if k.api_secret.is_empty() {
                out.push(format!("keys[{i}]: api_secret is empty"));
            }
            if let Some(first) = keys.insert(&k.api_key, i) {
                out.push(format!(
                    "keys[{i}]: api_key {:?} is a duplicate of keys[{first}]",
                    k.api_key
                ));
            }
        }
        if let Some(w) = &self.webhook {
            out.extend(w.problems());
        }
        let mut ids: HashMap<&str, usize> = HashMap::with_capacity(self.intents.len());
        for (i, intent) in self.intents.iter().enumerate() {
            if intent.id.len() != 24 || !intent.id.bytes().all(|b| b.is_ascii_hexdigit()) {
                out.push(format!(
                    "intents[{i}]: id {:?} is not 24 hex characters",
                    intent.id
                ));
            }
            if let Some(first) = ids.insert(&intent.id, i) {
                out.push(format!(
                    "intents[{i}]: id {:?} is a duplicate of intents[{first}]",
                    intent.id
                ));
            }
            if !keys.contains_key(intent.key.as_str()) {
                out.push(format!("intents[{i}]: key {:?} is not in keys", intent.key));
            }
            if intent.lifecycle.is_empty() {
                out.push(format!("intents[{i}]: lifecycle is empty"));
            }
            if intent.step.is_zero() {
                out.push(format!("intents[{i}]: step must be greater than 0"));
            }
            out.extend(intent.webhook_problems(i));
            out.extend(intent.detail_problems(i));
            if let Some(f) = &intent.fail {
                let at = format!("intents[{i}].fail");
                if f.code.is_some() && f.malformed.is_some() {
                    out.push(format!("{at}: set either code or malformed, not both"));
                }
                if f.code.is_none() && f.malformed.is_none() && !f.bad_signature {
                    out.push(format!(
                        "{at}: needs code, malformed or bad_signature: true"
                    ));
                }
                if f.code == Some(0) {
                    out.push(format!(
                        "{at}: code 0 is success; use an error code such as 90000"
                    ));
                }
                match f.http_status {
                    Some(s) if !(100..=599).contains(&s) => {
                        out.push(format!("{at}: http_status {s} is not an HTTP status"));
                    }
                    Some(_) if f.code.is_none() && f.malformed.is_none() => out.push(format!(
                        "{at}: http_status applies only with code or malformed"
                    )),
                    _ => {}
                }
                if f.first == Some(0) {
                    out.push(format!(
                        "{at}: first must be at least 1 (remove fail to never fail)"
                    ));
                }
                if f.bad_signature && !self.sign_responses {
                    out.push(format!("{at}: bad_signature needs sign_responses: true"));
                }
            }
        }
        out
    }
}

impl SimWebhook {
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(url) = &self.url
            && let Err(e) = check_webhook_url(url)
        {
            out.push(format!("webhook.url: {e}"));
        }
        if self.timeout.is_zero() {
            out.push("webhook.timeout: must be greater than 0".to_owned());
        }
        if self.retries > MAX_WEBHOOK_RETRIES {
            out.push(format!(
                "webhook.retries: {} is more than {MAX_WEBHOOK_RETRIES}",
                self.retries
            ));
        }
        if self.retry_backoff > Duration::from_secs(3600) {
            out.push("webhook.retry_backoff: must be at most 1h".to_owned());
        }
        if self.delay > Duration::from_secs(24 * 3600) {
            out.push("webhook.delay: must be at most 24h".to_owned());
        }
        out
    }
}

impl SimIntent {
    /// Problems of the webhook body fields, named `intents[i].FIELD`.
    fn webhook_problems(&self, i: usize) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(amount) = &self.amount_coins
            && !is_decimal(amount)
        {
            out.push(format!(
                "intents[{i}]: amount_coins {amount:?} is not a decimal such as \"12.50\""
            ));
        }
        for (field, value) in [
            ("order_id", &self.order_id),
            ("coin_symbol", &self.coin_symbol),
            ("currency_symbol", &self.currency_symbol),
        ] {
            match value {
                Some(v) if v.is_empty() || v.len() > 256 => {
                    out.push(format!("intents[{i}]: {field} must be 1 to 256 bytes"));
                }
                _ => {}
            }
        }
        out
    }
}

impl SimIntent {
    /// Problems of the detail amounts, named `intents[i]`: each must be a decimal, and
    /// the defaults computed from them must fit.
    fn detail_problems(&self, i: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut bad = false;
        for (field, value) in [
            ("paid_coins", &self.paid_coins),
            ("fee_coins", &self.fee_coins),
            ("net_coins", &self.net_coins),
        ] {
            if let Some(v) = value
                && !is_decimal(v)
            {
                bad = true;
                out.push(format!(
                    "intents[{i}]: {field} {v:?} is not a decimal such as \"12.50\""
                ));
            }
        }
        if !bad
            && self.amount_coins.as_deref().is_none_or(is_decimal)
            && let Err(e) = super::detail::Detail::resolve(self)
        {
            out.push(format!("intents[{i}]: {e}"));
        }
        out
    }
}

/// `12`, `12.50`, `0.000001`: digits with at most one inner dot, as the API sends amounts.
pub(super) fn is_decimal(s: &str) -> bool {
    let (int, frac) = s.split_once('.').unwrap_or((s, "0"));
    s.len() <= 64
        && !int.is_empty()
        && !frac.is_empty()
        && int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
}

/// An absolute `http://` URL with a host; the reason otherwise.
pub(super) fn check_webhook_url(url: &str) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a URL ({e})"))?;
    if parsed.scheme() != "http" {
        return Err(format!("{url:?}: only http:// URLs are supported"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("{url:?} has no host"));
    }
    Ok(parsed)
}

/// YAML nodes allowed in a scenario: about a million long-form intents, as many as the
/// exporter's config allows, so a scenario can serve the largest watch list.
const MAX_YAML_NODES: usize = 8_000_000;

/// Parser budgets sized for scenarios with hundreds of thousands of intents.
fn scenario_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_nodes: MAX_YAML_NODES,
            max_events: 2 * MAX_YAML_NODES,
            max_total_scalar_bytes: 256 * 1024 * 1024,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::SCENARIO;

    #[test]
    fn scenario_defaults() {
        let s = Scenario::from_yaml_str(
            "keys:\n  - api_key: st_k\n    api_secret: st_s\nintents:\n  - id: 65b2f3d0d2d9c0a1b2c3d4e5\n    key: st_k\n",
        )
        .unwrap();
        assert_eq!(s.latency, Duration::ZERO);
        assert!(!s.sign_responses);
        assert_eq!(s.timestamp_window, default_timestamp_window());
        assert_eq!(s.keys[0].rate_limit_per_second, None);
        assert_eq!(s.intents[0].lifecycle, default_lifecycle());
        assert_eq!(s.intents[0].step, default_step());
        assert_eq!(s.intents[0].fail, None);
    }

    #[test]
    fn scenario_errors_name_the_item() {
        let err = |yaml: &str| match Scenario::from_yaml_str(yaml) {
            Err(ScenarioError::Invalid(msg)) => msg,
            other => panic!("expected an error, got {other:?}"),
        };
        assert!(err("keys: []").contains("keys: at least one key is required"));
        assert!(err("intents: []").contains("keys"));
        // Unknown fields and bad durations are refused by the parser.
        assert!(err("keys: [{api_key: a, api_secret: b, secret: c}]").contains("secret"));
        assert!(!err("latency: soon\nkeys: [{api_key: a, api_secret: b}]").is_empty());

        let msg = err(r#"
keys:
  - {api_key: st_a, api_secret: s}
  - {api_key: st_a, api_secret: s}
intents:
  - {id: 65b2f3d0d2d9c0a1b2c3d4e5, key: st_a}
  - {id: 65b2f3d0d2d9c0a1b2c3d4e5, key: st_a}
  - {id: 65b2f3d0d2, key: st_a}
  - {id: 6650a1b2c3d4e5f60718293a, key: st_x}
  - {id: 6650a1b2c3d4e5f60718293b, key: st_a, lifecycle: [], step: 0s}
  - {id: 6650a1b2c3d4e5f60718293c, key: st_a, fail: {code: 90000, malformed: no_code}}
  - {id: 6650a1b2c3d4e5f60718293d, key: st_a, fail: {first: 0}}
  - {id: 6650a1b2c3d4e5f60718293e, key: st_a, fail: {bad_signature: true}}
  - {id: 6650a1b2c3d4e5f60718293f, key: st_a, fail: {code: 0, http_status: 1000}}
"#);
        for expected in [
            r#"keys[1]: api_key "st_a" is a duplicate of keys[0]"#,
            r#"intents[1]: id "65b2f3d0d2d9c0a1b2c3d4e5" is a duplicate of intents[0]"#,
            r#"intents[2]: id "65b2f3d0d2" is not 24 hex characters"#,
            r#"intents[3]: key "st_x" is not in keys"#,
            "intents[4]: lifecycle is empty",
            "intents[4]: step must be greater than 0",
            "intents[5].fail: set either code or malformed, not both",
            "intents[6].fail: needs code, malformed or bad_signature: true",
            "intents[6].fail: first must be at least 1",
            "intents[7].fail: bad_signature needs sign_responses: true",
            "intents[8].fail: code 0 is success",
            "intents[8].fail: http_status 1000 is not an HTTP status",
        ] {
            assert!(msg.contains(expected), "missing {expected:?} in {msg}");
        }
    }

    #[test]
    fn webhook_settings_are_validated_and_named() {
        let err = |yaml: &str| match Scenario::from_yaml_str(yaml) {
            Err(ScenarioError::Invalid(msg)) => msg,
            other => panic!("expected an error, got {other:?}"),
        };
        let msg = err(r#"
keys: [{api_key: st_a, api_secret: s}]
webhook: {url: "https://example.test/hook", timeout: 0s, retries: 11}
intents:
  - {id: 6650a1b2c3d4e5f60718293a, key: st_a, amount_coins: "12,50", coin_symbol: ""}
  - {id: 6650a1b2c3d4e5f60718293b, key: st_a, amount_coins: ".5"}
"#);
        for expected in [
            "webhook.url: \"https://example.test/hook\": only http:// URLs are supported",
            "webhook.timeout: must be greater than 0",
            "webhook.retries: 11 is more than 10",
            r#"intents[0]: amount_coins "12,50" is not a decimal"#,
            "intents[0]: coin_symbol must be 1 to 256 bytes",
            r#"intents[1]: amount_coins ".5" is not a decimal"#,
        ] {
            assert!(msg.contains(expected), "missing {expected:?} in {msg}");
        }
        assert!(
            err("keys: [{api_key: a, api_secret: b}]\nwebhook: {url: nope}")
                .contains("webhook.url")
        );
        let bad_kind = "keys: [{api_key: a, api_secret: b}]\nintents: [{id: 6650a1b2c3d4e5f60718293a, key: a, webhook: loud}]";
        assert!(err(bad_kind).contains("loud"));
        let bad_start = "keys: [{api_key: a, api_secret: b}]\nintents: [{id: 6650a1b2c3d4e5f60718293a, key: a, starts: later}]";
        assert!(err(bad_start).contains("later"));
    }

    #[test]
    fn webhook_defaults_and_the_url_flag() {
        let s = Scenario::from_yaml_str(
            "keys: [{api_key: a, api_secret: b}]\nwebhook: {delay: 2s}\nintents: [{id: 6650a1b2c3d4e5f60718293a, key: a, starts: at_launch, webhook: duplicate, chain_id: 56}]",
        )
        .unwrap();
        let w = s.webhook.clone().unwrap();
        assert_eq!(w.url, None);
        assert_eq!(w.delay, Duration::from_secs(2));
        assert_eq!((w.timeout, w.retries), (default_webhook_timeout(), 3));
        assert_eq!(w.retry_backoff, default_webhook_backoff());
        assert_eq!(s.intents[0].starts, Some(Starts::AtLaunch));
        assert_eq!(s.intents[0].webhook, Some(WebhookKind::Duplicate));
        let s = s
            .with_webhook_url("http://127.0.0.1:9864/webhooks/allscale")
            .unwrap();
        let w = s.webhook.unwrap();
        assert_eq!(
            w.url.as_deref(),
            Some("http://127.0.0.1:9864/webhooks/allscale")
        );
        assert_eq!(w.delay, Duration::from_secs(2), "the flag keeps the block");
        let plain = Scenario::from_yaml_str("keys: [{api_key: a, api_secret: b}]").unwrap();
        assert!(
            plain
                .clone()
                .with_webhook_url("ftp://x/")
                .unwrap_err()
                .to_string()
                .contains("--webhook.url")
        );
        assert!(
            plain
                .with_webhook_url("http://127.0.0.1:1/")
                .unwrap()
                .webhook
                .is_some()
        );
        assert_eq!(SimIntent::new("x", "k").lifecycle, default_lifecycle());
    }

    #[test]
    fn scenario_load_reports_path() {
        let missing = Path::new("/nonexistent/scenario.yaml");
        assert!(matches!(
            Scenario::load(missing),
            Err(ScenarioError::Read { .. })
        ));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.yaml");
        std::fs::write(&file, "keys: []").unwrap();
        let msg = Scenario::load(&file).unwrap_err().to_string();
        assert!(msg.contains("bad.yaml"), "{msg}");
    }

    #[test]
    fn fixture_scenarios_are_valid() {
        // The repository's scenarios, which the exporter's tests and the docs use too.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/scenarios");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
                assert!(!scenario.keys.is_empty());
                let text = serde_saphyr::to_string(&scenario).unwrap();
                assert_eq!(
                    Scenario::from_yaml_str(&text).unwrap(),
                    scenario,
                    "{path:?}"
                );
                seen += 1;
            }
        }
        assert!(seen >= 2, "only {seen} fixture scenarios");
    }

    #[test]
    fn scenario_round_trips_through_yaml() {
        let s = Scenario::from_yaml_str(SCENARIO).unwrap();
        let text = serde_saphyr::to_string(&s).unwrap();
        assert_eq!(Scenario::from_yaml_str(&text).unwrap(), s);
    }
}
