//! The HTTP side (`/metrics`, `/healthz`, `/readyz`, `/`) and the exporter's lifecycle:
//! start pollers and server together, stop them gracefully together.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State as AxumState;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::StatusClass;
use crate::api::client::ClientError;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::poller;
use crate::state::{State, unix_now_f64};

/// Shared by every handler.
#[derive(Clone)]
struct Shared {
    state: Arc<State>,
    metrics: Arc<Metrics>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("cannot read listener address: {0}")]
    Io(#[from] std::io::Error),
}

/// A running exporter: pollers plus HTTP server.
pub struct Exporter {
    addr: SocketAddr,
    state: Arc<State>,
    shutdown: watch::Sender<bool>,
    pollers: Vec<JoinHandle<()>>,
    server: JoinHandle<std::io::Result<()>>,
}

impl Exporter {
    /// Starts polling `config` and serving on `listener`.
    pub async fn start(config: Config, listener: TcpListener) -> Result<Exporter, StartError> {
        let addr = listener.local_addr()?;
        let metrics = Arc::new(Metrics::new());
        metrics.set_reload_result(true, unix_now_f64());
        let state = State::new(&config);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let pollers = poller::spawn_all(&config, &state, &metrics, &shutdown_rx)?;
        let app = router(Shared {
            state: Arc::clone(&state),
            metrics,
        });
        let mut server_rx = shutdown_rx.clone();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = server_rx.wait_for(|stop| *stop).await;
                })
                .await
        });
        Ok(Exporter {
            addr,
            state,
            shutdown,
            pollers,
            server,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state(&self) -> &Arc<State> {
        &self.state
    }

    /// Stops polling (finishing in-flight requests) and the server.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for poller in self.pollers {
            let _ = poller.await;
        }
        let _ = self.server.await;
    }
}

fn router(shared: Shared) -> Router {
    Router::new()
        .route("/", get(landing))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(shared)
}

async fn metrics(AxumState(shared): AxumState<Shared>) -> Response {
    let body =
        tokio::task::spawn_blocking(move || shared.metrics.render(&shared.state, unix_now_f64()))
            .await
            .unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
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

async fn landing(AxumState(shared): AxumState<Shared>) -> Html<String> {
    Html(landing_page(&shared.state))
}

/// A small page: version, per-store status counts, links.
fn landing_page(state: &State) -> String {
    let mut rows = String::new();
    for handle in state.stores() {
        let st = handle.lock();
        let mut cells = String::new();
        for class in StatusClass::ALL {
            let n = st
                .intents
                .values()
                .filter(|i| i.class() == Some(class))
                .count();
            let _ = write!(cells, "<td>{n}</td>");
        }
        let _ = write!(
            rows,
            "<tr><th>{}</th><td>{}</td>{cells}</tr>",
            html_escape(&handle.name),
            st.intents.len()
        );
    }
    let headers: String = StatusClass::ALL
        .iter()
        .map(|c| format!("<th>{c}</th>"))
        .collect();
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>AllScale exporter</title>\
         <style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 8px;text-align:right}}</style></head>\
         <body><h1>AllScale Checkout exporter</h1><p>Version {} (revision {})</p>\
         <p><a href=\"/metrics\">Metrics</a> · <a href=\"/healthz\">Health</a> · <a href=\"/readyz\">Readiness</a></p>\
         <h2>Watched intents</h2><table><tr><th>store</th><th>watched</th>{headers}</tr>{rows}</table></body></html>",
        crate::VERSION,
        crate::REVISION
    )
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
