//! One generic per-store task set, in the spirit of kube-rs's controllers and vector's
//! topology: given the tasks a config wants (key → spec) and the tasks running, stop
//! what is gone, restart what changed in a way a task cannot take in place, send the
//! others their new spec, and start what is new. Every task runs under the
//! [`Supervisor`] (a task that panics or ends early is run again from its latest spec).
//!
//! The pollers, the intent sources and the webhook relays each implement only their
//! [`Kind`]: the key, the spec a config gives, whether a change needs a restart, and how
//! one task runs. [`crate::apply`] drives the three sets in one fixed order.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::state::{State, StoreHandle};
use crate::supervise::{Supervisor, Task};

/// Names one task: a store, or a store and a source kind.
pub(crate) trait Key: Clone + Eq + Hash + Send + Sync + 'static {
    /// The store the task works on (a task whose store the state lacks is not started).
    fn store(&self) -> &str;

    /// The task's name in logs.
    fn scope(&self) -> String;
}

/// A store's only task of its kind.
impl Key for String {
    fn store(&self) -> &str {
        self
    }

    fn scope(&self) -> String {
        self.clone()
    }
}

/// One kind of per-store task: its own part of the reconciler.
pub(crate) trait Kind: Send + Sync + 'static {
    type Key: Key;
    /// What a task runs with, derived from the config.
    type Spec: Send + Sync + 'static;
    /// Why the wanted specs cannot be made (then nothing has changed).
    type Error;
    /// The `task` label its restarts are counted under.
    const TASK: Task;

    /// The tasks `config` wants, in the order to start them. `running` gives the spec of a
    /// running task, so that what did not change can be kept (a poller's HTTP client).
    fn wanted(
        &self,
        config: &Config,
        running: &Specs<'_, Self>,
    ) -> Result<Wanted<Self>, Self::Error>;

    /// Whether going from `running` to `wanted` needs a restart; if not, the running
    /// task is sent `wanted` (it applies what it can in place, or ignores an equal spec).
    fn needs_restart(&self, running: &Self::Spec, wanted: &Self::Spec) -> bool;

    /// One run of a task, until `stop` flips: it reads its spec from `spec` (and follows
    /// it there, if it applies changes in place).
    fn run(
        &self,
        key: &Self::Key,
        store: &StoreHandle,
        spec: watch::Receiver<Self::Spec>,
        stop: watch::Receiver<bool>,
    ) -> impl Future<Output = ()> + Send + use<Self>;

    /// A task is about to start (not called for a supervised restart).
    fn started(&self, _key: &Self::Key, _spec: &Self::Spec) {}

    /// A task stopped for good: the config no longer wants it.
    fn gone(&self, _key: &Self::Key, _store: &StoreHandle) {}

    /// After each apply: what the kind keeps besides its tasks, for `config`'s stores.
    fn settle(&self, _config: &Config) {}
}

/// The tasks a config wants: each key with its spec, in the order to start them.
pub(crate) type Wanted<K> = Vec<(<K as Kind>::Key, <K as Kind>::Spec)>;

/// The running tasks' specs, as [`Kind::wanted`] sees them.
pub(crate) struct Specs<'a, K: Kind + ?Sized>(&'a HashMap<K::Key, Running<K::Spec>>);

impl<K: Kind + ?Sized> Specs<'_, K> {
    /// The spec the task named `key` runs with, if it runs.
    pub fn spec(&self, key: &K::Key) -> Option<watch::Ref<'_, K::Spec>> {
        self.0.get(key).map(|task| task.spec.borrow())
    }
}

/// One running task.
struct Running<S> {
    spec: watch::Sender<S>,
    store: StoreHandle,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl<S> Running<S> {
    /// Stops it, letting it finish what it does on stop; gives back its store.
    async fn stop(self) -> StoreHandle {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        self.store
    }
}

/// The tasks a config wants, made before anything changes.
pub(crate) struct Plan<K: Kind>(Wanted<K>);

/// The running tasks of one [`Kind`].
pub(crate) struct TaskSet<K: Kind> {
    kind: Arc<K>,
    state: Arc<State>,
    supervisor: Supervisor,
    running: HashMap<K::Key, Running<K::Spec>>,
}

impl<K: Kind> TaskSet<K> {
    pub fn new(kind: K, state: Arc<State>, supervisor: Supervisor) -> Self {
        Self {
            kind: Arc::new(kind),
            state,
            supervisor,
            running: HashMap::new(),
        }
    }

    /// What `config` wants; an error changes nothing.
    pub fn plan(&self, config: &Config) -> Result<Plan<K>, K::Error> {
        self.kind.wanted(config, &Specs(&self.running)).map(Plan)
    }

    /// Makes the running tasks match `plan` (made from `config`): stops the gone and the
    /// changed-beyond-place ones (each finishing first), sends the others their spec,
    /// starts the new ones in the plan's order.
    pub async fn apply(&mut self, plan: Plan<K>, config: &Config) {
        let Plan(wanted) = plan;
        // Each stale task, and whether the config still wants it.
        let stale: Vec<(K::Key, bool)> = {
            let specs: HashMap<&K::Key, &K::Spec> = wanted.iter().map(|(k, s)| (k, s)).collect();
            self.running
                .iter()
                .filter_map(|(key, task)| match specs.get(key) {
                    None => Some((key.clone(), false)),
                    Some(spec) if self.kind.needs_restart(&task.spec.borrow(), spec) => {
                        Some((key.clone(), true))
                    }
                    Some(_) => None,
                })
                .collect()
        };
        for (key, still_wanted) in stale {
            let Some(task) = self.running.remove(&key) else {
                continue;
            };
            let store = task.stop().await;
            if !still_wanted {
                self.kind.gone(&key, &store);
            }
        }
        for (key, spec) in wanted {
            if let Some(task) = self.running.get(&key) {
                task.spec.send_replace(spec);
                continue;
            }
            let Some(store) = self.state.store(key.store()) else {
                continue;
            };
            self.kind.started(&key, &spec);
            let task = self.start(key.clone(), store, spec);
            self.running.insert(key, task);
        }
        self.kind.settle(config);
    }

    fn start(&self, key: K::Key, store: StoreHandle, spec: K::Spec) -> Running<K::Spec> {
        let (spec, spec_rx) = watch::channel(spec);
        let (stop, stop_rx) = watch::channel(false);
        let kind = Arc::clone(&self.kind);
        let on = store.clone();
        let scope = key.scope();
        let supervised = self
            .supervisor
            .clone()
            .supervise(K::TASK, scope, stop_rx, move |stop| {
                kind.run(&key, &on, spec_rx.clone(), stop)
            });
        Running {
            spec,
            store,
            stop,
            task: tokio::spawn(supervised),
        }
    }

    /// Stops every task at once and waits for each to finish what it does on stop.
    pub async fn stop_all(&mut self) {
        let running: Vec<Running<K::Spec>> = self.running.drain().map(|(_, t)| t).collect();
        for task in &running {
            let _ = task.stop.send(true);
        }
        for task in running {
            let _ = task.task.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::lock;
    use crate::metrics::Metrics;

    /// What the probe's tasks and hooks did, in order.
    type Log = Arc<Mutex<Vec<String>>>;

    /// A kind keyed by store: `max_concurrency` needs a restart, `poll_interval` is taken
    /// in place; a store named `bad` cannot be planned; `panic_once` makes the next run
    /// panic.
    struct Probe {
        log: Log,
        panic_once: Arc<AtomicBool>,
    }

    impl Kind for Probe {
        type Key = String;
        type Spec = (usize, Duration);
        type Error = String;
        const TASK: Task = Task::IntentSource;

        fn wanted(
            &self,
            config: &Config,
            _running: &Specs<'_, Self>,
        ) -> Result<Wanted<Self>, String> {
            let spec = |store: &crate::config::StoreConfig| match store.name.as_str() {
                "bad" => Err("bad cannot run".to_owned()),
                name => Ok((
                    name.to_owned(),
                    (store.max_concurrency, config.poll_interval),
                )),
            };
            config.stores.iter().map(spec).collect()
        }

        fn needs_restart(&self, running: &Self::Spec, wanted: &Self::Spec) -> bool {
            running.0 != wanted.0
        }

        fn run(
            &self,
            key: &String,
            _store: &StoreHandle,
            mut spec: watch::Receiver<Self::Spec>,
            mut stop: watch::Receiver<bool>,
        ) -> impl Future<Output = ()> + Send + use<> {
            let (log, key) = (Arc::clone(&self.log), key.clone());
            let panics = self.panic_once.swap(false, Ordering::SeqCst);
            async move {
                assert!(!panics, "told to panic");
                loop {
                    let (restart, in_place) = *spec.borrow_and_update();
                    let ms = in_place.as_millis();
                    lock(&log).push(format!("{key} runs {restart} {ms}ms"));
                    tokio::select! {
                        _ = crate::stopped(&mut stop) => break,
                        _ = spec.changed() => {}
                    }
                }
                lock(&log).push(format!("{key} stopped"));
            }
        }

        fn started(&self, key: &String, _spec: &Self::Spec) {
            lock(&self.log).push(format!("{key} started"));
        }

        fn gone(&self, key: &String, store: &StoreHandle) {
            lock(&self.log).push(format!("{key} gone ({})", store.name));
        }

        fn settle(&self, config: &Config) {
            lock(&self.log).push(format!("settled {} stores", config.stores.len()));
        }
    }

    /// A config of `stores` (name, max_concurrency) polled every `poll_ms`.
    fn config(stores: &[(&str, usize)], poll_ms: u64) -> Config {
        let mut yaml = format!("poll_interval: {poll_ms}ms\nstores:\n");
        for (name, concurrency) in stores {
            yaml.push_str(&format!(
                "  - name: {name}\n    base_url: http://127.0.0.1:1\n    api_key: k\n    \
                 api_secret_env: S\n    max_concurrency: {concurrency}\n"
            ));
        }
        Config::parse(&yaml, std::path::Path::new("."), &|_| Some("s".into())).unwrap()
    }

    struct Fixture {
        set: TaskSet<Probe>,
        state: Arc<State>,
        log: Log,
        panic_once: Arc<AtomicBool>,
        metrics: Metrics,
    }

    impl Fixture {
        fn new(first: &Config) -> Fixture {
            let log = Log::default();
            let panic_once = Arc::new(AtomicBool::new(false));
            let probe = Probe {
                log: Arc::clone(&log),
                panic_once: Arc::clone(&panic_once),
            };
            let metrics = Metrics::new();
            let state = State::new(first);
            let supervisor = Supervisor::new(metrics.task_restarts());
            let set = TaskSet::new(probe, Arc::clone(&state), supervisor);
            Fixture {
                set,
                state,
                log,
                panic_once,
                metrics,
            }
        }

        /// Applies `config` to the state and the set, as `apply` does.
        async fn apply(&mut self, config: &Config) {
            self.state.apply_config(config);
            let plan = self.set.plan(config).unwrap_or_else(|e| panic!("{e}"));
            self.set.apply(plan, config).await;
        }

        /// The log once it has `n` lines (the tasks run on their own), emptied.
        async fn take(&self, n: usize) -> Vec<String> {
            for _ in 0..1000 {
                if lock(&self.log).len() >= n {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            std::mem::take(&mut *lock(&self.log))
        }

        fn restarts(&self) -> u64 {
            let restarts = self.metrics.task_restarts();
            restarts
                .with_label_values(&[Task::IntentSource.as_str()])
                .get()
        }
    }

    /// New keys start, an in-place change reaches the running task without a restart, a
    /// change that needs one stops the task (it finishes) and starts it again, a key the
    /// config drops is stopped and then handed to `gone`; `settle` follows every apply.
    #[tokio::test(start_paused = true)]
    async fn wanted_against_running_starts_updates_restarts_and_stops() {
        let first = config(&[("a", 1), ("b", 1)], 500);
        let mut f = Fixture::new(&first);
        f.apply(&first).await;
        let mut log = f.take(5).await;
        log[3..].sort();
        assert_eq!(
            log,
            [
                "a started",
                "b started",
                "settled 2 stores",
                "a runs 1 500ms",
                "b runs 1 500ms"
            ]
        );

        // `a` in place, `b` restarted, `c` new.
        f.apply(&config(&[("a", 1), ("b", 2), ("c", 1)], 700)).await;
        let mut log = f.take(7).await;
        log[4..].sort();
        assert_eq!(
            log,
            [
                "b stopped",
                "b started",
                "c started",
                "settled 3 stores",
                "a runs 1 700ms",
                "b runs 2 700ms",
                "c runs 1 700ms",
            ]
        );

        // `b` and `c` leave: stopped, then gone (with the store they ran on).
        f.apply(&config(&[("a", 1)], 700)).await;
        let mut log = f.take(6).await;
        log[..4].sort();
        assert_eq!(
            log,
            [
                "b gone (b)",
                "b stopped",
                "c gone (c)",
                "c stopped",
                "settled 1 stores",
                "a runs 1 700ms"
            ]
        );

        f.set.stop_all().await;
        assert_eq!(f.take(1).await, ["a stopped"]);
        assert_eq!(f.restarts(), 0);
    }

    /// A plan that fails leaves every task as it was; a key whose store the state lacks
    /// is not started.
    #[tokio::test(start_paused = true)]
    async fn a_failed_plan_changes_nothing_and_a_store_must_exist() {
        let first = config(&[("a", 1)], 500);
        let mut f = Fixture::new(&first);
        f.apply(&first).await;
        f.take(3).await;
        let bad = config(&[("a", 2), ("bad", 1)], 900);
        assert_eq!(f.set.plan(&bad).err().as_deref(), Some("bad cannot run"));
        let without_state = config(&[("a", 1), ("z", 1)], 500);
        let plan = f.set.plan(&without_state).unwrap();
        f.set.apply(plan, &without_state).await;
        assert_eq!(
            f.take(2).await,
            ["settled 2 stores", "a runs 1 500ms"],
            "`a` kept running with its spec; `z` has no store"
        );
        f.set.stop_all().await;
        assert_eq!(f.take(1).await, ["a stopped"]);
    }

    /// A task that panics is run again by the supervisor, counted under its kind's task
    /// label, with the spec it has by then.
    #[tokio::test(start_paused = true)]
    async fn a_panicking_task_is_restarted_with_its_latest_spec() {
        let first = config(&[("a", 1)], 500);
        let mut f = Fixture::new(&first);
        f.panic_once.store(true, Ordering::SeqCst);
        f.apply(&first).await;
        f.apply(&config(&[("a", 1)], 800)).await;
        let log = f.take(4).await;
        assert_eq!(
            log,
            [
                "a started",
                "settled 1 stores",
                "settled 1 stores",
                "a runs 1 800ms"
            ]
        );
        assert_eq!(f.restarts(), 1);
        f.set.stop_all().await;
    }
}
