//! What the simulator saw ([`SimStats`], served at `/-/stats`), and how each request is
//! counted.

use std::collections::BTreeMap;

use axum::http::request::Parts;
use serde::Serialize;

use super::Inner;
use super::answer::{Answer, AnswerKind, Decision, Endpoint};
use super::auth::header_str;
use crate::lock;

/// What the simulator saw, for tests and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SimStats {
    /// Every request received, by API key: the scenario's keys by name, `""` when the
    /// header was missing, any other value under [`UNKNOWN_KEY_STATS`]. Keyed only by
    /// known keys so that a client sending made-up keys cannot grow the map.
    pub requests_by_key: BTreeMap<String, u64>,
    /// Status requests that passed authentication, by intent id (detail requests are
    /// counted apart, in `detail_authenticated_by_intent`).
    pub authenticated_by_intent: BTreeMap<String, u64>,
    /// Intent detail requests (`GET /v1/checkout_intents/{id}`) received, by API key as
    /// in `requests_by_key` (which counts them too).
    pub detail_requests_by_key: BTreeMap<String, u64>,
    /// Intent detail requests that passed authentication, by intent id.
    pub detail_authenticated_by_intent: BTreeMap<String, u64>,
    /// Answers by envelope code (0 = success). Malformed answers (`fail.malformed`, and
    /// the broken detail payloads of `detail.malformed`) are counted under
    /// [`MALFORMED_STATS_CODE`] (-1000), never under 0.
    pub answers_by_code: BTreeMap<i64, u64>,
    /// Authenticated requests per unix second, by API key.
    pub per_second_by_key: BTreeMap<String, BTreeMap<u64, u64>>,
    /// Every request received, by protocol (`HTTP/1.1`, `HTTP/2.0`).
    pub requests_by_http_version: BTreeMap<String, u64>,
    /// The webhooks the simulator sent.
    pub webhooks: WebhookStats,
}

/// What the webhook sender did, for tests (`webhooks` in `/-/stats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WebhookStats {
    /// Webhooks sent (events, not requests: a `replayed` or `duplicate` one, or one
    /// retried, counts once), by kind (`normal`, `forged`, …).
    pub sent_by_kind: BTreeMap<String, u64>,
    /// POST requests made, retries and second copies included.
    pub requests: u64,
    /// The receivers' answers, by HTTP status.
    pub answers_by_status: BTreeMap<u16, u64>,
    /// Requests that got no HTTP answer (connect error, timeout).
    pub errors: u64,
    /// Requests that were retries of a failed `normal` delivery.
    pub retries: u64,
}

/// The `requests_by_key` key under which requests with a key the scenario does not know
/// are counted, whatever the key.
pub const UNKNOWN_KEY_STATS: &str = "(unknown)";

/// The `answers_by_code` key under which malformed answers are counted.
pub const MALFORMED_STATS_CODE: i64 = -1000;

impl Answer {
    fn stats_code(&self) -> i64 {
        match &self.kind {
            AnswerKind::Ok(payload) if payload.is_malformed() => MALFORMED_STATS_CODE,
            AnswerKind::Ok(_) => 0,
            AnswerKind::Error(code, _) => *code,
            AnswerKind::Malformed(..) => MALFORMED_STATS_CODE,
        }
    }
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

impl Inner {
    pub(super) fn record_webhook_sent(&self, kind: &str) {
        bump_str(&mut lock(&self.stats).webhooks.sent_by_kind, kind);
    }

    /// One webhook request's outcome: its HTTP status, or `None` when none came.
    pub(super) fn record_webhook_request(&self, status: Option<u16>, retry: bool) {
        let mut stats = lock(&self.stats);
        let w = &mut stats.webhooks;
        w.requests += 1;
        w.retries += u64::from(retry);
        match status {
            Some(code) => bump(&mut w.answers_by_status, code),
            None => w.errors += 1,
        }
    }

    pub(super) fn record(
        &self,
        parts: &Parts,
        endpoint: Option<Endpoint<'_>>,
        d: &Decision,
        now: u64,
    ) {
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
        if matches!(endpoint, Some(Endpoint::Detail(_))) {
            bump_str(&mut stats.detail_requests_by_key, key);
        }
        if d.authenticated {
            match endpoint {
                Some(Endpoint::Status(id)) => bump_str(&mut stats.authenticated_by_intent, id),
                Some(Endpoint::Detail(id)) => {
                    bump_str(&mut stats.detail_authenticated_by_intent, id);
                }
                _ => {}
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::*;
    use serde_json::Value;

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
}
