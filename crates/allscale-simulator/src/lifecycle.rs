//! Per intent: who owns it, where its lifecycle is (the clock starts at the owner's first
//! authenticated poll, or at launch with `starts: at_launch`), which failure, if any, its
//! answer carries, and what its confirmation webhook says.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use super::answer::{Answer, AnswerKind, Endpoint, Payload};
use super::detail::Detail;
use super::webhook::BodyDetails;
use super::{Inner, SimFailure, SimIntent, Starts, WebhookKind, default_lifecycle};

/// The status the API calls CONFIRMED: reaching it sends the intent's webhook.
const CONFIRMED: i64 = 20;

pub(super) struct IntentRt {
    pub(super) id: Box<str>,
    pub(super) owner: Option<usize>,
    lifecycle: Vec<i64>,
    step: Duration,
    fail: Option<SimFailure>,
    pub(super) starts: Starts,
    /// The confirmation webhook's kind as the scenario set it (`None`: the default).
    pub(super) webhook: Option<WebhookKind>,
    /// Boxed and absent unless the scenario sets a body field: most intents have none.
    pub(super) details: Option<Box<BodyDetails>>,
    /// The detail endpoint's fields; absent unless the scenario sets one (the defaults
    /// are then computed per request).
    detail: Option<Box<Detail>>,
    /// When the lifecycle clock started: the first poll, or launch.
    pub(super) started: OnceLock<Instant>,
    /// Authenticated requests by the owner, status and detail counted apart (each route
    /// fails its own first N with `fail.first`).
    polls: AtomicU64,
    detail_polls: AtomicU64,
}

impl IntentRt {
    pub(super) fn new(i: SimIntent, owner: Option<usize>) -> IntentRt {
        let details = BodyDetails::from_intent(&i).map(Box::new);
        let detail = Detail::sets_any(&i).then(|| Box::new(Detail::resolve_or_default(&i)));
        let started = OnceLock::new();
        if i.starts == Some(Starts::AtLaunch) {
            let _ = started.set(Instant::now());
        }
        IntentRt {
            id: i.id.into_boxed_str(),
            owner,
            lifecycle: i.lifecycle,
            step: i.step,
            fail: i.fail,
            starts: i.starts.unwrap_or_default(),
            webhook: i.webhook,
            details,
            detail,
            started,
            polls: AtomicU64::new(0),
            detail_polls: AtomicU64::new(0),
        }
    }

    /// How long after its start the lifecycle first reaches CONFIRMED, if it does.
    pub(super) fn confirmed_after(&self) -> Option<Duration> {
        let index = self.lifecycle.iter().position(|&s| s == CONFIRMED)?;
        self.step.checked_mul(u32::try_from(index).ok()?)
    }

    fn detail_payload(&self, status: i64) -> super::detail::DetailPayload {
        match &self.detail {
            Some(d) => d.payload(&self.id, status),
            None => Detail::default_for(self.lifecycle.last().copied()).payload(&self.id, status),
        }
    }

    fn status_at(&self, started: Instant) -> i64 {
        let Some(last) = self.lifecycle.len().checked_sub(1) else {
            return default_lifecycle()[0];
        };
        let step = self.step.as_nanos().max(1);
        let index = (started.elapsed().as_nanos() / step).min(last as u128) as usize;
        self.lifecycle[index]
    }
}

impl Inner {
    pub(super) fn endpoint(&self, ki: usize, endpoint: Endpoint<'_>) -> Answer {
        let id = match endpoint {
            Endpoint::Ping => return Answer::ok(Payload::Pong),
            Endpoint::Status(id) | Endpoint::Detail(id) => id,
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
        let polls = match endpoint {
            Endpoint::Detail(_) => &intent.detail_polls,
            _ => &intent.polls,
        };
        let poll = polls.fetch_add(1, Ordering::Relaxed) + 1;
        let mut began = false;
        let started = *intent.started.get_or_init(|| {
            began = true;
            Instant::now()
        });
        if began {
            self.lifecycle_started(ii, started);
        }
        let status = intent.status_at(started);
        let payload = match endpoint {
            Endpoint::Detail(_) => Payload::Detail(Box::new(intent.detail_payload(status))),
            _ => Payload::Status(status),
        };
        let Some(fail) = &intent.fail else {
            return Answer::ok(payload);
        };
        if fail.first.is_some_and(|n| poll > u64::from(n)) {
            return Answer::ok(payload);
        }
        let http = fail
            .http_status
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::OK);
        let mut answer = if let Some(kind) = fail.malformed {
            Answer {
                http,
                kind: AnswerKind::Malformed(kind, payload),
                retry_after: false,
                bad_signature: false,
            }
        } else if let Some(code) = fail.code {
            Answer::error(code, http, format!("injected failure (code {code})"))
        } else {
            Answer::ok(payload)
        };
        answer.bad_signature = fail.bad_signature;
        answer
    }
}

#[cfg(test)]
mod tests {
    use crate::testkit::*;
    use serde_json::Value;
    use std::time::{Duration, Instant};

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
}
