//! The HTTP layer's own cost, for comparison with the exporter's CPU per poll: bare GETs
//! in the exporter's rhythm (a batch every 50 ms, at most 64 in flight, one
//! current-thread runtime) against a local server, with no signing, decoding or state,
//! sent either by the exporter's transport (hyper's client connections) or by reqwest
//! (which the exporter used before). Prints the requests per second and the process CPU
//! time per request over a 20 s window (after 5 s of warm-up).
//!
//! `cargo run --release --example http_floor -- URL transport|reqwest http1|http2 [PER_SECOND]`
//! (`bench/bench.py --floor` runs all four against the simulator.)

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use allscale_exporter::api::transport::Transport;
use allscale_exporter::config::HttpVersion;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use hyper::http::HeaderMap;
use hyper::http::uri::PathAndQuery;

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

/// One bare GET, by whichever client is measured.
type Get = Pin<Box<dyn Future<Output = ()>>>;

/// A factory of GETs: the exporter's transport, or reqwest set up as the exporter had it.
fn client(url: &reqwest::Url, kind: &str, http2: bool) -> Box<dyn Fn() -> Get> {
    let version = if http2 {
        HttpVersion::Http2
    } else {
        HttpVersion::Http1
    };
    if kind == "transport" {
        let transport = Arc::new(
            Transport::new(url, version, IN_FLIGHT, Duration::from_secs(10)).expect("transport"),
        );
        let path = PathAndQuery::try_from(url.path()).expect("a path");
        return Box::new(move || {
            let (transport, path) = (Arc::clone(&transport), path.clone());
            Box::pin(async move {
                let reply = transport.get(path, HeaderMap::new(), 64 * 1024).await;
                reply.expect("an answer").body.expect("a body");
            })
        });
    }
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
    let url = url.clone();
    Box::new(move || {
        let request = client.get(url.clone());
        Box::pin(async move {
            let response = request.send().await.expect("an answer");
            response.bytes().await.expect("a body");
        })
    })
}

fn main() {
    let usage = "usage: http_floor URL transport|reqwest http1|http2 [PER_SECOND]";
    let mut args = std::env::args().skip(1);
    let url: reqwest::Url = args.next().expect(usage).parse().expect("a URL");
    let kind = args.next().expect(usage);
    let http2 = args.next().as_deref() == Some("http2");
    let per_second: f64 = args.next().and_then(|v| v.parse().ok()).unwrap_or(3333.0);
    let per_batch = (per_second * BATCH_EVERY.as_secs_f64()).round() as usize;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let get = client(&url, &kind, http2);
        let mut in_flight = FuturesUnordered::new();
        let mut tick = tokio::time::interval(BATCH_EVERY);
        let (started, mut queued, mut done) = (Instant::now(), 0usize, 0u64);
        let mut mark: Option<(Instant, f64, u64)> = None;
        while started.elapsed() < WARM_UP + WINDOW {
            tokio::select! {
                _ = tick.tick() => queued += per_batch,
                Some(()) = in_flight.next(), if !in_flight.is_empty() => done += 1,
            }
            while queued > 0 && in_flight.len() < IN_FLIGHT {
                queued -= 1;
                in_flight.push(get());
            }
            if mark.is_none() && started.elapsed() >= WARM_UP {
                mark = Some((Instant::now(), cpu_seconds(), done));
            }
        }
        let (t0, c0, d0) = mark.expect("the window started");
        let requests = (done - d0) as f64;
        println!(
            "{kind} {}: {:.0} requests/s, {:.1} us CPU per request",
            if http2 { "http2" } else { "http1" },
            requests / t0.elapsed().as_secs_f64(),
            (cpu_seconds() - c0) / requests * 1e6
        );
    });
}
