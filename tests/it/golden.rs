//! Issue #12: a fixed scenario renders `/metrics` byte for byte as pinned in
//! `tests/fixtures/golden/metrics.txt`, so a restructure provably changes no metric,
//! label, HELP text or order. The scenario covers every status class, every outcome,
//! `not_found`, an undocumented status, order ids, label escaping, request results of
//! every kind, documented and undocumented error codes, clock skew and an intent past
//! `terminal_retention`, and money from intent details (an underpaid intent, a short
//! confirmation, a canceled intent that paid nothing, a malformed detail, one given up). Only the `process_*` family (CPU, memory of this test process)
//! is left out, and the git revision is written as `REVISION`. Set `GOLDEN_UPDATE=1` to rewrite the file after an intended change.

use std::sync::Arc;
use std::time::Duration;

use allscale_exporter::answered;
use allscale_exporter::api::client::Endpoint;
use allscale_exporter::api::detail::parse_amount;
use allscale_exporter::api::{ApiCode, DecodeError, Detail, Fetch, FetchError, Status};
use allscale_exporter::clock::UnixTime;
use allscale_exporter::config::Config;
use allscale_exporter::metrics::Metrics;
use allscale_exporter::state::State;

const GOLDEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/golden/metrics.txt"
);

/// The moment the page is rendered at, and the observations' times before it.
const NOW: f64 = 1_767_225_600.0;

/// `secs` as the state's time.
fn at(secs: f64) -> UnixTime {
    UnixTime::from_secs_f64(secs)
}

const CONFIG: &str = r#"
poll_interval: 30s
terminal_retention: 1h
stores:
  - name: main
    base_url: http://127.0.0.1:9
    api_key: k
    api_secret_env: S
    intents:
      - id: 650000000000000000000001
        order_id: "order-1"
      - id: 650000000000000000000002
        order_id: "quote\"back\\slash"
      - 650000000000000000000003
      - 650000000000000000000004
      - 650000000000000000000005
      - 650000000000000000000006
      - 650000000000000000000007
      - 650000000000000000000008
      - 650000000000000000000009
  - name: second
    base_url: http://127.0.0.1:9
    api_key: k2
    api_secret_env: S
    intents: [660000000000000000000001, 660000000000000000000002]
"#;

fn fetch(outcome: Result<Status, FetchError>, millis: u64) -> Fetch {
    fetch_with(outcome, millis)
}

fn fetch_with<T>(outcome: Result<T, FetchError>, millis: u64) -> Fetch<T> {
    Fetch {
        elapsed: Duration::from_millis(millis),
        request_id: Some("req".into()),
        http_status: Some(200),
        clock_skew: Some(1.5),
        outcome,
    }
}

/// A detail of `coin` on `chain`, asking `amount` and paid `paid` (1 % fee).
fn detail(coin: &str, chain: u64, amount: &str, paid: &str) -> Detail {
    let dec = |s| parse_amount(s).expect("a decimal");
    let (paid, fee) = (dec(paid), dec(paid) / rust_decimal::Decimal::ONE_HUNDRED);
    Detail {
        coin: coin.into(),
        chain,
        currency: "USD".into(),
        amount: dec(amount),
        paid,
        fee,
        net: paid - fee,
        amount_cents: 1250,
    }
}

fn api_error(code: i64) -> Result<Status, FetchError> {
    Err(FetchError::Api {
        code: ApiCode::from_code(code),
        message: None,
        retry_after: None,
    })
}

/// The fixed scenario, rendered.
fn render() -> String {
    let config = Config::parse(CONFIG, std::path::Path::new("."), &|_| Some("s".into()))
        .expect("the golden config is valid");
    let state = State::new(&config);
    let metrics = Arc::new(Metrics::new());
    let stores = state.stores();
    let (main, second) = (&stores[0], &stores[1]);
    let observations: [(&str, &[i64]); 8] = [
        ("650000000000000000000001", &[1, 2, 10, 20]),
        ("650000000000000000000002", &[1, -1]),
        ("650000000000000000000003", &[2, 3, -2]),
        ("650000000000000000000004", &[10, -3]),
        ("650000000000000000000005", &[1, -4]),
        ("650000000000000000000006", &[-5]),
        ("650000000000000000000007", &[5, 7, 99]),
        ("650000000000000000000008", &[4]),
    ];
    for (id, statuses) in observations {
        for (i, code) in statuses.iter().enumerate() {
            let t = NOW - 600.0 + 60.0 * i as f64;
            main.lock()
                .observe_status(id, Status::from_code(*code), at(t));
        }
    }
    main.lock()
        .observe_not_found("650000000000000000000009", at(NOW - 30.0));
    // Terminal long ago: past terminal_retention, aggregates only.
    second.lock().observe_status(
        "660000000000000000000001",
        Status::Confirmed,
        at(NOW - 7200.0),
    );
    let mut recorder = metrics.store_recorder("main");
    for (outcome, millis) in [
        (Ok(Status::OnChain), 40),
        (Ok(Status::Confirmed), 120),
        (api_error(50001), 30),
        (api_error(40001), 8),
        (api_error(12345), 700),
        (Err(FetchError::Timeout), 10_000),
        (
            Err(FetchError::Http {
                status: 502,
                retry_after: None,
            }),
            3,
        ),
    ] {
        recorder.record(&answered(Endpoint::Status, &fetch(outcome, millis)));
    }
    // Details: the confirmed one came in short, the underpaid one at 90 %, the canceled
    // one paid nothing (null amounts); one malformed, and the timed-out one's detail
    // given up as malformed.
    for (id, d) in [
        (
            "650000000000000000000001",
            detail("USDT", 1, "12.50", "12.25"),
        ),
        ("650000000000000000000004", detail("USDC", 137, "10", "9")),
        ("650000000000000000000005", detail("USDT", 1, "5", "0")),
    ] {
        let counted = main.lock().record_detail(id, d.clone(), at(NOW - 10.0));
        assert!(matches!(
            counted,
            allscale_exporter::state::DetailRecorded::Counted { .. }
        ));
        recorder.record(&answered(Endpoint::Detail, &fetch_with(Ok(d), 25)));
    }
    let malformed = Err(FetchError::Decode(DecodeError::BadDetail("x".into())));
    recorder.record(&answered(
        Endpoint::Detail,
        &fetch_with::<Detail>(malformed, 9),
    ));
    assert!(
        main.lock()
            .give_up_detail("650000000000000000000006", Some("req"), at(NOW - 5.0))
    );
    // Over budget and behind: 45 intents every 30 s within 0.6/s; the next poll 2.25 s late.
    recorder.plan().set(45, Duration::from_secs(30), 0.6, 0.6);
    recorder.plan().set_first_due(Some(NOW - 2.25));
    let mut second_recorder = metrics.store_recorder("second");
    second_recorder.record(&answered(Endpoint::Status, &fetch(Ok(Status::Created), 15)));
    // Within budget, the next poll not due yet.
    second_recorder
        .plan()
        .set(1, Duration::from_secs(30), 10.0, 10.0);
    second_recorder.plan().set_first_due(Some(NOW + 4.0));
    metrics.set_reload_result(true, true, NOW - 3600.0);
    let revision = format!("revision=\"{}\"", allscale_exporter::REVISION);
    metrics
        .render(&state, NOW)
        .lines()
        .filter(|line| !line.contains("process_"))
        .map(|line| line.replace(&revision, "revision=\"REVISION\"") + "\n")
        .collect()
}

#[test]
fn a_fixed_scenario_renders_the_pinned_page() {
    let page = render();
    if std::env::var_os("GOLDEN_UPDATE").is_some() {
        std::fs::write(GOLDEN, &page).unwrap();
    }
    let pinned = std::fs::read_to_string(GOLDEN).expect("tests/fixtures/golden/metrics.txt");
    assert!(page == pinned, "the page differs from {GOLDEN}:\n{page}");
}
