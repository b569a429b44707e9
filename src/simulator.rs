//! A fake AllScale Open API: the status endpoint with the real auth rules, scripted
//! lifecycles, injected errors, rate limiting, latency and optional response signing.
//!
//! SKELETON: types and signatures are fixed (demo, cli and tests use them); bodies to be written.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
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
    /// Accepted clock skew of X-Timestamp (the docs say ±5 minutes).
    #[serde(default = "default_timestamp_window", with = "humantime_serde")]
    pub timestamp_window: Duration,
    pub keys: Vec<SimKey>,
    #[serde(default)]
    pub intents: Vec<SimIntent>,
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
}

pub fn default_lifecycle() -> Vec<i64> {
    vec![1]
}

pub fn default_step() -> Duration {
    Duration::from_secs(5)
}

/// How an intent's answers fail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimFailure {
    /// Answer with this envelope error code (e.g. 90000).
    #[serde(default)]
    pub code: Option<i64>,
    /// HTTP status of the failing answer (default 200 for `code`, 500 otherwise).
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
        let _ = path;
        todo!()
    }
    pub fn from_yaml_str(text: &str) -> Result<Scenario, ScenarioError> {
        let _ = text;
        todo!()
    }
}

/// What the simulator saw, for tests and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SimStats {
    /// Every request received, by API key (`""` when the header was missing).
    pub requests_by_key: BTreeMap<String, u64>,
    /// Requests that passed authentication, by intent id.
    pub authenticated_by_intent: BTreeMap<String, u64>,
    /// Answers by envelope code (0 = success).
    pub answers_by_code: BTreeMap<i64, u64>,
    /// Authenticated requests per unix second, by API key.
    pub per_second_by_key: BTreeMap<String, BTreeMap<u64, u64>>,
}

/// A running simulator's shared state; cheap to clone.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<()>,
}

impl Simulator {
    pub fn new(scenario: Scenario) -> Self {
        let _ = scenario;
        todo!()
    }
    /// The axum router serving the API (and `GET /-/stats` with [`SimStats`] as JSON).
    pub fn router(&self) -> axum::Router {
        todo!()
    }
    pub fn stats(&self) -> SimStats {
        todo!()
    }
    /// Serves on `listener` until `shutdown` completes.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let _ = (listener, shutdown, &self.inner);
        todo!()
    }
}
