//! The `--web.config.file` format of the Prometheus exporter-toolkit: TLS and basic-auth
//! users for the exporter's own HTTP server. Parsing only; files named in it are read by
//! [`super::tls`] and the hashes are checked by [`super::auth`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::redact::{looks_like_bcrypt, redact_secrets};

/// A problem with the web config, naming the file and, where there is one, the field.
#[derive(Debug, thiserror::Error)]
#[error("web config {}: {problem}", file.display())]
pub struct WebConfigError {
    pub file: PathBuf,
    pub problem: Problem,
}

/// What is wrong, without the file name (the caller adds it).
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error("cannot read it: {0}")]
    Read(std::io::Error),
    #[error("{0}")]
    Syntax(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{field}: cannot read {}: {error}", path.display())]
    ReadFile {
        field: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
}

impl Problem {
    /// A problem with a field. Field (it may hold a user name) and message are scrubbed of
    /// hash- or secret-looking text: a hash pasted where a name belongs is never echoed.
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Problem::Invalid {
            field: redact_secrets(&field.into()).into_owned(),
            message: redact_secrets(&message.into()).into_owned(),
        }
    }

    /// A YAML or type error from the parser, which may quote the offending value (for
    /// `basic_auth_users: $2y$...` it quotes the hash): scrubbed likewise.
    fn syntax(error: &serde_saphyr::Error) -> Self {
        Problem::Syntax(redact_secrets(&error.to_string()).into_owned())
    }
}

/// A parsed web config; file paths are absolute (resolved against the file's directory).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebConfig {
    pub tls: Option<TlsSettings>,
    /// User name to bcrypt hash; `None` turns basic auth off.
    pub users: Option<BTreeMap<String, BcryptHash>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub client_auth: ClientAuth,
    pub client_ca_file: Option<PathBuf>,
    pub min_version: MinVersion,
}

impl TlsSettings {
    /// Every file the TLS set-up reads: a change to any of them means a reload.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        [&self.cert_file, &self.key_file]
            .into_iter()
            .chain(self.client_ca_file.as_ref())
            .map(PathBuf::as_path)
    }
}

/// Go's `tls.ClientAuthType`, as exporter-toolkit names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum ClientAuth {
    #[default]
    NoClientCert,
    /// Asks for a certificate, does not require or verify it.
    RequestClientCert,
    /// Requires a certificate, does not verify it against a CA (`RequireClientCert` is
    /// exporter-toolkit's old name for it).
    #[serde(alias = "RequireClientCert")]
    RequireAnyClientCert,
    /// Verifies a certificate against `client_ca_file` when one is sent.
    VerifyClientCertIfGiven,
    /// Requires a certificate signed by `client_ca_file`.
    RequireAndVerifyClientCert,
}

impl ClientAuth {
    /// Whether the mode checks certificates against `client_ca_file`.
    pub fn verifies(self) -> bool {
        matches!(
            self,
            Self::VerifyClientCertIfGiven | Self::RequireAndVerifyClientCert
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MinVersion {
    #[default]
    Tls12,
    Tls13,
}

/// A bcrypt hash from the file; never shown, so `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct BcryptHash(String);

impl BcryptHash {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for BcryptHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BcryptHash(<redacted>)")
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    tls_server_config: Option<RawTls>,
    basic_auth_users: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<String>,
    key_file: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    min_version: Option<String>,
}

impl WebConfig {
    /// Reads and validates `path` (not the files it names).
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let in_file = |problem| WebConfigError {
            file: path.to_path_buf(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|e| in_file(Problem::Read(e)))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        WebConfig::parse(&text, dir).map_err(in_file)
    }

    /// Parses the text of a web config whose relative paths are relative to `dir`.
    pub fn parse(text: &str, dir: &Path) -> Result<WebConfig, Problem> {
        // No snippets: an error must not echo a line that holds a password hash.
        let options = serde_saphyr::options! { with_snippet: false, strict_booleans: true };
        let raw: Option<RawWebConfig> =
            serde_saphyr::from_str_with_options(text, options).map_err(|e| Problem::syntax(&e))?;
        let Some(raw) = raw else {
            return Ok(WebConfig::default());
        };
        Ok(WebConfig {
            tls: raw
                .tls_server_config
                .map(|tls| tls.validate(dir))
                .transpose()?,
            users: raw.basic_auth_users.map(validate_users).transpose()?,
        })
    }
}

impl RawTls {
    fn validate(self, dir: &Path) -> Result<TlsSettings, Problem> {
        let required = |value: Option<String>, field: &str| {
            value
                .filter(|v| !v.is_empty())
                .map(|v| dir.join(v))
                .ok_or_else(|| Problem::invalid(format!("tls_server_config.{field}"), "required"))
        };
        let client_auth = match self.client_auth_type.as_deref() {
            None | Some("") => ClientAuth::NoClientCert,
            Some(name) => parse_client_auth(name)?,
        };
        let client_ca_file = self.client_ca_file.filter(|f| !f.is_empty());
        if client_auth.verifies() && client_ca_file.is_none() {
            return Err(Problem::invalid(
                "tls_server_config.client_ca_file",
                format!("required with client_auth_type {client_auth:?}"),
            ));
        }
        if client_auth == ClientAuth::NoClientCert && client_ca_file.is_some() {
            return Err(Problem::invalid(
                "tls_server_config.client_auth_type",
                "client_ca_file is set but client_auth_type is NoClientCert; \
                 set it to RequireAndVerifyClientCert (or VerifyClientCertIfGiven)",
            ));
        }
        Ok(TlsSettings {
            cert_file: required(self.cert_file, "cert_file")?,
            key_file: required(self.key_file, "key_file")?,
            client_auth,
            client_ca_file: client_ca_file.map(|f| dir.join(f)),
            min_version: parse_min_version(self.min_version.as_deref())?,
        })
    }
}

fn parse_client_auth(name: &str) -> Result<ClientAuth, Problem> {
    // Reuse the serde names (and alias) so the accepted spellings live in one place.
    ClientAuth::deserialize(serde::de::value::StrDeserializer::<serde::de::value::Error>::new(name))
        .map_err(|_| {
            Problem::invalid(
                "tls_server_config.client_auth_type",
                format!(
                    "unknown value {name:?}; expected NoClientCert, RequestClientCert, \
                 RequireAnyClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert"
                ),
            )
        })
}

fn parse_min_version(name: Option<&str>) -> Result<MinVersion, Problem> {
    let field = "tls_server_config.min_version";
    match name {
        None | Some("" | "TLS12") => Ok(MinVersion::Tls12),
        Some("TLS13") => Ok(MinVersion::Tls13),
        Some(old @ ("TLS10" | "TLS11")) => Err(Problem::invalid(
            field,
            format!(
                "{old} is not supported (rustls speaks TLS 1.2 and 1.3 only); use TLS12 or TLS13"
            ),
        )),
        Some(other) => Err(Problem::invalid(
            field,
            format!("unknown value {other:?}; expected TLS12 or TLS13"),
        )),
    }
}

/// Checks every hash is a bcrypt hash, so a typo fails at start, not at the first scrape.
fn validate_users(
    users: BTreeMap<String, String>,
) -> Result<BTreeMap<String, BcryptHash>, Problem> {
    users
        .into_iter()
        .map(|(user, hash)| {
            if looks_like_bcrypt(&user) {
                return Err(Problem::invalid(
                    "basic_auth_users",
                    "a user name looks like a bcrypt hash (it is not shown); each entry is \
                     `user: hash`, the user name first",
                ));
            }
            if user.contains(':') {
                return Err(Problem::invalid(
                    format!("basic_auth_users.{user}"),
                    "a user name cannot contain ':'",
                ));
            }
            match hash.parse::<bcrypt::HashParts>() {
                Ok(_) => Ok((user, BcryptHash(hash))),
                Err(_) => Err(Problem::invalid(
                    format!("basic_auth_users.{user}"),
                    "not a bcrypt hash (expected one that starts with $2y$, e.g. from `htpasswd -nBC 10 USER`)",
                )),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<WebConfig, String> {
        WebConfig::parse(text, Path::new("/etc/web")).map_err(|e| e.to_string())
    }

    fn tls(extra: &str) -> Result<TlsSettings, String> {
        let text = format!("tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n{extra}");
        parse(&text).map(|c| c.tls.unwrap())
    }

    /// A real bcrypt hash (cost 4) of "pw".
    fn hash() -> String {
        bcrypt::hash("pw", 4).unwrap()
    }

    #[test]
    fn empty_file_and_empty_document_mean_plain_http_without_auth() {
        assert_eq!(parse("").unwrap(), WebConfig::default());
        assert_eq!(parse("# nothing\n").unwrap(), WebConfig::default());
        assert_eq!(parse("{}").unwrap(), WebConfig::default());
    }

    #[test]
    fn relative_paths_resolve_against_the_files_directory() {
        let t =
            tls("  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca/ca.crt\n")
                .unwrap();
        assert_eq!(t.cert_file, PathBuf::from("/etc/web/s.crt"));
        assert_eq!(t.key_file, PathBuf::from("/etc/web/s.key"));
        assert_eq!(t.client_ca_file, Some(PathBuf::from("/etc/web/ca/ca.crt")));
        let text = "tls_server_config:\n  cert_file: /abs/s.crt\n  key_file: s.key\n";
        let t = parse(text).unwrap().tls.unwrap();
        assert_eq!(t.cert_file, PathBuf::from("/abs/s.crt"));
        let files: Vec<_> = t.files().collect();
        assert_eq!(
            files,
            [Path::new("/abs/s.crt"), Path::new("/etc/web/s.key")]
        );
    }

    #[test]
    fn every_client_auth_type_parses() {
        let ca = "  client_ca_file: ca.crt\n";
        for (name, want, needs_ca) in [
            ("NoClientCert", ClientAuth::NoClientCert, false),
            ("RequestClientCert", ClientAuth::RequestClientCert, false),
            (
                "RequireAnyClientCert",
                ClientAuth::RequireAnyClientCert,
                false,
            ),
            ("RequireClientCert", ClientAuth::RequireAnyClientCert, false),
            (
                "VerifyClientCertIfGiven",
                ClientAuth::VerifyClientCertIfGiven,
                true,
            ),
            (
                "RequireAndVerifyClientCert",
                ClientAuth::RequireAndVerifyClientCert,
                true,
            ),
        ] {
            let extra = format!(
                "  client_auth_type: {name}\n{}",
                if needs_ca { ca } else { "" }
            );
            assert_eq!(tls(&extra).unwrap().client_auth, want, "{name}");
        }
        assert_eq!(tls("").unwrap().client_auth, ClientAuth::NoClientCert);
    }

    #[test]
    fn bad_client_auth_settings_name_the_field() {
        let e = tls("  client_auth_type: Sometimes\n").unwrap_err();
        assert!(
            e.starts_with("tls_server_config.client_auth_type: unknown value \"Sometimes\""),
            "{e}"
        );
        let e = tls("  client_auth_type: RequireAndVerifyClientCert\n").unwrap_err();
        assert!(
            e.starts_with("tls_server_config.client_ca_file: required"),
            "{e}"
        );
        let e = tls("  client_ca_file: ca.crt\n").unwrap_err();
        assert!(e.starts_with("tls_server_config.client_auth_type:"), "{e}");
    }

    #[test]
    fn min_version_accepts_tls12_and_tls13_only() {
        assert_eq!(tls("").unwrap().min_version, MinVersion::Tls12);
        assert_eq!(
            tls("  min_version: TLS12\n").unwrap().min_version,
            MinVersion::Tls12
        );
        assert_eq!(
            tls("  min_version: TLS13\n").unwrap().min_version,
            MinVersion::Tls13
        );
        let e = tls("  min_version: TLS10\n").unwrap_err();
        assert!(e.contains("min_version: TLS10 is not supported"), "{e}");
        let e = tls("  min_version: SSL3\n").unwrap_err();
        assert!(e.contains("unknown value \"SSL3\""), "{e}");
    }

    #[test]
    fn cert_and_key_are_required() {
        let e = parse("tls_server_config:\n  key_file: k\n").unwrap_err();
        assert_eq!(e, "tls_server_config.cert_file: required");
        let e = parse("tls_server_config:\n  cert_file: c\n").unwrap_err();
        assert_eq!(e, "tls_server_config.key_file: required");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = parse("tls_server_config:\n  cert_file: c\n  key_file: k\n  max_version: TLS13\n")
            .unwrap_err();
        assert!(e.contains("max_version"), "{e}");
        let e = parse("http_server_config:\n  http2: false\n").unwrap_err();
        assert!(e.contains("http_server_config"), "{e}");
    }

    #[test]
    fn users_need_bcrypt_hashes_and_errors_do_not_echo_them() {
        let good = hash();
        let config = parse(&format!("basic_auth_users:\n  alice: '{good}'\n")).unwrap();
        let users = config.users.unwrap();
        assert_eq!(users["alice"].expose(), good);
        assert!(
            !format!("{users:?}").contains(&good[7..]),
            "Debug shows the hash"
        );
        let e = parse("basic_auth_users:\n  bob: plaintext-password\n").unwrap_err();
        assert!(
            e.starts_with("basic_auth_users.bob: not a bcrypt hash"),
            "{e}"
        );
        assert!(!e.contains("plaintext-password"), "{e}");
        let e = parse("basic_auth_users:\n  bob: [1]\n").unwrap_err();
        assert!(!e.contains("plaintext"), "{e}");
    }

    #[test]
    fn a_hash_pasted_where_a_name_or_section_belongs_is_not_echoed() {
        let good = hash();
        for (text, needle) in [
            (
                format!("basic_auth_users:\n  '{good}': alice\n"),
                "basic_auth_users: a user name looks like a bcrypt hash (it is not shown)",
            ),
            (
                format!("'{good}': 1\n"),
                "unknown field `$2…$ (not shown: it looks like a bcrypt hash)`",
            ),
            (
                format!("basic_auth_users:\n  alice: '{good}'\n  'st_live_x:{good}': y\n"),
                "(not shown: it looks like an AllScale key or secret)",
            ),
        ] {
            let e = parse(&text).unwrap_err();
            assert!(!e.contains(&good[7..]), "hash echoed for {text}: {e}");
            assert!(e.contains(needle), "{e}");
        }
    }

    #[test]
    fn load_names_the_file() {
        let e = WebConfig::load(Path::new("/nonexistent/web.yml")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("web config /nonexistent/web.yml: cannot read it:"),
            "{e}"
        );
    }
}
