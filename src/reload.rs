//! Config reloads: file changes (watching the parent directory, so rename-saves and
//! Kubernetes ConfigMap `..data` symlink swaps are seen), SIGHUP, `POST /-/reload`, and a
//! periodic checksum check for filesystems that lose events. One task reads them in
//! order and hands each new valid config to [`crate::apply`], the one place that applies
//! it; an invalid file is logged and the running config stays.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot, watch};

use crate::apply::Applier;
use crate::config::{Config, ConfigError, dir_of, read_config_bytes};
use crate::metrics::Metrics;
use crate::supervise::Task;

pub mod options;

pub use options::{DEBOUNCE, ReloadOptions};

/// What a reload did, as `POST /-/reload` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied(String),
    Unchanged,
    Invalid(String),
}

enum Trigger {
    FileEvent,
    Explicit(Option<oneshot::Sender<Outcome>>),
}

/// Asks the reload task for a reload; cheap to clone.
#[derive(Clone)]
pub struct ReloadHandle {
    tx: mpsc::UnboundedSender<Trigger>,
}

impl ReloadHandle {
    /// Reloads now (re-reading secrets too) and says what happened.
    pub async fn reload(&self) -> Outcome {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Trigger::Explicit(Some(tx))).is_err() {
            return Outcome::Invalid("the exporter is shutting down".into());
        }
        rx.await
            .unwrap_or_else(|_| Outcome::Invalid("the exporter is shutting down".into()))
    }

    /// Asks for a reload without waiting (SIGHUP).
    pub fn request(&self) {
        let _ = self.tx.send(Trigger::Explicit(None));
    }
}

/// The reload task's state: what the file last held, and the one place that applies a
/// new config (which holds the running one).
pub struct Reloader {
    options: ReloadOptions,
    /// Hash of the file bytes last read, valid or not: unchanged bytes are not re-applied.
    seen: Option<[u8; 32]>,
    /// The errors last logged, so a file that stays broken or missing is logged once.
    last_error: Option<String>,
    apply: Applier,
    metrics: Arc<Metrics>,
}

impl Reloader {
    pub fn new(options: ReloadOptions, apply: Applier, metrics: Arc<Metrics>) -> Self {
        Self {
            options,
            // The first check parses the file and finds it equal to the running config.
            seen: None,
            last_error: None,
            apply,
            metrics,
        }
    }

    /// Starts the task; it stops the per-store tasks (finishing what is in flight) when
    /// `shutdown` flips.
    pub fn spawn(
        self,
        shutdown: watch::Receiver<bool>,
    ) -> (ReloadHandle, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let handle = ReloadHandle { tx: tx.clone() };
        let watcher = self.start_watcher(tx);
        let task = tokio::spawn(self.run(rx, watcher, shutdown));
        (handle, task)
    }

    fn start_watcher(
        &self,
        tx: mpsc::UnboundedSender<Trigger>,
    ) -> Option<notify::RecommendedWatcher> {
        let path = self
            .options
            .config_path
            .as_ref()
            .filter(|_| self.options.watch_events)?;
        let dir = dir_of(path);
        let name = path.file_name()?.to_os_string();
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if event.is_ok_and(|e| touches_config(&e, &name)) {
                let _ = tx.send(Trigger::FileEvent);
            }
        })
        .map_err(|e| tracing::warn!(error = %e, "cannot watch the config directory; relying on the periodic check"))
        .ok()?;
        match watcher.watch(dir, RecursiveMode::NonRecursive) {
            Ok(()) => Some(watcher),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot watch the config directory; relying on the periodic check");
                None
            }
        }
    }

    async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<Trigger>,
        _watcher: Option<notify::RecommendedWatcher>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let period = self.options.check_interval;
        let mut tick = tokio::time::interval(if period.is_zero() {
            Duration::MAX / 4
        } else {
            period
        });
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // the first tick is immediate
        loop {
            let trigger = tokio::select! {
                _ = crate::stopped(&mut shutdown) => break,
                Some(trigger) = rx.recv() => trigger,
                _ = tick.tick(), if !period.is_zero() => Trigger::FileEvent,
            };
            let mut force = false;
            let mut replies = Vec::new();
            let mut collect = |t: Trigger| {
                if let Trigger::Explicit(reply) = t {
                    force = true;
                    replies.extend(reply);
                }
            };
            let was_file_event = matches!(trigger, Trigger::FileEvent);
            collect(trigger);
            if was_file_event {
                tokio::time::sleep(DEBOUNCE).await;
            }
            while let Ok(t) = rx.try_recv() {
                collect(t);
            }
            let supervisor = self.apply.supervisor();
            let outcome = supervisor
                .guard(Task::Reloader, "reloader", self.reload(force))
                .await
                .unwrap_or_else(|| {
                    Outcome::Invalid("internal error while reloading (logged); the previous config keeps running".into())
                });
            for reply in replies {
                let _ = reply.send(outcome.clone());
            }
        }
        self.apply.stop_all().await;
    }

    /// Now, in unix seconds, for the reload metrics.
    fn now(&self) -> f64 {
        self.options.clock.now().as_secs_f64()
    }

    /// Reads the file and applies it if it changed. `force` re-reads secrets even when the
    /// file bytes did not change (SIGHUP and `POST /-/reload`).
    async fn reload(&mut self, force: bool) -> Outcome {
        let Some(path) = self.options.config_path.clone() else {
            return Outcome::Invalid("the exporter was started without a config file".into());
        };
        // Reading, hashing (each periodic check) and parsing a watch list of 100k intents
        // take a while: they run off the runtime thread, so polling and scrapes go on.
        let unless = if force { None } else { self.seen };
        let file = path.clone();
        let read = match tokio::task::spawn_blocking(move || read_and_parse(&file, unless)).await {
            Ok(read) => read,
            Err(e) => return self.reject(force, None, format!("reading the config failed: {e}")),
        };
        let (digest, parsed) = match read {
            Read::Failed(error) => return self.reject(force, None, error),
            Read::Same => return Outcome::Unchanged,
            Read::Parsed(digest, parsed) => (digest, parsed),
        };
        let config = match parsed.and_then(|config| self.options.shard.filter(config)) {
            Ok(config) => config,
            Err(error) => return self.reject(force, Some(digest), error),
        };
        self.seen = Some(digest);
        self.last_error = None;
        if config == *self.apply.current() {
            self.metrics.set_reload_result(true, false, self.now());
            return Outcome::Unchanged;
        }
        let summary = config.summary();
        if let Err(e) = self.apply.apply(config).await {
            return self.reject(force, Some(digest), e);
        }
        tracing::info!(config = %path.display(), %summary, "config reloaded");
        self.metrics.set_reload_result(true, true, self.now());
        Outcome::Applied(summary)
    }

    /// Keeps the running config; logs the errors unless the same errors were just
    /// reported (a missing file must not be logged at every periodic check).
    fn reject(
        &mut self,
        force: bool,
        digest: Option<[u8; 32]>,
        error: impl std::fmt::Display,
    ) -> Outcome {
        let text = error.to_string();
        // A new error is logged at once; the same one again (a forced reload: SIGHUP or
        // POST /-/reload, which anyone may send without basic auth) once a minute.
        let count = if self.last_error.as_deref() != Some(text.as_str()) {
            Some(1)
        } else if force {
            crate::log_limit::outside("reload/failed")
        } else {
            None
        };
        if let Some(count) = count {
            tracing::error!(error = %text, count, "config reload failed; the previous config keeps running");
        }
        self.last_error = Some(text.clone());
        self.seen = digest.or(self.seen);
        self.metrics.set_reload_result(false, false, self.now());
        Outcome::Invalid(text)
    }
}

/// What [`read_and_parse`] found.
enum Read {
    /// The file could not be read.
    Failed(ConfigError),
    /// The bytes hash to the digest the caller already has.
    Same,
    /// New bytes: their digest, and the config they hold.
    Parsed([u8; 32], Result<Config, ConfigError>),
}

/// Reads and hashes the config file, and parses it unless it hashes to `unless`. Blocking
/// work: callers on the runtime run it on the blocking pool.
fn read_and_parse(path: &Path, unless: Option<[u8; 32]>) -> Read {
    let bytes = match read_config_bytes(path) {
        Ok(bytes) => bytes,
        Err(error) => return Read::Failed(error),
    };
    let digest = hash(&bytes);
    if unless == Some(digest) {
        return Read::Same;
    }
    // As start-up parsed it: resolving relative paths against another directory would
    // make a relative `--config.file` parse to another config at every check.
    Read::Parsed(digest, Config::parse_file_bytes(path, &bytes))
}

fn hash(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// An event about the config file itself, or a Kubernetes `..data` swap.
fn touches_config(event: &notify::Event, name: &std::ffi::OsStr) -> bool {
    event.paths.iter().any(|p| {
        p.file_name()
            .is_some_and(|f| f == name || f.to_string_lossy().starts_with(".."))
    })
}

/// SIGHUP asks for a reload, as Prometheus does.
pub(crate) async fn forward_sighup(reload: ReloadHandle, mut stop: watch::Receiver<bool>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP");
            return;
        };
        loop {
            tokio::select! {
                _ = crate::stopped(&mut stop) => return,
                Some(()) = hup.recv() => {
                    tracing::info!("SIGHUP: reloading the config");
                    reload.request();
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (reload, crate::stopped(&mut stop).await);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn event(paths: &[&str]) -> notify::Event {
        let mut e = notify::Event::new(notify::EventKind::Any);
        e.paths = paths.iter().map(PathBuf::from).collect();
        e
    }

    /// A small config whose secret variable is set in any test environment.
    const CONFIG: &str = "stores:\n  - name: main\n    base_url: http://127.0.0.1:9\n    \
                          api_key: k\n    api_secret_env: PATH\n";

    fn reloader_of(path: &Path) -> Reloader {
        let current = Config::parse(CONFIG, &crate::config::base_dir(path), &|n| {
            std::env::var(n).ok()
        })
        .expect("the test config is valid");
        let metrics = Arc::new(Metrics::new());
        let parts = crate::apply::Parts {
            state: crate::state::State::new(&current),
            metrics: Arc::clone(&metrics),
            supervisor: crate::supervise::Supervisor::new(metrics.task_restarts()),
            durability: Arc::default(),
            state_path: watch::channel(None).0,
            ownership: None,
        };
        let options = ReloadOptions {
            config_path: Some(path.to_path_buf()),
            ..ReloadOptions::none()
        };
        let apply = Applier::new(parts, &options, current);
        Reloader::new(options, apply, metrics)
    }

    /// The runtime is current-thread: a check that read the file on it would stall polling
    /// and scrapes for as long as the read takes. A FIFO makes the read take 500 ms (until
    /// a writer comes); meanwhile a timer on the same thread must keep ticking.
    #[tokio::test]
    async fn reading_the_config_leaves_the_runtime_thread_free() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("config.yaml");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo");
        let mut reloader = reloader_of(&fifo);
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(500));
                std::fs::write(fifo, CONFIG).unwrap();
            })
        };
        let start = std::time::Instant::now();
        let ticks = async {
            let mut ticks = 0;
            while start.elapsed() < Duration::from_millis(400) {
                tokio::time::sleep(Duration::from_millis(10)).await;
                ticks += 1;
            }
            ticks
        };
        let (outcome, ticks) = tokio::join!(reloader.reload(false), ticks);
        writer.join().unwrap();
        assert_eq!(outcome, Outcome::Unchanged);
        assert!(
            ticks >= 10,
            "the runtime thread was blocked: {ticks} ticks in 400 ms"
        );
    }

    #[test]
    fn only_config_and_configmap_swaps_count() {
        let name = std::ffi::OsStr::new("config.yaml");
        assert!(touches_config(&event(&["/etc/a/config.yaml"]), name));
        assert!(touches_config(
            &event(&["/etc/a/.config.yaml.swp", "/etc/a/config.yaml"]),
            name
        ));
        assert!(touches_config(&event(&["/etc/a/..data"]), name));
        assert!(touches_config(
            &event(&["/etc/a/..2026_11_25_03_00_00.123"]),
            name
        ));
        assert!(!touches_config(&event(&["/etc/a/state.json"]), name));
        assert!(!touches_config(&event(&["/etc/a/.state.json.tmp-1"]), name));
    }
}
