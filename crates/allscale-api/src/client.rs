//! The signed HTTP client: one per store, one request per status poll or detail fetch.

use std::time::{Duration, Instant};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hyper::http::header::{RETRY_AFTER, USER_AGENT};
use hyper::http::uri::PathAndQuery;
use hyper::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use url::Url;

use super::base_url::BaseUrl;
use super::code::ApiCode;
use super::detail::Detail;
use super::envelope::{DecodeError, Envelope};
use super::header_str;
use super::signing::{self, EMPTY_BODY_SHA256, ResponseFields, Signer};
use super::status::{Outcome, Status};
use super::transport::{BodyError, HttpVersion, SetupError, Transport, TransportError};

/// Answers larger than this are refused: a status envelope is under 200 bytes, a detail
/// under 1 KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The longest `Retry-After` honoured: a hostile or buggy value must not mute a store.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);

pub use crate::request::{Endpoint, RequestResult};

/// Why a request produced no status (or detail).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    /// The envelope's code was not 0.
    #[error("API error {code}: {}", message.as_deref().unwrap_or("(no message)"))]
    Api {
        /// The envelope's code.
        code: ApiCode,
        /// The envelope's error message, if any.
        message: Option<String>,
        /// The server's `Retry-After`, capped at [`MAX_RETRY_AFTER`].
        retry_after: Option<Duration>,
    },
    /// A non-2xx answer without a usable envelope (or with code 0).
    #[error("HTTP {status} without a valid envelope")]
    Http {
        /// The HTTP status.
        status: u16,
        /// The server's `Retry-After`, capped at [`MAX_RETRY_AFTER`].
        retry_after: Option<Duration>,
    },
    /// No answer within the request timeout.
    #[error("request timed out")]
    Timeout,
    /// No connection, or it failed before an answer (every cause, innermost last).
    #[error("transport error: {0}")]
    Connect(String),
    /// A malformed answer.
    #[error("malformed answer: {0}")]
    Decode(#[from] DecodeError),
    /// The response signature is missing or wrong (why).
    #[error("response signature rejected: {0}")]
    BadResponseSignature(&'static str),
}

impl FetchError {
    /// The `result` label this error is counted under.
    pub fn result(&self) -> RequestResult {
        match self {
            Self::Api { .. } => RequestResult::ApiError,
            Self::Http { .. } => RequestResult::HttpError,
            Self::Timeout => RequestResult::Timeout,
            Self::Connect(_) => RequestResult::ConnectError,
            Self::Decode(_) => RequestResult::DecodeError,
            Self::BadResponseSignature(_) => RequestResult::BadResponseSignature,
        }
    }
}

/// The result of one request: a status, or (`Fetch<Detail>`) an intent's detail.
#[derive(Debug, Clone)]
pub struct Fetch<T = Status> {
    /// From sending the request to the whole answer (or the failure).
    pub elapsed: Duration,
    /// The API's `request_id` (envelope, else `X-Request-Id`), for logs.
    pub request_id: Option<String>,
    /// HTTP status of the answer, when there was one.
    pub http_status: Option<u16>,
    /// Server clock minus ours, in seconds, from `X-Response-Timestamp` (or `Date`);
    /// read from the first answer of each second only.
    pub clock_skew: Option<f64>,
    /// The status or detail, or why there is none.
    pub outcome: Result<T, FetchError>,
}

impl<T> Fetch<T> {
    /// 40001 or HTTP 429: the whole store must slow down.
    pub fn is_rate_limited(&self) -> bool {
        self.http_status == Some(429)
            || matches!(
                self.outcome,
                Err(FetchError::Api {
                    code: ApiCode::RateLimited,
                    ..
                })
            )
    }

    /// The server's `Retry-After`, if it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match &self.outcome {
            Err(FetchError::Api { retry_after, .. } | FetchError::Http { retry_after, .. }) => {
                *retry_after
            }
            _ => None,
        }
    }

    /// The `result` label this request is counted under.
    pub fn result(&self) -> RequestResult {
        match &self.outcome {
            Ok(_) => RequestResult::Ok,
            Err(e) => e.result(),
        }
    }

    /// `allscale_api_up` semantics: reachable, authenticated, and not a server error.
    pub fn api_reachable(&self) -> bool {
        match &self.outcome {
            Ok(_) => true,
            Err(FetchError::Api { code, .. }) => !code.means_api_down(),
            Err(_) => false,
        }
    }
}

/// What a client needs to reach one store's API. Its `Debug` shows nothing of the secret
/// (the [`Signer`] holds it).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The API's base URL; its path (usually empty) prefixes every API path.
    pub base_url: BaseUrl,
    /// The store's API key, sent as `X-API-Key`.
    pub api_key: String,
    /// The store's API secret, as a prepared key: `Signer::new(secret)`.
    pub signer: Signer,
    /// HTTP/1.1, HTTP/2 or either.
    pub http_version: HttpVersion,
    /// HTTP/1.1 connections kept open at most.
    pub max_concurrency: usize,
    /// How long a request may take, from sending to the whole answer.
    pub request_timeout: Duration,
    /// Refuse answers without a valid response signature (§2 of the API notes).
    pub verify_response_signature: bool,
    /// The `User-Agent` header, e.g. `my-shop/1.0`.
    pub user_agent: String,
}

/// A store's API client. Cheap to clone: one `Arc` (the connection pool is shared).
#[derive(Clone)]
pub struct ApiClient(Arc<ClientInner>);

struct ClientInner {
    transport: Transport,
    base: Url,
    /// Path prefix of `base_url` (usually empty), prepended to every API path.
    prefix: String,
    api_key: HeaderValue,
    user_agent: HeaderValue,
    signer: Signer,
    /// The unix second clock skew was last read in: once a second is enough.
    skew_read_at: AtomicU64,
    verify_response_signature: bool,
}

const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
const X_TIMESTAMP: HeaderName = HeaderName::from_static("x-timestamp");
const X_NONCE: HeaderName = HeaderName::from_static("x-nonce");
const X_SIGNATURE: HeaderName = HeaderName::from_static("x-signature");

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("base", &self.0.base.as_str())
            .field("api_key", &self.0.api_key.to_str().unwrap_or("?"))
            .finish_non_exhaustive()
    }
}

/// Building the client failed (bad base URL or TLS set-up).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The API key cannot be sent as a header.
    #[error("api_key is not a valid HTTP header value")]
    ApiKey,
    /// The `User-Agent` cannot be sent as a header.
    #[error("the User-Agent is not a valid HTTP header value")]
    UserAgent,
    /// The transport could not be set up.
    #[error("cannot set up the HTTP client: {0}")]
    Setup(#[from] SetupError),
}

impl ApiClient {
    /// A client for one store; no connection is opened until the first request.
    pub fn new(config: &ClientConfig) -> Result<Self, ClientError> {
        let base = config.base_url.url().clone();
        let prefix = base.path().trim_end_matches('/').to_string();
        let transport = Transport::new(
            &base,
            config.http_version,
            config.max_concurrency,
            config.request_timeout,
        )?;
        let api_key = HeaderValue::from_str(&config.api_key).map_err(|_| ClientError::ApiKey)?;
        let user_agent =
            HeaderValue::from_str(&config.user_agent).map_err(|_| ClientError::UserAgent)?;
        Ok(Self(Arc::new(ClientInner {
            transport,
            base,
            prefix,
            api_key,
            user_agent,
            signer: config.signer.clone(),
            skew_read_at: AtomicU64::new(0),
            verify_response_signature: config.verify_response_signature,
        })))
    }

    /// `GET /v1/checkout_intents/{id}/status`, freshly signed.
    pub async fn fetch_status(&self, intent_id: &str) -> Fetch {
        let path = format!("{}/v1/checkout_intents/{intent_id}/status", self.0.prefix);
        self.0
            .fetch(&path, |e| e.status_payload().map(Status::from_code))
            .await
    }

    /// `GET /v1/checkout_intents/{id}`, freshly signed: the amounts of an intent that
    /// ended as `outcome` (which says whether null amounts mean nothing was paid).
    pub async fn fetch_detail(&self, intent_id: &str, outcome: Outcome) -> Fetch<Detail> {
        let path = format!("{}/v1/checkout_intents/{intent_id}", self.0.prefix);
        self.0
            .fetch(&path, |e| {
                Detail::from_payload(&e.payload, intent_id, outcome)
            })
            .await
    }
}

impl ClientInner {
    /// One signed GET of `path`, its answer's payload read by `payload`.
    async fn fetch<T>(
        &self,
        path: &str,
        payload: impl FnOnce(&Envelope) -> Result<T, DecodeError>,
    ) -> Fetch<T> {
        let started = Instant::now();
        let (http_status, request_id, clock_skew, outcome) = match self.get(path).await {
            Ok(answer) => {
                let (request_id, outcome) = self.interpret(&answer, payload);
                let skew = self
                    .skew_due()
                    .then(|| clock_skew(&answer.headers))
                    .flatten();
                (Some(answer.status.as_u16()), request_id, skew, outcome)
            }
            Err(e) => (None, None, None, Err(e)),
        };
        Fetch {
            elapsed: started.elapsed(),
            request_id,
            http_status,
            clock_skew,
            outcome,
        }
    }

    /// A signed GET. A request the server refused unprocessed (HTTP/2 REFUSED_STREAM, or
    /// dropped by GOAWAY) goes out once more, signed anew: a status read is idempotent,
    /// and its nonce must not be reused.
    async fn get(&self, path: &str) -> Result<Answer, FetchError> {
        let target = PathAndQuery::try_from(path)
            .map_err(|e| FetchError::Connect(format!("invalid request path {path:?}: {e}")))?;
        match self.get_once(path, &target).await {
            Err(TransportError::Refused(_)) => self.get_once(path, &target).await,
            other => other,
        }
        .map_err(|e| match e {
            TransportError::Timeout => FetchError::Timeout,
            other => transport_error(other),
        })
    }

    async fn get_once(&self, path: &str, target: &PathAndQuery) -> Result<Answer, TransportError> {
        // A v4 UUID from the thread-local CSPRNG: no getrandom system call per request.
        let nonce = uuid::Builder::from_random_bytes(rand::random())
            .into_uuid()
            .to_string();
        let timestamp = crate::clock::unix_secs();
        let canonical = signing::request_canonical(
            "GET",
            path,
            "",
            &timestamp.to_string(),
            &nonce,
            EMPTY_BODY_SHA256,
        );
        let signature = self.signer.sign(&canonical);
        let mut headers = HeaderMap::with_capacity(8);
        headers.insert(USER_AGENT, self.user_agent.clone());
        headers.insert(X_API_KEY, self.api_key.clone());
        headers.insert(X_TIMESTAMP, HeaderValue::from(timestamp));
        // Unique per request: HTTP/2 sends them as never-indexed literals instead of
        // churning its header table (and a signature is credential material).
        headers.insert(X_NONCE, sensitive_header(&nonce));
        headers.insert(X_SIGNATURE, sensitive_header(&signature));
        let reply = self
            .transport
            .get(target.clone(), headers, MAX_BODY_BYTES)
            .await?;
        Ok(Answer {
            path: target.clone(),
            nonce,
            status: reply.status,
            headers: reply.headers,
            body: reply.body.map_err(body_error),
        })
    }

    /// True for the first answer in each wall-clock second.
    fn skew_due(&self) -> bool {
        let now = crate::clock::unix_secs();
        self.skew_read_at.swap(now, Ordering::Relaxed) != now
    }

    /// Turns an answer into a payload (read by `payload`) or an error, following the
    /// result rules of docs/contract.md (Request results).
    fn interpret<T>(
        &self,
        answer: &Answer,
        payload: impl FnOnce(&Envelope) -> Result<T, DecodeError>,
    ) -> (Option<String>, Result<T, FetchError>) {
        let header_request_id = header_str(&answer.headers, "x-request-id").map(str::to_owned);
        let retry_after = retry_after(&answer.headers);
        let body = match &answer.body {
            Ok(body) => body,
            Err(FetchError::Decode(_)) if !answer.status.is_success() => {
                let status = answer.status.as_u16();
                return (
                    header_request_id,
                    Err(FetchError::Http {
                        status,
                        retry_after,
                    }),
                );
            }
            Err(e) => return (header_request_id, Err(e.clone())),
        };
        if self.verify_response_signature
            && let Err(reason) = self.check_response_signature(answer, body)
        {
            return (
                header_request_id,
                Err(FetchError::BadResponseSignature(reason)),
            );
        }
        let envelope = match Envelope::decode(body) {
            Ok(envelope) => envelope,
            Err(e) if answer.status.is_success() => return (header_request_id, Err(e.into())),
            Err(_) => {
                let status = answer.status.as_u16();
                return (
                    header_request_id,
                    Err(FetchError::Http {
                        status,
                        retry_after,
                    }),
                );
            }
        };
        let request_id = envelope.request_id.clone().or(header_request_id);
        let outcome = if envelope.code != 0 {
            Err(FetchError::Api {
                code: ApiCode::from_code(envelope.code),
                message: envelope.error_message.clone(),
                retry_after,
            })
        } else if !answer.status.is_success() {
            let status = answer.status.as_u16();
            Err(FetchError::Http {
                status,
                retry_after,
            })
        } else {
            payload(&envelope).map_err(FetchError::from)
        };
        (request_id, outcome)
    }

    fn check_response_signature(&self, answer: &Answer, body: &[u8]) -> Result<(), &'static str> {
        let get = |name| header_str(&answer.headers, name);
        let signature = get("x-response-signature").ok_or("missing X-Response-Signature")?;
        let timestamp = get("x-response-timestamp").ok_or("missing X-Response-Timestamp")?;
        let response_nonce = get("x-response-nonce").ok_or("missing X-Response-Nonce")?;
        if get("x-request-nonce").is_some_and(|echo| echo != answer.nonce) {
            return Err("X-Request-Nonce does not echo our nonce");
        }
        let body_hash = signing::sha256_hex(body);
        let canonical = signing::response_canonical(&ResponseFields {
            status_code: answer.status.as_u16(),
            path: answer.path.as_str(),
            request_nonce: &answer.nonce,
            request_body_sha256: EMPTY_BODY_SHA256,
            response_timestamp: timestamp,
            response_nonce,
            response_body_sha256: &body_hash,
        });
        if self.signer.verify(&canonical, signature) {
            Ok(())
        } else {
            Err("X-Response-Signature does not match")
        }
    }
}

/// What came back, before interpretation.
struct Answer {
    path: PathAndQuery,
    nonce: String,
    status: StatusCode,
    headers: HeaderMap,
    body: Result<Vec<u8>, FetchError>,
}

fn body_error(e: BodyError) -> FetchError {
    match e {
        BodyError::TooLarge { limit } => FetchError::Decode(DecodeError::TooLarge { limit }),
        read => transport_error(read),
    }
}

/// A transport failure as the text logs show: every cause, innermost last.
fn transport_error(e: impl std::error::Error) -> FetchError {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.ends_with(&inner_text) {
            text = format!("{text}: {inner_text}");
        }
        source = inner.source();
    }
    FetchError::Connect(text)
}

/// A header value from text this module generated (hex, base64), marked sensitive.
fn sensitive_header(text: &str) -> HeaderValue {
    let mut value = HeaderValue::from_str(text).expect("generated header text is visible ASCII");
    value.set_sensitive(true);
    value
}

/// The server's clock minus ours. Both sides have one-second resolution, so the value
/// is centred by half a second; good enough to see a drift long before the API's ±5
/// minute signing window.
fn clock_skew(headers: &HeaderMap) -> Option<f64> {
    let server = header_str(headers, "x-response-timestamp")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .or_else(|| header_str(headers, "date").and_then(super::httpdate::parse))?;
    Some(server as f64 + 0.5 - crate::clock::unix_now())
}

/// `Retry-After` in delta-seconds form, capped at [`MAX_RETRY_AFTER`].
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let secs: u64 = header_str(headers, RETRY_AFTER.as_str())?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_parses_seconds_and_caps() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(RETRY_AFTER, "999999".parse().unwrap());
        assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER));
        h.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn result_discriminants_index_all() {
        for (i, result) in RequestResult::ALL.iter().enumerate() {
            assert_eq!(*result as usize, i, "{}", result.as_str());
        }
        for (i, endpoint) in Endpoint::ALL.iter().enumerate() {
            assert_eq!(*endpoint as usize, i, "{}", endpoint.as_str());
        }
    }

    #[test]
    fn result_labels_are_the_contract_names() {
        let names: Vec<_> = RequestResult::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            names,
            [
                "ok",
                "api_error",
                "http_error",
                "timeout",
                "connect_error",
                "decode_error",
                "bad_response_signature"
            ]
        );
    }

    proptest::proptest! {
        /// Any bytes a header may carry, in `Retry-After`, `Date` and
        /// `X-Response-Timestamp`: a bounded value or `None`, never a panic.
        #[test]
        fn timing_headers_never_panic(value in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let Ok(value) = HeaderValue::from_bytes(&value) else {
                return Ok(());
            };
            let mut h = HeaderMap::new();
            for name in [RETRY_AFTER.as_str(), "date", "x-response-timestamp"] {
                h.insert(HeaderName::from_static(name), value.clone());
            }
            proptest::prop_assert!(retry_after(&h).is_none_or(|d| d <= MAX_RETRY_AFTER));
            let _ = clock_skew(&h);
            h.remove("x-response-timestamp");
            let _ = clock_skew(&h);
        }
    }
}
