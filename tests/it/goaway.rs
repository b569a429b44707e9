//! Issue #11, point 1, end to end with the real binary: an HTTP/2 GOAWAY never freezes
//! the process. An h2c stand-in for the AllScale API sends GOAWAY as soon as the first
//! stream of its first connection arrives (as nginx does after `keepalive_requests`) and
//! holds that stream's answer for 2 s, so the connection stays open but takes no new
//! stream. Before the fix, the next request took that same shared connection, `ready()`
//! failed at once and the request loop never yielded: on the exporter's current-thread
//! runtime nothing else ran again. This test proves that, within the hold, the other
//! intents' polls complete on a second connection and `/metrics` answers; that after it
//! the held answer is still counted; and that SIGTERM still exits cleanly.

use crate::common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::processes::ExporterProcess;
use common::{Metrics, scrape, wait_for};
use hyper::http::{Response, StatusCode, header};
use tokio::net::TcpListener;

/// The lowest id is polled first, so it is the held one; the stand-in records which
/// intent it held rather than relying on that.
const INTENTS: [&str; 4] = [
    "67000000000000000000001a",
    "67000000000000000000001b",
    "67000000000000000000001c",
    "67000000000000000000001d",
];
/// How long the stream that triggered the GOAWAY waits for its answer.
const HOLD: Duration = Duration::from_secs(2);
const ON_CHAIN: i64 = 10;
const CONFIRMED: i64 = 20;

/// What the stand-in saw and did.
#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    /// Status requests answered or being answered, per intent id.
    requests: Mutex<BTreeMap<String, usize>>,
    /// The intent whose answer is held, once its request arrived.
    held: Mutex<Option<String>>,
    /// Set just before the held answer is sent.
    held_answered: AtomicBool,
}

impl Seen {
    fn requests(&self, id: &str) -> usize {
        self.requests.lock().unwrap().get(id).copied().unwrap_or(0)
    }

    fn total_requests(&self) -> usize {
        self.requests.lock().unwrap().values().sum()
    }

    fn held(&self) -> Option<String> {
        self.held.lock().unwrap().clone()
    }
}

/// The h2c (prior-knowledge HTTP/2) stand-in on 127.0.0.1: `GET
/// /v1/checkout_intents/{id}/status` answers ON_CHAIN on an intent's first request and
/// CONFIRMED after, except that the first stream of the first connection starts a
/// graceful shutdown (GOAWAY) and is answered CONFIRMED after [`HOLD`].
async fn stand_in() -> (SocketAddr, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let shared = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut going_away = shared.connections.fetch_add(1, Ordering::SeqCst) == 0;
            let seen = Arc::clone(&shared);
            tokio::spawn(async move {
                let Ok(mut conn) = h2::server::handshake(tcp).await else {
                    return;
                };
                while let Some(Ok((request, respond))) = conn.accept().await {
                    let held = std::mem::take(&mut going_away);
                    if held {
                        conn.graceful_shutdown();
                    }
                    let answer = answer(&seen, request.uri().path(), held);
                    let seen = Arc::clone(&seen);
                    tokio::spawn(async move {
                        if held {
                            tokio::time::sleep(HOLD).await;
                            seen.held_answered.store(true, Ordering::SeqCst);
                        }
                        send(respond, answer);
                    });
                }
            });
        }
    });
    (addr, seen)
}

/// The answer to a request for `path`, noted in `seen`.
fn answer(seen: &Seen, path: &str, held: bool) -> Response<Bytes> {
    let Some(id) = path
        .strip_prefix("/v1/checkout_intents/")
        .and_then(|rest| rest.strip_suffix("/status"))
    else {
        let mut response = Response::new(Bytes::from_static(b"not found"));
        *response.status_mut() = StatusCode::NOT_FOUND;
        return response;
    };
    let nth = {
        let mut requests = seen.requests.lock().unwrap();
        let n = requests.entry(id.to_string()).or_default();
        *n += 1;
        *n
    };
    if held {
        *seen.held.lock().unwrap() = Some(id.to_string());
    }
    let status = if held || nth > 1 { CONFIRMED } else { ON_CHAIN };
    let body = format!(
        r#"{{"code":0,"payload":{status},"error":null,"request_id":"req_{}"}}"#,
        seen.total_requests()
    );
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, body.len())
        .body(Bytes::from(body))
        .unwrap()
}

fn send(mut respond: h2::server::SendResponse<Bytes>, answer: Response<Bytes>) {
    let (parts, body) = answer.into_parts();
    if let Ok(mut stream) = respond.send_response(Response::from_parts(parts, ()), false) {
        let _ = stream.send_data(body, true);
    }
}

/// A scrape that fails the test when `/metrics` does not answer within 3 s (a frozen
/// exporter never does), instead of hanging it.
async fn scrape_soon(addr: SocketAddr) -> Metrics {
    tokio::time::timeout(Duration::from_secs(3), scrape(addr))
        .await
        .expect("/metrics did not answer within 3 s: the exporter froze")
}

/// The exporter's config: one HTTP/2 store at the stand-in, polling every 300 ms.
fn config_yaml(addr: SocketAddr, secret_file: &std::path::Path) -> String {
    let intents: String = INTENTS.iter().map(|id| format!("      - {id}\n")).collect();
    format!(
        "poll_interval: 300ms
request_timeout: 5s
stores:
  - name: main
    base_url: http://{addr}
    api_key: k
    api_secret_file: {}
    http_version: http2
    max_requests_per_second: 100
    intents:
{intents}",
        secret_file.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_goaway_with_a_request_in_flight_freezes_neither_polls_nor_metrics_nor_sigterm() {
    let (api, seen) = stand_in().await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "any secret").unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, config_yaml(api, &secret)).unwrap();
    let mut exporter = ExporterProcess::start(&config, &[]);

    let held = wait_for(Duration::from_secs(10), "the first status request", || {
        let held = seen.held();
        async move { held }
    })
    .await;
    let others: Vec<&str> = INTENTS.iter().copied().filter(|id| *id != held).collect();

    // Within the hold: every other intent is polled twice (on chain, then confirmed) and
    // `/metrics` answers, while the held answer has not been sent.
    let during = wait_for(
        Duration::from_secs(10),
        "the other intents to be confirmed",
        || async {
            let m = scrape_soon(exporter.addr).await;
            // A page is not one snapshot across families: a poll may land between the
            // request counters and the statuses, so both are waited for.
            let done = others
                .iter()
                .all(|id| m.status(id) == Some(CONFIRMED as f64))
                && m.requests("ok") == 2.0 * others.len() as f64;
            done.then_some(m)
        },
    )
    .await;
    assert!(
        !seen.held_answered.load(Ordering::SeqCst),
        "the other intents' polls completed only after the held answer:\n{}",
        exporter.logs()
    );
    let answered = scrape_soon(exporter.addr).await;
    assert!(
        !seen.held_answered.load(Ordering::SeqCst),
        "/metrics answered only after the held answer"
    );
    assert_ne!(answered.status(&held), Some(CONFIRMED as f64));
    for id in &others {
        assert_eq!(seen.requests(id), 2, "{id}");
    }
    assert_eq!(
        seen.requests(&held),
        1,
        "the held intent is not polled again"
    );
    assert_eq!(
        seen.connections.load(Ordering::SeqCst),
        2,
        "one new connection replaces the one going away"
    );
    assert_eq!(during.outcome("confirmed"), others.len() as f64);

    // After the hold: the held answer is counted like any other.
    let after = wait_for(
        HOLD + Duration::from_secs(5),
        "the held intent to be confirmed",
        || async {
            let m = scrape_soon(exporter.addr).await;
            let done = m.status(&held) == Some(CONFIRMED as f64)
                && m.requests("ok") == 2.0 * others.len() as f64 + 1.0;
            done.then_some(m)
        },
    )
    .await;
    assert!(seen.held_answered.load(Ordering::SeqCst));
    assert_eq!(after.requests("ok"), seen.total_requests() as f64);
    assert_eq!(after.outcome("confirmed"), INTENTS.len() as f64);
    assert_eq!(seen.connections.load(Ordering::SeqCst), 2);

    assert!(exporter.is_running(), "{}", exporter.logs());
    exporter.signal("TERM");
    let status = exporter
        .exit_within(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no exit within 10 s of SIGTERM:\n{}", exporter.logs()));
    assert!(
        status.success(),
        "exited with {status}:\n{}",
        exporter.logs()
    );
}
