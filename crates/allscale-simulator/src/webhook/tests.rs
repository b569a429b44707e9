//! Each webhook kind against a tiny receiver on 127.0.0.1:0 that records every request
//! and answers with scripted statuses.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::lock;
use crate::testkit::*;
use allscale_api::signing::{sha256_hex, verify};

const LAUNCHED: &str = "c00000000000000000000001";
const SILENT: &str = "c00000000000000000000002";
const POLLED: &str = "c00000000000000000000003";
const NEVER: &str = "c00000000000000000000004";

/// One intent with every body field set; `{url}` is the receiver.
const ADMIN: &str = r#"
keys:
  - {api_key: st_key_a, api_secret: st_secret_a}
intents:
  - id: 65b2f3d0d2d9c0a1b2c3d4e5
    key: st_key_a
    lifecycle: [10]
    order_id: ord-42
    amount_coins: "99.95"
    coin_symbol: USDC
    chain_id: 56
  - {id: c00000000000000000000004, key: st_key_a}
webhook:
  url: "{url}"
  retries: 2
  retry_backoff: 20ms
  timeout: 2s
"#;

/// Lifecycles that confirm (or not) by themselves.
const LAUNCH: &str = r#"
keys:
  - {api_key: st_key_a, api_secret: st_secret_a}
intents:
  - {id: c00000000000000000000001, key: st_key_a, starts: at_launch, lifecycle: [1, 20], step: 100ms}
  - {id: c00000000000000000000002, key: st_key_a, starts: at_launch, lifecycle: [20], webhook: none}
  - {id: c00000000000000000000003, key: st_key_a, lifecycle: [20]}
  - {id: c00000000000000000000004, key: st_key_a, starts: at_launch, lifecycle: [1, 10], step: 10ms}
webhook:
  url: "{url}"
  delay: 50ms
"#;

#[derive(Clone)]
struct Got {
    path: String,
    query: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Got {
    fn h(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    /// Verifies with the canonical string built here, line by line as §6 and W1 show it,
    /// independently of `webhook_canonical`.
    fn verifies(&self, secret: &str) -> bool {
        let canonical = [
            "allscale:webhook:v1",
            "POST",
            &self.path,
            &self.query,
            self.h("x-webhook-id"),
            self.h("x-webhook-timestamp"),
            self.h("x-webhook-nonce"),
            &sha256_hex(&self.body),
        ]
        .join("\n");
        verify(secret, &canonical, self.h("x-webhook-signature"))
    }
    fn timestamp(&self) -> u64 {
        self.h("x-webhook-timestamp").parse().unwrap()
    }
}

#[derive(Clone, Default)]
struct Recorder {
    got: Arc<Mutex<Vec<Got>>>,
    /// Statuses to answer, in order; 200 once they run out.
    answers: Arc<Mutex<VecDeque<u16>>>,
}

async fn record(State(r): State<Recorder>, req: Request) -> StatusCode {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    lock(&r.got).push(Got {
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts.headers,
        body,
    });
    let status = lock(&r.answers).pop_front().unwrap_or(200);
    StatusCode::from_u16(status).unwrap()
}

/// A receiver answering `answers` then 200, and the simulator of `scenario` (its
/// `{url}` replaced by the receiver's `/webhooks/allscale?store=a`).
async fn setup(scenario: &str, answers: &[u16]) -> (TestSim, Recorder, String) {
    let r = Recorder::default();
    lock(&r.answers).extend(answers);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/webhooks/allscale?store=a",
        listener.local_addr().unwrap()
    );
    let app = axum::Router::new().fallback(record).with_state(r.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let t = start(&scenario.replace("{url}", &url)).await;
    (t, r, url)
}

impl TestSim {
    async fn admin(&self, request: Value) -> (u16, Value) {
        let resp = self
            .client
            .post(format!("{}/-/webhooks/send", self.base))
            .json(&request)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }
    async fn send_kind(&self, kind: &str) -> Value {
        let (status, report) = self.admin(json!({"intent_id": PLAIN, "kind": kind})).await;
        assert_eq!(status, 200, "{report}");
        report
    }
}

fn received(r: &Recorder) -> Vec<Got> {
    lock(&r.got).clone()
}

#[tokio::test]
async fn normal_webhook_is_signed_as_documented() {
    let (t, r, url) = setup(ADMIN, &[]).await;
    let report = t.send_kind("normal").await;
    let got = received(&r);
    assert_eq!(got.len(), 1);
    let g = &got[0];
    assert_eq!(
        (g.path.as_str(), g.query.as_str()),
        ("/webhooks/allscale", "store=a")
    );
    assert_eq!(g.h("x-api-key"), KEY_A);
    assert_eq!(g.h("content-type"), "application/json");
    assert!(g.h("x-webhook-id").starts_with("whk_"));
    assert!(uuid::Uuid::parse_str(g.h("x-webhook-nonce")).is_ok());
    assert!(g.timestamp().abs_diff(unix_secs()) <= 30);
    assert!(g.verifies(SECRET_A));
    assert!(!g.verifies(SECRET_B));
    let body: Value = serde_json::from_slice(&g.body).unwrap();
    assert_eq!(
        body,
        json!({
            "allscale_checkout_intent_id": PLAIN,
            "order_id": "ord-42",
            "amount_coins": "99.95",
            "coin_symbol": "USDC",
            "chain_id": 56,
            "tx_hash": format!("0x{}", sha256_hex(PLAIN.as_bytes())),
        })
    );
    // The report says what was sent and what came back.
    assert_eq!(report["url"], url);
    assert_eq!(report["webhook_id"], g.h("x-webhook-id"));
    let d = &report["deliveries"][0];
    assert_eq!(d["nonce"], g.h("x-webhook-nonce"));
    assert_eq!(d["signature"], g.h("x-webhook-signature"));
    assert_eq!(
        (d["status"].as_u64(), d["retry"].as_bool()),
        (Some(200), Some(false))
    );
    assert_eq!(d["body_sha256"], sha256_hex(&g.body));
    let w = t.sim.stats().webhooks;
    assert_eq!(
        (
            w.sent_by_kind["normal"],
            w.requests,
            w.answers_by_status[&200]
        ),
        (1, 1, 1)
    );

    // Defaults for an intent without body fields.
    t.admin(json!({"intent_id": NEVER})).await;
    let body: Value = serde_json::from_slice(&received(&r)[1].body).unwrap();
    assert_eq!(body["order_id"], format!("order_{NEVER}"));
    assert_eq!(
        (body["amount_coins"].as_str(), body["coin_symbol"].as_str()),
        (Some("12.50"), Some("USDT"))
    );
    assert_eq!(body["chain_id"], 1);
}

#[tokio::test]
async fn forged_and_unknown_key_do_not_verify() {
    let (t, r, _) = setup(ADMIN, &[]).await;
    t.send_kind("forged").await;
    t.send_kind("unknown_key").await;
    let got = received(&r);
    assert_eq!(got[0].h("x-api-key"), KEY_A);
    assert!(!got[0].verifies(SECRET_A));
    assert_ne!(got[1].h("x-api-key"), KEY_A);
    assert!(!got[1].h("x-api-key").is_empty());
    assert!(!got[1].verifies(SECRET_A));
    // Otherwise well-formed: the documented body.
    assert!(serde_json::from_slice::<Value>(&got[1].body).is_ok());
}

#[tokio::test]
async fn stale_is_ten_minutes_old_and_correctly_signed() {
    let (t, r, _) = setup(ADMIN, &[]).await;
    t.send_kind("stale").await;
    let g = &received(&r)[0];
    let age = unix_secs() - g.timestamp();
    assert!((595..=630).contains(&age), "age {age}");
    assert!(g.verifies(SECRET_A));
}

#[tokio::test]
async fn replayed_sends_identical_bytes_twice() {
    let (t, r, _) = setup(ADMIN, &[]).await;
    let report = t.send_kind("replayed").await;
    let got = received(&r);
    assert_eq!(got.len(), 2);
    for name in [
        "x-webhook-id",
        "x-webhook-nonce",
        "x-webhook-timestamp",
        "x-webhook-signature",
    ] {
        assert_eq!(got[0].h(name), got[1].h(name), "{name}");
    }
    assert_eq!(got[0].body, got[1].body);
    assert!(got[0].verifies(SECRET_A));
    assert_eq!(report["deliveries"].as_array().unwrap().len(), 2);
    let w = t.sim.stats().webhooks;
    assert_eq!((w.sent_by_kind["replayed"], w.requests), (1, 2));
}

#[tokio::test]
async fn duplicate_shares_the_id_with_fresh_nonces() {
    let (t, r, _) = setup(ADMIN, &[]).await;
    t.send_kind("duplicate").await;
    let got = received(&r);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].h("x-webhook-id"), got[1].h("x-webhook-id"));
    assert_ne!(got[0].h("x-webhook-nonce"), got[1].h("x-webhook-nonce"));
    assert!(got.iter().all(|g| g.verifies(SECRET_A)));
}

#[tokio::test]
async fn oversize_and_malformed_bodies_are_correctly_signed() {
    let (t, r, _) = setup(ADMIN, &[]).await;
    t.send_kind("oversize").await;
    t.send_kind("malformed").await;
    let got = received(&r);
    assert!(got[0].body.len() > 64 * 1024, "{} bytes", got[0].body.len());
    let v: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(v["allscale_checkout_intent_id"], PLAIN);
    assert!(serde_json::from_slice::<Value>(&got[1].body).is_err());
    assert!(got.iter().all(|g| g.verifies(SECRET_A)));
}

#[tokio::test]
async fn normal_is_retried_with_fresh_signatures_bounded() {
    let (t, r, _) = setup(ADMIN, &[500, 500, 500, 500]).await;
    let report = t.send_kind("normal").await;
    let got = received(&r);
    assert_eq!(got.len(), 3, "one try and retries: 2");
    assert!(
        got.iter()
            .all(|g| g.h("x-webhook-id") == got[0].h("x-webhook-id"))
    );
    let nonces: std::collections::HashSet<&str> =
        got.iter().map(|g| g.h("x-webhook-nonce")).collect();
    assert_eq!(nonces.len(), 3);
    assert!(got.iter().all(|g| g.verifies(SECRET_A)));
    let retries: Vec<_> = report["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["status"].as_u64().unwrap(), d["retry"].as_bool().unwrap()))
        .collect();
    assert_eq!(retries, [(500, false), (500, true), (500, true)]);
    let w = t.sim.stats().webhooks;
    assert_eq!((w.retries, w.answers_by_status[&500]), (2, 3));

    // A success ends the retries; fault kinds are never retried.
    lock(&r.answers).clear();
    lock(&r.answers).extend([503, 200]);
    t.send_kind("normal").await;
    assert_eq!(received(&r).len(), 5);
    lock(&r.answers).extend([500]);
    t.send_kind("forged").await;
    assert_eq!(received(&r).len(), 6);
}

#[tokio::test]
async fn connect_errors_are_reported_and_retried() {
    let (t, _, _) = setup(ADMIN, &[]).await;
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/allscale", closed.local_addr().unwrap());
    drop(closed);
    let (status, report) = t
        .admin(json!({"intent_id": PLAIN, "kind": "normal", "url": url}))
        .await;
    assert_eq!(status, 200);
    let deliveries = report["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 3);
    assert!(
        deliveries
            .iter()
            .all(|d| d["status"].is_null() && d["error"].is_string())
    );
    assert_eq!(t.sim.stats().webhooks.errors, 3);
}

#[tokio::test]
async fn admin_route_refuses_bad_requests_clearly() {
    let (t, r, _) = setup(ADMIN, &[]).await;
    for (request, status, words) in [
        (json!({"intent_id": UNKNOWN}), 404, "not in the scenario"),
        (json!({"intent_id": PLAIN, "kind": "none"}), 400, "none"),
        (json!({"intent_id": PLAIN, "kind": "loud"}), 400, "loud"),
        (
            json!({"intent_id": PLAIN, "url": "https://x/"}),
            400,
            "http://",
        ),
        (json!({"intent_id": PLAIN, "url": "nope"}), 400, "not a URL"),
        (json!({"kind": "normal"}), 400, "intent_id"),
    ] {
        let (got, body) = t.admin(request.clone()).await;
        assert_eq!(got, status, "{request}: {body}");
        let message = body["error"].as_str().unwrap();
        assert!(message.contains(words), "{request}: {message}");
    }
    assert!(received(&r).is_empty());
    // Without any url.
    let t = start(
        "keys: [{api_key: k, api_secret: s}]\nintents: [{id: c00000000000000000000004, key: k}]",
    )
    .await;
    let (status, body) = t.admin(json!({"intent_id": NEVER})).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("no url"));
}

async fn wait_for(r: &Recorder, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while received(r).len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} webhooks",
            received(r).len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn intent_of(g: &Got) -> String {
    let v: Value = serde_json::from_slice(&g.body).unwrap();
    v["allscale_checkout_intent_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn at_launch_lifecycle_reaching_20_sends_exactly_one_webhook() {
    let launched = Instant::now();
    let (t, r, _) = setup(LAUNCH, &[]).await;
    wait_for(&r, 1).await;
    // Confirmed after one 100 ms step, then the 50 ms delay.
    assert!(launched.elapsed() >= Duration::from_millis(150));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let got = received(&r);
    assert_eq!(
        got.len(),
        1,
        "{:?}",
        got.iter().map(intent_of).collect::<Vec<_>>()
    );
    assert_eq!(intent_of(&got[0]), LAUNCHED);
    assert!(got[0].verifies(SECRET_A));
    // Nobody polled it.
    assert!(t.sim.stats().requests_by_key.is_empty());
    // It still answers polls, at its last status.
    assert_eq!(t.poll(LAUNCHED).await.json()["payload"], 20);
    let w = t.sim.stats().webhooks;
    assert_eq!(w.sent_by_kind.get("normal"), Some(&1));

    // A first_poll intent confirms on its first poll: one webhook, however many polls.
    for _ in 0..3 {
        assert_eq!(t.poll(POLLED).await.json()["payload"], 20);
    }
    wait_for(&r, 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got = received(&r);
    assert_eq!(got.len(), 2);
    assert_eq!(intent_of(&got[1]), POLLED);
    assert!(
        !got.iter()
            .any(|g| [SILENT, NEVER].contains(&intent_of(g).as_str()))
    );
}
