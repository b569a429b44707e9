use std::sync::atomic::{AtomicUsize, Ordering};

use hyper::http::Response;
use hyper::service::service_fn;
use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use std::time::Duration;

use super::*;

/// A request timeout long enough never to fire in these tests.
const T: Duration = Duration::from_secs(30);

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
        let _ =
            tokio::time::timeout(life, builder.serve_connection(TokioIo::new(io), service)).await;
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
    accepting(move |_, stream| {
        let service = service_fn(move |_req| async move {
            Ok::<_, std::convert::Infallible>(Response::new(http_body_util::Full::new(
                Bytes::from_static(body.as_bytes()),
            )))
        });
        serve(stream, life, service);
    })
    .await
}

/// A loopback listener that hands connection `n` (0 for the first) to `take`, forever;
/// counts the connections it accepted.
async fn accepting(
    mut take: impl FnMut(usize, TcpStream) + Send + 'static,
) -> (url::Url, Arc<AtomicUsize>) {
    let (listener, url) = listen().await;
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            take(count.fetch_add(1, Ordering::SeqCst), stream);
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
    let t = Transport::new(&url, HttpVersion::Http2, 8, T).unwrap();
    concurrent_gets(&t, 50).await;
    concurrent_gets(&t, 50).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_lost_http2_connection_is_reopened() {
    let (url, accepted) = counting_server_dropping_after("ok", Duration::from_millis(30)).await;
    let t = Transport::new(&url, HttpVersion::Http2, 8, T).unwrap();
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
                        Ok::<_, std::convert::Infallible>(Response::new(http_body_util::Full::new(
                            Bytes::from_static(b"ok"),
                        )))
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
        let t = Transport::with_roots(&url, version, 8, T, roots).unwrap();
        concurrent_gets(&t, 10).await;
        let seen = versions.lock().unwrap().clone();
        assert_eq!(seen, vec![expected; 10], "{version:?} against {offered:?}");
    }
}

#[tokio::test]
async fn an_untrusted_certificate_fails_the_handshake() {
    let (url, _, _) = tls_server(&[b"h2"]).await;
    let t = Transport::new(&url, HttpVersion::Auto, 8, T).unwrap();
    let error = get(&t, 1024).await.err().expect("refused");
    assert!(matches!(error, TransportError::Tls { .. }), "{error}");
}

#[tokio::test]
async fn http1_connections_are_kept_and_reused() {
    let (url, accepted) = counting_server("ok").await;
    let t = Transport::new(&url, HttpVersion::Http1, 8, T).unwrap();
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
        let t = Transport::new(url, version, 8, T).unwrap();
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
                    Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(Bytes::from_static(
                        &[b'x'; 1024],
                    )))
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
    let t = Transport::new(&url, HttpVersion::Http1, 8, T).unwrap();
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
        let t = Transport::new(&url.parse().unwrap(), HttpVersion::Auto, 1, T).unwrap();
        let e = &t.endpoint;
        assert_eq!((e.host.as_str(), e.port), (host, port), "{url}");
        assert_eq!(e.authority.as_str(), authority, "{url}");
        assert_eq!(e.host_header, authority, "{url}");
    }
    assert!(matches!(
        Transport::new(&"ftp://x/".parse().unwrap(), HttpVersion::Auto, 1, T),
        Err(SetupError::Scheme(_))
    ));
}

type H2Server = h2::server::Connection<TcpStream, Bytes>;

/// An h2c server on loopback: connection `n` (0 for the first) is served by
/// `serve(n, connection)`. Counts the connections it accepted.
async fn h2c_server<F, Fut>(serve: F) -> (url::Url, Arc<AtomicUsize>)
where
    F: Fn(usize, H2Server) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let serve = Arc::new(serve);
    accepting(move |n, stream| {
        let serve = Arc::clone(&serve);
        tokio::spawn(async move {
            if let Ok(conn) = h2::server::handshake(stream).await {
                serve(n, conn).await;
            }
        });
    })
    .await
}

/// Answers a stream "ok" after `delay`.
fn answer_ok(mut respond: h2::server::SendResponse<Bytes>, delay: Duration) {
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        if let Ok(mut body) = respond.send_response(Response::new(()), false) {
            let _ = body.send_data(Bytes::from_static(b"ok"), true);
        }
    });
}

/// An h2c server whose first connection starts a graceful shutdown (GOAWAY) as soon as
/// its first stream arrives, as nginx does after `keepalive_requests`, and holds that
/// stream's answer for `hold`; every other stream is answered at once.
async fn goaway_server(hold: Duration) -> (url::Url, Arc<AtomicUsize>) {
    h2c_server(move |n, mut conn| async move {
        let mut going_away = n == 0;
        while let Some(Ok((_request, respond))) = conn.accept().await {
            let delay = if std::mem::take(&mut going_away) {
                conn.graceful_shutdown();
                hold
            } else {
                Duration::ZERO
            };
            answer_ok(respond, delay);
        }
    })
    .await
}

/// Runs `test` on a current-thread runtime of its own thread (the exporter's runtime), so
/// a transport that never yields fails the test instead of hanging it.
fn on_own_runtime<T: Send + 'static>(
    limit: Duration,
    test: impl Future<Output = T> + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _ = tx.send(runtime.block_on(test));
    });
    rx.recv_timeout(limit)
        .expect("the runtime froze: the test did not finish")
}

/// GOAWAY while a stream is in flight: the connection can open no new stream, yet stays
/// open for the held answer. Requests after it must go out on a new connection (the
/// runtime must not spin on the old one), and the held answer must still arrive.
#[test]
fn a_goaway_with_a_stream_in_flight_does_not_freeze_the_runtime() {
    let (others, held, accepted) = on_own_runtime(Duration::from_secs(30), async {
        let (url, accepted) = goaway_server(Duration::from_secs(2)).await;
        let t = Arc::new(Transport::new(&url, HttpVersion::Http2, 8, T).unwrap());
        let first = tokio::spawn({
            let t = Arc::clone(&t);
            async move { get(&t, 1024).await.map(|r| r.body) }
        });
        // The first stream reaches the server, which answers it with GOAWAY.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut others = Vec::new();
        for _ in 0..5 {
            let reply = get(&t, 1024).await.map(|r| r.body.unwrap());
            others.push((reply.unwrap(), first.is_finished()));
        }
        let held = first.await.unwrap().unwrap().unwrap();
        (others, held, accepted.load(Ordering::SeqCst))
    });
    for (body, held_done) in others {
        assert_eq!(body, b"ok");
        assert!(!held_done, "later requests waited for the held answer");
    }
    assert_eq!(held, b"ok", "the held answer is still read");
    assert_eq!(
        accepted, 2,
        "one new connection replaces the one going away"
    );
}

/// An h2c server whose first connection answers `answered` streams and then goes silent
/// (reads nothing, answers nothing, not even PINGs: a black-holed peer) while keeping
/// the TCP connection open; later connections answer every stream.
async fn black_hole_server(answered: usize) -> (url::Url, Arc<AtomicUsize>) {
    h2c_server(move |n, mut conn| async move {
        let limit = if n == 0 { answered } else { usize::MAX };
        for _ in 0..limit {
            let Some(Ok((_request, respond))) = conn.accept().await else {
                return;
            };
            answer_ok(respond, Duration::ZERO);
        }
        // Flush the last answer, then hold the connection without polling it.
        let _ = tokio::time::timeout(Duration::from_millis(50), conn.accept()).await;
        std::future::pending::<()>().await;
        drop(conn);
    })
    .await
}

/// What each of `n` sequential requests got: its body, or the error's text.
async fn sequential_gets(t: &Transport, n: usize) -> Vec<Result<Vec<u8>, String>> {
    let mut results = Vec::new();
    for _ in 0..n {
        let reply = get(t, 1024).await;
        results.push(reply.map(|r| r.body.unwrap()).map_err(|e| e.to_string()));
    }
    results
}

/// A peer that stops answering makes requests time out; after
/// [`TIMEOUTS_BEFORE_RECONNECT`] in a row the next one goes out on a new connection, so at
/// most that many polls are lost (a new connection within 3 x request_timeout).
#[tokio::test]
async fn a_silent_http2_peer_is_replaced_after_timeouts_in_a_row() {
    let (url, accepted) = black_hole_server(3).await;
    let t = Transport::new(&url, HttpVersion::Http2, 8, Duration::from_millis(300)).unwrap();
    let ok = Ok(b"ok".to_vec());
    let timeout = Err(TransportError::Timeout.to_string());
    assert_eq!(
        sequential_gets(&t, 7).await,
        [
            ok.clone(),
            ok.clone(),
            ok.clone(),
            timeout.clone(),
            timeout,
            ok.clone(),
            ok
        ]
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

/// An idle connection whose peer went silent is found dead by its PINGs: the next request
/// opens a new connection at once instead of timing out on the dead one.
#[tokio::test]
async fn an_idle_http2_connection_without_ping_answers_is_closed() {
    let (url, accepted) = black_hole_server(1).await;
    let mut t = Transport::new(&url, HttpVersion::Http2, 8, Duration::from_millis(300)).unwrap();
    t.keepalive = Duration::from_millis(100);
    assert_eq!(sequential_gets(&t, 1).await, [Ok(b"ok".to_vec())]);
    // One PING interval and one PING timeout, with room to spare.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        sequential_gets(&t, 2).await,
        [Ok(b"ok".to_vec()), Ok(b"ok".to_vec())]
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}
