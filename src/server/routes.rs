//! The exporter's HTTP routes: `/metrics`, `/` (the landing page), `POST /-/reload`
//! (behind basic auth when configured), the open probes `/healthz` and `/readyz`, and the
//! registration API (`/api/v1/intents`, behind its own bearer token; see `registration`).

use std::sync::Arc;

use axum::Router;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;

use super::shared::Shared;
use crate::reload;
use crate::single_flight::SingleFlight;
use crate::web::LiveWebConfig;

const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
const HTML_CONTENT_TYPE: &str = "text/html; charset=utf-8";

/// With basic auth configured, every route but the probes (`/healthz`, `/readyz`), the
/// registration API (its own token) and the webhook receiver (AllScale's signature)
/// needs credentials.
pub(super) fn router(
    shared: Shared,
    web: Option<Arc<LiveWebConfig>>,
    with_webhook: bool,
) -> Router {
    let protected = Router::new()
        .route("/", get(landing))
        .route(
            "/intents/{store}/{id}",
            get(super::registration::intent_json),
        )
        .route("/metrics", get(metrics))
        .route("/-/reload", post(reload_config));
    let protected = match web {
        Some(web) => protected.route_layer(axum::middleware::from_fn_with_state(
            web,
            crate::web::auth::require_basic_auth,
        )),
        None => protected,
    };
    let webhook_path = shared.config.borrow().webhook.path.clone();
    let router = protected
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(super::registration::routes());
    let router = if with_webhook {
        router.merge(super::webhook::routes(&webhook_path))
    } else {
        router
    };
    router.with_state(shared)
}

/// The webhook listener's routes: the receiver and `/healthz`.
pub(super) fn webhook_router(shared: Shared) -> Router {
    let webhook_path = shared.config.borrow().webhook.path.clone();
    super::webhook::routes(&webhook_path)
        .route("/healthz", get(healthz))
        .with_state(shared)
}

/// `/metrics`, gzip-compressed when the scraper accepts it (Prometheus does): the page
/// of 100k intents shrinks about tenfold.
async fn metrics(AxumState(shared): AxumState<Shared>, headers: HeaderMap) -> Response {
    let flight = shared.metrics_page.clone();
    let render = move || {
        let now = shared.clock.now().as_secs_f64();
        shared.metrics.render(&shared.state, now)
    };
    let page = rendered(&flight, METRICS_CONTENT_TYPE, render).await;
    if page.status() != StatusCode::OK || !accepts_gzip(&headers) {
        return page;
    }
    let (mut parts, body) = page.into_parts();
    let Ok(plain) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    match tokio::task::spawn_blocking(move || gzip(&plain)).await {
        Ok(Ok(compressed)) => {
            let h = &mut parts.headers;
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            Response::from_parts(parts, compressed.into())
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Whether `Accept-Encoding` lists `gzip` (or `*`) with a non-zero weight.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

/// Gzip at the fastest level: a scrape is about CPU time, not the last percent of size.
fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 8),
        flate2::Compression::fast(),
    );
    encoder.write_all(data)?;
    encoder.finish()
}

/// The page `render` makes, on the blocking pool and shared with the requests that
/// arrive while it renders; 500 (never an empty 200) when rendering fails.
async fn rendered(
    flight: &SingleFlight<Bytes>,
    content_type: &'static str,
    render: impl FnOnce() -> String + Send + 'static,
) -> Response {
    match flight.run(move || Bytes::from(render())).await {
        Ok(body) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(e) => {
            if let Some(count) = crate::log_limit::outside("render") {
                tracing::error!(error = %e, count, "rendering a page failed");
            }
            let body = "rendering failed; see the exporter's log\n";
            (StatusCode::INTERNAL_SERVER_ERROR, body).into_response()
        }
    }
}

/// `POST /-/reload`: 200 when applied or unchanged, 500 with every error otherwise.
async fn reload_config(AxumState(shared): AxumState<Shared>) -> Response {
    match shared.reload.reload().await {
        reload::Outcome::Applied(summary) => {
            (StatusCode::OK, format!("config reloaded: {summary}\n")).into_response()
        }
        reload::Outcome::Unchanged => (StatusCode::OK, "config unchanged\n").into_response(),
        reload::Outcome::Invalid(errors) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("config reload failed; the previous config keeps running:\n{errors}\n"),
        )
            .into_response(),
    }
}

/// 200 while every task runs; 503 once one failed for good (the process is exiting).
async fn healthz(AxumState(shared): AxumState<Shared>) -> Response {
    health(shared.supervisor.failure())
}

fn health(failure: Option<String>) -> Response {
    match failure {
        None => (StatusCode::OK, "ok\n").into_response(),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("failed: {reason}\n"),
        )
            .into_response(),
    }
}

async fn readyz(AxumState(shared): AxumState<Shared>) -> Response {
    if shared.state.ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: some store has not been polled yet\n",
        )
            .into_response()
    }
}

/// The on-call status page, rendered off the async thread.
async fn landing(AxumState(shared): AxumState<Shared>) -> Response {
    let flight = shared.landing_page.clone();
    let render = move || super::landing::page(&shared.state, shared.clock.now().as_secs_f64());
    rendered(&flight, HTML_CONTENT_TYPE, render).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;
    use crate::supervise::{Supervisor, Task};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn gzip_is_taken_when_listed_with_a_weight_above_zero() {
        let accepts = |value: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                header::ACCEPT_ENCODING,
                HeaderValue::from_str(value).unwrap(),
            );
            accepts_gzip(&h)
        };
        for yes in ["gzip", "GZIP", "deflate, gzip;q=0.5", "*", "br,gzip"] {
            assert!(accepts(yes), "{yes}");
        }
        for no in ["identity", "gzip;q=0", "deflate", "gzipx", "gzip; q=0.0"] {
            assert!(!accepts(no), "{no}");
        }
        assert!(!accepts_gzip(&HeaderMap::new()));
        let page = "allscale_x 1\n".repeat(1000);
        let packed = gzip(page.as_bytes()).unwrap();
        let mut unpacked = String::new();
        use std::io::Read as _;
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_string(&mut unpacked)
            .unwrap();
        assert_eq!(unpacked, page);
        assert!(packed.len() * 10 < page.len());
    }

    /// Counts renders and the most running at once.
    #[derive(Default)]
    struct Renders {
        running: AtomicUsize,
        most: AtomicUsize,
        total: AtomicUsize,
    }

    impl Renders {
        fn render(&self) -> String {
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            self.total.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(30));
            self.running.fetch_sub(1, Ordering::SeqCst);
            "page\n".into()
        }
    }

    async fn body(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX);
        String::from_utf8(bytes.await.unwrap().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn concurrent_scrapes_cause_one_render_at_a_time() {
        let flight = SingleFlight::default();
        let renders = Arc::new(Renders::default());
        let scrapes: Vec<_> = (0..20u64)
            .map(|i| {
                let (flight, renders) = (flight.clone(), Arc::clone(&renders));
                tokio::spawn(async move {
                    // Staggered, so some arrive during a render and some after one.
                    tokio::time::sleep(Duration::from_millis(5 * i)).await;
                    let render = move || renders.render();
                    rendered(&flight, METRICS_CONTENT_TYPE, render).await
                })
            })
            .collect();
        for scrape in scrapes {
            let response = scrape.await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(body(response).await, "page\n");
        }
        assert_eq!(renders.most.load(Ordering::SeqCst), 1, "renders overlapped");
        let total = renders.total.load(Ordering::SeqCst);
        assert!(total < 20, "{total} renders for 20 scrapes: none shared");
    }

    #[tokio::test]
    async fn a_failed_render_is_a_500_not_an_empty_page() {
        let flight = SingleFlight::default();
        let response = rendered(&flight, METRICS_CONTENT_TYPE, || panic!("render bug")).await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body(response).await.contains("rendering failed"));
        let response = rendered(&flight, METRICS_CONTENT_TYPE, || "ok\n".into()).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "the failure does not stick"
        );
    }

    /// A task given up by the supervisor makes `/healthz` fail with the reason.
    #[tokio::test]
    async fn healthz_fails_once_a_task_failed_for_good() {
        let supervisor = Supervisor::new(Metrics::new().task_restarts());
        assert_eq!(health(supervisor.failure()).status(), StatusCode::OK);
        supervisor.fail(Task::HttpServer, "http_server", "ended unexpectedly");
        let response = health(supervisor.failure());
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(body(response).await.contains("http_server"));
    }
}
