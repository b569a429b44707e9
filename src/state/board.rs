//! What the landing page and the `/metrics` aggregates need of a store's watch list, kept
//! current as intents change, so neither walks the intents under the store's lock for
//! it: the intents per shown status, and the non-final ones of each status by when they
//! entered it (the longest waits first).

use std::collections::BTreeSet;

use super::IntentState;
use crate::api::StatusClass;
use crate::clock::UnixTime;
use crate::config::IntentId;

/// An intent's place on the board: its shown status, and while it is not final, since when.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Place {
    class: Option<StatusClass>,
    since: Option<UnixTime>,
}

impl Place {
    /// Not on the board (not watched, or no answer yet).
    pub(super) const NONE: Place = Place {
        class: None,
        since: None,
    };

    pub(super) fn of(intent: &IntentState) -> Place {
        let class = intent.shown_class();
        Place {
            class,
            since: intent
                .status_changed_at()
                .filter(|_| class.is_some() && !intent.is_final()),
        }
    }

    /// Its status and since when, while it waits (is not final).
    fn waiting(self) -> Option<(StatusClass, UnixTime)> {
        self.class.zip(self.since)
    }
}

/// The counts and the waiting intents of one store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Board {
    counts: [u64; StatusClass::ALL.len()],
    /// The non-final intents of each shown status, by when they entered it.
    waiting: [BTreeSet<(UnixTime, IntentId)>; StatusClass::ALL.len()],
}

impl Board {
    /// Watched intents per shown status, in `StatusClass::ALL` order.
    pub fn counts(&self) -> [u64; StatusClass::ALL.len()] {
        self.counts
    }

    /// The non-final intents that have waited longest in their status, longest first.
    pub fn longest_waiting(&self, n: usize) -> impl Iterator<Item = (UnixTime, &IntentId)> {
        let mut first: Vec<&(UnixTime, IntentId)> =
            self.waiting.iter().flat_map(|w| w.iter().take(n)).collect();
        first.sort_unstable();
        first.into_iter().take(n).map(|(since, id)| (*since, id))
    }

    /// Per shown status, in `StatusClass::ALL` order, when the longest-waiting non-final
    /// intent entered it (`None` when none waits in it).
    pub fn oldest(&self) -> [Option<UnixTime>; StatusClass::ALL.len()] {
        std::array::from_fn(|class| self.waiting[class].first().map(|(since, _)| *since))
    }

    pub(super) fn shift(&mut self, id: &IntentId, before: Place, after: Place) {
        if before == after {
            return;
        }
        if let Some(class) = before.class {
            let n = &mut self.counts[class as usize];
            *n = n.saturating_sub(1);
        }
        if let Some(class) = after.class {
            self.counts[class as usize] += 1;
        }
        if before.waiting() != after.waiting() {
            if let Some((class, since)) = before.waiting() {
                self.waiting[class as usize].remove(&(since, id.clone()));
            }
            if let Some((class, since)) = after.waiting() {
                self.waiting[class as usize].insert((since, id.clone()));
            }
        }
    }

    /// The board of `intents`, from scratch (restores and tests).
    pub fn of<'a>(intents: impl Iterator<Item = (&'a IntentId, &'a IntentState)>) -> Board {
        let mut board = Board::default();
        for (id, intent) in intents {
            board.shift(id, Place::NONE, Place::of(intent));
        }
        board
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Status;
    use crate::state::Source;
    use crate::state::StoreState;
    use crate::state::expiry::WatchLimits;
    use crate::state::tests::{HOUR, at, intents};
    use std::time::Duration;

    const IDS: [&str; 4] = [
        "aaaaaaaaaaaaaaaaaaaaaaaa",
        "bbbbbbbbbbbbbbbbbbbbbbbb",
        "cccccccccccccccccccccccc",
        "dddddddddddddddddddddddd",
    ];
    const CODES: [i64; 8] = [1, 2, 4, 10, 20, -1, -3, 99];

    /// The longest waits across statuses, longest first, and the oldest of each status.
    #[test]
    fn waits_are_kept_per_status_and_merged_longest_first() {
        let mut s = StoreState::default();
        s.set_source(Source::Config, &intents(&IDS), HOUR, at(0.0));
        s.observe_status(IDS[0], Status::OnChain, at(30.0));
        s.observe_status(IDS[1], Status::Created, at(10.0));
        s.observe_status(IDS[2], Status::OnChain, at(20.0));
        s.observe_status(IDS[3], Status::Confirmed, at(5.0));
        let longest: Vec<(UnixTime, &str)> = s
            .intents
            .board()
            .longest_waiting(2)
            .map(|(since, id)| (since, id.as_str()))
            .collect();
        assert_eq!(longest, [(at(10.0), IDS[1]), (at(20.0), IDS[2])]);
        assert_eq!(
            s.intents.board().longest_waiting(9).count(),
            3,
            "confirmed: not waiting"
        );
        let oldest = s.intents.board().oldest();
        assert_eq!(oldest[StatusClass::Created as usize], Some(at(10.0)));
        assert_eq!(oldest[StatusClass::OnChain as usize], Some(at(20.0)));
        assert_eq!(oldest[StatusClass::Confirmed as usize], None);
        s.observe_status(IDS[2], Status::Created, at(40.0));
        assert_eq!(
            s.intents.board().oldest()[StatusClass::OnChain as usize],
            Some(at(30.0))
        );
    }

    proptest::proptest! {
        /// Whatever happens to the watch list, the kept board equals one made from scratch.
        #[test]
        fn the_board_kept_as_intents_change_equals_a_fresh_walk(
            ops in proptest::collection::vec((0u8..5, 0usize..4, 0usize..8, 0u8..16), 1..60)
        ) {
            let mut s = StoreState::default();
            let limits = WatchLimits {
                max_watch_age: Duration::from_secs(50),
                not_found_ttl: Duration::from_secs(20),
            };
            for (step, (op, i, code, subset)) in ops.into_iter().enumerate() {
                let now = step as f64 * 3.0;
                let id = IDS[i];
                match op {
                    0 => {
                        let chosen: Vec<&str> =
                            IDS.iter().enumerate().filter(|(n, _)| subset & (1 << n) != 0).map(|(_, id)| *id).collect();
                        s.set_source(Source::Config, &intents(&chosen), HOUR, at(now));
                    }
                    1 | 2 => {
                        s.observe_status(id, Status::from_code(CODES[code]), at(now));
                    }
                    3 => {
                        s.observe_not_found(id, at(now));
                    }
                    _ => {
                        s.give_up_if_due(id, at(now), limits);
                    }
                }
                proptest::prop_assert_eq!(s.intents.board(), &Board::of(s.intents.iter()));
            }
        }
    }
}
