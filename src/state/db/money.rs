//! Money in the state database: the `money` table's rows (exact decimal text) and an
//! intent's `detail` column (JSON): the counted detail, or when it was given up as
//! malformed (a second shape of the same column, so no schema change was needed).

use std::collections::BTreeMap;

use rusqlite::{Connection, Transaction, params};
use serde::{Deserialize, Serialize};

use super::Saved;
use crate::api::Outcome;
use crate::api::detail::{Detail, parse_amount};
use crate::clock::UnixTime;
use crate::state::{DetailGivenUp, Fetched, IntentRow, Money};

/// `(name, outcome, symbol, chain)`: one `money` row's key, empty where unused.
pub(in crate::state) type MoneyKey = (&'static str, String, String, String);

/// A store's money rows as last written: only changed ones are written again.
pub(in crate::state) type MoneyWritten = BTreeMap<MoneyKey, String>;

/// An intent's `detail` column: one of two JSON objects, told apart by their fields.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Column {
    Counted(DetailColumn),
    GivenUp(GivenUpColumn),
}

/// A detail given up as malformed: `{"given_up_at": …, "request_id": …}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GivenUpColumn {
    given_up_at: f64,
    request_id: Option<String>,
}

/// A counted detail.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DetailColumn {
    at: f64,
    coin: String,
    chain: u64,
    currency: String,
    amount: String,
    paid: String,
    fee: String,
    net: String,
    amount_cents: u64,
}

/// The `detail` column of an intent: its counted detail, or its give-up; `None` (NULL)
/// while neither.
pub(in crate::state) fn detail_column(intent: &IntentRow) -> Option<String> {
    let column = match (&intent.fetched, &intent.detail_given_up) {
        (Some(f), _) => Column::Counted(counted_column(f)),
        (None, Some(g)) => Column::GivenUp(GivenUpColumn {
            given_up_at: g.at.as_secs_f64(),
            request_id: g.request_id.clone(),
        }),
        (None, None) => return None,
    };
    serde_json::to_string(&column).ok()
}

fn counted_column(f: &Fetched) -> DetailColumn {
    let d = &f.detail;
    DetailColumn {
        at: f.at.as_secs_f64(),
        coin: d.coin.clone(),
        chain: d.chain,
        currency: d.currency.clone(),
        amount: d.amount.to_string(),
        paid: d.paid.to_string(),
        fee: d.fee.to_string(),
        net: d.net.to_string(),
        amount_cents: d.amount_cents,
    }
}

/// What a `detail` column says.
pub(in crate::state) type ReadDetail = (Option<Box<Fetched>>, Option<Box<DetailGivenUp>>);

/// Reads a `detail` column back; `Err` says what is wrong with it.
pub(in crate::state) fn read_detail(text: Option<String>) -> Result<ReadDetail, String> {
    let Some(text) = text else {
        return Ok((None, None));
    };
    let bad = || format!("detail {text:?} is not valid");
    let c = match serde_json::from_str(&text).map_err(|_| bad())? {
        Column::Counted(c) => c,
        Column::GivenUp(g) => {
            let given_up = DetailGivenUp {
                at: UnixTime::from_secs_f64(g.given_up_at),
                request_id: g.request_id,
            };
            return Ok((None, Some(Box::new(given_up))));
        }
    };
    let amount = |s: &str| parse_amount(s).ok_or_else(bad);
    let detail = Detail {
        amount: amount(&c.amount)?,
        paid: amount(&c.paid)?,
        fee: amount(&c.fee)?,
        net: amount(&c.net)?,
        coin: c.coin,
        chain: c.chain,
        currency: c.currency,
        amount_cents: c.amount_cents,
    };
    let at = UnixTime::from_secs_f64(c.at);
    Ok((Some(Box::new(Fetched { detail, at })), None))
}

/// The money sums as rows.
pub(in crate::state) fn money_rows(m: &Money) -> Vec<(MoneyKey, String)> {
    let mut rows = Vec::new();
    let mut push =
        |name, outcome: &str, symbol: &str, chain: &str, value: &rust_decimal::Decimal| {
            let key = (
                name,
                outcome.to_owned(),
                symbol.to_owned(),
                chain.to_owned(),
            );
            rows.push((key, value.to_string()));
        };
    for ((outcome, coin, chain), v) in &m.amount {
        push("amount", outcome.as_str(), coin, chain, v);
    }
    for ((outcome, coin, chain), v) in &m.paid {
        push("paid", outcome.as_str(), coin, chain, v);
    }
    for ((coin, chain), v) in &m.shortfall {
        push("shortfall", "", coin, chain, v);
    }
    for (coin, v) in &m.fee {
        push("fee", "", coin, "", v);
    }
    for (coin, v) in &m.net {
        push("net", "", coin, "", v);
    }
    for ((outcome, currency), v) in &m.fiat {
        push("fiat", outcome.as_str(), currency, "", v);
    }
    rows
}

/// Adds one saved row to `m`; `None` for a name, label or value this build does not know.
pub(in crate::state) fn add_money(
    m: &mut Money,
    name: &str,
    outcome: &str,
    symbol: &str,
    chain: &str,
    value: &str,
) -> Option<MoneyKey> {
    let v = parse_amount(value)?;
    let (s, c) = (symbol.to_owned(), chain.to_owned());
    let name = match name {
        "amount" => {
            m.amount.insert((Outcome::parse(outcome)?, s, c), v);
            "amount"
        }
        "paid" => {
            m.paid.insert((Outcome::parse(outcome)?, s, c), v);
            "paid"
        }
        "shortfall" if outcome.is_empty() => {
            m.shortfall.insert((s, c), v);
            "shortfall"
        }
        "fee" if outcome.is_empty() && chain.is_empty() => {
            m.fee.insert(s, v);
            "fee"
        }
        "net" if outcome.is_empty() && chain.is_empty() => {
            m.net.insert(s, v);
            "net"
        }
        "fiat" if chain.is_empty() => {
            m.fiat.insert((Outcome::parse(outcome)?, s), v);
            "fiat"
        }
        _ => return None,
    };
    Some((
        name,
        outcome.to_owned(),
        symbol.to_owned(),
        chain.to_owned(),
    ))
}

/// Reads every store's money rows into `saved`; returns them as written, per store.
pub(super) fn read_money(
    conn: &Connection,
    saved: &mut Saved,
) -> rusqlite::Result<Result<BTreeMap<String, MoneyWritten>, String>> {
    let mut written: BTreeMap<String, MoneyWritten> = BTreeMap::new();
    let mut stmt = conn.prepare(
        "SELECT s.name, m.name, m.outcome, m.symbol, m.chain, m.value FROM money m \
         JOIN stores s ON s.id = m.store",
    )?;
    let rows = stmt.query_map([], |r| {
        <(String, String, String, String, String, String)>::try_from(r)
    })?;
    for row in rows {
        let (store, name, outcome, symbol, chain, value) = row?;
        let money = &mut saved.stores.entry(store.clone()).or_default().counts.money;
        let Some(key) = add_money(money, &name, &outcome, &symbol, &chain, &value) else {
            return Ok(Err(format!(
                "store {store:?}: money {name}{{{outcome},{symbol},{chain}}} = {value:?} is not one this build knows"
            )));
        };
        written.entry(store).or_default().insert(key, value);
    }
    Ok(Ok(written))
}

/// Writes the money rows of `m` that differ from `last` (and notes them there).
pub(super) fn write_money(
    tx: &Transaction,
    store: i64,
    m: &Money,
    last: &mut MoneyWritten,
) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO money (store, name, outcome, symbol, chain, value) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (store, name, outcome, symbol, chain) DO UPDATE SET value = excluded.value",
    )?;
    for (key, value) in money_rows(m) {
        if last.get(&key) != Some(&value) {
            stmt.execute(params![store, key.0, key.1, key.2, key.3, value])?;
            last.insert(key, value);
        }
    }
    Ok(())
}
