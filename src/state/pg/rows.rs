//! An intent as a row of `intents`, and back: the one place where the PostgreSQL store
//! maps [`IntentState`] to columns (the same column meanings as SQLite's), plus the
//! columns of a whole batch as arrays for one `unnest` upsert.

use tokio_postgres::Row;

use crate::api::Status;
use crate::clock::UnixTime;
use crate::config::IntentId;
use crate::state::db::money::{detail_column, read_detail};
use crate::state::{ConfirmedBy, DropReason, Dropped, IntentRow, IntentState, SeenKind, Sources};

/// The columns after `store` and `id`, in the order [`IntentColumns`] binds them.
pub(super) const COLUMNS: &str = "sources, order_id, added_at, status, not_found, \
     status_changed_at, last_success_at, terminal_at, expired_at, dropped_reason, dropped_at, \
     confirmed_by, webhook_at, verify_pending, webhook_missing_at, detail";

/// One intent's column values.
pub(super) struct Columns {
    sources: i64,
    order_id: Option<String>,
    added_at: Option<f64>,
    status: Option<i64>,
    not_found: bool,
    status_changed_at: Option<f64>,
    last_success_at: Option<f64>,
    terminal_at: Option<f64>,
    expired_at: Option<f64>,
    dropped_reason: Option<String>,
    dropped_at: Option<f64>,
    confirmed_by: Option<String>,
    webhook_at: Option<f64>,
    verify_pending: bool,
    webhook_missing_at: Option<f64>,
    detail: Option<String>,
}

/// Seconds, as the columns keep times (the same as SQLite's).
fn secs(t: Option<UnixTime>) -> Option<f64> {
    t.map(UnixTime::as_secs_f64)
}

fn time(secs: Option<f64>) -> Option<UnixTime> {
    secs.map(UnixTime::from_secs_f64)
}

/// The columns of an intent.
pub(super) fn intent_row(i: &IntentState) -> Columns {
    let r = i.row();
    Columns {
        sources: i64::from(r.sources.bits()),
        order_id: r.order_id.clone(),
        added_at: secs(r.added_at),
        status: r.status.map(Status::code),
        not_found: r.not_found,
        status_changed_at: secs(r.status_changed_at),
        last_success_at: secs(r.last_success_at),
        terminal_at: secs(r.terminal_at),
        expired_at: secs(r.expired_at),
        dropped_reason: r.dropped.map(|d| d.reason.as_str().to_owned()),
        dropped_at: r.dropped.map(|d| d.at.as_secs_f64()),
        confirmed_by: r.confirmed_by.map(|by| by.as_str().to_owned()),
        webhook_at: secs(r.webhook_at),
        verify_pending: r.verify_pending,
        webhook_missing_at: secs(r.webhook_missing_at),
        detail: detail_column(&r),
    }
}

/// The intent of its columns; `Err` names a value this build does not know.
pub(super) fn intent_of(row: Columns) -> Result<IntentState, String> {
    let dropped = match (row.dropped_reason, row.dropped_at) {
        (None, None) => None,
        (Some(reason), Some(at)) => match DropReason::parse(&reason) {
            Some(reason) => Some(Dropped {
                reason,
                at: UnixTime::from_secs_f64(at),
            }),
            None => return Err(format!("unknown drop reason {reason:?}")),
        },
        _ => return Err("a drop without its reason or time".into()),
    };
    let confirmed_by = match row.confirmed_by {
        None => None,
        Some(by) => Some(ConfirmedBy::parse(&by).ok_or(format!("unknown confirmed_by {by:?}"))?),
    };
    let (fetched, detail_given_up) = read_detail(row.detail)?;
    Ok(IntentState::from_row(IntentRow {
        sources: Sources::from_bits(row.sources),
        order_id: row.order_id,
        added_at: time(row.added_at),
        status: row.status.map(Status::from_code),
        not_found: row.not_found,
        status_changed_at: time(row.status_changed_at),
        last_success_at: time(row.last_success_at),
        terminal_at: time(row.terminal_at),
        expired_at: time(row.expired_at),
        dropped,
        confirmed_by,
        webhook_at: time(row.webhook_at),
        verify_pending: row.verify_pending,
        webhook_missing_at: time(row.webhook_missing_at),
        fetched,
        detail_given_up,
    }))
}

impl Columns {
    /// The [`COLUMNS`] of `row`, starting at column `at`.
    pub(super) fn read(row: &Row, at: usize) -> Result<Columns, tokio_postgres::Error> {
        Ok(Columns {
            sources: row.try_get(at)?,
            order_id: row.try_get(at + 1)?,
            added_at: row.try_get(at + 2)?,
            status: row.try_get(at + 3)?,
            not_found: row.try_get(at + 4)?,
            status_changed_at: row.try_get(at + 5)?,
            last_success_at: row.try_get(at + 6)?,
            terminal_at: row.try_get(at + 7)?,
            expired_at: row.try_get(at + 8)?,
            dropped_reason: row.try_get(at + 9)?,
            dropped_at: row.try_get(at + 10)?,
            confirmed_by: row.try_get(at + 11)?,
            webhook_at: row.try_get(at + 12)?,
            verify_pending: row.try_get(at + 13)?,
            webhook_missing_at: row.try_get(at + 14)?,
            detail: row.try_get(at + 15)?,
        })
    }
}

/// Rows of a batch as one array per column, for `unnest`.
#[derive(Default)]
pub(super) struct IntentColumns {
    pub ids: Vec<String>,
    sources: Vec<i64>,
    order_id: Vec<Option<String>>,
    added_at: Vec<Option<f64>>,
    status: Vec<Option<i64>>,
    not_found: Vec<bool>,
    status_changed_at: Vec<Option<f64>>,
    last_success_at: Vec<Option<f64>>,
    terminal_at: Vec<Option<f64>>,
    expired_at: Vec<Option<f64>>,
    dropped_reason: Vec<Option<String>>,
    dropped_at: Vec<Option<f64>>,
    confirmed_by: Vec<Option<String>>,
    webhook_at: Vec<Option<f64>>,
    verify_pending: Vec<bool>,
    webhook_missing_at: Vec<Option<f64>>,
    detail: Vec<Option<String>>,
}

impl IntentColumns {
    pub(super) fn push(&mut self, id: &IntentId, row: Columns) {
        self.ids.push(id.as_str().to_owned());
        self.sources.push(row.sources);
        self.order_id.push(row.order_id);
        self.added_at.push(row.added_at);
        self.status.push(row.status);
        self.not_found.push(row.not_found);
        self.status_changed_at.push(row.status_changed_at);
        self.last_success_at.push(row.last_success_at);
        self.terminal_at.push(row.terminal_at);
        self.expired_at.push(row.expired_at);
        self.dropped_reason.push(row.dropped_reason);
        self.dropped_at.push(row.dropped_at);
        self.confirmed_by.push(row.confirmed_by);
        self.webhook_at.push(row.webhook_at);
        self.verify_pending.push(row.verify_pending);
        self.webhook_missing_at.push(row.webhook_missing_at);
        self.detail.push(row.detail);
    }

    /// The arrays as statement parameters, ids first, then the [`COLUMNS`].
    pub(super) fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 17] {
        [
            &self.ids,
            &self.sources,
            &self.order_id,
            &self.added_at,
            &self.status,
            &self.not_found,
            &self.status_changed_at,
            &self.last_success_at,
            &self.terminal_at,
            &self.expired_at,
            &self.dropped_reason,
            &self.dropped_at,
            &self.confirmed_by,
            &self.webhook_at,
            &self.verify_pending,
            &self.webhook_missing_at,
            &self.detail,
        ]
    }
}

/// The types of [`IntentColumns::params`], for `unnest`.
pub(super) const COLUMN_ARRAYS: &str = "$3::text[], $4::int8[], $5::text[], $6::float8[], \
     $7::int8[], $8::bool[], $9::float8[], $10::float8[], $11::float8[], $12::float8[], \
     $13::text[], $14::float8[], $15::text[], $16::float8[], $17::bool[], $18::float8[], \
     $19::text[]";

/// The intent rows another replica wrote last, as `(store, id, intent)`, with the
/// database's time of the read: every one, or (`since`) those written after it. What a
/// replica takes over ([`crate::state::StoreState::take_over`]). A row that does not read
/// as an intent is left out (the store's own load names it).
pub async fn written_by_others(
    client: &tokio_postgres::Client,
    me: &str,
    since: Option<std::time::SystemTime>,
) -> Result<(std::time::SystemTime, Vec<(String, String, IntentState)>), tokio_postgres::Error> {
    let now: std::time::SystemTime = client.query_one("SELECT now()", &[]).await?.try_get(0)?;
    let base = format!(
        "SELECT s.name, i.id, {COLUMNS} FROM intents i JOIN stores s ON s.id = i.store \
         WHERE i.updated_by <> $1"
    );
    let rows = match since {
        None => client.query(&base, &[&me]).await?,
        Some(since) => {
            let sql = format!("{base} AND i.updated_at > $2");
            client.query(&sql, &[&me, &since]).await?
        }
    };
    let mut intents = Vec::new();
    for row in rows {
        let (store, id): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        if let Ok(intent) = intent_of(Columns::read(&row, 2)?) {
            intents.push((store, id, intent));
        }
    }
    Ok((now, intents))
}

/// What the group committed that decides whether a webhook is new: the intent's row if
/// another replica wrote it last, and the nonce and webhook id if any replica saw them.
pub async fn webhook_facts(
    client: &tokio_postgres::Client,
    me: &str,
    store: &str,
    intent: &str,
    nonce: &str,
    webhook_id: &str,
) -> Result<(Option<IntentState>, Vec<(SeenKind, String, UnixTime)>), tokio_postgres::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM intents i JOIN stores s ON s.id = i.store \
         WHERE s.name = $1 AND i.id = $2 AND i.updated_by <> $3"
    );
    let row = client.query_opt(&sql, &[&store, &intent, &me]).await?;
    let theirs = match row {
        Some(row) => intent_of(Columns::read(&row, 0)?).ok(),
        None => None,
    };
    let rows = client
        .query(
            "SELECT w.kind, w.value, w.seen_at FROM webhook_seen w \
             JOIN stores s ON s.id = w.store WHERE s.name = $1 \
             AND ((w.kind = 'nonce' AND w.value = $2) OR (w.kind = 'id' AND w.value = $3))",
            &[&store, &nonce, &webhook_id],
        )
        .await?;
    let mut seen = Vec::new();
    for row in rows {
        let (kind, value, at): (String, String, f64) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        let kind = if kind == "nonce" {
            SeenKind::Nonce
        } else {
            SeenKind::Id
        };
        seen.push((kind, value, UnixTime::from_secs_f64(at)));
    }
    Ok((theirs, seen))
}
