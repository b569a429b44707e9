//! The `code` of an AllScale envelope (docs/allscale-api.md §4): the documented codes by
//! name, any other as it came, so that matching on a code reads as what it means.

use std::fmt;

/// An envelope's non-zero `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ApiCode {
    /// 10001: the request failed validation.
    Validation,
    /// 20001: authentication headers missing, or an unknown key.
    AuthMissing,
    /// 20002: the signature is invalid.
    BadSignature,
    /// 30001: forbidden (source IP not allow-listed, or not this merchant's intent).
    Forbidden,
    /// 40001: rate limit exceeded.
    RateLimited,
    /// 50001: checkout intent not found.
    NotFound,
    /// 90000: internal server error.
    Internal,
    /// 99999: unknown error.
    Unknown,
    /// A code the docs do not list.
    Other(i64),
}

impl ApiCode {
    /// The documented codes, exported at 0 from the start so alerts never see a missing
    /// series.
    pub const DOCUMENTED: [ApiCode; 8] = [
        Self::Validation,
        Self::AuthMissing,
        Self::BadSignature,
        Self::Forbidden,
        Self::RateLimited,
        Self::NotFound,
        Self::Internal,
        Self::Unknown,
    ];

    /// The code an envelope's integer stands for.
    pub fn from_code(code: i64) -> Self {
        match code {
            10001 => Self::Validation,
            20001 => Self::AuthMissing,
            20002 => Self::BadSignature,
            30001 => Self::Forbidden,
            40001 => Self::RateLimited,
            50001 => Self::NotFound,
            90000 => Self::Internal,
            99999 => Self::Unknown,
            other => Self::Other(other),
        }
    }

    /// The integer on the wire.
    pub fn code(self) -> i64 {
        match self {
            Self::Validation => 10001,
            Self::AuthMissing => 20001,
            Self::BadSignature => 20002,
            Self::Forbidden => 30001,
            Self::RateLimited => 40001,
            Self::NotFound => 50001,
            Self::Internal => 90000,
            Self::Unknown => 99999,
            Self::Other(code) => code,
        }
    }

    /// An auth failure or a server error: the API is not usable (`allscale_api_up` 0).
    pub fn means_api_down(self) -> bool {
        matches!(
            self,
            Self::AuthMissing | Self::BadSignature | Self::Internal | Self::Unknown
        )
    }
}

impl fmt::Display for ApiCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_only_the_documented_ones_have_names() {
        for code in ApiCode::DOCUMENTED {
            assert_eq!(ApiCode::from_code(code.code()), code);
            assert!(!matches!(code, ApiCode::Other(_)));
        }
        assert_eq!(ApiCode::from_code(12345), ApiCode::Other(12345));
        assert_eq!(ApiCode::Other(-7).code(), -7);
        assert_eq!(ApiCode::NotFound.to_string(), "50001");
    }
}
