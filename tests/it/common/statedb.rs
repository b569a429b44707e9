//! Reading the exporter's state database, as an operator would with `sqlite3`.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};
use serde_json::{Map, Value};

fn open(db: &Path) -> Option<Connection> {
    // Never creates a file: a missing database is `None`.
    Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_WRITE).ok()
}

/// The intent's current row of the `intent_state` view, as JSON (column → value).
pub fn saved_intent(db: &Path, store: &str, id: &str) -> Option<Value> {
    let conn = open(db)?;
    let mut stmt = conn
        .prepare("SELECT * FROM intent_state WHERE store = ?1 AND id = ?2")
        .ok()?;
    let names: Vec<String> = stmt.column_names().iter().map(|n| n.to_string()).collect();
    stmt.query_row([store, id], |row| {
        let mut object = Map::new();
        for (i, name) in names.iter().enumerate() {
            let value = match row.get_ref(i)? {
                rusqlite::types::ValueRef::Null => Value::Null,
                rusqlite::types::ValueRef::Integer(n) => Value::from(n),
                rusqlite::types::ValueRef::Real(x) => Value::from(x),
                rusqlite::types::ValueRef::Text(t) => Value::from(String::from_utf8_lossy(t)),
                rusqlite::types::ValueRef::Blob(_) => Value::from("<blob>"),
            };
            object.insert(name.clone(), value);
        }
        Ok(Value::Object(object))
    })
    .ok()
}

/// A saved counter (`outcome`/`confirmed`, `transition`/`on_chain>confirmed`, …).
pub fn saved_counter(db: &Path, store: &str, name: &str, label: &str) -> Option<i64> {
    open(db)?
        .query_row(
            "SELECT c.value FROM counters c JOIN stores s ON s.id = c.store \
             WHERE s.name = ?1 AND c.name = ?2 AND c.label = ?3",
            [store, name, label],
            |r| r.get(0),
        )
        .ok()
}
