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

use super::intents::Save;
use super::{IntentState, Phase, StoreState};
use crate::clock::UnixTime;
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
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dropped {
    pub reason: DropReason,
    pub at: UnixTime,
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
    /// Whether, at `now`, the intent is past one of the limits.
    fn due_give_up(&self, now: UnixTime, limits: WatchLimits) -> Option<GiveUp> {
        if self.is_final() {
            return None;
        }
        let age = now.since(self.added_at()?);
        if self.not_found() && age >= limits.not_found_ttl {
            Some(GiveUp::Dropped(DropReason::NotFound))
        } else if age >= limits.max_watch_age {
            Some(GiveUp::Expired)
        } else {
            None
        }
    }
}

impl StoreState {
    /// Called before an intent is polled: expires or drops it if it is past a limit,
    /// counting it once. Returns what happened; `None` leaves it to be polled.
    pub fn give_up_if_due(
        &mut self,
        id: &str,
        now: UnixTime,
        limits: WatchLimits,
    ) -> Option<GiveUp> {
        let give_up = self.intents.update(id, |intent| {
            let Some(give_up) = intent.due_give_up(now, limits) else {
                return (None, Save::Skip);
            };
            intent.finish(match give_up {
                GiveUp::Expired => Phase::Expired { at: now },
                GiveUp::Dropped(reason) => Phase::Dropped { reason, at: now },
            });
            (Some(give_up), Save::Row)
        })??;
        let counts = self.counters.live_mut();
        match give_up {
            GiveUp::Expired => counts.expired_total += 1,
            GiveUp::Dropped(reason) => counts.dropped(reason),
        }
        Some(give_up)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Status;
    use crate::state::Source;
    use crate::state::tests::{A, B, HOUR, at, intents};

    const LIMITS: WatchLimits = WatchLimits {
        max_watch_age: Duration::from_secs(100),
        not_found_ttl: Duration::from_secs(10),
    };

    #[test]
    fn expires_at_the_age_and_is_counted_once() {
        let mut s = StoreState::default();
        s.set_source(Source::Config, &intents(&[A]), HOUR, at(1000.0));
        assert_eq!(s.intent(A).unwrap().added_at(), Some(at(1000.0)));
        s.observe_status(A, Status::OnChain, at(1001.0));
        assert_eq!(s.give_up_if_due(A, at(1099.9), LIMITS), None);
        assert_eq!(s.pollable().count(), 1);
        assert_eq!(
            s.give_up_if_due(A, at(1100.0), LIMITS),
            Some(GiveUp::Expired)
        );
        assert_eq!(
            s.give_up_if_due(A, at(1200.0), LIMITS),
            None,
            "counted once"
        );
        assert_eq!(s.counters.live().expired_total, 1);
        assert_eq!(s.pollable().count(), 0);
        assert_eq!(s.intent(A).unwrap().shown_class(), None);
        // A late answer changes nothing.
        assert_eq!(
            s.observe_status(A, Status::Confirmed, at(1201.0)),
            crate::state::Change::default()
        );
        assert_eq!(
            s.counters.live().terminal_total[&crate::api::Outcome::Confirmed],
            0
        );
    }

    #[test]
    fn not_found_is_dropped_at_the_ttl_and_found_ones_are_not() {
        let mut s = StoreState::default();
        s.set_source(Source::Config, &intents(&[A, B]), HOUR, at(0.0));
        s.observe_not_found(A, at(1.0));
        s.observe_not_found(B, at(1.0));
        s.observe_status(B, Status::Created, at(5.0));
        assert_eq!(s.give_up_if_due(A, at(9.0), LIMITS), None);
        assert_eq!(
            s.give_up_if_due(A, at(10.0), LIMITS),
            Some(GiveUp::Dropped(DropReason::NotFound))
        );
        assert_eq!(s.give_up_if_due(B, at(10.0), LIMITS), None, "found since");
        assert_eq!(s.counters.live().dropped_total[&DropReason::NotFound], 1);
        assert_eq!(
            s.counters.live().expired_total,
            0,
            "a dropped intent does not expire too"
        );
        assert_eq!(s.give_up_if_due(A, at(500.0), LIMITS), None);
        assert_eq!(s.pollable().collect::<Vec<_>>(), [B]);
    }

    #[test]
    fn a_given_up_intent_stays_final_when_removed_and_put_back_within_the_retention() {
        let mut s = StoreState::default();
        s.set_source(Source::Config, &intents(&[A, B]), HOUR, at(0.0));
        s.observe_status(A, Status::OnChain, at(1.0));
        s.observe_not_found(B, at(1.0));
        s.give_up_if_due(A, at(100.0), LIMITS);
        s.give_up_if_due(B, at(100.0), LIMITS);
        s.set_source(Source::Config, &intents(&[]), HOUR, at(200.0));
        assert_eq!(s.intents.retired_len(), 2);
        s.set_source(Source::Config, &intents(&[A, B]), HOUR, at(300.0));
        assert_eq!(s.pollable().count(), 0);
        assert_eq!(
            s.give_up_if_due(A, at(400.0), LIMITS),
            None,
            "not counted again"
        );
        assert_eq!(s.counters.live().expired_total, 1);
        assert_eq!(s.counters.live().dropped_total[&DropReason::NotFound], 1);
        // Kept out past the retention (from when they gave up): forgotten; back, they
        // start afresh with a new added_at.
        s.set_source(Source::Config, &intents(&[]), HOUR, at(400.0));
        s.set_source(Source::Config, &intents(&[]), HOUR, at(100.0 + 3600.0));
        assert_eq!(s.intents.retired_len(), 0);
        s.set_source(Source::Config, &intents(&[A]), HOUR, at(5000.0));
        assert_eq!(s.intent(A).unwrap().added_at(), Some(at(5000.0)));
        assert_eq!(s.pollable().count(), 1);
    }
}
