//! Pull sources of intents (issue #13 point 3): besides the config's `intents:` list and
//! registrations through the API, a store may take intents from files
//! (`intent_sources.files`, [`files`]) and from a list its backend serves
//! (`intent_sources.http`, [`http`]), both in the [`list`] format and run by the same
//! refresh loop ([`refresh`]).
//!
//! One supervised task per store and source kind ([`Sources`], a kind of the generic task
//! set that `crate::apply` drives): started, restarted when its settings changed, and
//! stopped when they are gone, which also empties that source's part of the watch list.
//! Each task only ever sets its own [`Source`]; the watch list is the union of them all.
//! With `--shard K/N` a replica keeps only its shard of every list.

pub(crate) mod files;
pub(crate) mod glob;
pub(crate) mod http;
pub mod list;
pub(crate) mod refresh;

use std::convert::Infallible;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::{Config, HttpSource, StoreConfig};
use crate::metrics::Metrics;
use crate::reconcile::{Key, Kind, Specs, Wanted};
use crate::shard::Shard;
use crate::state::{Source, State, StoreHandle};
use crate::supervise::Task;
use refresh::Target;

pub use files::MAX_FILE_BYTES;
pub use http::MAX_BODY_BYTES;

/// What a source task runs with; a change restarts it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Spec {
    Files(Vec<PathBuf>),
    Http(HttpSource, Duration),
}

impl Spec {
    /// The store's settings for the source `kind` (file or http), if it has them.
    fn of(store: &StoreConfig, config: &Config, kind: Source) -> Option<Spec> {
        let sources = &store.intent_sources;
        match kind {
            Source::File => (!sources.files.is_empty()).then(|| Spec::Files(sources.files.clone())),
            Source::Http => sources
                .http
                .clone()
                .map(|http| Spec::Http(http, config.request_timeout)),
            Source::Config | Source::Api | Source::Webhook => None,
        }
    }
}

/// The kinds of source there are tasks for.
const KINDS: [Source; 2] = [Source::File, Source::Http];

/// The intent sources' part of the task set: one task per store and source kind; a
/// change of its settings restarts it (the list it set stays until its first good read).
pub(crate) struct Sources {
    state: Arc<State>,
    metrics: Arc<Metrics>,
    shard: Shard,
    /// `--config.check-interval`: the files' periodic re-check (zero: off).
    check_interval: Duration,
    /// `--config.watch`: watch the files' directories.
    watch_events: bool,
    clock: Clock,
}

impl Sources {
    pub(crate) fn new(
        state: Arc<State>,
        metrics: Arc<Metrics>,
        options: &crate::reload::options::ReloadOptions,
    ) -> Self {
        Self {
            state,
            metrics,
            shard: options.shard,
            check_interval: options.check_interval,
            watch_events: options.watch_events,
            clock: options.clock.clone(),
        }
    }

    /// Empties `kind`'s part of the store's watch list (when it names anything).
    fn clear(&self, handle: &StoreHandle, kind: Source) {
        if handle.lock().source_count(kind) == 0 {
            return;
        }
        let target = self.target(handle.clone(), kind);
        target.apply(&[]);
        tracing::info!(store = %handle.name, source = kind.as_str(), "intent source removed; its intents are no longer watched through it");
    }

    fn target(&self, handle: StoreHandle, kind: Source) -> Target {
        Target {
            recorder: self.metrics.source(&handle.name, kind),
            handle,
            source: kind,
            shard: self.shard,
            state: Arc::clone(&self.state),
            clock: self.clock.clone(),
        }
    }
}

/// A store's source of one kind.
impl Key for (String, Source) {
    fn store(&self) -> &str {
        &self.0
    }

    fn scope(&self) -> String {
        format!("{}/{}", self.0, self.1.as_str())
    }
}

impl Kind for Sources {
    type Key = (String, Source);
    type Spec = Spec;
    type Error = Infallible;
    const TASK: Task = Task::IntentSource;

    fn wanted(
        &self,
        config: &Config,
        _running: &Specs<'_, Self>,
    ) -> Result<Wanted<Self>, Infallible> {
        let wanted = config.stores.iter().flat_map(|store| {
            KINDS.into_iter().filter_map(move |kind| {
                Spec::of(store, config, kind).map(|spec| ((store.name.clone(), kind), spec))
            })
        });
        Ok(wanted.collect())
    }

    fn needs_restart(&self, running: &Spec, wanted: &Spec) -> bool {
        running != wanted
    }

    fn run(
        &self,
        (_, kind): &(String, Source),
        store: &StoreHandle,
        spec: watch::Receiver<Spec>,
        stop: watch::Receiver<bool>,
    ) -> impl Future<Output = ()> + Send + use<> {
        let target = self.target(store.clone(), *kind);
        let spec = spec.borrow().clone();
        let (check, events) = (self.check_interval, self.watch_events);
        async move { run_source(spec, &target, check, events, stop).await }
    }

    /// Nothing sets its part of the watch list any more.
    fn gone(&self, (_, kind): &(String, Source), store: &StoreHandle) {
        self.clear(store, *kind);
    }

    /// A part of a store's watch list that no source of the config sets (named by a state
    /// file, or left over) is emptied.
    fn settle(&self, config: &Config) {
        for store in &config.stores {
            let Some(handle) = self.state.store(&store.name) else {
                continue;
            };
            for kind in KINDS {
                if Spec::of(store, config, kind).is_none() {
                    self.clear(&handle, kind);
                }
            }
        }
    }
}

/// One run of a source task.
async fn run_source(
    spec: Spec,
    target: &Target,
    check_interval: Duration,
    watch_events: bool,
    mut stop: watch::Receiver<bool>,
) {
    match spec {
        Spec::Files(patterns) => {
            let fetch = files::Files::new(patterns, check_interval, watch_events);
            refresh::run(fetch, target, stop).await;
        }
        Spec::Http(config, timeout) => match http::Http::new(config, timeout) {
            Ok(fetch) => refresh::run(fetch, target, stop).await,
            Err(why) => {
                tracing::error!(store = %target.handle.name, error = %why, "the HTTP intent source cannot run");
                crate::stopped(&mut stop).await;
            }
        },
    }
}
