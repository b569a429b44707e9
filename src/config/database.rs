//! `state_database`: the PostgreSQL database that holds the state instead of a
//! `state_file` (issue #24). Its URL is checked here, once, when the config loads: no
//! password in it (that comes from `password_file` or `password_env`), an `sslmode` this
//! build speaks, and the rest a connection string that tokio-postgres accepts.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::paths::resolve;
use super::secret::Secret;

/// The `state_database:` block.
#[derive(Debug, Clone, PartialEq)]
pub struct StateDatabase {
    pub url: DatabaseUrl,
    /// From `password_file` or `password_env` (read again at every reload).
    pub password: Secret,
    /// `import_from`: a single exporter's `state_file`, imported when the database is
    /// empty at start (moving in).
    pub import_from: Option<PathBuf>,
}

/// How the connection is protected (`sslmode` in the URL, as libpq spells it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP (a database on the same host, or a private network the operator trusts).
    Disable,
    /// TLS without checking the server's certificate: encrypted, but not protected
    /// from an active man in the middle (libpq's meaning).
    Require,
    /// TLS, the certificate checked against the roots and the host name (the default).
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Result<SslMode, String> {
        match text {
            "disable" => Ok(SslMode::Disable),
            "require" => Ok(SslMode::Require),
            "verify-full" => Ok(SslMode::VerifyFull),
            other => Err(format!(
                "sslmode={other} is not supported: use verify-full (the default: TLS, the \
                 certificate and host name checked), require (TLS, no certificate check) or \
                 disable (no TLS)"
            )),
        }
    }
}

/// A checked `state_database.url`: it holds no password, so it may be shown.
#[derive(Clone, PartialEq)]
pub struct DatabaseUrl {
    /// The URL without `sslmode` and `sslrootcert`, which this build applies itself.
    connect: String,
    pub sslmode: SslMode,
    /// `sslrootcert`: the only CA trusted (with `verify-full`); else the Mozilla roots.
    pub root_cert: Option<PathBuf>,
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// Host, port and database, for logs and errors (never a password: none is in it).
impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match url::Url::parse(&self.connect) {
            Ok(url) => write!(
                f,
                "{}{}{}",
                url.host_str().unwrap_or(""),
                url.port().map(|p| format!(":{p}")).unwrap_or_default(),
                url.path()
            ),
            Err(_) => f.write_str("the state database"),
        }
    }
}

const PASSWORD_IN_URL: &str = "the URL holds a password (not shown): put it in a file named \
     by password_file, or an environment variable named by password_env, and take it out of \
     the URL";

const EXPECTED: &str = "expected postgres://USER@HOST:PORT/DATABASE?sslmode=verify-full";

impl DatabaseUrl {
    /// Checks `text`; `base_dir` is where a relative `sslrootcert` points from. The
    /// message never quotes the URL (it may hold a password).
    pub(super) fn parse(text: &str, base_dir: &Path) -> Result<DatabaseUrl, String> {
        let url =
            url::Url::parse(text.trim()).map_err(|e| format!("is not a URL ({e}); {EXPECTED}"))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(format!("must start with postgres://; {EXPECTED}"));
        }
        if url.password().is_some() {
            return Err(PASSWORD_IN_URL.to_owned());
        }
        let mut sslmode = SslMode::VerifyFull;
        let mut root_cert = None;
        let mut rest = Vec::new();
        for (key, value) in url.query_pairs() {
            match &*key {
                "password" => return Err(PASSWORD_IN_URL.to_owned()),
                "sslmode" => sslmode = SslMode::parse(&value)?,
                "sslrootcert" => root_cert = Some(resolve(base_dir, Path::new(&*value))),
                _ => rest.push((key.into_owned(), value.into_owned())),
            }
        }
        let mut connect = url.clone();
        connect.set_query(None);
        if !rest.is_empty() {
            connect.query_pairs_mut().extend_pairs(rest);
        }
        let config = tokio_postgres::Config::from_str(connect.as_str()).map_err(|e| {
            // The parser's reasons name keys, never values.
            let why = std::error::Error::source(&e).map(|s| format!(" ({s})"));
            format!(
                "is not a PostgreSQL URL: {e}{}; {EXPECTED}",
                why.unwrap_or_default()
            )
        })?;
        if config.get_user().is_none_or(str::is_empty) {
            return Err(format!("names no user; {EXPECTED}"));
        }
        if config.get_hosts().is_empty() {
            return Err(format!("names no host; {EXPECTED}"));
        }
        if let Some(file) = &root_cert {
            if sslmode != SslMode::VerifyFull {
                return Err(
                    "sslrootcert is used only with sslmode=verify-full (require checks no \
                     certificate, disable uses no TLS)"
                        .to_owned(),
                );
            }
            read_root_cert(file)?;
        }
        Ok(DatabaseUrl {
            connect: connect.into(),
            sslmode,
            root_cert,
        })
    }

    /// The connection settings, with `password`.
    pub fn connect_config(&self, password: &Secret) -> tokio_postgres::Config {
        // Parsed already in `parse`: the same text parses again.
        let mut config =
            tokio_postgres::Config::from_str(&self.connect).unwrap_or_else(|_| Default::default());
        config.password(password.expose());
        config
    }
}

/// The certificates of the `sslrootcert` file, at least one.
pub fn read_root_cert(file: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = file.display();
    let pem = std::fs::read(file).map_err(|e| format!("sslrootcert {shown}: {e}"))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("sslrootcert {shown}: not PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err(format!("sslrootcert {shown}: holds no certificate"));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DatabaseUrl, String> {
        DatabaseUrl::parse(text, Path::new("/etc/allscale"))
    }

    #[test]
    fn sslmode_defaults_to_verify_full_and_is_taken_out_of_the_url() {
        let url = parse("postgres://allscale@db.internal:5432/allscale").unwrap();
        assert_eq!(url.sslmode, SslMode::VerifyFull);
        let url = parse("postgresql://a@db:5433/x?sslmode=disable&application_name=e").unwrap();
        assert_eq!(url.sslmode, SslMode::Disable);
        assert_eq!(url.to_string(), "db:5433/x");
        let config = url.connect_config(&Secret::new("pw"));
        assert_eq!(config.get_application_name(), Some("e"));
        assert_eq!(config.get_password(), Some(&b"pw"[..]));
        assert_eq!(config.get_dbname(), Some("x"));
    }

    #[test]
    fn a_password_in_the_url_is_refused_without_showing_it() {
        for text in [
            "postgres://allscale:hunter2@db/allscale",
            "postgres://allscale@db/allscale?password=hunter2",
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.starts_with("the URL holds a password"), "{error}");
            assert!(!error.contains("hunter2"), "{error}");
        }
    }

    #[test]
    fn what_is_wrong_is_named() {
        for (text, want) in [
            ("mysql://a@db/x", "must start with postgres://"),
            ("not a url", "is not a URL"),
            ("postgres://db/x", "names no user"),
            (
                "postgres://a@db/x?sslmode=prefer",
                "sslmode=prefer is not supported",
            ),
            (
                "postgres://a@db/x?sslmode=verify-ca",
                "sslmode=verify-ca is not supported",
            ),
            ("postgres://a@db/x?frobnicate=1", "unknown option"),
            (
                "postgres://a@db/x?sslmode=require&sslrootcert=ca.pem",
                "sslrootcert is used only with sslmode=verify-full",
            ),
            (
                "postgres://a@db/x?sslrootcert=missing-ca.pem",
                "sslrootcert /etc/allscale/missing-ca.pem: No such file",
            ),
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.contains(want), "{text}: {error}");
        }
    }
}
