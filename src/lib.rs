//! allscale-exporter: a Prometheus exporter for AllScale Checkout intents.
//!
//! Data flows one way: [`config`] → [`sources`] → `poller` → [`state`] → [`metrics`] →
//! [`server`].
//!
//! - [`config`]: the YAML schema, validation and secrets; `redact` keeps pasted secrets
//!   out of its messages.
//! - [`sources`]: intents pulled from files and a backend's HTTP list, per store, into
//!   the watch list (each source its own part of it).
//! - [`api`] (the `allscale-api` crate, `crates/allscale-api`): signing, webhook
//!   verification, the envelope, the status enum and the intent detail (exact decimal
//!   amounts), the signed client and its HTTP/1.1 and HTTP/2 transport.
//! - `poller`: one scheduler per store (budget, calendar queue, backoff): status polls,
//!   and one detail fetch per terminal intent.
//! - [`state`]: what is known per intent and store (the watch list as the union of its
//!   sources, webhooks counted once with polling, money counted once per intent);
//!   [`state::writer`] commits it through the storage boundary ([`state::store`]; the
//!   SQLite state database, [`state::db`], or PostgreSQL, [`state::pg`]), write-ahead;
//!   [`state::persist`] restores it; [`replica`]: the replica's name in a shared database,
//!   the partitions' leases, and what this replica holds ([`replica::owned`]);
//!   [`leases`]: the task that keeps this replica's leases, which the pollers follow.
//! - [`metrics`]: every metric, declared once; the page is a list of collectors, read at
//!   scrape (the stores' own series, families rendered from [`state`], registries).
//! - [`server`]: start, stop and the HTTP routes (the registration API, the webhook
//!   receiver, the on-call landing page); [`web`]: the server's TLS, basic auth and connection limits;
//!   `single_flight`: one render at a time.
//! - [`relay`]: verified webhooks relayed, in order, to a store's `forward_url`.
//! - `supervise`: restarts of the long-lived tasks, and the process's health.
//! - [`reload`]: config reloads, each valid config handed to `apply`, the one place that
//!   applies a config (state, metrics, then the pollers', sources' and relays' task sets,
//!   each a `reconcile::TaskSet`: wanted against running, under supervision).
//!   [`shard`]: the stable split; [`cli`], [`demo`],
//!   [`simulator`] (the `allscale-simulator` crate, `crates/allscale-simulator`): the
//!   binary's commands.
//! - [`clock`]: `UnixTime` and the `Clock` handle (time as a dependency); `text` (from
//!   the API crate): slicing untrusted text on character boundaries only. `log_limit`: at most
//!   one log line a minute per kind for what an outside client can cause.

// `serde_as_text!` for the exporter's own label types, from the API crate.
#[macro_use]
extern crate allscale_api as _;

/// The AllScale API crate, at the path the exporter always used.
pub use ::allscale_api as api;
pub(crate) mod apply;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod leases;
pub(crate) mod log_limit;
pub mod metrics;
pub(crate) mod poller;
pub(crate) mod reconcile;
pub use poller::detail::answered;
mod redact;
pub mod relay;
pub mod reload;
pub mod replica;
pub mod server;
pub mod shard;
/// The fake AllScale API crate, at the path the exporter always used.
pub use ::allscale_simulator as simulator;
pub(crate) mod single_flight;
pub mod sources;
pub mod state;
pub(crate) mod supervise;
pub(crate) use allscale_api::text;
pub mod web;

/// Version and git revision, as `--version` and `allscale_exporter_build_info` show them.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const REVISION: &str = env!("ALLSCALE_GIT_REVISION");

/// Resolves once a stop signal turns true (or its sender is gone).
pub(crate) async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Locks `mutex`. The one policy for poisoned locks: the data behind every lock here is
/// plain (maps, counters), and a panic while it was held (caught by the supervisor)
/// leaves nothing half-done that is worse than losing the data; so keep serving it.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
