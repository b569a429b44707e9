//! The writer: group commits of every change through the storage boundary
//! ([`super::store`]), write-ahead.
//!
//! Each commit takes every store's dirty intents and counters at once (a burst of
//! answers or registrations is one transaction and one fsync), then marks their change
//! version committed ([`Durability`]): a registration is answered, and the outcome and
//! transition counters are exported, only after that. So a value Prometheus has scraped
//! is never above what a restart restores, and no outcome is counted twice.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::store::{Batch, Durability, Opened, Storage, StoreBatch, StoreError};
use super::{Counts, State, StoreHandle, WebhookWrite};
use crate::clock::unix_now;
use crate::lock;

/// Changes nobody waits for (statuses, outcomes) are committed this long after they
/// happen at the latest, so a burst of answers becomes one commit; a registration
/// waiting for its answer is committed at once, with whatever else is pending.
pub const FLUSH_DELAY: Duration = Duration::from_secs(1);

/// A failed commit is tried again this soon: counters and registrations wait for it.
pub const RETRY_SAVE: Duration = Duration::from_secs(1);

/// What a commit took of each store: the live counters, to export once committed, and
/// the relay events it queued.
type Committed = Vec<(StoreHandle, Counts, Vec<u64>)>;

/// Commits changes as they come until `shutdown` flips, then once more. `path` follows
/// the config (a reload may set, change or remove `state_file`; a new path gets the
/// whole state written). Without a path, or with the database restored read-only,
/// nothing is written, and nothing waits for it.
pub async fn run_writer(
    state: Arc<State>,
    storage: Storage,
    mut path: watch::Receiver<Option<PathBuf>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut last_error: Option<String> = None;
    loop {
        let stopping = tokio::select! {
            biased;
            _ = crate::stopped(&mut shutdown) => true,
            _ = path.changed() => false,
            _ = state.changes().changed() => {
                gather(&state).await;
                false
            }
            _ = tokio::time::sleep(RETRY_SAVE), if last_error.is_some() => false,
        };
        let target = path.borrow_and_update().clone();
        let read_only = target.as_deref().is_some_and(|target| {
            lock(&storage.slot)
                .as_ref()
                .is_some_and(|open| open.store.read_only() && open.target == target)
        });
        state.set_write_ahead(target.is_some() && !read_only);
        state.set_read_only(read_only);
        let result = match target {
            None => {
                *lock(&storage.slot) = None;
                nothing_to_write(&state, &storage.durability);
                Ok(())
            }
            // Restored read-only: not written this run (a reload naming it again included).
            Some(_) if read_only => {
                nothing_to_write(&state, &storage.durability);
                Ok(())
            }
            Some(target) => commit(&state, &storage, target).await,
        };
        match result {
            Ok(()) => {
                if last_error.take().is_some() {
                    tracing::info!("state database writes work again");
                }
            }
            Err(e) => {
                state.record_save(None);
                let text = e.to_string();
                if last_error.as_ref() != Some(&text) {
                    tracing::error!(error = %text, "cannot write the state database; will retry (outcome counters and registrations wait for it)");
                }
                last_error = Some(text);
            }
        }
        if stopping {
            break;
        }
    }
}

/// Waits for more changes to join the commit: until an urgent one comes, at most
/// [`FLUSH_DELAY`].
async fn gather(state: &State) {
    let changes = state.changes();
    if changes.take_urgent() {
        return;
    }
    let urgent = async {
        loop {
            changes.changed().await;
            if changes.take_urgent() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(FLUSH_DELAY, urgent).await;
}

/// One group commit to the store at `target` (opened first when it is not the open
/// one), off the runtime thread. A panic in there goes on to the writer's supervisor.
async fn commit(state: &Arc<State>, storage: &Storage, target: PathBuf) -> Result<(), StoreError> {
    let open = lock(&storage.slot)
        .as_ref()
        .is_some_and(|open| open.target == target);
    if !open {
        let (opening, open) = (Arc::clone(&storage.slot), storage.open);
        blocking(move || {
            // Free the lock of the store open so far before taking the new one.
            *lock(&opening) = None;
            let store = open(&target)?;
            *lock(&opening) = Some(Opened { target, store });
            Ok(())
        })
        .await?;
        state.mark_all_dirty();
    }
    let version = state.changes().version();
    let (batch, committed) = collect(state);
    let writing = Arc::clone(&storage.slot);
    let written = blocking(move || {
        let mut open = lock(&writing);
        match open.as_mut().map(|open| open.store.write(&batch)) {
            Some(Err(e)) => Ok(Err((e, batch))),
            _ => Ok(Ok(())),
        }
    })
    .await?;
    match written {
        Ok(()) => {
            publish(committed);
            storage.durability.mark_committed(version);
            state.record_save(Some(unix_now()));
            Ok(())
        }
        Err((e, batch)) => {
            redirty(state, batch);
            Err(e)
        }
    }
}

async fn blocking<T: Send + 'static>(
    job: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    match tokio::task::spawn_blocking(job).await {
        Ok(result) => result,
        Err(join) => std::panic::resume_unwind(join.into_panic()),
    }
}

/// Takes every store's dirty intents (as rows, `None` when forgotten) and counters.
pub(super) fn collect(state: &State) -> (Batch, Committed) {
    let mut batch = Batch::default();
    let mut committed = Vec::new();
    for handle in state.all_stores() {
        let mut st = handle.lock();
        let dirty = std::mem::take(&mut st.dirty);
        let rows = dirty
            .into_iter()
            .map(|id| {
                let row = st.intents.get(&id).or_else(|| st.retired.get(&id)).cloned();
                (id, row)
            })
            .collect();
        let counts = st.counts();
        let webhooks = std::mem::take(&mut st.webhooks.pending);
        let memory = st.webhooks.memory;
        drop(st);
        let now = unix_now();
        batch.kept.push(handle.name.clone());
        batch.stores.push(StoreBatch {
            name: handle.name.clone(),
            rows,
            counts: counts.clone(),
            webhooks,
            forget_nonces_before: now - memory.nonce_ttl,
            forget_ids_before: now - memory.id_ttl,
        });
        let queued = batch
            .stores
            .last()
            .map(|s| queued_seqs(&s.webhooks))
            .unwrap_or_default();
        committed.push((handle, counts, queued));
    }
    (batch, committed)
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

/// Marks a failed batch's intents dirty again and puts its webhook changes back in
/// front, so the next commit writes them.
fn redirty(state: &State, batch: Batch) {
    for store in batch.stores {
        if let Some(handle) = state
            .all_stores()
            .into_iter()
            .find(|h| h.name == store.name)
        {
            let mut st = handle.lock();
            st.dirty.extend(store.rows.into_iter().map(|(id, _)| id));
            let later = std::mem::replace(&mut st.webhooks.pending, store.webhooks);
            st.webhooks.pending.extend(later);
        }
    }
}

/// Without a database to write: every change counts as committed at once, as without a
/// state file.
fn nothing_to_write(state: &State, durability: &Durability) {
    let version = state.changes().version();
    discard_writes(state);
    durability.mark_committed(version);
}

/// Without a database: drops every store's dirty intents and pending webhook writes
/// (nothing takes them; at 100k intents the dirty set alone held megabytes) and makes
/// the events they queued relayable at once.
fn discard_writes(state: &State) {
    for handle in state.all_stores() {
        let mut st = handle.lock();
        // Nothing to write to: a database opened later gets the whole state anyway.
        st.dirty = Default::default();
        let pending = std::mem::take(&mut st.webhooks.pending);
        st.webhooks.committed(&queued_seqs(&pending));
    }
}

/// Makes committed counters the exported ones, and committed relay events durable.
fn publish(committed: Committed) {
    for (handle, counts, queued) in committed {
        let mut st = handle.lock();
        st.exported = counts;
        st.webhooks.committed(&queued);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without a state file nothing keeps the dirty marks: they are dropped, not kept
    /// for a database that never comes.
    #[tokio::test]
    async fn without_a_state_file_the_dirty_marks_are_dropped() {
        let yaml = "stores:\n  - name: main\n    base_url: http://127.0.0.1:1\n    api_key: k\n    \
                    api_secret_env: S\n    intents: [aaaaaaaaaaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbbbbbbbbbb]\n";
        let config =
            crate::config::Config::parse(yaml, std::path::Path::new("."), &|_| Some("s".into()))
                .unwrap();
        let state = State::new(&config);
        let handle = state.stores()[0].clone();
        assert_eq!(handle.lock().dirty.len(), 2);
        let (_path, path_rx) = watch::channel(None);
        let (stop, stop_rx) = watch::channel(false);
        let storage = Storage::new(None, crate::state::db::open_locked);
        let writer = tokio::spawn(run_writer(Arc::clone(&state), storage, path_rx, stop_rx));
        state.changes().record(true);
        let emptied = async {
            while !handle.lock().dirty.is_empty() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), emptied)
            .await
            .expect("dirty marks dropped");
        let _ = stop.send(true);
        writer.await.unwrap();
    }
}
