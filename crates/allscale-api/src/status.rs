//! The checkout-intent status enum (12 documented values) and the label names built on it.

use std::fmt;

/// A checkout intent's status, as the integer the API returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// -5: pending too long, expired.
    Timeout,
    /// -4: canceled by the user.
    Canceled,
    /// -3: less than the amount due arrived.
    Underpaid,
    /// -2: refused by the KYT (compliance) checks.
    Rejected,
    /// -1: a processing error.
    Failed,
    /// 1: created, not opened yet.
    Created,
    /// Value 2: older docs call it VIEWED, newer ones PAYING.
    Viewed,
    /// 3: a deposit wallet was assigned.
    TempWalletReceived,
    /// 4: waiting for a manual review.
    PendingManualOperation,
    /// 5: a refund is under way.
    SendBack,
    /// 10: seen on chain, not yet confirmed.
    OnChain,
    /// 20: confirmed on chain: paid.
    Confirmed,
    /// An integer the exporter does not know; exported raw and treated as non-terminal,
    /// even when negative (it would have no outcome label to count).
    Unknown(i64),
}

impl Status {
    /// The status an integer of the status route stands for.
    pub fn from_code(code: i64) -> Self {
        match code {
            -5 => Self::Timeout,
            -4 => Self::Canceled,
            -3 => Self::Underpaid,
            -2 => Self::Rejected,
            -1 => Self::Failed,
            1 => Self::Created,
            2 => Self::Viewed,
            3 => Self::TempWalletReceived,
            4 => Self::PendingManualOperation,
            5 => Self::SendBack,
            10 => Self::OnChain,
            20 => Self::Confirmed,
            other => Self::Unknown(other),
        }
    }

    /// The integer the API sends for this status.
    pub fn code(self) -> i64 {
        match self {
            Self::Timeout => -5,
            Self::Canceled => -4,
            Self::Underpaid => -3,
            Self::Rejected => -2,
            Self::Failed => -1,
            Self::Created => 1,
            Self::Viewed => 2,
            Self::TempWalletReceived => 3,
            Self::PendingManualOperation => 4,
            Self::SendBack => 5,
            Self::OnChain => 10,
            Self::Confirmed => 20,
            Self::Unknown(code) => code,
        }
    }

    /// The API's rule of thumb: any negative value, or 20, is final.
    ///
    /// An unknown negative integer is treated as non-terminal: docs/contract.md says unknown
    /// values are non-terminal, and an unknown value has no outcome label to count.
    pub fn is_terminal(self) -> bool {
        self.outcome().is_some()
    }

    /// The terminal outcome this status represents, if it is terminal.
    pub fn outcome(self) -> Option<Outcome> {
        Some(match self {
            Self::Confirmed => Outcome::Confirmed,
            Self::Failed => Outcome::Failed,
            Self::Rejected => Outcome::Rejected,
            Self::Underpaid => Outcome::Underpaid,
            Self::Canceled => Outcome::Canceled,
            Self::Timeout => Outcome::Timeout,
            _ => return None,
        })
    }

    /// The aggregate label this status is counted under.
    pub fn class(self) -> StatusClass {
        match self {
            Self::Timeout => StatusClass::Timeout,
            Self::Canceled => StatusClass::Canceled,
            Self::Underpaid => StatusClass::Underpaid,
            Self::Rejected => StatusClass::Rejected,
            Self::Failed => StatusClass::Failed,
            Self::Created => StatusClass::Created,
            Self::Viewed => StatusClass::Viewed,
            Self::TempWalletReceived => StatusClass::TempWalletReceived,
            Self::PendingManualOperation => StatusClass::PendingManualOperation,
            Self::SendBack => StatusClass::SendBack,
            Self::OnChain => StatusClass::OnChain,
            Self::Confirmed => StatusClass::Confirmed,
            Self::Unknown(_) => StatusClass::Unknown,
        }
    }
}

/// Closed set of label values for `allscale_checkout_intents{status}` and transitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StatusClass {
    /// [`Status::Created`].
    Created,
    /// [`Status::Viewed`].
    Viewed,
    /// [`Status::TempWalletReceived`].
    TempWalletReceived,
    /// [`Status::PendingManualOperation`].
    PendingManualOperation,
    /// [`Status::SendBack`].
    SendBack,
    /// [`Status::OnChain`].
    OnChain,
    /// [`Status::Confirmed`].
    Confirmed,
    /// [`Status::Failed`].
    Failed,
    /// [`Status::Rejected`].
    Rejected,
    /// [`Status::Underpaid`].
    Underpaid,
    /// [`Status::Canceled`].
    Canceled,
    /// [`Status::Timeout`].
    Timeout,
    /// Any [`Status::Unknown`].
    Unknown,
    /// The API knows no such intent (code 50001): not a status it sends.
    NotFound,
}

impl StatusClass {
    /// Every class, in label order.
    pub const ALL: [StatusClass; 14] = [
        Self::Created,
        Self::Viewed,
        Self::TempWalletReceived,
        Self::PendingManualOperation,
        Self::SendBack,
        Self::OnChain,
        Self::Confirmed,
        Self::Failed,
        Self::Rejected,
        Self::Underpaid,
        Self::Canceled,
        Self::Timeout,
        Self::Unknown,
        Self::NotFound,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Viewed => "viewed",
            Self::TempWalletReceived => "temp_wallet_received",
            Self::PendingManualOperation => "pending_manual_operation",
            Self::SendBack => "send_back",
            Self::OnChain => "on_chain",
            Self::Confirmed => "confirmed",
            Self::Failed => "failed",
            Self::Rejected => "rejected",
            Self::Underpaid => "underpaid",
            Self::Canceled => "canceled",
            Self::Timeout => "timeout",
            Self::Unknown => "unknown",
            Self::NotFound => "not_found",
        }
    }

    /// The class a label value names.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for StatusClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Closed set of label values for `allscale_checkout_intent_terminal_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Ended as [`Status::Confirmed`].
    Confirmed,
    /// Ended as [`Status::Failed`].
    Failed,
    /// Ended as [`Status::Rejected`].
    Rejected,
    /// Ended as [`Status::Underpaid`].
    Underpaid,
    /// Ended as [`Status::Canceled`].
    Canceled,
    /// Ended as [`Status::Timeout`].
    Timeout,
}

impl Outcome {
    /// Every outcome, in label order.
    pub const ALL: [Outcome; 6] = [
        Self::Confirmed,
        Self::Failed,
        Self::Rejected,
        Self::Underpaid,
        Self::Canceled,
        Self::Timeout,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Failed => "failed",
            Self::Rejected => "rejected",
            Self::Underpaid => "underpaid",
            Self::Canceled => "canceled",
            Self::Timeout => "timeout",
        }
    }

    /// The outcome a label value names.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == name)
    }

    /// Money reached the store: confirmed, or underpaid (less than asked). On the other
    /// outcomes nothing may have been paid, and the detail's paid, fee and net amounts
    /// may be null or missing (docs/allscale-api.md, intent detail).
    pub fn is_paid(self) -> bool {
        matches!(self, Self::Confirmed | Self::Underpaid)
    }
}

serde_as_text!(StatusClass, "status");
serde_as_text!(Outcome, "outcome");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_value_round_trips() {
        let documented = [-5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 10, 20];
        for code in documented {
            let s = Status::from_code(code);
            assert!(!matches!(s, Status::Unknown(_)), "{code} must be known");
            assert_eq!(s.code(), code);
        }
        assert_eq!(Status::from_code(7), Status::Unknown(7));
        assert_eq!(Status::from_code(7).code(), 7);
    }

    #[test]
    fn terminal_is_negative_or_twenty() {
        for code in [-5, -4, -3, -2, -1, 20] {
            assert!(Status::from_code(code).is_terminal(), "{code}");
        }
        for code in [1, 2, 3, 4, 5, 10, 0, 7, 99] {
            assert!(!Status::from_code(code).is_terminal(), "{code}");
        }
    }

    #[test]
    fn class_discriminants_index_all() {
        for (i, class) in StatusClass::ALL.iter().enumerate() {
            assert_eq!(*class as usize, i, "{class}");
        }
    }

    #[test]
    fn outcome_names_match_status_class_names() {
        for code in [-5, -4, -3, -2, -1, 20] {
            let s = Status::from_code(code);
            assert_eq!(s.outcome().unwrap().as_str(), s.class().as_str());
        }
        assert_eq!(Status::Viewed.class().as_str(), "viewed");
        assert_eq!(StatusClass::parse("not_found"), Some(StatusClass::NotFound));
    }
}
