// The crate's documentation is its README, whose examples run as doctests.
#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

/// Serde as the type's text (`as_str`, `parse`): label enums and ids are written in the
/// words `/metrics` uses, and reading anything else is an error that names it.
///
/// Not part of the API: exported only so that the exporter's own label types share it.
#[doc(hidden)]
#[macro_export]
macro_rules! serde_as_text {
    ($type:ty, $what:literal) => {
        impl serde::Serialize for $type {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $type {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&text).ok_or_else(|| {
                    serde::de::Error::custom(format!(concat!("unknown ", $what, " {:?}"), text))
                })
            }
        }
    };
}

mod base_url;
pub mod client;
pub mod clock;
pub mod code;
pub mod detail;
pub mod envelope;
pub mod httpdate;
pub mod request;
pub mod signing;
pub mod status;
pub mod text;
pub mod transport;
pub mod webhook;

pub use base_url::{BaseUrl, BaseUrlError};
pub use client::{ApiClient, ClientConfig, Fetch, FetchError};
pub use code::ApiCode;
pub use detail::Detail;
pub use envelope::{DecodeError, Envelope};
pub use request::{Endpoint, RequestResult};
pub use status::{Outcome, Status, StatusClass};
pub use transport::HttpVersion;
pub use webhook::{Webhook, WebhookError, WebhookHeaders};

/// A header's value as text; `None` when absent or not visible ASCII.
fn header_str<'a>(headers: &'a hyper::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
