//! What the landing page and the `/metrics` aggregates need of a store's watch list, kept
//! current as intents change, so neither walks the intents under the store's lock for
//! it: the intents per shown status, and the non-final ones of each status by when they
//! entered it (the longest waits first).

use std::collections::BTreeSet;

use super::{IntentState, StoreState};
use crate::api::StatusClass;
use crate::config::IntentId;

/// An intent's place on the board: its shown status, and while it is not final, since when.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Place {
    class: Option<StatusClass>,
    since: Option<f64>,
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
                .status_changed_at
                .filter(|_| class.is_some() && !intent.is_final()),
        }
    }

    /// Its status and since when, while it waits (is not final).
    fn waiting(self) -> Option<(StatusClass, f64)> {
        self.class.zip(self.since)
    }
}

/// A time ordered totally (NaN never comes from the clock, but must not break the set).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Since(f64);

impl Eq for Since {}
impl PartialOrd for Since {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Since {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// The counts and the waiting intents of one store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Board {
    counts: [u64; StatusClass::ALL.len()],
    /// The non-final intents of each shown status, by when they entered it.
    waiting: [BTreeSet<(Since, IntentId)>; StatusClass::ALL.len()],
}

impl Board {
    /// Watched intents per shown status, in `StatusClass::ALL` order.
    pub fn counts(&self) -> [u64; StatusClass::ALL.len()] {
        self.counts
    }

    /// The non-final intents that have waited longest in their status, longest first.
    pub fn longest_waiting(&self, n: usize) -> impl Iterator<Item = (f64, &IntentId)> {
        let mut first: Vec<&(Since, IntentId)> =
            self.waiting.iter().flat_map(|w| w.iter().take(n)).collect();
        first.sort_unstable();
        first.into_iter().take(n).map(|(since, id)| (since.0, id))
    }

    /// Per shown status, in `StatusClass::ALL` order, when the longest-waiting non-final
    /// intent entered it (`None` when none waits in it).
    pub fn oldest(&self) -> [Option<f64>; StatusClass::ALL.len()] {
        std::array::from_fn(|class| self.waiting[class].first().map(|(since, _)| since.0))
    }

    fn shift(&mut self, id: &IntentId, before: Place, after: Place) {
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
                self.waiting[class as usize].remove(&(Since(since), id.clone()));
            }
            if let Some((class, since)) = after.waiting() {
                self.waiting[class as usize].insert((Since(since), id.clone()));
            }
        }
    }

    /// The board of `intents`, from scratch (restores and tests).
    fn of<'a>(intents: impl Iterator<Item = (&'a IntentId, &'a IntentState)>) -> Board {
        let mut board = Board::default();
        for (id, intent) in intents {
            board.shift(id, Place::NONE, Place::of(intent));
        }
        board
    }
}

impl StoreState {
    /// Moves `id` on the board from `before` to where it is now (off it when it left).
    pub(super) fn replace_on_board(&mut self, id: &str, before: Place) {
        let (intents, board) = (&self.intents, &mut self.board);
        match intents.get_key_value(id) {
            Some((key, intent)) => board.shift(key, before, Place::of(intent)),
            None => {
                if let Some(key) = IntentId::parse(id) {
                    board.shift(&key, before, Place::NONE);
                }
            }
        }
    }

    /// Where `id` is on the board now.
    pub(super) fn place(&self, id: &str) -> Place {
        self.intents.get(id).map_or(Place::NONE, Place::of)
    }

    /// The board made again from every watched intent (after a restore).
    pub(super) fn rebuild_board(&mut self) {
        self.board = Board::of(self.intents.iter());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Status;
    use crate::state::Source;
    use crate::state::expiry::WatchLimits;
    use crate::state::tests::{HOUR, intents};
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
        s.set_source(Source::Config, &intents(&IDS), HOUR, 0.0);
        s.observe_status(IDS[0], Status::OnChain, 30.0);
        s.observe_status(IDS[1], Status::Created, 10.0);
        s.observe_status(IDS[2], Status::OnChain, 20.0);
        s.observe_status(IDS[3], Status::Confirmed, 5.0);
        let longest: Vec<(f64, &str)> = s
            .board
            .longest_waiting(2)
            .map(|(since, id)| (since, id.as_str()))
            .collect();
        assert_eq!(longest, [(10.0, IDS[1]), (20.0, IDS[2])]);
        assert_eq!(
            s.board.longest_waiting(9).count(),
            3,
            "confirmed: not waiting"
        );
        let oldest = s.board.oldest();
        assert_eq!(oldest[StatusClass::Created as usize], Some(10.0));
        assert_eq!(oldest[StatusClass::OnChain as usize], Some(20.0));
        assert_eq!(oldest[StatusClass::Confirmed as usize], None);
        s.observe_status(IDS[2], Status::Created, 40.0);
        assert_eq!(s.board.oldest()[StatusClass::OnChain as usize], Some(30.0));
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
                        s.set_source(Source::Config, &intents(&chosen), HOUR, now);
                    }
                    1 | 2 => {
                        s.observe_status(id, Status::from_code(CODES[code]), now);
                    }
                    3 => {
                        s.observe_not_found(id, now);
                    }
                    _ => {
                        s.give_up_if_due(id, now, limits);
                    }
                }
                proptest::prop_assert_eq!(&s.board, &Board::of(s.intents.iter()));
            }
        }
    }
}
