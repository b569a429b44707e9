//! Work that moves between replicas sharing a state database (issue #24): a replica that
//! gains a partition takes over what the replica before it committed of its intents, so
//! an intent that finished there is neither polled nor counted again here; and the holder
//! of a partition learns of intents another replica added to the watch list (a
//! registration or a webhook that arrived there).

use super::intents::Save;
use super::{IntentState, Source, StoreState};
use crate::clock::UnixTime;
use crate::config::IntentId;

impl StoreState {
    /// Takes another replica's committed view of the intent `id`: watched here too when
    /// that replica added it to the watch list (a registration, or a webhook: the sources
    /// the group shares), and taken where it is further along
    /// ([`IntentState::adopt`]). Nothing is counted: the replica that saw it counted it.
    /// Whether anything changed.
    pub fn take_over(&mut self, id: &IntentId, theirs: &IntentState, now: UnixTime) -> bool {
        let mut joined = false;
        if self.intents.get(id.as_str()).is_none() {
            for source in theirs.sources.iter() {
                if matches!(source, Source::Api | Source::Webhook) {
                    self.intents.watch(id, source, theirs.order_id(), now);
                    joined = true;
                }
            }
        }
        self.adopt(id, theirs) || joined
    }

    /// [`IntentState::adopt`] for the watched intent `id`; the poller hears of it (a final
    /// intent leaves its schedule). No row is written for it: the row is the other's.
    fn adopt(&mut self, id: &IntentId, theirs: &IntentState) -> bool {
        let taken = self
            .intents
            .update(id.as_str(), |intent| (intent.adopt(theirs), Save::Skip))
            .unwrap_or(false);
        if taken {
            self.intents.touch(id);
        }
        taken
    }
}
