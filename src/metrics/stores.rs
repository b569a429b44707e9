//! Every store's own series (API requests, budget plan, webhook traffic, intent sources)
//! by store name, and the one memory of the stores that left the config.
//!
//! A store that leaves keeps its series aside, each part keeping what must not go back
//! (its counters) and letting go of the rest (gauges, latency); the first use of the
//! name again continues them: within a process a counter never goes lower than a value
//! already served. The collectors read the stores in the config; the parts themselves
//! say when their series are shown.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use super::api::ApiSeries;
use super::plan::PlanCell;
use super::sources::SourceCell;
use super::webhooks::WebhookSeries;
use crate::lock;
use crate::state::Source;

/// One store's series.
#[derive(Default)]
pub(super) struct StoreSeries {
    /// Locked on its own: the poller's recorder writes it without the map's lock.
    pub(super) api: Arc<Mutex<ApiSeries>>,
    /// The plan the store's poller publishes, while it has one.
    pub(super) plan: Option<Arc<PlanCell>>,
    pub(super) webhooks: WebhookSeries,
    /// Indexed by `Source as usize`: a source's cell once it was recorded for the store.
    pub(super) sources: [Option<Arc<SourceCell>>; Source::ALL.len()],
}

impl StoreSeries {
    /// What the store keeps while out of the config.
    fn depart(&mut self) {
        lock(&self.api).depart();
        self.plan = None;
        self.webhooks.depart();
    }
}

/// The stores' series: those in use, and those of stores that left the config.
#[derive(Default)]
pub(super) struct Stores {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// By name, in the order the page lists stores.
    live: BTreeMap<String, StoreSeries>,
    departed: HashMap<String, StoreSeries>,
}

impl Stores {
    /// Runs `f` on `store`'s series: continued from the departed memory if the store
    /// left the config, new if it was never seen.
    pub(super) fn with<T>(&self, store: &str, f: impl FnOnce(&mut StoreSeries) -> T) -> T {
        let mut inner = lock(&self.inner);
        let inner = &mut *inner;
        if !inner.live.contains_key(store) {
            let back = inner.departed.remove(store).unwrap_or_default();
            inner.live.insert(store.to_owned(), back);
        }
        f(inner.live.get_mut(store).expect("inserted above"))
    }

    /// The store left the config: its series go to the departed memory.
    pub(super) fn depart(&self, store: &str) {
        let mut inner = lock(&self.inner);
        if let Some(mut series) = inner.live.remove(store) {
            series.depart();
            inner.departed.insert(store.to_owned(), series);
        }
    }

    /// `f` of every store in use, by name; under the map's lock, so `f` only copies.
    pub(super) fn map<T>(&self, mut f: impl FnMut(&str, &StoreSeries) -> T) -> Vec<T> {
        let inner = lock(&self.inner);
        inner.live.iter().map(|(name, s)| f(name, s)).collect()
    }

    /// `f` of `store`'s series, in use or departed, without bringing it back.
    pub(super) fn find<T>(&self, store: &str, f: impl FnOnce(&StoreSeries) -> T) -> Option<T> {
        let inner = lock(&self.inner);
        inner
            .live
            .get(store)
            .or_else(|| inner.departed.get(store))
            .map(f)
    }
}
