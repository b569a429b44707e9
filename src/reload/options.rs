//! What the start takes besides the config: how reloads are triggered, the shard, the web
//! config, the state database's wait, the clock and the replica's name. A module of its
//! own, below everything that reads it (the applier, the intent sources), so that none
//! of them imports the reloader.

use std::path::PathBuf;
use std::time::Duration;

use crate::clock::Clock;
use crate::replica::ReplicaName;
use crate::replica::lease::LeaseSettings;
use crate::shard::Shard;

/// Quiet time after a file event before reading the file: editors and ConfigMap updates
/// touch several files in a row.
pub const DEBOUNCE: Duration = Duration::from_millis(250);

/// How reloads are triggered, and what else the start takes (the shard, the web config,
/// the state database's wait, the clock).
#[derive(Debug, Clone)]
pub struct ReloadOptions {
    /// The config file; `None` when the config was built in memory (no reloads).
    pub config_path: Option<PathBuf>,
    /// Checksum check period; zero turns it off.
    pub check_interval: Duration,
    /// Watch the config's directory for changes.
    pub watch_events: bool,
    /// Which part of every store's intents this replica watches.
    pub shard: Shard,
    /// `--web.config.file`: TLS and basic auth for the HTTP server. It is re-read on its
    /// own when it changes (see [`crate::web`]), not by this module's reloads.
    pub web_config: Option<PathBuf>,
    /// `--state-file.open-wait`: how long the start waits for a locked or failing state
    /// database before it gives up.
    pub state_open_wait: Duration,
    /// Where "now" comes from: the system clock, or a test's [`Clock::manual`].
    pub clock: Clock,
    /// `--replica.name`: whose counters this process keeps in a `state_database`.
    pub replica: ReplicaName,
    /// `--replica.lease-duration`: the leases of a group sharing a `state_database`.
    pub lease: LeaseSettings,
}

impl ReloadOptions {
    /// No file: nothing to reload (tests and embedders that build `Config` in memory).
    pub fn none() -> Self {
        Self {
            config_path: None,
            check_interval: Duration::ZERO,
            watch_events: false,
            shard: Shard::ALL,
            web_config: None,
            state_open_wait: crate::state::persist::DEFAULT_OPEN_WAIT,
            clock: Clock::system(),
            replica: ReplicaName::default(),
            lease: LeaseSettings::default(),
        }
    }
}
