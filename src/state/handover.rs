//! Work that moves between replicas sharing a state database (issue #24): a replica that
//! gains a partition takes over what the replica before it committed of its intents, so
//! an intent that finished there is neither polled nor counted again here.

use super::{StoreState, intents::Save};

impl StoreState {
    /// Takes another replica's committed view of the watched intent `id` where it is
    /// further along ([`super::IntentState::adopt`]); the poller hears of it (a final
    /// intent leaves its schedule). Nothing is counted and no row is written: the row is
    /// the other replica's. Whether it was taken.
    pub fn adopt(&mut self, id: &str, theirs: &super::IntentState) -> bool {
        let taken = self
            .intents
            .update(id, |intent| (intent.adopt(theirs), Save::Skip))
            .unwrap_or(false);
        if taken && let Some((key, _)) = self.intents.get_key_value(id) {
            let key = key.clone();
            self.intents.touch(&key);
        }
        taken
    }
}
