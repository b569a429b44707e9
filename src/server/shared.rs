//! What every handler shares (state, metrics, the running config, the reload handle,
//! the supervisor, the clock, the page renders in flight): its own module, so the routes and the
//! handlers in `registration` and `webhook` all depend on it and not on each other.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::Config;
use crate::leases::Lookup;
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
    /// Where "now" comes from.
    pub(super) clock: Clock,
    /// One render of each page at a time, shared by the requests that arrive meanwhile.
    pub(super) metrics_page: SingleFlight<Bytes>,
    pub(super) landing_page: SingleFlight<Bytes>,
    /// In a group sharing a state database: the group's facts a webhook needs at once.
    pub(super) group: Option<Arc<Lookup>>,
}
