//! The unit tests' harness: a simulator on a loopback port, a scenario with one intent
//! for each behaviour, and a client that signs as the exporter does.

use super::{Scenario, Simulator};
pub(super) use allscale_api::clock::unix_secs;
use allscale_api::signing::{
    EMPTY_BODY_SHA256, ResponseFields, request_canonical, response_canonical, sha256_hex, sign,
    verify,
};
use serde_json::Value;

pub(super) const KEY_A: &str = "st_key_a";
pub(super) const SECRET_A: &str = "st_secret_a";
pub(super) const KEY_B: &str = "st_key_b";
pub(super) const SECRET_B: &str = "st_secret_b";

pub(super) const PLAIN: &str = "65b2f3d0d2d9c0a1b2c3d4e5";
pub(super) const MOVING: &str = "6650a1b2c3d4e5f60718293a";
pub(super) const OWNED_BY_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbb";
pub(super) const FAIL_TWICE: &str = "f0f0f0f0f0f0f0f0f0f0f0f0";
pub(super) const NOT_JSON: &str = "a00000000000000000000001";
pub(super) const NO_CODE: &str = "a00000000000000000000002";
pub(super) const STRING_PAYLOAD: &str = "a00000000000000000000003";
pub(super) const OVERSIZE: &str = "a00000000000000000000004";
pub(super) const BAD_SIG: &str = "a00000000000000000000005";
pub(super) const UNKNOWN: &str = "ffffffffffffffffffffffff";

pub(super) const SCENARIO: &str = r#"
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

pub(super) struct TestSim {
    pub(super) base: String,
    pub(super) sim: Simulator,
    pub(super) client: reqwest::Client,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) headers: reqwest::header::HeaderMap,
    pub(super) body: Vec<u8>,
}

impl Reply {
    pub(super) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
    pub(super) fn code(&self) -> i64 {
        self.json()["code"].as_i64().expect("an integer code")
    }
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

pub(super) async fn start(yaml: &str) -> TestSim {
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

pub(super) fn status_path(id: &str) -> String {
    format!("/v1/checkout_intents/{id}/status")
}

pub(super) fn detail_path(id: &str) -> String {
    format!("/v1/checkout_intents/{id}")
}

/// The four auth headers for a GET of `path`, signed with `secret`.
pub(super) fn signed(
    key: &str,
    secret: &str,
    path: &str,
    ts: u64,
    nonce: &str,
) -> Vec<(String, String)> {
    let ts = ts.to_string();
    let canonical = request_canonical("GET", path, "", &ts, nonce, EMPTY_BODY_SHA256);
    vec![
        ("X-API-Key".into(), key.into()),
        ("X-Timestamp".into(), ts),
        ("X-Nonce".into(), nonce.into()),
        ("X-Signature".into(), sign(secret, &canonical)),
    ]
}

/// Headers of a request signed now with key A and a fresh nonce.
pub(super) fn signed_now(path: &str) -> Vec<(String, String)> {
    signed(KEY_A, SECRET_A, path, unix_secs(), &fresh_nonce())
}

pub(super) fn fresh_nonce() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl TestSim {
    pub(super) async fn send(&self, path: &str, headers: &[(String, String)]) -> Reply {
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

    pub(super) async fn get_as(&self, key: &str, secret: &str, path: &str) -> Reply {
        let headers = signed(key, secret, path, unix_secs(), &fresh_nonce());
        self.send(path, &headers).await
    }

    pub(super) async fn poll(&self, id: &str) -> Reply {
        self.get_as(KEY_A, SECRET_A, &status_path(id)).await
    }
}

/// Verifies the response signature of `reply` to a request made with `nonce`.
pub(super) fn response_signature_ok(reply: &Reply, secret: &str, path: &str, nonce: &str) -> bool {
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
