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
    #[error("must be an http:// or https:// URL")]
    Scheme,
    #[error("is not a valid URL: {0}")]
    Invalid(String),
    #[error("has no host")]
    NoHost,
    #[error("must not contain credentials; use api_key and api_secret_env or api_secret_file")]
    Credentials,
    #[error("must not have a query (?...) or fragment (#...)")]
    QueryOrFragment,
}

impl BaseUrl {
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

    pub fn url(&self) -> &Url {
        &self.url
    }

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
