//! Start-up: opening the state database at `state_file`, importing a JSON state file of
//! an earlier version found there, moving an unusable file aside (never overwriting
//! it), and putting what was saved back into [`State`].

use std::path::{Path, PathBuf};

use super::db::{Db, DbError, SQLITE_HEADER, Saved};
use super::writer::collect;
use super::{IntentState, Source, State};
use crate::clock::unix_now;
use crate::config::dir_of;

/// What is at `state_file`.
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
fn beside(path: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", path.display()))
}

/// Where an imported JSON file is kept.
pub fn imported_name(path: &Path) -> PathBuf {
    beside(path, ".v1.json")
}

/// The state file is unusable and could not be moved aside: it must not be written this
/// run, or that would destroy the evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoNotWrite;

/// Opens the database at `path` and restores it into `state` (importing or moving aside
/// what else is there). Returns the open database, or `None` when it cannot be opened
/// now (the writer keeps trying).
pub fn open_and_restore(path: &Path, state: &State) -> Result<Option<Db>, DoNotWrite> {
    finish_import(path);
    let opened = match found(path) {
        Ok(Found::Missing) => {
            tracing::info!(path = %path.display(), "no state database yet; starting fresh");
            Db::open(path)
        }
        Ok(Found::Database) => Db::open(path).and_then(|mut db| {
            let saved = db.load()?;
            let restored = restore(saved, state);
            tracing::info!(path = %path.display(), restored, "state restored");
            Ok(db)
        }),
        Ok(Found::Json) => import(path, state),
        Ok(Found::Unknown) => Err(DbError::Invalid {
            path: path.to_path_buf(),
            reason: "neither a state database nor a JSON state file".into(),
        }),
        Err(source) => Err(DbError::Invalid {
            path: path.to_path_buf(),
            reason: source.to_string(),
        }),
    };
    match opened {
        Ok(db) => Ok(Some(db)),
        Err(error) => start_afresh(path, &error, state),
    }
}

/// Imports the JSON state file at `path`: restored into `state`, written whole into a
/// new database beside it, which then takes the path; the JSON file is kept as
/// `<path>.v1.json`. Interrupted anywhere, the next start finishes or redoes it.
fn import(path: &Path, state: &State) -> Result<Db, DbError> {
    let file = super::json::read(path).map_err(|e| DbError::Invalid {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let restored = restore(file.into_saved(unix_now()), state);
    state.mark_all_dirty();
    let importing = beside(path, ".importing");
    remove_database(&importing);
    let mut db = Db::open(&importing)?;
    db.write(&collect(state).0)?;
    drop(db);
    let io = |source: std::io::Error| DbError::Invalid {
        path: path.to_path_buf(),
        reason: format!("importing: {source}"),
    };
    std::fs::rename(path, imported_name(path)).map_err(io)?;
    std::fs::rename(&importing, path).map_err(io)?;
    let _ = std::fs::File::open(dir_of(path)).and_then(|d| d.sync_all());
    tracing::info!(path = %path.display(), kept = %imported_name(path).display(), restored, "JSON state file imported into the state database");
    Db::open(path)
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
/// a fresh database.
fn start_afresh(path: &Path, error: &DbError, state: &State) -> Result<Option<Db>, DoNotWrite> {
    if !path.exists() {
        return Ok(None); // cannot be created yet: the writer tries, and logs it
    }
    let moved_to = beside(path, &format!(".corrupt-{}", unix_now() as u64));
    if std::fs::rename(path, &moved_to).is_err() {
        tracing::error!(%error, "STATE DATABASE UNUSABLE and cannot be moved aside: starting fresh, and NOT writing it this run so it is not overwritten");
        return Err(DoNotWrite);
    }
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::rename(beside(path, suffix), beside(&moved_to, suffix));
    }
    tracing::error!(%error, moved_to = %moved_to.display(), "STATE DATABASE UNUSABLE: moved aside; starting fresh (outcomes seen again may be counted again)");
    state.mark_all_dirty();
    match Db::open(path) {
        Ok(db) => Ok(Some(db)),
        Err(error) => {
            tracing::error!(%error, "cannot create a fresh state database; will retry");
            Ok(None)
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
    let horizon = state.terminal_retention().as_secs_f64();
    let now = unix_now();
    let known = state.stores();
    let mut restored = 0;
    for (name, store) in saved.stores {
        let in_config = known.iter().find(|h| h.name == name).cloned();
        let handle = in_config
            .clone()
            .unwrap_or_else(|| state.departed_from_file(&name));
        let mut st = handle.lock();
        let counts = store.counts;
        st.terminal_total.extend(counts.terminal_total);
        st.transitions.extend(counts.transitions);
        st.expired_total = counts.expired_total;
        st.dropped_total.extend(counts.dropped_total);
        st.webhook_counts = counts.webhooks;
        st.money = counts.money;
        st.exported = st.counts();
        st.webhooks
            .restore(store.nonces, store.webhook_ids, store.queue);
        for (id, saved) in store.intents {
            let mut others = saved.sources;
            others.remove(Source::Config);
            let intent = match st.intents.get(&id) {
                Some(now_watched) => {
                    let mut sources = now_watched.sources;
                    others.iter().for_each(|s| sources.insert(s));
                    IntentState {
                        sources,
                        order_id: now_watched.order_id.clone().or(saved.order_id.clone()),
                        ..saved.clone()
                    }
                }
                None if in_config.is_some() && !others.is_empty() => IntentState {
                    sources: others,
                    ..saved.clone()
                },
                None if saved.final_at().is_some_and(|t| now - t < horizon) => {
                    let retired = IntentState {
                        sources: Default::default(),
                        ..saved.clone()
                    };
                    if retired != saved {
                        st.dirty.insert(id.clone());
                    }
                    st.retired.insert(id, retired);
                    continue;
                }
                None => {
                    st.dirty.insert(id); // forgotten: its row goes
                    continue;
                }
            };
            if intent == saved {
                st.dirty.remove(&id);
            } else {
                st.dirty.insert(id.clone());
            }
            st.intents.insert(id, intent);
            restored += 1;
        }
        st.await_restored_webhooks();
        st.remember_restored_outcomes();
        st.rebuild_board();
        let fetch = st.fetch_details;
        st.set_fetch_details(fetch, state.terminal_retention(), now);
    }
    restored
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Status;
    use crate::config::{Config, IntentId};
    use crate::state::db::SavedStore;
    use crate::state::{Sources, tests::A, tests::B};

    const C: &str = "cccccccccccccccccccccccc";
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
        let now = unix_now();
        let intent = IntentState {
            sources: set,
            status: Some(status),
            status_changed_at: Some(now),
            terminal_at: status.is_terminal().then_some(now),
            added_at: Some(now - 10.0),
            ..IntentState::default()
        };
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
        assert_eq!(st.intents[A].status, Some(Status::OnChain));
        assert_eq!(st.intents[B].sources.names(), "api");
        assert!(st.retired[C].sources.is_empty());
        assert!(!st.intents.contains_key(D) && !st.retired.contains_key(D));
        let mut dirty: Vec<&str> = st.dirty.iter().map(IntentId::as_str).collect();
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

    #[test]
    fn an_unknown_file_is_moved_aside_with_its_wal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        std::fs::write(&path, "not a database at all").unwrap();
        std::fs::write(beside(&path, "-wal"), "wal").unwrap();
        let state = State::new(&config(&[A]));
        let db = open_and_restore(&path, &state).unwrap();
        assert!(db.is_some());
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("corrupt"))
            .collect();
        names.sort();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names[1].ends_with("-wal"));
    }
}
