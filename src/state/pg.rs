//! The PostgreSQL [`Store`]: the state in a database (`state_database`) instead of a
//! file, laid out for several replicas sharing it (issue #24; this is its foundation: one
//! exporter per replica name, no leases yet). The schema is `pg/schema.sql`, applied by
//! [`migrate`] in one transaction and recorded in `schema_version`.
//!
//! The trait is blocking and the client (tokio-postgres) is async: the store owns a small
//! current-thread runtime and drives each call on it with `block_on`, from the blocking
//! pool where the writer and start-up call the store. Its one connection (the session)
//! is the store's: it holds a PostgreSQL advisory lock on the replica's name for as long
//! as it is open (a second exporter under the same name is [`Failure::Locked`](super::store::Failure::Locked), as a
//! second one on a SQLite file is), and runs every load and commit. A lost connection is
//! made again at the next call, taking the lock again first. Every call is bounded by
//! [`CALL_TIMEOUT`].

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::Duration;

use tokio::runtime::Runtime;
use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

use super::db::money::{MoneyWritten, add_money, money_rows};
use super::db::{CountersWritten, add_counter, counter_rows, headers_from_json, headers_json};
use super::store::{Batch, Saved, Store, StoreError};
use super::{ForwardRequest, IntentState, Queued, WebhookWrite};
use crate::clock::UnixTime;
use crate::config::{IntentId, StateDatabase};
use crate::replica::ReplicaName;

mod connect;
pub use connect::Connector;
mod error;
mod rows;
pub use rows::{webhook_facts, written_by_others};

use connect::Statements;
pub use error::PgError;
use rows::{COLUMNS, Columns, IntentColumns, intent_of, intent_row};

/// The schema this build writes and reads.
pub const SCHEMA_VERSION: i32 = 2;

/// Each version's migration from the one before, in order.
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("pg/schema.sql")),
    (2, include_str!("pg/schema_v2.sql")),
];

/// The advisory lock that serializes migrations of replicas starting together.
const MIGRATION_LOCK: i64 = 0x616c_6c73_6361_6c65;

/// How long one load, commit or connection may take before it fails as transient (a
/// database that stopped answering must not hold the writer forever).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long closing waits to release the replica's lock.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// An open state database on PostgreSQL.
pub struct PgStore {
    /// `None` only while dropping.
    runtime: Option<Runtime>,
    inner: Inner,
}

/// What the store's calls work on (apart from the runtime that drives them).
struct Inner {
    /// Host, port and database, for errors.
    target: String,
    replica: ReplicaName,
    connector: Connector,
    read_only: bool,
    session: Option<Session>,
    store_ids: HashMap<String, i64>,
    /// This replica's counters and money sums as last written, per store: only changed
    /// ones are written again.
    written: HashMap<String, CountersWritten>,
    money_written: HashMap<String, MoneyWritten>,
}

/// The store's connection, with its statements.
struct Session {
    client: Client,
    statements: Statements,
}

/// Opens the database of `db` for writing as `replica`: the writer's opener.
pub fn open(db: &StateDatabase, replica: &ReplicaName) -> Result<Box<dyn Store>, StoreError> {
    Ok(Box::new(PgStore::open(db, replica, false)?))
}

/// Opens it read-only: it loads, and refuses every write (the conformance suite).
#[cfg(any(test, feature = "conformance"))]
pub fn open_read_only(db: &StateDatabase, replica: &ReplicaName) -> Result<PgStore, StoreError> {
    Ok(PgStore::open(db, replica, true)?)
}

impl PgStore {
    fn open(db: &StateDatabase, replica: &ReplicaName, read_only: bool) -> Result<Self, PgError> {
        let target = db.url.to_string();
        let setup = |reason| PgError::Setup {
            target: target.clone(),
            reason,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| setup(format!("cannot start its runtime: {e}")))?;
        let connector = Connector::new(db).map_err(setup)?;
        let mut store = PgStore {
            runtime: Some(runtime),
            inner: Inner {
                target: target.clone(),
                replica: replica.clone(),
                connector,
                read_only,
                session: None,
                store_ids: HashMap::new(),
                written: HashMap::new(),
                money_written: HashMap::new(),
            },
        };
        store.call(|inner| async move { inner.session().await.map(|_| ()) })?;
        Ok(store)
    }

    /// Runs `f` on the store's runtime, bounded by [`CALL_TIMEOUT`]; after a timeout
    /// the session is made anew at the next call (a lost connection is noticed there).
    fn call<'a, T, F>(&'a mut self, f: impl FnOnce(&'a mut Inner) -> F) -> Result<T, PgError>
    where
        F: Future<Output = Result<T, PgError>> + 'a,
    {
        let PgStore { runtime, inner } = self;
        let target = inner.target.clone();
        let Some(runtime) = runtime else {
            return Err(PgError::Setup {
                target,
                reason: "the store is closed".into(),
            });
        };
        runtime.block_on(async {
            match tokio::time::timeout(CALL_TIMEOUT, f(inner)).await {
                Ok(result) => result,
                Err(_) => Err(PgError::Timeout {
                    target,
                    waited: CALL_TIMEOUT,
                }),
            }
        })
    }

    /// `result`, with the session dropped after a timeout (it may be mid-statement).
    fn settle<T>(&mut self, result: Result<T, PgError>) -> Result<T, StoreError> {
        if let Err(PgError::Timeout { .. }) = result {
            self.inner.session = None;
        }
        Ok(result?)
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.inner.target)
            .field("replica", &self.inner.replica)
            .field("read_only", &self.inner.read_only)
            .finish_non_exhaustive()
    }
}

impl Store for PgStore {
    fn read_only(&self) -> bool {
        self.inner.read_only
    }

    fn load(&mut self) -> Result<Saved, StoreError> {
        let result = self.call(|inner| inner.load());
        self.settle(result)
    }

    fn write(&mut self, batch: &Batch) -> Result<(), StoreError> {
        if self.inner.read_only {
            let target = self.inner.target.clone();
            return Err(PgError::ReadOnly { target }.into());
        }
        let result = self.call(|inner| inner.write(batch));
        self.settle(result)
    }
}

/// Releases the replica's lock at once (a restart under the same name need not wait for
/// the server to notice the closed connection), in a thread of its own: a store may be
/// dropped on the exporter's runtime thread, where no other runtime may block.
impl Drop for PgStore {
    fn drop(&mut self) {
        let Some(runtime) = self.runtime.take() else {
            return;
        };
        let session = self.inner.session.take();
        let closing = std::thread::Builder::new()
            .name("state-db-close".into())
            .spawn(move || {
                if let Some(session) = session {
                    runtime.block_on(async move {
                        let unlock = session
                            .client
                            .batch_execute("SELECT pg_advisory_unlock_all()");
                        let _ = tokio::time::timeout(CLOSE_TIMEOUT, unlock).await;
                    });
                }
                runtime.shutdown_background();
            });
        if let Ok(closing) = closing {
            let _ = closing.join();
        }
    }
}

impl Inner {
    fn postgres(&self) -> impl Fn(tokio_postgres::Error) -> PgError + use<> {
        let target = self.target.clone();
        move |source| PgError::Postgres {
            target: target.clone(),
            source,
        }
    }

    fn invalid(&self, reason: String) -> PgError {
        PgError::Invalid {
            target: self.target.clone(),
            reason,
        }
    }

    /// The open session, made (connected, migrated, the replica's name locked) if there
    /// is none or it was lost.
    async fn session(&mut self) -> Result<&mut Session, PgError> {
        let lost = self.session.as_ref().is_some_and(|s| s.client.is_closed());
        if lost {
            self.session = None;
        }
        let session = match self.session.take() {
            Some(session) => session,
            None => self.connect().await?,
        };
        Ok(self.session.insert(session))
    }

    async fn connect(&self) -> Result<Session, PgError> {
        let pg = self.postgres();
        let mut client = self.connector.connect().await.map_err(&pg)?;
        if self.read_only {
            client
                .batch_execute("SET default_transaction_read_only = on")
                .await
                .map_err(&pg)?;
            let found = schema_version(&client).await.map_err(&pg)?;
            self.check_version(found)?;
        } else {
            migrate(&mut client, |found| self.check_version(found), &pg).await?;
            self.lock_replica(&client).await?;
        }
        let statements = Statements::prepare(&client).await.map_err(&pg)?;
        Ok(Session { client, statements })
    }

    fn check_version(&self, found: i32) -> Result<(), PgError> {
        if found > SCHEMA_VERSION {
            return Err(PgError::FutureVersion {
                target: self.target.clone(),
                found,
            });
        }
        Ok(())
    }

    /// Holds the replica's name for as long as `client` is open, and notes the replica.
    /// The server probes the connection every few seconds, so the name of a replica
    /// whose host died is free again within about 25 s.
    async fn lock_replica(&self, client: &Client) -> Result<(), PgError> {
        let pg = self.postgres();
        let key = format!("allscale-exporter replica {}", self.replica);
        let held: bool = client
            .query_one(
                "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
                &[&key],
            )
            .await
            .and_then(|row| row.try_get(0))
            .map_err(&pg)?;
        if !held {
            return Err(PgError::Locked {
                target: self.target.clone(),
                replica: self.replica.to_string(),
            });
        }
        client
            .batch_execute(
                "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; \
                 SET tcp_keepalives_count = 3",
            )
            .await
            .map_err(&pg)?;
        client
            .execute(
                "INSERT INTO replicas (name) VALUES ($1) \
                 ON CONFLICT (name) DO UPDATE SET last_seen = now()",
                &[&self.replica.as_str()],
            )
            .await
            .map_err(&pg)?;
        Ok(())
    }

    /// Everything committed: every store's intents and webhook facts, and this replica's
    /// counters and money.
    async fn load(&mut self) -> Result<Saved, PgError> {
        let pg = self.postgres();
        let replica = self.replica.to_string();
        let client = &self.session().await?.client;
        let mut saved = Saved::default();
        let mut store_ids = HashMap::new();
        for row in client
            .query("SELECT id, name FROM stores", &[])
            .await
            .map_err(&pg)?
        {
            let (id, name): (i64, String) =
                (row.try_get(0).map_err(&pg)?, row.try_get(1).map_err(&pg)?);
            saved.stores.entry(name.clone()).or_default();
            store_ids.insert(name, id);
        }
        let intents = format!(
            "SELECT s.name, i.id, {COLUMNS} FROM intents i JOIN stores s ON s.id = i.store \
             ORDER BY s.name, i.id"
        );
        let mut bad = None;
        for row in client.query(&intents, &[]).await.map_err(&pg)? {
            let store: String = row.try_get(0).map_err(&pg)?;
            let id: String = row.try_get(1).map_err(&pg)?;
            let intent = intent_of(Columns::read(&row, 2).map_err(&pg)?);
            if let Err(e) = saved.add_intent(store, &id, intent) {
                bad = Some(e);
            }
        }
        let written = read_counters(client, &replica, &mut saved)
            .await
            .map_err(&pg)?;
        let money_written = read_money(client, &replica, &mut saved)
            .await
            .map_err(&pg)?;
        let queue = read_webhooks(client, &replica, &mut saved)
            .await
            .map_err(&pg)?;
        if let Some(reason) = bad.or(written.1).or(money_written.1).or(queue) {
            return Err(self.invalid(reason));
        }
        self.store_ids = store_ids;
        self.written = written.0;
        self.money_written = money_written.0;
        Ok(saved)
    }

    /// Commits `batch` in one transaction.
    async fn write(&mut self, batch: &Batch) -> Result<(), PgError> {
        let pg = self.postgres();
        let replica = self.replica.to_string();
        let mut store_ids = self.store_ids.clone();
        let mut written = self.written.clone();
        let mut money_written = self.money_written.clone();
        let Session {
            client,
            statements: st,
        } = self.session().await?;
        let tx = client.transaction().await.map_err(&pg)?;
        for store in &batch.stores {
            let sid = match store_ids.get(&store.name) {
                Some(id) => *id,
                None => {
                    let row = tx
                        .query_one(&st.store_id, &[&store.name])
                        .await
                        .map_err(&pg)?;
                    let id: i64 = row.try_get(0).map_err(&pg)?;
                    store_ids.insert(store.name.clone(), id);
                    id
                }
            };
            write_rows(&tx, st, sid, &replica, &store.rows)
                .await
                .map_err(&pg)?;
            let last = written.entry(store.name.clone()).or_default();
            for (key, value) in counter_rows(&store.counts) {
                if last.get(&key) != Some(&value) {
                    let params: [&(dyn ToSql + Sync); 5] = [&sid, &replica, &key.0, &key.1, &value];
                    tx.execute(&st.counter, &params).await.map_err(&pg)?;
                    last.insert(key, value);
                }
            }
            let last = money_written.entry(store.name.clone()).or_default();
            for (key, value) in money_rows(&store.counts.money) {
                if last.get(&key) != Some(&value) {
                    let params: [&(dyn ToSql + Sync); 7] =
                        [&sid, &replica, &key.0, &key.1, &key.2, &key.3, &value];
                    tx.execute(&st.money, &params).await.map_err(&pg)?;
                    last.insert(key, value);
                }
            }
            for write in &store.webhooks {
                write_webhook(&tx, st, sid, &replica, write)
                    .await
                    .map_err(&pg)?;
            }
            let (nonces, ids) = (
                store.forget_nonces_before.as_secs_f64(),
                store.forget_ids_before.as_secs_f64(),
            );
            let forget = [&sid as &(dyn ToSql + Sync), &nonces, &ids];
            tx.execute(&st.forget_seen, &forget).await.map_err(&pg)?;
        }
        tx.execute(&st.delete_stores, &[&batch.kept])
            .await
            .map_err(&pg)?;
        tx.commit().await.map_err(&pg)?;
        store_ids.retain(|name, _| batch.kept.contains(name));
        written.retain(|name, _| batch.kept.contains(name));
        money_written.retain(|name, _| batch.kept.contains(name));
        self.store_ids = store_ids;
        self.written = written;
        self.money_written = money_written;
        Ok(())
    }
}

/// Applies the migrations the database lacks, in one transaction; `check` refuses a
/// version newer than this build's.
async fn migrate(
    client: &mut Client,
    check: impl Fn(i32) -> Result<(), PgError>,
    pg: &impl Fn(tokio_postgres::Error) -> PgError,
) -> Result<(), PgError> {
    let tx = client.transaction().await.map_err(pg)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, \
         applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await
    .map_err(pg)?;
    let found = schema_version(&tx).await.map_err(pg)?;
    check(found)?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > found) {
        tx.batch_execute(sql).await.map_err(pg)?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[version],
        )
        .await
        .map_err(pg)?;
        tracing::info!(version, "state database schema applied");
    }
    tx.commit().await.map_err(pg)
}

/// The highest schema version applied (0 for none).
async fn schema_version(
    client: &impl tokio_postgres::GenericClient,
) -> Result<i32, tokio_postgres::Error> {
    client
        .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
        .await?
        .try_get(0)
}

/// Upserts the rows of a batch (the last one of an id wins) and deletes the forgotten.
async fn write_rows(
    tx: &tokio_postgres::Transaction<'_>,
    st: &Statements,
    store: i64,
    replica: &str,
    rows: &[(IntentId, Option<IntentState>)],
) -> Result<(), tokio_postgres::Error> {
    let latest: BTreeMap<&IntentId, Option<&IntentState>> =
        rows.iter().map(|(id, i)| (id, i.as_ref())).collect();
    let mut upserts = IntentColumns::default();
    let mut gone = Vec::new();
    for (id, intent) in latest {
        match intent {
            Some(intent) => upserts.push(id, intent_row(intent)),
            None => gone.push(id.as_str().to_owned()),
        }
    }
    if !gone.is_empty() {
        tx.execute(&st.delete_intents, &[&store, &gone]).await?;
    }
    if !upserts.ids.is_empty() {
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&store, &replica];
        params.extend(upserts.params());
        tx.execute(&st.upsert_intents, &params).await?;
    }
    Ok(())
}

/// Applies one webhook change: a nonce or id seen, an event queued or relayed.
async fn write_webhook(
    tx: &tokio_postgres::Transaction<'_>,
    st: &Statements,
    store: i64,
    replica: &str,
    write: &WebhookWrite,
) -> Result<u64, tokio_postgres::Error> {
    let seq = |seq: u64| i64::try_from(seq).unwrap_or(i64::MAX);
    match write {
        WebhookWrite::Nonce(nonce, at) => {
            let at = at.as_secs_f64();
            tx.execute(&st.seen, &[&store, &"nonce", nonce, &at]).await
        }
        WebhookWrite::Id(id, at) => {
            let at = at.as_secs_f64();
            tx.execute(&st.seen, &[&store, &"id", id, &at]).await
        }
        WebhookWrite::Queued(q) => {
            let received_at = q.received_at.as_secs_f64();
            let params: [&(dyn ToSql + Sync); 9] = [
                &store,
                &seq(q.seq),
                &q.webhook_id,
                &q.intent_id.as_str(),
                &received_at,
                &q.request.path_and_query,
                &headers_json(&q.request.headers),
                &q.request.body,
                &replica,
            ];
            tx.execute(&st.queued, &params).await
        }
        WebhookWrite::Delivered(s) => {
            tx.execute(&st.delivered, &[&store, &replica, &seq(*s)])
                .await
        }
    }
}

/// A load's rows as written, and the first row this build does not know, if any.
type Read<T> = (T, Option<String>);

/// This replica's counters, into `saved`.
async fn read_counters(
    client: &Client,
    replica: &str,
    saved: &mut Saved,
) -> Result<Read<HashMap<String, CountersWritten>>, tokio_postgres::Error> {
    let mut written: HashMap<String, CountersWritten> = HashMap::new();
    let mut bad = None;
    let rows = client
        .query(
            "SELECT s.name, c.name, c.label, c.value FROM counters c \
             JOIN stores s ON s.id = c.store WHERE c.replica = $1",
            &[&replica],
        )
        .await?;
    for row in rows {
        let (store, name, label, value): (String, String, String, i64) = (
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
        );
        let counts = &mut saved.stores.entry(store.clone()).or_default().counts;
        match add_counter(counts, &name, &label, value) {
            Some(key) => {
                written.entry(store).or_default().insert(key, value);
            }
            None => {
                bad = Some(format!(
                    "store {store:?}: counter {name}{{{label}}} = {value} is not one this build knows"
                ))
            }
        }
    }
    Ok((written, bad))
}

/// This replica's money sums, into `saved`.
async fn read_money(
    client: &Client,
    replica: &str,
    saved: &mut Saved,
) -> Result<Read<HashMap<String, MoneyWritten>>, tokio_postgres::Error> {
    let mut written: HashMap<String, MoneyWritten> = HashMap::new();
    let mut bad = None;
    let rows = client
        .query(
            "SELECT s.name, m.name, m.outcome, m.symbol, m.chain, m.value::text FROM money m \
             JOIN stores s ON s.id = m.store WHERE m.replica = $1",
            &[&replica],
        )
        .await?;
    for row in rows {
        let text = |i| row.try_get::<_, String>(i);
        let (store, name, outcome, symbol, chain, value) =
            (text(0)?, text(1)?, text(2)?, text(3)?, text(4)?, text(5)?);
        let money = &mut saved.stores.entry(store.clone()).or_default().counts.money;
        match add_money(money, &name, &outcome, &symbol, &chain, &value) {
            Some(key) => {
                written.entry(store).or_default().insert(key, value);
            }
            None => {
                bad = Some(format!(
                    "store {store:?}: money {name}{{{outcome},{symbol},{chain}}} = {value:?} is not one this build knows"
                ))
            }
        }
    }
    Ok((written, bad))
}

/// Every store's webhook nonces and ids seen (the group's), and the relay queue this
/// replica received, in order; an entry this build cannot read is named.
async fn read_webhooks(
    client: &Client,
    replica: &str,
    saved: &mut Saved,
) -> Result<Option<String>, tokio_postgres::Error> {
    let mut bad = None;
    let rows = client
        .query(
            "SELECT s.name, w.kind, w.value, w.seen_at FROM webhook_seen w \
             JOIN stores s ON s.id = w.store ORDER BY w.seen_at",
            &[],
        )
        .await?;
    for row in rows {
        let (store, kind, value, at): (String, String, String, f64) = (
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
        );
        let store = saved.stores.entry(store).or_default();
        let at = UnixTime::from_secs_f64(at);
        // `kind` is one of the two (a CHECK constraint).
        if kind == "nonce" {
            store.nonces.push((value, at));
        } else {
            store.webhook_ids.push((value, at));
        }
    }
    let rows = client
        .query(
            "SELECT s.name, q.seq, q.webhook_id, q.intent_id, q.received_at, \
             q.path_and_query, q.headers, q.body FROM webhook_queue q \
             JOIN stores s ON s.id = q.store WHERE q.queued_by = $1 ORDER BY s.name, q.seq",
            &[&replica],
        )
        .await?;
    for row in rows {
        let store: String = row.try_get(0)?;
        let seq: i64 = row.try_get(1)?;
        let intent_id: String = row.try_get(3)?;
        let headers: String = row.try_get(6)?;
        let (Ok(seq), Some(intent_id), Some(headers)) = (
            u64::try_from(seq),
            IntentId::parse(&intent_id),
            headers_from_json(&headers),
        ) else {
            bad = Some(format!(
                "store {store:?}: relay queue entry {seq} is not valid"
            ));
            continue;
        };
        saved.stores.entry(store).or_default().queue.push(Queued {
            seq,
            webhook_id: row.try_get(2)?,
            intent_id,
            received_at: UnixTime::from_secs_f64(row.try_get(4)?),
            request: ForwardRequest {
                path_and_query: row.try_get(5)?,
                headers,
                body: row.try_get(7)?,
            },
            durable: true,
        });
    }
    Ok(bad)
}
