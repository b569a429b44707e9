//! allscale-exporter: a Prometheus exporter for AllScale Checkout intents.
//!
//! Data flows one way: [`config`] → [`poller`] → [`state`] → [`metrics`] → [`server`].

pub mod api;
pub mod cli;
pub mod config;
pub mod demo;
pub mod metrics;
pub mod poller;
mod redact;
pub mod reload;
pub mod server;
pub mod shard;
pub mod simulator;
pub mod single_flight;
pub mod state;
pub mod supervise;
pub(crate) mod text;
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
