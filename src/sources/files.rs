//! `intent_sources.files`: lists in files, like Prometheus `file_sd_configs`.
//!
//! The directories of the patterns are watched with `notify` (debounced like config
//! reloads), and every `--config.check-interval` the patterns are expanded again (new
//! files) and each file's size, times and inode compared (filesystems that lose
//! events). Only a file that changed is read again. A file that is invalid anywhere keeps
//! its last good list (one problem per version of the file); a deleted file contributes
//! nothing, which is not a problem. The source's list is the union over its files.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::glob;
use super::list::{self, ListError};
use super::refresh::{Fetch, Problem, Round};
use crate::config::{IntentConfig, IntentId};

/// Largest list file read; a larger one is a problem (its last good list stays).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// What identifies a version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    len: u64,
    modified: Option<std::time::SystemTime>,
    #[cfg(unix)]
    inode: (u64, u64, i64, i64),
}

impl Fingerprint {
    fn of(meta: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt;
        Self {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            inode: (meta.dev(), meta.ino(), meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// One file: the version last read, and its last good list.
#[derive(Debug)]
struct Entry {
    fingerprint: Fingerprint,
    list: Vec<IntentConfig>,
}

/// The files part of a store's sources: its patterns and what each file last held.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    patterns: Vec<PathBuf>,
    entries: BTreeMap<PathBuf, Entry>,
    /// Files whose current version could not be read or parsed.
    broken: BTreeSet<PathBuf>,
}

impl Scan {
    pub(crate) fn new(patterns: Vec<PathBuf>) -> Self {
        Self {
            patterns,
            ..Self::default()
        }
    }

    /// Expands the patterns and reads what changed (`forced`: named by file events);
    /// the whole list when anything did. Blocking: run it off the runtime threads.
    pub(crate) fn round(&mut self, forced: &HashSet<PathBuf>) -> Round {
        let current: BTreeSet<PathBuf> =
            self.patterns.iter().flat_map(|p| glob::expand(p)).collect();
        let mut changed = false;
        let before = self.entries.len();
        self.entries.retain(|path, _| current.contains(path));
        self.broken.retain(|path| current.contains(path));
        changed |= self.entries.len() != before;
        let mut problems = Vec::new();
        for path in &current {
            match self.read(path, forced.contains(path)) {
                Ok(file_changed) => changed |= file_changed,
                Err(problem) => problems.push(problem),
            }
        }
        Round {
            list: changed.then(|| self.union()),
            problems,
            clean: self.broken.is_empty(),
        }
    }

    /// Reads `path` again when it changed; whether its list did.
    fn read(&mut self, path: &Path, forced: bool) -> Result<bool, Problem> {
        let meta = match std::fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Deleted (or never there): contributes nothing.
                self.broken.remove(path);
                return Ok(self
                    .entries
                    .remove(path)
                    .is_some_and(|e| !e.list.is_empty()));
            }
            Err(e) => return Err(self.broken(path, None, format!("cannot read it: {e}"))),
        };
        let fingerprint = Fingerprint::of(&meta);
        let known = self.entries.get(path).map(|e| e.fingerprint);
        if known == Some(fingerprint) && !forced {
            return Ok(false);
        }
        // A failed read is retried at the next round only if the file changed again.
        let parsed = match read_capped(path) {
            Ok(bytes) => list::parse(&bytes).map_err(|e| e.to_string()),
            Err(why) => Err(why),
        };
        match parsed {
            Ok(list) => {
                self.broken.remove(path);
                let entry = Entry { fingerprint, list };
                let old = self.entries.insert(path.to_path_buf(), entry);
                Ok(old.is_none_or(|old| old.list != self.entries[path].list))
            }
            Err(why) => {
                if known == Some(fingerprint) && self.broken.contains(path) {
                    return Ok(false); // the same broken version, named by an event again
                }
                Err(self.broken(path, Some(fingerprint), why))
            }
        }
    }

    /// Marks `path` broken at this version (keeping its last good list), and words it.
    fn broken(&mut self, path: &Path, fingerprint: Option<Fingerprint>, why: String) -> Problem {
        self.broken.insert(path.to_path_buf());
        if let Some(fingerprint) = fingerprint {
            self.entries
                .entry(path.to_path_buf())
                .and_modify(|e| e.fingerprint = fingerprint)
                .or_insert(Entry {
                    fingerprint,
                    list: Vec::new(),
                });
        }
        Problem {
            key: format!("{}\0{fingerprint:?}", path.display()),
            message: format!("{}: {why}", path.display()),
        }
    }

    /// Every file's last good list, merged (an order id given anywhere is kept).
    fn union(&self) -> Vec<IntentConfig> {
        let total = self.entries.values().map(|e| e.list.len()).sum();
        let mut at: HashMap<&IntentId, usize> = HashMap::with_capacity(total);
        let mut out: Vec<IntentConfig> = Vec::with_capacity(total);
        for intent in self.entries.values().flat_map(|e| &e.list) {
            match at.get(&intent.id) {
                Some(&i) => {
                    if intent.order_id.is_some() {
                        out[i].order_id = intent.order_id.clone();
                    }
                }
                None => {
                    at.insert(&intent.id, out.len());
                    out.push(intent.clone());
                }
            }
        }
        out
    }
}

fn read_capped(path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read it: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ListError::TooLarge(MAX_FILE_BYTES >> 20).to_string());
    }
    Ok(bytes)
}

/// The files source of one store: a [`Scan`] driven by file events and a periodic check.
pub(crate) struct Files {
    patterns: Vec<PathBuf>,
    scan: Option<Scan>,
    events: mpsc::UnboundedReceiver<Vec<PathBuf>>,
    _watcher: Option<notify::RecommendedWatcher>,
    check: Option<tokio::time::Interval>,
    forced: HashSet<PathBuf>,
}

impl Files {
    /// Watches the patterns' directories when `watch_events`, and re-checks every
    /// `check_interval` (zero: never).
    pub(crate) fn new(
        patterns: Vec<PathBuf>,
        check_interval: Duration,
        watch_events: bool,
    ) -> Self {
        let (tx, events) = mpsc::unbounded_channel();
        let dirs: BTreeSet<PathBuf> = patterns
            .iter()
            .filter_map(|p| p.parent().map(Path::to_path_buf))
            .collect();
        let watcher = watch_events.then(|| watch(&dirs, tx)).flatten();
        let check = (!check_interval.is_zero()).then(|| {
            let start = tokio::time::Instant::now() + check_interval;
            let mut tick = tokio::time::interval_at(start, check_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick
        });
        Self {
            scan: Some(Scan::new(patterns.clone())),
            patterns,
            events,
            _watcher: watcher,
            check,
            forced: HashSet::new(),
        }
    }
}

/// A watcher of `dirs` that sends the paths of every event; `None` when none can be
/// watched (the periodic check remains).
fn watch(
    dirs: &BTreeSet<PathBuf>,
    tx: mpsc::UnboundedSender<Vec<PathBuf>>,
) -> Option<notify::RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // Reads (ours included) are no change: only writes, creations, removals, renames
        // and metadata changes start a round.
        if let Ok(event) = event
            && !matches!(event.kind, notify::EventKind::Access(_))
        {
            let _ = tx.send(event.paths);
        }
    })
    .map_err(|e| tracing::warn!(error = %e, "cannot watch intent source files; relying on the periodic check"))
    .ok()?;
    let mut any = false;
    for dir in dirs {
        match watcher.watch(dir, RecursiveMode::NonRecursive) {
            Ok(()) => any = true,
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot watch an intent source directory; relying on the periodic check")
            }
        }
    }
    any.then_some(watcher)
}

impl Fetch for Files {
    async fn next(&mut self) {
        let check = async {
            match self.check.as_mut() {
                Some(tick) => {
                    tick.tick().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            Some(paths) = self.events.recv() => {
                self.forced.extend(paths);
                tokio::time::sleep(crate::reload::options::DEBOUNCE).await;
                while let Ok(paths) = self.events.try_recv() {
                    self.forced.extend(paths);
                }
            }
            () = check => {}
        }
    }

    async fn fetch(&mut self) -> Round {
        let mut scan = self
            .scan
            .take()
            .unwrap_or_else(|| Scan::new(self.patterns.clone()));
        let forced = std::mem::take(&mut self.forced);
        let done = tokio::task::spawn_blocking(move || {
            let round = scan.round(&forced);
            (scan, round)
        })
        .await;
        match done {
            Ok((scan, round)) => {
                self.scan = Some(scan);
                round
            }
            // The scan panicked: start again from nothing (the watch list keeps the last
            // applied list until a round succeeds).
            Err(e) => Round {
                problems: vec![Problem {
                    key: "internal".into(),
                    message: format!("reading the files failed: {e}"),
                }],
                ..Round::default()
            },
        }
    }
}

#[cfg(test)]
mod tests;
