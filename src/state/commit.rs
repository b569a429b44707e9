//! The state's side of a commit: what the writer takes from it as a [`Batch`] for the
//! store (the dirty intents, the live counters, the webhook changes), and what it is
//! told back. The writer goes through these and never through a store's fields.

use super::store::{Batch, StoreBatch};
use super::{Counts, State, StoreHandle, WebhookWrite};

/// What a batch took of each store: the live counters, to export once committed, and
/// the relay events it queued.
#[derive(Debug)]
pub struct Taken(Vec<(StoreHandle, Counts, Vec<u64>)>);

impl Taken {
    /// The batch is committed: its counters become the exported ones and the relay
    /// events it queued are durable.
    pub fn committed(self) {
        for (handle, counts, queued) in self.0 {
            let mut st = handle.lock();
            st.counters.committed(counts);
            st.webhooks.committed(&queued);
        }
    }
}

impl State {
    /// Takes every store's dirty intents (as rows, `None` when forgotten), counters and
    /// webhook changes; every store the state keeps is in [`Batch::kept`].
    pub fn take_batch(&self) -> (Batch, Taken) {
        let mut batch = Batch::default();
        let mut taken = Vec::new();
        for handle in self.all_stores() {
            let mut st = handle.lock();
            let rows = st.intents.take_dirty();
            let counts = st.counters.live().clone();
            let webhooks = st.webhooks.take_pending();
            let memory = st.webhooks.memory();
            drop(st);
            let now = self.clock.now();
            let queued = queued_seqs(&webhooks);
            batch.kept.push(handle.name.clone());
            batch.stores.push(StoreBatch {
                name: handle.name.clone(),
                rows,
                counts: counts.clone(),
                webhooks,
                forget_nonces_before: now.before(memory.nonce_ttl),
                forget_ids_before: now.before(memory.id_ttl),
            });
            taken.push((handle, counts, queued));
        }
        (batch, Taken(taken))
    }

    /// A batch that was not committed: its intents are dirty again and its webhook
    /// changes go back in front, so the next commit writes them.
    pub fn put_back(&self, batch: Batch) {
        for store in batch.stores {
            if let Some(handle) = self.all_stores().into_iter().find(|h| h.name == store.name) {
                let mut st = handle.lock();
                st.intents
                    .mark_dirty(store.rows.into_iter().map(|(id, _)| id));
                st.webhooks.put_back(store.webhooks);
            }
        }
    }

    /// Without a store to write to: drops every store's dirty intents and pending
    /// webhook writes (nothing takes them; at 100k intents the dirty set alone held
    /// megabytes) and makes the events they queued relayable at once. A store opened
    /// later gets the whole state anyway.
    pub fn discard_writes(&self) {
        for handle in self.all_stores() {
            let mut st = handle.lock();
            st.intents.discard_dirty();
            let pending = st.webhooks.take_pending();
            st.webhooks.committed(&queued_seqs(&pending));
        }
    }
}

/// The relay events that `writes` queue.
fn queued_seqs(writes: &[WebhookWrite]) -> Vec<u64> {
    writes
        .iter()
        .filter_map(|w| match w {
            WebhookWrite::Queued(q) => Some(q.seq),
            _ => None,
        })
        .collect()
}
