//! The state database: an SQLite file (WAL, `synchronous=FULL`) at `state_file`, so that
//! after a restart no outcome is counted twice, final intents are not polled again,
//! registered intents stay watched and the counters continue where they were.
//!
//! A status change is one short row appended to `events`; the writer folds the events
//! into `intents` once there are [`COMPACT_RATIO`] times more events than intents, so the
//! rewrite of the table's pages is shared by many changes (the schema is in
//! `schema.sql`). Request and error counters are not kept: a new process starts them
//! from 0, a reset Prometheus handles.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, Transaction, params};

use super::store::{Batch, Saved, Store, StoreBatch, StoreError};
use super::{
    ConfirmedBy, Counts, DropReason, Dropped, ForwardRequest, IntentRow, IntentState, Queued,
    Sources, WebhookWrite,
};
use crate::api::{Outcome, Status, StatusClass};
use crate::clock::UnixTime;
use crate::config::IntentId;

pub(super) mod money;
mod open;

use super::process_lock::{LockError, ProcessLock};
use money::MoneyWritten;
pub use open::BUSY_TIMEOUT;

/// The counters as last written, per store: `(name, label)` → value.
pub(super) type CountersWritten = BTreeMap<(&'static str, String), i64>;

/// The schema this build writes and reads (version 1, without money, is upgraded).
pub const SCHEMA_VERSION: i64 = 3;

/// Events are folded into `intents` once they are this many times the intents…
pub const COMPACT_RATIO: i64 = 4;
/// …and at least this many (a small database is not compacted every few changes).
pub const COMPACT_MIN_EVENTS: i64 = 20_000;

/// The first bytes of every SQLite database file.
pub(super) const SQLITE_HEADER: &[u8] = b"SQLite format 3\0";

/// The columns of an intent row, in `intents` and `events` alike.
const COLUMNS: &str = "sources, order_id, added_at, status, not_found, status_changed_at, \
                       last_success_at, terminal_at, expired_at, dropped_reason, dropped_at, \
                       confirmed_by, webhook_at, verify_pending, webhook_missing_at, detail";

/// Every current intent, as the start reads it: through the view, so the operators'
/// queries and the exporter read the same rows.
fn load_intents() -> String {
    format!("SELECT store, id, {COLUMNS} FROM intent_state ORDER BY store, id")
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("state database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("state database {path} is not valid: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error(
        "state database {path} has schema version {found}, written by a newer build; this build reads version {SCHEMA_VERSION}: run the newer build (the file is left as it is)"
    )]
    FutureVersion { path: PathBuf, found: i64 },
    /// A database that can be read but not written (a read-only file, directory or
    /// filesystem), or cannot be used read-only.
    #[error("state database {path} cannot be written: {reason}")]
    ReadOnly { path: PathBuf, reason: String },
    #[error(transparent)]
    Lock(#[from] LockError),
    /// Reading or renaming the file failed (not its content).
    #[error("state database {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// An open state database: the SQLite [`Store`].
#[derive(Debug)]
pub struct Db {
    conn: Connection,
    path: PathBuf,
    store_ids: HashMap<String, i64>,
    /// The counters and money sums as last written, per store: only changed ones are
    /// written again.
    written: HashMap<String, CountersWritten>,
    money_written: HashMap<String, MoneyWritten>,
    events: i64,
    rows: i64,
    /// After a failed compaction, the events count at which it is tried again.
    compact_retry_at: i64,
    read_only: bool,
    /// One exporter per database, for as long as it is open.
    lock: Option<ProcessLock>,
}

impl Db {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps `lock` for as long as the database is open.
    pub fn holding(mut self, lock: ProcessLock) -> Db {
        self.lock = Some(lock);
        self
    }

    fn invalid(&self, reason: impl Into<String>) -> DbError {
        DbError::Invalid {
            path: self.path.clone(),
            reason: reason.into(),
        }
    }

    /// Everything the database holds.
    fn load_db(&mut self) -> Result<Saved, DbError> {
        let sqlite = |source| DbError::Sqlite {
            path: self.path.clone(),
            source,
        };
        let loaded = self.read().map_err(sqlite)?;
        let (saved, written, money_written) = loaded.map_err(|reason| self.invalid(reason))?;
        self.written = written;
        self.money_written = money_written.into_iter().collect();
        Ok(saved)
    }

    /// Reads every store's intents (the view's current rows) and counters; a value this
    /// build does not know is an error naming it.
    #[allow(clippy::type_complexity)]
    fn read(
        &self,
    ) -> rusqlite::Result<
        Result<
            (
                Saved,
                HashMap<String, CountersWritten>,
                BTreeMap<String, MoneyWritten>,
            ),
            String,
        >,
    > {
        let mut saved = Saved::default();
        let mut written = HashMap::new();
        let mut stmt = self.conn.prepare(&load_intents())?;
        let rows = stmt.query_map([], |r| {
            let store: String = r.get(0)?;
            let id: String = r.get(1)?;
            Ok((store, id, read_intent(r, 2)?))
        })?;
        for row in rows {
            let (store, id, intent) = row?;
            if let Err(bad) = saved.add_intent(store, &id, intent) {
                return Ok(Err(bad));
            }
        }
        let mut stmt = self.conn.prepare(
            "SELECT s.name, c.name, c.label, c.value FROM counters c JOIN stores s ON s.id = c.store",
        )?;
        let rows = stmt.query_map([], |r| <(String, String, String, i64)>::try_from(r))?;
        for row in rows {
            let (store, name, label, value) = row?;
            let counts = &mut saved.stores.entry(store.clone()).or_default().counts;
            let Some(key) = add_counter(counts, &name, &label, value) else {
                return Ok(Err(format!(
                    "store {store:?}: counter {name}{{{label}}} = {value} is not one this build knows"
                )));
            };
            written
                .entry(store)
                .or_insert_with(BTreeMap::new)
                .insert(key, value);
        }
        let money_written = match money::read_money(&self.conn, &mut saved)? {
            Ok(written) => written,
            Err(reason) => return Ok(Err(reason)),
        };
        for name in self.store_ids.keys() {
            saved.stores.entry(name.clone()).or_default();
        }
        if let Err(reason) = self.read_webhooks(&mut saved)? {
            return Ok(Err(reason));
        }
        Ok(Ok((saved, written, money_written)))
    }

    /// Reads the webhook nonces and ids seen and the relay queue of every store.
    fn read_webhooks(&self, saved: &mut Saved) -> rusqlite::Result<Result<(), String>> {
        let mut stmt = self.conn.prepare(
            "SELECT s.name, w.kind, w.value, w.seen_at FROM webhook_seen w \
             JOIN stores s ON s.id = w.store ORDER BY w.seen_at",
        )?;
        let rows = stmt.query_map([], |r| <(String, String, String, f64)>::try_from(r))?;
        for row in rows {
            let (store, kind, value, at) = row?;
            let at = UnixTime::from_secs_f64(at);
            let store = saved.stores.entry(store).or_default();
            match kind.as_str() {
                "nonce" => store.nonces.push((value, at)),
                "id" => store.webhook_ids.push((value, at)),
                other => return Ok(Err(format!("unknown webhook_seen kind {other:?}"))),
            }
        }
        let mut stmt = self.conn.prepare(
            "SELECT s.name, q.seq, q.webhook_id, q.intent_id, q.received_at, q.path_and_query, \
             q.headers, q.body FROM webhook_queue q JOIN stores s ON s.id = q.store \
             ORDER BY q.store, q.seq",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, f64>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, Vec<u8>>(7)?,
            ))
        })?;
        for row in rows {
            let (store, seq, webhook_id, intent_id, received_at, path_and_query, headers, body) =
                row?;
            let (Ok(seq), Some(intent_id), Some(headers)) = (
                u64::try_from(seq),
                IntentId::parse(&intent_id),
                headers_from_json(&headers),
            ) else {
                return Ok(Err(format!(
                    "store {store:?}: relay queue entry {seq} is not valid"
                )));
            };
            saved.stores.entry(store).or_default().queue.push(Queued {
                seq,
                webhook_id,
                intent_id,
                received_at: UnixTime::from_secs_f64(received_at),
                request: ForwardRequest {
                    path_and_query,
                    headers,
                    body,
                },
                durable: true,
            });
        }
        Ok(Ok(()))
    }

    /// Writes one batch in one transaction, then compacts when the events are due.
    ///
    /// Once the batch is committed the write has succeeded, whatever the compaction does:
    /// a compaction that fails (most likely a full disk, as it needs room for the rewritten
    /// pages) leaves the changes as events, which [`Store::load`] folds, and is tried again
    /// after as many events once more. Failing the write instead would keep the committed
    /// counters from being exported and registrations from being answered for as long as
    /// the disk cannot hold a compaction.
    fn write_db(&mut self, batch: &Batch) -> Result<(), DbError> {
        if self.read_only {
            return Err(self.cannot_write("it was opened read-only"));
        }
        let path = self.path.clone();
        let sqlite = |source| DbError::Sqlite { path, source };
        let appended = self.write_batch(batch).map_err(sqlite)?;
        self.events += appended;
        let due = (COMPACT_RATIO * self.rows).max(COMPACT_MIN_EVENTS);
        if self.events >= due.max(self.compact_retry_at)
            && let Err(error) = self.compact()
        {
            self.compact_retry_at = self.events.saturating_add(due);
            tracing::warn!(path = %self.path.display(), %error, events = self.events,
                retry_at_events = self.compact_retry_at,
                "cannot compact the state database; its changes are kept as events");
        }
        Ok(())
    }

    fn write_batch(&mut self, batch: &Batch) -> rusqlite::Result<i64> {
        let mut store_ids = self.store_ids.clone();
        let mut written = self.written.clone();
        let mut money_written = self.money_written.clone();
        let tx = self.conn.transaction()?;
        let mut appended = 0;
        for store in &batch.stores {
            let sid = store_id(&tx, &mut store_ids, &store.name)?;
            appended += append_events(&tx, sid, &store.rows)?;
            let last = written.entry(store.name.clone()).or_default();
            write_counters(&tx, sid, &store.counts, last)?;
            let last = money_written.entry(store.name.clone()).or_default();
            money::write_money(&tx, sid, &store.counts.money, last)?;
            write_webhooks(&tx, sid, store)?;
        }
        let gone: Vec<(String, i64)> = store_ids
            .iter()
            .filter(|(name, _)| !batch.kept.contains(name))
            .map(|(name, id)| (name.clone(), *id))
            .collect();
        for (name, sid) in gone {
            for table in [
                "intents",
                "events",
                "counters",
                "money",
                "webhook_seen",
                "webhook_queue",
            ] {
                tx.execute(&format!("DELETE FROM {table} WHERE store = ?1"), [sid])?;
            }
            tx.execute("DELETE FROM stores WHERE id = ?1", [sid])?;
            store_ids.remove(&name);
            written.remove(&name);
            money_written.remove(&name);
        }
        tx.commit()?;
        self.store_ids = store_ids;
        self.written = written;
        self.money_written = money_written;
        Ok(appended)
    }

    /// Folds every event into `intents` (the newest event of each intent wins; a `gone`
    /// one deletes the row) and empties `events`, in one transaction.
    pub fn compact(&mut self) -> rusqlite::Result<()> {
        let latest = format!(
            "SELECT * FROM (SELECT store, lower(hex(id)) AS id, gone, {COLUMNS}, row_number() \
             OVER (PARTITION BY store, id ORDER BY seq DESC) AS newest FROM events) \
             WHERE newest = 1"
        );
        let updates = COLUMNS
            .split(", ")
            .map(|c| format!("{c} = excluded.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let tx = self.conn.transaction()?;
        tx.execute(
            &format!(
                "INSERT INTO intents (store, id, {COLUMNS}) \
                 SELECT store, id, {COLUMNS} FROM ({latest}) WHERE gone = 0 ORDER BY store, id \
                 ON CONFLICT (store, id) DO UPDATE SET {updates}"
            ),
            [],
        )?;
        tx.execute(
            &format!(
                "DELETE FROM intents WHERE (store, id) IN \
                 (SELECT store, id FROM ({latest}) WHERE gone = 1)"
            ),
            [],
        )?;
        tx.execute("DELETE FROM events", [])?;
        let rows = tx.query_row("SELECT count(*) FROM intents", [], |r| r.get(0))?;
        tx.commit()?;
        self.rows = rows;
        self.events = 0;
        self.compact_retry_at = 0;
        Ok(())
    }
}

impl Store for Db {
    fn read_only(&self) -> bool {
        self.read_only
    }

    fn load(&mut self) -> Result<Saved, StoreError> {
        Ok(self.load_db()?)
    }

    fn write(&mut self, batch: &Batch) -> Result<(), StoreError> {
        Ok(self.write_db(batch)?)
    }
}

/// Opens the database at `path` for writing, holding its process lock: the writer's
/// [`Opener`](super::store::Opener).
pub fn open_locked(path: &Path) -> Result<Box<dyn Store>, StoreError> {
    let held = ProcessLock::acquire(path).map_err(DbError::from)?;
    Ok(Box::new(Db::open(path)?.holding(held)))
}

impl From<DbError> for StoreError {
    fn from(error: DbError) -> StoreError {
        StoreError::new(error.failure(), error)
    }
}

/// The id of store `name`, added to `stores` when new.
fn store_id(tx: &Transaction, ids: &mut HashMap<String, i64>, name: &str) -> rusqlite::Result<i64> {
    if let Some(id) = ids.get(name) {
        return Ok(*id);
    }
    tx.execute("INSERT INTO stores (name) VALUES (?1)", [name])?;
    let id = tx.last_insert_rowid();
    ids.insert(name.to_string(), id);
    Ok(id)
}

/// Appends one event per row; returns how many.
fn append_events(
    tx: &Transaction,
    store: i64,
    rows: &[(IntentId, Option<IntentState>)],
) -> rusqlite::Result<i64> {
    let mut stmt = tx.prepare_cached(&format!(
        "INSERT INTO events (store, id, gone, {COLUMNS}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
    ))?;
    let secs = |t: Option<UnixTime>| t.map(UnixTime::as_secs_f64);
    for (id, intent) in rows {
        let gone = intent.is_none();
        let i = intent.as_ref().map(IntentState::row).unwrap_or_default();
        // 24 hex characters, checked where the id entered: always 12 bytes.
        let id = hex::decode(id.as_str()).unwrap_or_default();
        stmt.execute(params![
            store,
            id,
            gone,
            i.sources.bits(),
            i.order_id,
            secs(i.added_at),
            i.status.map(Status::code),
            i.not_found,
            secs(i.status_changed_at),
            secs(i.last_success_at),
            secs(i.terminal_at),
            secs(i.expired_at),
            i.dropped.map(|d| d.reason.as_str()),
            i.dropped.map(|d| d.at.as_secs_f64()),
            i.confirmed_by.map(ConfirmedBy::as_str),
            secs(i.webhook_at),
            i.verify_pending,
            secs(i.webhook_missing_at),
            money::detail_column(&i),
        ])?;
    }
    Ok(rows.len() as i64)
}

/// Applies a store's webhook changes (seen nonces and ids, queued and relayed events)
/// and forgets what is past remembering.
fn write_webhooks(tx: &Transaction, store: i64, batch: &StoreBatch) -> rusqlite::Result<()> {
    let mut seen = tx.prepare_cached(
        "INSERT OR REPLACE INTO webhook_seen (store, kind, value, seen_at) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut queued = tx.prepare_cached(
        "INSERT OR REPLACE INTO webhook_queue (store, seq, webhook_id, intent_id, received_at, \
         path_and_query, headers, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut delivered =
        tx.prepare_cached("DELETE FROM webhook_queue WHERE store = ?1 AND seq = ?2")?;
    for write in &batch.webhooks {
        match write {
            WebhookWrite::Nonce(nonce, at) => {
                seen.execute(params![store, "nonce", nonce, at.as_secs_f64()])?
            }
            WebhookWrite::Id(id, at) => seen.execute(params![store, "id", id, at.as_secs_f64()])?,
            WebhookWrite::Queued(q) => queued.execute(params![
                store,
                i64::try_from(q.seq).unwrap_or(i64::MAX),
                q.webhook_id,
                q.intent_id.as_str(),
                q.received_at.as_secs_f64(),
                q.request.path_and_query,
                headers_json(&q.request.headers),
                q.request.body,
            ])?,
            WebhookWrite::Delivered(seq) => {
                delivered.execute(params![store, i64::try_from(*seq).unwrap_or(i64::MAX)])?
            }
        };
    }
    tx.prepare_cached(
        "DELETE FROM webhook_seen WHERE store = ?1 AND \
         ((kind = 'nonce' AND seen_at < ?2) OR (kind = 'id' AND seen_at < ?3))",
    )?
    .execute(params![
        store,
        batch.forget_nonces_before.as_secs_f64(),
        batch.forget_ids_before.as_secs_f64()
    ])?;
    Ok(())
}

/// Header values are bytes: kept as JSON arrays of numbers when not UTF-8.
pub(super) fn headers_json(headers: &[(String, Vec<u8>)]) -> String {
    let list: Vec<serde_json::Value> = headers
        .iter()
        .map(|(name, value)| match std::str::from_utf8(value) {
            Ok(text) => serde_json::json!([name, text]),
            Err(_) => serde_json::json!([name, value]),
        })
        .collect();
    serde_json::Value::Array(list).to_string()
}

pub(super) fn headers_from_json(text: &str) -> Option<Vec<(String, Vec<u8>)>> {
    let list: Vec<(String, serde_json::Value)> = serde_json::from_str(text).ok()?;
    list.into_iter()
        .map(|(name, value)| {
            let bytes = match value {
                serde_json::Value::String(s) => s.into_bytes(),
                other => serde_json::from_value::<Vec<u8>>(other).ok()?,
            };
            Some((name, bytes))
        })
        .collect()
}

/// Writes the counters of `counts` that differ from `last` (and notes them there).
fn write_counters(
    tx: &Transaction,
    store: i64,
    counts: &Counts,
    last: &mut BTreeMap<(&'static str, String), i64>,
) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO counters (store, name, label, value) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (store, name, label) DO UPDATE SET value = excluded.value",
    )?;
    for (key, value) in counter_rows(counts) {
        if last.get(&key) != Some(&value) {
            stmt.execute(params![store, key.0, key.1, value])?;
            last.insert(key, value);
        }
    }
    Ok(())
}

/// The counters as `(name, label)` → value rows.
pub(super) fn counter_rows(counts: &Counts) -> Vec<((&'static str, String), i64)> {
    let value = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let mut rows = Vec::new();
    for (outcome, v) in &counts.terminal_total {
        rows.push((("outcome", outcome.as_str().to_string()), value(*v)));
    }
    for ((from, to), v) in &counts.transitions {
        rows.push((("transition", format!("{from}>{to}")), value(*v)));
    }
    rows.push((("expired", String::new()), value(counts.expired_total)));
    for (reason, v) in &counts.dropped_total {
        rows.push((("dropped", reason.as_str().to_string()), value(*v)));
    }
    let w = &counts.webhooks;
    for (by, v) in [
        (ConfirmedBy::Webhook, w.confirmed_by_webhook),
        (ConfirmedBy::Poll, w.confirmed_by_poll),
    ] {
        rows.push((("confirmation", by.as_str().to_string()), value(v)));
    }
    rows.push((("webhook_missing", String::new()), value(w.missing)));
    rows.push((
        ("webhook_disagreement", String::new()),
        value(w.disagreements),
    ));
    rows.push((
        ("confirmed_short", String::new()),
        value(counts.money.confirmed_short),
    ));
    rows.push((
        ("details_given_up", String::new()),
        value(counts.money.details_given_up),
    ));
    let time_to_outcome = counts.time_to_outcome.rows();
    rows.extend(time_to_outcome.into_iter().map(|(key, v)| (key, value(v))));
    rows
}

/// Adds one saved counter to `counts`; `None` for a name, label or value this build does
/// not know.
pub(super) fn add_counter(
    counts: &mut Counts,
    name: &str,
    label: &str,
    value: i64,
) -> Option<(&'static str, String)> {
    let v = u64::try_from(value).ok()?;
    let name = match name {
        "outcome" => {
            counts.terminal_total.insert(Outcome::parse(label)?, v);
            "outcome"
        }
        "transition" => {
            let (from, to) = label.split_once('>')?;
            let key = (StatusClass::parse(from)?, StatusClass::parse(to)?);
            counts.transitions.insert(key, v);
            "transition"
        }
        "expired" if label.is_empty() => {
            counts.expired_total = v;
            "expired"
        }
        "dropped" => {
            counts.dropped_total.insert(DropReason::parse(label)?, v);
            "dropped"
        }
        "confirmation" => {
            match ConfirmedBy::parse(label)? {
                ConfirmedBy::Webhook => counts.webhooks.confirmed_by_webhook = v,
                ConfirmedBy::Poll => counts.webhooks.confirmed_by_poll = v,
            }
            "confirmation"
        }
        "webhook_missing" if label.is_empty() => {
            counts.webhooks.missing = v;
            "webhook_missing"
        }
        "webhook_disagreement" if label.is_empty() => {
            counts.webhooks.disagreements = v;
            "webhook_disagreement"
        }
        "confirmed_short" if label.is_empty() => {
            counts.money.confirmed_short = v;
            "confirmed_short"
        }
        "details_given_up" if label.is_empty() => {
            counts.money.details_given_up = v;
            "details_given_up"
        }
        _ => counts.time_to_outcome.add_row(name, label, v)?,
    };
    Some((name, label.to_string()))
}

/// An intent from the row's [`COLUMNS`], starting at column `at`; `Err` names a value
/// this build does not know.
fn read_intent(r: &rusqlite::Row, at: usize) -> rusqlite::Result<Result<IntentState, String>> {
    let time = |column: usize| -> rusqlite::Result<Option<UnixTime>> {
        Ok(r.get::<_, Option<f64>>(at + column)?
            .map(UnixTime::from_secs_f64))
    };
    let dropped_reason: Option<String> = r.get(at + 9)?;
    let dropped_at = time(10)?;
    let dropped = match (dropped_reason, dropped_at) {
        (None, None) => None,
        (Some(reason), Some(at)) => match DropReason::parse(&reason) {
            Some(reason) => Some(Dropped { reason, at }),
            None => return Ok(Err(format!("unknown drop reason {reason:?}"))),
        },
        _ => return Ok(Err("a drop without its reason or time".into())),
    };
    let confirmed_by = match r.get::<_, Option<String>>(at + 11)? {
        None => None,
        Some(by) => match ConfirmedBy::parse(&by) {
            Some(by) => Some(by),
            None => return Ok(Err(format!("unknown confirmed_by {by:?}"))),
        },
    };
    let (fetched, detail_given_up) = match money::read_detail(r.get(at + 15)?) {
        Ok(read) => read,
        Err(reason) => return Ok(Err(reason)),
    };
    Ok(Ok(IntentState::from_row(IntentRow {
        sources: Sources::from_bits(r.get(at)?),
        order_id: r.get(at + 1)?,
        added_at: time(2)?,
        status: r.get::<_, Option<i64>>(at + 3)?.map(Status::from_code),
        not_found: r.get(at + 4)?,
        status_changed_at: time(5)?,
        last_success_at: time(6)?,
        terminal_at: time(7)?,
        expired_at: time(8)?,
        dropped,
        confirmed_by,
        webhook_at: time(12)?,
        verify_pending: r.get(at + 13)?,
        webhook_missing_at: time(14)?,
        fetched,
        detail_given_up,
    })))
}

#[cfg(test)]
mod tests;
