//! What the simulator answers, and its exact bytes: the envelope, the malformed bodies of
//! `fail.malformed`, and the hostile ones streamed byte by byte, cut or endless.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use serde::Serialize;

use super::Malformed;
use super::detail::DetailPayload;

/// Size of the padding field of a [`Malformed::Oversize`] answer.
const OVERSIZE_PADDING: usize = 100 * 1024;
/// Length of a [`Malformed::Huge`] body.
const HUGE_BODY: usize = 16 * 1024 * 1024;

/// Streams a hostile body, for the kinds that are about how the bytes arrive.
pub(super) fn hostile_body(kind: Malformed, body: Vec<u8>) -> Option<Body> {
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

#[derive(Clone, Copy)]
pub(super) enum Endpoint<'a> {
    Status(&'a str),
    Detail(&'a str),
    Ping,
}

pub(super) enum Payload {
    Status(i64),
    Detail(Box<DetailPayload>),
    Pong,
}

impl Payload {
    /// A payload broken on purpose (`detail.malformed`), counted as malformed.
    pub(super) fn is_malformed(&self) -> bool {
        matches!(self, Payload::Detail(d) if d.malformed)
    }
}

impl Serialize for Payload {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Payload::Status(status) => status.serialize(s),
            Payload::Detail(detail) => detail.serialize(s),
            Payload::Pong => serde_json::json!({"pong": "ok"}).serialize(s),
        }
    }
}

/// What to answer, decided synchronously (no lock is held across an `.await`).
pub(super) struct Answer {
    pub(super) http: StatusCode,
    pub(super) kind: AnswerKind,
    pub(super) retry_after: bool,
    pub(super) bad_signature: bool,
}

pub(super) enum AnswerKind {
    Ok(Payload),
    Error(i64, String),
    /// A malformed answer carrying what the normal answer's payload would have been.
    Malformed(Malformed, Payload),
}

impl Answer {
    pub(super) fn error(code: i64, http: StatusCode, message: impl Into<String>) -> Answer {
        Answer {
            http,
            kind: AnswerKind::Error(code, message.into()),
            retry_after: false,
            bad_signature: false,
        }
    }

    pub(super) fn ok(payload: Payload) -> Answer {
        Answer {
            http: StatusCode::OK,
            kind: AnswerKind::Ok(payload),
            retry_after: false,
            bad_signature: false,
        }
    }

    /// (content type, exact body bytes).
    pub(super) fn body(&self, request_id: &str) -> (&'static str, Vec<u8>) {
        const JSON: &str = "application/json";
        match &self.kind {
            AnswerKind::Ok(payload) => (JSON, envelope(0, payload, None, request_id)),
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
                let text = serde_json::to_string(s).expect("payloads serialize");
                (JSON, envelope(0, &text, None, request_id))
            }
            AnswerKind::Malformed(
                Malformed::Huge | Malformed::Trickle | Malformed::Reset | Malformed::Stall,
                s,
            ) => (JSON, envelope(0, s, None, request_id)),
            AnswerKind::Malformed(Malformed::Oversize, s) => (
                JSON,
                padded(envelope(0, s, None, request_id), OVERSIZE_PADDING),
            ),
        }
    }
}

/// A JSON object's bytes with a last field `"padding":"xxx…"` of `padding` bytes, so it
/// stays valid JSON while passing a size cap (oversize answers and webhooks).
pub(super) fn padded(mut object: Vec<u8>, padding: usize) -> Vec<u8> {
    if object.last() != Some(&b'}') {
        return object;
    }
    object.pop();
    if object.last() != Some(&b'{') {
        object.push(b',');
    }
    object.extend_from_slice(b"\"padding\":\"");
    object.resize(object.len() + padding, b'x');
    object.extend_from_slice(b"\"}");
    object
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

/// The result of authentication plus the endpoint decision.
pub(super) struct Decision {
    pub(super) answer: Answer,
    /// The key named by X-API-Key, if the scenario knows it (answers are then signed).
    pub(super) key: Option<usize>,
    /// The request passed authentication (signature, window, nonce).
    pub(super) authenticated: bool,
}

#[cfg(test)]
mod tests {
    use crate::MALFORMED_STATS_CODE;
    use crate::testkit::*;
    use serde_json::Value;

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
}
