//! The state file: what the exporter knew when it stopped, so that after a restart no
//! outcome is counted twice, terminal intents are not polled again, and the outcome and
//! transition counters continue where they were. Those counters are exported only once
//! saved (write-ahead, see [`super`]), so a crash never restores less than was scraped.
//! Request and error counters are not kept: a new process starts them from 0, a reset
//! Prometheus handles (restoring an older, lower value would read as a reset too, and
//! `increase()` would count the whole restored total again).
//!
//! Written atomically (temp file in the same directory, fsync, rename, fsync of the
//! directory). A file that cannot be understood is moved aside, never overwritten.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::{Counts, DropReason, Dropped, IntentMap, IntentState, State, StoreHandle};
use crate::api::{Outcome, Status, StatusClass};
use crate::clock::unix_now;
use crate::config::IntentId;
use crate::config::dir_of;

/// The format this build writes; it reads this one and every earlier one (version 1 had
/// no `added_at`, expiry or drop fields: they read as absent).
pub const FORMAT_VERSION: u32 = 2;

/// Significant changes (statuses, outcomes) are saved this long after they happen, so a
/// burst of answers becomes one write.
pub const FLUSH_DELAY: Duration = Duration::from_secs(1);

/// Minor changes (last-success timestamps) are saved at least this often.
pub const PERIODIC_SAVE: Duration = Duration::from_secs(15);

/// A failed save is tried again this soon: outcome counters wait for it.
pub const RETRY_SAVE: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateFile {
    pub format_version: u32,
    pub written_at: f64,
    pub stores: BTreeMap<String, StoreRecord>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreRecord {
    /// Intents counted per outcome.
    pub terminal_total: BTreeMap<Outcome, u64>,
    pub transitions: Vec<TransitionRecord>,
    /// Request counters by result, as earlier versions wrote them: read, never restored
    /// (see the module doc), and no longer written.
    #[serde(default, skip_serializing)]
    pub api_requests: BTreeMap<String, u64>,
    /// Error counters by code label, likewise.
    #[serde(default, skip_serializing)]
    pub api_errors: BTreeMap<String, u64>,
    pub intents: BTreeMap<IntentId, IntentRecord>,
    /// Final intents removed from the watch list, still remembered.
    #[serde(default)]
    pub retired: BTreeMap<IntentId, IntentRecord>,
    /// Intents that expired (`max_watch_age`).
    #[serde(default)]
    pub expired_total: u64,
    /// Intents dropped from polling, per reason.
    #[serde(default)]
    pub dropped_total: BTreeMap<DropReason, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionRecord {
    pub from: StatusClass,
    pub to: StatusClass,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentRecord {
    pub status: Option<i64>,
    pub not_found: bool,
    pub status_changed_at: Option<f64>,
    pub last_success_at: Option<f64>,
    /// Set once the terminal outcome was counted; never polled again after that.
    pub terminal_at: Option<f64>,
    /// When it joined the watch list; absent in version 1 (restored as the restore time).
    #[serde(default)]
    pub added_at: Option<f64>,
    /// Set once it expired and was counted; never polled again after that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_at: Option<f64>,
    /// Set once it was dropped and counted; never polled again after that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped: Option<Dropped>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    #[error("cannot read state file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {path} is not valid: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error(
        "state file {path} has format version {found}; this build reads versions 1 to {FORMAT_VERSION}"
    )]
    FutureVersion { path: PathBuf, found: u32 },
    #[error("cannot write state file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What loading found.
#[derive(Debug)]
pub enum Loaded {
    /// No file yet: a first start.
    Missing,
    State(StateFile),
    /// The file was unusable and moved aside to `moved_to`; start fresh.
    MovedAside {
        error: StateFileError,
        moved_to: PathBuf,
    },
}

/// Reads the state file; an unusable one is moved aside (`<path>.corrupt-<unix time>`).
///
/// Fails only when the file exists, is unusable, and cannot be moved aside: then the
/// caller must not write to that path either, or it would destroy the evidence.
pub fn load(path: &Path) -> Result<Loaded, StateFileError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Loaded::Missing),
        Err(source) => {
            return Err(StateFileError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let error = match parse(path, &bytes) {
        Ok(file) => return Ok(Loaded::State(file)),
        Err(error) => error,
    };
    let moved_to = PathBuf::from(format!("{}.corrupt-{}", path.display(), unix_now() as u64));
    match std::fs::rename(path, &moved_to) {
        Ok(()) => Ok(Loaded::MovedAside { error, moved_to }),
        Err(_) => Err(error),
    }
}

fn parse(path: &Path, bytes: &[u8]) -> Result<StateFile, StateFileError> {
    let invalid = |reason: String| StateFileError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    #[derive(Deserialize)]
    struct VersionOnly {
        format_version: u32,
    }
    let version: VersionOnly = serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
    if !(1..=FORMAT_VERSION).contains(&version.format_version) {
        return Err(StateFileError::FutureVersion {
            path: path.to_path_buf(),
            found: version.format_version,
        });
    }
    // Label values and intent ids this build does not know are errors of their own.
    serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))
}

/// The temp-file name [`save`] uses for `path`, without its process id.
fn temp_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    format!(".{name}.tmp-")
}

/// Removes temp files a killed run left half-written next to the state file.
fn remove_stale_temp_files(path: &Path) {
    let dir = dir_of(path);
    let prefix = temp_prefix(path);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Writes `file` atomically: temp file in the same directory, fsync, rename, fsync dir.
pub fn save(path: &Path, file: &StateFile) -> Result<(), StateFileError> {
    let write_error = |source| StateFileError::Write {
        path: path.to_path_buf(),
        source,
    };
    let bytes = serde_json::to_vec(file).expect("state serialises");
    let dir = dir_of(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(write_error)
}

/// What a snapshot took of each store: the live counters, to export once saved.
pub type Committed = Vec<(StoreHandle, Counts)>;

/// A snapshot of everything worth keeping (departed stores included), taken store by
/// store under each store's lock, with the counters it holds.
pub fn snapshot(state: &State) -> (StateFile, Committed) {
    let mut stores = BTreeMap::new();
    let mut committed = Vec::new();
    for handle in state.all_stores() {
        let st = handle.lock();
        let counts = st.counts();
        let record = StoreRecord {
            terminal_total: counts.terminal_total.clone(),
            transitions: counts
                .transitions
                .iter()
                .map(|(&(from, to), &count)| TransitionRecord { from, to, count })
                .collect(),
            intents: records(&st.intents),
            retired: records(&st.retired),
            expired_total: counts.expired_total,
            dropped_total: counts.dropped_total.clone(),
            ..StoreRecord::default()
        };
        drop(st);
        stores.insert(handle.name.clone(), record);
        committed.push((handle, counts));
    }
    let file = StateFile {
        format_version: FORMAT_VERSION,
        written_at: unix_now(),
        stores,
    };
    (file, committed)
}

/// Makes committed counters the exported ones.
pub fn publish(committed: Committed) {
    for (handle, counts) in committed {
        handle.lock().exported = counts;
    }
}

fn records(intents: &IntentMap<IntentState>) -> BTreeMap<IntentId, IntentRecord> {
    intents
        .iter()
        .map(|(id, i)| (id.clone(), IntentRecord::from(i)))
        .collect()
}

impl IntentRecord {
    /// Copies the saved facts into a watched intent (its order id comes from the config);
    /// without a saved `added_at` (version 1) it was added `now`, at the restore.
    fn restore_into(&self, intent: &mut IntentState, now: f64) {
        intent.status = self.status.map(Status::from_code);
        intent.not_found = self.not_found;
        intent.status_changed_at = self.status_changed_at;
        intent.last_success_at = self.last_success_at;
        intent.terminal_at = self.terminal_at;
        intent.added_at = self.added_at.or(Some(now));
        intent.expired_at = self.expired_at;
        intent.dropped = self.dropped;
    }
}

impl From<&IntentState> for IntentRecord {
    fn from(i: &IntentState) -> Self {
        Self {
            status: i.status.map(Status::code),
            not_found: i.not_found,
            status_changed_at: i.status_changed_at,
            last_success_at: i.last_success_at,
            terminal_at: i.terminal_at,
            added_at: i.added_at,
            expired_at: i.expired_at,
            dropped: i.dropped,
        }
    }
}

/// Puts a loaded file back into state: the counters (live and exported), the statuses
/// of the intents the config still has, and the retired terminal intents, also of stores
/// the config no longer names (they are remembered as departed). Returns how many
/// watched intents were restored.
pub fn restore(file: &StateFile, state: &State) -> usize {
    let horizon = state.terminal_retention().as_secs_f64();
    let now = unix_now();
    let mut restored = 0;
    let known: Vec<StoreHandle> = state.stores();
    for (name, record) in &file.stores {
        let handle = match known.iter().find(|h| &h.name == name) {
            Some(handle) => handle.clone(),
            None => state.departed_from_file(name),
        };
        let mut st = handle.lock();
        st.terminal_total.extend(&record.terminal_total);
        st.expired_total = record.expired_total;
        st.dropped_total.extend(&record.dropped_total);
        for t in &record.transitions {
            st.transitions.insert((t.from, t.to), t.count);
        }
        st.exported = st.counts();
        for (id, saved) in record.intents.iter().chain(&record.retired) {
            if let Some(intent) = st.intents.get_mut(id) {
                saved.restore_into(intent, now);
                restored += 1;
            } else {
                let mut intent = IntentState::default();
                saved.restore_into(&mut intent, now);
                if intent.final_at().is_some_and(|t| now - t < horizon) {
                    st.retired.insert(id.clone(), intent);
                }
            }
        }
    }
    restored
}

/// Loads the state file at start-up, logging loudly when it had to be moved aside.
/// Returns whether the path may be written (false when a bad file could not be moved).
pub fn load_and_restore(path: &Path, state: &State) -> bool {
    remove_stale_temp_files(path);
    match load(path) {
        Ok(Loaded::Missing) => {
            tracing::info!(path = %path.display(), "no state file yet; starting fresh");
            true
        }
        Ok(Loaded::State(file)) => {
            let restored = restore(&file, state);
            tracing::info!(path = %path.display(), restored, "state restored");
            true
        }
        Ok(Loaded::MovedAside { error, moved_to }) => {
            tracing::error!(
                %error,
                moved_to = %moved_to.display(),
                "STATE FILE UNUSABLE: moved aside; starting fresh (outcomes seen again may be counted again)"
            );
            true
        }
        Err(error) => {
            tracing::error!(
                %error,
                "STATE FILE UNUSABLE and cannot be moved aside: starting fresh, and NOT writing the state file this run so it is not overwritten"
            );
            false
        }
    }
}

/// Saves the state whenever it changed: about a second after a significant change, every
/// [`PERIODIC_SAVE`] otherwise, and once more when `shutdown` flips. `path` follows the
/// config (a reload may set, change or remove `state_file`).
pub async fn run_writer(
    state: Arc<State>,
    mut path: watch::Receiver<Option<PathBuf>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut saved_version = None;
    let mut last_error: Option<String> = None;
    let mut tick = tokio::time::interval(PERIODIC_SAVE);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopping = tokio::select! {
            _ = crate::stopped(&mut shutdown) => true,
            _ = state.changes().changed() => {
                tokio::time::sleep(FLUSH_DELAY).await;
                false
            }
            _ = path.changed() => false,
            _ = tick.tick() => false,
            _ = tokio::time::sleep(RETRY_SAVE), if last_error.is_some() => false,
        };
        let version = state.changes().version();
        let target = path.borrow_and_update().clone();
        state.set_write_ahead(target.is_some());
        match target {
            None => {}
            Some(target) if saved_version != Some(version) => {
                match save_snapshot(Arc::clone(&state), target).await {
                    Ok(committed) => {
                        publish(committed);
                        state.changes().mark_committed(version);
                        state.record_save(Some(unix_now()));
                        saved_version = Some(version);
                        if last_error.take().is_some() {
                            tracing::info!("state file writes work again");
                        }
                    }
                    Err(e) => {
                        state.record_save(None);
                        let text = e.to_string();
                        if last_error.as_ref() != Some(&text) {
                            tracing::error!(error = %text, "cannot save state; will retry (outcome counters are exported once saved)");
                        }
                        last_error = Some(text);
                    }
                }
            }
            Some(_) => {}
        }
        if stopping {
            break;
        }
    }
}

/// Snapshots and saves off the runtime thread; returns what was committed. A panic in
/// there goes on to the writer's supervisor.
async fn save_snapshot(state: Arc<State>, target: PathBuf) -> Result<Committed, StateFileError> {
    let job = tokio::task::spawn_blocking(move || {
        let (file, committed) = snapshot(&state);
        save(&target, &file).map(|()| committed)
    });
    match job.await {
        Ok(result) => result,
        Err(join) => std::panic::resume_unwind(join.into_panic()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StateFile {
        let mut intents = BTreeMap::new();
        intents.insert(
            IntentId::parse("aaaaaaaaaaaaaaaaaaaaaaaa").unwrap(),
            IntentRecord {
                status: Some(20),
                not_found: false,
                status_changed_at: Some(1.5),
                last_success_at: Some(2.5),
                terminal_at: Some(1.5),
                added_at: Some(1.0),
                expired_at: None,
                dropped: None,
            },
        );
        intents.insert(
            IntentId::parse("bbbbbbbbbbbbbbbbbbbbbbbb").unwrap(),
            IntentRecord {
                status: Some(10),
                not_found: false,
                status_changed_at: Some(1.5),
                last_success_at: Some(2.5),
                terminal_at: None,
                added_at: Some(1.0),
                expired_at: Some(8.0),
                dropped: None,
            },
        );
        intents.insert(
            IntentId::parse("cccccccccccccccccccccccc").unwrap(),
            IntentRecord {
                status: None,
                not_found: true,
                status_changed_at: Some(1.5),
                last_success_at: None,
                terminal_at: None,
                added_at: Some(1.0),
                expired_at: None,
                dropped: Some(Dropped {
                    reason: DropReason::NotFound,
                    at: 9.0,
                }),
            },
        );
        let record = StoreRecord {
            terminal_total: BTreeMap::from([(Outcome::Confirmed, 3)]),
            transitions: vec![TransitionRecord {
                from: StatusClass::OnChain,
                to: StatusClass::Confirmed,
                count: 3,
            }],
            intents,
            expired_total: 1,
            dropped_total: BTreeMap::from([(DropReason::NotFound, 1)]),
            ..StoreRecord::default()
        };
        StateFile {
            format_version: FORMAT_VERSION,
            written_at: 10.0,
            stores: BTreeMap::from([("main".to_string(), record)]),
        }
    }

    #[test]
    fn save_then_load_round_trips_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        save(&path, &sample()).unwrap();
        match load(&path).unwrap() {
            Loaded::State(file) => assert_eq!(file, sample()),
            other => panic!("{other:?}"),
        }
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["state.json"]);
    }

    /// `added_at` and the expired and dropped marks come back from the file, with the
    /// counters; an intent of a version-1 file (no `added_at`) is added at the restore.
    #[test]
    fn restore_keeps_added_at_and_the_given_up_marks() {
        let yaml = "stores:\n  - name: main\n    base_url: http://127.0.0.1:1\n    api_key: k\n    \
                    api_secret_env: S\n    intents: [aaaaaaaaaaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbbbbbbbbbb, \
                    cccccccccccccccccccccccc, dddddddddddddddddddddddd]\n";
        let config =
            crate::config::Config::parse(yaml, Path::new("."), &|_| Some("s".into())).unwrap();
        let state = State::new(&config);
        let mut file = sample();
        let text = serde_json::to_string(&file).unwrap();
        assert!(text.contains(r#""expired_at":8.0"#), "{text}");
        assert!(text.contains(r#""dropped":{"reason":"not_found","at":9.0}"#));
        let old = IntentRecord {
            status: Some(10),
            not_found: false,
            status_changed_at: Some(1.5),
            last_success_at: None,
            terminal_at: None,
            added_at: None,
            expired_at: None,
            dropped: None,
        };
        let store = file.stores.get_mut("main").unwrap();
        store
            .intents
            .insert(IntentId::parse("dddddddddddddddddddddddd").unwrap(), old);
        let before = unix_now();
        assert_eq!(restore(&file, &state), 4);
        let handle = state.stores()[0].clone();
        let st = handle.lock();
        assert_eq!(st.intents["bbbbbbbbbbbbbbbbbbbbbbbb"].expired_at, Some(8.0));
        assert_eq!(st.intents["bbbbbbbbbbbbbbbbbbbbbbbb"].added_at, Some(1.0));
        assert_eq!(
            st.intents["cccccccccccccccccccccccc"]
                .dropped
                .map(|d| d.reason),
            Some(DropReason::NotFound)
        );
        assert!(st.intents["dddddddddddddddddddddddd"].added_at >= Some(before));
        assert_eq!(
            st.pollable().collect::<Vec<_>>(),
            ["dddddddddddddddddddddddd"]
        );
        assert_eq!(st.exported.expired_total, 1);
        assert_eq!(st.exported.dropped_total[&DropReason::NotFound], 1);
    }

    /// A version-1 file (as earlier builds wrote it) is read.
    #[test]
    fn version_1_files_are_read() {
        let v1 = r#"{"format_version":1,"written_at":1.0,"stores":{"main":{"terminal_total":{},
            "transitions":[],"intents":{"aaaaaaaaaaaaaaaaaaaaaaaa":{"status":10,"not_found":false,
            "status_changed_at":1.0,"last_success_at":1.0,"terminal_at":null}}}}}"#;
        let file = parse(Path::new("/state.json"), v1.as_bytes()).unwrap();
        let record = &file.stores["main"];
        assert_eq!(record.expired_total, 0);
        assert!(record.intents.values().all(|i| i.added_at.is_none()));
    }

    #[test]
    fn stale_temp_files_are_removed_and_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(dir.path().join(".state.json.tmp-123"), "half").unwrap();
        std::fs::write(dir.path().join("config.yaml"), "keep").unwrap();
        remove_stale_temp_files(&path);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["config.yaml"]);
    }

    #[test]
    fn missing_file_is_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            load(&dir.path().join("none.json")).unwrap(),
            Loaded::Missing
        ));
    }

    fn assert_moved_aside(content: &str, expect: &str) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, content).unwrap();
        match load(&path).unwrap() {
            Loaded::MovedAside { error, moved_to } => {
                assert!(error.to_string().contains(expect), "{error}");
                assert!(!path.exists(), "the bad file must not stay in place");
                assert_eq!(std::fs::read_to_string(&moved_to).unwrap(), content);
                assert!(moved_to.to_string_lossy().contains("state.json.corrupt-"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn corrupt_file_is_moved_aside_not_overwritten() {
        assert_moved_aside("{\"format_version\": 1, \"stores\": {", "not valid");
        assert_moved_aside("garbage", "not valid");
    }

    #[test]
    fn future_format_is_moved_aside() {
        assert_moved_aside(
            r#"{"format_version": 99, "written_at": 1, "stores": {}}"#,
            "format version 99",
        );
    }

    #[test]
    fn unknown_label_values_are_invalid() {
        let good = serde_json::to_string(&sample()).unwrap();
        let bad = good.replace(r#""confirmed":3"#, r#""confirmed":3,"won":1"#);
        assert_ne!(bad, good);
        assert_moved_aside(&bad, "unknown outcome");
        let bad = good.replace(r#""from":"on_chain""#, r#""from":"paid""#);
        assert_ne!(bad, good);
        assert_moved_aside(&bad, "unknown status");
        let bad = good.replace("aaaaaaaaaaaaaaaaaaaaaaaa", "not-an-id");
        assert_moved_aside(&bad, "unknown intent id");
        let bad = good.replace(r#""reason":"not_found""#, r#""reason":"bored""#);
        assert_ne!(bad, good);
        assert_moved_aside(&bad, "unknown drop reason");
    }

    #[test]
    fn unwritable_directory_is_an_error_not_a_panic() {
        let err = save(Path::new("/nonexistent-dir/state.json"), &sample()).unwrap_err();
        assert!(err.to_string().contains("/nonexistent-dir/state.json"));
    }

    proptest::proptest! {
        /// Any bytes, and any Unicode in a well-formed file's strings and numbers: a
        /// state or an error naming the file, never a panic.
        #[test]
        fn any_state_file_bytes_are_a_state_or_an_error(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
            text in ".{0,40}",
            number in proptest::num::f64::ANY,
        ) {
            let path = Path::new("/state.json");
            if let Err(e) = parse(path, &bytes) {
                proptest::prop_assert!(e.to_string().contains("/state.json"));
            }
            let shaped = serde_json::json!({
                "format_version": 1,
                "written_at": number,
                "stores": {text.clone(): {
                    "terminal_total": {text.clone(): 1},
                    "transitions": [{"from": text.clone(), "to": "confirmed", "count": 1}],
                    "intents": {text.clone(): {
                        "status": number as i64, "not_found": false,
                        "status_changed_at": number, "last_success_at": null,
                        "terminal_at": number
                    }}
                }}
            });
            let _ = parse(path, shaped.to_string().as_bytes());
        }
    }
}
