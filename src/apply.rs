//! The one place a config is applied, at start and on each reload, always in this order:
//!
//! 1. the pollers' plan: every API client whose settings changed is built first, so a
//!    failure changes nothing (the reload is refused, the running config stays);
//! 2. the state: stores added, kept, departed or back, their config part of the watch
//!    list, retention, webhook memory, detail fetching;
//! 3. the metrics: the webhook series of every store;
//! 4. the pollers (a removed store's poller finishes its requests in flight, then its
//!    request metrics go; the others take the change in place; new stores' start);
//! 5. the intent sources, then 6. the webhook relays (each stopped, restarted or started
//!    as their settings say; an emptied source's part of the watch list is cleared);
//! 7. published: where the state is kept (for the writer), then the running config (for
//!    the HTTP handlers), so no reader sees a store the state does not have.
//!
//! The reloader only finds and checks configs and hands them here; nothing else follows
//! the config on its own. At shutdown the task sets stop in the order the contract
//! gives: the intent sources, the webhook relays (an event in flight finishes), then the
//! pollers (requests in flight finish and are counted).

use std::sync::Arc;

use tokio::sync::watch;

use crate::api::client::ClientError;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::poller::Pollers;
use crate::reconcile::TaskSet;
use crate::relay::Relays;
use crate::reload::options::ReloadOptions;
use crate::replica::ReplicaName;
use crate::replica::owned::Ownership;
use crate::sources::Sources;
use crate::state::State;
use crate::state::store::{Durability, Target};
use crate::supervise::Supervisor;

/// Applies configs: the state, the metrics and the three per-store task sets.
pub struct Applier {
    state: Arc<State>,
    metrics: Arc<Metrics>,
    supervisor: Supervisor,
    pollers: TaskSet<Pollers>,
    sources: TaskSet<Sources>,
    relays: TaskSet<Relays>,
    /// Where the running config keeps the state (`state_file` or `state_database`), for
    /// the state writer.
    state_path: watch::Sender<Option<Target>>,
    /// Whose counters this process keeps in a `state_database`.
    replica: ReplicaName,
    /// The running config.
    running: watch::Sender<Arc<Config>>,
}

/// What an [`Applier`] works with.
pub struct Parts {
    pub state: Arc<State>,
    pub metrics: Arc<Metrics>,
    pub supervisor: Supervisor,
    /// The state database's commits: a relay sends only committed events.
    pub durability: Arc<Durability>,
    /// The state writer's target, as the start decided it.
    pub state_path: watch::Sender<Option<Target>>,
    /// In a group sharing a state database: what this replica holds, for the pollers.
    pub ownership: Option<Ownership>,
}

impl Applier {
    /// An applier whose running config is `config`, with nothing started yet.
    pub fn new(parts: Parts, options: &ReloadOptions, config: Config) -> Self {
        let Parts {
            state,
            metrics,
            supervisor,
            durability,
            state_path,
            ownership,
        } = parts;
        let pollers = Pollers::new(Arc::clone(&metrics), options.clock.clone(), ownership);
        let sources = Sources::new(Arc::clone(&state), Arc::clone(&metrics), options);
        let relays = Relays::new(durability, Arc::clone(&metrics), options.clock.clone());
        Self {
            pollers: TaskSet::new(pollers, Arc::clone(&state), supervisor.clone()),
            sources: TaskSet::new(sources, Arc::clone(&state), supervisor.clone()),
            relays: TaskSet::new(relays, Arc::clone(&state), supervisor.clone()),
            state,
            metrics,
            supervisor,
            state_path,
            replica: options.replica.clone(),
            running: watch::channel(Arc::new(config)).0,
        }
    }

    /// Starts what the running config wants (its path and the config are published
    /// already).
    pub async fn start(&mut self) -> Result<(), ClientError> {
        let config = self.current();
        self.reconcile(&config).await
    }

    /// Applies `config` and makes it the running one; on an error nothing has changed.
    pub async fn apply(&mut self, config: Config) -> Result<(), ClientError> {
        self.reconcile(&config).await?;
        let _ = self.state_path.send(Target::of(&config, &self.replica));
        self.running.send_replace(Arc::new(config));
        Ok(())
    }

    /// Steps 1 to 6 of the module's order.
    async fn reconcile(&mut self, config: &Config) -> Result<(), ClientError> {
        let pollers = self.pollers.plan(config)?;
        self.state.apply_config(config);
        if config.webhook.enabled {
            for store in &config.stores {
                self.metrics
                    .webhook_store(&store.name, store.webhook.forward_url.is_some());
            }
            self.metrics.webhook_unknown_store();
        }
        self.pollers.apply(pollers, config).await;
        let Ok(sources) = self.sources.plan(config);
        self.sources.apply(sources, config).await;
        let Ok(relays) = self.relays.plan(config);
        self.relays.apply(relays, config).await;
        Ok(())
    }

    /// The running config.
    pub fn current(&self) -> Arc<Config> {
        Arc::clone(&self.running.borrow())
    }

    /// Follows the running config (the HTTP handlers).
    pub fn subscribe(&self) -> watch::Receiver<Arc<Config>> {
        self.running.subscribe()
    }

    /// The supervisor every task runs under.
    pub fn supervisor(&self) -> Supervisor {
        self.supervisor.clone()
    }

    /// Stops the intent sources, the webhook relays, then the pollers, each finishing
    /// what is in flight.
    pub async fn stop_all(&mut self) {
        self.sources.stop_all().await;
        self.relays.stop_all().await;
        self.pollers.stop_all().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> Config {
        let yaml = format!("stores:\n{yaml}");
        Config::parse(&yaml, std::path::Path::new("."), &|_| Some("s".into())).unwrap()
    }

    fn store(name: &str) -> String {
        format!(
            "  - name: {name}\n    base_url: http://127.0.0.1:1\n    api_key: k\n    \
             api_secret_env: S\n"
        )
    }

    /// A config whose API client cannot be built is refused before anything changes: the
    /// state, the running config and the state file's path stay; a good one is then
    /// applied and published.
    #[tokio::test]
    async fn a_config_is_applied_whole_or_not_at_all() {
        let first = config(&store("main"));
        let metrics = Arc::new(Metrics::new());
        let state = State::new(&first);
        let (state_path, mut path_rx) = watch::channel(None);
        let parts = Parts {
            state: Arc::clone(&state),
            metrics: Arc::clone(&metrics),
            supervisor: Supervisor::new(metrics.task_restarts()),
            durability: Arc::default(),
            state_path,
            ownership: None,
        };
        let mut applier = Applier::new(parts, &ReloadOptions::none(), first.clone());
        applier.start().await.unwrap();
        let mut running = applier.subscribe();

        let mut next = config(&format!("{}{}", store("main"), store("other")));
        next.state_file = Some("state.db".into());
        let mut bad = next.clone();
        bad.stores[1].api_key = "not\na header".into();
        let refused = applier.apply(bad).await;
        assert!(matches!(refused, Err(ClientError::ApiKey)), "{refused:?}");
        assert_eq!(*applier.current(), first);
        assert!(state.store("other").is_none(), "the state changed");
        assert!(!path_rx.has_changed().unwrap() && !running.has_changed().unwrap());

        applier.apply(next.clone()).await.unwrap();
        assert!(state.store("other").is_some());
        assert_eq!(
            *path_rx.borrow_and_update(),
            Target::of(&next, &ReloadOptions::none().replica)
        );
        assert_eq!(**running.borrow_and_update(), next);
        applier.stop_all().await;
    }
}
