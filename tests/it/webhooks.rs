//! The webhook receiver against the built-in simulator, which signs and sends webhooks
//! (`POST /-/webhooks/send`), over real HTTP on loopback: a valid webhook confirms its
//! intent once, also when the poll sees the same confirmation; every kind of bad
//! webhook is refused with its status, counted under its result, and changes nothing;
//! an intent nobody watched is added with source `webhook`; a nonce is refused again
//! right after a restart; a confirmation without a webhook is counted as missing.

use crate::common;

use std::time::Duration;

use allscale_exporter::api::signing::{WebhookFields, sha256_hex, sign, webhook_canonical};
use common::processes::ExporterProcess;
use common::sim::{Harness, KEY, SECRET, id, intent, scenario, send_webhook};
use common::{Metrics, scrape, wait_for};
use serde_json::json;

/// Asks the simulator to send one webhook of `kind` for intent `n` to the exporter;
/// returns the HTTP statuses the exporter answered (two for `replayed`/`duplicate`).
async fn send(h: &Harness, n: u32, kind: &str) -> Vec<u64> {
    let url = format!("http://{}/webhooks/allscale", h.exporter.local_addr());
    let answer = send_webhook(&h.sim_base, n, kind, &url).await;
    answer["deliveries"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .iter()
        .map(|d| d["status"].as_u64().unwrap_or(0))
        .collect()
}

fn requests(m: &Metrics, store: &str, result: &str) -> f64 {
    m.value(
        "allscale_webhook_requests_total",
        &[("store", store), ("result", result)],
    )
}

fn confirmations(m: &Metrics, source: &str) -> f64 {
    m.value(
        "allscale_checkout_intent_confirmations_total",
        &[("store", "main"), ("source", source)],
    )
}

#[tokio::test]
async fn a_valid_webhook_confirms_once_also_when_the_poll_sees_it() {
    // Intent 1 turns CONFIRMED on the API side 0.4 s after its first poll, and is next
    // polled 3 s later: its webhook comes first. Intent 2 stays CREATED on the API side:
    // the poll that checks its webhook disagrees.
    let sc = scenario(vec![intent(1, &[1, 20], 400), intent(2, &[1], 60_000)]);
    let h = Harness::start(sc, |config, _| {
        config.poll_interval = Duration::from_secs(3)
    })
    .await;
    h.wait_metrics("polled", |m| {
        m.status(&id(1)) == Some(1.0) && m.status(&id(2)) == Some(1.0)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(send(&h, 1, "normal").await, [200]);
    let m = h.scrape().await;
    assert_eq!(m.status(&id(1)), Some(20.0), "confirmed at once");
    assert_eq!(m.outcome("confirmed"), 1.0);
    assert_eq!(confirmations(&m, "webhook"), 1.0);
    assert_eq!(requests(&m, "main", "ok"), 1.0);
    let last = m.value(
        "allscale_webhook_last_received_timestamp_seconds",
        &[("store", "main")],
    );
    assert!(last > 1.7e9, "{last}");
    // AllScale's retry of the same event (same id, new nonce) is answered, not counted;
    // the checking poll sees CONFIRMED too, and agrees.
    assert_eq!(send(&h, 1, "duplicate").await, [200, 200]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let m = h.scrape().await;
    assert_eq!(m.outcome("confirmed"), 1.0, "counted once");
    assert_eq!(confirmations(&m, "webhook"), 1.0);
    assert_eq!(confirmations(&m, "poll"), 0.0);
    let disagreements = [("store", "main")];
    assert_eq!(
        m.value("allscale_webhook_disagreements_total", &disagreements),
        0.0
    );
    assert_eq!(requests(&m, "main", "ok"), 3.0);
    assert_eq!(send(&h, 2, "normal").await, [200]);
    let m = h
        .wait_metrics("the checking poll of intent 2", |m| {
            m.value("allscale_webhook_disagreements_total", &disagreements) == 1.0
        })
        .await;
    assert_eq!(
        m.status(&id(2)),
        Some(20.0),
        "the webhook's confirmation stays"
    );
    assert_eq!(m.outcome("confirmed"), 2.0);
    h.stop().await;
}

/// Forged, stale, unknown-key, malformed, oversize and replayed webhooks, each for an
/// intent of its own: each refused with its status, counted under its result; none
/// confirms anything (the replay's first delivery does, once).
#[tokio::test]
async fn bad_webhooks_are_refused_counted_and_change_nothing() {
    let sc = scenario((1..=6).map(|n| intent(n, &[10], 60_000)).collect());
    let h = Harness::start(sc, |_, _| {}).await;
    h.wait_metrics("every intent polled", |m| {
        (1..=6).all(|n| m.status(&id(n)) == Some(10.0))
    })
    .await;
    let cases = [
        (1, "forged", vec![401], "bad_signature"),
        (2, "stale", vec![401], "stale_timestamp"),
        (3, "unknown_key", vec![401], "unknown_key"),
        (4, "malformed", vec![400], "malformed"),
        (5, "oversize", vec![413], "too_large"),
        (6, "replayed", vec![200, 409], "replayed_nonce"),
    ];
    for (n, kind, statuses, _) in &cases {
        assert_eq!(&send(&h, *n, kind).await, statuses, "{kind}");
    }
    let m = h.scrape().await;
    for (_, kind, _, result) in &cases {
        let store = if *kind == "unknown_key" {
            "unknown"
        } else {
            "main"
        };
        assert_eq!(requests(&m, store, result), 1.0, "{kind}");
    }
    assert_eq!(
        requests(&m, "main", "ok"),
        1.0,
        "the replay's first delivery"
    );
    assert_eq!(m.outcome("confirmed"), 1.0);
    for n in 1..=5 {
        assert_eq!(m.status(&id(n)), Some(10.0), "intent {n} unchanged");
    }
    assert_eq!(m.status(&id(6)), Some(20.0));
    h.stop().await;
}

#[tokio::test]
async fn an_intent_nobody_watched_is_added_with_source_webhook() {
    let mut sc = scenario(vec![intent(1, &[20], 100), intent(2, &[20], 100)]);
    sc.intents[1].starts = Some(allscale_exporter::simulator::Starts::AtLaunch);
    let h = Harness::start_with_ids(sc, vec![id(1)], |_, _| {}).await;
    assert_eq!(send(&h, 2, "normal").await, [200]);
    let m = h.scrape().await;
    assert_eq!(m.status(&id(2)), Some(20.0));
    let webhook = [("store", "main"), ("source", "webhook")];
    assert_eq!(m.value("allscale_exporter_source_intents", &webhook), 1.0);
    h.stop().await;
}

/// A signed webhook as AllScale sends it, for `id`, at `timestamp`, with `nonce`.
pub(crate) fn signed(
    id: &str,
    webhook_id: &str,
    nonce: &str,
    timestamp: i64,
) -> (Vec<(String, String)>, String) {
    let body = json!({"allscale_checkout_intent_id": id, "order_id": "o-1"}).to_string();
    let timestamp = timestamp.to_string();
    let canonical = webhook_canonical(&WebhookFields {
        method: "POST",
        path: "/webhooks/allscale",
        query: "",
        webhook_id,
        timestamp: &timestamp,
        nonce,
        body_sha256: &sha256_hex(body.as_bytes()),
    });
    let headers = vec![
        ("x-api-key".to_string(), KEY.to_string()),
        ("x-webhook-id".to_string(), webhook_id.to_string()),
        ("x-webhook-timestamp".to_string(), timestamp),
        ("x-webhook-nonce".to_string(), nonce.to_string()),
        ("x-webhook-signature".to_string(), sign(SECRET, &canonical)),
        ("content-type".to_string(), "application/json".to_string()),
    ];
    (headers, body)
}

pub(crate) async fn post(
    addr: std::net::SocketAddr,
    request: &(Vec<(String, String)>, String),
) -> u16 {
    let mut builder = reqwest::Client::new().post(format!("http://{addr}/webhooks/allscale"));
    for (name, value) in &request.0 {
        builder = builder.header(name, value);
    }
    builder
        .body(request.1.clone())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The nonce store is kept in the state database: the same signed request replayed
/// right after a SIGKILL and restart is still refused, and counts nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_right_after_a_restart_is_still_refused() {
    let sc = scenario(vec![intent(1, &[10], 60_000)]);
    let sim = allscale_exporter::simulator::Simulator::new(sc);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(sim.serve(listener, std::future::pending()));
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, SECRET).unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "poll_interval: 300ms\nstate_file: {}\nstores:\n  - name: main\n    base_url: {base}\n    \
             api_key: {KEY}\n    api_secret_file: {}\n    intents: [{}]\n",
            dir.path().join("state.db").display(),
            secret.display(),
            id(1)
        ),
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let request = signed(&id(1), "whk_restart", "nonce-restart", now);
    let first = ExporterProcess::start(&config, &[]);
    assert_eq!(post(first.addr, &request).await, 200);
    first.kill();
    let second = ExporterProcess::start(&config, &[]);
    assert_eq!(
        post(second.addr, &request).await,
        409,
        "replayed after the restart"
    );
    let m = scrape(second.addr).await;
    assert_eq!(
        m.outcome("confirmed"),
        1.0,
        "counted once, before the restart"
    );
    assert_eq!(requests(&m, "main", "replayed_nonce"), 1.0);
    second.terminate();
}

/// With `webhook.expected`, a confirmation polling saw is counted as missing once the
/// grace passed without a webhook; one whose webhook came is not. The grace passes on
/// the exporter's manual clock; the check still runs every real second.
#[tokio::test]
async fn a_confirmation_without_its_webhook_is_counted_missing_after_the_grace() {
    let sc = scenario(vec![intent(1, &[20], 100), intent(2, &[20], 100)]);
    let (h, clock) = Harness::start_driven(sc, |config, _| {
        config.stores[0].webhook.expected = true;
        config.stores[0].webhook.grace = Duration::from_secs(2);
    })
    .await;
    h.wait_metrics("both confirmed by poll", |m| {
        m.status(&id(1)) == Some(20.0) && m.status(&id(2)) == Some(20.0)
    })
    .await;
    assert_eq!(send(&h, 2, "normal").await, [200], "late, within the grace");
    let missing = [("store", "main")];
    let counted = |m: &Metrics| m.value("allscale_checkout_intent_webhook_missing_total", &missing);
    assert_eq!(counted(&h.scrape().await), 0.0, "not within the grace");
    clock.advance(Duration::from_secs(2));
    let m = wait_for(Duration::from_secs(10), "the missing webhook", || async {
        let m = h.scrape().await;
        (counted(&m) >= 1.0).then_some(m)
    })
    .await;
    assert_eq!(confirmations(&m, "poll"), 2.0);
    assert_eq!(confirmations(&m, "webhook"), 0.0);
    // Well past the grace, and a check (each real second) later: still only intent 1.
    clock.advance(Duration::from_millis(2500));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        counted(&h.scrape().await),
        1.0,
        "intent 1 once; intent 2 had its webhook"
    );
    h.stop().await;
}

/// `--webhook.listen-address`: the receiver answers there (with `/healthz`), and only
/// there; `/metrics` stays on the main listener.
#[tokio::test]
async fn the_receiver_can_have_a_listener_of_its_own() {
    use allscale_exporter::server::Exporter;
    let sim =
        allscale_exporter::simulator::Simulator::new(scenario(vec![intent(1, &[10], 60_000)]));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(sim.serve(listener, std::future::pending()));
    let config = common::test_config(&base, KEY, SECRET, &[&id(1)]);
    let main = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hooks = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hooks_addr = hooks.local_addr().unwrap();
    let exporter = Exporter::start_with_listeners(
        config,
        main,
        Some(hooks),
        allscale_exporter::reload::ReloadOptions::none(),
        Default::default(),
    )
    .await
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let request = signed(&id(1), "whk_1", "nonce-1", now);
    assert_eq!(
        post(exporter.local_addr(), &request).await,
        404,
        "not on the main listener"
    );
    assert_eq!(post(hooks_addr, &request).await, 200);
    let get = |addr, path: &str| {
        let url = format!("http://{addr}{path}");
        async move { reqwest::get(url).await.unwrap().status().as_u16() }
    };
    assert_eq!(get(hooks_addr, "/healthz").await, 200);
    assert_eq!(get(hooks_addr, "/metrics").await, 404);
    let m = scrape(exporter.local_addr()).await;
    assert_eq!(m.outcome("confirmed"), 1.0);
    exporter.shutdown().await;
}

/// `webhook.enabled: false`: the receiver's path answers 404 and nothing is counted.
#[tokio::test]
async fn a_disabled_receiver_answers_404() {
    let sc = scenario(vec![intent(1, &[10], 60_000)]);
    let h = Harness::start(sc, |config, _| config.webhook.enabled = false).await;
    // The simulator retries a normal delivery that was not answered 2xx.
    let statuses = send(&h, 1, "normal").await;
    assert!(
        !statuses.is_empty() && statuses.iter().all(|s| *s == 404),
        "{statuses:?}"
    );
    let m = h.scrape().await;
    assert_eq!(m.outcome("confirmed"), 0.0);
    assert!(
        !m.text.contains("allscale_webhook_requests_total{"),
        "no receiver series"
    );
    h.stop().await;
}

/// A status poll already in flight when the webhook arrives was answered before the
/// confirmation: it does not check the webhook (no disagreement); the poll after it does.
#[tokio::test]
async fn a_poll_sent_before_the_webhook_does_not_count_as_a_disagreement() {
    // The API answers 4 s late with the status of when the request arrived: ON_CHAIN
    // for the first poll, CONFIRMED from 1 s after it on.
    let mut sc = scenario(vec![intent(1, &[10, 20], 1000)]);
    sc.latency = Duration::from_secs(4);
    let h = Harness::start(sc, |config, _| {
        config.poll_interval = Duration::from_secs(3);
        config.request_timeout = Duration::from_secs(10);
    })
    .await;
    // Once the first poll reached the API (its answer is held back 4 s), the webhook
    // overtakes the answer. Sent before the poll went out (a busy machine delays the
    // first poll), the webhook would confirm the intent first and no second poll would
    // come: the test used to race that.
    let first = id(1);
    wait_for(
        Duration::from_secs(20),
        "the first poll to reach the API",
        || async {
            let arrived = h.sim.stats().authenticated_by_intent.get(&first).copied();
            (arrived.unwrap_or(0) >= 1).then_some(())
        },
    )
    .await;
    assert_eq!(send(&h, 1, "normal").await, [200]);
    let m = h
        .wait_metrics("the first poll's answer and the checking poll", |m| {
            m.sum(
                "allscale_api_requests_total",
                &[("endpoint", "status"), ("result", "ok")],
            ) >= 2.0
        })
        .await;
    let main = [("store", "main")];
    assert_eq!(
        m.value("allscale_webhook_disagreements_total", &main),
        0.0,
        "the on_chain answer predates the webhook"
    );
    assert_eq!(m.status(&id(1)), Some(20.0));
    assert_eq!(confirmations(&m, "webhook"), 1.0);
    h.stop().await;
}
