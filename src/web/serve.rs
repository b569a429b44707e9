//! HTTPS serving: an accept loop that hands each connection to its own task, which does
//! the TLS handshake (with the certificate current at that moment) and then serves HTTP/1
//! or HTTP/2 with hyper.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::LiveWebConfig;

/// A client gets this long to finish the TLS handshake; the accept loop never waits on it.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long open connections get to finish after the stop signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves `app` over TLS until `stop` turns true, then lets open connections finish.
pub async fn serve_tls(
    listener: TcpListener,
    app: Router,
    web: Arc<LiveWebConfig>,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let http = Arc::new(auto::Builder::new(TokioExecutor::new()));
    loop {
        let tcp = tokio::select! {
            _ = crate::stopped(&mut stop) => break,
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
        let Some(tls) = web.current().tls else {
            tracing::error!("TLS serving without a TLS config");
            break;
        };
        let connection = serve_connection(
            tcp,
            TlsAcceptor::from(tls),
            app.clone(),
            Arc::clone(&http),
            graceful.watcher(),
        );
        tokio::spawn(connection);
    }
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some HTTPS connections were still open at shutdown");
    }
}

async fn serve_connection(
    tcp: TcpStream,
    acceptor: TlsAcceptor,
    app: Router,
    http: Arc<auto::Builder<TokioExecutor>>,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let peer = tcp.peer_addr().ok();
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => stream,
        // A client's bad handshake is its problem, not an exporter error: debug only.
        Ok(Err(e)) => return tracing::debug!(?peer, error = %e, "TLS handshake failed"),
        Err(_) => return tracing::debug!(?peer, "TLS handshake timed out"),
    };
    let service = TowerToHyperService::new(app);
    let connection = http.serve_connection_with_upgrades(TokioIo::new(stream), service);
    if let Err(e) = watcher.watch(connection.into_owned()).await {
        tracing::debug!(?peer, error = %e, "HTTPS connection ended with an error");
    }
}
