//! Intents that never finish (issue #13): a non-terminal intent watched longer than its
//! store's `max_watch_age` expires, one still `not_found` `not_found_ttl` after it was
//! added is dropped. Either way it is no longer polled, is counted once (write-ahead,
//! like the outcomes), and stays final like a terminal intent: across restarts, and when
//! removed and put back within `terminal_retention`.
//!
//! Ages count from `added_at`, when the intent joined the watch list (kept in the state
//! file). A given-up intent stays in the watch list while the config names it, but has
//! no per-intent series and counts under no status in `allscale_checkout_intents`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{IntentState, StoreState};
use crate::config::StoreConfig;

/// Why an intent was dropped from polling: the `reason` label of
/// `allscale_exporter_intents_dropped_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    /// Still API error 50001 `not_found_ttl` after it was added.
    NotFound,
}

impl DropReason {
    pub const ALL: [DropReason; 1] = [DropReason::NotFound];

    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::NotFound => "not_found",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

serde_as_text!(DropReason, "drop reason");

/// When and why an intent was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dropped {
    pub reason: DropReason,
    /// Unix seconds.
    pub at: f64,
}

/// How an intent stopped being polled without reaching a terminal status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    Expired,
    Dropped(DropReason),
}

/// A store's `max_watch_age` and `not_found_ttl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchLimits {
    pub max_watch_age: Duration,
    pub not_found_ttl: Duration,
}

impl From<&StoreConfig> for WatchLimits {
    fn from(store: &StoreConfig) -> Self {
        Self {
            max_watch_age: store.max_watch_age,
            not_found_ttl: store.not_found_ttl,
        }
    }
}

impl IntentState {
    /// Expired or dropped: not polled again, like a terminal intent.
    pub fn is_given_up(&self) -> bool {
        self.expired_at.is_some() || self.dropped.is_some()
    }

    /// Terminal or given up: never polled again.
    pub fn is_final(&self) -> bool {
        self.is_terminal() || self.is_given_up()
    }

    /// When the intent became final, if it did (retirement counts from then).
    pub fn final_at(&self) -> Option<f64> {
        self.terminal_at
            .or(self.expired_at)
            .or(self.dropped.map(|d| d.at))
    }

    /// The status class `/metrics` and `/` count it under: none once given up.
    pub fn shown_class(&self) -> Option<super::StatusClass> {
        self.class().filter(|_| !self.is_given_up())
    }

    /// Whether, at `now`, the intent is past one of the limits.
    fn due_give_up(&self, now: f64, limits: WatchLimits) -> Option<GiveUp> {
        if self.is_final() {
            return None;
        }
        let age = now - self.added_at?;
        if self.not_found && age >= limits.not_found_ttl.as_secs_f64() {
            Some(GiveUp::Dropped(DropReason::NotFound))
        } else if age >= limits.max_watch_age.as_secs_f64() {
            Some(GiveUp::Expired)
        } else {
            None
        }
    }
}

impl StoreState {
    /// Called before an intent is polled: expires or drops it if it is past a limit,
    /// counting it once. Returns what happened; `None` leaves it to be polled.
    pub fn give_up_if_due(&mut self, id: &str, now: f64, limits: WatchLimits) -> Option<GiveUp> {
        let place = self.place(id);
        let intent = self.intents.get_mut(id)?;
        let give_up = intent.due_give_up(now, limits)?;
        match give_up {
            GiveUp::Expired => {
                intent.expired_at = Some(now);
                self.expired_total += 1;
            }
            GiveUp::Dropped(reason) => {
                intent.dropped = Some(Dropped { reason, at: now });
                *self.dropped_total.entry(reason).or_insert(0) += 1;
            }
        }
        self.mark_dirty(id);
        self.replace_on_board(id, place);
        Some(give_up)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Status;
    use crate::state::tests::{A, B, HOUR, intents};

    const LIMITS: WatchLimits = WatchLimits {
        max_watch_age: Duration::from_secs(100),
        not_found_ttl: Duration::from_secs(10),
    };

    #[test]
    fn expires_at_the_age_and_is_counted_once() {
        let mut s = StoreState::new();
        s.set_source(crate::state::Source::Config, &intents(&[A]), HOUR, 1000.0);
        assert_eq!(s.intents[A].added_at, Some(1000.0));
        s.observe_status(A, Status::OnChain, 1001.0);
        assert_eq!(s.give_up_if_due(A, 1099.9, LIMITS), None);
        assert_eq!(s.pollable().count(), 1);
        assert_eq!(s.give_up_if_due(A, 1100.0, LIMITS), Some(GiveUp::Expired));
        assert_eq!(s.give_up_if_due(A, 1200.0, LIMITS), None, "counted once");
        assert_eq!(s.expired_total, 1);
        assert_eq!(s.pollable().count(), 0);
        assert_eq!(s.intents[A].shown_class(), None);
        // A late answer changes nothing.
        assert_eq!(
            s.observe_status(A, Status::Confirmed, 1201.0),
            crate::state::Change::default()
        );
        assert_eq!(s.terminal_total[&crate::api::Outcome::Confirmed], 0);
    }

    #[test]
    fn not_found_is_dropped_at_the_ttl_and_found_ones_are_not() {
        let mut s = StoreState::new();
        s.set_source(crate::state::Source::Config, &intents(&[A, B]), HOUR, 0.0);
        s.observe_not_found(A, 1.0);
        s.observe_not_found(B, 1.0);
        s.observe_status(B, Status::Created, 5.0);
        assert_eq!(s.give_up_if_due(A, 9.0, LIMITS), None);
        assert_eq!(
            s.give_up_if_due(A, 10.0, LIMITS),
            Some(GiveUp::Dropped(DropReason::NotFound))
        );
        assert_eq!(s.give_up_if_due(B, 10.0, LIMITS), None, "found since");
        assert_eq!(s.dropped_total[&DropReason::NotFound], 1);
        assert_eq!(s.expired_total, 0, "a dropped intent does not expire too");
        assert_eq!(s.give_up_if_due(A, 500.0, LIMITS), None);
        assert_eq!(s.pollable().collect::<Vec<_>>(), [B]);
    }

    #[test]
    fn a_given_up_intent_stays_final_when_removed_and_put_back_within_the_retention() {
        let mut s = StoreState::new();
        s.set_source(crate::state::Source::Config, &intents(&[A, B]), HOUR, 0.0);
        s.observe_status(A, Status::OnChain, 1.0);
        s.observe_not_found(B, 1.0);
        s.give_up_if_due(A, 100.0, LIMITS);
        s.give_up_if_due(B, 100.0, LIMITS);
        s.set_source(crate::state::Source::Config, &intents(&[]), HOUR, 200.0);
        assert_eq!(s.retired.len(), 2);
        s.set_source(crate::state::Source::Config, &intents(&[A, B]), HOUR, 300.0);
        assert_eq!(s.pollable().count(), 0);
        assert_eq!(
            s.give_up_if_due(A, 400.0, LIMITS),
            None,
            "not counted again"
        );
        assert_eq!(s.expired_total, 1);
        assert_eq!(s.dropped_total[&DropReason::NotFound], 1);
        // Kept out past the retention (from when they gave up): forgotten; back, they
        // start afresh with a new added_at.
        s.set_source(crate::state::Source::Config, &intents(&[]), HOUR, 400.0);
        s.set_source(
            crate::state::Source::Config,
            &intents(&[]),
            HOUR,
            100.0 + 3600.0,
        );
        assert!(s.retired.is_empty());
        s.set_source(crate::state::Source::Config, &intents(&[A]), HOUR, 5000.0);
        assert_eq!(s.intents[A].added_at, Some(5000.0));
        assert_eq!(s.pollable().count(), 1);
    }
}
