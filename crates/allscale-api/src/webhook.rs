//! Verifying a webhook AllScale sends (the API notes, §6): its `X-Webhook-*` headers,
//! the HMAC-SHA256 signature over the webhook canonical string, and the freshness of its
//! timestamp. This keeps no state: remembering nonces (a replay must be refused; AllScale
//! suggests keeping them 600 s) and finding the store by `X-API-Key` are the receiver's.

use std::time::Duration;

use hyper::http::HeaderMap;

use crate::signing::{WebhookFields, sha256_hex, verify, webhook_canonical};
use crate::text::prefix;

/// The longest `X-Webhook-*` header value accepted, in bytes.
pub const MAX_HEADER_CHARS: usize = 256;

/// The signature headers of a webhook, trimmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookHeaders<'a> {
    /// `X-Webhook-Id`.
    pub id: &'a str,
    /// `X-Webhook-Timestamp`: unix seconds.
    pub timestamp: &'a str,
    /// `X-Webhook-Nonce`.
    pub nonce: &'a str,
    /// `X-Webhook-Signature`: `v1=` and the Base64 MAC.
    pub signature: &'a str,
}

impl<'a> WebhookHeaders<'a> {
    /// The headers of an `http::HeaderMap` (axum's, hyper's).
    pub fn from_map(headers: &'a HeaderMap) -> Result<Self, WebhookError> {
        Self::from_fn(|name| headers.get(name).and_then(|v| v.to_str().ok()))
    }

    /// The headers from any lookup: `get` is asked for each header by its lower-case
    /// name and answers its value, `None` when absent or not text.
    pub fn from_fn(get: impl Fn(&'static str) -> Option<&'a str>) -> Result<Self, WebhookError> {
        let header = |name: &'static str| {
            get(name)
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.len() <= MAX_HEADER_CHARS)
                .ok_or(WebhookError::Header(name))
        };
        Ok(Self {
            id: header("x-webhook-id")?,
            timestamp: header("x-webhook-timestamp")?,
            nonce: header("x-webhook-nonce")?,
            signature: header("x-webhook-signature")?,
        })
    }
}

/// A webhook as received: everything its signature covers.
#[derive(Debug, Clone, Copy)]
pub struct Webhook<'a> {
    /// The HTTP method (`POST`).
    pub method: &'a str,
    /// The path and query exactly as on the request line, e.g. `/webhooks/allscale` or
    /// `/hooks?shop=1`.
    pub path_and_query: &'a str,
    /// The `X-Webhook-*` headers.
    pub headers: WebhookHeaders<'a>,
    /// The raw body, before any parsing.
    pub body: &'a [u8],
}

impl Webhook<'_> {
    /// Checks the signature with the store's API secret, then that the timestamp is
    /// within `max_skew` of `now` (the time since the unix epoch:
    /// [`clock::since_epoch`](crate::clock::since_epoch) in a live receiver).
    pub fn verify(
        &self,
        api_secret: &str,
        now: Duration,
        max_skew: Duration,
    ) -> Result<(), WebhookError> {
        if !verify(api_secret, &self.canonical(), self.headers.signature) {
            return Err(WebhookError::Signature);
        }
        let max = max_skew.as_secs_f64();
        let fresh = self
            .headers
            .timestamp
            .parse::<i64>()
            .is_ok_and(|t| (now.as_secs_f64() - t as f64).abs() <= max);
        if fresh {
            Ok(())
        } else {
            Err(WebhookError::Stale {
                timestamp: self.headers.timestamp.to_owned(),
                max_skew,
            })
        }
    }

    /// The canonical string the signature covers.
    fn canonical(&self) -> String {
        let (path, query) = self
            .path_and_query
            .split_once('?')
            .unwrap_or((self.path_and_query, ""));
        webhook_canonical(&WebhookFields {
            method: self.method,
            path,
            query,
            webhook_id: self.headers.id,
            timestamp: self.headers.timestamp,
            nonce: self.headers.nonce,
            body_sha256: &sha256_hex(self.body),
        })
    }
}

/// Why a webhook is not taken as AllScale's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// A signature header (named in lower case) is missing, empty, not text or longer
    /// than [`MAX_HEADER_CHARS`].
    #[error("missing or invalid {0} header")]
    Header(&'static str),
    /// The signature does not verify: not sent by AllScale, altered on the way, or meant
    /// for another store.
    #[error("the signature does not verify with the store's API secret")]
    Signature,
    /// The timestamp is not whole unix seconds within `max_skew` of now.
    #[error(
        "X-Webhook-Timestamp {:?} is more than {} s from the receiver's clock",
        prefix(timestamp, 32),
        max_skew.as_secs_f64()
    )]
    Stale {
        /// `X-Webhook-Timestamp`, as sent.
        timestamp: String,
        /// The skew allowed.
        max_skew: Duration,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::sign;

    const SECRET: &str = "st_test_secret_0123456789abcdef";
    const SKEW: Duration = Duration::from_secs(300);
    const AT: Duration = Duration::from_secs(1_716_501_000);
    const BODY: &[u8] = br#"{"allscale_checkout_intent_id":"65b2f3d0d2d9c0a1b2c3d4e5"}"#;

    /// The signature AllScale would send for `BODY` posted to `path?query` at `AT`.
    fn signature(path: &str, query: &str) -> String {
        sign(
            SECRET,
            &webhook_canonical(&WebhookFields {
                method: "POST",
                path,
                query,
                webhook_id: "whk_1",
                timestamp: "1716501000",
                nonce: "nonce-1",
                body_sha256: &sha256_hex(BODY),
            }),
        )
    }

    fn headers(signature: &str) -> WebhookHeaders<'_> {
        WebhookHeaders {
            id: "whk_1",
            timestamp: "1716501000",
            nonce: "nonce-1",
            signature,
        }
    }

    fn webhook<'a>(path_and_query: &'a str, signature: &'a str) -> Webhook<'a> {
        Webhook {
            method: "POST",
            path_and_query,
            headers: headers(signature),
            body: BODY,
        }
    }

    #[test]
    fn the_canonical_string_is_the_documented_one() {
        let sig = signature("/webhooks/allscale", "");
        let w = webhook("/webhooks/allscale", &sig);
        let body_sha256 = sha256_hex(BODY);
        assert_eq!(
            w.canonical(),
            format!(
                "allscale:webhook:v1\nPOST\n/webhooks/allscale\n\nwhk_1\n1716501000\nnonce-1\n{body_sha256}"
            )
        );
    }

    #[test]
    fn a_signed_fresh_webhook_verifies_and_the_query_is_its_own_field() {
        let sig = signature("/webhooks/allscale", "");
        assert_eq!(
            webhook("/webhooks/allscale", &sig).verify(SECRET, AT, SKEW),
            Ok(())
        );
        let sig = signature("/hooks", "shop=1&x=2");
        assert_eq!(
            webhook("/hooks?shop=1&x=2", &sig).verify(SECRET, AT, SKEW),
            Ok(())
        );
        for other in ["/hooks", "/hooks?shop=1", "/hooks/?shop=1&x=2"] {
            assert_eq!(
                webhook(other, &sig).verify(SECRET, AT, SKEW),
                Err(WebhookError::Signature),
                "{other}"
            );
        }
    }

    #[test]
    fn anything_altered_does_not_verify() {
        let sig = signature("/webhooks/allscale", "");
        let good = webhook("/webhooks/allscale", &sig);
        let altered = [
            Webhook {
                body: b"{}",
                ..good
            },
            Webhook {
                method: "PUT",
                ..good
            },
            Webhook {
                headers: WebhookHeaders {
                    nonce: "nonce-2",
                    ..good.headers
                },
                ..good
            },
            Webhook {
                headers: WebhookHeaders {
                    id: "whk_2",
                    ..good.headers
                },
                ..good
            },
        ];
        for w in altered {
            assert_eq!(w.verify(SECRET, AT, SKEW), Err(WebhookError::Signature));
        }
        assert_eq!(
            good.verify("st_other", AT, SKEW),
            Err(WebhookError::Signature)
        );
    }

    #[test]
    fn the_timestamp_must_be_within_the_skew_either_way() {
        let sig = signature("/webhooks/allscale", "");
        let w = webhook("/webhooks/allscale", &sig);
        assert_eq!(w.verify(SECRET, AT + SKEW, SKEW), Ok(()));
        assert_eq!(w.verify(SECRET, AT - SKEW, SKEW), Ok(()));
        let stale = WebhookError::Stale {
            timestamp: "1716501000".into(),
            max_skew: SKEW,
        };
        let late = AT + SKEW + Duration::from_millis(1);
        let early = AT - SKEW - Duration::from_secs(1);
        assert_eq!(w.verify(SECRET, late, SKEW), Err(stale.clone()));
        assert_eq!(w.verify(SECRET, early, SKEW), Err(stale.clone()));
        assert_eq!(
            stale.to_string(),
            "X-Webhook-Timestamp \"1716501000\" is more than 300 s from the receiver's clock"
        );
    }

    #[test]
    fn the_signature_is_checked_before_the_timestamp() {
        let w = webhook("/webhooks/allscale", "v1=AAAA");
        let a_day_later = AT + Duration::from_secs(86_400);
        assert_eq!(
            w.verify(SECRET, a_day_later, SKEW),
            Err(WebhookError::Signature)
        );
    }

    #[test]
    fn headers_are_trimmed_and_each_one_is_required() {
        let mut map = HeaderMap::new();
        for (name, value) in [
            ("x-webhook-id", " whk_1 "),
            ("x-webhook-timestamp", "1716501000"),
            ("x-webhook-nonce", "nonce-1"),
            ("x-webhook-signature", "v1=x"),
        ] {
            map.insert(name, value.parse().unwrap());
        }
        let read = WebhookHeaders::from_map(&map).unwrap();
        assert_eq!(read, headers("v1=x"));
        for name in [
            "x-webhook-id",
            "x-webhook-timestamp",
            "x-webhook-nonce",
            "x-webhook-signature",
        ] {
            for bad in [
                None,
                Some(" ".to_owned()),
                Some("x".repeat(MAX_HEADER_CHARS + 1)),
            ] {
                let mut m = map.clone();
                match &bad {
                    None => {
                        m.remove(name);
                    }
                    Some(v) => {
                        m.insert(name, v.parse().unwrap());
                    }
                }
                assert_eq!(
                    WebhookHeaders::from_map(&m),
                    Err(WebhookError::Header(name)),
                    "{name} {bad:?}"
                );
            }
        }
        let longest = "x".repeat(MAX_HEADER_CHARS);
        map.insert("x-webhook-nonce", longest.parse().unwrap());
        assert_eq!(WebhookHeaders::from_map(&map).unwrap().nonce, longest);
    }

    #[test]
    fn a_timestamp_that_is_not_whole_seconds_is_stale() {
        for timestamp in ["1716501000.0", "soon", "-"] {
            let w = Webhook {
                headers: WebhookHeaders {
                    timestamp,
                    ..headers("")
                },
                ..webhook("/", "")
            };
            let sig = sign(SECRET, &w.canonical());
            let w = Webhook {
                headers: WebhookHeaders {
                    signature: &sig,
                    ..w.headers
                },
                ..w
            };
            assert!(
                matches!(w.verify(SECRET, AT, SKEW), Err(WebhookError::Stale { .. })),
                "{timestamp}"
            );
        }
    }
}
