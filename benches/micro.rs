//! Micro-benchmarks of the hot paths: request signing, response verification, envelope
//! decoding, status observation and the `/metrics` render at 1k–100k intents.
//!
//! Run with `cargo bench --bench micro`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use allscale_exporter::api::signing::{
    EMPTY_BODY_SHA256, ResponseFields, request_canonical, response_canonical, sha256_hex, sign,
    verify,
};
use allscale_exporter::api::{Envelope, Status};
use allscale_exporter::clock::UnixTime;
use allscale_exporter::config::{BaseUrl, IntentId};
use allscale_exporter::config::{Config, IntentConfig, Secret, StoreConfig};
use allscale_exporter::metrics::Metrics;
use allscale_exporter::state::State;
use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};

const SECRET: &str = "st_test_secret_0123456789abcdef";
const NONCE: &str = "b4d9a2a1-9c2b-4df4-8b8e-2a13a45fd321";
const PATH: &str = "/v1/checkout_intents/65b2f3d0d2d9c0a1b2c3d4e5/status";
const NOW: f64 = 1_767_225_600.0;
const OK_BODY: &[u8] = br#"{"code":0,"payload":20,"error":null,"request_id":"req_xxxxx"}"#;
const ERROR_BODY: &[u8] =
    br#"{"code":50001,"payload":null,"error":{"message":"not found"},"request_id":"req_xxxxx"}"#;
/// Statuses spread over the intents: pending, terminal and one undocumented value.
const CODES: [i64; 8] = [1, 2, 3, 10, 20, -1, -5, 7];

fn intent_id(i: usize) -> String {
    format!("{i:024x}")
}

/// One store with `n` intents (10% with an order id), each observed once.
fn build_state(n: usize) -> Arc<State> {
    let config = Config {
        poll_interval: Duration::from_secs(60),
        request_timeout: Duration::from_secs(10),
        terminal_retention: Duration::from_secs(86_400),
        state_file: None,
        state_database: None,
        stores: vec![StoreConfig {
            name: "main".into(),
            base_url: BaseUrl::parse("http://127.0.0.1:1").expect("a base URL"),
            api_key: "k".into(),
            api_secret: Secret::new(SECRET),
            max_requests_per_second: 10.0,
            max_concurrency: 2,
            verify_response_signature: false,
            fetch_details: true,
            http_version: Default::default(),
            per_intent_metrics: Default::default(),
            attention_after: Default::default(),
            max_watch_age: allscale_exporter::config::DEFAULT_MAX_WATCH_AGE,
            not_found_ttl: allscale_exporter::config::DEFAULT_NOT_FOUND_TTL,
            intents: (0..n)
                .map(|i| IntentConfig {
                    id: IntentId::parse(&intent_id(i)).expect("24 hex"),
                    order_id: (i % 10 == 0).then(|| format!("order-{i}")),
                })
                .collect(),
            intent_sources: Default::default(),
            webhook: Default::default(),
        }],
        registration: None,
        webhook: Default::default(),
    };
    let state = State::new(&config);
    let store = &state.stores()[0];
    let mut guard = store.lock();
    for i in 0..n {
        let status = Status::from_code(CODES[i % CODES.len()]);
        guard.observe_status(&intent_id(i), status, UnixTime::from_secs_f64(NOW - 60.0));
    }
    drop(guard);
    state
}

fn signing(c: &mut Criterion) {
    let mut ts = 1_716_501_000_u64;
    c.bench_function("signing/request_sign", |b| {
        b.iter(|| {
            ts += 1;
            let canonical = request_canonical(
                "GET",
                black_box(PATH),
                "",
                &ts.to_string(),
                NONCE,
                EMPTY_BODY_SHA256,
            );
            sign(black_box(SECRET), &canonical)
        })
    });

    // Test vector R1 of docs/allscale-api.md §8: hash the body, rebuild the canonical string,
    // verify the header, as the client does for every signed answer.
    let header = "v1=mnTGcxrmXxbx9YQsBAS6W+Tw7hvlXUFjCUjOGPIwjgo=";
    c.bench_function("signing/response_verify", |b| {
        b.iter(|| {
            let body_hash = sha256_hex(black_box(OK_BODY));
            let canonical = response_canonical(&ResponseFields {
                status_code: 200,
                path: PATH,
                request_nonce: NONCE,
                request_body_sha256: EMPTY_BODY_SHA256,
                response_timestamp: "1716501002",
                response_nonce: "7c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
                response_body_sha256: &body_hash,
            });
            let ok = verify(SECRET, &canonical, black_box(header));
            assert!(ok);
            ok
        })
    });
}

fn envelope(c: &mut Criterion) {
    c.bench_function("envelope/decode_status", |b| {
        b.iter(|| {
            Envelope::decode(black_box(OK_BODY))
                .and_then(|e| e.status_payload())
                .expect("status envelope")
        })
    });
    c.bench_function("envelope/decode_error", |b| {
        b.iter(|| Envelope::decode(black_box(ERROR_BODY)).expect("error envelope"))
    });
}

fn state(c: &mut Criterion) {
    let state = build_state(100_000);
    let store = &state.stores()[0];
    let mut guard = store.lock();
    let id = intent_id(50_001);
    let mut now = NOW;
    let mut flip = false;
    c.bench_function("state/observe_status", |b| {
        b.iter(|| {
            now += 1.0;
            flip = !flip;
            // Alternate between two pending statuses so every call is a transition.
            let status = if flip {
                Status::Created
            } else {
                Status::Viewed
            };
            guard.observe_status(black_box(&id), status, UnixTime::from_secs_f64(now))
        })
    });
}

fn render(c: &mut Criterion) {
    let metrics = std::sync::Arc::new(Metrics::new());
    let _recorder = metrics.store_recorder("main");
    let mut group = c.benchmark_group("render");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for n in [1_000, 10_000, 100_000] {
        let state = build_state(n);
        let bytes = metrics.render(&state, NOW).len();
        eprintln!("render/metrics/{n}: {bytes} bytes");
        group.bench_with_input(BenchmarkId::new("metrics", n), &state, |b, state| {
            b.iter(|| metrics.render(black_box(state), NOW))
        });
    }
    group.finish();
}

criterion_group!(benches, signing, envelope, state, render);
criterion_main!(benches);
