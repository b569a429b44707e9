//! What a request was and how it ended, as closed label sets: the `endpoint` and
//! `result` of a request, apart from the client, so that a caller counting requests
//! (the exporter's metrics) needs these and not the client.

/// The API endpoints the exporter calls, as the `endpoint` label says them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// `GET /v1/checkout_intents/{id}/status`.
    Status,
    /// `GET /v1/checkout_intents/{id}`, once per terminal intent (`fetch_details`).
    Detail,
}

impl Endpoint {
    /// Both endpoints, in label order.
    pub const ALL: [Endpoint; 2] = [Endpoint::Status, Endpoint::Detail];

    /// The `endpoint` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Status => "status",
            Endpoint::Detail => "detail",
        }
    }
}

/// Closed set of values of the `result` label of `allscale_api_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequestResult {
    /// A status or detail.
    Ok,
    /// An envelope with a non-zero code.
    ApiError,
    /// A non-2xx answer without a usable envelope (or with code 0).
    HttpError,
    /// No answer within the request timeout.
    Timeout,
    /// No connection, or it failed before an answer.
    ConnectError,
    /// A malformed answer.
    DecodeError,
    /// An answer whose response signature is missing or wrong.
    BadResponseSignature,
}

impl RequestResult {
    /// Every result, in label order.
    pub const ALL: [RequestResult; 7] = [
        Self::Ok,
        Self::ApiError,
        Self::HttpError,
        Self::Timeout,
        Self::ConnectError,
        Self::DecodeError,
        Self::BadResponseSignature,
    ];

    /// The `result` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::ApiError => "api_error",
            Self::HttpError => "http_error",
            Self::Timeout => "timeout",
            Self::ConnectError => "connect_error",
            Self::DecodeError => "decode_error",
            Self::BadResponseSignature => "bad_response_signature",
        }
    }
}
