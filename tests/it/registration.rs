//! Issue #13 point 2: the registration API, driven over real HTTP against the exporter
//! and the built-in simulator: registered intents are polled and shown, refusals (auth,
//! input, size, cap, shard) apply nothing, the token never shows, and a registration
//! answered 200 survives a SIGKILL.

use crate::common;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use allscale_exporter::config::{RegistrationConfig, Secret};
use allscale_exporter::reload::ReloadOptions;
use allscale_exporter::shard::Shard;
use allscale_exporter::simulator::{Scenario, Simulator};
use common::processes::ExporterProcess;
use common::sim::{Harness, KEY, SECRET, id, intent, scenario};
use common::{Metrics, wait_for};
use serde_json::{Value, json};

const TOKEN: &str = "registration-token-0123456789abcdef";

fn registration(max: usize) -> Option<RegistrationConfig> {
    Some(RegistrationConfig {
        token: Secret::new(TOKEN),
        max_intents_per_store: max,
    })
}

/// A client of one exporter's registration API.
struct Api {
    base: String,
    client: reqwest::Client,
}

/// Status, `WWW-Authenticate` and the JSON body (`null` when empty).
struct Answer {
    status: u16,
    challenge: Option<String>,
    body: Value,
    text: String,
}

impl Answer {
    fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }
}

impl Api {
    fn new(addr: std::net::SocketAddr) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        Api {
            base: format!("http://{addr}"),
            client,
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("the exporter answers");
        let status = response.status().as_u16();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
        };
        Answer {
            status,
            challenge,
            body,
            text,
        }
    }

    fn post(&self) -> reqwest::RequestBuilder {
        self.client.post(format!("{}/api/v1/intents", self.base))
    }

    async fn post_body(&self, body: impl Into<reqwest::Body>) -> Answer {
        self.send(self.post().bearer_auth(TOKEN).body(body)).await
    }

    async fn register(&self, store: &str, ids: &[String]) -> Answer {
        let intents: Vec<Value> = ids.iter().map(|id| json!({"id": id})).collect();
        let body = json!({"store": store, "intents": intents});
        self.post_body(body.to_string()).await
    }

    fn intent_url(&self, store: &str, id: &str) -> String {
        format!("{}/api/v1/intents/{store}/{id}", self.base)
    }

    async fn get(&self, store: &str, id: &str) -> Answer {
        let request = self.client.get(self.intent_url(store, id));
        self.send(request.bearer_auth(TOKEN)).await
    }

    async fn delete(&self, store: &str, id: &str) -> Answer {
        let request = self.client.delete(self.intent_url(store, id));
        self.send(request.bearer_auth(TOKEN)).await
    }
}

async fn start(sc: Scenario, config_ids: &[String], max: usize) -> Harness {
    Harness::start_with_ids(sc, config_ids.to_vec(), |c, _| {
        c.registration = registration(max)
    })
    .await
}

#[tokio::test]
async fn a_registered_intent_is_polled_shown_and_removed() {
    let sc = scenario(vec![
        intent(1, &[1, 20], 200),
        intent(2, &[1], 200),
        intent(3, &[1], 200),
    ]);
    let h = start(sc, &[id(3)], 100).await;
    let api = Api::new(h.exporter.local_addr());
    let body = json!({"store": "main", "intents": [{"id": id(1).to_uppercase(), "order_id": "order-1"}, {"id": id(2)}]});
    let answer = api.post_body(body.to_string()).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body, json!({"registered": 2, "already_watched": 0}));

    let m = h
        .wait_metrics("the registered intent confirmed", |m| {
            m.status(&id(1)) == Some(20.0)
        })
        .await;
    let info = [
        ("store", "main"),
        ("intent_id", &id(1)),
        ("order_id", "order-1"),
    ];
    assert_eq!(m.get("allscale_checkout_intent_info", &info), Some(1.0));
    assert_eq!(m.outcome("confirmed"), 1.0);
    let watched = [("store", "main")];
    assert_eq!(m.value("allscale_exporter_watched_intents", &watched), 3.0);
    let api_source = [("store", "main"), ("source", "api")];
    assert_eq!(
        m.value("allscale_exporter_source_intents", &api_source),
        2.0
    );
    let config_source = [("store", "main"), ("source", "config")];
    assert_eq!(
        m.value("allscale_exporter_source_intents", &config_source),
        1.0
    );
    let last = m.value(
        "allscale_exporter_source_last_success_timestamp_seconds",
        &api_source,
    );
    assert!(last > 1.7e9, "{last}");
    assert_eq!(
        m.value("allscale_exporter_source_errors_total", &api_source),
        0.0
    );

    let again = api.register("main", &[id(1), id(3)]).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body, json!({"registered": 0, "already_watched": 2}));

    let got = api.get("main", &id(1)).await;
    assert_eq!(got.status, 200, "{}", got.text);
    let b = &got.body;
    assert_eq!(b["store"], "main");
    assert_eq!(b["id"], id(1));
    assert_eq!(b["order_id"], "order-1");
    assert_eq!(b["status"], json!({"code": 20, "name": "CONFIRMED"}));
    assert_eq!(b["not_found"], false);
    assert_eq!(b["sources"], json!(["api"]));
    assert_eq!(b["outcome_counted"], true);
    assert_eq!(b["outcome"], "confirmed");
    assert_eq!(b["watched"], true);
    let (added, since) = (
        b["added_at"].as_f64().unwrap(),
        b["since"].as_f64().unwrap(),
    );
    let terminal_at = b["terminal_at"].as_f64().unwrap();
    assert!(added <= since && since == terminal_at, "{b}");
    assert!(b["last_success_at"].as_f64().unwrap() >= terminal_at);
    let both = api.get("main", &id(3)).await.body;
    assert_eq!(both["sources"], json!(["config", "api"]));

    // The terminal one is retired (remembered, not watched); the other one is forgotten.
    assert_eq!(api.delete("main", &id(1)).await.status, 204);
    assert_eq!(api.delete("main", &id(1)).await.status, 404);
    let retired = api.get("main", &id(1)).await;
    assert_eq!(retired.status, 200);
    assert_eq!(retired.body["watched"], false);
    assert_eq!(retired.body["sources"], json!([]));
    assert_eq!(api.delete("main", &id(2)).await.status, 204);
    let gone = api.get("main", &id(2)).await;
    assert_eq!(gone.status, 404);
    assert_eq!(
        gone.error(),
        format!("intent {} is not watched in store \"main\"", id(2))
    );
    // Still named by the config: the API's part goes, the intent stays watched.
    assert_eq!(api.delete("main", &id(3)).await.status, 204);
    let config_only = api.delete("main", &id(3)).await;
    assert_eq!(config_only.status, 409);
    assert_eq!(
        config_only.error(),
        format!(
            "intent {} is watched through config, not registered through this API; remove it there",
            id(3)
        )
    );
    let m = h.scrape().await;
    assert_eq!(m.value("allscale_exporter_watched_intents", &watched), 1.0);
    h.stop().await;
}

#[tokio::test]
async fn refused_requests_are_answered_with_why_and_apply_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash("metrics-reader-password", 4).unwrap();
    let web = dir.path().join("web.yaml");
    std::fs::write(&web, format!("basic_auth_users:\n  alice: '{hash}'\n")).unwrap();
    let options = ReloadOptions {
        web_config: Some(web),
        ..ReloadOptions::none()
    };
    let sc = scenario((1..=3).map(|n| intent(n, &[1], 200)).collect());
    let h = Harness::start_with_options(sc, vec![], options, |c, _| {
        c.registration = registration(100)
    })
    .await;
    let api = Api::new(h.exporter.local_addr());
    let ok_body = json!({"store": "main", "intents": [{"id": id(1)}]}).to_string();

    let none = api.send(api.post().body(ok_body.clone())).await;
    let wrong = api
        .send(
            api.post()
                .bearer_auth("not-the-token")
                .body(ok_body.clone()),
        )
        .await;
    let basic = api
        .send(
            api.post()
                .basic_auth("alice", Some("metrics-reader-password"))
                .body(ok_body.clone()),
        )
        .await;
    for (answer, why) in [
        (&none, "missing bearer token"),
        (&wrong, "invalid bearer token"),
        (&basic, "/metrics credentials do not grant writes"),
    ] {
        assert_eq!(answer.status, 401, "{}", answer.text);
        assert!(answer.error().contains(why), "{}", answer.text);
        let challenge = answer.challenge.as_deref().unwrap_or_default();
        assert!(challenge.starts_with("Bearer "), "{challenge}");
    }
    // The same credentials do open /metrics.
    let metrics = reqwest::Client::new()
        .get(format!("{}/metrics", api.base))
        .basic_auth("alice", Some("metrics-reader-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status().as_u16(), 200);

    let bad_id = json!({"store": "main", "intents": [{"id": id(1)}, {"id": id(2)}, {"id": "xyz"}]});
    let long_order = "o".repeat(257);
    let bad_order = json!({"store": "main", "intents": [{"id": id(1), "order_id": long_order}]});
    let many: Vec<Value> = (0..1001).map(|_| json!({"id": id(1)})).collect();
    let cases = [
        (
            bad_id.to_string(),
            400,
            "intents[2].id: \"xyz\" is not an intent id (24 hexadecimal characters)".to_owned(),
        ),
        (
            bad_order.to_string(),
            400,
            "intents[0].order_id: ".to_owned(),
        ),
        (
            json!({"store": "nope", "intents": [{"id": id(1)}]}).to_string(),
            404,
            "unknown store \"nope\"; this exporter's stores: \"main\"".to_owned(),
        ),
        (
            json!({"store": "main", "intents": many}).to_string(),
            413,
            "intents: 1001 items; at most 1000 per request".to_owned(),
        ),
        (
            format!(
                "{{\"store\": \"main\", \"intents\": [{}]}}",
                " ".repeat(1 << 20)
            ),
            413,
            "the body is larger than 1 MiB".to_owned(),
        ),
        (
            json!({"store": "main", "intents": []}).to_string(),
            400,
            "intents: the list is empty".to_owned(),
        ),
        (
            "{\"store\": \"main\", \"intents\": [".to_owned(),
            400,
            "the body is not a registration".to_owned(),
        ),
    ];
    for (body, status, why) in cases {
        let answer = api.post_body(body).await;
        assert_eq!(answer.status, status, "{}", answer.text);
        assert!(answer.error().starts_with(&why), "{why} ≠ {}", answer.text);
    }
    let bad_path = api.get("main", "xyz").await;
    assert_eq!(bad_path.status, 400);
    assert_eq!(
        bad_path.error(),
        "id: \"xyz\" is not an intent id (24 hexadecimal characters)"
    );

    for n in 1..=2 {
        assert_eq!(api.get("main", &id(n)).await.status, 404, "nothing applied");
    }
    let scrape = reqwest::Client::new()
        .get(format!("{}/metrics", api.base))
        .basic_auth("alice", Some("metrics-reader-password"))
        .send()
        .await
        .unwrap();
    let m = Metrics::parse(&scrape.text().await.unwrap());
    let watched = m.value("allscale_exporter_watched_intents", &[("store", "main")]);
    assert_eq!(watched, 0.0);
    // Refusals of batches that named the store count for its `api` source: the bad id,
    // the bad order id, 1,001 items and the empty list (the oversize body was never
    // read, the broken JSON names no store).
    let api_source = [("store", "main"), ("source", "api")];
    assert_eq!(
        m.value("allscale_exporter_source_errors_total", &api_source),
        4.0
    );
    h.stop().await;
}

#[tokio::test]
async fn the_cap_refuses_a_whole_batch_with_429() {
    let sc = scenario((1..=4).map(|n| intent(n, &[1], 200)).collect());
    let h = start(sc, &[id(4)], 3).await;
    let api = Api::new(h.exporter.local_addr());
    assert_eq!(api.register("main", &[id(1)]).await.status, 200);
    let over = api.register("main", &[id(2), id(3)]).await;
    assert_eq!(over.status, 429, "{}", over.text);
    assert_eq!(
        over.error(),
        "store \"main\" watches 2 intents; registering these would take it past its \
         max_intents_per_store of 3, so nothing was registered"
    );
    assert_eq!(api.get("main", &id(2)).await.status, 404, "all or none");
    let fits = api.register("main", &[id(1), id(2), id(4)]).await;
    assert_eq!(fits.body, json!({"registered": 1, "already_watched": 2}));
    h.stop().await;
}

#[tokio::test]
async fn without_a_registration_block_the_routes_are_404() {
    let sc = scenario(vec![intent(1, &[1], 200)]);
    let h = Harness::start_with_ids(sc, vec![], |_, _| {}).await;
    let api = Api::new(h.exporter.local_addr());
    let answers = [
        api.register("main", &[id(1)]).await,
        api.get("main", &id(1)).await,
        api.delete("main", &id(1)).await,
    ];
    for answer in answers {
        assert_eq!(answer.status, 404, "{}", answer.text);
        assert!(answer.error().contains("no `registration:` block"));
    }
    h.stop().await;
}

#[tokio::test]
async fn a_shard_registers_its_own_intents_and_names_the_owner_of_the_others() {
    let shard = Shard { index: 0, count: 2 };
    let ids: Vec<String> = (1..40).map(id).collect();
    let mine = ids.iter().find(|i| shard.owns(i)).unwrap().clone();
    let theirs: Vec<String> = ids
        .iter()
        .filter(|i| !shard.owns(i))
        .take(2)
        .cloned()
        .collect();
    let sc = scenario((1..40).map(|n| intent(n, &[1], 200)).collect());
    let options = ReloadOptions {
        shard,
        ..ReloadOptions::none()
    };
    let h = Harness::start_with_options(sc, vec![], options, |c, _| {
        c.registration = registration(100)
    })
    .await;
    let api = Api::new(h.exporter.local_addr());
    let misdirected: Vec<Value> = theirs
        .iter()
        .map(|i| json!({"id": i, "shard": 1}))
        .collect();

    let mixed = api
        .register(
            "main",
            &[mine.clone(), theirs[0].clone(), theirs[1].clone()],
        )
        .await;
    assert_eq!(mixed.status, 200, "{}", mixed.text);
    assert_eq!(
        mixed.body,
        json!({"registered": 1, "already_watched": 0, "misdirected": misdirected})
    );
    let none_mine = api.register("main", &theirs).await;
    assert_eq!(none_mine.status, 421, "{}", none_mine.text);
    assert_eq!(none_mine.body["misdirected"], json!(misdirected));
    assert!(
        none_mine.error().contains("shard 0/2"),
        "{}",
        none_mine.text
    );
    let elsewhere = api.get("main", &theirs[0]).await;
    assert_eq!(elsewhere.status, 421);
    assert_eq!(api.get("main", &mine).await.status, 200);
    assert_eq!(
        api.get("main", &theirs[1]).await.status,
        421,
        "not registered"
    );
    h.stop().await;
}

/// The simulator served from this test, and the exporter's config files in `dir`.
struct Files {
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
    _stop_sim: tokio::sync::oneshot::Sender<()>,
}

/// A YAML config with a `registration:` block whose token is in a file, against an
/// in-process simulator; `extra` goes at the top level.
async fn files(sc: Scenario, extra: &str) -> Files {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop_sim, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(Simulator::new(sc).serve(listener, async {
        let _ = stopped.await;
    }));
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write("secret", SECRET);
    write("token", &format!("{TOKEN}\n"));
    let config = dir.path().join("config.yaml");
    let yaml = format!(
        "poll_interval: 300ms\nrequest_timeout: 3s\n{extra}registration:\n  token_file: token\nstores:\n  - name: main\n    base_url: {base}\n    api_key: {KEY}\n    api_secret_file: secret\n    max_requests_per_second: 100\n"
    );
    std::fs::write(&config, yaml).unwrap();
    Files {
        dir,
        config,
        _stop_sim: stop_sim,
    }
}

fn start_binary(config: &Path) -> ExporterProcess {
    ExporterProcess::start(config, &["--log.level=trace", "--config.check-interval=0s"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_never_appears_in_answers_or_logs() {
    let files = files(scenario(vec![intent(1, &[1, 20], 200)]), "").await;
    let exporter = start_binary(&files.config);
    let api = Api::new(exporter.addr);
    let mut texts = Vec::new();
    let ok = api.register("main", &[id(1)]).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let prefix = &TOKEN[..TOKEN.len() - 1];
    let near = api.send(api.post().bearer_auth(prefix).body("{}")).await;
    assert_eq!(near.status, 401);
    for answer in [ok, near] {
        texts.push(answer.text);
        texts.extend(answer.challenge);
    }
    texts.push(api.get("main", &id(1)).await.text);
    texts.push(api.register("nope", &[id(1)]).await.text);
    texts.push(api.post_body("{").await.text);
    let reload = reqwest::Client::new()
        .post(format!("{}/-/reload", api.base))
        .send()
        .await
        .unwrap();
    texts.push(reload.text().await.unwrap());
    texts.push(common::get(exporter.addr, "/metrics").await.1);
    texts.push(common::get(exporter.addr, "/").await.1);
    wait_for(Duration::from_secs(10), "polling", || async {
        let m = common::scrape(exporter.addr).await;
        (m.status(&id(1)) == Some(20.0)).then_some(())
    })
    .await;
    let logs = exporter.logs();
    assert!(logs.lines().count() > 10, "trace logs were collected");
    // One info line per accepted registration request: store, count, the client.
    let registered: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("intents registered"))
        .collect();
    assert_eq!(registered.len(), 1, "{logs}");
    let line = registered[0];
    for field in [" INFO ", "store=main", "intents=1", "peer=127.0.0.1:"] {
        assert!(line.contains(field), "{field} not in {line}");
    }
    texts.push(logs);
    for text in &texts {
        assert!(!text.contains(prefix), "the token leaked:\n{text}");
    }
    exporter.terminate();
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A 200 means durable: SIGKILL right after it, and the restarted exporter still watches
/// and polls the intent. Needs the state database (the JSON state file restores only
/// intents the config names).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_survives_sigkill_right_after_its_200() {
    let files = files(scenario(vec![intent(1, &[1], 200)]), "state_file: state\n").await;
    let exporter = start_binary(&files.config);
    let answer = Api::new(exporter.addr).register("main", &[id(1)]).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    exporter.kill();

    let restarted_at = unix_now();
    let exporter = start_binary(&files.config);
    let api = Api::new(exporter.addr);
    let got = api.get("main", &id(1)).await;
    assert_eq!(
        got.status,
        200,
        "the registration was lost by the restart: {}\nstate dir: {:?}",
        got.text,
        std::fs::read_dir(files.dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect::<Vec<_>>()
    );
    assert_eq!(got.body["watched"], true);
    assert_eq!(got.body["sources"], json!(["api"]));
    wait_for(
        Duration::from_secs(10),
        "a poll after the restart",
        || async {
            let b = api.get("main", &id(1)).await.body;
            (b["last_success_at"].as_f64() > Some(restarted_at)).then_some(())
        },
    )
    .await;
    exporter.terminate();
}
