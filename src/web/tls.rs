//! Turns [`TlsSettings`] into a rustls server config (ring provider): certificate chain,
//! key, client-certificate policy and minimum version.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{NoClientAuth, WebPkiClientVerifier};
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};

use super::config::{ClientAuth, MinVersion, Problem, TlsSettings};

const CERT_FIELD: &str = "tls_server_config.cert_file";
const KEY_FIELD: &str = "tls_server_config.key_file";
const CA_FIELD: &str = "tls_server_config.client_ca_file";

/// Reads the files `settings` names and builds the server config.
pub fn server_config(settings: &TlsSettings) -> Result<Arc<ServerConfig>, Problem> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = read_certs(CERT_FIELD, &settings.cert_file)?;
    let key = read_key(&settings.key_file)?;
    let verifier = client_verifier(settings, &provider)?;
    let versions: &[&rustls::SupportedProtocolVersion] = match settings.min_version {
        MinVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        MinVersion::Tls13 => &[&rustls::version::TLS13],
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| Problem::invalid("tls_server_config.min_version", e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| Problem::invalid(KEY_FIELD, format!("does not fit {CERT_FIELD} ({e})")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read_file(field: &'static str, path: &Path) -> Result<Vec<u8>, Problem> {
    std::fs::read(path).map_err(|error| Problem::ReadFile {
        field,
        path: path.to_path_buf(),
        error,
    })
}

fn read_certs(field: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, Problem> {
    let pem = read_file(field, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Problem::invalid(field, format!("{}: bad PEM: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(Problem::invalid(
            field,
            format!("{}: no CERTIFICATE block", path.display()),
        ));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, Problem> {
    let pem = read_file(KEY_FIELD, path)?;
    // The message of a PEM error names the section kind only, never key material.
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        Problem::invalid(
            KEY_FIELD,
            format!("{}: no usable private key ({e})", path.display()),
        )
    })
}

fn client_verifier(
    settings: &TlsSettings,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, Problem> {
    let any = |mandatory| -> Arc<dyn ClientCertVerifier> {
        Arc::new(AnyClientCert {
            mandatory,
            algorithms: provider.signature_verification_algorithms,
        })
    };
    Ok(match settings.client_auth {
        ClientAuth::NoClientCert => Arc::new(NoClientAuth),
        ClientAuth::RequestClientCert => any(false),
        ClientAuth::RequireAnyClientCert => any(true),
        ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert => {
            let path = settings
                .client_ca_file
                .as_deref()
                .ok_or_else(|| Problem::invalid(CA_FIELD, "required"))?;
            let mut roots = RootCertStore::empty();
            for cert in read_certs(CA_FIELD, path)? {
                roots
                    .add(cert)
                    .map_err(|e| Problem::invalid(CA_FIELD, format!("{}: {e}", path.display())))?;
            }
            let builder =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider));
            let builder = if settings.client_auth == ClientAuth::VerifyClientCertIfGiven {
                builder.allow_unauthenticated()
            } else {
                builder
            };
            builder
                .build()
                .map_err(|e| Problem::invalid(CA_FIELD, e.to_string()))?
        }
    })
}

/// `RequestClientCert` / `RequireAnyClientCert`: like Go's, the certificate is not checked
/// against any CA, but the client must still prove it holds the certificate's key.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
