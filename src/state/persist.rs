//! Start-up: opening the state database at `state_file`, importing a JSON state file of
//! an earlier version found there, moving an unusable file aside (never overwriting
//! it), and putting what was saved back into [`State`].
//!
//! Only a file that fails the format and integrity checks is moved aside. One another
//! process holds, or that fails for a reason that says nothing about the file (I/O,
//! memory, file descriptors), is waited for a bounded time; then start-up fails and the
//! process exits non-zero for its supervisor to retry. One written by a newer build stops
//! the start at once. One that can only be read is restored and not written.
//!
//! Opening, importing and moving aside are the SQLite store's (files at `state_file`);
//! what is saved is loaded and written through the [`Store`] trait, and [`restore`]
//! puts a [`Saved`] back into the state, whatever store it came from.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::db::{BUSY_TIMEOUT, Db, DbError, SQLITE_HEADER};
use super::process_lock::{ProcessLock, beside, read_only_error};
use super::store::{Failure, Saved, Store, StoreError, Target, off_thread};
use super::{Source, State};
use crate::config::dir_of;

/// Opens `target` for writing: the SQLite file holding its process lock, or the
/// PostgreSQL database holding the replica's name. The default
/// [`Opener`](super::store::Opener); here, above both stores, so that the storage boundary
/// names neither.
pub fn open_target(target: &Target) -> Result<Box<dyn Store>, StoreError> {
    match target {
        Target::File(path) => super::db::open_locked(path),
        Target::Database(db, replica) => super::pg::open(db, replica),
    }
}

/// How long start-up waits by default for a locked database or a transient error.
pub const DEFAULT_OPEN_WAIT: Duration = Duration::from_secs(20);

/// A failed attempt is tried again this soon (within the wait).
const RETRY_OPEN: Duration = Duration::from_millis(500);

/// What is at `state_file`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    Missing,
    Database,
    /// Anything else starting with `{`: a JSON state file of an earlier version.
    Json,
    Unknown,
}

fn found(path: &Path) -> std::io::Result<Found> {
    use std::io::Read;
    let mut head = [0u8; 16];
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Missing),
        Err(e) => return Err(e),
    };
    let n = file.read(&mut head)?;
    let head = &head[..n];
    Ok(if n == 0 || head == SQLITE_HEADER {
        Found::Database
    } else if head.trim_ascii_start().starts_with(b"{") {
        Found::Json
    } else {
        Found::Unknown
    })
}

/// `<path><suffix>`.
/// Where an imported JSON file is kept.
pub fn imported_name(path: &Path) -> PathBuf {
    beside(path, ".v1.json")
}

/// How start-up left the state database.
#[derive(Debug)]
pub enum Restored {
    /// Restored and open, holding the process lock; read-only when
    /// [`Store::read_only`].
    Open(Box<dyn Store>),
    /// Nothing there, and it cannot be created now (its directory is missing): the
    /// writer keeps trying.
    Later,
    /// Unusable and it could not be moved aside: it must not be written this run, or
    /// that would destroy the evidence.
    DoNotWrite,
}

/// Why the exporter does not start: its state database is good (or may be) but cannot
/// be used now.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{error} (still so after waiting {}; the file is left as it is)", humantime::format_duration(*waited))]
    GaveUp { error: StoreError, waited: Duration },
    #[error("{0}")]
    Refused(StoreError),
}

/// Opens the state `target` names and restores it into `state`: [`open_and_restore`] for
/// a `state_file`; a `state_database` is opened and loaded as it is (never moved aside),
/// waiting the same way.
pub async fn open_and_restore_target(
    target: &Target,
    state: &Arc<State>,
    wait: Duration,
) -> Result<Restored, RestoreError> {
    match target {
        Target::File(path) => open_and_restore(path, state, wait).await,
        Target::Database(db, _) => {
            let (target, import) = (target.clone(), db.import_from.clone());
            retrying(state, wait, move |state, busy| {
                let mut store = open_target(&target)?;
                let saved = store.load()?;
                match &import {
                    Some(file) if saved.stores.is_empty() => {
                        import_into(file, store.as_mut(), state, busy)?;
                    }
                    _ => {
                        let restored = restore(saved, state);
                        tracing::info!(restored, "state restored from the state database");
                    }
                }
                Ok(Restored::Open(store))
            })
            .await
        }
    }
}

/// Opens the database at `path` and restores it into `state` (importing or moving aside
/// what else is there), trying again for up to `wait` while it is locked or fails for a
/// transient reason.
pub async fn open_and_restore(
    path: &Path,
    state: &Arc<State>,
    wait: Duration,
) -> Result<Restored, RestoreError> {
    let path = path.to_path_buf();
    retrying(state, wait, move |state, busy| attempt(&path, state, busy)).await
}

/// Runs `attempt` on the blocking pool (with how long SQLite may wait for a lock) until
/// it succeeds, fails for a reason other than a lock or a transient one, or `wait` ran
/// out.
async fn retrying(
    state: &Arc<State>,
    wait: Duration,
    attempt: impl Fn(&State, Duration) -> Result<Restored, StoreError> + Clone + Send + 'static,
) -> Result<Restored, RestoreError> {
    let deadline = Instant::now() + wait;
    let mut waiting = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let busy = BUSY_TIMEOUT.min(left).max(Duration::from_millis(10));
        let (once, shared) = (attempt.clone(), Arc::clone(state));
        let error = match off_thread(move || once(&shared, busy)).await {
            Ok(restored) => return Ok(restored),
            Err(error) => error,
        };
        match error.failure() {
            Failure::Locked | Failure::Transient if !left.is_zero() => {
                if !waiting {
                    tracing::warn!(%error, wait = %humantime::format_duration(wait), "cannot open the state database; trying again (it is not moved aside)");
                    waiting = true;
                }
                tokio::time::sleep(RETRY_OPEN.min(left)).await;
            }
            Failure::Locked | Failure::Transient => {
                return Err(RestoreError::GaveUp {
                    error,
                    waited: wait,
                });
            }
            _ => return Err(RestoreError::Refused(error)),
        }
    }
}

/// One try of [`open_and_restore`], under the process lock.
fn attempt(path: &Path, state: &State, busy: Duration) -> Result<Restored, StoreError> {
    let lock = match ProcessLock::acquire(path) {
        Ok(lock) => lock,
        Err(e) if e.not_found() => {
            tracing::info!(path = %path.display(), "no state database yet, and its directory is missing; starting fresh");
            return Ok(Restored::Later);
        }
        Err(e) => return Err(DbError::from(e).into()),
    };
    finish_import(path);
    let found = found(path).map_err(|source| DbError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let opened = match found {
        Found::Missing => {
            tracing::info!(path = %path.display(), "no state database yet; starting fresh");
            match Db::open_for_writing(path, busy) {
                Ok(db) => Ok(db),
                Err(_) => return Ok(Restored::Later), // the writer tries, and logs it
            }
        }
        Found::Database => restore_database(path, state, busy),
        Found::Json => import(path, state),
        Found::Unknown => Err(DbError::Invalid {
            path: path.to_path_buf(),
            reason: "neither a state database nor a JSON state file".into(),
        }
        .into()),
    };
    let opened = match opened {
        Err(e) if found == Found::Database && readable_only(path, &e) => {
            restore_read_only(path, state, busy, &e)
        }
        other => other,
    };
    match opened {
        Ok(db) => Ok(Restored::Open(Box::new(db.holding(lock)))),
        Err(e) if e.failure() == Failure::Corrupt => Ok(start_afresh(path, &e, state, lock)),
        Err(e) => Err(e),
    }
}

fn restore_database(path: &Path, state: &State, busy: Duration) -> Result<Db, StoreError> {
    let mut db = Db::open_for_writing(path, busy)?;
    let saved = db.load()?;
    let restored = restore(saved, state);
    tracing::info!(path = %path.display(), restored, "state restored");
    Ok(db)
}

/// The database could not be opened for writing because it, or its directory, can only
/// be read (SQLite also fails to open a WAL database when it cannot make the `-shm`
/// beside it).
fn readable_only(path: &Path, error: &StoreError) -> bool {
    match error.failure() {
        Failure::ReadOnly => true,
        Failure::Transient => !directory_writable(path),
        _ => false,
    }
}

/// Makes and removes a file beside `path`: whether the state database's directory takes
/// new files, as SQLite makes its `-wal` and `-shm` there (and `check-config` asks).
pub fn probe_beside(path: &Path) -> std::io::Result<()> {
    let probe = beside(path, ".probe");
    std::fs::File::create(&probe)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Whether the directory of `path` is writable; only a read-only error says no.
fn directory_writable(path: &Path) -> bool {
    match probe_beside(path) {
        Ok(()) => true,
        Err(e) => !read_only_error(&e),
    }
}

/// Restores a database that can only be read; nothing is written to it this run.
fn restore_read_only(
    path: &Path,
    state: &State,
    busy: Duration,
    why: &StoreError,
) -> Result<Db, StoreError> {
    let (mut db, unread) = Db::open_read_only(path, busy)?;
    let saved = db.load()?;
    let restored = restore(saved, state);
    let unread = unread.unwrap_or_else(|| "none".into());
    tracing::warn!(path = %path.display(), reason = %why, unread = %unread, restored,
        "STATE DATABASE READ-ONLY: restored, but nothing is saved this run (outcomes seen from now on may be counted again after a restart); make it writable and restart");
    Ok(db)
}

/// Moves a single exporter's state file into an empty database (`import_from`): the
/// file, opened read-only and left as it is, is restored into `state` and written whole
/// to `store` in one commit before anything else runs; the database is then not empty,
/// so a later start does not import again. A file that is not there is a clear error.
fn import_into(
    file: &Path,
    store: &mut dyn Store,
    state: &State,
    busy: Duration,
) -> Result<(), StoreError> {
    if !file.is_file() {
        let why = format!(
            "state_database.import_from: {} is not a file (nothing imported; the database stays empty)",
            file.display()
        );
        return Err(StoreError::new(Failure::Corrupt, why));
    }
    let (mut db, _) = Db::open_read_only(file, busy)?;
    let restored = restore(db.load()?, state);
    drop(db);
    state.mark_all_dirty();
    store.write(&state.take_batch().0)?;
    tracing::info!(file = %file.display(), restored, "state_file imported into the empty state database (the file is left as it is)");
    Ok(())
}

/// Imports the JSON state file at `path`: restored into `state`, written whole into a
/// new database beside it, which then takes the path; the JSON file is kept as
/// `<path>.v1.json`. Interrupted anywhere, the next start finishes or redoes it.
fn import(path: &Path, state: &State) -> Result<Db, StoreError> {
    let file = super::json::read(path).map_err(|e| DbError::Invalid {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let restored = restore(file.into_saved(state.clock().now()), state);
    state.mark_all_dirty();
    let importing = beside(path, ".importing");
    remove_database(&importing);
    let mut db = Db::open(&importing)?;
    db.write(&state.take_batch().0)?;
    drop(db);
    let io = |source: std::io::Error| DbError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::rename(path, imported_name(path)).map_err(io)?;
    std::fs::rename(&importing, path).map_err(io)?;
    let _ = std::fs::File::open(dir_of(path)).and_then(|d| d.sync_all());
    tracing::info!(path = %path.display(), kept = %imported_name(path).display(), restored, "JSON state file imported into the state database");
    Ok(Db::open(path)?)
}

/// A start that stopped between the two renames of [`import`] left the new database
/// beside the path and the path empty: finish it. A leftover from an import that did not
/// get that far is removed (the JSON file is still at the path).
fn finish_import(path: &Path) {
    let importing = beside(path, ".importing");
    if !importing.exists() {
        return;
    }
    if !path.exists() && imported_name(path).exists() {
        let _ = std::fs::rename(&importing, path);
    } else {
        remove_database(&importing);
    }
}

fn remove_database(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(beside(path, suffix));
    }
}

/// Moves an unusable file (and its WAL) aside as `<path>.corrupt-<unix time>` and opens
/// a fresh database, holding `lock`.
fn start_afresh(path: &Path, error: &StoreError, state: &State, lock: ProcessLock) -> Restored {
    if !path.exists() {
        return Restored::Later; // cannot be created yet: the writer tries, and logs it
    }
    let moved_to = beside(path, &format!(".corrupt-{}", state.clock().now().as_secs()));
    if std::fs::rename(path, &moved_to).is_err() {
        tracing::error!(%error, "STATE DATABASE UNUSABLE and cannot be moved aside: starting fresh, and NOT writing it this run so it is not overwritten");
        return Restored::DoNotWrite;
    }
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::rename(beside(path, suffix), beside(&moved_to, suffix));
    }
    tracing::error!(%error, moved_to = %moved_to.display(), "STATE DATABASE UNUSABLE: moved aside; starting fresh (outcomes seen again may be counted again)");
    state.mark_all_dirty();
    match Db::open(path) {
        Ok(db) => Restored::Open(Box::new(db.holding(lock))),
        Err(error) => {
            tracing::error!(%error, "cannot create a fresh state database; will retry");
            Restored::Later
        }
    }
}

/// Puts saved facts back into state: the counters (live and exported); each saved
/// intent the config watches gets its facts back; one another source named (a file,
/// the HTTP list, a registration) is watched again until that source says otherwise;
/// a final one nobody names is retired for `terminal_retention`. A store the config no
/// longer names is remembered as departed (its final intents only). Rows that come back
/// unchanged are not written again. Returns how many watched intents were restored.
pub fn restore(saved: Saved, state: &State) -> usize {
    let retention = state.terminal_retention();
    let now = state.clock().now();
    let known = state.stores();
    let mut restored = 0;
    for (name, store) in saved.stores {
        let in_config = known.iter().find(|h| h.name == name).cloned();
        let handle = in_config
            .clone()
            .unwrap_or_else(|| state.departed_from_file(&name));
        let mut st = handle.lock();
        st.counters.restore(store.counts);
        st.webhooks
            .restore(store.nonces, store.webhook_ids, store.queue);
        for (id, saved) in store.intents {
            let mut others = saved.sources;
            others.remove(Source::Config);
            let mut intent = saved.clone();
            match st.intents.get(id.as_str()) {
                Some(now_watched) => {
                    let mut sources = now_watched.sources;
                    others.iter().for_each(|s| sources.insert(s));
                    intent.sources = sources;
                    if let Some(order_id) = now_watched.order_id() {
                        intent.set_order_id(order_id);
                    }
                }
                None if in_config.is_some() && !others.is_empty() => intent.sources = others,
                None if saved.final_at().is_some_and(|t| now.since(t) < retention) => {
                    intent.sources = Default::default();
                    let unchanged = intent == saved;
                    st.intents.restore_retired(id, intent, unchanged);
                    continue;
                }
                None => {
                    st.intents.forget_saved(id); // forgotten: its row goes
                    continue;
                }
            }
            let unchanged = intent == saved;
            st.intents.restore_watched(id, intent, unchanged);
            restored += 1;
        }
        st.await_restored_webhooks();
        st.remember_restored_outcomes();
        st.intents.rebuild_board();
        let fetch = st.fetch_details;
        st.set_fetch_details(fetch, retention, now);
    }
    restored
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Status;
    use crate::config::{Config, IntentId};
    use crate::state::store::SavedStore;
    use crate::state::{IntentRow, IntentState};
    use crate::state::{Sources, tests::A, tests::B};

    const C: &str = "cccccccccccccccccccccccc";
    /// A short wait for locked and failing databases.
    const WAIT: Duration = Duration::from_millis(300);
    const D: &str = "dddddddddddddddddddddddd";

    fn config(ids: &[&str]) -> Config {
        let yaml = format!(
            "stores:\n  - name: main\n    base_url: http://127.0.0.1:1\n    api_key: k\n    \
             api_secret_env: S\n    intents: [{}]\n",
            ids.join(", ")
        );
        Config::parse(&yaml, Path::new("."), &|_| Some("s".into())).unwrap()
    }

    fn saved(id: &str, sources: &[Source], status: Status) -> (IntentId, IntentState) {
        let mut set = Sources::default();
        sources.iter().for_each(|s| set.insert(*s));
        let now = crate::clock::Clock::system().now();
        let intent = IntentState::from_row(IntentRow {
            sources: set,
            status: Some(status),
            status_changed_at: Some(now),
            terminal_at: status.is_terminal().then_some(now),
            added_at: Some(now.before(Duration::from_secs(10))),
            ..IntentRow::default()
        });
        (IntentId::parse(id).unwrap(), intent)
    }

    /// A registered intent comes back watched, an unchanged config intent is not written
    /// again, a final one the config dropped is retired, a non-final one forgotten.
    #[test]
    fn restore_brings_back_what_each_source_named() {
        let state = State::new(&config(&[A]));
        let store = SavedStore {
            intents: vec![
                saved(A, &[Source::Config], Status::OnChain),
                saved(B, &[Source::Api], Status::Created),
                saved(C, &[Source::Config], Status::Confirmed),
                saved(D, &[Source::Config], Status::OnChain),
            ],
            ..SavedStore::default()
        };
        let saved = Saved {
            stores: [("main".to_string(), store)].into(),
        };
        assert_eq!(restore(saved, &state), 2);
        let handle = state.stores()[0].clone();
        let st = handle.lock();
        assert_eq!(st.intent(A).unwrap().status(), Some(Status::OnChain));
        assert_eq!(st.intent(B).unwrap().sources.names(), "api");
        assert!(st.intents.retired(C).unwrap().sources.is_empty());
        assert!(st.intent(D).is_none() && st.intents.retired(D).is_none());
        let mut dirty: Vec<&str> = st.intents.dirty().iter().map(IntentId::as_str).collect();
        dirty.sort_unstable();
        assert_eq!(dirty, [C, D], "A and B are saved as they are");
    }

    #[test]
    fn an_import_stopped_between_its_renames_is_finished() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(beside(&path, ".importing"), "db").unwrap();
        std::fs::write(imported_name(&path), "json").unwrap();
        finish_import(&path);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "db");
        // One that did not get that far (the JSON file still at the path) is redone.
        std::fs::write(beside(&path, ".importing"), "half").unwrap();
        finish_import(&path);
        assert!(!beside(&path, ".importing").exists());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "db");
    }

    /// The names in `dir` containing `part`, sorted.
    fn names_with(dir: &Path, part: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(part))
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn an_unknown_file_is_moved_aside_with_its_wal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        std::fs::write(&path, "not a database at all").unwrap();
        std::fs::write(beside(&path, "-wal"), "wal").unwrap();
        let state = State::new(&config(&[A]));
        let restored = open_and_restore(&path, &state, WAIT).await.unwrap();
        assert!(matches!(restored, Restored::Open(_)), "{restored:?}");
        let names = names_with(dir.path(), "corrupt");
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names[1].ends_with("-wal"));
    }

    /// A good database of this build at `path`, with one saved counter.
    fn good_database(path: &Path) {
        let state = State::new(&config(&[A]));
        state.stores()[0]
            .lock()
            .counters
            .live_mut()
            .terminal_total
            .insert(crate::api::Outcome::Confirmed, 3);
        let mut db = Db::open(path).unwrap();
        db.write(&state.take_batch().0).unwrap();
    }

    fn restored_confirmed(state: &State) -> Option<u64> {
        let handle = state.stores()[0].clone();
        let st = handle.lock();
        st.counters()
            .live()
            .terminal_total
            .get(&crate::api::Outcome::Confirmed)
            .copied()
    }

    /// A database of a newer build is good: the start stops, naming the version, and
    /// the file stays where and as it is (it was moved aside before).
    #[tokio::test]
    async fn a_newer_schema_stops_the_start_and_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        good_database(&path);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute("UPDATE meta SET value = 9 WHERE key = 'schema_version'", [])
            .unwrap();
        drop(conn);
        let before = std::fs::read(&path).unwrap();
        let state = State::new(&config(&[A]));
        let error = open_and_restore(&path, &state, WAIT).await.unwrap_err();
        assert!(matches!(error, RestoreError::Refused(_)), "{error}");
        let text = error.to_string();
        assert!(
            text.contains("schema version 9") && text.contains("run the newer build"),
            "{text}"
        );
        assert!(names_with(dir.path(), "corrupt").is_empty());
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    /// Held by another connection in exclusive locking mode: waited for, then the start
    /// gives up; nothing is moved aside. Freed, the same file restores.
    #[tokio::test]
    async fn a_database_locked_by_sqlite_is_waited_for_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        good_database(&path);
        let holder = rusqlite::Connection::open(&path).unwrap();
        holder
            .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;")
            .unwrap();
        let state = State::new(&config(&[A]));
        let error = open_and_restore(&path, &state, WAIT).await.unwrap_err();
        assert!(matches!(error, RestoreError::GaveUp { .. }), "{error}");
        assert!(error.to_string().contains("database is locked"), "{error}");
        assert!(names_with(dir.path(), "corrupt").is_empty());
        holder.execute_batch("COMMIT").unwrap();
        drop(holder);
        let restored = open_and_restore(&path, &state, WAIT).await.unwrap();
        assert!(matches!(restored, Restored::Open(ref db) if !db.read_only()));
        assert_eq!(restored_confirmed(&state), Some(3));
    }

    /// A write lock held (WAL readers still read): found at the start, not at the first
    /// commit.
    #[tokio::test]
    async fn a_database_another_process_writes_is_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        good_database(&path);
        let holder = rusqlite::Connection::open(&path).unwrap();
        holder.execute_batch("BEGIN IMMEDIATE;").unwrap();
        let state = State::new(&config(&[A]));
        let error = open_and_restore(&path, &state, WAIT).await.unwrap_err();
        assert!(matches!(error, RestoreError::GaveUp { .. }), "{error}");
    }

    /// The process lock of another exporter: refused with the lock file named; the
    /// lock is held for as long as the database is open.
    #[tokio::test]
    async fn a_database_another_exporter_holds_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        good_database(&path);
        let state = State::new(&config(&[A]));
        let Restored::Open(first) = open_and_restore(&path, &state, WAIT).await.unwrap() else {
            panic!("not opened");
        };
        let error = open_and_restore(&path, &state, WAIT).await.unwrap_err();
        let text = error.to_string();
        assert!(text.contains("in use by another process"), "{text}");
        assert!(text.contains(".lock"), "{text}");
        drop(first);
        assert!(matches!(
            open_and_restore(&path, &state, WAIT).await.unwrap(),
            Restored::Open(_)
        ));
    }

    /// Opened read-only, a database restores as it is and refuses writes.
    #[test]
    fn a_read_only_database_reads_and_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        good_database(&path);
        let (mut db, unread) = Db::open_read_only(&path, BUSY_TIMEOUT).unwrap();
        assert_eq!(unread, None);
        assert!(db.read_only());
        let state = State::new(&config(&[A]));
        restore(db.load().unwrap(), &state);
        assert_eq!(restored_confirmed(&state), Some(3));
        let error = db.write(&state.take_batch().0).unwrap_err();
        assert_eq!(error.failure(), Failure::ReadOnly, "{error}");
    }

    /// Only what fails the format and integrity checks is corrupt.
    #[test]
    fn errors_are_classified_by_what_they_say_about_the_file() {
        use rusqlite::ffi;
        let sqlite = |code| DbError::Sqlite {
            path: "s".into(),
            source: rusqlite::Error::SqliteFailure(ffi::Error::new(code), None),
        };
        for (code, failure) in [
            (ffi::SQLITE_CORRUPT, Failure::Corrupt),
            (ffi::SQLITE_NOTADB, Failure::Corrupt),
            (ffi::SQLITE_BUSY, Failure::Locked),
            (ffi::SQLITE_LOCKED, Failure::Locked),
            (ffi::SQLITE_READONLY, Failure::ReadOnly),
            (ffi::SQLITE_IOERR, Failure::Transient),
            (ffi::SQLITE_NOMEM, Failure::Transient),
            (ffi::SQLITE_FULL, Failure::Transient),
            (ffi::SQLITE_CANTOPEN, Failure::Transient),
        ] {
            assert_eq!(sqlite(code).failure(), failure, "code {code}");
        }
        let future = DbError::FutureVersion {
            path: "s".into(),
            found: 9,
        };
        assert_eq!(future.failure(), Failure::FutureVersion);
        let emfile = DbError::Io {
            path: "s".into(),
            source: std::io::Error::from_raw_os_error(24),
        };
        assert_eq!(emfile.failure(), Failure::Transient);
    }
}
