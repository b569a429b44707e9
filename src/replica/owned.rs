//! The partitions this process may work on now, as its lease task last published them:
//! the pollers read it before every request, so a replica polls only what it holds, and
//! stops on its own once its leases' deadline passes without a renewal (a database it
//! cannot reach, a pause), before another replica may take them.

use tokio::sync::watch;
use tokio::time::Instant;

use super::lease::{PARTITIONS, Partition, partition_of};

/// A set of partitions held until a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Owned {
    bits: [u64; 4],
    count: u16,
    /// The earliest deadline of the leases held; none held: `None`.
    until: Option<Instant>,
}

/// What the pollers follow: the lease task's latest [`Owned`].
pub type Ownership = watch::Receiver<Owned>;

impl Owned {
    /// `partitions`, each held until `until` at least.
    pub fn new(partitions: impl IntoIterator<Item = Partition>, until: Instant) -> Owned {
        let mut owned = Owned::default();
        for p in partitions {
            let (word, bit) = (usize::from(p.get() / 64), p.get() % 64);
            if owned.bits[word] & (1 << bit) == 0 {
                owned.bits[word] |= 1 << bit;
                owned.count += 1;
            }
        }
        owned.until = (owned.count > 0).then_some(until);
        owned
    }

    /// Until when the leases held run, if any is.
    pub fn until(&self) -> Option<Instant> {
        self.until
    }

    /// How many partitions are held.
    pub fn count(&self) -> u16 {
        self.count
    }

    /// The part of the group's work this is: held partitions ÷ [`PARTITIONS`].
    pub fn share(&self) -> f64 {
        f64::from(self.count) / f64::from(PARTITIONS)
    }

    /// Whether the intent `id` may be worked on at `now`: its partition is held and the
    /// leases' deadline has not passed.
    pub fn covers(&self, id: &str, now: Instant) -> bool {
        self.claims(id) && self.until.is_some_and(|until| now < until)
    }

    /// Whether the intent `id`'s partition is among those held, whatever the deadline:
    /// whose per-intent series and aggregates this replica exports (they do not vanish
    /// while the database is out of reach).
    pub fn claims(&self, id: &str) -> bool {
        let p = partition_of(id).get();
        self.bits[usize::from(p / 64)] & (1 << (p % 64)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn covers_the_held_partitions_until_the_deadline() {
        let now = Instant::now();
        let id = "6700000000000000000000aa";
        let mine = partition_of(id);
        let other = Partition::new((mine.get() + 1) % PARTITIONS).unwrap();
        let owned = Owned::new([mine, mine], now + Duration::from_secs(5));
        assert_eq!(owned.count(), 1);
        assert!(owned.covers(id, now));
        assert!(!owned.covers(id, now + Duration::from_secs(5)));
        assert!(!Owned::new([other], now + Duration::from_secs(5)).covers(id, now));
        assert!(!Owned::default().covers(id, now));
        let all = Owned::new((0..PARTITIONS).filter_map(Partition::new), now);
        assert_eq!((all.count(), all.share()), (256, 1.0));
    }
}
