//! The API client's HTTP transport: connections opened on demand and kept open, either
//! one shared HTTP/2 connection (the `h2` crate) or a pool of HTTP/1.1 keep-alive ones
//! (hyper's client connections).
//!
//! Not reqwest: a poll is one tiny GET, and reqwest's layers around hyper (URL
//! re-parsing, redirect and retry services, pool hand-off) cost about 1.5x hyper's own
//! client per request, which was most of the exporter's CPU at 100k intents. For
//! HTTP/2, hyper itself adds a task, a channel and a oneshot per request over `h2`,
//! which it is built on; driving `h2` directly saves those (README, Performance).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

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

use crate::config::HttpVersion;

type Body = Empty<Bytes>;

/// Setting up the transport failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("base_url has no host")]
    NoHost,
    #[error("base_url scheme must be http or https, not {0:?}")]
    Scheme(String),
    #[error("invalid TLS server name {0:?}")]
    ServerName(String),
    #[error("TLS set-up: {0}")]
    Tls(#[from] rustls::Error),
}

/// A request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        host: String,
        source: std::io::Error,
    },
    #[error("{host} resolved to no address")]
    NoAddress { host: String },
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS handshake with {host}: {source}")]
    Tls {
        host: String,
        source: std::io::Error,
    },
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("HTTP/2: {0}")]
    H2(#[from] h2::Error),
}

/// Why an answer's body was not read whole.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("body larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("reading the body: {0}")]
    Read(#[from] hyper::Error),
    #[error("reading the body: {0}")]
    ReadH2(#[from] h2::Error),
}

/// An answer: status, headers and the body (read up to the cap).
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
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

/// HTTP connections to one API base URL.
pub struct Transport {
    endpoint: Endpoint,
    idle: Mutex<Idle>,
    /// Held while opening a connection that may be HTTP/2, so a burst of requests
    /// shares one connection instead of each opening its own.
    opening: tokio::sync::Mutex<()>,
    /// HTTP/1.1 connections kept open at most (the store's max_concurrency).
    max_idle: usize,
}

impl Transport {
    /// A transport that trusts the Mozilla roots (`webpki-roots`) on `https`.
    pub fn new(base: &url::Url, version: HttpVersion, max_idle: usize) -> Result<Self, SetupError> {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        Self::with_roots(base, version, max_idle, roots)
    }

    fn with_roots(
        base: &url::Url,
        version: HttpVersion,
        max_idle: usize,
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
            opening: tokio::sync::Mutex::new(()),
            max_idle,
        })
    }

    /// `GET path` with `headers`; the body is read up to `limit` bytes.
    pub async fn get(
        &self,
        path: PathAndQuery,
        mut headers: HeaderMap,
        limit: usize,
    ) -> Result<Reply, TransportError> {
        loop {
            let (conn, reused) = match self.take_idle() {
                Some(conn) => (conn, true),
                // Boxed: opening (TLS state included) is rare and would make every
                // request's future several KiB larger, copied on each poll's start.
                None => (Box::pin(self.checkout_new()).await?, false),
            };
            let sent = match conn {
                Conn::H1(tx) => self.get_h1(tx, path.clone(), headers, limit).await,
                Conn::H2(h2) => self.get_h2(h2, path.clone(), headers, limit).await,
            };
            match sent {
                Ok(reply) => return Ok(reply),
                // A kept-alive connection the server had closed: try the next one.
                Err(Failed {
                    unsent: Some(unsent),
                    ..
                }) if reused => headers = unsent,
                Err(failed) => return Err(failed.error),
            }
        }
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
            let mut idle = self.idle.lock().expect("idle pool lock");
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
        let (parts, body) = response.await.map_err(Failed::sent)?.into_parts();
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
        let mut idle = self.idle.lock().expect("idle pool lock");
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
            HttpVersion::Auto => {
                self.endpoint.tls.is_some() && !self.idle.lock().expect("idle pool lock").speaks_h1
            }
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
            self.idle.lock().expect("idle pool lock").speaks_h1 = true;
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
            let closed = Arc::new(AtomicBool::new(false));
            let flag = Arc::clone(&closed);
            tokio::spawn(async move {
                drive(conn).await;
                flag.store(true, Ordering::Release);
            });
            let h2 = H2 { tx, closed };
            self.idle.lock().expect("idle pool lock").h2 = Some(h2.clone());
            Ok(Conn::H2(h2))
        } else {
            let (tx, conn) = http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(drive(conn));
            Ok(Conn::H1(tx))
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
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use hyper::http::Response;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioExecutor;
    use hyper_util::server::conn::auto;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use std::time::Duration;

    use super::*;

    /// A loopback listener and its `http://` URL.
    async fn listen() -> (TcpListener, url::Url) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        (listener, url.parse().unwrap())
    }

    /// Serves one connection (HTTP/1.1 or HTTP/2, as the client starts it) with
    /// `service`, dropping it after `life`.
    fn serve<I, B>(
        io: I,
        life: Duration,
        service: impl hyper::service::Service<
            Request<Incoming>,
            Response = Response<B>,
            Error = std::convert::Infallible,
            Future: Send + 'static,
        > + Send
        + 'static,
    ) where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        B: hyper::body::Body<Data = Bytes, Error = std::convert::Infallible> + Send + 'static,
    {
        tokio::spawn(async move {
            let builder = auto::Builder::new(TokioExecutor::new());
            let _ = tokio::time::timeout(life, builder.serve_connection(TokioIo::new(io), service))
                .await;
        });
    }

    /// A loopback server answering `body` to every request (HTTP/1.1 or h2c); counts
    /// the connections it accepted.
    async fn counting_server(body: &'static str) -> (url::Url, Arc<AtomicUsize>) {
        counting_server_dropping_after(body, Duration::MAX).await
    }

    /// [`counting_server`] that drops each connection `life` after accepting it.
    async fn counting_server_dropping_after(
        body: &'static str,
        life: Duration,
    ) -> (url::Url, Arc<AtomicUsize>) {
        let (listener, url) = listen().await;
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                count.fetch_add(1, Ordering::SeqCst);
                let service = service_fn(move |_req| async move {
                    Ok::<_, std::convert::Infallible>(Response::new(http_body_util::Full::new(
                        Bytes::from_static(body.as_bytes()),
                    )))
                });
                serve(stream, life, service);
            }
        });
        (url, accepted)
    }

    async fn get(t: &Transport, limit: usize) -> Result<Reply, TransportError> {
        t.get(PathAndQuery::from_static("/x"), HeaderMap::new(), limit)
            .await
    }

    async fn concurrent_gets(t: &Transport, n: usize) {
        let replies = futures_util::future::join_all((0..n).map(|_| get(t, 1024))).await;
        for reply in replies {
            let reply = reply.unwrap();
            assert_eq!(reply.status, StatusCode::OK);
            assert_eq!(reply.body.unwrap(), b"ok");
        }
    }

    #[tokio::test]
    async fn http2_requests_share_one_connection() {
        let (url, accepted) = counting_server("ok").await;
        let t = Transport::new(&url, HttpVersion::Http2, 8).unwrap();
        concurrent_gets(&t, 50).await;
        concurrent_gets(&t, 50).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_lost_http2_connection_is_reopened() {
        let (url, accepted) = counting_server_dropping_after("ok", Duration::from_millis(30)).await;
        let t = Transport::new(&url, HttpVersion::Http2, 8).unwrap();
        for _ in 0..3 {
            concurrent_gets(&t, 10).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }

    /// An https server (throwaway CA) offering `alpn`; answers "ok" and tallies the HTTP
    /// versions of the requests it served.
    async fn tls_server(
        alpn: &[&[u8]],
    ) -> (
        url::Url,
        rustls::RootCertStore,
        Arc<Mutex<Vec<hyper::Version>>>,
    ) {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.der().clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
            )
            .unwrap();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let (listener, mut url) = listen().await;
        url.set_scheme("https").unwrap();
        let versions = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&versions);
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let (acceptor, seen) = (acceptor.clone(), Arc::clone(&seen));
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = service_fn(move |req: Request<Incoming>| {
                        seen.lock().unwrap().push(req.version());
                        async {
                            Ok::<_, std::convert::Infallible>(Response::new(
                                http_body_util::Full::new(Bytes::from_static(b"ok")),
                            ))
                        }
                    });
                    serve(stream, Duration::MAX, service);
                });
            }
        });
        (url, roots, versions)
    }

    /// On https, `auto` takes HTTP/2 when the server offers it and HTTP/1.1 when not;
    /// `http1` never asks for HTTP/2.
    #[tokio::test]
    async fn https_negotiates_the_protocol_by_alpn() {
        let both: &[&[u8]] = &[b"h2", b"http/1.1"];
        let h1_only: &[&[u8]] = &[b"http/1.1"];
        for (offered, version, expected) in [
            (both, HttpVersion::Auto, hyper::Version::HTTP_2),
            (h1_only, HttpVersion::Auto, hyper::Version::HTTP_11),
            (both, HttpVersion::Http1, hyper::Version::HTTP_11),
            (both, HttpVersion::Http2, hyper::Version::HTTP_2),
            (&[], HttpVersion::Http2, hyper::Version::HTTP_2),
        ] {
            let (url, roots, versions) = tls_server(offered).await;
            let t = Transport::with_roots(&url, version, 8, roots).unwrap();
            concurrent_gets(&t, 10).await;
            let seen = versions.lock().unwrap().clone();
            assert_eq!(seen, vec![expected; 10], "{version:?} against {offered:?}");
        }
    }

    #[tokio::test]
    async fn an_untrusted_certificate_fails_the_handshake() {
        let (url, _, _) = tls_server(&[b"h2"]).await;
        let t = Transport::new(&url, HttpVersion::Auto, 8).unwrap();
        let error = get(&t, 1024).await.err().expect("refused");
        assert!(matches!(error, TransportError::Tls { .. }), "{error}");
    }

    #[tokio::test]
    async fn http1_connections_are_kept_and_reused() {
        let (url, accepted) = counting_server("ok").await;
        let t = Transport::new(&url, HttpVersion::Http1, 8).unwrap();
        for _ in 0..10 {
            concurrent_gets(&t, 1).await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "sequential requests");
        for _ in 0..5 {
            concurrent_gets(&t, 8).await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 8, "8 at a time, 8 kept");
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused() {
        let (url, _) = counting_server("0123456789").await;
        assert_cap_holds(&url, b"0123456789").await;
    }

    /// On both protocols, the server's body (`expected`) is refused under a limit one byte
    /// smaller, and read whole under a limit of exactly its size.
    async fn assert_cap_holds(url: &url::Url, expected: &[u8]) {
        let size = expected.len();
        for version in [HttpVersion::Http1, HttpVersion::Http2] {
            let t = Transport::new(url, version, 8).unwrap();
            let reply = get(&t, size - 1).await.unwrap();
            assert!(
                matches!(reply.body, Err(BodyError::TooLarge { limit }) if limit == size - 1),
                "{version:?}"
            );
            let reply = get(&t, size).await.unwrap();
            assert_eq!(reply.body.unwrap(), expected, "{version:?}");
        }
    }

    /// Without a declared length the cap is enforced while reading, on both protocols.
    #[tokio::test]
    async fn streamed_bodies_are_capped_while_reading() {
        let (listener, url) = listen().await;
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let service = service_fn(|_req| async {
                    let chunks = (0..64).map(|_| {
                        Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(
                            Bytes::from_static(&[b'x'; 1024]),
                        ))
                    });
                    let body = http_body_util::StreamBody::new(futures_util::stream::iter(chunks));
                    Ok::<_, std::convert::Infallible>(Response::new(body))
                });
                serve(stream, Duration::MAX, service);
            }
        });
        assert_cap_holds(&url, &[b'x'; 64 * 1024]).await;
    }

    /// A keep-alive server that drops each connection shortly after its first answer
    /// (as a load balancer's idle timeout does): the next request must not fail.
    #[tokio::test]
    async fn a_kept_connection_the_server_closed_is_replaced() {
        let (listener, url) = listen().await;
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await;
                // Closed after the client has put the connection back as idle.
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    drop(stream);
                });
            }
        });
        let t = Transport::new(&url, HttpVersion::Http1, 8).unwrap();
        for i in 0..10 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let reply = get(&t, 1024)
                .await
                .unwrap_or_else(|e| panic!("request {i}: {e}"));
            assert_eq!(reply.body.unwrap(), b"ok");
        }
    }

    #[test]
    fn authority_keeps_a_non_default_port_only() {
        for (url, host, port, authority) in [
            (
                "https://api.example:8443/p",
                "api.example",
                8443,
                "api.example:8443",
            ),
            ("https://api.example/", "api.example", 443, "api.example"),
            ("http://[::1]:9/", "::1", 9, "[::1]:9"),
        ] {
            let t = Transport::new(&url.parse().unwrap(), HttpVersion::Auto, 1).unwrap();
            let e = &t.endpoint;
            assert_eq!((e.host.as_str(), e.port), (host, port), "{url}");
            assert_eq!(e.authority.as_str(), authority, "{url}");
            assert_eq!(e.host_header, authority, "{url}");
        }
        assert!(matches!(
            Transport::new(&"ftp://x/".parse().unwrap(), HttpVersion::Auto, 1),
            Err(SetupError::Scheme(_))
        ));
    }
}
