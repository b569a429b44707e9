//! Opening the state database: for writing (creating the schema, checking an existing
//! file), or read-only when the file can only be read; and what kind of failure an
//! error is, which decides whether start-up moves the file aside, waits or stops.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, MAIN_DB, OpenFlags, OptionalExtension};

use super::{Db, DbError, SCHEMA_VERSION};
use crate::state::process_lock::beside;
use crate::state::store::Failure;

/// `PRAGMA application_id` of the exporter's databases ("ASCX").
pub(super) const APPLICATION_ID: i64 = 0x4153_4358;

/// How long a statement waits for another connection's lock before `SQLITE_BUSY`.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = include_str!("../schema.sql");
const VIEW: &str = include_str!("../view.sql");

/// Version 1 → 2: intent details and money sums (the view is made anew).
const UPGRADE_FROM_1: &str = "ALTER TABLE intents ADD COLUMN detail TEXT; \
    ALTER TABLE events ADD COLUMN detail TEXT; \
    CREATE TABLE money (store INTEGER NOT NULL, name TEXT NOT NULL, outcome TEXT NOT NULL, \
    symbol TEXT NOT NULL, chain TEXT NOT NULL, value TEXT NOT NULL, \
    PRIMARY KEY (store, name, outcome, symbol, chain)) WITHOUT ROWID; \
    DROP VIEW intent_state;";

impl DbError {
    /// What the error says about the file (see [`Failure`]).
    pub fn failure(&self) -> Failure {
        match self {
            DbError::Invalid { .. } => Failure::Corrupt,
            DbError::FutureVersion { .. } => Failure::FutureVersion,
            DbError::ReadOnly { .. } => Failure::ReadOnly,
            DbError::Lock(super::LockError::Held { .. }) => Failure::Locked,
            DbError::Lock(super::LockError::Io { .. }) | DbError::Io { .. } => Failure::Transient,
            DbError::Sqlite { source, .. } => sqlite_failure(source),
        }
    }
}

fn sqlite_failure(error: &rusqlite::Error) -> Failure {
    let Some(code) = error.sqlite_error_code() else {
        // A value of another type than this build writes: its format check failed.
        return match error {
            rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
            | rusqlite::Error::Utf8Error(..) => Failure::Corrupt,
            _ => Failure::Transient,
        };
    };
    match code {
        ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => Failure::Corrupt,
        // SQLITE_ERROR, a type or constraint error: this build's fixed statements do not
        // fit the file's schema (a table or column missing).
        ErrorCode::Unknown | ErrorCode::TypeMismatch | ErrorCode::ConstraintViolation => {
            Failure::Corrupt
        }
        ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => Failure::Locked,
        ErrorCode::ReadOnly | ErrorCode::PermissionDenied => Failure::ReadOnly,
        _ => Failure::Transient,
    }
}

/// `file:` URI of `path` with `query`: every byte but the unreserved ones escaped.
fn uri(path: &Path, query: &str) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::from("file:");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.push('?');
    out.push_str(query);
    out
}

impl Db {
    /// Opens (or creates) the database at `path` for writing and checks that it is one
    /// of ours, of a schema this build reads, not damaged, and writable now.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        Self::open_for_writing(path, BUSY_TIMEOUT)
    }

    /// [`Db::open`], waiting at most `busy` for another connection's lock.
    pub fn open_for_writing(path: &Path, busy: Duration) -> Result<Db, DbError> {
        let conn = Connection::open(path).map_err(|e| sqlite(path, e))?;
        // SQLite opens a file it cannot write read-only, without an error.
        if conn.is_readonly(MAIN_DB).map_err(|e| sqlite(path, e))? {
            return Err(DbError::ReadOnly {
                path: path.to_path_buf(),
                reason: "the file can only be opened for reading".into(),
            });
        }
        Self::prepared(conn, path, false, busy)
    }

    /// Opens the database at `path` read-only: as SQLite reads a WAL database it cannot
    /// write, else (no `-shm` can be made beside it) as immutable, which reads the main
    /// file only. The `String` says what the immutable open could not read: the changes
    /// still in a non-empty `-wal`.
    pub fn open_read_only(path: &Path, busy: Duration) -> Result<(Db, Option<String>), DbError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let open = |uri: String| {
            let conn = Connection::open_with_flags(uri, flags).map_err(|e| sqlite(path, e))?;
            Self::prepared(conn, path, true, busy)
        };
        match open(uri(path, "mode=ro")) {
            Err(e) if e.failure() == Failure::Transient => {
                let wal = beside(path, "-wal");
                let pending = std::fs::metadata(&wal).map_or(0, |m| m.len());
                let note = (pending > 0).then(|| {
                    format!(
                        "{} holds {pending} bytes of the last changes, which cannot be read here ({e}); restored as of the last checkpoint",
                        wal.display()
                    )
                });
                Ok((open(uri(path, "immutable=1"))?, note))
            }
            other => other.map(|db| (db, None)),
        }
    }

    fn prepared(
        conn: Connection,
        path: &Path,
        read_only: bool,
        busy: Duration,
    ) -> Result<Db, DbError> {
        let mut db = Db {
            conn,
            path: path.to_path_buf(),
            store_ids: Default::default(),
            written: Default::default(),
            money_written: Default::default(),
            events: 0,
            rows: 0,
            compact_retry_at: 0,
            read_only,
            lock: None,
        };
        db.prepare(busy).map_err(|e| sqlite(path, e))??;
        Ok(db)
    }

    pub(super) fn cannot_write(&self, reason: &str) -> DbError {
        DbError::ReadOnly {
            path: self.path.clone(),
            reason: reason.into(),
        }
    }

    /// Settings, the schema of a new database, and the checks of an existing one.
    fn prepare(&mut self, busy: Duration) -> rusqlite::Result<Result<(), DbError>> {
        let conn = &self.conn;
        conn.busy_timeout(busy)?;
        let app: i64 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
        let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
        if tables == 0 && app == 0 {
            if self.read_only {
                return Ok(Err(self.cannot_write("it is empty, and cannot be set up")));
            }
            conn.pragma_update(None, "journal_mode", "WAL")?;
            let tx = self.conn.transaction()?;
            tx.execute_batch(SCHEMA)?;
            tx.execute_batch(VIEW)?;
            tx.pragma_update(None, "application_id", APPLICATION_ID)?;
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)",
                [SCHEMA_VERSION],
            )?;
            tx.commit()?;
        } else if app != APPLICATION_ID {
            return Ok(Err(
                self.invalid("it is not an allscale-exporter state database")
            ));
        }
        let version: Option<i64> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        match version {
            Some(SCHEMA_VERSION) => {}
            // Version 3 differs only in the counters it may hold: readable as it is.
            Some(2) if self.read_only => {}
            Some(1) if self.read_only => {
                return Ok(Err(self.cannot_write(
                    "its schema version 1 must be upgraded, which needs write access",
                )));
            }
            Some(from @ (1 | 2)) => self.upgrade_from(from)?,
            Some(found) if found > SCHEMA_VERSION => {
                return Ok(Err(DbError::FutureVersion {
                    path: self.path.clone(),
                    found,
                }));
            }
            other => return Ok(Err(self.invalid(format!("schema version {other:?}")))),
        }
        let conn = &self.conn;
        let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        if check != "ok" {
            return Ok(Err(self.invalid(format!("integrity check: {check}"))));
        }
        // Compaction sorts the events: in memory, not through a temp file written to disk.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        self.current_view()?;
        if !self.read_only {
            self.writable_settings()?;
        }
        self.count_rows()?;
        Ok(Ok(()))
    }

    /// The view as this build defines it. A database keeps the view it was made with (an
    /// older one read the intents in time quadratic in their number): a writable one gets
    /// it anew, a read-only one a temporary copy that shadows it for this connection.
    fn current_view(&self) -> rusqlite::Result<()> {
        if self.read_only {
            let temporary = VIEW.replacen("CREATE VIEW", "CREATE TEMP VIEW", 1);
            return self.conn.execute_batch(&temporary);
        }
        let replace = format!("BEGIN; DROP VIEW IF EXISTS intent_state; {VIEW} COMMIT;");
        self.conn.execute_batch(&replace)
    }

    /// WAL, full syncs, and a write lock taken once: a database another process holds
    /// for writing is found at the start, not at the first commit.
    fn writable_settings(&self) -> rusqlite::Result<()> {
        let conn = &self.conn;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // After a checkpoint the WAL file is cut back to this (it grows while compacting).
        conn.pragma_update(None, "journal_size_limit", 16 * 1024 * 1024)?;
        conn.execute_batch("BEGIN IMMEDIATE; COMMIT;")
    }

    fn count_rows(&mut self) -> rusqlite::Result<()> {
        let conn = &self.conn;
        let mut stmt = conn.prepare("SELECT name, id FROM stores")?;
        self.store_ids = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        drop(stmt);
        self.events = conn.query_row("SELECT count(*) FROM events", [], |r| r.get(0))?;
        self.rows = conn.query_row("SELECT count(*) FROM intents", [], |r| r.get(0))?;
        Ok(())
    }

    /// Upgrades a database of version `from` in one transaction (interrupted, it is still
    /// the old version): version 2 added details and money to version 1; version 3 adds
    /// counters (the time to outcome) and no table, but an older build would take those
    /// rows for damage and move the file aside, so the version tells it the database is
    /// a newer build's and must be left as it is.
    fn upgrade_from(&mut self, from: i64) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        if from == 1 {
            tx.execute_batch(UPGRADE_FROM_1)?;
            tx.execute_batch(VIEW)?;
        }
        tx.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
            [SCHEMA_VERSION],
        )?;
        tx.commit()
    }
}

fn sqlite(path: &Path, source: rusqlite::Error) -> DbError {
    DbError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}
