//! The composition root: starts the pollers, the reloader, the intent sources, the
//! webhook relay, the state-file writer and the HTTP server (its routes are in `routes`,
//! the registration API in `registration`) together, under supervision, and stops them
//! gracefully together.

mod landing;
mod registration;
mod routes;
mod shared;
mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::client::ClientError;
use crate::apply::{self, Applier};
use crate::config::{Config, ConfigError, StateDatabase};
use crate::leases::{Leases, Lookup};
use crate::metrics::Metrics;
use crate::reload::{self, ReloadHandle, ReloadOptions, Reloader};
use crate::replica::owned::{Owned, Ownership};
use crate::state::persist::{RestoreError, Restored};
use crate::state::pg::Connector;
use crate::state::store::{Opened, Storage, Target};
use crate::state::{self, State};
use crate::supervise::{Supervisor, Task};
pub use crate::web::serve::ServerLimits;
use crate::web::{LiveWebConfig, WebConfigError};
use shared::Shared;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("cannot read listener address: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Web(#[from] WebConfigError),
    /// The config cannot be split as `--shard` asks (a budget too small for N replicas).
    #[error(transparent)]
    Shard(#[from] ConfigError),
    /// The state database is locked, failing, or of a newer build: never moved aside.
    #[error(transparent)]
    StateFile(#[from] RestoreError),
    /// The state database's connection settings cannot be used for the replica's leases.
    #[error("state_database: {0}")]
    Replica(String),
}

/// The lease task of a replica in a group sharing `db`, and what it publishes.
fn group_leases(
    db: &StateDatabase,
    options: &ReloadOptions,
    metrics: &Metrics,
    state: &Arc<State>,
) -> Result<(Leases, Ownership), StartError> {
    let connector = Connector::new(db).map_err(StartError::Replica)?;
    let (publish, ownership) = watch::channel(Owned::default());
    metrics.follow(ownership.clone());
    let leases = Leases {
        connector: Arc::new(connector),
        name: options.replica.clone(),
        settings: options.lease,
        publish: Arc::new(publish),
        gauges: metrics.replica(),
        state: Arc::clone(state),
    };
    Ok((leases, ownership))
}

/// A running exporter: pollers, reloader, state-file writer and HTTP server.
pub struct Exporter {
    addr: SocketAddr,
    reload: ReloadHandle,
    supervisor: Supervisor,
    /// Stopped in this order on shutdown: the reloader (which stops the intent sources,
    /// the webhook relays, then polling), the state file, then HTTP.
    stages: Vec<(watch::Sender<bool>, JoinHandle<()>)>,
}

/// A task with its own stop signal.
fn stage<F>(task: impl FnOnce(watch::Receiver<bool>) -> F) -> (watch::Sender<bool>, JoinHandle<()>)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let (stop, stop_rx) = watch::channel(false);
    (stop, tokio::spawn(task(stop_rx)))
}

/// Serves `app` on `listener` until stopped; an end before that fails the process (the
/// listener is gone with it: it cannot be run again).
fn server_stage(
    supervisor: &Supervisor,
    listener: TcpListener,
    app: axum::Router,
    web: Option<Arc<LiveWebConfig>>,
    limits: ServerLimits,
) -> (watch::Sender<bool>, JoinHandle<()>) {
    let supervisor = supervisor.clone();
    stage(move |stop| async move {
        serve(listener, app, web, limits, stop.clone()).await;
        if !*stop.borrow() {
            supervisor.fail(Task::HttpServer, "http_server", "ended unexpectedly");
        }
    })
}

impl Exporter {
    /// [`Exporter::start_with`] the default [`ServerLimits`].
    pub async fn start(
        config: Config,
        listener: TcpListener,
        options: ReloadOptions,
    ) -> Result<Exporter, StartError> {
        Self::start_with(config, listener, options, ServerLimits::default()).await
    }

    /// Restores the state file, starts polling `config`, watching for reloads as
    /// `options` says, and serving on `listener` within `limits`.
    pub async fn start_with(
        config: Config,
        listener: TcpListener,
        options: ReloadOptions,
        limits: ServerLimits,
    ) -> Result<Exporter, StartError> {
        Self::start_with_listeners(config, listener, None, options, limits).await
    }

    /// [`Exporter::start_with`], with the webhook receiver on `webhook_listener` (alone,
    /// with `/healthz`) instead of the main listener when one is given
    /// (`--webhook.listen-address`): it can face the internet while `/metrics` does not.
    pub async fn start_with_listeners(
        config: Config,
        listener: TcpListener,
        webhook_listener: Option<TcpListener>,
        options: ReloadOptions,
        limits: ServerLimits,
    ) -> Result<Exporter, StartError> {
        let addr = listener.local_addr()?;
        let web = options.web_config.as_deref().map(LiveWebConfig::load);
        let web = web.transpose()?.map(Arc::new);
        let config = options.shard.filter(config)?;
        let metrics = Arc::new(Metrics::new());
        metrics.set_shard(options.shard);
        let state = State::with_clock(&config, options.clock.clone());
        let mut state_path = Target::of(&config, &options.replica);
        let mut opened = None;
        if let Some(target) = &state_path {
            let wait = options.state_open_wait;
            match state::persist::open_and_restore_target(target, &state, wait).await? {
                Restored::Open(store) => {
                    let target = target.clone();
                    opened = Some(Opened { target, store });
                }
                Restored::Later => {}
                // A file that could not be moved aside is not written this run.
                Restored::DoNotWrite => state_path = None,
            }
        }
        let read_only = opened.as_ref().is_some_and(|o| o.store.read_only());
        state.set_read_only(read_only);
        state.set_write_ahead(state_path.is_some() && !read_only);
        let storage = Storage::new(opened, state::persist::open_target);
        let supervisor = Supervisor::new(metrics.task_restarts());
        let clock = options.clock.clone();
        let (path_tx, path_rx) = watch::channel(state_path);
        let group = match &config.state_database {
            Some(db) => {
                let (leases, ownership) = group_leases(db, &options, &metrics, &state)?;
                let joined = leases.join().await;
                Some((leases, ownership, joined))
            }
            None => None,
        };
        let parts = apply::Parts {
            state: Arc::clone(&state),
            metrics: Arc::clone(&metrics),
            supervisor: supervisor.clone(),
            durability: Arc::clone(&storage.durability),
            state_path: path_tx,
            ownership: group.as_ref().map(|(_, ownership, _)| ownership.clone()),
        };
        let mut applier = Applier::new(parts, &options, config);
        applier.start().await?;
        metrics.set_reload_result(true, true, clock.now().as_secs_f64());
        let live = applier.subscribe();

        let watches_signals = options.config_path.is_some();
        let shard = options.shard;
        let reloader = Reloader::new(options, applier, Arc::clone(&metrics));
        let (reload_stop, reload_stop_rx) = watch::channel(false);
        let (reload, reload_task) = reloader.spawn(reload_stop_rx.clone());
        if watches_signals {
            tokio::spawn(reload::forward_sighup(reload.clone(), reload_stop_rx));
        }
        let durability = Arc::clone(&storage.durability);
        let writer = {
            let state = Arc::clone(&state);
            let supervisor = supervisor.clone();
            stage(move |stop| {
                supervisor.supervise(Task::StateWriter, "state_file".into(), stop, move |stop| {
                    state::writer::run_writer(
                        Arc::clone(&state),
                        storage.clone(),
                        path_rx.clone(),
                        stop,
                    )
                })
            })
        };
        let shared = Shared {
            state: Arc::clone(&state),
            durability,
            metrics,
            reload: reload.clone(),
            supervisor: supervisor.clone(),
            config: live,
            shard,
            clock,
            metrics_page: Default::default(),
            landing_page: Default::default(),
            group: group
                .as_ref()
                .map(|(leases, _, _)| Arc::new(Lookup::new(leases))),
        };
        let app = routes::router(shared.clone(), web.clone(), webhook_listener.is_none());
        let mut stages = vec![(reload_stop, reload_task), writer];
        // After the pollers and the last commit: the leases are handed back last.
        if let Some((leases, _, joined)) = group {
            let supervisor = supervisor.clone();
            // The first run continues the membership joined at start; a restart makes anew.
            let mut joined = Some(joined);
            stages.push(stage(move |stop| {
                let scope = "replica_leases".into();
                supervisor
                    .clone()
                    .supervise(Task::ReplicaLeases, scope, stop, move |stop| {
                        leases.clone().run(joined.take(), supervisor.clone(), stop)
                    })
            }));
        }
        if let Some(webhook_listener) = webhook_listener {
            let app = routes::webhook_router(shared);
            stages.push(server_stage(
                &supervisor,
                webhook_listener,
                app,
                web.clone(),
                limits,
            ));
        }
        stages.push(server_stage(&supervisor, listener, app, web, limits));
        Ok(Exporter {
            addr,
            reload,
            supervisor,
            stages,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Resolves when a task failed for good (the process should exit non-zero), with why.
    pub async fn failed(&self) -> String {
        self.supervisor.failed().await
    }

    /// Triggers a reload as SIGHUP would, and waits for its outcome.
    pub async fn reload(&self) -> reload::Outcome {
        self.reload.reload().await
    }

    /// Stops the intent sources and the webhook relay (an event in flight finishes), stops
    /// polling (in-flight requests finish and are counted), saves the state file, then
    /// stops the server (open connections get a short grace, then are cut).
    pub async fn shutdown(self) {
        for (stop, task) in self.stages {
            let _ = stop.send(true);
            let _ = task.await;
        }
    }
}

/// HTTPS when the web config has `tls_server_config`, else plain HTTP.
async fn serve(
    listener: TcpListener,
    app: Router,
    web: Option<Arc<LiveWebConfig>>,
    limits: ServerLimits,
    stop: watch::Receiver<bool>,
) {
    let tls = web.filter(|web| web.snapshot().tls.is_some());
    crate::web::serve::serve(listener, app, tls, limits, stop).await
}
