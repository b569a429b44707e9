//! HMAC-SHA256 request and response signatures, exactly as the AllScale docs define them.
//!
//! The client and the simulator both use these functions; the fixed test vectors below
//! (from `docs/allscale-api.md` §8) guard them, so a symmetric bug cannot hide behind the
//! simulator accepting what the client produces.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Lowercase hex SHA-256 of the empty body: the BODY_SHA256 of every GET.
pub const EMPTY_BODY_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The literal prefix of every signature header value.
const SIGNATURE_PREFIX: &str = "v1=";

/// Lowercase hex SHA-256 of raw bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The request canonical string: six fields joined by LF, no trailing newline.
pub fn request_canonical(
    method: &str,
    path: &str,
    query: &str,
    timestamp: &str,
    nonce: &str,
    body_sha256: &str,
) -> String {
    [method, path, query, timestamp, nonce, body_sha256].join("\n")
}

/// The fields of a signed response, in canonical order.
#[derive(Debug, Clone, Copy)]
pub struct ResponseFields<'a> {
    /// The HTTP status, e.g. 200.
    pub status_code: u16,
    /// The request's path.
    pub path: &'a str,
    /// The `X-Nonce` the request was sent with.
    pub request_nonce: &'a str,
    /// Hex SHA-256 of the request body ([`EMPTY_BODY_SHA256`] for a GET).
    pub request_body_sha256: &'a str,
    /// `X-Response-Timestamp`.
    pub response_timestamp: &'a str,
    /// `X-Response-Nonce`.
    pub response_nonce: &'a str,
    /// Hex SHA-256 of the answer's bytes, before any parsing.
    pub response_body_sha256: &'a str,
}

/// The response canonical string: seven fields joined by LF, no trailing newline.
pub fn response_canonical(f: &ResponseFields<'_>) -> String {
    [
        f.status_code.to_string().as_str(),
        f.path,
        f.request_nonce,
        f.request_body_sha256,
        f.response_timestamp,
        f.response_nonce,
        f.response_body_sha256,
    ]
    .join("\n")
}

/// The fixed first line of every webhook canonical string.
const WEBHOOK_CANONICAL_PREFIX: &str = "allscale:webhook:v1";

/// The fields of a signed webhook, in canonical order (`docs/allscale-api.md` §6).
#[derive(Debug, Clone, Copy)]
pub struct WebhookFields<'a> {
    /// The HTTP method, `POST`.
    pub method: &'a str,
    /// Path and query of the URL the webhook is posted to, as on the request line.
    pub path: &'a str,
    /// The query without its `?`; empty when there is none.
    pub query: &'a str,
    /// `X-Webhook-Id`.
    pub webhook_id: &'a str,
    /// `X-Webhook-Timestamp`.
    pub timestamp: &'a str,
    /// `X-Webhook-Nonce`.
    pub nonce: &'a str,
    /// Hex SHA-256 of the raw body.
    pub body_sha256: &'a str,
}

/// The webhook canonical string: `allscale:webhook:v1` and the seven fields,
/// joined by LF, no trailing newline.
pub fn webhook_canonical(f: &WebhookFields<'_>) -> String {
    [
        WEBHOOK_CANONICAL_PREFIX,
        f.method,
        f.path,
        f.query,
        f.webhook_id,
        f.timestamp,
        f.nonce,
        f.body_sha256,
    ]
    .join("\n")
}

/// An HMAC-SHA256 key prepared once, so a signature costs hashing the message only,
/// not the key schedule too. Its `Debug` shows nothing of the key.
#[derive(Clone)]
pub struct Signer(Hmac<Sha256>);

impl Signer {
    /// The key of an API secret (its UTF-8 bytes, as they are).
    pub fn new(secret: &str) -> Self {
        Self(
            Hmac::<Sha256>::new_from_slice(secret.as_bytes())
                .expect("HMAC-SHA256 accepts keys of any length"),
        )
    }

    fn mac(&self, canonical: &str) -> [u8; 32] {
        let mut mac = self.0.clone();
        mac.update(canonical.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The header value `v1=<standard padded base64 of HMAC-SHA256(secret, canonical)>`.
    pub fn sign(&self, canonical: &str) -> String {
        format!("{SIGNATURE_PREFIX}{}", STANDARD.encode(self.mac(canonical)))
    }

    /// Checks a `v1=` header value in constant time; anything malformed is simply false.
    pub fn verify(&self, canonical: &str, header_value: &str) -> bool {
        let Some(encoded) = header_value.strip_prefix(SIGNATURE_PREFIX) else {
            return false;
        };
        let Ok(given) = STANDARD.decode(encoded) else {
            return false;
        };
        let expected = self.mac(canonical);
        given.len() == expected.len() && bool::from(expected.as_slice().ct_eq(&given))
    }
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(<redacted>)")
    }
}

/// [`Signer::sign`] with a one-off key.
pub fn sign(secret: &str, canonical: &str) -> String {
    Signer::new(secret).sign(canonical)
}

/// [`Signer::verify`] with a one-off key.
pub fn verify(secret: &str, canonical: &str, header_value: &str) -> bool {
    Signer::new(secret).verify(canonical, header_value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "st_test_secret_0123456789abcdef";
    const NONCE: &str = "b4d9a2a1-9c2b-4df4-8b8e-2a13a45fd321";

    fn status_canonical(id: &str, ts: &str, nonce: &str) -> String {
        let path = format!("/v1/checkout_intents/{id}/status");
        request_canonical("GET", &path, "", ts, nonce, EMPTY_BODY_SHA256)
    }

    #[test]
    fn empty_body_hash_matches_constant() {
        assert_eq!(sha256_hex(b""), EMPTY_BODY_SHA256);
    }

    #[test]
    fn vector_v1() {
        let c = status_canonical("65b2f3d0d2d9c0a1b2c3d4e5", "1716501000", NONCE);
        assert_eq!(c.len(), 170);
        assert_eq!(
            c,
            "GET\n/v1/checkout_intents/65b2f3d0d2d9c0a1b2c3d4e5/status\n\n1716501000\nb4d9a2a1-9c2b-4df4-8b8e-2a13a45fd321\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sign(SECRET, &c),
            "v1=IQdwCtMNgXIfPKMBojg5vIYZCjXvjnsmJfgjlt5wsOA="
        );
    }

    #[test]
    fn vector_v2() {
        let c = status_canonical(
            "6650a1b2c3d4e5f60718293a",
            "1767225600",
            "0f8e7d6c-5b4a-4392-8170-6a5b4c3d2e1f",
        );
        assert_eq!(c.len(), 170);
        assert_eq!(
            sign(SECRET, &c),
            "v1=4RY1JJCUpZhTTHszcBoaIC4ZZGbr7nzYCGiP9q67XZ4="
        );
    }

    #[test]
    fn vector_v3_other_secret() {
        let c = status_canonical("65b2f3d0d2d9c0a1b2c3d4e5", "1716501000", NONCE);
        assert_eq!(
            sign("st_0000000000000000000000000000000000000000", &c),
            "v1=2eOmhLGFH4KzwslSGaVv3VIVGMQuYqtkakKTmXiJW7w="
        );
    }

    #[test]
    fn vector_v4_ping() {
        let c = request_canonical(
            "GET",
            "/v1/test/ping",
            "",
            "1716501000",
            NONCE,
            EMPTY_BODY_SHA256,
        );
        assert_eq!(
            c,
            "GET\n/v1/test/ping\n\n1716501000\nb4d9a2a1-9c2b-4df4-8b8e-2a13a45fd321\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sign(SECRET, &c),
            "v1=eKguqXH3GEyg2uRD2nEI2gQQW012N5XlIr1pkfCHTvE="
        );
    }

    #[test]
    fn vector_v5_with_query() {
        let c = request_canonical(
            "POST",
            "/v1/payments",
            "currency=USD",
            "1716501000",
            NONCE,
            "4e07408562bedb8b60ce05c1decfe3ad16b722309a7c4c5f64b1f4e48e8d8d69",
        );
        assert_eq!(
            sign(SECRET, &c),
            "v1=20rfXiMzQNMaaRnMY3O0UVSvPvs1sBZsD4Ecuw7Icug="
        );
    }

    #[test]
    fn vector_r1_response() {
        let body = br#"{"code":0,"payload":20,"error":null,"request_id":"req_xxxxx"}"#;
        let body_hash = sha256_hex(body);
        assert_eq!(
            body_hash,
            "b7e9aef8ea3d0dc2bbf8f903a44ef376396570aa36da3ed4feb98c223debd0bf"
        );
        let c = response_canonical(&ResponseFields {
            status_code: 200,
            path: "/v1/checkout_intents/65b2f3d0d2d9c0a1b2c3d4e5/status",
            request_nonce: NONCE,
            request_body_sha256: EMPTY_BODY_SHA256,
            response_timestamp: "1716501002",
            response_nonce: "7c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
            response_body_sha256: &body_hash,
        });
        assert_eq!(c.len(), 271);
        let expected = "v1=mnTGcxrmXxbx9YQsBAS6W+Tw7hvlXUFjCUjOGPIwjgo=";
        assert_eq!(sign(SECRET, &c), expected);
        assert!(verify(SECRET, &c, expected));
    }

    #[test]
    fn verify_rejects_tampering_and_junk() {
        let c = status_canonical("65b2f3d0d2d9c0a1b2c3d4e5", "1716501000", NONCE);
        let good = sign(SECRET, &c);
        assert!(verify(SECRET, &c, &good));
        assert!(!verify("st_other", &c, &good));
        assert!(!verify(SECRET, &format!("{c}x"), &good));
        assert!(!verify(SECRET, &c, good.trim_start_matches("v1=")));
        assert!(!verify(SECRET, &c, "v1=not base64!"));
        assert!(!verify(SECRET, &c, "v1=AAAA"));
        assert!(!verify(SECRET, &c, ""));
    }

    #[test]
    fn webhook_vector_w1_uses_same_mac() {
        let c = webhook_canonical(&WebhookFields {
            method: "POST",
            path: "/webhooks/allscale",
            query: "",
            webhook_id: "whk_1",
            timestamp: "1716501000",
            nonce: "nonce-1",
            body_sha256: "bf8a840898a18bf80822b4792ad60ad5b13b211f5bf9123761bb09f568427a45",
        });
        assert_eq!(
            c,
            "allscale:webhook:v1\nPOST\n/webhooks/allscale\n\nwhk_1\n1716501000\nnonce-1\nbf8a840898a18bf80822b4792ad60ad5b13b211f5bf9123761bb09f568427a45"
        );
        assert_eq!(
            sign(SECRET, &c),
            "v1=qBOsNEQRRB//JhCCTkgaS6HIbTFl2gWc7EC9SBEx+7U="
        );
    }
}
