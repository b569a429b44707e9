//! Money from intent details (`fetch_details`): what each terminal intent asked, was paid,
//! fell short, cost in fees and netted, summed exactly per store and counted once per
//! intent in its life (the intent keeps what was fetched, so a restart neither fetches
//! nor counts it again).
//!
//! Label values come from the API, so they are capped: at most [`MAX_LABEL_VALUES`] coins,
//! chains and currencies per store, every later one counted as `other`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rust_decimal::Decimal;

use super::intents::Save;
use super::{DetailPhase, StoreState};
use crate::api::detail::MAX_SYMBOL_CHARS;
use crate::api::{Detail, Outcome, Status};
use crate::clock::UnixTime;

/// Distinct `coin`, `chain` and `currency` label values per store, `other` beyond.
pub const MAX_LABEL_VALUES: usize = 16;

/// The label of values past the cap, and of symbols that are not label-safe.
pub const OTHER: &str = "other";

/// A given-up detail keeps at most this much of the API's `request_id` (untrusted text).
const MAX_REQUEST_ID_BYTES: usize = 128;

/// What an intent's detail said, and when it was counted.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    pub detail: Detail,
    pub at: UnixTime,
}

/// An intent's detail given up: it stayed malformed for every try
/// ([`StoreState::give_up_detail`]); its money is not counted and it is not fetched
/// again.
#[derive(Debug, Clone, PartialEq)]
pub struct DetailGivenUp {
    pub at: UnixTime,
    /// The API's `request_id` of the last try, if it sent one.
    pub request_id: Option<String>,
}

/// `(outcome, coin, chain)`.
pub type CoinKey = (Outcome, String, String);

/// A store's money counters: exact sums by label values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Money {
    pub amount: BTreeMap<CoinKey, Decimal>,
    pub paid: BTreeMap<CoinKey, Decimal>,
    /// `(coin, chain)`: asked minus paid, for underpaid intents and short confirmations
    /// (every coin and chain seen has a series, at 0 until something falls short).
    pub shortfall: BTreeMap<(String, String), Decimal>,
    pub fee: BTreeMap<String, Decimal>,
    pub net: BTreeMap<String, Decimal>,
    /// `(outcome, currency)`: `amount_cents / 100`.
    pub fiat: BTreeMap<(Outcome, String), Decimal>,
    /// Confirmed intents paid less than asked.
    pub confirmed_short: u64,
    /// Details given up as malformed ([`DetailGivenUp`]).
    pub details_given_up: u64,
}

/// Why a detail was not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotCounted {
    #[error("a sum would exceed the largest decimal")]
    Overflow,
}

impl Money {
    /// Counts one intent's detail under `outcome`: every sum or none (an overflow leaves
    /// them as they were). Returns whether it was a short confirmation.
    pub fn count(&mut self, outcome: Outcome, d: &Detail) -> Result<bool, NotCounted> {
        let coin = self.label(&d.coin, |k| &k.1, |m| &m.amount);
        let chain = self.label(&d.chain.to_string(), |k| &k.2, |m| &m.amount);
        let currency = capped(
            &d.currency,
            self.fiat.keys().map(|k| k.1.as_str()).collect(),
        );
        let short = d.paid < d.amount;
        let shortfall = match outcome {
            Outcome::Underpaid | Outcome::Confirmed => d.shortfall(),
            _ => Decimal::ZERO,
        };
        let coin_key = (outcome, coin.clone(), chain.clone());
        let chain_key = (coin.clone(), chain);
        let fiat_key = (outcome, currency);
        // Every sum first: one that would overflow leaves them all as they were.
        let amount = sum(&self.amount, &coin_key, d.amount)?;
        let paid = sum(&self.paid, &coin_key, d.paid)?;
        let shortfall = sum(&self.shortfall, &chain_key, shortfall)?;
        let fee = sum(&self.fee, &coin, d.fee)?;
        let net = sum(&self.net, &coin, d.net)?;
        let fiat = sum(&self.fiat, &fiat_key, d.fiat())?;
        self.amount.insert(coin_key.clone(), amount);
        self.paid.insert(coin_key, paid);
        self.shortfall.insert(chain_key, shortfall);
        self.fee.insert(coin.clone(), fee);
        self.net.insert(coin, net);
        self.fiat.insert(fiat_key, fiat);
        let confirmed_short = outcome == Outcome::Confirmed && short;
        self.confirmed_short = self
            .confirmed_short
            .saturating_add(u64::from(confirmed_short));
        Ok(confirmed_short)
    }

    /// The label for `value` among those `part` picks out of `map`'s keys.
    fn label(
        &self,
        value: &str,
        part: impl Fn(&CoinKey) -> &String,
        map: impl Fn(&Money) -> &BTreeMap<CoinKey, Decimal>,
    ) -> String {
        capped(value, map(self).keys().map(|k| part(k).as_str()).collect())
    }
}

/// `value` when it is already a label, or there is room for one more and it is safe as
/// one; otherwise [`OTHER`].
fn capped(value: &str, seen: BTreeSet<&str>) -> String {
    let safe = !value.is_empty()
        && value.len() <= MAX_SYMBOL_CHARS
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    let known = seen.contains(value);
    let room = seen.iter().filter(|v| **v != OTHER).count() < MAX_LABEL_VALUES;
    if safe && value != OTHER && (known || room) {
        value.to_owned()
    } else {
        OTHER.to_owned()
    }
}

/// `map[key] + value`, or an error when it does not fit.
fn sum<K: Ord>(map: &BTreeMap<K, Decimal>, key: &K, value: Decimal) -> Result<Decimal, NotCounted> {
    let current = map.get(key).copied().unwrap_or(Decimal::ZERO);
    current.checked_add(value).ok_or(NotCounted::Overflow)
}

/// What [`StoreState::record_detail`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetailRecorded {
    /// Counted under this outcome; `short` for a confirmation paid less than asked.
    Counted { outcome: Outcome, short: bool },
    /// Not wanted any more (left the watch list, counted already, or not terminal).
    Ignored,
    /// Refused: counting it would overflow a sum.
    Refused(NotCounted),
}

impl StoreState {
    /// Turns detail fetching on or off (`fetch_details`) and marks every terminal intent
    /// still without a counted detail, finished within `retention`, as pending.
    pub fn set_fetch_details(&mut self, on: bool, retention: Duration, now: UnixTime) {
        self.fetch_details = on;
        self.intents.update_all(|intent| {
            if let Some(t) = intent.terminal_mut()
                && let DetailPhase::Open { pending } = &mut t.detail
            {
                *pending = on && now.since(t.at) < retention;
            }
        });
    }

    /// A newly terminal intent wants its detail, if the store fetches them.
    pub(super) fn want_detail(&mut self, id: &str) {
        let on = self.fetch_details;
        self.intents.update(id, |intent| {
            if let Some(t) = intent.terminal_mut()
                && let DetailPhase::Open { pending } = &mut t.detail
            {
                *pending = on;
            }
            ((), Save::Skip)
        });
    }

    /// Counts a fetched detail, once in the intent's life.
    pub fn record_detail(&mut self, id: &str, detail: Detail, now: UnixTime) -> DetailRecorded {
        let Some(intent) = self.intents.get(id).filter(|i| i.wants_detail()) else {
            return DetailRecorded::Ignored;
        };
        let Some(outcome) = intent.status().and_then(Status::outcome) else {
            return DetailRecorded::Ignored;
        };
        let short = self.money_mut().count(outcome, &detail);
        let recorded = match short {
            Ok(short) => DetailRecorded::Counted { outcome, short },
            Err(e) => DetailRecorded::Refused(e),
        };
        if let DetailRecorded::Counted { short: true, .. } = recorded {
            self.mark_short(id, &detail);
        }
        self.intents.update(id, |intent| {
            let Some(t) = intent.terminal_mut() else {
                return ((), Save::Skip);
            };
            match recorded {
                DetailRecorded::Counted { .. } => {
                    t.detail = DetailPhase::Fetched(Box::new(Fetched { detail, at: now }));
                    ((), Save::Row)
                }
                // Refused: no longer pending.
                _ => {
                    t.detail = DetailPhase::Open { pending: false };
                    ((), Save::Skip)
                }
            }
        });
        recorded
    }

    /// Gives up an intent's detail that stayed malformed: counted once, kept with the
    /// intent (saved, so a restart does not fetch it again). Returns whether it was
    /// still wanted.
    pub fn give_up_detail(&mut self, id: &str, request_id: Option<&str>, now: UnixTime) -> bool {
        let given_up = self.intents.update(id, |intent| {
            let Some(t) = intent
                .terminal_mut()
                .filter(|t| matches!(t.detail, DetailPhase::Open { .. }))
            else {
                return (false, Save::Skip);
            };
            t.detail = DetailPhase::GivenUp(Box::new(DetailGivenUp {
                at: now,
                request_id: request_id
                    .map(|r| crate::text::prefix(r, MAX_REQUEST_ID_BYTES).to_owned()),
            }));
            (true, Save::Row)
        });
        if given_up != Some(true) {
            return false;
        }
        let money = self.money_mut();
        money.details_given_up = money.details_given_up.saturating_add(1);
        true
    }

    /// Stops wanting an intent's detail: its fetch failed until `terminal_retention`
    /// ended. Returns whether it was pending.
    pub fn abandon_detail(&mut self, id: &str) -> bool {
        let abandoned = self.intents.update(id, |intent| {
            let was = intent.detail_pending();
            if was && let Some(t) = intent.terminal_mut() {
                t.detail = DetailPhase::Open { pending: false };
            }
            (was, Save::Skip)
        });
        abandoned == Some(true)
    }

    fn money_mut(&mut self) -> &mut Money {
        &mut self.counters.live_mut().money
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Source;

    fn detail(coin: &str, chain: u64, amount: &str, paid: &str) -> Detail {
        let dec = |s: &str| Decimal::from_str_exact(s).unwrap();
        Detail {
            coin: coin.into(),
            chain,
            currency: "USD".into(),
            amount: dec(amount),
            paid: dec(paid),
            fee: dec("0.01"),
            net: dec(paid) - dec("0.01"),
            amount_cents: 1250,
        }
    }

    #[test]
    fn sums_are_exact_and_shortfalls_counted_for_underpaid_and_short_confirmations() {
        let mut m = Money::default();
        assert_eq!(
            m.count(Outcome::Confirmed, &detail("USDT", 1, "0.1", "0.1")),
            Ok(false)
        );
        assert_eq!(
            m.count(Outcome::Confirmed, &detail("USDT", 1, "0.2", "0.2")),
            Ok(false)
        );
        assert_eq!(
            m.count(Outcome::Confirmed, &detail("USDT", 1, "1", "0.9")),
            Ok(true)
        );
        assert_eq!(
            m.count(Outcome::Underpaid, &detail("USDT", 1, "10", "7.5")),
            Ok(false)
        );
        assert_eq!(
            m.count(Outcome::Failed, &detail("USDT", 1, "3", "0")),
            Ok(false)
        );
        let key = |o| (o, "USDT".to_string(), "1".to_string());
        assert_eq!(m.amount[&key(Outcome::Confirmed)].to_string(), "1.3");
        assert_eq!(m.paid[&key(Outcome::Confirmed)].to_string(), "1.2");
        assert_eq!(
            m.shortfall[&("USDT".to_string(), "1".to_string())].to_string(),
            "2.6",
            "0.1 short confirmed + 2.5 underpaid; a failed intent is no shortfall"
        );
        assert_eq!(m.confirmed_short, 1);
        assert_eq!(m.fee["USDT"].to_string(), "0.05");
        assert_eq!(
            m.fiat[&(Outcome::Confirmed, "USD".into())].to_string(),
            "37.50"
        );
    }

    #[test]
    fn label_values_are_capped_per_store() {
        let mut m = Money::default();
        for i in 0..100u64 {
            let coin = format!("C{i}");
            m.count(Outcome::Confirmed, &detail(&coin, i, "1", "1"))
                .unwrap();
        }
        m.count(Outcome::Confirmed, &detail("C3", 3, "1", "1"))
            .unwrap();
        m.count(Outcome::Confirmed, &detail("bad symbol\"", 3, "1", "1"))
            .unwrap();
        assert_eq!(m.fee.len(), MAX_LABEL_VALUES + 1);
        assert_eq!(m.fee["other"].to_string(), "0.85", "84 + the unsafe one");
        assert_eq!(
            m.fee["C3"].to_string(),
            "0.02",
            "a known value keeps its label"
        );
        let chains: BTreeSet<&str> = m.amount.keys().map(|k| k.2.as_str()).collect();
        assert_eq!(chains.len(), MAX_LABEL_VALUES + 1);
        assert_eq!(
            m.amount.len(),
            MAX_LABEL_VALUES + 2,
            "C0..C15 on their chains, other on other, other on the known chain 3"
        );
    }

    /// A given-up detail is counted once, no longer wanted (nor after a restore, which
    /// derives `detail_pending` from `wants_detail`), and a late answer counts nothing.
    #[test]
    fn a_given_up_detail_is_counted_once_and_never_counted_as_money() {
        use crate::state::tests::{A, HOUR, at, intents};
        let mut s = StoreState::default();
        s.set_source(Source::Config, &intents(&[A]), HOUR, at(1000.0));
        s.set_fetch_details(true, HOUR, at(1000.0));
        s.observe_status(A, Status::Canceled, at(1001.0));
        assert!(s.intent(A).unwrap().detail_pending());
        assert!(s.give_up_detail(A, Some("req_1"), at(1002.0)));
        assert!(!s.give_up_detail(A, Some("req_2"), at(1003.0)), "once");
        assert_eq!(s.counters.live().money.details_given_up, 1);
        let given_up = s.intent(A).unwrap().row().detail_given_up.unwrap();
        assert_eq!(
            (given_up.at, given_up.request_id.as_deref()),
            (at(1002.0), Some("req_1"))
        );
        assert!(!s.intent(A).unwrap().detail_pending() && !s.intent(A).unwrap().wants_detail());
        s.set_fetch_details(true, HOUR, at(1004.0));
        assert!(!s.intent(A).unwrap().detail_pending(), "not wanted again");
        let late = detail("USDT", 1, "1", "0");
        assert_eq!(
            s.record_detail(A, late, at(1005.0)),
            DetailRecorded::Ignored
        );
        assert_eq!(s.counters.live().money.amount.len(), 0);
    }

    /// A confirmation paid short is marked on the remembered outcome (the landing page
    /// lists it with the failures), also after a restore; one paid in full is not.
    #[test]
    fn a_short_confirmation_is_marked_on_the_remembered_outcome() {
        use crate::state::tests::{A, HOUR, at, intents};
        const B: &str = "65f0a1b2c3d4e5f6a7b8c9d1";
        let mut s = StoreState::default();
        s.set_source(Source::Config, &intents(&[A, B]), HOUR, at(1000.0));
        s.set_fetch_details(true, HOUR, at(1000.0));
        s.observe_status(A, Status::Confirmed, at(1001.0));
        s.observe_status(B, Status::Confirmed, at(1002.0));
        let short = s.record_detail(A, detail("USDT", 1, "25.00", "24.50"), at(1003.0));
        assert_eq!(
            short,
            DetailRecorded::Counted {
                outcome: Outcome::Confirmed,
                short: true
            }
        );
        s.record_detail(B, detail("USDT", 1, "25.00", "25.00"), at(1004.0));
        let note = |s: &StoreState, id: &str| {
            let f = s
                .oncall
                .recent()
                .iter()
                .find(|f| f.id.as_str() == id)
                .unwrap();
            f.short.clone()
        };
        assert_eq!(note(&s, A).as_deref(), Some("paid 24.50 of 25.00 USDT"));
        assert_eq!(note(&s, B), None);
        s.oncall = Default::default();
        s.remember_restored_outcomes();
        assert_eq!(note(&s, A).as_deref(), Some("paid 24.50 of 25.00 USDT"));
        assert_eq!(note(&s, B), None);
    }

    #[test]
    fn an_overflow_counts_nothing() {
        let mut m = Money::default();
        let mut huge = detail("USDT", 1, "1", "1");
        huge.amount = Decimal::MAX;
        m.count(Outcome::Confirmed, &huge).unwrap();
        let before = m.clone();
        assert_eq!(
            m.count(Outcome::Confirmed, &huge),
            Err(NotCounted::Overflow)
        );
        assert_eq!(m, before);
    }
}
