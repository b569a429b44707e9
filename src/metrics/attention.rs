//! `per_intent_metrics: attention`: which intents need someone, so that only they have
//! per-intent series. An intent needs someone while it waits in a status past the
//! store's `attention_after` for that status (the mixin's stuck-intent alerts, grouped as
//! they group statuses), or when it finished badly (failed, rejected, underpaid, or
//! confirmed with less paid than asked), until `terminal_retention` after it finished.
//! Everything else is seen in the aggregates, the landing page and the intent JSON.

use std::time::Duration;

use crate::api::{Outcome, Status};
use crate::clock::UnixTime;
use crate::config::AttentionAfter;
use crate::state::{DetailPhase, IntentState, Phase, Terminal};

/// How long before its `attention_after` a waiting intent's series appear. A stuck alert
/// compares Prometheus's `time()` with the intent's status change, so the series must
/// already be scraped when the threshold passes: otherwise the alert fires one scrape
/// late, and meanwhile its per-store fallback (for stores without per-intent series)
/// fires once without the intent's id. Five minutes is Prometheus's lookback: no scrape
/// interval that works at all is longer.
pub(super) const LEAD: Duration = Duration::from_secs(5 * 60);

/// Whether `intent` needs someone at `now`.
pub(super) fn needs_attention(
    intent: &IntentState,
    now: UnixTime,
    retention: Duration,
    after: &AttentionAfter,
) -> bool {
    match intent.phase() {
        Phase::Watching => waiting_too_long(intent, now, after),
        Phase::Terminal(t) => now.since(t.at) < retention && finished_badly(intent, t),
        Phase::Expired { .. } | Phase::Dropped { .. } => false,
    }
}

/// In its status for `attention_after` (less [`LEAD`]); a status no stuck alert watches
/// (send back, unknown, not found) never is.
fn waiting_too_long(intent: &IntentState, now: UnixTime, after: &AttentionAfter) -> bool {
    let (Some(status), Some(since)) = (intent.status(), intent.status_changed_at()) else {
        return false;
    };
    let Some(threshold) = threshold(status, after).filter(|_| !intent.not_found()) else {
        return false;
    };
    now.since(since) >= threshold.saturating_sub(LEAD)
}

/// The `attention_after` of `status`, grouped as the mixin's stuck alerts group them.
fn threshold(status: Status, after: &AttentionAfter) -> Option<Duration> {
    match status {
        Status::OnChain => Some(after.on_chain),
        Status::PendingManualOperation => Some(after.manual_review),
        Status::Created | Status::Viewed | Status::TempWalletReceived => Some(after.before_payment),
        _ => None,
    }
}

/// Failed, rejected, underpaid, or confirmed with a detail that shows a shortfall (a
/// confirmation whose detail is not counted yet, or was given up, is not known short).
fn finished_badly(intent: &IntentState, t: &Terminal) -> bool {
    match intent.status().and_then(Status::outcome) {
        Some(Outcome::Failed | Outcome::Rejected | Outcome::Underpaid) => true,
        Some(Outcome::Confirmed) => {
            matches!(&t.detail, DetailPhase::Fetched(f) if !f.detail.shortfall().is_zero())
        }
        Some(Outcome::Canceled | Outcome::Timeout) | None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::detail::Detail;
    use crate::state::{Fetched, IntentRow};
    use rust_decimal::Decimal;

    const T0: u64 = 1_700_000_000;
    const MIN: u64 = 60;
    const HOUR: Duration = Duration::from_secs(3600);

    fn at(secs: u64) -> UnixTime {
        UnixTime::from_secs(secs)
    }

    /// An intent in `code` since `T0`, not terminal.
    fn waiting(code: i64) -> IntentState {
        IntentState::from_row(IntentRow {
            status: Some(Status::from_code(code)),
            status_changed_at: Some(at(T0)),
            ..IntentRow::default()
        })
    }

    /// An intent that ended as `code` at `T0`, with its detail when `paid` is given (of
    /// 25 asked).
    fn ended(code: i64, paid: Option<&str>) -> IntentState {
        let fetched = paid.map(|paid| {
            let dec = |s: &str| Decimal::from_str_exact(s).unwrap();
            Box::new(Fetched {
                detail: Detail {
                    coin: "USDT".into(),
                    chain: 1,
                    currency: "USD".into(),
                    amount: dec("25"),
                    paid: dec(paid),
                    fee: Decimal::ZERO,
                    net: dec(paid),
                    amount_cents: 2500,
                },
                at: at(T0 + 5),
            })
        });
        IntentState::from_row(IntentRow {
            status: Some(Status::from_code(code)),
            status_changed_at: Some(at(T0)),
            terminal_at: Some(at(T0)),
            fetched,
            ..IntentRow::default()
        })
    }

    fn needs(intent: &IntentState, secs_after_t0: u64) -> bool {
        let after = AttentionAfter::default();
        needs_attention(intent, at(T0 + secs_after_t0), 24 * HOUR, &after)
    }

    /// Each waiting status from its threshold less the lead (30m, 1h, 2h by default), not
    /// a second before; statuses no stuck alert watches never.
    #[test]
    fn a_waiting_intent_from_its_status_threshold_less_the_lead() {
        let lead = LEAD.as_secs();
        for (code, threshold) in [
            (10, 30 * MIN),
            (4, 60 * MIN),
            (1, 120 * MIN),
            (2, 120 * MIN),
            (3, 120 * MIN),
        ] {
            let intent = waiting(code);
            assert!(!needs(&intent, 0), "{code}");
            assert!(!needs(&intent, threshold - lead - 1), "{code}");
            assert!(needs(&intent, threshold - lead), "{code}");
            assert!(needs(&intent, 30 * 24 * 3600), "{code}");
        }
        for code in [5, 7, 99] {
            assert!(!needs(&waiting(code), 30 * 24 * 3600), "{code}");
        }
    }

    /// A threshold shorter than the lead shows the intent from its status change; an
    /// intent not found, or without an answer yet, is never waiting too long.
    #[test]
    fn short_thresholds_not_found_and_unanswered() {
        let after = AttentionAfter {
            on_chain: Duration::from_secs(60),
            ..AttentionAfter::default()
        };
        let now = at(T0);
        assert!(needs_attention(&waiting(10), now, HOUR, &after));
        let not_found = IntentState::from_row(IntentRow {
            not_found: true,
            ..waiting(10).row()
        });
        assert!(!needs_attention(&not_found, at(T0 + 86_400), HOUR, &after));
        let unanswered = IntentState::from_row(IntentRow::default());
        assert!(!needs_attention(&unanswered, at(T0 + 86_400), HOUR, &after));
    }

    /// Failed, rejected, underpaid and short confirmations within the retention; not
    /// confirmations in full (or not known short), cancellations or timeouts.
    #[test]
    fn bad_outcomes_within_the_retention() {
        for bad in [ended(-1, None), ended(-2, None), ended(-3, Some("20"))] {
            assert!(needs(&bad, 0));
            assert!(needs(&bad, 24 * 3600 - 1));
            assert!(!needs(&bad, 24 * 3600), "past terminal_retention");
        }
        assert!(needs(&ended(20, Some("24.99")), 60));
        assert!(!needs(&ended(20, Some("24.99")), 24 * 3600));
        for fine in [
            ended(20, Some("25")),
            ended(20, Some("26")),
            ended(20, None),
            ended(-4, None),
            ended(-5, None),
        ] {
            assert!(!needs(&fine, 0), "{:?}", fine.status());
        }
    }

    /// Expired and dropped intents have no per-intent series in any mode.
    #[test]
    fn given_up_intents_never() {
        let expired = IntentState::from_row(IntentRow {
            expired_at: Some(at(T0)),
            ..waiting(10).row()
        });
        assert!(!needs(&expired, 30 * 24 * 3600));
    }
}
