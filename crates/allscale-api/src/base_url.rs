//! The API's base URL, parsed and checked once when the config is read, so that the
//! client never meets a malformed one.

use std::fmt;

use url::Url;

/// An `http` or `https` URL with a host, no credentials, no query or fragment; shown
/// without a trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    url: Url,
    /// The URL as shown (and compared): `url` without its trailing `/`.
    text: String,
}

/// Why a text is not a base URL (the config validator words the whole message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BaseUrlError {
    /// Not `http` or `https`.
    #[error("must be an http:// or https:// URL")]
    Scheme,
    /// Not a URL (the parser's message).
    #[error("is not a valid URL: {0}")]
    Invalid(String),
    /// No host.
    #[error("has no host")]
    NoHost,
    /// A user name or password in the URL.
    #[error("must not contain credentials")]
    Credentials,
    /// A query or fragment.
    #[error("must not have a query (?...) or fragment (#...)")]
    QueryOrFragment,
}

impl BaseUrl {
    /// Parses and checks `text`.
    pub fn parse(text: &str) -> Result<BaseUrl, BaseUrlError> {
        let lower = text.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return Err(BaseUrlError::Scheme);
        }
        let url = Url::parse(text).map_err(|e| BaseUrlError::Invalid(e.to_string()))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(BaseUrlError::NoHost);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(BaseUrlError::Credentials);
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(BaseUrlError::QueryOrFragment);
        }
        let text = url.as_str().trim_end_matches('/').to_owned();
        Ok(BaseUrl { url, text })
    }

    /// The parsed URL (its path keeps a trailing `/`).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The URL as shown: without a trailing `/`.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl PartialEq<&str> for BaseUrl {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_url_is_http_with_a_host_and_nothing_secret_or_extra() {
        let base = BaseUrl::parse("https://api.example/v2/").unwrap();
        assert_eq!(base, "https://api.example/v2");
        assert_eq!(base.url().path(), "/v2/");
        for (text, error) in [
            ("ftp://x", BaseUrlError::Scheme),
            ("http://", BaseUrlError::Invalid("empty host".into())),
            ("http://u:p@x", BaseUrlError::Credentials),
            ("http://x/?q=1", BaseUrlError::QueryOrFragment),
            ("http://x/#f", BaseUrlError::QueryOrFragment),
        ] {
            assert_eq!(BaseUrl::parse(text), Err(error), "{text}");
        }
    }
}
