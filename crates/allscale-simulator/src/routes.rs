//! The axum handlers: one request through authentication, the endpoint and the stats,
//! then rendered, with latency, stalls and the response signature.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};

use super::answer::{Answer, AnswerKind, Decision, Endpoint, hostile_body};
use super::auth::header_str;
use super::{Inner, Malformed, Simulator};
use allscale_api::clock::unix_secs;
use allscale_api::signing::{ResponseFields, response_canonical, sha256_hex, sign};

/// Largest request body read (the status endpoint is a GET; bodies are only hashed).
const MAX_REQUEST_BODY: usize = 1 << 20;

impl Inner {
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
    async fn handle(&self, endpoint: Option<Endpoint<'_>>, req: Request) -> Response {
        let (parts, body) = req.into_parts();
        let body_sha = match axum::body::to_bytes(body, MAX_REQUEST_BODY).await {
            Ok(bytes) => sha256_hex(&bytes),
            // Unreadable or oversized: no signature can match this hash.
            Err(_) => String::from("unreadable"),
        };
        let now = unix_secs();
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
        let date = allscale_api::httpdate::format(self.server_now() as i64);
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

pub(super) async fn status_route(
    State(sim): State<Simulator>,
    UrlPath(id): UrlPath<String>,
    req: Request,
) -> Response {
    sim.inner.handle(Some(Endpoint::Status(&id)), req).await
}

pub(super) async fn detail_route(
    State(sim): State<Simulator>,
    UrlPath(id): UrlPath<String>,
    req: Request,
) -> Response {
    sim.inner.handle(Some(Endpoint::Detail(&id)), req).await
}

pub(super) async fn ping_route(State(sim): State<Simulator>, req: Request) -> Response {
    sim.inner.handle(Some(Endpoint::Ping), req).await
}

pub(super) async fn fallback_route(State(sim): State<Simulator>, req: Request) -> Response {
    sim.inner.handle(None, req).await
}

pub(super) async fn stats_route(State(sim): State<Simulator>) -> Response {
    axum::Json(sim.stats()).into_response()
}

/// Largest `POST /-/webhooks/send` body: three short fields.
const MAX_ADMIN_BODY: usize = 16 * 1024;

/// `POST /-/webhooks/send`: 200 with the report of what was sent (whatever the receiver
/// answered), or 400 / 404 / 500 with `{"error": "..."}`.
pub(super) async fn webhook_send_route(State(sim): State<Simulator>, req: Request) -> Response {
    let result = match axum::body::to_bytes(req.into_body(), MAX_ADMIN_BODY).await {
        Ok(body) => sim.inner.admin_send(&body).await,
        Err(e) => Err(super::webhook::WebhookError::BadRequest(e.to_string())),
    };
    match result {
        Ok(report) => axum::Json(report).into_response(),
        Err(e) => (
            e.http_status(),
            axum::Json(serde_json::json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use crate::testkit::*;
    use std::time::{Duration, Instant};

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
    async fn response_signatures() {
        let t = start(SCENARIO).await;
        let path = status_path(PLAIN);
        let nonce = fresh_nonce();
        let r = t
            .send(&path, &signed(KEY_A, SECRET_A, &path, unix_secs(), &nonce))
            .await;
        assert_eq!(r.code(), 0);
        assert_eq!(r.header("x-request-nonce"), Some(nonce.as_str()));
        assert!(r.header("x-response-signature").unwrap().starts_with("v1="));
        let ts: u64 = r.header("x-response-timestamp").unwrap().parse().unwrap();
        assert!(ts.abs_diff(unix_secs()) <= 30);
        assert!(uuid::Uuid::parse_str(r.header("x-response-nonce").unwrap()).is_ok());
        assert!(response_signature_ok(&r, SECRET_A, &path, &nonce));
        assert!(!response_signature_ok(&r, SECRET_B, &path, &nonce));

        // Error answers for a known key are signed too.
        let path = status_path(UNKNOWN);
        let nonce = fresh_nonce();
        let r = t
            .send(&path, &signed(KEY_A, SECRET_A, &path, unix_secs(), &nonce))
            .await;
        assert_eq!(r.code(), 50001);
        assert!(response_signature_ok(&r, SECRET_A, &path, &nonce));

        // bad_signature: a normal answer, wrongly signed.
        let path = status_path(BAD_SIG);
        let nonce = fresh_nonce();
        let r = t
            .send(&path, &signed(KEY_A, SECRET_A, &path, unix_secs(), &nonce))
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
}
