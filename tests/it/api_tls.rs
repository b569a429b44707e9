//! An https `base_url` whose certificate the exporter does not trust: every request is a
//! `connect_error`, the store is down, no status is invented, the failure is logged once
//! with its reason, and another store in the same config keeps working.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use allscale_exporter::simulator::{Scenario, Simulator};
use common::processes::ExporterProcess;
use common::tls::Leaf;
use common::{get, scrape, wait_for};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

const GOOD_INTENT: &str = "68000000000000000000a001";
const TLS_INTENT: &str = "68000000000000000000b001";

/// A loopback HTTPS server with a certificate from an unknown CA; counts handshake attempts.
async fn untrusted_https_server() -> (u16, Arc<AtomicUsize>) {
    let leaf = Leaf::untrusted("127.0.0.1");
    let chain = vec![CertificateDer::from_pem_slice(leaf.cert_pem.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let attempts = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&attempts);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            // The client aborts the handshake; nothing is ever served.
            tokio::spawn(async move { acceptor.accept(tcp).await.is_ok() });
        }
    });
    (port, attempts)
}

/// The plain-HTTP simulator, with one intent that reaches `confirmed`.
async fn healthy_api() -> String {
    let scenario = Scenario::from_yaml_str(&format!(
        "keys:\n  - api_key: st_key\n    api_secret: st_secret\n\
         intents:\n  - id: {GOOD_INTENT}\n    key: st_key\n    lifecycle: [1, 20]\n    step: 200ms\n"
    ))
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(Simulator::new(scenario).serve(listener, std::future::pending()));
    base
}

fn store(name: &str, base_url: &str, secret: &std::path::Path, intent: &str) -> String {
    format!(
        "  - name: {name}\n    base_url: {base_url}\n    api_key: st_key\n    api_secret_file: {}\n    intents: [{intent}]\n",
        secret.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_api_certificate_is_a_connect_error_and_other_stores_keep_working() {
    let (tls_port, handshakes) = untrusted_https_server().await;
    let good_base = healthy_api().await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("api_secret");
    std::fs::write(&secret, "st_secret").unwrap();
    let config = dir.path().join("config.yaml");
    let yaml = format!(
        "poll_interval: 300ms\nrequest_timeout: 3s\nstores:\n{}{}",
        store("main", &good_base, &secret, GOOD_INTENT),
        store(
            "bad-tls",
            &format!("https://127.0.0.1:{tls_port}"),
            &secret,
            TLS_INTENT
        ),
    );
    std::fs::write(&config, yaml).unwrap();
    let exporter = ExporterProcess::start(&config, &[]);

    let tls_errors = |m: &common::Metrics| {
        m.sum(
            "allscale_api_requests_total",
            &[("store", "bad-tls"), ("result", "connect_error")],
        )
    };
    let m = wait_for(
        Duration::from_secs(20),
        "the good store to finish and the TLS store to fail repeatedly",
        || async {
            let m = scrape(exporter.addr).await;
            (m.status(GOOD_INTENT) == Some(20.0) && tls_errors(&m) >= 3.0).then_some(m)
        },
    )
    .await;
    assert!(
        handshakes.load(Ordering::SeqCst) >= 3,
        "no TLS handshake seen"
    );
    let bad = [("store", "bad-tls")];
    assert_eq!(m.value("allscale_api_up", &bad), 0.0);
    assert_eq!(m.value("allscale_api_up", &[("store", "main")]), 1.0);
    let bad_requests = m.sum("allscale_api_requests_total", &bad);
    assert_eq!(
        bad_requests,
        tls_errors(&m),
        "every request is a connect_error"
    );
    let status = m.get(
        "allscale_checkout_intent_status",
        &[("store", "bad-tls"), ("intent_id", TLS_INTENT)],
    );
    assert_eq!(status, None, "no status without an answer");
    assert_eq!(
        m.sum("allscale_checkout_intents", &bad),
        0.0,
        "counted under no status"
    );

    let logs = exporter.logs();
    let failures: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("status poll failed") && l.contains(TLS_INTENT))
        .collect();
    assert_eq!(failures.len(), 1, "logged once per intent:\n{logs}");
    assert!(
        failures[0].contains("connect_error") && failures[0].contains("certificate"),
        "the log says why: {}",
        failures[0]
    );
    assert_eq!(get(exporter.addr, "/healthz").await.0, 200);
    exporter.terminate();
}
