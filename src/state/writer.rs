//! The writer: group commits of every change through the storage boundary
//! ([`super::store`]), write-ahead.
//!
//! Each commit takes every store's dirty intents and counters at once
//! ([`State::take_batch`]; a burst of answers or registrations is one transaction and
//! one fsync), writes them to the open [`Store`](super::store::Store), then marks their change
//! version committed ([`Durability`]): a registration is answered, and the outcome and
//! transition counters are exported, only after that. So a value Prometheus has scraped
//! is never above what a restart restores, and no outcome is counted twice.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::State;
use super::store::{Durability, Opened, Storage, StoreError, Target, off_thread};
use crate::lock;

/// Changes nobody waits for (statuses, outcomes) are committed this long after they
/// happen at the latest, so a burst of answers becomes one commit; a registration
/// waiting for its answer is committed at once, with whatever else is pending.
pub const FLUSH_DELAY: Duration = Duration::from_secs(1);

/// A failed commit is tried again this soon: counters and registrations wait for it.
pub const RETRY_SAVE: Duration = Duration::from_secs(1);

/// Commits changes as they come until `shutdown` flips, then once more. `path` follows
/// the config (a reload may set, change or remove `state_file` or `state_database`; a
/// new target gets the whole state written). Without a path, or with the database restored read-only,
/// nothing is written, and nothing waits for it.
pub async fn run_writer(
    state: Arc<State>,
    storage: Storage,
    mut path: watch::Receiver<Option<Target>>,
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
        let read_only = target.as_ref().is_some_and(|target| {
            lock(&storage.slot)
                .as_ref()
                .is_some_and(|open| open.store.read_only() && open.target == *target)
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
async fn commit(state: &Arc<State>, storage: &Storage, target: Target) -> Result<(), StoreError> {
    let open = lock(&storage.slot)
        .as_ref()
        .is_some_and(|open| open.target == target);
    if !open {
        let (opening, open) = (Arc::clone(&storage.slot), storage.open);
        off_thread(move || {
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
    let (batch, taken) = state.take_batch();
    let writing = Arc::clone(&storage.slot);
    let written = off_thread(move || {
        let mut open = lock(&writing);
        match open.as_mut().map(|open| open.store.write(&batch)) {
            Some(Err(e)) => Ok(Err((e, batch))),
            _ => Ok(Ok(())),
        }
    })
    .await?;
    match written {
        Ok(()) => {
            taken.committed();
            storage.durability.mark_committed(version);
            state.record_save(Some(state.clock().now()));
            Ok(())
        }
        Err((e, batch)) => {
            state.put_back(batch);
            Err(e)
        }
    }
}

/// Without a database to write: every change counts as committed at once, as without a
/// state file.
fn nothing_to_write(state: &State, durability: &Durability) {
    let version = state.changes().version();
    state.discard_writes();
    durability.mark_committed(version);
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
        assert_eq!(handle.lock().intents().dirty_len(), 2);
        let (_path, path_rx) = watch::channel(None);
        let (stop, stop_rx) = watch::channel(false);
        let storage = Storage::new(None, crate::state::persist::open_target);
        let writer = tokio::spawn(run_writer(Arc::clone(&state), storage, path_rx, stop_rx));
        state.changes().record(true);
        let emptied = async {
            while handle.lock().intents().dirty_len() > 0 {
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
