//! The exporter's HTTP(S) server: an accept loop that caps open connections and hands each
//! to its own task, which (for HTTPS) does the TLS handshake with the certificate current
//! at that moment and then serves HTTP/1 or HTTP/2 with hyper, within the timeouts of
//! [`ServerLimits`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::LiveWebConfig;
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
    /// A connection on which no byte moves either way for this long is closed.
    pub idle_timeout: Duration,
    /// Connections open at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            read_header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
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
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut refusals = Refusals::default();
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    loop {
        let tcp = tokio::select! {
            _ = crate::stopped(&mut stop) => break,
            Some(_) = connections.join_next() => continue,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Typically out of file descriptors: pause rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // Dropping `tcp` closes it at once: the file descriptors stay for the pollers.
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            refusals.note(limits.max_connections);
            continue;
        };
        let connection = Arc::clone(&server).connection(tcp, slot, graceful.watcher());
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

/// Connections refused at the cap, warned about at most once a minute: a flood must not
/// become a flood of log lines.
#[derive(Default)]
struct Refusals {
    unreported: u64,
    warned: Option<Instant>,
}

impl Refusals {
    const WARN_EVERY: Duration = Duration::from_secs(60);

    fn note(&mut self, max_connections: usize) {
        self.unreported += 1;
        if self
            .warned
            .is_some_and(|at| at.elapsed() < Self::WARN_EVERY)
        {
            return;
        }
        tracing::warn!(
            max_connections,
            refused = self.unreported,
            "connection limit reached (--web.max-connections): closing new connections"
        );
        self.unreported = 0;
        self.warned = Some(Instant::now());
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
    /// One connection, holding its `slot` of the cap until it ends.
    async fn connection(
        self: Arc<Self>,
        tcp: TcpStream,
        _slot: OwnedSemaphorePermit,
        watcher: Watcher,
    ) {
        let peer = tcp.peer_addr().ok();
        let limits = &self.limits;
        let io = IdleTimeout::new(tcp, limits.read_header_timeout, limits.idle_timeout);
        let result = match &self.tls {
            None => self.http(io, watcher).await,
            Some(web) => match handshake(web, io).await {
                Ok(stream) => self.http(stream, watcher).await,
                // A client's bad handshake is its problem, not an exporter error: debug only.
                Err(why) => return tracing::debug!(?peer, %why, "TLS handshake failed"),
            },
        };
        if let Err(e) = result {
            tracing::debug!(?peer, error = %e, "HTTP connection ended with an error");
        }
    }

    async fn http<S>(&self, io: S, watcher: Watcher) -> Result<(), BoxError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let service = TowerToHyperService::new(self.app.clone());
        let connection = self
            .http
            .serve_connection_with_upgrades(TokioIo::new(io), service);
        watcher.watch(connection.into_owned()).await
    }
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
