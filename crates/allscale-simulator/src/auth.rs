//! Authentication as the real API does it (steps 1–5 of the module doc): the four
//! headers, the timestamp window, the request signature, the per-key nonce replay window
//! and the per-second rate limit; and the simulator's clock.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::hash::BuildHasher;
use std::sync::Mutex;

use axum::http::{StatusCode, request::Parts};

use super::answer::Answer;
use super::{Inner, SimKey};
use crate::lock;
use allscale_api::signing::{request_canonical, verify};

pub(super) struct KeyRt {
    pub(super) api_key: String,
    pub(super) api_secret: String,
    rate_limit: Option<u32>,
    state: Mutex<KeyState>,
}

#[derive(Default)]
struct KeyState {
    nonces: HashSet<u128>,
    /// (expiry unix second, nonce hash), earliest first.
    expiries: BinaryHeap<Reverse<(u64, u128)>>,
    window_second: u64,
    window_count: u64,
}

impl KeyRt {
    pub(super) fn new(k: SimKey) -> KeyRt {
        KeyRt {
            api_key: k.api_key,
            api_secret: k.api_secret,
            rate_limit: k.rate_limit_per_second,
            state: Mutex::new(KeyState::default()),
        }
    }
}

impl Inner {
    fn nonce_hash(&self, nonce: &str) -> u128 {
        let hi = self.nonce_hashers.0.hash_one(nonce);
        let lo = self.nonce_hashers.1.hash_one(nonce);
        (u128::from(hi) << 64) | u128::from(lo)
    }

    /// Steps 1–4 of the auth rules; `Ok` carries the key index.
    pub(super) fn authenticate(
        &self,
        parts: &Parts,
        key: Option<usize>,
        body_sha: &str,
        now: u64,
    ) -> Result<usize, Answer> {
        let unauthorized = StatusCode::UNAUTHORIZED;
        let (Some(_), Some(ts), Some(nonce), Some(signature)) = (
            header_str(parts, "x-api-key"),
            header_str(parts, "x-timestamp"),
            header_str(parts, "x-nonce"),
            header_str(parts, "x-signature"),
        ) else {
            return Err(Answer::error(
                20001,
                unauthorized,
                "missing authentication headers (X-API-Key, X-Timestamp, X-Nonce, X-Signature)",
            ));
        };
        let Some(ki) = key else {
            return Err(Answer::error(20001, unauthorized, "unknown API key"));
        };
        let Some(ts_num) = parse_timestamp(ts) else {
            return Err(Answer::error(
                20002,
                unauthorized,
                "X-Timestamp is not a unix time in seconds",
            ));
        };
        if now.abs_diff(ts_num) > self.window_secs {
            return Err(Answer::error(
                20002,
                unauthorized,
                format!(
                    "X-Timestamp is outside the allowed window of ±{}s",
                    self.window_secs
                ),
            ));
        }
        let k = &self.keys[ki];
        let canonical = request_canonical(
            parts.method.as_str(),
            parts.uri.path(),
            parts.uri.query().unwrap_or(""),
            ts,
            nonce,
            body_sha,
        );
        if !verify(&k.api_secret, &canonical, signature) {
            return Err(Answer::error(20002, unauthorized, "invalid signature"));
        }
        let hash = self.nonce_hash(nonce);
        let mut st = lock(&k.state);
        while let Some(Reverse((expiry, h))) = st.expiries.peek().copied() {
            if expiry >= now {
                break;
            }
            st.expiries.pop();
            st.nonces.remove(&h);
        }
        if !st.nonces.insert(hash) {
            return Err(Answer::error(20002, unauthorized, "nonce already used"));
        }
        let expiry = now.max(ts_num) + self.window_secs;
        st.expiries.push(Reverse((expiry, hash)));
        if st.window_second != now {
            st.window_second = now;
            st.window_count = 0;
        }
        st.window_count += 1;
        if let Some(limit) = k.rate_limit
            && st.window_count > u64::from(limit)
        {
            drop(st);
            let mut answer = Answer::error(
                40001,
                StatusCode::TOO_MANY_REQUESTS,
                format!("rate limit exceeded ({limit} requests per second)"),
            );
            answer.retry_after = true;
            return Err(answer);
        }
        Ok(ki)
    }

    /// The simulator's own clock: the real one shifted by `clock_offset_seconds`.
    pub(super) fn server_now(&self) -> u64 {
        allscale_api::clock::unix_secs().saturating_add_signed(self.clock_offset)
    }
}

fn parse_timestamp(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A header's text; an empty value counts as missing, as the API's checks treat it.
pub(super) fn header_str<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use crate::testkit::*;
    use serde_json::Value;

    #[tokio::test]
    async fn missing_headers_and_unknown_key_are_20001() {
        let t = start(SCENARIO).await;
        let path = status_path(PLAIN);
        for missing in ["X-API-Key", "X-Timestamp", "X-Nonce", "X-Signature"] {
            let mut headers = signed_now(&path);
            headers.retain(|(k, _)| k != missing);
            let r = t.send(&path, &headers).await;
            assert_eq!((r.status, r.code()), (401, 20001), "without {missing}");
            assert_eq!(r.json()["payload"], Value::Null);
            assert!(r.json()["error"]["message"].is_string());
        }
        let r = t.get_as("st_nobody", SECRET_A, &path).await;
        assert_eq!((r.status, r.code()), (401, 20001));
        assert!(
            r.header("x-response-signature").is_none(),
            "unknown key: unsigned"
        );
    }

    #[tokio::test]
    async fn bad_signature_is_20002() {
        let t = start(SCENARIO).await;
        let path = status_path(PLAIN);
        let r = t.get_as(KEY_A, "st_wrong_secret", &path).await;
        assert_eq!((r.status, r.code()), (401, 20002));
        // Signed for another path.
        let headers = signed(
            KEY_A,
            SECRET_A,
            &status_path(MOVING),
            allscale_api::clock::unix_secs(),
            &fresh_nonce(),
        );
        let r = t.send(&path, &headers).await;
        assert_eq!((r.status, r.code()), (401, 20002));
        // A query string that was not signed.
        let headers = signed_now(&path);
        let r = t.send(&format!("{path}?x=1"), &headers).await;
        assert_eq!((r.status, r.code()), (401, 20002));
    }

    #[tokio::test]
    async fn stale_or_garbled_timestamp_is_20002() {
        let t = start(SCENARIO).await;
        let path = status_path(PLAIN);
        for ts in [
            allscale_api::clock::unix_secs() - 400,
            allscale_api::clock::unix_secs() + 400,
        ] {
            let headers = signed(KEY_A, SECRET_A, &path, ts, &fresh_nonce());
            let r = t.send(&path, &headers).await;
            assert_eq!((r.status, r.code()), (401, 20002), "ts {ts}");
        }
        // Within the window is fine.
        let headers = signed(
            KEY_A,
            SECRET_A,
            &path,
            allscale_api::clock::unix_secs() - 100,
            &fresh_nonce(),
        );
        assert_eq!(t.send(&path, &headers).await.code(), 0);
        // Milliseconds and non-numbers are not seconds.
        let mut headers = signed_now(&path);
        headers[1].1 = format!("{}000", headers[1].1);
        assert_eq!(t.send(&path, &headers).await.code(), 20002);
        headers[1].1 = "soon".into();
        assert_eq!(t.send(&path, &headers).await.code(), 20002);
    }

    #[tokio::test]
    async fn replayed_nonce_is_20002() {
        let t = start(SCENARIO).await;
        let path = status_path(PLAIN);
        let nonce = fresh_nonce();
        let headers = signed(
            KEY_A,
            SECRET_A,
            &path,
            allscale_api::clock::unix_secs(),
            &nonce,
        );
        assert_eq!(t.send(&path, &headers).await.code(), 0);
        let r = t.send(&path, &headers).await;
        assert_eq!((r.status, r.code()), (401, 20002));
        // Nonces are per key: another key may use the same one.
        let other = signed(
            KEY_B,
            SECRET_B,
            "/v1/test/ping",
            allscale_api::clock::unix_secs(),
            &nonce,
        );
        assert_eq!(t.send("/v1/test/ping", &other).await.code(), 0);
        // A request whose signature fails does not burn its nonce.
        let nonce = fresh_nonce();
        let bad = signed(
            KEY_A,
            "st_wrong_secret",
            &path,
            allscale_api::clock::unix_secs(),
            &nonce,
        );
        assert_eq!(t.send(&path, &bad).await.code(), 20002);
        let good = signed(
            KEY_A,
            SECRET_A,
            &path,
            allscale_api::clock::unix_secs(),
            &nonce,
        );
        assert_eq!(t.send(&path, &good).await.code(), 0);
    }

    #[tokio::test]
    async fn rate_limit_is_40001_with_retry_after() {
        let t = start(SCENARIO).await;
        let mut ok = 0;
        let mut limited = 0;
        let started = allscale_api::clock::unix_secs();
        // Concurrently, so they land in as few unix seconds as possible.
        let replies = futures_util::future::join_all(
            (0..30).map(|_| t.get_as("st_key_limited", "st_secret_limited", "/v1/test/ping")),
        )
        .await;
        for r in replies {
            match r.code() {
                0 => ok += 1,
                40001 => {
                    assert_eq!(r.status, 429);
                    assert_eq!(r.header("retry-after"), Some("1"));
                    limited += 1;
                }
                other => panic!("unexpected code {other}"),
            }
        }
        let seconds = allscale_api::clock::unix_secs() - started + 1;
        assert!(limited > 0, "no 429 in 30 requests");
        assert!(ok <= 3 * seconds, "{ok} successes in {seconds} s");
        // Other keys are not limited.
        for _ in 0..5 {
            assert_eq!(t.poll(PLAIN).await.code(), 0);
        }
    }
}
