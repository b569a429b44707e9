//! Pull sources of intents (issue #13 point 3): besides the config's `intents:` list and
//! registrations through the API, a store may take intents from files
//! (`intent_sources.files`, [`files`]) and from a list its backend serves
//! (`intent_sources.http`, [`http`]), both in the [`list`] format and run by the same
//! refresh loop ([`refresh`]).
//!
//! The manager follows the running config (the reloader's watch channel): one supervised
//! task per store and source kind, started, restarted when its settings changed, and
//! stopped when they are gone, which also empties that source's part of the watch list.
//! Each task only ever sets its own [`Source`]; the watch list is the union of them all.
//! With `--shard K/N` a replica keeps only its shard of every list.

pub(crate) mod files;
pub(crate) mod glob;
pub(crate) mod http;
pub mod list;
pub(crate) mod refresh;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::{Config, HttpSource, StoreConfig};
use crate::metrics::Metrics;
use crate::shard::Shard;
use crate::state::{Source, State, StoreHandle};
use crate::supervise::{Supervisor, Task};
use refresh::Target;

pub use files::MAX_FILE_BYTES;
pub use http::MAX_BODY_BYTES;

/// What a source task runs with; a change restarts it.
#[derive(Debug, Clone, PartialEq)]
enum Spec {
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

/// The kinds of source the manager runs.
const KINDS: [Source; 2] = [Source::File, Source::Http];

/// A running source task.
struct Running {
    spec: Spec,
    handle: StoreHandle,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Running {
    async fn stop(self) -> StoreHandle {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        self.handle
    }
}

/// Starts, restarts and stops the source tasks as the running config changes.
#[derive(Clone)]
pub struct SourceManager {
    state: Arc<State>,
    metrics: Arc<Metrics>,
    supervisor: Supervisor,
    shard: Shard,
    /// `--config.check-interval`: the files' periodic re-check (zero: off).
    check_interval: Duration,
    /// `--config.watch`: watch the files' directories.
    watch_events: bool,
    clock: Clock,
}

impl SourceManager {
    pub fn new(
        state: Arc<State>,
        metrics: Arc<Metrics>,
        supervisor: Supervisor,
        options: &crate::reload::ReloadOptions,
    ) -> Self {
        Self {
            state,
            metrics,
            supervisor,
            shard: options.shard,
            check_interval: options.check_interval,
            watch_events: options.watch_events,
            clock: options.clock.clone(),
        }
    }

    /// Follows `live` until `stop` flips, then stops every source task.
    pub async fn run(
        self,
        mut live: watch::Receiver<Arc<Config>>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut running: HashMap<(String, Source), Running> = HashMap::new();
        let mut config = Some(Arc::clone(&live.borrow_and_update()));
        while let Some(current) = config {
            self.apply(&current, &mut running).await;
            config = crate::reload::next_config(&mut live, &mut stop).await;
        }
        for (_, task) in running.drain() {
            task.stop().await;
        }
    }

    async fn apply(&self, config: &Config, running: &mut HashMap<(String, Source), Running>) {
        let wanted: HashMap<(String, Source), Spec> = config
            .stores
            .iter()
            .flat_map(|store| {
                KINDS.into_iter().filter_map(move |kind| {
                    Spec::of(store, config, kind).map(|spec| ((store.name.clone(), kind), spec))
                })
            })
            .collect();
        let stale: Vec<(String, Source)> = running
            .iter()
            .filter(|(key, task)| wanted.get(*key) != Some(&task.spec))
            .map(|(key, _)| key.clone())
            .collect();
        for key in stale {
            let Some(task) = running.remove(&key) else {
                continue;
            };
            let handle = task.stop().await;
            if !wanted.contains_key(&key) {
                self.clear(&handle, key.1);
            }
        }
        for store in &config.stores {
            let Some(handle) = self.state.store(&store.name) else {
                continue;
            };
            for kind in KINDS {
                let key = (store.name.clone(), kind);
                match wanted.get(&key) {
                    // Named by a state file, or left over: nothing sets it any more.
                    None => self.clear(&handle, kind),
                    Some(spec) if !running.contains_key(&key) => {
                        let task = self.start(handle.clone(), kind, spec.clone());
                        running.insert(key, task);
                    }
                    Some(_) => {}
                }
            }
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

    fn start(&self, handle: StoreHandle, kind: Source, spec: Spec) -> Running {
        let target = self.target(handle.clone(), kind);
        let (stop, stop_rx) = watch::channel(false);
        let scope = format!("{}/{}", handle.name, kind.as_str());
        let (check, events) = (self.check_interval, self.watch_events);
        let run_spec = spec.clone();
        let task = tokio::spawn(self.supervisor.clone().supervise(
            Task::IntentSource,
            scope,
            stop_rx,
            move |stop| {
                let (target, spec) = (target.clone(), run_spec.clone());
                async move { run_source(spec, &target, check, events, stop).await }
            },
        ));
        Running {
            spec,
            handle,
            stop,
            task,
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
