use super::open::APPLICATION_ID;
use super::*;
use crate::state::store::conformance::{self, Fixture, batch, counts, fetched, id, intent, row, t};

/// A state database in a temporary directory, for the storage boundary's conformance
/// suite.
struct Sqlite {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Sqlite {
    fn new() -> Sqlite {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        Sqlite { _dir: dir, path }
    }
}

impl Fixture for Sqlite {
    fn open(&self) -> Box<dyn Store> {
        open_locked(&self.path).unwrap()
    }

    fn open_read_only(&self) -> Box<dyn Store> {
        Box::new(Db::open_read_only(&self.path, BUSY_TIMEOUT).unwrap().0)
    }
}

conformance::conformance_tests!(Sqlite::new());

fn intents_of(saved: &Saved) -> Vec<(IntentId, IntentState)> {
    saved.stores["main"].intents.clone()
}

#[test]
fn what_is_written_reads_back_before_and_after_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut db = Db::open(&path).unwrap();
    db.write(&batch(vec![
        (id('a'), Some(intent(Status::OnChain, 2.0))),
        (id('b'), Some(intent(Status::Created, 2.0))),
        (id('c'), Some(intent(Status::Created, 2.0))),
    ]))
    .unwrap();
    let dropped = IntentState::from_row(IntentRow {
        dropped: Some(Dropped {
            reason: DropReason::NotFound,
            at: t(9.0),
        }),
        ..row(Status::Created, 3.0)
    });
    let confirmed = IntentState::from_row(IntentRow {
        fetched: Some(fetched()),
        ..row(Status::Confirmed, 4.0)
    });
    let given_up = IntentState::from_row(IntentRow {
        detail_given_up: Some(Box::new(crate::state::DetailGivenUp {
            at: t(6.5),
            request_id: Some("req_\"x".into()),
        })),
        ..row(Status::Canceled, 5.0)
    });
    let given_up_without_id = IntentState::from_row(IntentRow {
        detail_given_up: Some(Box::new(crate::state::DetailGivenUp {
            at: t(7.0),
            request_id: None,
        })),
        ..row(Status::Confirmed, 5.0)
    });
    db.write(&batch(vec![
        (id('a'), Some(confirmed.clone())),
        (id('b'), None),
        (id('c'), Some(dropped.clone())),
        (id('d'), Some(given_up.clone())),
        (id('e'), Some(given_up_without_id.clone())),
    ]))
    .unwrap();
    let column: String = db
        .conn
        .query_row(
            "SELECT detail FROM intent_state WHERE id = ?1",
            [id('d').as_str()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(column, r#"{"given_up_at":6.5,"request_id":"req_\"x"}"#);
    drop(db);
    let expected = vec![
        (id('a'), confirmed),
        (id('c'), dropped),
        (id('d'), given_up),
        (id('e'), given_up_without_id),
    ];
    let mut db = Db::open(&path).unwrap();
    let saved = db.load().unwrap();
    assert_eq!(intents_of(&saved), expected);
    assert_eq!(saved.stores["main"].counts, counts());
    db.compact().unwrap();
    assert_eq!(db.events, 0);
    assert_eq!(db.rows, 4);
    drop(db);
    let saved = Db::open(&path).unwrap().load().unwrap();
    assert_eq!(intents_of(&saved), expected);
    assert_eq!(saved.stores["main"].counts, counts());
}

#[test]
fn other_files_are_refused_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE t (x)").unwrap();
    drop(conn);
    let err = Db::open(&path).unwrap_err().to_string();
    assert!(
        err.contains("not an allscale-exporter state database"),
        "{err}"
    );
    let future = dir.path().join("future.db");
    drop(Db::open(&future).unwrap());
    let conn = Connection::open(&future).unwrap();
    conn.execute("UPDATE meta SET value = 9 WHERE key = 'schema_version'", [])
        .unwrap();
    drop(conn);
    let err = Db::open(&future).unwrap_err().to_string();
    assert!(err.contains("schema version 9"), "{err}");
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![7u8; 8192]).unwrap();
    assert!(Db::open(&junk).is_err());
}

#[test]
fn an_unknown_counter_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut db = Db::open(&path).unwrap();
    db.write(&batch(vec![])).unwrap();
    db.conn
        .execute(
            "UPDATE counters SET label = 'won' WHERE name = 'outcome' AND label = 'confirmed'",
            [],
        )
        .unwrap();
    let err = db.load().unwrap_err().to_string();
    assert!(err.contains("counter outcome{won}"), "{err}");
}

#[test]
fn money_text_reads_back_exactly_and_an_unknown_row_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut db = Db::open(&path).unwrap();
    db.write(&batch(vec![])).unwrap();
    let value: String = db
        .conn
        .query_row(
            "SELECT value FROM money WHERE name = 'amount' AND outcome = 'confirmed'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(value, "0.30", "the exact text, scale kept");
    db.conn
        .execute("UPDATE money SET value = '-1' WHERE name = 'fee'", [])
        .unwrap();
    let err = db.load().unwrap_err().to_string();
    assert!(err.contains("money fee{,USDT,} = \"-1\""), "{err}");
}

/// A database of the previous build (version 2) is upgraded in place to version 3, which
/// a version-2 build refuses as newer instead of taking its new counter rows for damage;
/// it keeps what it held and the new counters go in.
#[test]
fn a_version_2_database_is_upgraded_and_takes_the_new_counters() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut db = Db::open(&path).unwrap();
    db.write(&batch(vec![(
        id('a'),
        Some(intent(Status::Confirmed, 3.0)),
    )]))
    .unwrap();
    drop(db);
    let conn = Connection::open(&path).unwrap();
    conn.execute("UPDATE meta SET value = 2 WHERE key = 'schema_version'", [])
        .unwrap();
    drop(conn);
    let mut db = Db::open(&path).unwrap();
    let saved = db.load().unwrap();
    assert_eq!(saved.stores["main"].intents[0].0, id('a'));
    let mut b = batch(vec![]);
    b.stores[0].counts = counts();
    db.write(&b).unwrap();
    drop(db);
    let saved = Db::open(&path).unwrap().load().unwrap();
    assert_eq!(saved.stores["main"].counts, counts());
    let version: i64 = Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(version, 3);
}

/// A database of the first schema (no details, no money) is upgraded in place and keeps
/// what it held.
#[test]
fn a_version_1_database_is_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(include_str!("schema_v1.sql")).unwrap();
    conn.pragma_update(None, "application_id", APPLICATION_ID)
        .unwrap();
    conn.execute_batch(
        "INSERT INTO meta VALUES ('schema_version', 1); INSERT INTO stores VALUES (1, 'main'); \
         INSERT INTO intents (store, id, sources, status, not_found, terminal_at, verify_pending) \
         VALUES (1, 'aaaaaaaaaaaaaaaaaaaaaaaa', 1, 20, 0, 3.0, 0); \
         INSERT INTO counters VALUES (1, 'outcome', 'confirmed', 1);",
    )
    .unwrap();
    drop(conn);
    let mut db = Db::open(&path).unwrap();
    let saved = db.load().unwrap();
    let (got, intent) = &saved.stores["main"].intents[0];
    assert_eq!(
        (got, intent.status(), intent.row().fetched),
        (&id('a'), Some(Status::Confirmed), None)
    );
    assert_eq!(
        saved.stores["main"].counts.terminal_total[&Outcome::Confirmed],
        1
    );
    let with_detail = IntentState::from_row(IntentRow {
        fetched: Some(fetched()),
        ..intent.row()
    });
    db.write(&batch(vec![(id('a'), Some(with_detail.clone()))]))
        .unwrap();
    drop(db);
    let saved = Db::open(&path).unwrap().load().unwrap();
    assert_eq!(saved.stores["main"].intents[0].1, with_detail);
    let conn = Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let paid: String = conn
        .query_row(
            "SELECT json_extract(detail, '$.paid') FROM intent_state",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(paid, "11.25");
}

/// A compaction that cannot get the room it needs (here `max_page_count`, in life a full
/// disk) does not fail the write whose batch it follows: that batch is committed, and
/// failing it kept the counters from being exported for as long as the disk was short.
/// The changes stay as events, read back as written, and the compaction waits for as
/// many events again before it is tried again.
#[test]
fn a_failed_compaction_does_not_fail_the_committed_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut db = Db::open(&path).unwrap();
    let n = COMPACT_MIN_EVENTS - 1;
    let ids: Vec<IntentId> = (0..=n)
        .map(|i| IntentId::parse(&format!("{i:024x}")).unwrap())
        .collect();
    let row = |id: &IntentId| (id.clone(), Some(intent(Status::Created, 2.0)));
    db.write(&batch(ids[..n as usize].iter().map(row).collect()))
        .unwrap();
    assert_eq!(db.events, n, "not due yet");
    let pages: i64 = db
        .conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    db.conn
        .pragma_update(None, "max_page_count", pages + 16)
        .unwrap();

    db.write(&batch(vec![row(&ids[n as usize])]))
        .expect("the batch is committed even though its compaction is not");
    assert_eq!(db.events, n + 1, "nothing folded");
    assert_eq!(db.compact_retry_at, 2 * (n + 1));
    let saved = db.load().unwrap();
    assert_eq!(saved.stores["main"].intents.len(), ids.len());

    db.conn
        .pragma_update(None, "max_page_count", 1 << 30)
        .unwrap();
    db.write(&batch(vec![row(&ids[0])])).unwrap();
    assert_eq!(db.events, n + 2, "not tried again before the retry point");
    db.compact().unwrap();
    assert_eq!((db.events, db.rows, db.compact_retry_at), (0, n + 1, 0));
    drop(db);
    let saved = Db::open(&path).unwrap().load().unwrap();
    assert_eq!(saved.stores["main"].intents.len(), ids.len());
}

/// SQLite's virtual-machine steps to read every current intent (the start's load), with
/// `compacted` intents folded and as many changes still pending as events.
fn load_steps(compacted: usize) -> i64 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut db = Db::open(&path).unwrap();
    let ids: Vec<IntentId> = (0..compacted)
        .map(|n| IntentId::parse(&format!("{n:024x}")).unwrap())
        .collect();
    let rows = |status| {
        ids.iter()
            .map(|i| (i.clone(), Some(intent(status, 5.0))))
            .collect()
    };
    db.write(&batch(rows(Status::OnChain))).unwrap();
    db.compact().unwrap();
    db.write(&batch(rows(Status::Confirmed))).unwrap();
    drop(db);
    let db = Db::open(&path).unwrap();
    let mut stmt = db.conn.prepare(&load_intents()).unwrap();
    let mut rows = stmt.query([]).unwrap();
    let mut read = 0;
    while rows.next().unwrap().is_some() {
        read += 1;
    }
    assert_eq!(read, compacted);
    drop(rows);
    stmt.get_status(rusqlite::StatementStatus::VmStep).into()
}

/// A start reads the intents in time linear in intents and pending changes (up to a log):
/// the view once checked each folded intent against every pending change, and at 100k
/// intents with 10k changes pending a start took 57 s.
#[test]
fn loading_grows_linearly_with_intents_and_pending_changes() {
    let (small, large) = (load_steps(500), load_steps(4000));
    assert!(
        large < small * 12,
        "8 times the intents and changes took {large} steps against {small}"
    );
}

/// A database made by an older build keeps its own view until opened: a writable open
/// makes this build's anew, a read-only one reads through a temporary copy of it.
#[test]
fn an_older_view_is_replaced_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut db = Db::open(&path).unwrap();
    db.write(&batch(vec![(id('a'), Some(intent(Status::OnChain, 5.0)))]))
        .unwrap();
    let old = "DROP VIEW intent_state; CREATE VIEW intent_state AS SELECT 'old' AS store";
    db.conn.execute_batch(old).unwrap();
    drop(db);
    let wait = std::time::Duration::from_secs(1);
    let (mut read_only, _) = Db::open_read_only(&path, wait).unwrap();
    assert_eq!(read_only.load().unwrap().stores["main"].intents.len(), 1);
    drop(read_only);
    let db = Db::open(&path).unwrap();
    let view: String = db
        .conn
        .query_row(
            "SELECT sql FROM sqlite_schema WHERE name = 'intent_state'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(view.contains("UNION ALL"), "{view}");
}
