use super::*;

fn id(c: char) -> IntentId {
    IntentId::parse(&c.to_string().repeat(24)).unwrap()
}

fn intent(status: Status, at: f64) -> IntentState {
    let mut sources = Sources::default();
    sources.insert(crate::state::Source::Api);
    IntentState {
        sources,
        order_id: Some("order-1".into()),
        status: Some(status),
        status_changed_at: Some(at),
        last_success_at: Some(at + 0.5),
        terminal_at: status.is_terminal().then_some(at),
        added_at: Some(1.0),
        ..IntentState::default()
    }
}

fn counts() -> Counts {
    Counts {
        terminal_total: BTreeMap::from([(Outcome::Confirmed, 2), (Outcome::Failed, 0)]),
        transitions: BTreeMap::from([((StatusClass::OnChain, StatusClass::Confirmed), 2)]),
        expired_total: 1,
        dropped_total: BTreeMap::from([(DropReason::NotFound, 3)]),
        webhooks: crate::state::WebhookCounts {
            confirmed_by_webhook: 4,
            confirmed_by_poll: 5,
            missing: 6,
            disagreements: 7,
        },
    }
}

fn batch(rows: Vec<(IntentId, Option<IntentState>)>) -> Batch {
    Batch {
        stores: vec![StoreBatch {
            name: "main".into(),
            rows,
            counts: counts(),
            ..StoreBatch::default()
        }],
        kept: vec!["main".into()],
    }
}

fn queued(seq: u64) -> Queued {
    Queued {
        seq,
        webhook_id: format!("whk_{seq}"),
        intent_id: id('a'),
        received_at: 10.0 + seq as f64,
        request: ForwardRequest {
            path_and_query: "/webhooks/allscale?x=1".into(),
            headers: vec![
                ("x-webhook-id".into(), format!("whk_{seq}").into_bytes()),
                ("x-odd".into(), vec![0xff, 0x00, 0x41]),
            ],
            body: b"{\"allscale_checkout_intent_id\": \"aaaa\"}".to_vec(),
        },
        durable: true,
    }
}

/// Nonces and ids seen come back (those past remembering do not), and so does the
/// relay queue in order, byte for byte, without what was delivered.
#[test]
fn webhook_nonces_ids_and_the_relay_queue_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut db = Db::open(&path).unwrap();
    let mut b = batch(vec![]);
    b.stores[0].webhooks = vec![
        WebhookWrite::Nonce("old".into(), 1.0),
        WebhookWrite::Nonce("n1".into(), 100.0),
        WebhookWrite::Id("whk_0".into(), 100.0),
        WebhookWrite::Queued(queued(0)),
        WebhookWrite::Queued(queued(1)),
        WebhookWrite::Queued(queued(2)),
        WebhookWrite::Delivered(0),
    ];
    b.stores[0].forget_nonces_before = 50.0;
    b.stores[0].forget_ids_before = 0.0;
    db.write(&b).unwrap();
    drop(db);
    let saved = Db::open(&path).unwrap().load().unwrap();
    let main = &saved.stores["main"];
    assert_eq!(main.nonces, [("n1".to_string(), 100.0)]);
    assert_eq!(main.webhook_ids, [("whk_0".to_string(), 100.0)]);
    assert_eq!(main.queue, [queued(1), queued(2)]);
    assert_eq!(main.counts, counts());
}

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
    let mut dropped = intent(Status::Created, 3.0);
    dropped.dropped = Some(Dropped {
        reason: DropReason::NotFound,
        at: 9.0,
    });
    db.write(&batch(vec![
        (id('a'), Some(intent(Status::Confirmed, 4.0))),
        (id('b'), None),
        (id('c'), Some(dropped.clone())),
    ]))
    .unwrap();
    drop(db);
    let expected = vec![
        (id('a'), intent(Status::Confirmed, 4.0)),
        (id('c'), dropped),
    ];
    let mut db = Db::open(&path).unwrap();
    let saved = db.load().unwrap();
    assert_eq!(intents_of(&saved), expected);
    assert_eq!(saved.stores["main"].counts, counts());
    db.compact().unwrap();
    assert_eq!(db.events, 0);
    assert_eq!(db.rows, 2);
    drop(db);
    let saved = Db::open(&path).unwrap().load().unwrap();
    assert_eq!(intents_of(&saved), expected);
    assert_eq!(saved.stores["main"].counts, counts());
}

#[test]
fn a_store_no_longer_kept_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut db = Db::open(&path).unwrap();
    db.write(&batch(vec![(id('a'), Some(intent(Status::OnChain, 2.0)))]))
        .unwrap();
    db.write(&Batch::default()).unwrap();
    drop(db);
    assert_eq!(Db::open(&path).unwrap().load().unwrap(), Saved::default());
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
