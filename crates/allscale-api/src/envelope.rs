//! The JSON envelope every AllScale answer is wrapped in, decoded strictly: a malformed
//! answer is an error, never a status.

use serde_json::Value;

/// A well-formed envelope: `{"code": int, "payload": any, "error": ..., "request_id": ...}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// 0 on success, an error code otherwise.
    pub code: i64,
    /// The route's data; `null` on failure.
    pub payload: Value,
    /// `error.message` (or the legacy flat `error_message`) when the API sent one.
    pub error_message: Option<String>,
    /// The API's identifier of the request, worth logging with every failure.
    pub request_id: Option<String>,
}

/// Why an answer is not a usable envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The body was cut off at `limit` bytes.
    #[error("body is larger than {limit} bytes")]
    TooLarge {
        /// The most bytes read.
        limit: usize,
    },
    /// Not JSON (the parser's message).
    #[error("body is not JSON: {0}")]
    NotJson(String),
    /// JSON, but not an object.
    #[error("body is not a JSON object")]
    NotObject,
    /// No integer `code`.
    #[error("envelope has no integer `code`")]
    NoCode,
    /// The status route's payload is not an integer (shown cut short).
    #[error("status payload is not an integer: {0}")]
    PayloadNotInteger(String),
    /// The detail route's payload is not a valid detail (why).
    #[error("detail payload: {0}")]
    BadDetail(String),
}

/// The envelope's fields as sent; every other field is ignored. Decoding into this
/// rather than a generic JSON map saves a map and a key string per field per poll.
#[derive(serde::Deserialize)]
struct Wire {
    code: Option<Value>,
    payload: Option<Value>,
    error: Option<Value>,
    error_message: Option<Value>,
    request_id: Option<Value>,
}

impl Envelope {
    /// Decodes a body; the size cap is enforced by the caller while reading.
    pub fn decode(body: &[u8]) -> Result<Envelope, DecodeError> {
        // A struct also decodes from a JSON array: only an object may be an envelope.
        if body.trim_ascii_start().first() != Some(&b'{') {
            return match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                Ok(_) => Err(DecodeError::NotObject),
                Err(e) => Err(DecodeError::NotJson(e.to_string())),
            };
        }
        let wire: Wire =
            serde_json::from_slice(body).map_err(|e| DecodeError::NotJson(e.to_string()))?;
        let code = wire
            .code
            .as_ref()
            .and_then(Value::as_i64)
            .ok_or(DecodeError::NoCode)?;
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        let nested_message = wire.error.as_ref().and_then(|e| e.get("message"));
        Ok(Envelope {
            code,
            payload: wire.payload.unwrap_or(Value::Null),
            error_message: text(nested_message.or(wire.error_message.as_ref())),
            request_id: text(wire.request_id.as_ref()),
        })
    }

    /// The status endpoint's payload: a bare integer, nothing else.
    pub fn status_payload(&self) -> Result<i64, DecodeError> {
        self.payload.as_i64().ok_or_else(|| {
            let shown = self.payload.to_string();
            DecodeError::PayloadNotInteger(crate::text::prefix(&shown, 64).to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_success_envelope() {
        let e = Envelope::decode(br#"{"code":0,"payload":20,"error":null,"request_id":"req_1"}"#)
            .unwrap();
        assert_eq!(e.code, 0);
        assert_eq!(e.status_payload(), Ok(20));
        assert_eq!(e.request_id.as_deref(), Some("req_1"));
        assert_eq!(e.error_message, None);
    }

    #[test]
    fn decodes_error_envelope_with_message() {
        let e = Envelope::decode(
            br#"{"code":50001,"payload":null,"error":{"message":"not found"},"request_id":"r"}"#,
        )
        .unwrap();
        assert_eq!(e.code, 50001);
        assert_eq!(e.error_message.as_deref(), Some("not found"));
    }

    #[test]
    fn rejects_malformed_bodies() {
        assert!(matches!(
            Envelope::decode(b"<html>oops</html>"),
            Err(DecodeError::NotJson(_))
        ));
        assert_eq!(Envelope::decode(b"[1,2]"), Err(DecodeError::NotObject));
        // An array in an envelope's field order is still not an envelope.
        assert_eq!(
            Envelope::decode(br#" [0, 20, null, null, "r"]"#),
            Err(DecodeError::NotObject)
        );
        assert!(matches!(
            Envelope::decode(br#"{"code":0,"payload":20,"payload":3}"#),
            Err(DecodeError::NotJson(_))
        ));
        assert_eq!(
            Envelope::decode(br#"{"payload":2}"#),
            Err(DecodeError::NoCode)
        );
        assert_eq!(
            Envelope::decode(br#"{"code":"0","payload":2}"#),
            Err(DecodeError::NoCode)
        );
        assert_eq!(
            Envelope::decode(br#"{"code":0.5,"payload":2}"#),
            Err(DecodeError::NoCode)
        );
    }

    #[test]
    fn status_payload_must_be_an_integer() {
        for body in [
            r#"{"code":0,"payload":"2"}"#,
            r#"{"code":0,"payload":2.5}"#,
            r#"{"code":0,"payload":null}"#,
            r#"{"code":0}"#,
            r#"{"code":0,"payload":{"status":2}}"#,
        ] {
            let e = Envelope::decode(body.as_bytes()).unwrap();
            assert!(
                matches!(e.status_payload(), Err(DecodeError::PayloadNotInteger(_))),
                "{body}"
            );
        }
        let e = Envelope::decode(br#"{"code":0,"payload":-3}"#).unwrap();
        assert_eq!(e.status_payload(), Ok(-3));
    }
}
