//! Test certificates (rcgen, ring) and reqwest clients that trust or present them.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};

/// A throwaway certificate authority.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate for 127.0.0.1 and localhost, with its key, signed by a [`Ca`].
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Ca { issuer }
    }

    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate named `cn`.
    pub fn server(&self, cn: &str) -> Leaf {
        self.leaf(cn, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate named `cn`.
    pub fn client(&self, cn: &str) -> Leaf {
        self.leaf(cn, ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn leaf(&self, cn: &str, usage: ExtendedKeyUsagePurpose) -> Leaf {
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

impl Leaf {
    /// A server certificate from a throwaway CA that no client trusts.
    pub fn untrusted(cn: &str) -> Leaf {
        Ca::new(&format!("{cn} CA")).server(cn)
    }

    /// Writes `server.crt` and `server.key` into `dir` by rename-saves, as a certificate
    /// manager would.
    pub fn install(&self, dir: &std::path::Path, name: &str) {
        for (ext, pem) in [("crt", &self.cert_pem), ("key", &self.key_pem)] {
            let path = dir.join(format!("{name}.{ext}"));
            let tmp = dir.join(format!(".{name}.{ext}.tmp"));
            std::fs::write(&tmp, pem).unwrap();
            std::fs::rename(&tmp, &path).unwrap();
        }
    }

    pub fn identity(&self) -> reqwest::Identity {
        reqwest::Identity::from_pem(format!("{}{}", self.cert_pem, self.key_pem).as_bytes())
            .unwrap()
    }
}

/// A client that trusts only `ca` (none: trusts nothing), with a fresh connection pool
/// and the peer certificate recorded on each response.
pub fn client(ca: Option<&Ca>) -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .tls_info(true)
        .pool_max_idle_per_host(0)
        .timeout(std::time::Duration::from_secs(10));
    match ca {
        Some(ca) => builder
            .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap()),
        None => builder,
    }
}

/// The DER certificate the server presented for `response`.
pub fn peer_certificate(response: &reqwest::Response) -> Vec<u8> {
    response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("the response carries the server certificate")
        .to_vec()
}
