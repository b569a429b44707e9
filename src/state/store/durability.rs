//! The durability barrier: which change version the store has committed.
//!
//! The state numbers every recorded change ([`crate::state::Changes::record`]); the
//! writer commits everything recorded up to a version in one batch, then marks that
//! version committed here. A registration or a webhook is answered once its version is
//! committed, and the relay sends only events a commit holds. It lives beside the store
//! and the writer, not in the state: whether a change is durable is only known where it
//! is written.

use std::time::Duration;

use tokio::sync::watch;

/// The latest committed change version, and who waits for one.
#[derive(Debug)]
pub struct Durability {
    committed: watch::Sender<u64>,
}

impl Default for Durability {
    fn default() -> Self {
        Self {
            committed: watch::Sender::new(0),
        }
    }
}

/// The state database did not commit a change in time (or the writer is gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the state database did not commit the change in time")]
pub struct NotDurable;

impl Durability {
    /// Everything up to `version` is durable; wakes who waits for it. Never goes back.
    pub fn mark_committed(&self, version: u64) {
        self.committed.send_if_modified(|c| {
            let newer = version > *c;
            *c = (*c).max(version);
            newer
        });
    }

    /// Follows the committed version: `changed()` resolves after each commit.
    pub fn commits(&self) -> watch::Receiver<u64> {
        self.committed.subscribe()
    }

    /// Resolves once `version` is committed, or fails after `limit`.
    pub async fn durable(&self, version: u64, limit: Duration) -> Result<(), NotDurable> {
        let mut committed = self.committed.subscribe();
        match tokio::time::timeout(limit, committed.wait_for(|c| *c >= version)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(NotDurable),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(10);

    /// A waiter is released by the commit of its version or a later one, not before, and
    /// a commit of an older version never takes the barrier back.
    #[tokio::test]
    async fn a_version_is_durable_once_it_or_a_later_one_is_committed() {
        let durability = std::sync::Arc::new(Durability::default());
        let mut commits = durability.commits();
        assert_eq!(
            durability.durable(1, Duration::from_millis(20)).await,
            Err(NotDurable)
        );
        let waiter = {
            let durability = std::sync::Arc::clone(&durability);
            tokio::spawn(async move { durability.durable(2, LONG).await })
        };
        durability.mark_committed(1);
        commits.changed().await.unwrap();
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(
            !waiter.is_finished(),
            "version 1 does not release version 2"
        );
        durability.mark_committed(3);
        assert_eq!(waiter.await.unwrap(), Ok(()));
        assert_eq!(durability.durable(2, LONG).await, Ok(()));
        durability.mark_committed(2);
        assert_eq!(*commits.borrow_and_update(), 3, "never goes back");
        assert!(
            !commits.has_changed().unwrap(),
            "an older commit wakes nobody"
        );
    }
}
