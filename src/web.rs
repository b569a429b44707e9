//! `--web.config.file`: TLS and basic auth for the exporter's own HTTP server, in the
//! Prometheus exporter-toolkit format. The file and the certificate, key and CA files it
//! names are re-read when they change, so certificates rotate without a restart.

pub mod admission;
pub mod auth;
pub mod body;
pub mod config;
mod idle;
pub mod serve;
pub mod tls;

use crate::lock;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rustls::ServerConfig;

use self::auth::Users;
pub use self::config::{Problem, WebConfig, WebConfigError};
use crate::single_flight::SingleFlight;

/// The files are checked for changes at most this often, on demand (a new connection or
/// a protected request): cheap, and no watcher to keep alive.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// What new connections and requests use right now.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub tls: Option<Arc<ServerConfig>>,
    pub users: Option<Arc<Users>>,
}

/// A web config file that reloads itself when it or a file it names changes. A reload
/// that fails is logged once and the last good settings stay.
#[derive(Debug)]
pub struct LiveWebConfig {
    path: PathBuf,
    /// Held only to copy or swap, never across file access: the async thread takes it.
    current: Mutex<Current>,
    /// Only the check, on a blocking thread, touches the files.
    files: Mutex<Files>,
    checks: SingleFlight<Snapshot>,
}

#[derive(Debug)]
struct Current {
    snapshot: Snapshot,
    checked: Instant,
}

/// The web config file and every file it names, with what they looked like when last
/// read.
#[derive(Debug)]
struct Files {
    watched: Vec<PathBuf>,
    stamps: Vec<Option<Stamp>>,
}

/// Enough to see an edit or a rename-save without reading the file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl LiveWebConfig {
    /// Reads the web config and every file it names; any problem is an error.
    pub fn load(path: &Path) -> Result<Self, WebConfigError> {
        let path = path.to_path_buf();
        let (config, snapshot) = load_snapshot(&path)?;
        let watched = watched_files(&path, Some(&config));
        let stamps = stamp_all(&watched);
        Ok(Self {
            path,
            current: Mutex::new(Current {
                snapshot,
                checked: Instant::now(),
            }),
            files: Mutex::new(Files { watched, stamps }),
            checks: SingleFlight::default(),
        })
    }

    /// The current settings, reloaded first if a watched file changed. The files are
    /// checked on the blocking pool, and requests arriving meanwhile wait for that check.
    pub async fn current(self: &Arc<Self>) -> Snapshot {
        if let Some(snapshot) = self.recently_checked() {
            return snapshot;
        }
        let this = Arc::clone(self);
        let checked = self.checks.run(move || this.check()).await;
        checked.unwrap_or_else(|_| self.snapshot())
    }

    /// The settings as they are, without looking at the files.
    pub fn snapshot(&self) -> Snapshot {
        lock(&self.current).snapshot.clone()
    }

    fn recently_checked(&self) -> Option<Snapshot> {
        let current = lock(&self.current);
        (current.checked.elapsed() < CHECK_EVERY).then(|| current.snapshot.clone())
    }

    /// Compares the files' stamps and reloads on a change. Blocking: file access.
    fn check(&self) -> Snapshot {
        let mut files = lock(&self.files);
        let stamps = stamp_all(&files.watched);
        if stamps != files.stamps {
            files.stamps = stamps;
            self.reload(&mut files);
        }
        let mut current = lock(&self.current);
        current.checked = Instant::now();
        current.snapshot.clone()
    }

    fn reload(&self, files: &mut Files) {
        let had_tls = self.snapshot().tls.is_some();
        let result = load_snapshot(&self.path).and_then(|(config, snapshot)| {
            if snapshot.tls.is_some() != had_tls {
                let problem =
                    Problem::invalid("tls_server_config", "turning TLS on or off needs a restart");
                return Err(in_file(&self.path, problem));
            }
            Ok((config, snapshot))
        });
        match result {
            Ok((config, snapshot)) => {
                let watched = watched_files(&self.path, Some(&config));
                if watched != files.watched {
                    files.stamps = stamp_all(&watched);
                    files.watched = watched;
                }
                lock(&self.current).snapshot = snapshot;
                tracing::info!(file = %self.path.display(), "web config reloaded");
            }
            // Logged once: the stamps are updated, so the next try waits for a change.
            Err(e) => tracing::error!(
                error = %e,
                "web config reload failed; the previous TLS and basic-auth settings stay"
            ),
        }
    }
}

fn in_file(path: &Path, problem: Problem) -> WebConfigError {
    WebConfigError {
        file: path.to_path_buf(),
        problem,
    }
}

/// Parses the web config and builds what it asks for.
fn load_snapshot(path: &Path) -> Result<(WebConfig, Snapshot), WebConfigError> {
    let config = WebConfig::load(path)?;
    let tls = config
        .tls
        .as_ref()
        .map(tls::server_config)
        .transpose()
        .map_err(|problem| in_file(path, problem))?;
    let users = config.users.clone().map(|u| Arc::new(Users::new(u)));
    Ok((config, Snapshot { tls, users }))
}

fn watched_files(path: &Path, config: Option<&WebConfig>) -> Vec<PathBuf> {
    let named = config
        .and_then(|c| c.tls.as_ref())
        .into_iter()
        .flat_map(|tls| tls.files());
    std::iter::once(path)
        .chain(named)
        .map(Path::to_path_buf)
        .collect()
}

fn stamp_all(paths: &[PathBuf]) -> Vec<Option<Stamp>> {
    paths
        .iter()
        .map(|path| {
            let meta = std::fs::metadata(path).ok()?;
            Some(Stamp {
                modified: meta.modified().ok(),
                len: meta.len(),
                inode: inode(&meta),
            })
        })
        .collect()
}

/// A rename-save gives the path a new inode even when size and time match.
#[cfg(unix)]
fn inode(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> u64 {
    0
}
