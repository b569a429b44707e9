//! The API client's HTTP transport: connections opened on demand and kept open, either
//! one shared HTTP/2 connection (the `h2` crate) or a pool of HTTP/1.1 keep-alive ones
//! (hyper's client connections).
//!
//! Not reqwest: a poll is one tiny GET, and reqwest's layers around hyper (URL
//! re-parsing, redirect and retry services, pool hand-off) cost about 1.5x hyper's own
//! client per request, which was most of the exporter's CPU at 100k intents. For
//! HTTP/2, hyper itself adds a task, a channel and a oneshot per request over `h2`,
//! which it is built on; driving `h2` directly saves those (docs/performance.md).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::{Body as _, Incoming};
use hyper::client::conn::http1;
use hyper::http::uri::{Authority, PathAndQuery, Scheme};
use hyper::http::{HeaderMap, HeaderValue, Request, StatusCode, Uri, header};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

type Body = Empty<Bytes>;

/// Which HTTP a client speaks (the exporter's `http_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpVersion {
    /// HTTP/2 when an `https` server offers it (ALPN), else HTTP/1.1.
    #[default]
    Auto,
    /// HTTP/1.1 only: for proxies or servers with a broken HTTP/2.
    Http1,
    /// HTTP/2 only, also on plain `http` (prior knowledge, "h2c"): every request of the
    /// store multiplexed on one connection.
    Http2,
}

/// Setting up the transport failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The base URL has no host.
    #[error("base_url has no host")]
    NoHost,
    /// The base URL is neither `http` nor `https`.
    #[error("base_url scheme must be http or https, not {0:?}")]
    Scheme(String),
    /// The host cannot be a TLS server name.
    #[error("invalid TLS server name {0:?}")]
    ServerName(String),
    /// rustls refused the set-up.
    #[error("TLS set-up: {0}")]
    Tls(#[from] rustls::Error),
}

/// A request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// DNS failed.
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        /// The host looked up.
        host: String,
        /// Why.
        source: std::io::Error,
    },
    /// DNS gave no address.
    #[error("{host} resolved to no address")]
    NoAddress {
        /// The host looked up.
        host: String,
    },
    /// The TCP connection failed.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The address tried.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The TLS handshake failed.
    #[error("TLS handshake with {host}: {source}")]
    Tls {
        /// The server's host.
        host: String,
        /// Why.
        source: std::io::Error,
    },
    /// HTTP/1.1 failed.
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    /// HTTP/2 failed.
    #[error("HTTP/2: {0}")]
    H2(#[from] h2::Error),
    /// The server refused the stream unprocessed (REFUSED_STREAM, or above a GOAWAY's
    /// last stream id): safe to send again, with a fresh nonce.
    #[error("HTTP/2 stream refused by the server: {0}")]
    Refused(h2::Error),
    /// No answer within the timeout.
    #[error("request timed out")]
    Timeout,
    /// Every kept connection the request was tried on had been closed by the server.
    #[error("no connection could take the request after {attempts} attempts")]
    Exhausted {
        /// How many connections were tried.
        attempts: usize,
    },
}

/// Why an answer's body was not read whole.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body went past the cap.
    #[error("body larger than {limit} bytes")]
    TooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// HTTP/1.1 failed while reading.
    #[error("reading the body: {0}")]
    Read(#[from] hyper::Error),
    /// HTTP/2 failed while reading.
    #[error("reading the body: {0}")]
    ReadH2(#[from] h2::Error),
}

/// An answer: status, headers and the body (read up to the cap).
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The answer's headers.
    pub headers: HeaderMap,
    /// The body, or why it was not read whole.
    pub body: Result<Vec<u8>, BodyError>,
}

/// TLS for an https base URL.
struct Tls {
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

/// Where to connect and how; fixed for a transport's life.
struct Endpoint {
    /// Host for DNS (brackets stripped from an IPv6 literal).
    host: String,
    port: u16,
    scheme: Scheme,
    /// `:authority` (HTTP/2): host, and port when not the default.
    authority: Authority,
    /// The same as the HTTP/1.1 `Host` header, made once rather than per request.
    host_header: HeaderValue,
    tls: Option<Tls>,
    version: HttpVersion,
}

/// Open connections that can take a request.
#[derive(Default)]
struct Idle {
    h2: Option<H2>,
    h1: Vec<http1::SendRequest<Body>>,
    /// The server answered ALPN with HTTP/1.1: no need to wait for a shared HTTP/2 one.
    speaks_h1: bool,
}

/// A shared HTTP/2 connection; `closed` is set when its task ends.
#[derive(Clone)]
struct H2 {
    tx: h2::client::SendRequest<Bytes>,
    closed: Arc<AtomicBool>,
}

impl H2 {
    fn is(&self, other: &H2) -> bool {
        Arc::ptr_eq(&self.closed, &other.closed)
    }
}

/// A connection a request is sent on.
enum Conn {
    H1(http1::SendRequest<Body>),
    H2(H2),
}

/// A request that failed; `unsent` gives its headers back when it never reached the
/// wire, so it can go out on another connection.
struct Failed {
    unsent: Option<HeaderMap>,
    error: TransportError,
}

impl Failed {
    fn sent(error: impl Into<TransportError>) -> Self {
        Self {
            unsent: None,
            error: error.into(),
        }
    }
}

/// A shared HTTP/2 connection is given up after this many request timeouts in a row with
/// no answer between them: a black-holed peer would otherwise time out every poll until
/// TCP gives up (about 15 minutes).
pub const TIMEOUTS_BEFORE_RECONNECT: u32 = 2;

/// An HTTP/2 connection is PINGed this often; without a PONG within the request timeout it
/// is closed and the next request opens a new one.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);

/// HTTP connections to one API base URL.
pub struct Transport {
    endpoint: Endpoint,
    idle: Mutex<Idle>,
    /// Each request's deadline, and the PING timeout.
    timeout: Duration,
    /// How often HTTP/2 connections are PINGed ([`KEEPALIVE_INTERVAL`]).
    keepalive: Duration,
    /// Request timeouts since the last answer (see [`TIMEOUTS_BEFORE_RECONNECT`]).
    timeouts_in_a_row: AtomicU32,
    /// Held while opening a connection that may be HTTP/2, so a burst of requests
    /// shares one connection instead of each opening its own.
    opening: tokio::sync::Mutex<()>,
    /// HTTP/1.1 connections kept open at most (the store's max_concurrency).
    max_idle: usize,
}

impl Transport {
    /// A transport that trusts the Mozilla roots (`webpki-roots`) on `https`; each request
    /// gets `timeout`.
    pub fn new(
        base: &url::Url,
        version: HttpVersion,
        max_idle: usize,
        timeout: Duration,
    ) -> Result<Self, SetupError> {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        Self::with_roots(base, version, max_idle, timeout, roots)
    }

    fn with_roots(
        base: &url::Url,
        version: HttpVersion,
        max_idle: usize,
        timeout: Duration,
        roots: rustls::RootCertStore,
    ) -> Result<Self, SetupError> {
        let host = match base.host().ok_or(SetupError::NoHost)? {
            url::Host::Domain(name) => name.to_string(),
            url::Host::Ipv4(ip) => ip.to_string(),
            url::Host::Ipv6(ip) => ip.to_string(),
        };
        let (scheme, default_port) = match base.scheme() {
            "http" => (Scheme::HTTP, 80),
            "https" => (Scheme::HTTPS, 443),
            other => return Err(SetupError::Scheme(other.to_string())),
        };
        let host_str = base.host_str().ok_or(SetupError::NoHost)?;
        let authority = match base.port() {
            Some(port) => format!("{host_str}:{port}"),
            None => host_str.to_string(),
        };
        let authority =
            Authority::try_from(authority).map_err(|_| SetupError::ServerName(host.clone()))?;
        let host_header = HeaderValue::from_str(authority.as_str())
            .map_err(|_| SetupError::ServerName(host.clone()))?;
        let tls = (scheme == Scheme::HTTPS)
            .then(|| tls(&host, version, roots))
            .transpose()?;
        Ok(Self {
            endpoint: Endpoint {
                port: base.port().unwrap_or(default_port),
                host,
                scheme,
                authority,
                host_header,
                tls,
                version,
            },
            idle: Mutex::default(),
            timeout,
            keepalive: KEEPALIVE_INTERVAL,
            timeouts_in_a_row: AtomicU32::new(0),
            opening: tokio::sync::Mutex::new(()),
            max_idle,
        })
    }

    /// `GET path` with `headers`, within the request timeout; the body is read up to
    /// `limit` bytes.
    pub async fn get(
        &self,
        path: PathAndQuery,
        headers: HeaderMap,
        limit: usize,
    ) -> Result<Reply, TransportError> {
        match tokio::time::timeout(self.timeout, self.send(path, headers, limit)).await {
            Ok(result) => {
                self.timeouts_in_a_row.store(0, Ordering::Relaxed);
                result
            }
            Err(_) => {
                self.timed_out();
                Err(TransportError::Timeout)
            }
        }
    }

    /// Notes a timeout; after [`TIMEOUTS_BEFORE_RECONNECT`] in a row the shared HTTP/2
    /// connection leaves the pool (its streams in flight keep it until they end), so the
    /// next request opens a new one. A timed-out HTTP/1.1 request drops its connection.
    fn timed_out(&self) {
        if self.timeouts_in_a_row.fetch_add(1, Ordering::Relaxed) + 1 >= TIMEOUTS_BEFORE_RECONNECT {
            self.timeouts_in_a_row.store(0, Ordering::Relaxed);
            if self.lock_idle().h2.take().is_some() {
                tracing::debug!("API requests keep timing out; opening a new HTTP/2 connection");
            }
        }
    }

    /// Sends the request on a pooled connection or a new one. A request that never
    /// reached the wire is sent again on the next connection: every kept connection may
    /// have been closed by the server, so the attempts are bounded by the pool size.
    async fn send(
        &self,
        path: PathAndQuery,
        mut headers: HeaderMap,
        limit: usize,
    ) -> Result<Reply, TransportError> {
        let attempts = self.max_idle + 2;
        for _ in 0..attempts {
            let (conn, reused) = match self.take_idle() {
                Some(conn) => (conn, true),
                // Boxed: opening (TLS state included) is rare and would make every
                // request's future several KiB larger, copied on each poll's start.
                None => (Box::pin(self.checkout_new()).await?, false),
            };
            let sent = match conn {
                Conn::H1(tx) => self.get_h1(tx, path.clone(), headers, limit).await,
                Conn::H2(h2) => {
                    let sent = self.get_h2(h2.clone(), path.clone(), headers, limit).await;
                    if sent.is_err() {
                        // It cannot open a stream (GOAWAY, reset): never hand it out again.
                        self.evict(&h2);
                    }
                    sent
                }
            };
            match sent {
                Ok(reply) => return Ok(reply),
                Err(Failed {
                    unsent: Some(unsent),
                    ..
                }) if reused => headers = unsent,
                Err(failed) => return Err(failed.error),
            }
            // A failed connection may fail again at once: let other tasks run between tries.
            tokio::task::yield_now().await;
        }
        Err(TransportError::Exhausted { attempts })
    }

    /// Removes `h2` from the pool if it is still the shared connection there.
    fn evict(&self, h2: &H2) {
        let mut idle = self.lock_idle();
        if idle.h2.as_ref().is_some_and(|pooled| pooled.is(h2)) {
            idle.h2 = None;
        }
    }

    /// The pool holds plain data (connections, flags): a panic while it was locked
    /// leaves nothing half-done that is worse than losing it, so a poisoned lock is used.
    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Idle> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// HTTP/1.1: origin-form target and `Host`; the connection goes back to the pool
    /// once the whole body is read.
    async fn get_h1(
        &self,
        mut tx: http1::SendRequest<Body>,
        path: PathAndQuery,
        mut headers: HeaderMap,
        limit: usize,
    ) -> Result<Reply, Failed> {
        headers.insert(header::HOST, self.endpoint.host_header.clone());
        let mut request = Request::new(Body::new());
        *request.uri_mut() = Uri::from(path);
        *request.headers_mut() = headers;
        if let Err(error) = tx.ready().await {
            return Err(Failed {
                unsent: Some(std::mem::take(request.headers_mut())),
                error: error.into(),
            });
        }
        let response = tx.try_send_request(request).await.map_err(|mut e| Failed {
            unsent: e
                .take_message()
                .map(|mut r| std::mem::take(r.headers_mut())),
            error: e.into_error().into(),
        })?;
        let (parts, body) = response.into_parts();
        let body = read_capped_h1(body, limit).await;
        if body.is_ok() {
            let mut idle = self.lock_idle();
            if !tx.is_closed() && idle.h1.len() < self.max_idle {
                idle.h1.push(tx);
            }
        }
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// HTTP/2: the absolute URI becomes `:scheme`, `:authority` and `:path`.
    async fn get_h2(
        &self,
        h2: H2,
        path: PathAndQuery,
        headers: HeaderMap,
        limit: usize,
    ) -> Result<Reply, Failed> {
        let mut tx = match h2.tx.ready().await {
            Ok(tx) => tx,
            Err(error) => {
                return Err(Failed {
                    unsent: Some(headers),
                    error: error.into(),
                });
            }
        };
        let mut uri = hyper::http::uri::Parts::default();
        uri.scheme = Some(self.endpoint.scheme.clone());
        uri.authority = Some(self.endpoint.authority.clone());
        uri.path_and_query = Some(path);
        let mut request = Request::new(());
        *request.uri_mut() = Uri::from_parts(uri).expect("scheme, authority and path");
        *request.headers_mut() = headers;
        *request.version_mut() = hyper::Version::HTTP_2;
        let (response, _) = tx.send_request(request, true).map_err(Failed::sent)?;
        let (parts, body) = response.await.map_err(refused_or_sent)?.into_parts();
        let body = match declared_length(&parts.headers) {
            Some(length) if length > limit as u64 => Err(BodyError::TooLarge { limit }),
            _ => read_capped_h2(body, limit).await,
        };
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// An open connection that can take a request now, if there is one.
    fn take_idle(&self) -> Option<Conn> {
        let mut idle = self.lock_idle();
        if let Some(h2) = &idle.h2 {
            if !h2.closed.load(Ordering::Acquire) {
                return Some(Conn::H2(h2.clone()));
            }
            idle.h2 = None;
        }
        while let Some(h1) = idle.h1.pop() {
            if !h1.is_closed() {
                return Some(Conn::H1(h1));
            }
        }
        None
    }

    /// A new connection; one at a time while it may be HTTP/2, to be shared.
    async fn checkout_new(&self) -> Result<Conn, TransportError> {
        if !self.may_be_h2() {
            return self.open().await;
        }
        let _one_at_a_time = self.opening.lock().await;
        match self.take_idle() {
            Some(conn) => Ok(conn),
            None => self.open().await,
        }
    }

    fn may_be_h2(&self) -> bool {
        match self.endpoint.version {
            HttpVersion::Http1 => false,
            HttpVersion::Http2 => true,
            HttpVersion::Auto => self.endpoint.tls.is_some() && !self.lock_idle().speaks_h1,
        }
    }

    async fn open(&self) -> Result<Conn, TransportError> {
        let tcp = self.connect_tcp().await?;
        // `http2` is HTTP/2 whatever ALPN says (prior knowledge, as on plain http).
        let prior_knowledge = self.endpoint.version == HttpVersion::Http2;
        let Some(tls) = &self.endpoint.tls else {
            return self.handshake(tcp, prior_knowledge).await;
        };
        let stream = tls
            .connector
            .connect(tls.server_name.clone(), tcp)
            .await
            .map_err(|source| TransportError::Tls {
                host: self.endpoint.host.clone(),
                source,
            })?;
        let h2 = prior_knowledge || stream.get_ref().1.alpn_protocol() == Some(b"h2");
        if !h2 {
            self.lock_idle().speaks_h1 = true;
        }
        self.handshake(stream, h2).await
    }

    /// Resolves the host (the system resolver, off the async thread) and connects to
    /// the first address that answers.
    async fn connect_tcp(&self) -> Result<TcpStream, TransportError> {
        let host = &self.endpoint.host;
        let addrs = tokio::net::lookup_host((host.as_str(), self.endpoint.port))
            .await
            .map_err(|source| TransportError::Resolve {
                host: host.clone(),
                source,
            })?;
        let mut last = TransportError::NoAddress { host: host.clone() };
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    // Requests are small and answered at once: do not wait to coalesce.
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Err(source) => last = TransportError::Connect { addr, source },
            }
        }
        Err(last)
    }

    /// HTTP over a connected stream; the connection runs as its own task.
    async fn handshake<S>(&self, stream: S, h2: bool) -> Result<Conn, TransportError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        if h2 {
            let (tx, conn) = h2::client::Builder::new()
                .enable_push(false)
                .max_header_list_size(MAX_HEADER_LIST_BYTES)
                .handshake(stream)
                .await?;
            let h2 = H2 {
                tx,
                closed: Arc::new(AtomicBool::new(false)),
            };
            let keepalive = KeepAlive {
                interval: self.keepalive,
                timeout: self.timeout,
            };
            tokio::spawn(drive_h2(conn, h2.clone(), keepalive));
            self.lock_idle().h2 = Some(h2.clone());
            Ok(Conn::H2(h2))
        } else {
            let (tx, conn) = http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(drive(conn));
            Ok(Conn::H1(tx))
        }
    }
}

/// An answer's error: a stream the server did not process is [`TransportError::Refused`].
fn refused_or_sent(error: h2::Error) -> Failed {
    let unprocessed = error.reason() == Some(h2::Reason::REFUSED_STREAM)
        || (error.is_go_away() && error.is_remote());
    Failed::sent(if unprocessed {
        TransportError::Refused(error)
    } else {
        TransportError::H2(error)
    })
}

/// Runs an HTTP/2 connection until it closes or misses a PING answer; then marks it
/// closed so that the pool drops it.
async fn drive_h2<S>(mut conn: h2::client::Connection<S, Bytes>, h2: H2, keepalive: KeepAlive)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let ping_timeout = keepalive.timeout;
    let keepalive = conn.ping_pong().map(|pings| keepalive.run(pings));
    let keepalive = async move {
        match keepalive {
            Some(pings) => pings.await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        result = &mut conn => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "API connection closed");
            }
        }
        () = keepalive => tracing::warn!(
            timeout_ms = ping_timeout.as_millis() as u64,
            "API connection answered no HTTP/2 PING; closing it"
        ),
    }
    h2.closed.store(true, Ordering::Release);
}

/// HTTP/2 keep-alive: a PING every `interval`, answered within `timeout`.
struct KeepAlive {
    interval: Duration,
    timeout: Duration,
}

impl KeepAlive {
    /// Resolves when a PING goes unanswered for `timeout`. A PING that cannot be sent
    /// means the connection is closing, which its own future reports.
    async fn run(self, mut pings: h2::PingPong) {
        loop {
            tokio::time::sleep(self.interval).await;
            match tokio::time::timeout(self.timeout, pings.ping(h2::Ping::opaque())).await {
                Ok(Ok(_pong)) => {}
                Ok(Err(_)) => std::future::pending().await,
                Err(_) => return,
            }
        }
    }
}

/// Runs a connection until it closes; its errors reach the requests on it.
async fn drive<C: Future<Output = Result<(), E>>, E: std::fmt::Display>(conn: C) {
    if let Err(e) = conn.await {
        tracing::debug!(error = %e, "API connection closed");
    }
}

/// TLS trusting `roots`, offering HTTP/2 by ALPN unless `http1` is set.
fn tls(host: &str, version: HttpVersion, roots: rustls::RootCertStore) -> Result<Tls, SetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = match version {
        HttpVersion::Auto => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        HttpVersion::Http1 => vec![b"http/1.1".to_vec()],
        HttpVersion::Http2 => vec![b"h2".to_vec()],
    };
    let server_name =
        ServerName::try_from(host.to_string()).map_err(|_| SetupError::ServerName(host.into()))?;
    Ok(Tls {
        connector: TlsConnector::from(Arc::new(config)),
        server_name,
    })
}

/// The most response header bytes taken over HTTP/2 (HTTP/1.1 has hyper's own cap).
const MAX_HEADER_LIST_BYTES: u32 = 64 * 1024;

/// `Content-Length`, when the answer declares one.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Appends a chunk unless the body would pass `limit`.
fn append_capped(out: &mut Vec<u8>, chunk: &[u8], limit: usize) -> Result<(), BodyError> {
    if out.len() + chunk.len() > limit {
        return Err(BodyError::TooLarge { limit });
    }
    out.extend_from_slice(chunk);
    Ok(())
}

/// The whole HTTP/1.1 body, refused as soon as it would pass `limit` (a declared length
/// is checked before reading).
async fn read_capped_h1(mut body: Incoming, limit: usize) -> Result<Vec<u8>, BodyError> {
    let hint = body.size_hint();
    if hint.lower() > limit as u64 {
        return Err(BodyError::TooLarge { limit });
    }
    let mut out = Vec::with_capacity(hint.exact().map_or(0, |n| n as usize));
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            append_capped(&mut out, &data, limit)?;
        }
    }
    Ok(out)
}

/// The whole HTTP/2 body, refused as soon as it would pass `limit`; what is read is
/// given back to the connection's flow-control window.
async fn read_capped_h2(mut body: h2::RecvStream, limit: usize) -> Result<Vec<u8>, BodyError> {
    let mut out = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        body.flow_control().release_capacity(chunk.len())?;
        append_capped(&mut out, &chunk, limit)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
