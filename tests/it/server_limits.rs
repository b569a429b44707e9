//! The exporter's own HTTP server under hostile clients, against the real binary: the
//! connection cap, the header-read and idle timeouts, a bounded shutdown (and a second
//! SIGTERM), and the bounded basic-auth queue.

use crate::common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use allscale_exporter::simulator::{Scenario, Simulator};
use common::processes::ExporterProcess;
use common::{Metrics, wait_for};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Stays `pending` on the simulator: polled for as long as the test runs.
const INTENT: &str = "68000000000000000000b001";
const HALF_A_REQUEST: &[u8] = b"GET /metrics HTTP/1.1\r\nHost: exporter\r\n";
const REGISTRATION_TOKEN: &str = "a-registration-token-long-enough-0123456789";

/// The simulator on 127.0.0.1:0, answering for [`INTENT`]; its base URL.
async fn healthy_api() -> String {
    let scenario = Scenario::from_yaml_str(&format!(
        "keys:\n  - api_key: st_key\n    api_secret: st_secret\n\
         intents:\n  - id: {INTENT}\n    key: st_key\n    lifecycle: [1]\n"
    ))
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(Simulator::new(scenario).serve(listener, std::future::pending()));
    base
}

/// An API that accepts connections and never answers: every poll stays in flight.
fn black_hole_api() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().collect();
        drop(held);
    });
    base
}

/// A config (one store, [`INTENT`]) and, optionally, a web config, in a temp directory.
struct Site {
    _dir: tempfile::TempDir,
    config: PathBuf,
    web: PathBuf,
}

impl Site {
    fn new(base_url: &str, request_timeout: &str, web_yaml: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("api_secret");
        std::fs::write(&secret, "st_secret").unwrap();
        let config = dir.path().join("config.yaml");
        let token = dir.path().join("registration_token");
        std::fs::write(&token, REGISTRATION_TOKEN).unwrap();
        let yaml = format!(
            "poll_interval: 300ms\nrequest_timeout: {request_timeout}\nregistration:\n  token_file: {}\nstores:\n  - name: main\n    base_url: {base_url}\n    api_key: st_key\n    api_secret_file: {}\n    intents: [{INTENT}]\n",
            token.display(),
            secret.display()
        );
        std::fs::write(&config, yaml).unwrap();
        let web = dir.path().join("web.yml");
        std::fs::write(&web, web_yaml).unwrap();
        Site {
            _dir: dir,
            config,
            web,
        }
    }

    fn start(&self, args: &[&str]) -> ExporterProcess {
        ExporterProcess::start(&self.config, args)
    }
}

/// A scrape, or None when the server refused or failed it.
async fn try_scrape(addr: SocketAddr) -> Option<Metrics> {
    let response = reqwest::get(format!("http://{addr}/metrics")).await.ok()?;
    if response.status() != 200 {
        return None;
    }
    Some(Metrics::parse(&response.text().await.ok()?))
}

/// Successful polls so far, once there is at least one.
async fn polls_after(addr: SocketAddr, after: f64) -> f64 {
    wait_for(Duration::from_secs(20), "polls to be counted", || async {
        let ok = try_scrape(addr).await?.requests("ok");
        (ok > after).then_some(ok)
    })
    .await
}

/// Whether the server closes `stream` within `limit` (whatever it sends before).
async fn closed_by_server(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let closed = async {
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                return;
            }
        }
    };
    tokio::time::timeout(limit, closed).await.is_ok()
}

async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.unwrap()
}

/// At the cap a newcomer takes the slot of the connection that never sent a request
/// (oldest first), so a scrape still gets in; a connection mid-request is never cut, and
/// only when all are mid-request is the newcomer closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_silent_connections_make_room_and_busy_ones_are_kept() {
    let site = Site::new(&healthy_api().await, "3s", "");
    let exporter = site.start(&["--web.max-connections=4", "--web.read-header-timeout=60s"]);
    let first = polls_after(exporter.addr, 0.0).await;
    // Let the server see the scrape's connection close, so all 4 slots are free.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect(exporter.addr).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        try_scrape(exporter.addr).await.is_some(),
        "a scrape at the cap"
    );
    let oldest = closed_by_server(&mut held[0], Duration::from_secs(10)).await;
    assert!(
        oldest,
        "the oldest silent connection was not the one closed"
    );
    let newer = closed_by_server(&mut held[3], Duration::from_millis(500)).await;
    assert!(!newer, "a newer silent connection was closed too");
    // Four connections mid-request (bodies still coming, well within their deadline):
    // a fifth is closed, and none of the four.
    let mut busy = Vec::new();
    for _ in 0..4 {
        let mut stream = connect(exporter.addr).await;
        let head = format!(
            "POST /api/v1/intents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {REGISTRATION_TOKEN}\r\nContent-Length: 100\r\n\r\n{{"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        busy.push(stream);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut excess = connect(exporter.addr).await;
    let closed = closed_by_server(&mut excess, Duration::from_secs(5)).await;
    assert!(closed, "a connection over a cap of busy ones was left open");
    let cut = closed_by_server(&mut busy[0], Duration::from_millis(500)).await;
    assert!(!cut, "a connection mid-request was cut to make room");
    drop(busy);
    let later = polls_after(exporter.addr, first).await;
    assert!(later > first);
    let logs = exporter.logs();
    assert!(logs.contains("connection limit reached"), "{logs}");
    exporter.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_request_head_and_a_silent_connection_are_cut_after_the_header_timeout() {
    let site = Site::new(&healthy_api().await, "3s", "");
    let exporter = site.start(&["--web.read-header-timeout=1s", "--web.idle-timeout=120s"]);
    let mut half = connect(exporter.addr).await;
    half.write_all(HALF_A_REQUEST).await.unwrap();
    let mut silent = connect(exporter.addr).await;
    let started = Instant::now();
    let limit = Duration::from_secs(15);
    assert!(
        closed_by_server(&mut half, limit).await,
        "half a request head held on"
    );
    assert!(
        closed_by_server(&mut silent, limit).await,
        "a silent connection held on"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "cut before the timeout"
    );
    polls_after(exporter.addr, 0.0).await;
    exporter.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_http2_connection_is_cut_after_the_idle_timeout() {
    let site = Site::new(&healthy_api().await, "3s", "");
    let exporter = site.start(&["--web.idle-timeout=1s", "--web.read-header-timeout=120s"]);
    let mut h2 = connect(exporter.addr).await;
    // The HTTP/2 prior-knowledge preface and an empty SETTINGS frame, then nothing.
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    let closed = closed_by_server(&mut h2, Duration::from_secs(15)).await;
    assert!(closed, "an idle HTTP/2 connection held on");
    polls_after(exporter.addr, 0.0).await;
    exporter.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_within_a_bound_while_a_client_holds_a_half_sent_request() {
    let site = Site::new(&healthy_api().await, "2s", "");
    let mut exporter = site.start(&["--web.read-header-timeout=300s"]);
    polls_after(exporter.addr, 0.0).await;
    let mut half = connect(exporter.addr).await;
    half.write_all(HALF_A_REQUEST).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    exporter.signal("TERM");
    // Polls drain within request_timeout + 1 s, the server's grace is 2 s.
    let status = tokio::task::block_in_place(|| exporter.exit_within(Duration::from_secs(20)));
    let status = status.unwrap_or_else(|| panic!("still running:\n{}", exporter.logs()));
    assert!(status.success(), "{status}:\n{}", exporter.logs());
    drop(half);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_exits_at_once_while_polls_drain() {
    let site = Site::new(&black_hole_api(), "120s", "");
    let mut exporter = site.start(&[]);
    // Polls are now in flight, and stay so for request_timeout.
    tokio::time::sleep(Duration::from_secs(1)).await;
    exporter.signal("TERM");
    let draining = tokio::task::block_in_place(|| exporter.exit_within(Duration::from_secs(1)));
    assert!(
        draining.is_none(),
        "the first SIGTERM did not wait for the in-flight polls"
    );
    exporter.signal("TERM");
    let status = tokio::task::block_in_place(|| exporter.exit_within(Duration::from_secs(10)));
    let status = status.unwrap_or_else(|| panic!("second SIGTERM ignored:\n{}", exporter.logs()));
    assert_eq!(status.code(), Some(143), "{}", exporter.logs());
    assert!(exporter.logs().contains("second stop signal"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_wrong_passwords_gets_429_with_retry_after_beyond_the_queue() {
    let hash = bcrypt::hash("right password", 8).unwrap();
    let site = Site::new(
        &healthy_api().await,
        "3s",
        &format!("basic_auth_users:\n  alice: '{hash}'\n"),
    );
    let exporter = site.start(&[&format!("--web.config.file={}", site.web.display())]);
    let url = format!("http://{}/metrics", exporter.addr);
    let client = reqwest::Client::new();
    let attempt =
        |password: &'static str| client.get(&url).basic_auth("alice", Some(password)).send();
    let flood = futures_util::future::join_all((0..40).map(|_| attempt("wrong"))).await;
    let (mut denied, mut busy) = (0, 0);
    for response in flood {
        let response = response.expect("every attempt gets an answer");
        match response.status().as_u16() {
            401 => denied += 1,
            429 => {
                busy += 1;
                assert_eq!(response.headers()["retry-after"], "1");
            }
            other => panic!("a wrong password got {other}"),
        }
    }
    assert!(
        busy > 0,
        "no 429 among 40 concurrent wrong passwords ({denied} x 401)"
    );
    assert!(denied > 0, "the queue refused everything");
    let right = attempt("right password").await.unwrap();
    assert_eq!(right.status(), 200, "the right password after the flood");
    exporter.terminate();
}

/// A connection to `addr` from the loopback address `from` (Linux answers on all of
/// 127/8), so one test can play several clients.
async fn connect_from(from: std::net::IpAddr, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(addr).await
}

/// One hostile connection slot, re-opened as soon as the server closes it, until `stop`:
/// silent, or (`slow`) trickling a request head a byte every 300 ms. Returns how many
/// connections it opened.
async fn hold_one(
    from: std::net::IpAddr,
    addr: SocketAddr,
    slow: bool,
    stop: tokio::sync::watch::Receiver<bool>,
) -> u64 {
    let mut opened = 0;
    while !*stop.borrow() {
        let Ok(mut stream) = connect_from(from, addr).await else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        opened += 1;
        let mut buf = [0u8; 512];
        let mut sent = 0;
        loop {
            tokio::select! {
                read = stream.read(&mut buf) => if !matches!(read, Ok(n) if n > 0) { break },
                _ = tokio::time::sleep(Duration::from_millis(300)) => {
                    if *stop.borrow() {
                        return opened;
                    }
                    if slow && stream.write_all(&HALF_A_REQUEST[sent % HALF_A_REQUEST.len()..][..1]).await.is_err() {
                        break;
                    }
                    sent += 1;
                }
            }
        }
    }
    opened
}

/// One client (127.0.0.2, the bulk) and three helpers (127.0.0.3-5) hold about three
/// times the connection cap with idle and slow-header connections, re-opening whatever
/// the server closes, while another client (127.0.0.1) scrapes and probes on fresh
/// connections: every scrape and probe is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_idle_and_slow_connections_does_not_keep_scrapes_and_probes_out() {
    let site = Site::new(&healthy_api().await, "3s", "");
    let exporter = site.start(&["--web.max-connections=64"]);
    polls_after(exporter.addr, 0.0).await;
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut holders = Vec::new();
    for (octet, count) in [(2u8, 150), (3, 20), (4, 20), (5, 20)] {
        let from = std::net::IpAddr::from([127, 0, 0, octet]);
        for i in 0..count {
            let slow = i % 5 == 0;
            holders.push(tokio::spawn(hold_one(
                from,
                exporter.addr,
                slow,
                stop.clone(),
            )));
        }
    }
    // Let the flood fill the cap.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let (mut answered, mut failures) = (0, Vec::new());
    for i in 0..100 {
        let path = if i % 2 == 0 { "metrics" } else { "healthz" };
        match client
            .get(format!("http://{}/{path}", exporter.addr))
            .send()
            .await
        {
            Ok(r) if r.status() == 200 => match r.text().await {
                Ok(_) => answered += 1,
                Err(e) => failures.push(format!("{path}: body: {e}")),
            },
            Ok(r) => failures.push(format!("{path}: {}", r.status())),
            Err(e) => failures.push(format!("{path}: {e:?}")),
        }
    }
    stop_tx.send(true).unwrap();
    let mut opened = 0;
    for holder in holders {
        opened += holder.await.unwrap();
    }
    assert!(
        opened > 210,
        "the flood never re-opened a connection ({opened} opened): it was not a flood"
    );
    assert!(
        answered >= 99,
        "{answered} of 100 scrapes and probes answered; failures: {failures:?}"
    );
    exporter.terminate();
}

/// A request body trickled a byte at a time (a webhook with the store's public API key,
/// a registration with the token) is answered 408 and closed by the body deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_trickled_byte_by_byte_is_answered_408_and_closed() {
    let site = Site::new(&healthy_api().await, "3s", "");
    let exporter = site.start(&[]);
    let heads = [
        "POST /webhooks/allscale HTTP/1.1\r\nHost: x\r\nX-API-Key: st_key\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n".to_string(),
        format!("POST /api/v1/intents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {REGISTRATION_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n"),
    ];
    let trickles = heads.map(|head| {
        let addr = exporter.addr;
        tokio::spawn(async move {
            let mut stream = connect(addr).await;
            stream.write_all(head.as_bytes()).await.unwrap();
            let mut answer = Vec::new();
            let mut buf = [0u8; 1024];
            let trickle = async {
                loop {
                    tokio::select! {
                        read = stream.read(&mut buf) => match read {
                            Ok(n) if n > 0 => answer.extend_from_slice(&buf[..n]),
                            _ => return,
                        },
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {
                            if stream.write_all(b"{").await.is_err() {
                                return;
                            }
                        }
                    }
                }
            };
            let closed = tokio::time::timeout(Duration::from_secs(40), trickle)
                .await
                .is_ok();
            (closed, String::from_utf8_lossy(&answer).into_owned())
        })
    });
    for trickle in trickles {
        let (closed, answer) = trickle.await.unwrap();
        assert!(
            closed,
            "a trickled body held its connection for 40 s: {answer:?}"
        );
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    }
    let m = try_scrape(exporter.addr).await.unwrap();
    let late = [("store", "main"), ("result", "body_timeout")];
    assert_eq!(m.value("allscale_webhook_requests_total", &late), 1.0);
    polls_after(exporter.addr, 0.0).await;
    exporter.terminate();
}

/// A flood of refused webhooks (bad signatures, unknown keys) writes one log line per
/// kind, not one per request; the counter still counts every one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_refused_webhooks_writes_one_log_line_per_kind() {
    let site = Site::new(&healthy_api().await, "3s", "");
    let exporter = site.start(&[]);
    let client = reqwest::Client::new();
    let url = format!("http://{}/webhooks/allscale", exporter.addr);
    for i in 0..400 {
        let key = if i % 2 == 0 { "st_key" } else { "nobody's key" };
        let answer = client
            .post(&url)
            .header("x-api-key", key)
            .header("x-webhook-id", format!("wh_{i}"))
            .header("x-webhook-timestamp", "1700000000")
            .header("x-webhook-nonce", format!("n{i}"))
            .header("x-webhook-signature", "00".repeat(32))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 401);
    }
    let logs = exporter.logs();
    let lines = logs
        .lines()
        .filter(|l| l.contains("webhook refused"))
        .count();
    assert!(lines <= 2, "{lines} log lines for 400 refusals:\n{logs}");
    assert!(lines >= 1, "the refusals were not logged at all:\n{logs}");
    let m = try_scrape(exporter.addr).await.unwrap();
    let refused = |store: &str, result: &str| {
        m.value(
            "allscale_webhook_requests_total",
            &[("store", store), ("result", result)],
        )
    };
    assert_eq!(
        refused("main", "bad_signature") + refused("unknown", "unknown_key"),
        400.0
    );
    exporter.terminate();
}
