//! Issue #13 points 3 and 6, end to end: the real exporter binary against the built-in
//! simulator, with intents pulled from files and from a small HTTP backend in the test,
//! and the source metrics that say how each source goes.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use allscale_exporter::shard::Shard;
use allscale_exporter::simulator::Simulator;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::processes::{ExporterProcess, rename_save};
use common::sim::{self, KEY, SECRET};
use common::{Metrics, scrape, wait_for};

const TOKEN: &str = "backend-token-5f1c2e9a7d";
const LIMIT: Duration = Duration::from_secs(15);

/// The simulator on 127.0.0.1:0, knowing intents 1..=n (open: on chain for a long time).
async fn simulator(n: u32) -> (Simulator, String) {
    let intents = (1..=n).map(|i| sim::intent(i, &[1, 10], 600_000)).collect();
    let simulator = Simulator::new(sim::scenario(intents));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        simulator
            .clone()
            .serve(listener, std::future::pending::<()>()),
    );
    (simulator, base)
}

/// A temp dir with the API secret, the bearer token and an `intents.d/` directory.
struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    fn new() -> Dir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret"), SECRET).unwrap();
        std::fs::write(dir.path().join("token"), format!("{TOKEN}\n")).unwrap();
        std::fs::create_dir(dir.path().join("intents.d")).unwrap();
        Dir { dir }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("config.yaml")
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join("intents.d").join(name)
    }

    /// A config for store `main` with `intents` and the `intent_sources` text given.
    fn write_config(&self, base: &str, intents: &[u32], sources: &str) {
        let mut yaml = format!(
            "poll_interval: 300ms\nrequest_timeout: 2s\nstores:\n  - name: main\n    \
             base_url: {base}\n    api_key: {KEY}\n    api_secret_file: secret\n    \
             max_requests_per_second: 200\n    intents: [{}]\n",
            intents
                .iter()
                .map(|n| sim::id(*n))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if !sources.is_empty() {
            yaml.push_str("    intent_sources:\n");
            for line in sources.lines() {
                yaml.push_str(&format!("      {line}\n"));
            }
        }
        rename_save(&self.config(), &yaml);
    }
}

/// Writes a list of ids as a file source would hold it, in one rename.
fn write_list(path: &Path, ids: &[u32]) {
    write_text(path, &list_json(ids));
}

fn write_text(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn list_json(ids: &[u32]) -> String {
    let ids: Vec<String> = ids.iter().map(|n| sim::id(*n)).collect();
    serde_json::to_string(&ids).unwrap()
}

/// The intents of store `main` that have a status on `/metrics`.
fn polled(m: &Metrics) -> BTreeSet<u32> {
    (1..=64)
        .filter(|n| m.status(&sim::id(*n)).is_some())
        .collect()
}

fn source(m: &Metrics, name: &str, source: &str) -> Option<f64> {
    m.get(name, &[("store", "main"), ("source", source)])
}

fn source_intents(m: &Metrics, kind: &str) -> Option<f64> {
    source(m, "allscale_exporter_source_intents", kind)
}

fn source_errors(m: &Metrics, kind: &str) -> f64 {
    source(m, "allscale_exporter_source_errors_total", kind).unwrap_or(0.0)
}

async fn wait_until(
    exporter: &ExporterProcess,
    what: &str,
    cond: impl Fn(&Metrics) -> bool,
) -> Metrics {
    wait_for(LIMIT, what, || async {
        let m = scrape(exporter.addr).await;
        cond(&m).then_some(m)
    })
    .await
}

fn set(ids: &[u32]) -> BTreeSet<u32> {
    ids.iter().copied().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_polled_and_each_edit_changes_only_its_own_intents() {
    let (_sim, base) = simulator(8).await;
    let dir = Dir::new();
    write_list(&dir.file("a.json"), &[1, 2, 4]);
    write_list(&dir.file("b.json"), &[3]);
    write_text(&dir.file("notes.txt"), "not a list");
    dir.write_config(&base, &[4], "files: [\"intents.d/*.json\"]");
    let exporter = ExporterProcess::start(&dir.config(), &[]);
    let m = wait_until(&exporter, "intents of both files polled", |m| {
        polled(m) == set(&[1, 2, 3, 4])
    })
    .await;
    assert_eq!(source_intents(&m, "file"), Some(4.0));
    assert_eq!(source_intents(&m, "config"), Some(1.0));
    assert_eq!(
        source_intents(&m, "http"),
        None,
        "no http source configured"
    );
    assert_eq!(source_errors(&m, "file"), 0.0);
    let first_success = source(
        &m,
        "allscale_exporter_source_last_success_timestamp_seconds",
        "file",
    )
    .expect("files read cleanly");

    // a.json drops 2 and 4 and adds 5: 4 stays (the config names it), b.json's 3 stays.
    write_list(&dir.file("a.json"), &[1, 5]);
    let m = wait_until(&exporter, "a.json's edit applied", |m| {
        polled(m) == set(&[1, 3, 4, 5])
    })
    .await;
    assert_eq!(source_intents(&m, "file"), Some(3.0));

    // An invalid b.json keeps its last good list, counted and logged once.
    write_text(&dir.file("b.json"), &format!("[{:?}, \"xyz\"]", sim::id(6)));
    let m = wait_until(&exporter, "the file error counted", |m| {
        source_errors(m, "file") >= 1.0
    })
    .await;
    assert!(polled(&m).contains(&3), "b.json's last good list stays");
    assert!(!polled(&m).contains(&6));
    tokio::time::sleep(Duration::from_millis(800)).await;
    let m = scrape(exporter.addr).await;
    assert_eq!(
        source_errors(&m, "file"),
        1.0,
        "one problem per file version"
    );
    let logs = exporter.logs();
    assert_eq!(
        logs.matches(r#"b.json: item 1: \"xyz\" is not an intent id"#)
            .count(),
        1,
        "{logs}"
    );

    // Fixed, b.json names 3 and 4; then the config drops 4: the file keeps it watched.
    write_list(&dir.file("b.json"), &[3, 4]);
    wait_until(&exporter, "b.json fixed", |m| {
        source_intents(m, "file") == Some(4.0)
            && source(
                m,
                "allscale_exporter_source_last_success_timestamp_seconds",
                "file",
            )
            .is_some_and(|t| t > first_success)
    })
    .await;
    dir.write_config(&base, &[], "files: [\"intents.d/*.json\"]");
    let m = wait_until(&exporter, "the config without 4", |m| {
        source_intents(m, "config") == Some(0.0)
    })
    .await;
    assert_eq!(polled(&m), set(&[1, 3, 4, 5]), "4 stays, named by b.json");

    // Deleting a.json is no error; a new file is found.
    std::fs::remove_file(dir.file("a.json")).unwrap();
    write_list(&dir.file("c.json"), &[7]);
    let m = wait_until(&exporter, "a.json gone, c.json found", |m| {
        polled(m) == set(&[3, 4, 7])
    })
    .await;
    assert_eq!(source_errors(&m, "file"), 1.0);
    common::assert_promtool_clean(&m.text);

    // Without intent_sources the file source lets go of its intents.
    dir.write_config(&base, &[3], "");
    let m = wait_until(&exporter, "the file source removed", |m| {
        polled(m) == set(&[3]) && source_intents(m, "file").is_none()
    })
    .await;
    assert_eq!(
        m.value("allscale_exporter_watched_intents", &[("store", "main")]),
        1.0
    );
}

/// What the test's backend serves and saw.
#[derive(Default)]
struct Backend {
    list: String,
    etag: String,
    failing: bool,
    requests: u32,
    not_modified: u32,
    bad_token: u32,
}

async fn backend_list(
    axum::extract::State(backend): axum::extract::State<Arc<Mutex<Backend>>>,
    headers: HeaderMap,
) -> Response {
    let mut response = answer(&mut backend.lock().unwrap(), &headers);
    // No keep-alive: once the listener is closed, the next fetch cannot connect.
    response.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    response
}

fn answer(b: &mut Backend, headers: &HeaderMap) -> Response {
    b.requests += 1;
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if auth != Some(&format!("Bearer {TOKEN}")) {
        b.bad_token += 1;
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if b.failing {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let etag = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    if etag == Some(b.etag.as_str()) {
        b.not_modified += 1;
        return StatusCode::NOT_MODIFIED.into_response();
    }
    ([(header::ETAG, b.etag.clone())], b.list.clone()).into_response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_source_uses_etags_and_keeps_its_list_while_the_backend_is_down() {
    let (_sim, base) = simulator(8).await;
    let backend = Arc::new(Mutex::new(Backend {
        list: list_json(&[1, 2]),
        etag: "\"v1\"".into(),
        ..Backend::default()
    }));
    let app = axum::Router::new()
        .route("/open-intents", axum::routing::get(backend_list))
        .with_state(Arc::clone(&backend));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/open-intents?merchant=m1",
        listener.local_addr().unwrap()
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let dir = Dir::new();
    let http = format!("http:\n  url: {url}\n  refresh_interval: 1s\n  bearer_token_file: token");
    dir.write_config(&base, &[], &http);
    let exporter = ExporterProcess::start(&dir.config(), &[]);

    let m = wait_until(&exporter, "the HTTP list polled", |m| {
        polled(m) == set(&[1, 2])
    })
    .await;
    assert_eq!(source_intents(&m, "http"), Some(2.0));
    wait_for(LIMIT, "a 304", || async {
        (backend.lock().unwrap().not_modified >= 1).then_some(())
    })
    .await;
    let m = scrape(exporter.addr).await;
    assert_eq!(polled(&m), set(&[1, 2]), "a 304 keeps the list");
    assert_eq!(source_errors(&m, "http"), 0.0);
    assert!(
        source(
            &m,
            "allscale_exporter_source_last_success_timestamp_seconds",
            "http"
        )
        .is_some()
    );

    {
        let mut b = backend.lock().unwrap();
        b.list = list_json(&[2, 3]);
        b.etag = "\"v2\"".into();
    }
    wait_until(&exporter, "the new list", |m| polled(m) == set(&[2, 3])).await;

    // Answering 500, then gone: the last good list stays watched, errors count.
    backend.lock().unwrap().failing = true;
    let m = wait_until(&exporter, "500s counted", |m| {
        source_errors(m, "http") >= 2.0
    })
    .await;
    assert_eq!(polled(&m), set(&[2, 3]));
    server.abort();
    let _ = server.await;
    let before = source_errors(&scrape(exporter.addr).await, "http");
    let m = wait_until(&exporter, "connect errors counted", |m| {
        source_errors(m, "http") >= before + 2.0
    })
    .await;
    assert_eq!(
        polled(&m),
        set(&[2, 3]),
        "the last good list stays while down"
    );
    assert_eq!(
        m.value("allscale_exporter_watched_intents", &[("store", "main")]),
        2.0
    );

    common::assert_promtool_clean(&m.text);
    let b = backend.lock().unwrap();
    assert_eq!(b.bad_token, 0, "every request had the bearer token");
    assert!(b.requests >= 4);
    drop(b);
    let logs = exporter.logs();
    assert_eq!(
        logs.matches("answered 500").count(),
        1,
        "logged once:\n{logs}"
    );
    assert!(
        !logs.contains(TOKEN) && !m.text.contains(TOKEN),
        "the token leaked"
    );
    assert!(
        !logs.contains("merchant=m1"),
        "the query is not logged:\n{logs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sharded_replica_keeps_only_its_own_ids() {
    let (simulator, base) = simulator(20).await;
    let dir = Dir::new();
    let all: Vec<u32> = (1..=20).collect();
    write_list(&dir.file("all.json"), &all);
    dir.write_config(&base, &[], "files: [intents.d/all.json]");
    let shard = Shard { index: 0, count: 2 };
    let owned: BTreeSet<u32> = all
        .iter()
        .copied()
        .filter(|n| shard.owns(&sim::id(*n)))
        .collect();
    assert!(!owned.is_empty() && owned.len() < all.len());
    let exporter = ExporterProcess::start(&dir.config(), &["--shard=0/2"]);
    let m = wait_until(&exporter, "the owned intents polled", |m| {
        polled(m) == owned
    })
    .await;
    assert_eq!(source_intents(&m, "file"), Some(owned.len() as f64));
    tokio::time::sleep(Duration::from_millis(600)).await;
    let asked: BTreeSet<String> = simulator
        .stats()
        .authenticated_by_intent
        .into_keys()
        .collect();
    let want: BTreeSet<String> = owned.iter().map(|n| sim::id(*n)).collect();
    assert_eq!(asked, want, "only owned ids are polled");
}
