//! Every store's own series (API requests, budget plan, webhook traffic, intent sources)
//! by store name, and the one memory of the stores that left the config.
//!
//! A store that leaves keeps its series aside, each part keeping what must not go back
//! (its counters) and letting go of the rest (gauges, latency); the first use of the
//! name again continues them: within a process a counter never goes lower than a value
//! already served.
//!
//! This module sits above the parts (`api`, `plan`, `sources`, `webhooks`), which know
//! nothing of it: it hands out their recorders, and its collectors copy each part out of
//! the stores in the config and have the part's module write it; the parts themselves
//! say when their series are shown.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use super::api::{self, ApiSeries, StoreRecorder};
use super::collector::{Collector, Scrape};
use super::plan::{self, PlanCell};
use super::sources::{self, ConfigSource, SourceRecorder};
use super::webhooks::{self, WebhookSeries};
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
    pub(super) sources: sources::Slots,
}

impl StoreSeries {
    /// Starts the store's request series and a new budget plan: the poller's recorder.
    pub(super) fn recorder(&mut self) -> StoreRecorder {
        lock(&self.api).start();
        let plan = Arc::new(PlanCell::default());
        self.plan = Some(Arc::clone(&plan));
        StoreRecorder::new(Arc::clone(&self.api), plan)
    }

    /// The recorder of the store's `source`, continuing its cell if it had one.
    pub(super) fn source(&mut self, source: Source) -> SourceRecorder {
        sources::recorder(&mut self.sources[source as usize])
    }

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
    fn map<T>(&self, mut f: impl FnMut(&str, &StoreSeries) -> T) -> Vec<T> {
        let inner = lock(&self.inner);
        inner.live.iter().map(|(name, s)| f(name, s)).collect()
    }

    /// `f` of `store`'s series, in use or departed, without bringing it back.
    fn find<T>(&self, store: &str, f: impl FnOnce(&StoreSeries) -> T) -> Option<T> {
        let inner = lock(&self.inner);
        inner
            .live
            .get(store)
            .or_else(|| inner.departed.get(store))
            .map(f)
    }
}

/// The request families, from every store a poller records for.
pub(super) struct ApiCollector(pub(super) Arc<Stores>);

impl Collector for ApiCollector {
    fn collect(&self, _: &Scrape<'_>, out: &mut String) {
        let series = self.0.map(|name, s| (name.to_owned(), Arc::clone(&s.api)));
        api::write(out, series);
    }
}

/// The budget plan families, from every store whose poller publishes a plan.
pub(super) struct PlanCollector(pub(super) Arc<Stores>);

impl Collector for PlanCollector {
    fn collect(&self, scrape: &Scrape<'_>, out: &mut String) {
        let plans = self
            .0
            .map(|name, s| Some((name.to_owned(), Arc::clone(s.plan.as_ref()?))))
            .into_iter()
            .flatten()
            .collect();
        plan::write(out, plans, scrape.now);
    }
}

/// The webhook traffic families of every store.
pub(super) struct TrafficCollector(pub(super) Arc<Stores>);

impl Collector for TrafficCollector {
    fn collect(&self, _: &Scrape<'_>, out: &mut String) {
        let traffic = self.0.map(|name, s| (name.to_owned(), s.webhooks.clone()));
        webhooks::write_traffic(out, traffic);
    }
}

/// The source families of every store in the config, and the config source.
pub(super) struct SourceCollector {
    pub(super) stores: Arc<Stores>,
    pub(super) config: Arc<ConfigSource>,
}

impl Collector for SourceCollector {
    fn collect(&self, scrape: &Scrape<'_>, out: &mut String) {
        let cells = |store: &str| {
            let cells = self.stores.find(store, |s| sources::cells(&s.sources));
            cells.unwrap_or_default()
        };
        sources::write(out, scrape.state, &self.config, cells);
    }
}
