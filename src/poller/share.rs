//! A replica's part of a store in a group sharing one state database (issue #24): which
//! intents it polls (those of the partitions it holds, while its leases run), and the
//! store's budget and concurrency times its share of the partitions, so that together
//! the replicas stay within them. A process on its own polls everything, with all of it.

use tokio::time::Instant;

use crate::replica::owned::Ownership;

pub struct Share(Option<Ownership>);

impl Share {
    pub fn new(ownership: Option<Ownership>) -> Share {
        Share(ownership)
    }

    /// Whether this process polls the intent `id` at `now`.
    pub fn covers(&self, id: &str, now: Instant) -> bool {
        self.0.as_ref().is_none_or(|o| o.borrow().covers(id, now))
    }

    /// The part of the store's work that is this process's: 1 on its own.
    pub fn fraction(&self) -> f64 {
        self.0.as_ref().map_or(1.0, |o| o.borrow().share())
    }

    /// This process's part of `max_concurrency`: rounded down, at least one request while
    /// it holds anything (a group of more replicas than `max_concurrency` can exceed it).
    pub fn concurrency(&self, max: usize) -> usize {
        match &self.0 {
            None => max,
            Some(o) if o.borrow().count() == 0 => 0,
            Some(_) => ((max as f64 * self.fraction()) as usize).max(1),
        }
    }

    /// Resolves when what this process holds changed (never on its own).
    pub async fn changed(&mut self) {
        let followed = match &mut self.0 {
            Some(o) => o.changed().await.is_ok(),
            None => false,
        };
        if !followed {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::lease::{PARTITIONS, Partition};
    use crate::replica::owned::Owned;
    use std::time::Duration;

    #[test]
    fn a_quarter_of_the_partitions_is_a_quarter_of_the_budget_and_concurrency() {
        let until = Instant::now() + Duration::from_secs(10);
        let quarter = Owned::new((0..PARTITIONS / 4).filter_map(Partition::new), until);
        let (_tx, rx) = tokio::sync::watch::channel(quarter);
        let share = Share::new(Some(rx));
        assert_eq!(share.fraction(), 0.25);
        assert_eq!(share.concurrency(64), 16);
        assert_eq!(share.concurrency(2), 1);
        let (_tx, none) = tokio::sync::watch::channel(Owned::default());
        assert_eq!(Share::new(Some(none)).concurrency(64), 0);
        let alone = Share::new(None);
        assert_eq!((alone.fraction(), alone.concurrency(64)), (1.0, 64));
        assert!(alone.covers("anything", Instant::now()));
    }
}
