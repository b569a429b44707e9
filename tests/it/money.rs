//! Money from intent details (issue #15): exact sums, shortfalls, malformed details
//! refused, label caps, and no refetch or recount after a SIGKILL, against the built-in
//! simulator and against the real binary with the independent strict mock.

use crate::common;

use std::time::Duration;

use allscale_exporter::simulator::{DetailMalformed, SimDetail, SimIntent};
use common::processes::{ExporterProcess, MOCK_SECRET, StrictMock, mock_config_yaml};
use common::sim::{Harness, intent, scenario};
use common::{Metrics, scrape, wait_for};
use serde_json::{Value, json};

/// The exact text of one sample's value, as served.
fn served(m: &Metrics, name: &str, labels: &[(&str, &str)]) -> Option<String> {
    let wanted: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    m.text.lines().find_map(|line| {
        let (head, value) = line.rsplit_once(' ')?;
        let (n, rest) = head.split_once('{')?;
        let got: Vec<&str> = rest.trim_end_matches('}').split(',').collect();
        let same = n == name
            && got.len() == wanted.len() + 1
            && wanted.iter().all(|w| got.contains(&w.as_str()));
        same.then(|| value.to_string())
    })
}

/// The value of store `main`'s series of `name` with `labels`.
fn main(m: &Metrics, name: &str, labels: &[(&str, &str)]) -> f64 {
    let mut all = vec![("store", "main")];
    all.extend_from_slice(labels);
    m.value(name, &all)
}

fn detail_requests(m: &Metrics, result: &str) -> f64 {
    m.sum(
        "allscale_api_requests_total",
        &[("endpoint", "detail"), ("result", result)],
    )
}

fn with_amount(n: u32, lifecycle: &[i64], coin: &str, chain: u64, amount: &str) -> SimIntent {
    SimIntent {
        coin_symbol: Some(coin.into()),
        chain_id: Some(chain),
        amount_coins: Some(amount.into()),
        ..intent(n, lifecycle, 100)
    }
}

fn malformed(n: u32, kind: DetailMalformed) -> SimIntent {
    SimIntent {
        detail: Some(SimDetail { malformed: kind }),
        ..intent(n, &[1, 20], 100)
    }
}

/// Several coins, chains and currencies: `0.1 + 0.2` is served as exactly `0.3`; a short
/// confirmation and an underpaid intent count their shortfall; malformed details are
/// `decode_error`s that count no money and are retried (given up after 5), not invented.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sums_are_exact_shortfalls_counted_and_malformed_details_refused() {
    let short = SimIntent {
        paid_coins: Some("4.5".into()),
        currency_symbol: Some("EUR".into()),
        ..with_amount(3, &[1, 20], "ETH", 8453, "5")
    };
    let underpaid = SimIntent {
        currency_symbol: Some("GBP".into()),
        ..with_amount(4, &[1, -3], "USDC", 137, "10")
    };
    let failed = SimIntent {
        paid_coins: Some("0".into()),
        ..with_amount(5, &[1, -1], "USDT", 1, "7")
    };
    let sc = scenario(vec![
        with_amount(1, &[1, 20], "USDT", 1, "0.1"),
        with_amount(2, &[1, 20], "USDT", 1, "0.2"),
        short,
        underpaid,
        failed,
        malformed(6, DetailMalformed::NegativeAmount),
        malformed(7, DetailMalformed::BadCoin),
        malformed(8, DetailMalformed::FloatAmount),
        intent(9, &[1, 10], 100),
    ]);
    let h = Harness::start(sc, |_, _| {}).await;
    let m = h
        .wait_metrics("five details counted, the malformed ones retried", |m| {
            detail_requests(m, "ok") == 5.0 && detail_requests(m, "decode_error") >= 6.0
        })
        .await;
    let coin = |outcome, coin, chain| [("outcome", outcome), ("coin", coin), ("chain", chain)];
    let amount = "allscale_checkout_amount_coins_total";
    let paid = "allscale_checkout_paid_coins_total";
    assert_eq!(
        served(&m, amount, &coin("confirmed", "USDT", "1")).as_deref(),
        Some("0.3")
    );
    assert_eq!(
        served(&m, paid, &coin("confirmed", "USDT", "1")).as_deref(),
        Some("0.3")
    );
    assert_eq!(main(&m, amount, &coin("confirmed", "ETH", "8453")), 5.0);
    assert_eq!(main(&m, paid, &coin("confirmed", "ETH", "8453")), 4.5);
    assert_eq!(main(&m, paid, &coin("underpaid", "USDC", "137")), 9.0);
    assert_eq!(main(&m, amount, &coin("failed", "USDT", "1")), 7.0);
    assert_eq!(main(&m, paid, &coin("failed", "USDT", "1")), 0.0);
    let total: f64 = m.sum(amount, &[]);
    assert!(
        (total - 22.3).abs() < 1e-9,
        "no money from malformed details: {total}"
    );
    let shortfall = "allscale_checkout_shortfall_coins_total";
    assert_eq!(
        main(&m, shortfall, &[("coin", "ETH"), ("chain", "8453")]),
        0.5
    );
    assert_eq!(
        main(&m, shortfall, &[("coin", "USDC"), ("chain", "137")]),
        1.0
    );
    assert_eq!(
        main(&m, shortfall, &[("coin", "USDT"), ("chain", "1")]),
        0.0
    );
    assert_eq!(
        main(&m, "allscale_checkout_confirmed_short_total", &[]),
        1.0
    );
    let fee = served(&m, "allscale_checkout_fee_coins_total", &[("coin", "USDT")]);
    assert_eq!(fee.as_deref(), Some("0.003"), "1 % of 0.1 + 0.2 + 0");
    let net = served(
        &m,
        "allscale_checkout_net_income_coins_total",
        &[("coin", "USDT")],
    );
    assert_eq!(net.as_deref(), Some("0.297"));
    let fiat = "allscale_checkout_amount_fiat_total";
    let currency = |outcome, c| [("outcome", outcome), ("currency", c)];
    assert_eq!(
        served(&m, fiat, &currency("confirmed", "USD")).as_deref(),
        Some("0.30")
    );
    assert_eq!(main(&m, fiat, &currency("confirmed", "EUR")), 5.0);
    assert_eq!(main(&m, fiat, &currency("underpaid", "GBP")), 10.0);
    assert_eq!(main(&m, fiat, &currency("failed", "USD")), 7.0);
    // The detail has its own latency series; a non-terminal intent is never fetched.
    let count = main(
        &m,
        "allscale_api_request_duration_seconds_count",
        &[("endpoint", "detail")],
    );
    assert!(count >= 11.0, "{count}");
    let (status, body) = common::get(h.exporter.local_addr(), "/metrics").await;
    assert_eq!(status, 200);
    if let Some((code, findings)) = common::promtool_check_metrics(&body) {
        assert_eq!(code, 0, "{findings}");
    }
    let stats = h.stop().await;
    let fetched = stats.detail_requests_by_key.values().sum::<u64>();
    assert!(fetched >= 11, "{stats:?}");
}

/// Against the real binary and the strict mock: 100 different coin symbols (and chains
/// and currencies) stay within 16 label values each plus `other`, summed exactly; an
/// underpaid intent and a short confirmation count their shortfall; malformed details
/// are refused, counted as `decode_error` and add nothing; after a SIGKILL and restart
/// nothing counted is fetched or counted again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_caps_hold_and_a_restart_neither_refetches_nor_recounts() {
    let ids: Vec<String> = (0..100).map(|n| format!("67{n:022x}")).collect();
    let intents: serde_json::Map<String, Value> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| {
            let detail = json!({
                "all_scale_checkout_intent_id": id,
                "status": 20,
                "amount_coins": "0.1",
                "coin_symbol": format!("COIN{n}"),
                "chain_id": n,
                "currency_symbol": format!("F{n}"),
                "amount_cents": 10,
                "actual_paid_amount": if n == 0 { "0.05" } else { "0.1" },
                "service_fee_amount": "0.001",
                "net_income_amount": "0.099"
            });
            (id.clone(), json!({"statuses": [1, 20], "detail": detail}))
        })
        .collect();
    let mut intents = intents;
    let underpaid = "670000000000000000000a01";
    intents.insert(
        underpaid.into(),
        json!({"statuses": [1, -3], "detail": {
            "amount_coins": "10", "coin_symbol": "COIN1", "chain_id": 1,
            "currency_symbol": "F1", "amount_cents": 1000, "actual_paid_amount": "7.5",
            "service_fee_amount": "0.075", "net_income_amount": "7.425"}}),
    );
    let broken = [
        (
            "670000000000000000000b01",
            "actual_paid_amount",
            json!("-0.1"),
        ),
        ("670000000000000000000b02", "actual_paid_amount", json!(0.1)),
        ("670000000000000000000b03", "coin_symbol", json!(7)),
    ];
    for (id, key, value) in &broken {
        let mut detail = json!({
            "amount_coins": "5", "coin_symbol": "COIN2", "chain_id": 2,
            "currency_symbol": "F2", "amount_cents": 500, "actual_paid_amount": "5",
            "service_fee_amount": "0.05", "net_income_amount": "4.95"});
        detail[*key] = value.clone();
        intents.insert((*id).into(), json!({"statuses": [20], "detail": detail}));
    }
    let mut refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    refs.push(underpaid);
    refs.extend(broken.iter().map(|b| b.0));
    let (mock, _dir, config, state_file) = mock_with_state(&Value::Object(intents), &refs);

    let first = ExporterProcess::start(&config, &[]);
    // Money is exported once committed: seen here, it survives a SIGKILL.
    let before = wait_for(Duration::from_secs(30), "every detail counted", || async {
        let m = scrape(first.addr).await;
        let amount = m.sum("allscale_checkout_amount_coins_total", &[]);
        let refused = detail_requests(&m, "decode_error") >= 3.0;
        ((amount - 20.0).abs() < 1e-9 && refused).then_some(m)
    })
    .await;
    first.kill();
    let mut fetched = mock.stats().await["detail_accepted"].clone();
    let fetched = fetched.as_object_mut().unwrap();
    for (id, _, _) in &broken {
        assert!(fetched.remove(*id).is_some(), "{id} fetched");
    }
    assert_eq!(fetched.len(), 101);
    assert!(fetched.values().all(|n| n == 1), "{fetched:?}");

    let amount = "allscale_checkout_amount_coins_total";
    let values = |name: &str, label: &str| -> std::collections::BTreeSet<String> {
        let series = before.series.keys().filter(|(n, _)| n == name);
        series.map(|(_, labels)| labels[label].clone()).collect()
    };
    let coins = values(amount, "coin");
    assert_eq!(coins.len(), 17, "16 coins and other: {coins:?}");
    assert!(coins.contains("other"));
    assert_eq!(values(amount, "chain").len(), 17);
    let other = [
        ("outcome", "confirmed"),
        ("coin", "other"),
        ("chain", "other"),
    ];
    assert_eq!(served(&before, amount, &other).as_deref(), Some("8.4"));
    let underpaid_coin = [("outcome", "underpaid"), ("coin", "COIN1"), ("chain", "1")];
    let paid = "allscale_checkout_paid_coins_total";
    assert_eq!(main(&before, paid, &underpaid_coin), 7.5);
    let fiat = "allscale_checkout_amount_fiat_total";
    assert_eq!(values(fiat, "currency").len(), 17);
    assert_eq!(
        main(&before, "allscale_checkout_confirmed_short_total", &[]),
        1.0
    );
    let shortfall = "allscale_checkout_shortfall_coins_total";
    assert_eq!(
        main(&before, shortfall, &[("coin", "COIN0"), ("chain", "0")]),
        0.05
    );
    assert_eq!(
        main(&before, shortfall, &[("coin", "COIN1"), ("chain", "1")]),
        2.5
    );
    let short = before.sum(shortfall, &[]);
    assert!(
        (short - 2.55).abs() < 1e-9,
        "nothing from the malformed details: {short}"
    );
    let saved = common::statedb::saved_intent(&state_file, "main", &ids[0]).unwrap();
    let detail: Value = serde_json::from_str(saved["detail"].as_str().unwrap()).unwrap();
    assert_eq!(
        (detail["paid"].as_str(), detail["coin"].as_str()),
        (Some("0.05"), Some("COIN0"))
    );

    let second = ExporterProcess::start(&config, &[]);
    let m = scrape(second.addr).await;
    let money = [
        amount,
        "allscale_checkout_paid_coins_total",
        "allscale_checkout_shortfall_coins_total",
        "allscale_checkout_fee_coins_total",
        "allscale_checkout_net_income_coins_total",
        fiat,
        "allscale_checkout_confirmed_short_total",
    ];
    let restored = before
        .series
        .iter()
        .filter(|(k, _)| money.contains(&k.0.as_str()));
    for (key, value) in restored {
        assert_eq!(m.series.get(key), Some(value), "{key:?} restored");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = scrape(second.addr).await;
    assert_eq!(
        after.sum(amount, &[]),
        before.sum(amount, &[]),
        "not counted again"
    );
    assert_eq!(
        main(&after, "allscale_checkout_confirmed_short_total", &[]),
        1.0
    );
    assert_eq!(detail_requests(&after, "ok"), 0.0, "nothing fetched again");
    let stats = mock.stats().await;
    for (id, n) in fetched.iter() {
        assert_eq!(&stats["detail_accepted"][id], n, "{id} fetched again");
    }
    assert_eq!(stats["violations"], json!([]));
    second.terminate();
}

/// Issue #21: a canceled or timed-out intent's detail has null paid, fee and net amounts
/// (nothing was paid; the simulator's default for those outcomes). The asked amount is
/// counted with 0 paid, the detail is fetched exactly once, and nothing is a
/// `decode_error`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpaid_outcome_with_null_amounts_counts_the_asked_amount_once() {
    let canceled = SimIntent {
        currency_symbol: Some("EUR".into()),
        ..with_amount(1, &[1, -4], "USDC", 137, "49.90")
    };
    let timeout = with_amount(2, &[1, -5], "USDT", 1, "5");
    let h = Harness::start(scenario(vec![canceled, timeout]), |_, _| {}).await;
    let amount = "allscale_checkout_amount_coins_total";
    let coin = |outcome, coin, chain| [("outcome", outcome), ("coin", coin), ("chain", chain)];
    let m = h
        .wait_metrics("both asked amounts counted", |m| {
            m.get(
                amount,
                &[
                    ("store", "main"),
                    ("outcome", "canceled"),
                    ("coin", "USDC"),
                    ("chain", "137"),
                ],
            )
            .is_some()
                && m.get(
                    amount,
                    &[
                        ("store", "main"),
                        ("outcome", "timeout"),
                        ("coin", "USDT"),
                        ("chain", "1"),
                    ],
                )
                .is_some()
        })
        .await;
    assert_eq!(
        served(&m, amount, &coin("canceled", "USDC", "137")).as_deref(),
        Some("49.90")
    );
    assert_eq!(main(&m, amount, &coin("timeout", "USDT", "1")), 5.0);
    let paid = "allscale_checkout_paid_coins_total";
    assert_eq!(
        served(&m, paid, &coin("canceled", "USDC", "137")).as_deref(),
        Some("0")
    );
    assert_eq!(main(&m, paid, &coin("timeout", "USDT", "1")), 0.0);
    assert_eq!(m.sum("allscale_checkout_fee_coins_total", &[]), 0.0);
    assert_eq!(m.sum("allscale_checkout_net_income_coins_total", &[]), 0.0);
    assert_eq!(m.sum("allscale_checkout_shortfall_coins_total", &[]), 0.0);
    let fiat = [("outcome", "canceled"), ("currency", "EUR")];
    assert_eq!(
        served(&m, "allscale_checkout_amount_fiat_total", &fiat).as_deref(),
        Some("49.90")
    );
    // Several poll intervals (300 ms) later, still one request each.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let m = h.scrape().await;
    assert_eq!(detail_requests(&m, "decode_error"), 0.0);
    assert_eq!(detail_requests(&m, "ok"), 2.0);
    let stats = h.stop().await;
    for n in [1, 2] {
        let id = common::sim::id(n);
        assert_eq!(
            stats.detail_authenticated_by_intent.get(&id),
            Some(&1),
            "{id}: {stats:?}"
        );
    }
}

/// The JSON log lines of `logs` naming `id` whose message mentions the detail.
fn detail_log_lines(logs: &str, id: &str) -> Vec<Value> {
    logs.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|v| {
            v["intent_id"] == id && v["message"].as_str().is_some_and(|m| m.contains("detail"))
        })
        .collect()
}

/// Issue #21: against the real binary and the strict mock, null or missing amounts mean
/// zero on every unpaid outcome; a detail that stays malformed (null amounts on a
/// confirmed intent, a negative amount on a canceled one) is tried exactly 5 times, then
/// given up: counted, logged once with its `request_id`, saved, and not fetched again,
/// also not after a SIGKILL and a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detail_that_stays_malformed_is_given_up_after_five_tries() {
    let detail = |paid: Value, fee: Value, net: Value| {
        json!({
            "amount_coins": "3", "coin_symbol": "USDT", "chain_id": 1,
            "currency_symbol": "USD", "amount_cents": 300,
            "actual_paid_amount": paid, "service_fee_amount": fee, "net_income_amount": net
        })
    };
    let nulls = || detail(Value::Null, Value::Null, Value::Null);
    let mut missing = nulls();
    for key in [
        "actual_paid_amount",
        "service_fee_amount",
        "net_income_amount",
    ] {
        missing.as_object_mut().unwrap().remove(key);
    }
    let (canceled, rejected, failed) = (
        "680000000000000000000001",
        "680000000000000000000002",
        "680000000000000000000003",
    );
    let (confirmed_null, canceled_negative) =
        ("680000000000000000000b01", "680000000000000000000b02");
    let intents = json!({
        canceled: {"statuses": [1, -4], "detail": missing},
        rejected: {"statuses": [1, -2], "detail": nulls()},
        failed: {"statuses": [1, -1], "detail": detail(Value::Null, json!("0"), Value::Null)},
        confirmed_null: {"statuses": [1, 20], "detail": nulls()},
        canceled_negative: {"statuses": [1, -4], "detail": detail(json!("-1"), Value::Null, Value::Null)},
    });
    let ids = [
        canceled,
        rejected,
        failed,
        confirmed_null,
        canceled_negative,
    ];
    let (mock, _dir, config, state_file) = mock_with_state(&intents, &ids);

    let given_up = "allscale_checkout_details_given_up_total";
    let first = ExporterProcess::start(&config, &[]);
    // Exported once committed: seen here, it survives a SIGKILL.
    let before = wait_for(Duration::from_secs(60), "two details given up", || async {
        let m = scrape(first.addr).await;
        (m.get(given_up, &[("store", "main")]) == Some(2.0)).then_some(m)
    })
    .await;
    let amount = "allscale_checkout_amount_coins_total";
    let coin = |outcome| [("outcome", outcome), ("coin", "USDT"), ("chain", "1")];
    for outcome in ["canceled", "rejected", "failed"] {
        assert_eq!(main(&before, amount, &coin(outcome)), 3.0, "{outcome}");
        let paid = "allscale_checkout_paid_coins_total";
        assert_eq!(main(&before, paid, &coin(outcome)), 0.0, "{outcome}");
    }
    assert_eq!(
        before.get(
            amount,
            &[
                ("store", "main"),
                ("outcome", "confirmed"),
                ("coin", "USDT"),
                ("chain", "1")
            ]
        ),
        None,
        "nothing counted from the malformed confirmation"
    );
    assert_eq!(before.sum(amount, &[]), 9.0);
    assert_eq!(detail_requests(&before, "decode_error"), 10.0);
    assert_eq!(detail_requests(&before, "ok"), 3.0);
    // Some more backoff periods: no 6th try.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stats = mock.stats().await;
    for id in [confirmed_null, canceled_negative] {
        assert_eq!(stats["detail_accepted"][id], 5, "{id}: {stats}");
    }
    for id in [canceled, rejected, failed] {
        assert_eq!(stats["detail_accepted"][id], 1, "{id}: {stats}");
    }
    let logs = first.logs();
    for id in [confirmed_null, canceled_negative] {
        let lines = detail_log_lines(&logs, id);
        assert_eq!(lines.len(), 1, "{id}: {lines:?}\n{logs}");
        let request_id = lines[0]["request_id"].as_str().unwrap_or("");
        assert!(request_id.starts_with("req_"), "{:?}", lines[0]);
    }
    let saved = common::statedb::saved_intent(&state_file, "main", confirmed_null).unwrap();
    let detail: Value = serde_json::from_str(saved["detail"].as_str().unwrap()).unwrap();
    assert!(detail["given_up_at"].is_f64(), "{detail}");
    first.kill();

    let second = ExporterProcess::start(&config, &[]);
    let m = scrape(second.addr).await;
    assert_eq!(m.get(given_up, &[("store", "main")]), Some(2.0), "restored");
    assert_eq!(m.sum(amount, &[]), 9.0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = mock.stats().await;
    assert_eq!(
        after["detail_accepted"], stats["detail_accepted"],
        "fetched again"
    );
    let m = scrape(second.addr).await;
    assert_eq!(
        m.sum("allscale_api_requests_total", &[("endpoint", "detail")]),
        0.0
    );
    assert_eq!(after["violations"], json!([]));
    second.terminate();
}

/// The strict mock serving `intents`, and a config of the exporter for `ids` against it
/// with a state database (its path last), in a temporary directory (kept while the
/// handle lives).
fn mock_with_state(
    intents: &Value,
    ids: &[&str],
) -> (
    StrictMock,
    tempfile::TempDir,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    let mock = StrictMock::start(intents, false);
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, MOCK_SECRET).unwrap();
    let state_file = dir.path().join("state.db");
    let extra = format!("state_file: {}\n", state_file.display());
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, mock_config_yaml(&mock, &secret, &extra, ids)).unwrap();
    (mock, dir, config, state_file)
}
