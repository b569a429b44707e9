//! Issue #14 point 3, the relay, against the real exporter: the simulator sends signed
//! webhooks (`POST /-/webhooks/send`) to the exporter, which relays each to a tiny
//! backend that checks the HMAC itself with the store's secret. Shown: byte-for-byte
//! relays; an outage (500s, then a closed listener) loses nothing and every event then
//! arrives exactly once, in order; the forward metrics; and after SIGKILL with events
//! queued and the backend down, the restarted exporter relays them from the state file.

use crate::common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use allscale_exporter::api::signing::{WebhookFields, sha256_hex, verify, webhook_canonical};
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use common::processes::{ExporterProcess, rename_save};
use common::sim::{Harness, KEY, SECRET, id, intent, scenario, send_webhook};
use common::{Metrics, scrape, wait_for};
use serde_json::Value;

/// One request the backend got.
#[derive(Debug, Clone)]
struct Got {
    path_and_query: String,
    webhook_id: String,
    api_key: String,
    content_type: String,
    signature: String,
    body: Bytes,
    /// The backend's own HMAC check passed.
    verified: bool,
    /// What it answered.
    status: u16,
}

#[derive(Clone)]
struct Backend {
    got: Arc<Mutex<Vec<Got>>>,
    /// The status to answer (200 when the HMAC verifies and this is 200).
    answer: Arc<AtomicU16>,
}

/// The backend's handler: verifies as a merchant would, records, answers.
async fn receive(State(b): State<Backend>, req: Request) -> StatusCode {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let h = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (webhook_id, timestamp, nonce) = (
        h("x-webhook-id"),
        h("x-webhook-timestamp"),
        h("x-webhook-nonce"),
    );
    let canonical = webhook_canonical(&WebhookFields {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        webhook_id: &webhook_id,
        timestamp: &timestamp,
        nonce: &nonce,
        body_sha256: &sha256_hex(&body),
    });
    let verified = verify(SECRET, &canonical, &h("x-webhook-signature"));
    let status = if verified {
        b.answer.load(Ordering::SeqCst)
    } else {
        401
    };
    b.got.lock().unwrap().push(Got {
        path_and_query: parts.uri.path_and_query().unwrap().to_string(),
        webhook_id,
        api_key: h("x-api-key"),
        content_type: h("content-type"),
        signature: h("x-webhook-signature"),
        body,
        verified,
        status,
    });
    StatusCode::from_u16(status).unwrap()
}

/// The backend on a fixed address; `stop` closes its listener and its connections.
struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Backend {
    fn new() -> Self {
        Backend {
            got: Arc::default(),
            answer: Arc::new(AtomicU16::new(200)),
        }
    }

    async fn serve(&self, addr: SocketAddr) -> (SocketAddr, Running) {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(self.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        (addr, Running { stop, task })
    }

    /// The requests it accepted (answered 2xx), in order.
    fn accepted(&self) -> Vec<Got> {
        let got = self.got.lock().unwrap();
        got.iter()
            .filter(|g| (200..300).contains(&g.status))
            .cloned()
            .collect()
    }

    fn attempts(&self) -> usize {
        self.got.lock().unwrap().len()
    }
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("the backend stops")
            .unwrap();
    }
}

/// Asks the simulator at `sim` to send intent `n`'s webhook to `url` now; returns its
/// report once the exporter answered.
async fn send(sim: &str, n: u32, url: &str) -> Value {
    let report = send_webhook(sim, n, "normal", url).await;
    assert_eq!(
        report["deliveries"][0]["status"], 200,
        "the exporter took it: {report}"
    );
    report
}

fn forwards(m: &Metrics, result: &str) -> f64 {
    m.get(
        "allscale_webhook_forward_total",
        &[("store", "main"), ("result", result)],
    )
    .unwrap_or(-1.0)
}

fn queue(m: &Metrics) -> f64 {
    m.value("allscale_webhook_forward_queue", &[("store", "main")])
}

fn lag_count(m: &Metrics) -> f64 {
    m.value(
        "allscale_webhook_forward_lag_seconds_count",
        &[("store", "main")],
    )
}

/// `n` relays done and counted, nothing queued. (One scrape reads the families at
/// slightly different moments, so all of them are waited for together.)
fn relayed(m: &Metrics, n: f64) -> bool {
    forwards(m, "ok") == n && lag_count(m) == n && queue(m) == 0.0
}

async fn wait_metrics(addr: SocketAddr, what: &str, cond: impl Fn(&Metrics) -> bool) -> Metrics {
    wait_for(Duration::from_secs(30), what, || async {
        let m = scrape(addr).await;
        cond(&m).then_some(m)
    })
    .await
}

/// Every accepted relay verified, each webhook id once, in `order`.
fn assert_exactly_once_in_order(backend: &Backend, order: &[String]) {
    let accepted = backend.accepted();
    let ids: Vec<&str> = accepted.iter().map(|g| g.webhook_id.as_str()).collect();
    assert_eq!(ids, order, "each event once, in order");
    assert!(accepted.iter().all(|g| g.verified));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_relayed_byte_for_byte_and_survive_an_outage_in_order() {
    let backend = Backend::new();
    let (backend_addr, running) = backend.serve("127.0.0.1:0".parse().unwrap()).await;
    let intents = (1..=5).map(|n| intent(n, &[10], 100)).collect();
    let h = Harness::start(scenario(intents), |config, _| {
        config.stores[0].webhook.forward_url =
            Some(format!("http://{backend_addr}").parse().unwrap());
    })
    .await;
    let addr = h.exporter.local_addr();
    let url = format!("http://{addr}/webhooks/allscale?via=test");
    let mut order = Vec::new();

    // Relayed as received: path and query, headers and body; the backend's check passes.
    for n in [1, 2] {
        let report = send(&h.sim_base, n, &url).await;
        order.push(report["webhook_id"].as_str().unwrap().to_owned());
        let got = wait_for(Duration::from_secs(10), "the relay", || async {
            backend.accepted().get(n as usize - 1).cloned()
        })
        .await;
        let sent = &report["deliveries"][0];
        assert!(got.verified, "the backend's own HMAC check passes");
        assert_eq!(got.path_and_query, "/webhooks/allscale?via=test");
        assert_eq!(got.webhook_id, report["webhook_id"]);
        assert_eq!(got.api_key, KEY);
        assert_eq!(got.content_type, "application/json");
        assert_eq!(got.signature, sent["signature"]);
        assert_eq!(sha256_hex(&got.body), sent["body_sha256"]);
        assert_eq!(got.body.len() as u64, sent["body_bytes"].as_u64().unwrap());
    }
    wait_metrics(addr, "two relays counted", |m| relayed(m, 2.0)).await;

    // The backend answers 500: the events wait, the first one is retried.
    backend.answer.store(500, Ordering::SeqCst);
    for n in [3, 4] {
        let report = send(&h.sim_base, n, &url).await;
        order.push(report["webhook_id"].as_str().unwrap().to_owned());
    }
    let m = wait_metrics(addr, "http errors", |m| forwards(m, "http_error") >= 1.0).await;
    assert_eq!(queue(&m), 2.0);
    // Then it is gone altogether.
    running.stop().await;
    let attempts = backend.attempts();
    let report = send(&h.sim_base, 5, &url).await;
    order.push(report["webhook_id"].as_str().unwrap().to_owned());
    let m = wait_metrics(addr, "connect errors", |m| {
        forwards(m, "connect_error") >= 1.0
    })
    .await;
    assert_eq!(queue(&m), 3.0);
    assert_eq!(forwards(&m, "ok"), 2.0);
    assert_eq!(backend.attempts(), attempts, "the backend is down");
    let failed = backend.got.lock().unwrap().clone();
    assert!(
        failed[2..]
            .iter()
            .all(|g| g.webhook_id == order[2] && g.status == 500),
        "only the oldest waiting event is tried, and again: {failed:?}"
    );

    // Back on the same port: every event arrives exactly once, in order.
    backend.answer.store(200, Ordering::SeqCst);
    let (_, running) = backend.serve(backend_addr).await;
    let m = wait_metrics(addr, "every event relayed", |m| relayed(m, 5.0)).await;
    assert_exactly_once_in_order(&backend, &order);
    assert_eq!(forwards(&m, "timeout"), 0.0);
    let restarts = m.value(
        "allscale_exporter_task_restarts_total",
        &[("task", "webhook_relay")],
    );
    assert_eq!(restarts, 0.0);
    h.stop().await;
    running.stop().await;
}

/// The simulator of intents 1..=n on 127.0.0.1:0; its base URL.
async fn start_sim(n: u32) -> String {
    let sim = allscale_exporter::simulator::Simulator::new(scenario(
        (1..=n).map(|n| intent(n, &[10], 100)).collect(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(sim.serve(listener, std::future::pending()));
    sim_url
}

/// A free port on 127.0.0.1 for a backend that is down at first.
fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Writes (or rewrites) `dir/config.yaml`: store `main` polling the simulator, with a
/// state file, relaying to `forward` if given.
fn write_config(dir: &Path, sim_url: &str, forward: Option<SocketAddr>) -> PathBuf {
    let secret = dir.join("secret");
    std::fs::write(&secret, SECRET).unwrap();
    let webhook = forward
        .map(|addr| format!("    webhook:\n      forward_url: http://{addr}\n"))
        .unwrap_or_default();
    let config = dir.join("config.yaml");
    let text = format!(
        "poll_interval: 300ms\nrequest_timeout: 2s\nstate_file: {}\nstores:\n  - name: main\n    base_url: {sim_url}\n    api_key: {KEY}\n    api_secret_file: {}\n{webhook}    intents: [{}]\n",
        dir.join("state.db").display(),
        secret.display(),
        id(1),
    );
    rename_save(&config, &text);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_queued_when_killed_are_relayed_after_the_restart() {
    // The AllScale side: the simulator, polled and sending webhooks.
    let sim_url = start_sim(3).await;
    let backend_addr = free_addr();

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim_url, Some(backend_addr));

    let first = ExporterProcess::start(&config, &[]);
    let url = format!("http://{}/webhooks/allscale", first.addr);
    let mut order = Vec::new();
    for n in 1..=3 {
        let report = send(&sim_url, n, &url).await;
        order.push(report["webhook_id"].as_str().unwrap().to_owned());
    }
    let m = wait_metrics(first.addr, "the backend is unreachable", |m| {
        forwards(m, "connect_error") >= 1.0
    })
    .await;
    assert_eq!(queue(&m), 3.0);
    first.kill();

    let backend = Backend::new();
    let (_, running) = backend.serve(backend_addr).await;
    let second = ExporterProcess::start(&config, &[]);
    wait_metrics(second.addr, "the queue relayed", |m| relayed(m, 3.0)).await;
    assert_exactly_once_in_order(&backend, &order);
    assert!(
        backend
            .accepted()
            .iter()
            .all(|g| g.path_and_query == "/webhooks/allscale")
    );
    second.terminate();
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_without_forward_url_stops_the_relay_and_keeps_the_queue() {
    let sim_url = start_sim(3).await;
    let backend_addr = free_addr();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim_url, Some(backend_addr));
    let exporter = ExporterProcess::start(&config, &[]);
    let url = format!("http://{}/webhooks/allscale", exporter.addr);
    let mut order = Vec::new();
    for n in 1..=2 {
        let report = send(&sim_url, n, &url).await;
        order.push(report["webhook_id"].as_str().unwrap().to_owned());
    }
    wait_metrics(exporter.addr, "two events queued, the backend down", |m| {
        queue(m) == 2.0 && forwards(m, "connect_error") >= 1.0
    })
    .await;

    // forward_url removed: the relay stops, the events stay queued.
    write_config(dir.path(), &sim_url, None);
    exporter.signal("HUP");
    wait_metrics(exporter.addr, "the store no longer relays", |m| {
        m.get("allscale_webhook_forward_queue", &[("store", "main")])
            .is_none()
    })
    .await;
    let backend = Backend::new();
    let (_, running) = backend.serve(backend_addr).await;
    // Not queued: the store does not relay now.
    send(&sim_url, 3, &url).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(backend.attempts(), 0, "nothing relayed without forward_url");

    // Put back: the queued events go out, in order; the one taken meanwhile does not.
    write_config(dir.path(), &sim_url, Some(backend_addr));
    exporter.signal("HUP");
    wait_metrics(exporter.addr, "the queue relayed", |m| relayed(m, 2.0)).await;
    assert_exactly_once_in_order(&backend, &order);
    let logs = exporter.logs();
    assert!(
        logs.contains("webhook relay stopped (no forward_url)"),
        "{logs}"
    );
    exporter.terminate();
    running.stop().await;
}
