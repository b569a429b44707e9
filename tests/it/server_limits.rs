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
        let yaml = format!(
            "poll_interval: 300ms\nrequest_timeout: {request_timeout}\nstores:\n  - name: main\n    base_url: {base_url}\n    api_key: st_key\n    api_secret_file: {}\n    intents: [{INTENT}]\n",
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_closed_and_scrapes_and_polling_go_on() {
    let site = Site::new(&healthy_api().await, "3s", "");
    let exporter = site.start(&["--web.max-connections=4", "--web.read-header-timeout=60s"]);
    let first = polls_after(exporter.addr, 0.0).await;
    // Let the server see the scrape's connection close, so all 4 slots are free.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect(exporter.addr).await);
    }
    for i in 0..3 {
        let mut excess = connect(exporter.addr).await;
        let closed = closed_by_server(&mut excess, Duration::from_secs(10)).await;
        assert!(closed, "connection {} over the cap was left open", i + 1);
    }
    let idle = closed_by_server(&mut held[0], Duration::from_millis(500)).await;
    assert!(!idle, "a connection within the cap was closed");
    assert!(
        try_scrape(exporter.addr).await.is_none(),
        "a 5th connection was served"
    );
    held.truncate(2);
    let later = polls_after(exporter.addr, first).await;
    assert!(later > first);
    assert!(
        exporter.logs().contains("connection limit reached"),
        "{}",
        exporter.logs()
    );
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
