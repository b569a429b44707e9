//! The exporter against the built-in simulator, over real HTTP on loopback: exact
//! statuses and counters, terminal intents not polled again, error codes, the rate limit,
//! store pauses, response signatures, malformed answers, readiness.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use allscale_exporter::config::{Config, HttpVersion};
use allscale_exporter::reload::ReloadOptions;
use allscale_exporter::server::Exporter;
use allscale_exporter::simulator::{Malformed, SimFailure, SimIntent, Simulator};
use common::sim::{Harness, KEY, OTHER_KEY, SECRET, id, intent, scenario};
use common::{Metrics, get, scrape, test_config, wait_for};

fn failing(n: u32, fail: SimFailure) -> SimIntent {
    SimIntent {
        fail: Some(fail),
        ..intent(n, &[1], 1000)
    }
}

fn failure() -> SimFailure {
    SimFailure {
        code: None,
        http_status: None,
        malformed: None,
        bad_signature: false,
        first: None,
    }
}

/// Intents 1, 2, … each answering with one kind of malformed or hostile body.
fn malformed_intents(kinds: &[Malformed]) -> Vec<SimIntent> {
    kinds
        .iter()
        .zip(1..)
        .map(|(kind, n)| {
            failing(
                n,
                SimFailure {
                    malformed: Some(*kind),
                    ..failure()
                },
            )
        })
        .collect()
}

fn by_status(m: &Metrics, status: &str) -> f64 {
    m.value(
        "allscale_checkout_intents",
        &[("store", "main"), ("status", status)],
    )
}

fn error_code(m: &Metrics, code: &str) -> f64 {
    m.value(
        "allscale_api_errors_total",
        &[("store", "main"), ("code", code)],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_outcome_counted_once_and_terminal_intents_not_polled_again() {
    let mut intents = vec![
        intent(1, &[1, 2, 10, 20], 150),
        intent(2, &[1, -1], 150),
        intent(3, &[2, -2], 150),
        intent(4, &[3, -3], 150),
        intent(5, &[1, -4], 150),
        intent(6, &[1, -5], 150),
        intent(7, &[1, 2, 3, 10], 100),
        intent(8, &[4], 100),
    ];
    intents.push(SimIntent {
        key: OTHER_KEY.to_string(),
        ..intent(9, &[20], 100)
    });
    intents.push(failing(
        10,
        SimFailure {
            code: Some(90000),
            http_status: Some(500),
            ..failure()
        },
    ));
    let mut ids: Vec<String> = intents.iter().map(|i| i.id.clone()).collect();
    ids.push(id(11)); // unknown to the API
    let h = Harness::start_with_ids(scenario(intents), ids, |_, _| {}).await;

    let m = h
        .wait_metrics("six outcomes and on_chain", |m| {
            m.sum("allscale_checkout_intent_terminal_total", &[]) == 6.0
                && m.status(&id(7)) == Some(10.0)
        })
        .await;
    for o in common::OUTCOMES {
        assert_eq!(m.outcome(o), 1.0, "{o}");
    }
    let expected = [
        (1, 20.0),
        (2, -1.0),
        (3, -2.0),
        (4, -3.0),
        (5, -4.0),
        (6, -5.0),
        (7, 10.0),
        (8, 4.0),
    ];
    for (n, status) in expected {
        assert_eq!(m.status(&id(n)), Some(status), "intent {n}");
    }
    for n in [9, 10, 11] {
        assert_eq!(m.status(&id(n)), None, "intent {n} must have no status");
    }
    assert_eq!(by_status(&m, "not_found"), 1.0);
    assert_eq!(by_status(&m, "pending_manual_operation"), 1.0);
    assert_eq!(by_status(&m, "on_chain"), 1.0);
    assert_eq!(by_status(&m, "viewed"), 0.0);

    let before = h.sim.stats();
    tokio::time::sleep(Duration::from_millis(1500)).await; // five poll intervals
    let m2 = h.scrape().await;
    let after = h.stop().await;
    for n in 1..=6 {
        assert_eq!(
            before.authenticated_by_intent.get(&id(n)),
            after.authenticated_by_intent.get(&id(n)),
            "terminal intent {n} was polled again"
        );
    }
    // Non-terminal ones keep being polled.
    for n in [7, 8] {
        assert!(after.authenticated_by_intent[&id(n)] > before.authenticated_by_intent[&id(n)]);
    }
    for o in common::OUTCOMES {
        assert_eq!(m2.outcome(o), 1.0, "{o} counted again");
    }
    assert!(error_code(&m2, "30001") >= 1.0);
    assert!(
        error_code(&m2, "50001") >= 2.0,
        "not_found keeps being polled"
    );
    assert!(error_code(&m2, "90000") >= 1.0);
    assert_eq!(error_code(&m2, "20001"), 0.0);
    assert_eq!(error_code(&m2, "20002"), 0.0);
    assert_eq!(error_code(&m2, "40001"), 0.0);
    assert_eq!(m2.requests("decode_error"), 0.0);
    // Every answer the simulator gave with an error code was counted by the exporter.
    let api_errors = m2.sum("allscale_api_errors_total", &[("store", "main")]);
    assert_eq!(api_errors, m2.requests("api_error"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_is_respected_per_second() {
    let intents: Vec<SimIntent> = (1..=20).map(|n| intent(n, &[1], 1000)).collect();
    let h = Harness::start(scenario(intents), |c, _| {
        c.poll_interval = Duration::from_millis(200); // would be 100 requests/s
        c.stores[0].max_requests_per_second = 5.0;
    })
    .await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let stats = h.stop().await;
    let per_second = &stats.per_second_by_key[KEY];
    let total: u64 = per_second.values().sum();
    assert!(total >= 10, "too few requests: {per_second:?}");
    assert!(total <= 5 * 4 + 1, "over budget in total: {per_second:?}");
    let worst = per_second.values().max().copied().unwrap_or(0);
    assert!(worst <= 6, "a second above budget: {per_second:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_rate_limit_pauses_the_whole_store() {
    let intents: Vec<SimIntent> = (1..=10).map(|n| intent(n, &[1], 1000)).collect();
    let mut sc = scenario(intents);
    sc.keys[0].rate_limit_per_second = Some(2);
    let h = Harness::start(sc, |c, _| {
        c.poll_interval = Duration::from_millis(200); // 50 requests/s wanted
        c.stores[0].max_requests_per_second = 100.0;
        c.stores[0].max_concurrency = 2;
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let m = h.scrape().await;
    let stats = h.stop().await;
    assert!(error_code(&m, "40001") >= 1.0, "the API never limited us");
    // Without the pause the exporter would send ~150 requests in 3 s.
    let total: u64 = stats.per_second_by_key[KEY].values().sum();
    assert!(total <= 30, "store did not pause: {total} requests");
    assert!(m.requests("ok") >= 2.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_signatures_are_verified() {
    let good = intent(1, &[10], 1000);
    let tampered = failing(
        2,
        SimFailure {
            bad_signature: true,
            ..failure()
        },
    );
    let mut sc = scenario(vec![good, tampered]);
    sc.sign_responses = true;
    let h = Harness::start(sc, |c, _| c.stores[0].verify_response_signature = true).await;
    let m = h
        .wait_metrics("good status and a rejected signature", |m| {
            m.status(&id(1)) == Some(10.0) && m.requests("bad_response_signature") >= 2.0
        })
        .await;
    assert_eq!(m.status(&id(2)), None);
    h.stop().await;

    // Verification on, but the API does not sign: nothing is believed.
    let h = Harness::start(scenario(vec![intent(1, &[10], 1000)]), |c, _| {
        c.stores[0].verify_response_signature = true
    })
    .await;
    let m = h
        .wait_metrics("unsigned answers rejected", |m| {
            m.requests("bad_response_signature") >= 2.0
        })
        .await;
    assert_eq!(m.status(&id(1)), None);
    assert_eq!(m.requests("ok"), 0.0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_answers_never_become_a_status() {
    let kinds = [
        Malformed::NotJson,
        Malformed::NoCode,
        Malformed::StringPayload,
        Malformed::Oversize,
    ];
    let mut intents = malformed_intents(&kinds);
    intents.push(failing(
        5,
        SimFailure {
            malformed: Some(Malformed::NotJson),
            http_status: Some(502),
            ..failure()
        },
    ));
    intents.push(intent(6, &[2], 1000));
    let h = Harness::start(scenario(intents), |_, _| {}).await;
    let m = h
        .wait_metrics("decode and http errors", |m| {
            m.requests("decode_error") >= 8.0
                && m.requests("http_error") >= 2.0
                && m.status(&id(6)) == Some(2.0)
        })
        .await;
    for n in 1..=5 {
        assert_eq!(m.status(&id(n)), None, "malformed intent {n} got a status");
    }
    assert_eq!(by_status(&m, "created"), 0.0);
    assert_eq!(by_status(&m, "viewed"), 1.0);
    assert_eq!(m.requests("api_error"), 0.0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_landing_page_and_health() {
    let mut sc = scenario(vec![intent(1, &[2], 1000)]);
    sc.latency = Duration::from_millis(700);
    let h = Harness::start(sc, |_, _| {}).await;
    let addr = h.exporter.local_addr();
    let (status, _) = get(addr, "/readyz").await;
    assert_eq!(status, 503, "ready before any poll finished");
    assert_eq!(get(addr, "/healthz").await.0, 200);
    wait_for(Duration::from_secs(10), "readiness", || async {
        (get(addr, "/readyz").await.0 == 200).then_some(())
    })
    .await;
    let (status, page) = get(addr, "/").await;
    assert_eq!(status, 200);
    assert!(page.contains("/metrics") && page.contains("main"), "{page}");
    assert!(page.contains(env!("CARGO_PKG_VERSION")));
    assert!(!page.contains(SECRET));
    let m = h.scrape().await;
    assert!(!m.text.contains(SECRET));
    assert_eq!(
        m.value(
            "allscale_exporter_build_info",
            &[
                ("version", env!("CARGO_PKG_VERSION")),
                ("revision", allscale_exporter::REVISION)
            ]
        ),
        1.0
    );
    assert_eq!(
        m.value("allscale_exporter_config_last_reload_successful", &[]),
        1.0
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_series_go_after_retention_but_counts_stay() {
    // On the exporter's manual clock: the retention passes when the test moves it, so a
    // slow scrape cannot come after it (it raced a real 800 ms once).
    let (h, clock) = Harness::start_driven(
        scenario(vec![intent(1, &[20], 1000), intent(2, &[2], 1000)]),
        |c, _| c.terminal_retention = Duration::from_millis(800),
    )
    .await;
    let m = h
        .wait_metrics("confirmed counted, 2 polled", |m| {
            m.outcome("confirmed") == 1.0 && m.status(&id(2)).is_some()
        })
        .await;
    assert_eq!(m.status(&id(1)), Some(20.0), "within the retention");
    clock.advance(Duration::from_secs(1));
    let m = h.scrape().await;
    assert_eq!(m.status(&id(1)), None, "past the retention");
    assert!(
        !m.text.contains(&id(1)),
        "per-intent series left:\n{}",
        m.text
    );
    assert_eq!(m.outcome("confirmed"), 1.0);
    assert_eq!(
        by_status(&m, "confirmed"),
        1.0,
        "still watched, still confirmed"
    );
    assert_eq!(m.status(&id(2)), Some(2.0));
    let stats = h.stop().await;
    assert_eq!(
        stats.authenticated_by_intent[&id(1)],
        1,
        "terminal intent re-polled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_removes_a_store_and_adds_another() {
    let sim = Simulator::new(scenario(vec![
        intent(1, &[10], 1000),
        intent(2, &[3], 1000),
    ]));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(sim.clone().serve(listener, std::future::pending()));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret"), SECRET).unwrap();
    let store = |name: &str, n: u32| {
        format!(
            "  - name: {name}\n    base_url: {base}\n    api_key: {KEY}\n    api_secret_file: secret\n    intents: [{}]\n",
            id(n)
        )
    };
    let path = dir.path().join("config.yaml");
    let head = "poll_interval: 300ms\nstores:\n";
    std::fs::write(&path, format!("{head}{}", store("old", 1))).unwrap();
    let config = Config::load(&path).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let options = ReloadOptions {
        config_path: Some(path.clone()),
        check_interval: Duration::ZERO,
        watch_events: false,
        shard: allscale_exporter::shard::Shard::ALL,
        web_config: None,
        ..ReloadOptions::none()
    };
    let exporter = Exporter::start(config, listener, options).await.unwrap();
    let addr = exporter.local_addr();
    wait_for(Duration::from_secs(10), "old store polled", || async {
        let m = scrape(addr).await;
        (m.get(
            "allscale_checkout_intent_status",
            &[("store", "old"), ("intent_id", &id(1))],
        ) == Some(10.0))
        .then_some(())
    })
    .await;
    std::fs::write(&path, format!("{head}{}", store("new", 2))).unwrap();
    match exporter.reload().await {
        allscale_exporter::reload::Outcome::Applied(summary) => {
            assert_eq!(summary, "1 store, 1 intent")
        }
        other => panic!("{other:?}"),
    }
    let m = wait_for(Duration::from_secs(10), "new store polled", || async {
        let m = scrape(addr).await;
        (m.get(
            "allscale_checkout_intent_status",
            &[("store", "new"), ("intent_id", &id(2))],
        ) == Some(3.0))
        .then_some(m)
    })
    .await;
    assert!(
        !m.text.contains("store=\"old\""),
        "old store left series:\n{}",
        m.text
    );
    assert_eq!(
        m.value(
            "allscale_checkout_intents",
            &[("store", "new"), ("status", "temp_wallet_received")]
        ),
        1.0
    );
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_split_the_watch_list_exactly() {
    use allscale_exporter::shard::Shard;
    let intents: Vec<SimIntent> = (1..=40).map(|n| intent(n, &[10], 1000)).collect();
    let ids: Vec<String> = intents.iter().map(|i| i.id.clone()).collect();
    let sim = Simulator::new(scenario(intents));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(sim.clone().serve(listener, std::future::pending()));
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut seen: Vec<String> = Vec::new();
    let mut watched = 0.0;
    for index in 0..3 {
        let options = ReloadOptions {
            shard: Shard { index, count: 3 },
            ..ReloadOptions::none()
        };
        let config = test_config(&base, KEY, SECRET, &id_refs);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let exporter = Exporter::start(config, listener, options).await.unwrap();
        let addr = exporter.local_addr();
        let m = wait_for(Duration::from_secs(10), "shard polled", || async {
            let m = scrape(addr).await;
            (m.value(
                "allscale_checkout_intents",
                &[("store", "main"), ("status", "on_chain")],
            ) == m.value("allscale_exporter_watched_intents", &[("store", "main")]))
            .then_some(m)
        })
        .await;
        let shard = index.to_string();
        assert_eq!(
            m.value(
                "allscale_exporter_shard_info",
                &[("shard", &shard), ("shards", "3")]
            ),
            1.0
        );
        watched += m.value("allscale_exporter_watched_intents", &[("store", "main")]);
        for (name, labels) in m.series.keys() {
            if name == "allscale_checkout_intent_status" {
                seen.push(labels["intent_id"].clone());
            }
        }
        exporter.shutdown().await;
    }
    assert_eq!(watched, 40.0);
    seen.sort();
    let mut all = ids.clone();
    all.sort();
    assert_eq!(seen, all, "every intent polled by exactly one shard");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_skew_is_measured_before_it_breaks_signing() {
    for (offset, signing_works) in [(120i64, true), (-400, false)] {
        let mut sc = scenario(vec![intent(1, &[2], 1000)]);
        sc.clock_offset_seconds = offset;
        let h = Harness::start(sc, |_, _| {}).await;
        let m = h
            .wait_metrics("a skew sample", |m| {
                m.get("allscale_api_clock_skew_seconds", &[("store", "main")])
                    .is_some()
                    && m.sum("allscale_api_requests_total", &[]) >= 2.0
            })
            .await;
        let skew = m.value("allscale_api_clock_skew_seconds", &[("store", "main")]);
        assert!(
            (skew - offset as f64).abs() <= 2.0,
            "offset {offset}: skew {skew}"
        );
        if signing_works {
            assert_eq!(m.status(&id(1)), Some(2.0));
        } else {
            // Outside the ±5 min window every request is refused as a bad signature.
            assert_eq!(m.status(&id(1)), None);
            assert!(error_code(&m, "20002") >= 1.0);
            assert_eq!(m.value("allscale_api_up", &[("store", "main")]), 0.0);
        }
        h.stop().await;
    }
}

/// Hostile answers: a 16 MiB body, a byte-by-byte trickle, a connection cut mid-answer,
/// and no answer at all. Each is counted under its reason, none becomes a status, and a
/// healthy intent of the same store still reaches its terminal status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_answers_are_counted_and_do_not_stall_healthy_intents() {
    let kinds = [
        Malformed::Huge,
        Malformed::Trickle,
        Malformed::Reset,
        Malformed::Stall,
    ];
    let mut intents = malformed_intents(&kinds);
    intents.push(intent(9, &[1, 2, 10, 20], 400));
    let h = Harness::start(scenario(intents), |c, _| {
        c.request_timeout = Duration::from_secs(1);
    })
    .await;
    let m = h
        .wait_metrics(
            "every hostile kind seen and the healthy intent confirmed",
            |m| {
                m.status(&id(9)) == Some(20.0)
                    && m.requests("decode_error") >= 1.0
                    && m.requests("timeout") >= 2.0
                    && m.requests("connect_error") >= 1.0
            },
        )
        .await;
    for n in 1..=4 {
        assert_eq!(m.status(&id(n)), None, "hostile intent {n} got a status");
    }
    assert_eq!(m.outcome("confirmed"), 1.0);
    assert!(m.requests("ok") >= 4.0);
    h.stop().await;
}

/// The API goes away for a while and comes back on the same address: `allscale_api_up`
/// goes 0 then 1, the store recovers on its own, and the backlog is not flushed in a
/// burst above the budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_outage_then_recovery_within_budget() {
    let intents: Vec<SimIntent> = (1..=20).map(|n| intent(n, &[2], 1000)).collect();
    let sim = Simulator::new(scenario(intents));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let first = tokio::spawn(sim.clone().serve(listener, async {
        let _ = stopped.await;
    }));
    let ids: Vec<String> = (1..=20).map(id).collect();
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut config = test_config(&format!("http://{addr}"), KEY, SECRET, &id_refs);
    config.stores[0].max_requests_per_second = 20.0;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let exporter = Exporter::start(config, listener, ReloadOptions::none())
        .await
        .unwrap();
    let exp = exporter.local_addr();
    let up = |m: &Metrics| m.get("allscale_api_up", &[("store", "main")]);
    wait_for(Duration::from_secs(10), "api up", || async {
        (up(&scrape(exp).await) == Some(1.0)).then_some(())
    })
    .await;
    let _ = stop.send(());
    let _ = first.await;
    let m = wait_for(Duration::from_secs(10), "api down", || async {
        let m = scrape(exp).await;
        (up(&m) == Some(0.0)).then_some(m)
    })
    .await;
    assert!(m.requests("connect_error") >= 1.0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let back = tokio::spawn(sim.clone().serve(listener, std::future::pending()));
    let resumed_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    wait_for(Duration::from_secs(15), "api up again", || async {
        (up(&scrape(exp).await) == Some(1.0)).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    exporter.shutdown().await;
    back.abort();
    let per_second = &sim.stats().per_second_by_key[KEY];
    let after: Vec<u64> = per_second.range(resumed_at..).map(|(_, n)| *n).collect();
    assert!(!after.is_empty(), "no requests after the API came back");
    assert!(
        after.iter().all(|&n| n <= 20),
        "a burst above the budget after recovery: {after:?}"
    );
}

/// A store whose host name cannot be resolved: its requests are `connect_error`, its
/// `allscale_api_up` is 0, and another store keeps polling to terminal status. The name
/// has a 64-byte label, which the system resolver refuses before sending any query, so
/// the test stays on loopback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unresolvable_host_is_a_connect_error_and_harms_no_other_store() {
    let h = Harness::start(scenario(vec![intent(1, &[1, 2, 10, 20], 300)]), |c, _| {
        let mut broken = c.stores[0].clone();
        broken.name = "nodns".into();
        broken.base_url = allscale_exporter::config::BaseUrl::parse(&format!(
            "http://{}.invalid",
            "a".repeat(64)
        ))
        .unwrap();
        c.stores.push(broken);
    })
    .await;
    let nodns = [
        ("store", "nodns"),
        ("endpoint", "status"),
        ("result", "connect_error"),
    ];
    let m = h
        .wait_metrics("DNS failures counted and the healthy store done", |m| {
            m.value("allscale_api_requests_total", &nodns) >= 2.0 && m.status(&id(1)) == Some(20.0)
        })
        .await;
    assert_eq!(m.get("allscale_api_up", &[("store", "nodns")]), Some(0.0));
    assert_eq!(m.get("allscale_api_up", &[("store", "main")]), Some(1.0));
    let status = [("store", "nodns"), ("intent_id", &id(1))];
    assert_eq!(m.get("allscale_checkout_intent_status", &status), None);
    assert_eq!(m.outcome("confirmed"), 1.0);
    h.stop().await;
}

/// `http_version` picks the protocol towards the API: with `http2` every request goes
/// over HTTP/2 (prior knowledge on plain http), with the default HTTP/1.1; the answers
/// are the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_version_selects_the_protocol() {
    for (version, expected) in [
        (HttpVersion::Http2, "HTTP/2.0"),
        (HttpVersion::Auto, "HTTP/1.1"),
    ] {
        let intents = (1..=3).map(|n| intent(n, &[1, 2, 10, 20], 200)).collect();
        let h = Harness::start(scenario(intents), |c, _| {
            c.stores[0].http_version = version;
        })
        .await;
        h.wait_metrics("three confirmed", |m| m.outcome("confirmed") == 3.0)
            .await;
        let stats = h.stop().await;
        let total: u64 = stats.requests_by_key.values().sum();
        assert_eq!(
            stats.requests_by_http_version,
            BTreeMap::from([(expected.to_owned(), total)]),
            "{version:?}"
        );
    }
}
