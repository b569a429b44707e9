//! Connecting to the state database: TLS as the URL's `sslmode` says (rustls on ring:
//! `verify-full` checks the certificate against `sslrootcert` or the Mozilla roots and
//! the host name; `require` encrypts without checking; `disable` is plain TCP), and the
//! session the store works on, with its statements prepared once.

use std::sync::Arc;
use std::time::Duration;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_postgres::config::SslMode as PgSslMode;
use tokio_postgres::{Client, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::{SslMode, StateDatabase, read_root_cert};
use crate::state::store::KEEP_FINAL;

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What every connection of a store is made with.
pub struct Connector {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
}

impl Connector {
    /// The settings of `db`; `Err` when its `sslrootcert` cannot be read now.
    pub fn new(db: &StateDatabase) -> Result<Connector, String> {
        let mut config = db.url.connect_config(&db.password);
        config.connect_timeout(CONNECT_TIMEOUT);
        if config.get_application_name().is_none() {
            config.application_name("allscale-exporter");
        }
        config.ssl_mode(match db.url.sslmode {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Require | SslMode::VerifyFull => PgSslMode::Require,
        });
        let tls = MakeRustlsConnect::new(tls_config(db)?);
        Ok(Connector { config, tls })
    }

    /// A new connection, driven on the current (the store's) runtime until it closes.
    pub async fn connect(&self) -> Result<Client, tokio_postgres::Error> {
        let (client, connection) = self.config.connect(self.tls.clone()).await?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "state database connection closed");
            }
        });
        Ok(client)
    }
}

/// The rustls client config for `sslmode` (unused with `disable`).
fn tls_config(db: &StateDatabase) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algorithms = provider.signature_verification_algorithms;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let config = match db.url.sslmode {
        SslMode::Require | SslMode::Disable => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unchecked(algorithms)))
            .with_no_client_auth(),
        SslMode::VerifyFull => {
            let mut roots = rustls::RootCertStore::empty();
            match &db.url.root_cert {
                Some(file) => {
                    for cert in read_root_cert(file)? {
                        roots.add(cert).map_err(|e| format!("sslrootcert: {e}"))?;
                    }
                }
                None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    Ok(config)
}

/// `sslmode=require`: any certificate is taken (libpq's meaning: encrypted, not
/// authenticated); the handshake's signatures are still checked.
#[derive(Debug)]
struct Unchecked(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// The statements a batch runs, prepared once per connection.
pub(super) struct Statements {
    pub store_id: Statement,
    pub upsert_intents: Statement,
    pub delete_intents: Statement,
    pub counter: Statement,
    pub money: Statement,
    pub seen: Statement,
    pub queued: Statement,
    pub delivered: Statement,
    pub forget_seen: Statement,
    pub delete_stores: Statement,
}

impl Statements {
    pub(super) async fn prepare(client: &Client) -> Result<Statements, tokio_postgres::Error> {
        use super::rows::{COLUMN_ARRAYS, COLUMNS};
        let updates: Vec<String> = COLUMNS
            .split(", ")
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        let upsert = format!(
            "INSERT INTO intents (store, id, {COLUMNS}, updated_by) \
             SELECT $1, u.*, $2 FROM unnest({COLUMN_ARRAYS}) AS u \
             ON CONFLICT (store, id) DO UPDATE SET {}, updated_by = excluded.updated_by, \
             updated_at = now() WHERE {KEEP_FINAL}",
            updates.join(", ")
        );
        Ok(Statements {
            store_id: client
                .prepare(
                    "INSERT INTO stores (name) VALUES ($1) \
                     ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id",
                )
                .await?,
            upsert_intents: client.prepare(&upsert).await?,
            delete_intents: client
                .prepare("DELETE FROM intents WHERE store = $1 AND id = ANY($2::text[])")
                .await?,
            counter: client
                .prepare(
                    "INSERT INTO counters (store, replica, name, label, value) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (store, replica, name, label) \
                     DO UPDATE SET value = excluded.value",
                )
                .await?,
            money: client
                .prepare(
                    "INSERT INTO money (store, replica, name, outcome, symbol, chain, value) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7::text::numeric) \
                     ON CONFLICT (store, replica, name, outcome, symbol, chain) \
                     DO UPDATE SET value = excluded.value",
                )
                .await?,
            seen: client
                .prepare(
                    "INSERT INTO webhook_seen (store, kind, value, seen_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (store, kind, value) \
                     DO UPDATE SET seen_at = excluded.seen_at",
                )
                .await?,
            queued: client
                .prepare(
                    "INSERT INTO webhook_queue (store, seq, webhook_id, intent_id, \
                     received_at, path_and_query, headers, body, queued_by) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (store, queued_by, seq) \
                     DO UPDATE SET webhook_id = excluded.webhook_id, \
                     intent_id = excluded.intent_id, received_at = excluded.received_at, \
                     path_and_query = excluded.path_and_query, headers = excluded.headers, \
                     body = excluded.body",
                )
                .await?,
            delivered: client
                .prepare(
                    "DELETE FROM webhook_queue WHERE store = $1 AND queued_by = $2 AND seq = $3",
                )
                .await?,
            forget_seen: client
                .prepare(
                    "DELETE FROM webhook_seen WHERE store = $1 AND \
                     ((kind = 'nonce' AND seen_at < $2) OR (kind = 'id' AND seen_at < $3))",
                )
                .await?,
            delete_stores: client
                .prepare("DELETE FROM stores WHERE NOT (name = ANY($1::text[]))")
                .await?,
        })
    }
}
