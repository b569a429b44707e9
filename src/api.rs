//! The AllScale Open API: request signing, response verification, envelope decoding,
//! the status enum, and the HTTP client that puts them together.

pub mod client;
pub mod code;
pub mod detail;
pub mod envelope;
pub mod httpdate;
pub mod signing;
pub mod status;
pub mod transport;

pub use client::{ApiClient, Fetch, FetchError, RequestResult};
pub use code::ApiCode;
pub use detail::Detail;
pub use envelope::{DecodeError, Envelope};
pub use status::{Outcome, Status, StatusClass};

/// A header's value as text; `None` when absent or not visible ASCII.
pub(crate) fn header_str<'a>(headers: &'a hyper::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
