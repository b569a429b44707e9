//! The HTTP client's own cost, for comparison with the exporter's CPU per poll: bare
//! reqwest GETs with the exporter's client settings, in the exporter's rhythm (a batch
//! every 50 ms, at most 64 in flight, one current-thread runtime), against a local
//! server, with no signing, decoding or state. Prints the requests per second and the
//! process CPU time per request over a 20 s window (after 5 s of warm-up).
//!
//! `cargo run --release --example http_floor -- URL [http1|http2] [PER_SECOND]`
//! (`bench/bench.py --floor` runs it against the simulator.)

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH_EVERY: Duration = Duration::from_millis(50);
const IN_FLIGHT: usize = 64;
const WARM_UP: Duration = Duration::from_secs(5);
const WINDOW: Duration = Duration::from_secs(20);

/// User + system CPU seconds of this process, from `/proc/self/stat`.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: f64 =
        fields[11].parse::<f64>().unwrap_or(0.0) + fields[12].parse::<f64>().unwrap_or(0.0);
    ticks / 100.0 // USER_HZ
}

fn main() {
    let mut args = std::env::args().skip(1);
    let url: reqwest::Url = args
        .next()
        .expect("usage: http_floor URL [http1|http2] [PER_SECOND]")
        .parse()
        .expect("a URL");
    let http2 = args.next().as_deref() == Some("http2");
    let per_second: f64 = args.next().and_then(|v| v.parse().ok()).unwrap_or(3333.0);
    let per_batch = (per_second * BATCH_EVERY.as_secs_f64()).round() as usize;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .pool_max_idle_per_host(IN_FLIGHT);
        let builder = if http2 {
            builder.http2_prior_knowledge()
        } else {
            builder.http1_only()
        };
        let client = builder.build().expect("client");
        let mut in_flight = FuturesUnordered::new();
        let mut tick = tokio::time::interval(BATCH_EVERY);
        let (started, mut queued, mut done) = (Instant::now(), 0usize, 0u64);
        let mut mark: Option<(Instant, f64, u64)> = None;
        while started.elapsed() < WARM_UP + WINDOW {
            tokio::select! {
                _ = tick.tick() => queued += per_batch,
                Some(answer) = in_flight.next(), if !in_flight.is_empty() => {
                    let answer: Result<bytes::Bytes, reqwest::Error> = answer;
                    answer.expect("an answer");
                    done += 1;
                }
            }
            while queued > 0 && in_flight.len() < IN_FLIGHT {
                queued -= 1;
                let request = client.get(url.clone());
                in_flight.push(async move { request.send().await?.bytes().await });
            }
            if mark.is_none() && started.elapsed() >= WARM_UP {
                mark = Some((Instant::now(), cpu_seconds(), done));
            }
        }
        let (t0, c0, d0) = mark.expect("the window started");
        let requests = (done - d0) as f64;
        println!(
            "{} {:.0} requests/s, {:.1} us CPU per request",
            if http2 { "http2" } else { "http1" },
            requests / t0.elapsed().as_secs_f64(),
            (cpu_seconds() - c0) / requests * 1e6
        );
    });
}
