//! The exporter's HTTP(S) server: an accept loop that gives each connection a slot (see
//! [`super::admission`]: at the cap the least-worth connection makes room) and its own
//! task, which (for HTTPS) does the TLS handshake with the certificate current at that
//! moment and then serves HTTP/1 or HTTP/2 with hyper, within the timeouts of
//! [`ServerLimits`]; every request body has a deadline ([`super::body`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, StatusCode, Version, header};
use hyper::body::Incoming;
use hyper::service::Service as _;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::LiveWebConfig;
use super::admission::{Activity, Admission, Displaced, Slot};
use super::body::{Deadline, Guarded};
use super::idle::IdleTimeout;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A client gets this long to finish the TLS handshake; the accept loop never waits on it.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long open connections get to finish after the stop signal; then they are cut, so a
/// half-sent request or a stalled reader cannot hold the exit.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// HTTP/2 streams one connection may have open: a scraper needs one, and each open stream
/// may hold a rendered page (hyper's default is 200).
pub const MAX_CONCURRENT_STREAMS: u32 = 8;

/// What one client may hold of the server; the `--web.*` flags set them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// A request head (and a new connection's first byte) must arrive within this. On
    /// HTTP/1.1 it also bounds the wait for the next request on a kept-alive connection.
    pub read_header_timeout: Duration,
    /// A request body must arrive whole within this of its head; else 408, closed.
    pub read_body_timeout: Duration,
    /// A connection on which no byte moves either way for this long is closed.
    pub idle_timeout: Duration,
    /// Connections open at once; at the cap the least-worth one makes room.
    pub max_connections: usize,
    /// Connections one IP address may hold at once (0: no cap of its own).
    pub max_connections_per_ip: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            read_header_timeout: Duration::from_secs(10),
            read_body_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
            max_connections_per_ip: 64,
        }
    }
}

/// What every connection task needs.
struct Server {
    app: Router,
    /// HTTPS when set: its certificate is looked up per connection, so rotation applies.
    tls: Option<Arc<LiveWebConfig>>,
    http: auto::Builder<TokioExecutor>,
    limits: ServerLimits,
}

/// Serves `app` (over TLS when `tls` is set) until `stop` turns true, then gives open
/// connections [`SHUTDOWN_GRACE`] to finish and cuts the rest.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<LiveWebConfig>>,
    limits: ServerLimits,
    mut stop: watch::Receiver<bool>,
) {
    let server = Arc::new(Server {
        app,
        tls,
        http: http_builder(&limits),
        limits,
    });
    let admission = Admission::new(limits.max_connections, limits.max_connections_per_ip);
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    loop {
        let (tcp, peer) = tokio::select! {
            _ = crate::stopped(&mut stop) => break,
            Some(_) = connections.join_next() => continue,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => (tcp, peer),
                Err(e) => {
                    // Typically out of file descriptors: pause rather than spin.
                    if let Some(count) = crate::log_limit::outside("accept") {
                        tracing::warn!(error = %e, count, "cannot accept a connection");
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let (slot, displaced) = match admission.admit(peer.ip()) {
            Ok((slot, displaced)) => (Some(slot), displaced),
            Err(refused) => (None, Some(refused)),
        };
        if let Some(displaced) = displaced {
            note(displaced, &limits);
        }
        // Dropping a refused `tcp` closes it at once: the file descriptors stay for the
        // pollers.
        let Some(slot) = slot else { continue };
        let connection = Arc::clone(&server).connection(tcp, peer, slot, graceful.watcher());
        connections.spawn(connection);
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            count = connections.len(),
            "HTTP connections still open {SHUTDOWN_GRACE:?} after the stop signal: closing them"
        );
    }
    connections.shutdown().await;
}

/// A connection closed to make room, or refused, logged at most once a minute per kind
/// (a flood must not become a flood of log lines).
fn note(displaced: Displaced, limits: &ServerLimits) {
    let kind = format!("connection/{}", displaced.as_str());
    let Some(count) = crate::log_limit::outside(&kind) else {
        return;
    };
    let (max_connections, per_ip) = (limits.max_connections, limits.max_connections_per_ip);
    match displaced {
        Displaced::Evicted => tracing::warn!(
            max_connections,
            count,
            "connection limit reached (--web.max-connections): closed the connection idle longest (or that never sent a request) to make room"
        ),
        Displaced::PeerEvicted => tracing::warn!(
            max_connections_per_ip = per_ip,
            count,
            "one IP address reached its connection limit (--web.max-connections-per-ip): closed its connection idle longest to make room"
        ),
        Displaced::Refused => tracing::warn!(
            max_connections,
            max_connections_per_ip = per_ip,
            count,
            "connection limit reached and every connection is mid-request: closing new connections"
        ),
    }
}

fn http_builder(limits: &ServerLimits) -> auto::Builder<TokioExecutor> {
    let mut http = auto::Builder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.read_header_timeout);
    http.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS);
    http
}

impl Server {
    /// One connection, holding its `slot` until it ends or is evicted.
    async fn connection(
        self: Arc<Self>,
        tcp: TcpStream,
        peer: SocketAddr,
        slot: Slot,
        watcher: Watcher,
    ) {
        let eviction = Arc::clone(&slot.eviction);
        tokio::select! {
            () = self.serve_connection(tcp, peer, &slot.activity, watcher) => {}
            () = eviction.fired() => tracing::debug!(%peer, "connection evicted to make room"),
        }
    }

    async fn serve_connection(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
        activity: &Arc<Activity>,
        watcher: Watcher,
    ) {
        let limits = &self.limits;
        let io = IdleTimeout::new(tcp, limits.read_header_timeout, limits.idle_timeout);
        let result = match &self.tls {
            None => self.http(io, peer, activity, watcher).await,
            Some(web) => match handshake(web, io).await {
                Ok(stream) => self.http(stream, peer, activity, watcher).await,
                // A client's bad handshake is its problem, not an exporter error: debug only.
                Err(why) => return tracing::debug!(%peer, %why, "TLS handshake failed"),
            },
        };
        if let Err(e) = result {
            tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
        }
    }

    /// Serves HTTP on `io`; each request counts as in progress on `activity` until its
    /// answer is written, its body must arrive within `read_body_timeout`, and it carries
    /// the client's address (`ConnectInfo`, for the log).
    async fn http<S>(
        &self,
        io: S,
        peer: SocketAddr,
        activity: &Arc<Activity>,
        watcher: Watcher,
    ) -> Result<(), BoxError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let app = TowerToHyperService::new(self.app.clone());
        let (activity, within) = (Arc::clone(activity), self.limits.read_body_timeout);
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let in_flight = activity.begin();
            let late = Arc::new(AtomicBool::new(false));
            let http1 = request.version() < Version::HTTP_2;
            let request = request.map(|body| Deadline::new(body, within, Arc::clone(&late)));
            let answer = app.call(request);
            async move {
                let answer = match answer.await {
                    Ok(_) if late.load(Ordering::SeqCst) => body_timed_out(http1),
                    Ok(answer) => answer,
                    Err(never) => match never {},
                };
                Ok::<_, std::convert::Infallible>(
                    answer.map(|body| Body::new(Guarded::new(body, in_flight))),
                )
            }
        });
        let connection = self
            .http
            .serve_connection_with_upgrades(TokioIo::new(io), service);
        watcher.watch(connection.into_owned()).await
    }
}

/// 408 for a body that missed its deadline; HTTP/1 closes the connection (the rest of
/// the body is never read), HTTP/2 ends only the stream.
fn body_timed_out(http1: bool) -> Response<Body> {
    let mut answer = Response::new(Body::from(
        "the request body did not arrive within the deadline (--web.read-body-timeout)\n",
    ));
    *answer.status_mut() = StatusCode::REQUEST_TIMEOUT;
    if http1 {
        let close = HeaderValue::from_static("close");
        answer.headers_mut().insert(header::CONNECTION, close);
    }
    answer
}

/// The TLS handshake with the certificate current now, within [`HANDSHAKE_TIMEOUT`].
async fn handshake<S>(
    web: &Arc<LiveWebConfig>,
    io: S,
) -> Result<tokio_rustls::server::TlsStream<S>, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Some(tls) = web.current().await.tls else {
        tracing::error!("TLS serving without a TLS config");
        return Err("no TLS config".into());
    };
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, TlsAcceptor::from(tls).accept(io)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".into()),
    }
}
