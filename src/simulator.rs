//! A fake AllScale Open API: the status endpoint with the real auth rules, scripted
//! lifecycles, injected errors, rate limiting, latency and optional response signing.
//!
//! Routes:
//! - `GET /v1/checkout_intents/{id}/status` — the status endpoint (payload: an integer).
//! - `GET /v1/test/ping` — payload `{"pong":"ok"}`; checks key, clock and signing.
//! - `GET /-/stats` — unauthenticated JSON of [`SimStats`] (not an API route: no envelope).
//! - anything else — HTTP 404 with an error envelope (code 99999), before any auth check.
//!
//! Every API answer is the envelope `{"code","payload","error","request_id"}` with an
//! `X-Request-Id` header equal to `request_id`. Authentication follows the real API, in
//! this order (`allscale-api.md` §1):
//! 1. a missing (or empty, or non-ASCII) `X-API-Key`, `X-Timestamp`, `X-Nonce` or
//!    `X-Signature`, or an unknown API key → 20001, HTTP 401;
//! 2. `X-Timestamp` not a decimal integer, or outside ±`timestamp_window` → 20002, HTTP 401;
//! 3. a signature that does not verify over the request as received (raw path and query
//!    exactly as on the request line, SHA-256 of the received body) → 20002, HTTP 401;
//! 4. a nonce already used with this key → 20002, HTTP 401 (a nonce is only recorded once
//!    its signature verified; it is remembered until `max(now, X-Timestamp) + window`);
//! 5. more than `rate_limit_per_second` authenticated requests for the key in the current
//!    unix second → 40001, HTTP 429, `Retry-After: 1` (the nonce is still consumed).
//!
//! Then the endpoint: an id not in the scenario → 50001 (HTTP 404); an intent owned by
//! another key → 30001 (HTTP 403); then the intent's injected failure, if any; otherwise
//! code 0 with the intent's current lifecycle status. The lifecycle clock starts at the
//! intent's first authenticated poll by its owner; the status is
//! `lifecycle[min(elapsed / step, len - 1)]`.

use crate::lock;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use crate::api::signing::{
    ResponseFields, request_canonical, response_canonical, sha256_hex, sign, verify,
};

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

/// Length of a [`Malformed::Huge`] body.
const HUGE_BODY: usize = 16 * 1024 * 1024;

/// Streams a hostile body, for the kinds that are about how the bytes arrive.
fn hostile_body(kind: Malformed, body: Vec<u8>) -> Option<Body> {
    use futures_util::StreamExt;
    type Chunk = Result<Bytes, std::io::Error>;
    match kind {
        Malformed::Huge => {
            let chunk = Bytes::from(vec![b' '; 64 * 1024]);
            let chunks = HUGE_BODY / chunk.len();
            let stream =
                futures_util::stream::iter((0..chunks).map(move |_| Chunk::Ok(chunk.clone())));
            Some(Body::from_stream(stream))
        }
        Malformed::Trickle => {
            let bytes = futures_util::stream::iter(body).then(|b| async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Chunk::Ok(Bytes::from(vec![b]))
            });
            Some(Body::from_stream(bytes))
        }
        Malformed::Reset => {
            let half = Bytes::from(body[..body.len() / 2].to_vec());
            let parts = [
                Ok(half),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "chaos: reset",
                )),
            ];
            Some(Body::from_stream(futures_util::stream::iter(parts)))
        }
        _ => None,
    }
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

/// Parser budgets sized for scenarios with hundreds of thousands of intents.
fn scenario_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_nodes: crate::config::LARGE_YAML_NODES,
            max_events: 2 * crate::config::LARGE_YAML_NODES,
            max_total_scalar_bytes: 256 * 1024 * 1024,
        },
    }
}

/// What the simulator saw, for tests and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SimStats {
    /// Every request received, by API key: the scenario's keys by name, `""` when the
    /// header was missing, any other value under [`UNKNOWN_KEY_STATS`]. Keyed only by
    /// known keys so that a client sending made-up keys cannot grow the map.
    pub requests_by_key: BTreeMap<String, u64>,
    /// Requests that passed authentication, by intent id.
    pub authenticated_by_intent: BTreeMap<String, u64>,
    /// Answers by envelope code (0 = success). Malformed answers (`fail.malformed`) are
    /// counted under [`MALFORMED_STATS_CODE`] (-1000), never under 0.
    pub answers_by_code: BTreeMap<i64, u64>,
    /// Authenticated requests per unix second, by API key.
    pub per_second_by_key: BTreeMap<String, BTreeMap<u64, u64>>,
    /// Every request received, by protocol (`HTTP/1.1`, `HTTP/2.0`).
    pub requests_by_http_version: BTreeMap<String, u64>,
}

/// The `requests_by_key` key under which requests with a key the scenario does not know
/// are counted, whatever the key.
pub const UNKNOWN_KEY_STATS: &str = "(unknown)";

/// The `answers_by_code` key under which malformed answers are counted.
pub const MALFORMED_STATS_CODE: i64 = -1000;

/// Largest request body read (the status endpoint is a GET; bodies are only hashed).
const MAX_REQUEST_BODY: usize = 1 << 20;
/// Size of the padding field of a [`Malformed::Oversize`] answer.
const OVERSIZE_PADDING: usize = 100 * 1024;

/// A running simulator's shared state; cheap to clone.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

struct Inner {
    latency: Duration,
    sign_responses: bool,
    window_secs: u64,
    /// Added to the simulator's clock (auth window, response timestamps, `Date`).
    clock_offset: i64,
    keys: Vec<KeyRt>,
    key_index: HashMap<String, usize>,
    intents: Vec<IntentRt>,
    intent_index: HashMap<String, usize>,
    /// Two independent keyed hashers: nonces are remembered as 128-bit hashes.
    nonce_hashers: (RandomState, RandomState),
    stats: Mutex<SimStats>,
}

struct KeyRt {
    api_key: String,
    api_secret: String,
    rate_limit: Option<u32>,
    state: Mutex<KeyState>,
}

#[derive(Default)]
struct KeyState {
    nonces: HashSet<u128>,
    /// (expiry unix second, nonce hash), earliest first.
    expiries: BinaryHeap<Reverse<(u64, u128)>>,
    window_second: u64,
    window_count: u64,
}

struct IntentRt {
    owner: Option<usize>,
    lifecycle: Vec<i64>,
    step: Duration,
    fail: Option<SimFailure>,
    first_poll: OnceLock<Instant>,
    polls: AtomicU64,
}

impl IntentRt {
    fn status_at(&self, started: Instant) -> i64 {
        let Some(last) = self.lifecycle.len().checked_sub(1) else {
            return default_lifecycle()[0];
        };
        let step = self.step.as_nanos().max(1);
        let index = (started.elapsed().as_nanos() / step).min(last as u128) as usize;
        self.lifecycle[index]
    }
}

#[derive(Clone, Copy)]
enum Endpoint<'a> {
    Status(&'a str),
    Ping,
}

enum Payload {
    Status(i64),
    Pong,
}

/// What to answer, decided synchronously (no lock is held across an `.await`).
struct Answer {
    http: StatusCode,
    kind: AnswerKind,
    retry_after: bool,
    bad_signature: bool,
}

enum AnswerKind {
    Ok(Payload),
    Error(i64, String),
    Malformed(Malformed, i64),
}

impl Answer {
    fn error(code: i64, http: StatusCode, message: impl Into<String>) -> Answer {
        Answer {
            http,
            kind: AnswerKind::Error(code, message.into()),
            retry_after: false,
            bad_signature: false,
        }
    }

    fn ok(payload: Payload) -> Answer {
        Answer {
            http: StatusCode::OK,
            kind: AnswerKind::Ok(payload),
            retry_after: false,
            bad_signature: false,
        }
    }

    fn stats_code(&self) -> i64 {
        match &self.kind {
            AnswerKind::Ok(_) => 0,
            AnswerKind::Error(code, _) => *code,
            AnswerKind::Malformed(..) => MALFORMED_STATS_CODE,
        }
    }

    /// (content type, exact body bytes).
    fn body(&self, request_id: &str) -> (&'static str, Vec<u8>) {
        const JSON: &str = "application/json";
        match &self.kind {
            AnswerKind::Ok(Payload::Status(s)) => (JSON, envelope(0, s, None, request_id)),
            AnswerKind::Ok(Payload::Pong) => (
                JSON,
                envelope(0, &serde_json::json!({"pong": "ok"}), None, request_id),
            ),
            AnswerKind::Error(code, message) => {
                (JSON, envelope(*code, &(), Some(message), request_id))
            }
            AnswerKind::Malformed(Malformed::NotJson, _) => {
                ("text/html; charset=utf-8", b"<html>oops</html>".to_vec())
            }
            AnswerKind::Malformed(Malformed::NoCode, s) => (
                JSON,
                serde_json::to_vec(&serde_json::json!({"payload": s, "request_id": request_id}))
                    .expect("JSON values serialize"),
            ),
            AnswerKind::Malformed(Malformed::StringPayload, s) => {
                (JSON, envelope(0, &s.to_string(), None, request_id))
            }
            AnswerKind::Malformed(
                Malformed::Huge | Malformed::Trickle | Malformed::Reset | Malformed::Stall,
                s,
            ) => (JSON, envelope(0, s, None, request_id)),
            AnswerKind::Malformed(Malformed::Oversize, s) => {
                let mut body = envelope(0, s, None, request_id);
                body.pop(); // the closing '}'
                body.extend_from_slice(b",\"padding\":\"");
                body.resize(body.len() + OVERSIZE_PADDING, b'x');
                body.extend_from_slice(b"\"}");
                (JSON, body)
            }
        }
    }
}

#[derive(Serialize)]
struct Envelope<'a, P: Serialize> {
    code: i64,
    payload: &'a P,
    error: Option<ErrorBody<'a>>,
    request_id: &'a str,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    message: &'a str,
}

/// Serializes `{"code","payload","error","request_id"}` in that order; `payload` is
/// `null` when `P` is `()`.
fn envelope<P: Serialize>(
    code: i64,
    payload: &P,
    message: Option<&str>,
    request_id: &str,
) -> Vec<u8> {
    serde_json::to_vec(&Envelope {
        code,
        payload,
        error: message.map(|message| ErrorBody { message }),
        request_id,
    })
    .expect("envelopes serialize")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn parse_timestamp(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The protocol's name as `http::Version`'s `Debug` spells it, without a per-request
/// allocation.
fn http_version_name(version: axum::http::Version) -> &'static str {
    use axum::http::Version;
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "other",
    }
}

fn header_str<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty())
}

fn bump<K: Ord>(map: &mut BTreeMap<K, u64>, key: K) {
    *map.entry(key).or_insert(0) += 1;
}

fn bump_str(map: &mut BTreeMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.to_owned(), 1);
        }
    }
}

/// The result of authentication plus the endpoint decision.
struct Decision {
    answer: Answer,
    /// The key named by X-API-Key, if the scenario knows it (answers are then signed).
    key: Option<usize>,
    /// The request passed authentication (signature, window, nonce).
    authenticated: bool,
}

impl Inner {
    fn new(scenario: Scenario) -> Inner {
        let mut key_index = HashMap::with_capacity(scenario.keys.len());
        let mut keys = Vec::with_capacity(scenario.keys.len());
        for k in scenario.keys {
            // With an unvalidated scenario, the first of duplicate keys wins.
            key_index.entry(k.api_key.clone()).or_insert(keys.len());
            keys.push(KeyRt {
                api_key: k.api_key,
                api_secret: k.api_secret,
                rate_limit: k.rate_limit_per_second,
                state: Mutex::new(KeyState::default()),
            });
        }
        let mut intent_index = HashMap::with_capacity(scenario.intents.len());
        let mut intents = Vec::with_capacity(scenario.intents.len());
        for i in scenario.intents {
            intent_index.entry(i.id.clone()).or_insert(intents.len());
            intents.push(IntentRt {
                owner: key_index.get(&i.key).copied(),
                lifecycle: i.lifecycle,
                step: i.step,
                fail: i.fail,
                first_poll: OnceLock::new(),
                polls: AtomicU64::new(0),
            });
        }
        Inner {
            latency: scenario.latency,
            clock_offset: scenario.clock_offset_seconds,
            sign_responses: scenario.sign_responses,
            window_secs: scenario.timestamp_window.as_secs(),
            keys,
            key_index,
            intents,
            intent_index,
            nonce_hashers: (RandomState::new(), RandomState::new()),
            stats: Mutex::new(SimStats::default()),
        }
    }

    fn nonce_hash(&self, nonce: &str) -> u128 {
        let hi = self.nonce_hashers.0.hash_one(nonce);
        let lo = self.nonce_hashers.1.hash_one(nonce);
        (u128::from(hi) << 64) | u128::from(lo)
    }

    fn decide(&self, parts: &Parts, endpoint: Endpoint<'_>, body_sha: &str, now: u64) -> Decision {
        let key = header_str(parts, "x-api-key").and_then(|k| self.key_index.get(k).copied());
        let answer = match self.authenticate(parts, key, body_sha, now) {
            Err(answer) => answer,
            Ok(ki) => {
                return Decision {
                    answer: self.endpoint(ki, endpoint),
                    key,
                    authenticated: true,
                };
            }
        };
        Decision {
            answer,
            key,
            authenticated: false,
        }
    }

    /// Steps 1–4 of the auth rules; `Ok` carries the key index.
    fn authenticate(
        &self,
        parts: &Parts,
        key: Option<usize>,
        body_sha: &str,
        now: u64,
    ) -> Result<usize, Answer> {
        let unauthorized = StatusCode::UNAUTHORIZED;
        let (Some(_), Some(ts), Some(nonce), Some(signature)) = (
            header_str(parts, "x-api-key"),
            header_str(parts, "x-timestamp"),
            header_str(parts, "x-nonce"),
            header_str(parts, "x-signature"),
        ) else {
            return Err(Answer::error(
                20001,
                unauthorized,
                "missing authentication headers (X-API-Key, X-Timestamp, X-Nonce, X-Signature)",
            ));
        };
        let Some(ki) = key else {
            return Err(Answer::error(20001, unauthorized, "unknown API key"));
        };
        let Some(ts_num) = parse_timestamp(ts) else {
            return Err(Answer::error(
                20002,
                unauthorized,
                "X-Timestamp is not a unix time in seconds",
            ));
        };
        if now.abs_diff(ts_num) > self.window_secs {
            return Err(Answer::error(
                20002,
                unauthorized,
                format!(
                    "X-Timestamp is outside the allowed window of ±{}s",
                    self.window_secs
                ),
            ));
        }
        let k = &self.keys[ki];
        let canonical = request_canonical(
            parts.method.as_str(),
            parts.uri.path(),
            parts.uri.query().unwrap_or(""),
            ts,
            nonce,
            body_sha,
        );
        if !verify(&k.api_secret, &canonical, signature) {
            return Err(Answer::error(20002, unauthorized, "invalid signature"));
        }
        let hash = self.nonce_hash(nonce);
        let mut st = lock(&k.state);
        while let Some(Reverse((expiry, h))) = st.expiries.peek().copied() {
            if expiry >= now {
                break;
            }
            st.expiries.pop();
            st.nonces.remove(&h);
        }
        if !st.nonces.insert(hash) {
            return Err(Answer::error(20002, unauthorized, "nonce already used"));
        }
        let expiry = now.max(ts_num) + self.window_secs;
        st.expiries.push(Reverse((expiry, hash)));
        if st.window_second != now {
            st.window_second = now;
            st.window_count = 0;
        }
        st.window_count += 1;
        if let Some(limit) = k.rate_limit
            && st.window_count > u64::from(limit)
        {
            drop(st);
            let mut answer = Answer::error(
                40001,
                StatusCode::TOO_MANY_REQUESTS,
                format!("rate limit exceeded ({limit} requests per second)"),
            );
            answer.retry_after = true;
            return Err(answer);
        }
        Ok(ki)
    }

    fn endpoint(&self, ki: usize, endpoint: Endpoint<'_>) -> Answer {
        let id = match endpoint {
            Endpoint::Ping => return Answer::ok(Payload::Pong),
            Endpoint::Status(id) => id,
        };
        let Some(&ii) = self.intent_index.get(id) else {
            return Answer::error(50001, StatusCode::NOT_FOUND, "checkout intent not found");
        };
        let intent = &self.intents[ii];
        if intent.owner != Some(ki) {
            return Answer::error(
                30001,
                StatusCode::FORBIDDEN,
                "forbidden: no permission to view this checkout intent",
            );
        }
        let poll = intent.polls.fetch_add(1, Ordering::Relaxed) + 1;
        let started = *intent.first_poll.get_or_init(Instant::now);
        let status = intent.status_at(started);
        let ok = Answer::ok(Payload::Status(status));
        let Some(fail) = &intent.fail else {
            return ok;
        };
        if fail.first.is_some_and(|n| poll > u64::from(n)) {
            return ok;
        }
        let http = fail
            .http_status
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::OK);
        let mut answer = if let Some(kind) = fail.malformed {
            Answer {
                http,
                kind: AnswerKind::Malformed(kind, status),
                retry_after: false,
                bad_signature: false,
            }
        } else if let Some(code) = fail.code {
            Answer::error(code, http, format!("injected failure (code {code})"))
        } else {
            ok
        };
        answer.bad_signature = fail.bad_signature;
        answer
    }

    fn record(&self, parts: &Parts, endpoint: Option<Endpoint<'_>>, d: &Decision, now: u64) {
        let key = match (header_str(parts, "x-api-key"), d.key) {
            (None, _) => "",
            (Some(_), Some(ki)) => self.keys[ki].api_key.as_str(),
            (Some(_), None) => UNKNOWN_KEY_STATS,
        };
        let mut stats = lock(&self.stats);
        bump_str(&mut stats.requests_by_key, key);
        bump_str(
            &mut stats.requests_by_http_version,
            http_version_name(parts.version),
        );
        if d.authenticated {
            if let Some(Endpoint::Status(id)) = endpoint {
                bump_str(&mut stats.authenticated_by_intent, id);
            }
            if let Some(ki) = d.key {
                let key = &self.keys[ki].api_key;
                match stats.per_second_by_key.get_mut(key) {
                    Some(seconds) => bump(seconds, now),
                    None => {
                        stats
                            .per_second_by_key
                            .insert(key.clone(), BTreeMap::from([(now, 1)]));
                    }
                }
            }
        }
        bump(&mut stats.answers_by_code, d.answer.stats_code());
    }

    /// The simulator's own clock: the real one shifted by `clock_offset_seconds`.
    fn server_now(&self) -> u64 {
        unix_now().saturating_add_signed(self.clock_offset)
    }

    async fn handle(&self, endpoint: Option<Endpoint<'_>>, req: Request) -> Response {
        let (parts, body) = req.into_parts();
        let body_sha = match axum::body::to_bytes(body, MAX_REQUEST_BODY).await {
            Ok(bytes) => sha256_hex(&bytes),
            // Unreadable or oversized: no signature can match this hash.
            Err(_) => String::from("unreadable"),
        };
        let now = unix_now();
        let decision = match endpoint {
            Some(endpoint) => self.decide(&parts, endpoint, &body_sha, self.server_now()),
            None => Decision {
                answer: Answer::error(
                    99999,
                    StatusCode::NOT_FOUND,
                    format!("no route for {} {}", parts.method, parts.uri.path()),
                ),
                key: None,
                authenticated: false,
            },
        };
        self.record(&parts, endpoint, &decision, now);
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        if matches!(
            decision.answer.kind,
            AnswerKind::Malformed(Malformed::Stall, _)
        ) {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        self.render(&parts, &body_sha, decision)
    }

    fn render(&self, parts: &Parts, body_sha: &str, d: Decision) -> Response {
        let request_id = format!("req_{:016x}", rand::random::<u64>());
        let (content_type, body) = d.answer.body(&request_id);
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = d.answer.http;
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(
            "x-request-id",
            HeaderValue::from_str(&request_id).expect("request ids are ASCII"),
        );
        if d.answer.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        let date = crate::api::httpdate::format(self.server_now() as i64);
        headers.insert(
            header::DATE,
            HeaderValue::from_str(&date).expect("dates are ASCII"),
        );
        if let (true, Some(ki)) = (self.sign_responses, d.key) {
            let secret = &self.keys[ki].api_secret;
            let request_nonce = header_str(parts, "x-nonce").unwrap_or("");
            let timestamp = self.server_now().to_string();
            let nonce = uuid::Uuid::new_v4().to_string();
            let canonical = response_canonical(&ResponseFields {
                status_code: d.answer.http.as_u16(),
                path: parts.uri.path(),
                request_nonce,
                request_body_sha256: body_sha,
                response_timestamp: &timestamp,
                response_nonce: &nonce,
                response_body_sha256: &sha256_hex(&body),
            });
            let signature = if d.answer.bad_signature {
                sign(&format!("{secret}.wrong"), &canonical)
            } else {
                sign(secret, &canonical)
            };
            let value = |s: &str| HeaderValue::from_str(s).expect("signing headers are ASCII");
            headers.insert("x-response-timestamp", value(&timestamp));
            headers.insert("x-response-nonce", value(&nonce));
            if let Some(v) = parts.headers.get("x-nonce") {
                headers.insert("x-request-nonce", v.clone());
            }
            headers.insert("x-response-signature", value(&signature));
        }
        let hostile = match d.answer.kind {
            AnswerKind::Malformed(kind, _) => hostile_body(kind, body.clone()),
            _ => None,
        };
        *resp.body_mut() = hostile.unwrap_or_else(|| Body::from(Bytes::from(body)));
        resp
    }
}

async fn status_route(
    State(sim): State<Simulator>,
    UrlPath(id): UrlPath<String>,
    req: Request,
) -> Response {
    sim.inner.handle(Some(Endpoint::Status(&id)), req).await
}

async fn ping_route(State(sim): State<Simulator>, req: Request) -> Response {
    sim.inner.handle(Some(Endpoint::Ping), req).await
}

async fn fallback_route(State(sim): State<Simulator>, req: Request) -> Response {
    sim.inner.handle(None, req).await
}

async fn stats_route(State(sim): State<Simulator>) -> Response {
    axum::Json(sim.stats()).into_response()
}

impl Simulator {
    pub fn new(scenario: Scenario) -> Self {
        Simulator {
            inner: Arc::new(Inner::new(scenario)),
        }
    }
    /// The axum router serving the API (and `GET /-/stats` with [`SimStats`] as JSON).
    pub fn router(&self) -> axum::Router {
        Router::new()
            .route("/v1/checkout_intents/{id}/status", get(status_route))
            .route("/v1/test/ping", get(ping_route))
            .route("/-/stats", get(stats_route))
            .fallback(fallback_route)
            .with_state(self.clone())
    }
    pub fn stats(&self) -> SimStats {
        lock(&self.inner.stats).clone()
    }
    /// Serves on `listener` until `shutdown` completes.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::signing::EMPTY_BODY_SHA256;
    use serde_json::Value;

    const KEY_A: &str = "st_key_a";
    const SECRET_A: &str = "st_secret_a";
    const KEY_B: &str = "st_key_b";
    const SECRET_B: &str = "st_secret_b";

    const PLAIN: &str = "65b2f3d0d2d9c0a1b2c3d4e5";
    const MOVING: &str = "6650a1b2c3d4e5f60718293a";
    const OWNED_BY_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbb";
    const FAIL_TWICE: &str = "f0f0f0f0f0f0f0f0f0f0f0f0";
    const NOT_JSON: &str = "a00000000000000000000001";
    const NO_CODE: &str = "a00000000000000000000002";
    const STRING_PAYLOAD: &str = "a00000000000000000000003";
    const OVERSIZE: &str = "a00000000000000000000004";
    const BAD_SIG: &str = "a00000000000000000000005";
    const UNKNOWN: &str = "ffffffffffffffffffffffff";

    const SCENARIO: &str = r#"
sign_responses: true
keys:
  - api_key: st_key_a
    api_secret: st_secret_a
  - api_key: st_key_b
    api_secret: st_secret_b
  - api_key: st_key_limited
    api_secret: st_secret_limited
    rate_limit_per_second: 3
intents:
  - id: 65b2f3d0d2d9c0a1b2c3d4e5
    key: st_key_a
    lifecycle: [10]
  - id: 6650a1b2c3d4e5f60718293a
    key: st_key_a
    lifecycle: [1, 2, 10, 20]
    step: 50ms
  - id: bbbbbbbbbbbbbbbbbbbbbbbb
    key: st_key_b
  - id: f0f0f0f0f0f0f0f0f0f0f0f0
    key: st_key_a
    lifecycle: [2]
    fail: { code: 90000, http_status: 500, first: 2 }
  - id: a00000000000000000000001
    key: st_key_a
    fail: { malformed: not_json, http_status: 502 }
  - id: a00000000000000000000002
    key: st_key_a
    lifecycle: [2]
    fail: { malformed: no_code }
  - id: a00000000000000000000003
    key: st_key_a
    lifecycle: [2]
    fail: { malformed: string_payload }
  - id: a00000000000000000000004
    key: st_key_a
    lifecycle: [2]
    fail: { malformed: oversize }
  - id: a00000000000000000000005
    key: st_key_a
    lifecycle: [20]
    fail: { bad_signature: true }
"#;

    struct TestSim {
        base: String,
        sim: Simulator,
        client: reqwest::Client,
        _shutdown: tokio::sync::oneshot::Sender<()>,
    }

    struct Reply {
        status: u16,
        headers: reqwest::header::HeaderMap,
        body: Vec<u8>,
    }

    impl Reply {
        fn json(&self) -> Value {
            serde_json::from_slice(&self.body).expect("a JSON body")
        }
        fn code(&self) -> i64 {
            self.json()["code"].as_i64().expect("an integer code")
        }
        fn header(&self, name: &str) -> Option<&str> {
            self.headers.get(name).map(|v| v.to_str().unwrap())
        }
    }

    async fn start(yaml: &str) -> TestSim {
        let sim = Simulator::new(Scenario::from_yaml_str(yaml).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(sim.clone().serve(listener, async {
            let _ = rx.await;
        }));
        TestSim {
            base: format!("http://{addr}"),
            sim,
            client: reqwest::Client::new(),
            _shutdown: tx,
        }
    }

    fn status_path(id: &str) -> String {
        format!("/v1/checkout_intents/{id}/status")
    }

    /// The four auth headers for a GET of `path`, signed with `secret`.
    fn signed(key: &str, secret: &str, path: &str, ts: u64, nonce: &str) -> Vec<(String, String)> {
        let ts = ts.to_string();
        let canonical = request_canonical("GET", path, "", &ts, nonce, EMPTY_BODY_SHA256);
        vec![
            ("X-API-Key".into(), key.into()),
            ("X-Timestamp".into(), ts),
            ("X-Nonce".into(), nonce.into()),
            ("X-Signature".into(), sign(secret, &canonical)),
        ]
    }

    fn fresh_nonce() -> String {
        uuid::Uuid::new_v4().to_string()
    }

    impl TestSim {
        async fn send(&self, path: &str, headers: &[(String, String)]) -> Reply {
            let mut req = self.client.get(format!("{}{path}", self.base));
            for (k, v) in headers {
                req = req.header(k, v);
            }
            let resp = req.send().await.unwrap();
            Reply {
                status: resp.status().as_u16(),
                headers: resp.headers().clone(),
                body: resp.bytes().await.unwrap().to_vec(),
            }
        }

        async fn get_as(&self, key: &str, secret: &str, path: &str) -> Reply {
            let headers = signed(key, secret, path, unix_now(), &fresh_nonce());
            self.send(path, &headers).await
        }

        async fn poll(&self, id: &str) -> Reply {
            self.get_as(KEY_A, SECRET_A, &status_path(id)).await
        }
    }

    /// Verifies the response signature of `reply` to a request made with `nonce`.
    fn response_signature_ok(reply: &Reply, secret: &str, path: &str, nonce: &str) -> bool {
        let canonical = response_canonical(&ResponseFields {
            status_code: reply.status,
            path,
            request_nonce: nonce,
            request_body_sha256: EMPTY_BODY_SHA256,
            response_timestamp: reply.header("x-response-timestamp").unwrap(),
            response_nonce: reply.header("x-response-nonce").unwrap(),
            response_body_sha256: &sha256_hex(&reply.body),
        });
        verify(
            secret,
            &canonical,
            reply.header("x-response-signature").unwrap(),
        )
    }

    #[tokio::test]
    async fn good_request_gets_status_envelope() {
        let t = start(SCENARIO).await;
        let r = t.poll(PLAIN).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/json"));
        let v = r.json();
        assert_eq!(v["code"], 0);
        assert_eq!(v["payload"], 10);
        assert_eq!(v["error"], Value::Null);
        let request_id = v["request_id"].as_str().unwrap();
        assert!(request_id.starts_with("req_"));
        assert_eq!(r.header("x-request-id"), Some(request_id));
        // Field order as in the docs.
        let text = String::from_utf8(r.body.clone()).unwrap();
        assert!(text.starts_with(r#"{"code":0,"payload":10,"error":null,"request_id":"req_"#));
    }

    #[tokio::test]
    async fn ping_answers_pong() {
        let t = start(SCENARIO).await;
        let r = t.get_as(KEY_B, SECRET_B, "/v1/test/ping").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["payload"], serde_json::json!({"pong": "ok"}));
        let r = t.send("/v1/test/ping", &[]).await;
        assert_eq!((r.status, r.code()), (401, 20001));
    }

    #[tokio::test]
    async fn unknown_route_is_404_envelope() {
        let t = start(SCENARIO).await;
        let r = t.get_as(KEY_A, SECRET_A, "/v1/nope").await;
        assert_eq!((r.status, r.code()), (404, 99999));
    }

    #[tokio::test]
    async fn lifecycle_advances_from_first_poll() {
        let t = start(SCENARIO).await;
        // Time before the first poll does not count.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let first = t.poll(MOVING).await.json()["payload"].as_i64().unwrap();
        assert_eq!(first, 1);
        let order = [1, 2, 10, 20];
        let mut seen = vec![first];
        let deadline = Instant::now() + Duration::from_secs(10);
        while *seen.last().unwrap() != 20 {
            assert!(Instant::now() < deadline, "never reached 20: {seen:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
            seen.push(t.poll(MOVING).await.json()["payload"].as_i64().unwrap());
        }
        let idx: Vec<usize> = seen
            .iter()
            .map(|s| order.iter().position(|o| o == s).unwrap())
            .collect();
        assert!(
            idx.windows(2).all(|w| w[0] <= w[1]),
            "went backwards: {seen:?}"
        );
        // It stays at the last status.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(t.poll(MOVING).await.json()["payload"], 20);
    }

    #[tokio::test]
    async fn missing_headers_and_unknown_key_are_20001() {
        let t = start(SCENARIO).await;
        let path = status_path(PLAIN);
        for missing in ["X-API-Key", "X-Timestamp", "X-Nonce", "X-Signature"] {
            let mut headers = signed(KEY_A, SECRET_A, &path, unix_now(), &fresh_nonce());
            headers.retain(|(k, _)| k != missing);
            let r = t.send(&path, &headers).await;
            assert_eq!((r.status, r.code()), (401, 20001), "without {missing}");
            assert_eq!(r.json()["payload"], Value::Null);
            assert!(r.json()["error"]["message"].is_string());
        }
        let r = t.get_as("st_nobody", SECRET_A, &path).await;
        assert_eq!((r.status, r.code()), (401, 20001));
        assert!(
            r.header("x-response-signature").is_none(),
            "unknown key: unsigned"
        );
    }

    #[tokio::test]
    async fn bad_signature_is_20002() {
        let t = start(SCENARIO).await;
        let path = status_path(PLAIN);
        let r = t.get_as(KEY_A, "st_wrong_secret", &path).await;
        assert_eq!((r.status, r.code()), (401, 20002));
        // Signed for another path.
        let headers = signed(
            KEY_A,
            SECRET_A,
            &status_path(MOVING),
            unix_now(),
            &fresh_nonce(),
        );
        let r = t.send(&path, &headers).await;
        assert_eq!((r.status, r.code()), (401, 20002));
        // A query string that was not signed.
        let headers = signed(KEY_A, SECRET_A, &path, unix_now(), &fresh_nonce());
        let r = t.send(&format!("{path}?x=1"), &headers).await;
        assert_eq!((r.status, r.code()), (401, 20002));
    }

    #[tokio::test]
    async fn stale_or_garbled_timestamp_is_20002() {
        let t = start(SCENARIO).await;
        let path = status_path(PLAIN);
        for ts in [unix_now() - 400, unix_now() + 400] {
            let headers = signed(KEY_A, SECRET_A, &path, ts, &fresh_nonce());
            let r = t.send(&path, &headers).await;
            assert_eq!((r.status, r.code()), (401, 20002), "ts {ts}");
        }
        // Within the window is fine.
        let headers = signed(KEY_A, SECRET_A, &path, unix_now() - 100, &fresh_nonce());
        assert_eq!(t.send(&path, &headers).await.code(), 0);
        // Milliseconds and non-numbers are not seconds.
        let mut headers = signed(KEY_A, SECRET_A, &path, unix_now(), &fresh_nonce());
        headers[1].1 = format!("{}000", headers[1].1);
        assert_eq!(t.send(&path, &headers).await.code(), 20002);
        headers[1].1 = "soon".into();
        assert_eq!(t.send(&path, &headers).await.code(), 20002);
    }

    #[tokio::test]
    async fn replayed_nonce_is_20002() {
        let t = start(SCENARIO).await;
        let path = status_path(PLAIN);
        let nonce = fresh_nonce();
        let headers = signed(KEY_A, SECRET_A, &path, unix_now(), &nonce);
        assert_eq!(t.send(&path, &headers).await.code(), 0);
        let r = t.send(&path, &headers).await;
        assert_eq!((r.status, r.code()), (401, 20002));
        // Nonces are per key: another key may use the same one.
        let other = signed(KEY_B, SECRET_B, "/v1/test/ping", unix_now(), &nonce);
        assert_eq!(t.send("/v1/test/ping", &other).await.code(), 0);
        // A request whose signature fails does not burn its nonce.
        let nonce = fresh_nonce();
        let bad = signed(KEY_A, "st_wrong_secret", &path, unix_now(), &nonce);
        assert_eq!(t.send(&path, &bad).await.code(), 20002);
        let good = signed(KEY_A, SECRET_A, &path, unix_now(), &nonce);
        assert_eq!(t.send(&path, &good).await.code(), 0);
    }

    #[tokio::test]
    async fn other_keys_intent_is_30001_and_unknown_id_is_50001() {
        let t = start(SCENARIO).await;
        let r = t.poll(OWNED_BY_B).await;
        assert_eq!((r.status, r.code()), (403, 30001));
        let r = t.get_as(KEY_B, SECRET_B, &status_path(OWNED_BY_B)).await;
        assert_eq!((r.status, r.code()), (200, 0));
        let r = t.poll(UNKNOWN).await;
        assert_eq!((r.status, r.code()), (404, 50001));
        assert_eq!(r.json()["payload"], Value::Null);
    }

    #[tokio::test]
    async fn rate_limit_is_40001_with_retry_after() {
        let t = start(SCENARIO).await;
        let mut ok = 0;
        let mut limited = 0;
        let started = unix_now();
        // Concurrently, so they land in as few unix seconds as possible.
        let replies = futures_util::future::join_all(
            (0..30).map(|_| t.get_as("st_key_limited", "st_secret_limited", "/v1/test/ping")),
        )
        .await;
        for r in replies {
            match r.code() {
                0 => ok += 1,
                40001 => {
                    assert_eq!(r.status, 429);
                    assert_eq!(r.header("retry-after"), Some("1"));
                    limited += 1;
                }
                other => panic!("unexpected code {other}"),
            }
        }
        let seconds = unix_now() - started + 1;
        assert!(limited > 0, "no 429 in 30 requests");
        assert!(ok <= 3 * seconds, "{ok} successes in {seconds} s");
        // Other keys are not limited.
        for _ in 0..5 {
            assert_eq!(t.poll(PLAIN).await.code(), 0);
        }
    }

    #[tokio::test]
    async fn first_n_polls_fail_then_succeed() {
        let t = start(SCENARIO).await;
        // A 30001 poll by another key is not one of the intent's polls.
        let r = t.get_as(KEY_B, SECRET_B, &status_path(FAIL_TWICE)).await;
        assert_eq!(r.code(), 30001);
        for _ in 0..2 {
            let r = t.poll(FAIL_TWICE).await;
            assert_eq!((r.status, r.code()), (500, 90000));
            assert_eq!(r.json()["payload"], Value::Null);
        }
        for _ in 0..2 {
            let r = t.poll(FAIL_TWICE).await;
            assert_eq!((r.status, r.code()), (200, 0));
            assert_eq!(r.json()["payload"], 2);
        }
        assert_eq!(t.sim.stats().authenticated_by_intent[FAIL_TWICE], 5);
    }

    #[tokio::test]
    async fn malformed_answers() {
        let t = start(SCENARIO).await;

        let r = t.poll(NOT_JSON).await;
        assert_eq!(r.status, 502);
        assert_eq!(r.body, b"<html>oops</html>");
        assert!(serde_json::from_slice::<Value>(&r.body).is_err());
        assert!(r.header("x-request-id").is_some());

        let r = t.poll(NO_CODE).await;
        assert_eq!(r.status, 200);
        let v = r.json();
        assert!(v.get("code").is_none());
        assert_eq!(v["payload"], 2);

        let r = t.poll(STRING_PAYLOAD).await;
        assert_eq!(r.status, 200);
        let v = r.json();
        assert_eq!(v["code"], 0);
        assert_eq!(v["payload"], "2");

        let r = t.poll(OVERSIZE).await;
        assert_eq!(r.status, 200);
        assert!(r.body.len() > 100 * 1024, "{} bytes", r.body.len());
        let v = r.json();
        assert_eq!(
            (v["code"].as_i64(), v["payload"].as_i64()),
            (Some(0), Some(2))
        );

        let stats = t.sim.stats();
        assert_eq!(stats.answers_by_code.get(&MALFORMED_STATS_CODE), Some(&4));
        assert_eq!(stats.answers_by_code.get(&0), None);
    }

    #[tokio::test]
    async fn response_signatures() {
        let t = start(SCENARIO).await;
        let path = status_path(PLAIN);
        let nonce = fresh_nonce();
        let r = t
            .send(&path, &signed(KEY_A, SECRET_A, &path, unix_now(), &nonce))
            .await;
        assert_eq!(r.code(), 0);
        assert_eq!(r.header("x-request-nonce"), Some(nonce.as_str()));
        assert!(r.header("x-response-signature").unwrap().starts_with("v1="));
        let ts: u64 = r.header("x-response-timestamp").unwrap().parse().unwrap();
        assert!(ts.abs_diff(unix_now()) <= 30);
        assert!(uuid::Uuid::parse_str(r.header("x-response-nonce").unwrap()).is_ok());
        assert!(response_signature_ok(&r, SECRET_A, &path, &nonce));
        assert!(!response_signature_ok(&r, SECRET_B, &path, &nonce));

        // Error answers for a known key are signed too.
        let path = status_path(UNKNOWN);
        let nonce = fresh_nonce();
        let r = t
            .send(&path, &signed(KEY_A, SECRET_A, &path, unix_now(), &nonce))
            .await;
        assert_eq!(r.code(), 50001);
        assert!(response_signature_ok(&r, SECRET_A, &path, &nonce));

        // bad_signature: a normal answer, wrongly signed.
        let path = status_path(BAD_SIG);
        let nonce = fresh_nonce();
        let r = t
            .send(&path, &signed(KEY_A, SECRET_A, &path, unix_now(), &nonce))
            .await;
        assert_eq!((r.status, r.code()), (200, 0));
        assert_eq!(r.json()["payload"], 20);
        assert!(!response_signature_ok(&r, SECRET_A, &path, &nonce));
    }

    #[tokio::test]
    async fn unsigned_scenario_has_no_signature_headers() {
        let t = start("keys: [{api_key: st_k, api_secret: st_s}]").await;
        let r = t.get_as("st_k", "st_s", "/v1/test/ping").await;
        assert_eq!(r.code(), 0);
        assert!(r.header("x-response-signature").is_none());
        assert!(r.header("x-request-id").is_some());
    }

    #[tokio::test]
    async fn latency_delays_answers() {
        let t = start("latency: 300ms\nkeys: [{api_key: st_k, api_secret: st_s}]").await;
        let started = Instant::now();
        assert_eq!(t.get_as("st_k", "st_s", "/v1/test/ping").await.code(), 0);
        assert!(started.elapsed() >= Duration::from_millis(300));
    }

    #[tokio::test]
    async fn stats_count_requests_auth_and_codes() {
        let t = start(SCENARIO).await;
        t.poll(PLAIN).await;
        t.poll(PLAIN).await;
        t.poll(OWNED_BY_B).await;
        t.get_as("st_nobody", "x", &status_path(PLAIN)).await;
        t.send(&status_path(PLAIN), &[]).await;
        t.get_as(KEY_B, SECRET_B, "/v1/test/ping").await;

        let s = t.sim.stats();
        assert_eq!(s.requests_by_key[KEY_A], 3);
        assert_eq!(s.requests_by_key[KEY_B], 1);
        assert_eq!(s.requests_by_key[UNKNOWN_KEY_STATS], 1);
        assert!(!s.requests_by_key.contains_key("st_nobody"));
        assert_eq!(s.requests_by_key[""], 1);
        assert_eq!(s.authenticated_by_intent[PLAIN], 2);
        assert_eq!(s.authenticated_by_intent[OWNED_BY_B], 1);
        assert_eq!(s.authenticated_by_intent.len(), 2);
        assert_eq!(s.answers_by_code[&0], 3);
        assert_eq!(s.answers_by_code[&30001], 1);
        assert_eq!(s.answers_by_code[&20001], 2);
        assert_eq!(s.per_second_by_key[KEY_A].values().sum::<u64>(), 3);
        assert_eq!(s.per_second_by_key[KEY_B].values().sum::<u64>(), 1);
        assert!(!s.per_second_by_key.contains_key("st_nobody"));

        // The same over HTTP, unauthenticated.
        let v: Value = t
            .client
            .get(format!("{}/-/stats", t.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["requests_by_key"][KEY_A], 3);
        assert_eq!(v["answers_by_code"]["30001"], 1);
    }

    #[tokio::test]
    async fn made_up_api_keys_share_one_stats_bucket() {
        let t = start(SCENARIO).await;
        for i in 0..50 {
            t.get_as(&format!("st_made_up_{i}"), "x", &status_path(PLAIN))
                .await;
        }
        t.poll(PLAIN).await;
        let s = t.sim.stats();
        assert_eq!(s.requests_by_key[UNKNOWN_KEY_STATS], 50);
        assert_eq!(s.requests_by_key[KEY_A], 1);
        assert_eq!(s.requests_by_key.len(), 2, "{:?}", s.requests_by_key);
        assert!(s.per_second_by_key.keys().all(|k| k == KEY_A));
    }

    #[tokio::test]
    async fn serve_stops_on_shutdown() {
        let sim = Simulator::new(Scenario::from_yaml_str(SCENARIO).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(sim.serve(listener, async {
            let _ = rx.await;
        }));
        tx.send(()).unwrap();
        let result = tokio::time::timeout(Duration::from_secs(5), task).await;
        assert!(matches!(result, Ok(Ok(Ok(())))));
    }

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
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scenarios");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
                assert!(!scenario.keys.is_empty());
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
