//! The poll queue: due polls bucketed into slots of [`SLOT`] by due time.
//!
//! The poller sends every poll due within the next [`SLOT`] at one wake-up, so finer
//! order than a slot buys nothing. A binary heap of 100k entries cost a cache-missing
//! O(log n) walk per push and pop; here a push appends to its slot's queue and a pop
//! takes from the earliest slot's front, both O(1) on memory that is read in order.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

/// Width of a slot: polls due within it go out together.
pub const SLOT: Duration = super::budget::MIN_WAIT;

/// One queued poll: the intent and the ticket of the schedule that queued it.
pub type Entry = (u64, Arc<str>);

pub struct Calendar {
    origin: Instant,
    slots: BTreeMap<u64, VecDeque<Entry>>,
}

impl Calendar {
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            slots: BTreeMap::new(),
        }
    }

    fn slot_of(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.origin);
        (since.as_nanos() / SLOT.as_nanos()) as u64
    }

    pub fn push(&mut self, at: Instant, entry: Entry) {
        let slot = self.slot_of(at);
        self.slots.entry(slot).or_default().push_back(entry);
    }

    /// When the earliest queued slot starts, if anything is queued.
    pub fn first_start(&self) -> Option<Instant> {
        let (&slot, _) = self.slots.first_key_value()?;
        Some(slot_start(self.origin, slot))
    }

    /// The next entry of the earliest slot, started or not.
    pub fn first(&self) -> Option<&Entry> {
        self.slots.first_key_value()?.1.front()
    }

    /// The next entry of the earliest slot, if that slot has started by `now`.
    pub fn peek_started(&self, now: Instant) -> Option<&Entry> {
        let (&slot, entries) = self.slots.first_key_value()?;
        (slot_start(self.origin, slot) <= now).then(|| entries.front())?
    }

    /// Takes the entry [`Calendar::peek_started`] shows.
    pub fn pop_started(&mut self, now: Instant) -> Option<Entry> {
        let origin = self.origin;
        let mut first = self.slots.first_entry()?;
        if slot_start(origin, *first.key()) > now {
            return None;
        }
        let entry = first.get_mut().pop_front();
        if first.get().is_empty() {
            first.remove();
        }
        entry
    }
}

fn slot_start(origin: Instant, slot: u64) -> Instant {
    origin + Duration::from_nanos((SLOT.as_nanos() as u64).saturating_mul(slot))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> Entry {
        (n, Arc::from(format!("i{n}")))
    }

    #[test]
    fn pops_slot_by_slot_in_order_once_each_has_started() {
        let mut c = Calendar::new();
        let t0 = c.origin;
        c.push(t0 + SLOT * 3 + Duration::from_millis(1), id(4));
        c.push(t0 + Duration::from_millis(10), id(1));
        c.push(t0 + SLOT + Duration::from_millis(5), id(3));
        c.push(t0 + Duration::from_millis(20), id(2));
        assert_eq!(c.first_start(), Some(t0));
        assert_eq!(c.first().map(|e| e.0), Some(1));
        let popped = |c: &mut Calendar, now| c.pop_started(now).map(|e| e.0);
        // Slot 0 has started: its polls go out (in push order), slot 1 waits.
        assert_eq!(c.peek_started(t0).map(|e| e.0), Some(1));
        assert_eq!(popped(&mut c, t0), Some(1));
        assert_eq!(popped(&mut c, t0), Some(2));
        assert_eq!(popped(&mut c, t0), None);
        assert_eq!(c.first_start(), Some(t0 + SLOT));
        assert_eq!(popped(&mut c, t0 + SLOT), Some(3));
        assert_eq!(c.first_start(), Some(t0 + SLOT * 3));
        assert_eq!(popped(&mut c, t0 + SLOT * 2), None);
        assert_eq!(popped(&mut c, t0 + SLOT * 10), Some(4));
        assert_eq!(c.first_start(), None);
    }

    #[test]
    fn past_due_times_go_to_the_first_slot() {
        let mut c = Calendar::new();
        let late = c.origin - Duration::from_secs(5);
        c.push(late, id(1));
        assert_eq!(c.first_start(), Some(c.origin));
        assert_eq!(c.pop_started(c.origin).map(|e| e.0), Some(1));
    }
}
