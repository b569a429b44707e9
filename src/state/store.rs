//! The storage boundary: everything the exporter keeps across restarts goes through
//! [`Store`], whatever holds it (today the SQLite state database, [`super::db`]).
//!
//! The state ([`super::State`]) records changes and hands them over as a [`Batch`]; a
//! store commits batches and gives back, at start, what it holds ([`Saved`]). Which
//! change is durable is the boundary's business too ([`Durability`]): the writer marks a
//! change version committed once its batch is, and registrations, webhooks, exported
//! counters and the relay wait on that, never on the state.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::{Counts, IntentState, Queued, WebhookWrite};
use crate::clock::UnixTime;
use crate::config::{Config, IntentId, StateDatabase};
use crate::replica::ReplicaName;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod durability;

pub use durability::{Durability, NotDurable};

/// Where the exporter's durable state lives.
///
/// The trait is blocking, not async: a commit is one transaction at most about once a
/// second (a group commit), and the exporter runs on one runtime thread that must never
/// wait for an fsync or a round trip. So the writer calls it on the blocking pool
/// (`spawn_blocking`), and start-up restores on it the same way. A blocking trait keeps
/// SQLite, which has only a blocking API, simple, and suits a PostgreSQL store as well
/// (a blocking client called on that pool, or an async one driven there with
/// `Handle::block_on`). `async fn` in a trait also cannot be used as `dyn Store`.
///
/// What every implementation promises (the tests of `store::conformance` check it):
/// - [`write`](Store::write) commits a whole batch or nothing; once it returns `Ok`, the
///   batch survives a crash of the process or the machine. Counters and money sums are
///   the live values: a later batch replaces them; one a batch does not name keeps its
///   value (a counter never goes back, short of its store being forgotten).
/// - [`load`](Store::load) gives back exactly what was committed, per store.
/// - An open store keeps other exporters out of the same state for as long as it is
///   open (SQLite: the process lock on `<state_file>.lock`); dropping it frees that.
/// - A read-only store loads but refuses every write with [`Failure::ReadOnly`].
pub trait Store: Send + std::fmt::Debug {
    /// Opened read-only: restored, but nothing is written this run.
    fn read_only(&self) -> bool;

    /// Everything committed, per store.
    fn load(&mut self) -> Result<Saved, StoreError>;

    /// Commits one batch: the rows of the changed intents (`None`: forgotten), the
    /// counters and money, the webhook changes, in one transaction; deletes every store
    /// that is not in [`Batch::kept`].
    fn write(&mut self, batch: &Batch) -> Result<(), StoreError>;
}

/// Where the state is kept: the config's `state_file`, or its `state_database` with this
/// replica's name (which counters are its own there).
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    File(PathBuf),
    Database(Box<StateDatabase>, ReplicaName),
}

impl Target {
    /// Where `config` keeps the state, if anywhere.
    pub fn of(config: &Config, replica: &ReplicaName) -> Option<Target> {
        match (&config.state_database, &config.state_file) {
            (Some(db), _) => Some(Target::Database(db.clone(), replica.clone())),
            (None, Some(path)) => Some(Target::File(path.clone())),
            (None, None) => None,
        }
    }
}

/// Opens a [`Target`] for writing.
pub type Opener = fn(&Target) -> Result<Box<dyn Store>, StoreError>;

/// The store open now, and the target it was opened for.
#[derive(Debug)]
pub struct Opened {
    pub target: Target,
    pub store: Box<dyn Store>,
}

/// The open store, shared by the start-up restore and the writer's restarts.
pub type StoreSlot = Arc<Mutex<Option<Opened>>>;

/// The storage boundary as the composition root holds it: the open store, how to open
/// another (a reload may name a new `state_file` or `state_database`), and the durability barrier the writer
/// advances.
#[derive(Debug, Clone)]
pub struct Storage {
    pub slot: StoreSlot,
    pub open: Opener,
    pub durability: Arc<Durability>,
}

impl Storage {
    /// `opened` (restored at start, if any), opening others with `open`.
    pub fn new(opened: Option<Opened>, open: Opener) -> Storage {
        Storage {
            slot: Arc::new(Mutex::new(opened)),
            open,
            durability: Arc::new(Durability::default()),
        }
    }
}

/// What a store failed with, and what kind of failure that is.
#[derive(Debug)]
pub struct StoreError {
    failure: Failure,
    error: Box<dyn std::error::Error + Send + Sync>,
}

impl StoreError {
    pub fn new(
        failure: Failure,
        error: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        StoreError {
            failure,
            error: error.into(),
        }
    }

    pub fn failure(&self) -> Failure {
        self.failure
    }
}

/// As the store's own error: the same text and sources.
impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

/// Runs a blocking store call on the blocking pool. A panic in it goes on to the caller's
/// supervisor; a call the runtime cancelled (it shut down before the call ran) is a
/// transient failure, not a panic of its own.
pub(super) async fn off_thread<T: Send + 'static>(
    job: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    match tokio::task::spawn_blocking(job).await {
        Ok(result) => result,
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Err(join) => Err(StoreError::new(
            Failure::Transient,
            format!("the state store call did not run: {join}"),
        )),
    }
}

/// The condition of a shared database's intent upsert that keeps a final row final: a row
/// that reached a final phase (terminal, expired, dropped) is replaced only by another
/// final one. The exporter never sets an intent back from a final phase; a replica that
/// was paused past its lease and commits late could, over what the intent's next holder
/// committed since. (A state file has one writer: SQLite needs no such condition.)
pub(crate) const KEEP_FINAL: &str = "intents.terminal_at IS NULL AND intents.expired_at IS NULL \
     AND intents.dropped_at IS NULL OR excluded.terminal_at IS NOT NULL \
     OR excluded.expired_at IS NOT NULL OR excluded.dropped_at IS NOT NULL";

/// What an error opening, reading or writing a store says about the stored state;
/// start-up decides on it whether to move a file aside, wait or stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// It fails the format and content checks: unusable, moved aside.
    Corrupt,
    /// Another process holds it (a database lock, or the exporter's own process lock).
    Locked,
    /// It can be read but not written.
    ReadOnly,
    /// Written by a newer build: good, but not for this one.
    FutureVersion,
    /// Anything else (I/O errors, out of memory or file descriptors, a full disk): says
    /// nothing about the stored state.
    Transient,
}

/// What a store (or an old JSON state file) holds, per store name.
#[derive(Debug, Default, PartialEq)]
pub struct Saved {
    pub stores: BTreeMap<String, SavedStore>,
}

impl Saved {
    /// Adds an intent read back from a store's row to `store`'s; `Err` names what is wrong
    /// with the row (an id that is not one, or the reason `intent` gives).
    pub fn add_intent(
        &mut self,
        store: String,
        id: &str,
        intent: Result<IntentState, String>,
    ) -> Result<(), String> {
        let Some(parsed) = IntentId::parse(id) else {
            return Err(format!("store {store:?}: {id:?} is not an intent id"));
        };
        let intent = intent.map_err(|reason| format!("store {store:?}, intent {id}: {reason}"))?;
        let intents = &mut self.stores.entry(store).or_default().intents;
        intents.push((parsed, intent));
        Ok(())
    }
}

#[derive(Debug, Default, PartialEq)]
pub struct SavedStore {
    pub counts: Counts,
    /// Watched intents (some source names them) and retired ones (none does).
    pub intents: Vec<(IntentId, IntentState)>,
    /// Webhook nonces and ids seen, with when.
    pub nonces: Vec<(String, UnixTime)>,
    pub webhook_ids: Vec<(String, UnixTime)>,
    /// The relay queue, in order.
    pub queue: Vec<Queued>,
}

/// One group commit: the rows of changed intents (`None`: forgotten) and the counters,
/// per store, and every store the state still keeps (the others are deleted).
#[derive(Debug, Default)]
pub struct Batch {
    pub stores: Vec<StoreBatch>,
    pub kept: Vec<String>,
}

#[derive(Debug)]
pub struct StoreBatch {
    pub name: String,
    pub rows: Vec<(IntentId, Option<IntentState>)>,
    pub counts: Counts,
    /// Changes to the webhook tables, in order.
    pub webhooks: Vec<WebhookWrite>,
    /// Webhook nonces and ids seen before these times are forgotten.
    pub forget_nonces_before: UnixTime,
    pub forget_ids_before: UnixTime,
}

impl Default for StoreBatch {
    /// Nothing changed, and nothing seen is forgotten.
    fn default() -> Self {
        Self {
            name: String::new(),
            rows: Vec::new(),
            counts: Counts::default(),
            webhooks: Vec::new(),
            forget_nonces_before: UnixTime::MIN,
            forget_ids_before: UnixTime::MIN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A call the runtime cancels before it runs (it is shutting down) comes back as a
    /// transient error; the caller does not panic.
    #[test]
    fn a_call_the_runtime_cancelled_is_a_transient_error() {
        let pool = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let handle = pool.handle().clone();
        pool.shutdown_background();
        let mut call = Box::pin(off_thread(|| Ok(())));
        let first = {
            let _in_pool = handle.enter();
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            call.as_mut().poll(&mut cx)
        };
        let result = match first {
            std::task::Poll::Ready(result) => result,
            std::task::Poll::Pending => tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(call),
        };
        let error = result.unwrap_err();
        assert_eq!(error.failure(), Failure::Transient);
        assert!(error.to_string().contains("did not run"), "{error}");
    }
}
