//! The AllScale Open API: request signing, response verification, envelope decoding,
//! the status enum, and the HTTP client that puts them together.

/// Serde as the type's text (`as_str`, `parse`): label enums and ids are written in the
/// words `/metrics` uses, and reading anything else is an error that names it.
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

pub mod base_url;
pub mod client;
pub mod code;
pub mod envelope;
pub mod httpdate;
pub mod intent_id;
pub mod signing;
pub mod status;
pub mod transport;

pub use base_url::{BaseUrl, BaseUrlError};
pub use client::{ApiClient, Fetch, FetchError, RequestResult};
pub use code::ApiCode;
pub use envelope::{DecodeError, Envelope};
pub use intent_id::IntentId;
pub use status::{Outcome, Status, StatusClass};

/// A header's value as text; `None` when absent or not visible ASCII.
pub(crate) fn header_str<'a>(headers: &'a hyper::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
