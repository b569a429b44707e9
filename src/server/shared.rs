//! What every handler shares (state, metrics, the running config, the reload handle,
//! the supervisor, the page renders in flight): its own module, so the routes and the
//! handlers in `registration` and `webhook` all depend on it and not on each other.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::watch;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::reload::ReloadHandle;
use crate::shard::Shard;
use crate::single_flight::SingleFlight;
use crate::state::State;
use crate::state::store::Durability;
use crate::supervise::Supervisor;

/// Shared by every handler.
#[derive(Clone)]
pub(super) struct Shared {
    pub(super) state: Arc<State>,
    /// Which changes the state database holds (registrations and webhooks wait on it).
    pub(super) durability: Arc<Durability>,
    pub(super) metrics: Arc<Metrics>,
    pub(super) reload: ReloadHandle,
    pub(super) supervisor: Supervisor,
    /// The running config (store names, the registration settings).
    pub(super) config: watch::Receiver<Arc<Config>>,
    /// The intents this replica watches (`--shard`).
    pub(super) shard: Shard,
    /// One render of each page at a time, shared by the requests that arrive meanwhile.
    pub(super) metrics_page: SingleFlight<Bytes>,
    pub(super) landing_page: SingleFlight<Bytes>,
}

impl Shared {
    pub(super) fn new(
        state: Arc<State>,
        durability: Arc<Durability>,
        metrics: Arc<Metrics>,
        reload: ReloadHandle,
        supervisor: Supervisor,
        config: watch::Receiver<Arc<Config>>,
        shard: Shard,
    ) -> Self {
        Self {
            state,
            durability,
            metrics,
            reload,
            supervisor,
            config,
            shard,
            metrics_page: SingleFlight::default(),
            landing_page: SingleFlight::default(),
        }
    }
}
