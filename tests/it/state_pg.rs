//! The PostgreSQL state database (`state_database`) against a throwaway PostgreSQL 15:
//! the storage conformance suite, the exporter binary restarted on it (its counters
//! continue, not lower, not double), registrations answered only once committed, a
//! second exporter under the same replica name kept out, and how failures are told.

use crate::common;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use allscale_exporter::replica::ReplicaName;
use allscale_exporter::state::pg;
use allscale_exporter::state::store::Failure;
use common::postgres::{self, PgFixture, Server};
use common::processes::{ExporterProcess, MOCK_SECRET, StrictMock, mock_config_yaml};
use common::{scrape, wait_for};
use serde_json::json;

allscale_exporter::conformance_tests!(maybe PgFixture::new());

const CONFIRMED: &str = "67000000000000000000000a";
const FAILED: &str = "67000000000000000000000b";
const STAYS: &str = "67000000000000000000000c";
const REGISTERED: &str = "67000000000000000000000d";
const TOKEN: &str = "registration-token-0123456789";

/// A fresh database, the strict mock and a config file for both, with the registration
/// API on.
struct Setup {
    server: &'static Server,
    database: String,
    config: std::path::PathBuf,
    _mock: StrictMock,
    _dir: tempfile::TempDir,
}

impl Setup {
    /// `None` (the test skips) without PostgreSQL.
    fn new() -> Option<Setup> {
        let server = postgres::server()?;
        let database = server.database();
        let mock = StrictMock::start(
            &json!({CONFIRMED: [1, 20], FAILED: [1, -1], STAYS: [1, 10], REGISTERED: [1, 10]}),
            false,
        );
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, MOCK_SECRET).unwrap();
        std::fs::write(dir.path().join("token"), TOKEN).unwrap();
        let extra = format!(
            "{}registration:\n  token_file: {}\n",
            server.yaml(&database, &dir.path().join("db-password")),
            dir.path().join("token").display()
        );
        let config = dir.path().join("config.yaml");
        let yaml = mock_config_yaml(&mock, &secret, &extra, &[CONFIRMED, FAILED, STAYS]);
        std::fs::write(&config, yaml).unwrap();
        Some(Setup {
            server,
            database,
            config,
            _mock: mock,
            _dir: dir,
        })
    }
}

async fn register(exporter: &ExporterProcess, id: &str) -> (u16, String) {
    let answer = reqwest::Client::new()
        .post(format!("http://{}/api/v1/intents", exporter.addr))
        .bearer_auth(TOKEN)
        .json(&json!({"store": "main", "intents": [id]}))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.text().await.unwrap())
}

/// This replica's saved `outcome` counter.
fn saved_outcome(server: &Server, database: &str, outcome: &str) -> String {
    server.psql(
        database,
        &format!(
            "SELECT c.replica || '=' || c.value FROM counters c JOIN stores s ON s.id = c.store \
             WHERE s.name = 'main' AND c.name = 'outcome' AND c.label = '{outcome}'"
        ),
    )
}

/// Outcomes are counted, committed under the replica's name, and after a SIGKILL and a
/// restart under the same name they continue from the committed values: not lower, not
/// counted again; the saved statuses are exported at once.
#[tokio::test]
async fn counters_continue_across_a_restart_on_postgresql() {
    let Some(setup) = Setup::new() else {
        return;
    };
    let (server, database, config) = (setup.server, &setup.database, &setup.config);
    let first = ExporterProcess::start(config, &["--replica.name=exporter-0"]);
    wait_for(
        Duration::from_secs(15),
        "both outcomes exported",
        || async {
            let m = scrape(first.addr).await;
            (m.outcome("confirmed") == 1.0 && m.outcome("failed") == 1.0).then_some(())
        },
    )
    .await;
    // Exported write-ahead: committed before it was served.
    assert_eq!(saved_outcome(server, database, "confirmed"), "exporter-0=1");
    assert_eq!(saved_outcome(server, database, "failed"), "exporter-0=1");
    let (status, body) = register(&first, REGISTERED).await;
    assert_eq!(status, 200, "{body}");
    first.kill();

    let second = ExporterProcess::start(config, &["--replica.name=exporter-0"]);
    let m = scrape(second.addr).await;
    assert_eq!(m.outcome("confirmed"), 1.0, "restored, not lower");
    assert_eq!(
        m.status(CONFIRMED),
        Some(20.0),
        "saved statuses exported at once"
    );
    assert_eq!(m.status(FAILED), Some(-1.0));
    // Polling goes on: STAYS and the registered intent are watched, the finished are not
    // counted again.
    wait_for(
        Duration::from_secs(15),
        "the registered intent polled",
        || async {
            let m = scrape(second.addr).await;
            (m.status(REGISTERED) == Some(10.0)).then_some(m)
        },
    )
    .await;
    let m = scrape(second.addr).await;
    assert_eq!(m.outcome("confirmed"), 1.0, "not counted twice");
    assert_eq!(m.outcome("failed"), 1.0, "not counted twice");
    assert_eq!(saved_outcome(server, database, "confirmed"), "exporter-0=1");
    second.terminate();
    // Another replica name has counters of its own: it starts from 0.
    let other = ExporterProcess::start(config, &["--replica.name=exporter-1"]);
    let m = scrape(other.addr).await;
    assert_eq!(
        m.outcome("confirmed"),
        0.0,
        "exporter-0's counts are not exporter-1's"
    );
    assert_eq!(
        m.status(CONFIRMED),
        Some(20.0),
        "the intents are the group's"
    );
    other.terminate();
}

/// A registration is answered only once committed: while the intents table is locked
/// the answer waits (and gives up with 503), and the intent is in the database the
/// moment a 200 comes.
#[tokio::test]
async fn a_registration_is_answered_only_once_committed() {
    let Some(setup) = Setup::new() else {
        return;
    };
    let (server, database, config) = (setup.server, &setup.database, &setup.config);
    let exporter = ExporterProcess::start(config, &["--replica.name=exporter-0"]);
    wait_for(Duration::from_secs(15), "the first commit", || async {
        let rows = server.psql(database, "SELECT count(*) FROM intents");
        (rows == "3").then_some(())
    })
    .await;
    // Another session holds the intents table: commits wait for it.
    let mut holder = Command::new(format!("{}/psql", postgres::BIN))
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &server.port.to_string(),
            "-U",
            "postgres",
        ])
        .args(["-d", database, "-X", "-q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stdin = holder.stdin.as_mut().unwrap();
    writeln!(stdin, "BEGIN; LOCK TABLE intents IN EXCLUSIVE MODE;").unwrap();
    stdin.flush().unwrap();
    wait_for(Duration::from_secs(10), "the lock held", || async {
        let held = server.psql(
            database,
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
             WHERE c.relname = 'intents' AND l.mode = 'ExclusiveLock' AND l.granted",
        );
        (held == "1").then_some(())
    })
    .await;
    let (status, body) = register(&exporter, REGISTERED).await;
    assert_eq!(status, 503, "answered before it was committed: {body}");
    let saved = |id: &str| {
        server.psql(
            database,
            &format!("SELECT count(*) FROM intents WHERE id = '{id}'"),
        )
    };
    assert_eq!(saved(REGISTERED), "0");
    writeln!(stdin, "COMMIT;").unwrap();
    drop(holder.stdin.take());
    holder.wait().unwrap();
    let (status, body) = register(&exporter, REGISTERED).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(saved(REGISTERED), "1", "answered 200 before the commit");
    exporter.terminate();
}

/// One process per replica name: a second one is refused as locked, with the name and
/// the way out in the error; closing the first frees the name at once.
#[test]
fn a_replica_name_is_held_by_one_process() {
    let Some(server) = postgres::server() else {
        return;
    };
    let db = server.state_database(&server.database());
    let name: ReplicaName = "exporter-0".parse().unwrap();
    let first = pg::open(&db, &name).unwrap();
    let error = pg::open(&db, &name).unwrap_err();
    assert_eq!(error.failure(), Failure::Locked, "{error}");
    let text = error.to_string();
    assert!(
        text.contains("replica name exporter-0 is in use") && text.contains("--replica.name"),
        "{text}"
    );
    let other = pg::open(&db, &"exporter-1".parse().unwrap());
    assert!(other.is_ok(), "another name is free");
    drop(first);
    assert!(pg::open(&db, &name).is_ok(), "freed when the first closed");
}

/// Nothing listening: transient (start-up waits for it); a database of a newer schema:
/// refused, named, and left as it is.
#[test]
fn failures_say_what_they_mean() {
    let Some(server) = postgres::server() else {
        return;
    };
    let database = server.database();
    let db = server.state_database(&database);
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/{database}?sslmode=disable",
        postgres::free_port()
    );
    let yaml = format!(
        "state_database:\n  url: {url}\n  password_env: P\nstores:\n  - name: main\n    api_key: k\n    api_secret_env: P\n"
    );
    let refused =
        allscale_exporter::config::Config::parse(&yaml, std::path::Path::new("."), &|_| {
            Some("p".into())
        })
        .unwrap()
        .state_database
        .unwrap();
    let refused = *refused;
    let name: ReplicaName = "r".parse().unwrap();
    let error = pg::open(&refused, &name).unwrap_err();
    assert_eq!(error.failure(), Failure::Transient, "{error}");
    assert!(!error.to_string().contains("unused-password"), "{error}");

    drop(pg::open(&db, &name).unwrap());
    server.psql(&database, "INSERT INTO schema_version (version) VALUES (9)");
    let error = pg::open(&db, &name).unwrap_err();
    assert_eq!(error.failure(), Failure::FutureVersion, "{error}");
    assert!(error.to_string().contains("schema version 9"), "{error}");
    assert_eq!(
        server.psql(&database, "SELECT max(version) FROM schema_version"),
        "9"
    );
}

/// Whether the exporter's session on `database` uses TLS, as the server sees it.
fn session_uses_tls(server: &Server, database: &str) -> String {
    server.psql(
        database,
        &format!(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.datname = '{database}' AND a.application_name = 'allscale-exporter'"
        ),
    )
}

/// `sslmode` as the URL says: verify-full takes the server whose certificate the
/// `sslrootcert` CA signed for the host, and refuses it against another CA or the
/// Mozilla roots; require encrypts without checking; disable does not encrypt.
#[test]
fn tls_follows_sslmode() {
    let Some(server) = postgres::server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (ours, theirs) = (dir.path().join("ca.pem"), dir.path().join("other-ca.pem"));
    std::fs::write(&ours, &server.ca_pem).unwrap();
    std::fs::write(&theirs, common::tls::Ca::new("another CA").pem()).unwrap();
    let name: ReplicaName = "r".parse().unwrap();
    for (query, tls) in [
        (
            format!("sslmode=verify-full&sslrootcert={}", ours.display()),
            "t",
        ),
        ("sslmode=require".to_owned(), "t"),
        ("sslmode=disable".to_owned(), "f"),
    ] {
        let database = server.database();
        let store = pg::open(&server.state_database_with(&database, &query), &name);
        assert!(store.is_ok(), "{query}: {:?}", store.err());
        assert_eq!(session_uses_tls(server, &database), tls, "{query}");
    }
    for query in [
        format!("sslmode=verify-full&sslrootcert={}", theirs.display()),
        "sslmode=verify-full".to_owned(),
    ] {
        let db = server.state_database_with(&server.database(), &query);
        let error = pg::open(&db, &name).unwrap_err();
        assert_eq!(error.failure(), Failure::Transient, "{query}: {error}");
        let text = format!("{error} {:?}", std::error::Error::source(&error));
        assert!(text.contains("UnknownIssuer"), "{query}: {text}");
    }
}

/// Issue #24, point 8, moving in: a single exporter's `state_file` is imported into an
/// empty database (its counters and finished intents, restored before any poll), and only
/// once: a later start keeps what the database counted since, not the file's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_file_is_imported_into_an_empty_database_once() {
    use allscale_exporter::reload::ReloadOptions;
    use allscale_exporter::server::Exporter;
    use allscale_exporter::simulator::Simulator;
    use common::sim::{KEY, SECRET, id, intent, scenario};

    let Some(server) = postgres::server() else {
        return;
    };
    // Intent 1 confirms at once; intent 2 only after the import (8 s in).
    let sim = Simulator::new(scenario(vec![
        intent(1, &[2, 20], 300),
        intent(2, &[2, 20], 8_000),
    ]));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let serving = tokio::spawn(sim.clone().serve(listener, std::future::pending()));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state.db");
    let (one, two) = (id(1), id(2));
    let mut config = common::test_config(&url, KEY, SECRET, &[&one, &two]);
    config.poll_interval = Duration::from_millis(300);
    let start = |config: allscale_exporter::config::Config| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let options = ReloadOptions {
            replica: "mover".parse().unwrap(),
            ..ReloadOptions::none()
        };
        Exporter::start(config, listener, options).await.unwrap()
    };

    config.state_file = Some(file.clone());
    let single = start(config.clone()).await;
    wait_for(Duration::from_secs(15), "the first outcome", || async {
        (scrape(single.local_addr()).await.outcome("confirmed") == 1.0).then_some(())
    })
    .await;
    single.shutdown().await;

    let mut db = server.state_database(&server.database());
    db.import_from = Some(file);
    config.state_file = None;
    config.state_database = Some(Box::new(db));
    let moved = start(config.clone()).await;
    let m = scrape(moved.local_addr()).await;
    assert_eq!(m.outcome("confirmed"), 1.0, "the file's counter, imported");
    assert_eq!(m.status(&one), Some(20.0), "the finished intent, imported");
    wait_for(Duration::from_secs(20), "the second outcome", || async {
        (scrape(moved.local_addr()).await.outcome("confirmed") == 2.0).then_some(())
    })
    .await;
    moved.shutdown().await;

    let again = start(config).await;
    let m = scrape(again.local_addr()).await;
    assert_eq!(
        m.outcome("confirmed"),
        2.0,
        "imported again over the database"
    );
    again.shutdown().await;
    serving.abort();
}

/// Issue #24: replicas sharing a database each keep their own relay queue. The same
/// sequence number queued by two replicas is two events; each reads back (and relays)
/// what it received, and one's delivery leaves the other's event in place.
#[test]
fn each_replica_keeps_its_own_relay_queue() {
    use allscale_exporter::state::WebhookWrite;
    use allscale_exporter::state::store::conformance::{batch, queued};

    let Some(server) = postgres::server() else {
        return;
    };
    let db = server.state_database(&server.database());
    let (a, b): (ReplicaName, ReplicaName) =
        ("queue-a".parse().unwrap(), "queue-b".parse().unwrap());
    let mut at_b = queued(0);
    at_b.webhook_id = "whk_at_b".into();
    let writes = [
        (
            &a,
            vec![
                WebhookWrite::Queued(queued(0)),
                WebhookWrite::Queued(queued(1)),
            ],
        ),
        (&b, vec![WebhookWrite::Queued(at_b.clone())]),
        (&b, vec![WebhookWrite::Delivered(0)]),
    ];
    for (replica, webhooks) in writes {
        let mut store = pg::open(&db, replica).unwrap();
        let mut batch = batch(vec![]);
        batch.stores[0].webhooks = webhooks;
        store.write(&batch).unwrap();
    }
    let queue = |replica: &ReplicaName| {
        let saved = pg::open(&db, replica).unwrap().load().unwrap();
        saved.stores["main"].queue.clone()
    };
    assert_eq!(queue(&a), [queued(0), queued(1)]);
    assert_eq!(queue(&b), []);
}

/// Issue #24, point 3: in a shared database a row that reached a final phase is replaced
/// only by another final one, so a replica paused past its lease that commits its old
/// view late does not set back what the intent's next holder committed since.
#[test]
fn a_late_commit_does_not_set_a_finished_intent_back() {
    use allscale_exporter::api::Status;
    use allscale_exporter::state::IntentState;
    use allscale_exporter::state::store::conformance::{batch, id, row};

    let intent = |status, at| IntentState::from_row(row(status, at));

    let Some(server) = postgres::server() else {
        return;
    };
    let db = server.state_database(&server.database());
    let (holder, late): (ReplicaName, ReplicaName) =
        ("holder".parse().unwrap(), "late".parse().unwrap());
    let failed = intent(Status::Failed, 5.0);
    let writes = [
        (&holder, intent(Status::Failed, 5.0)),
        (&late, intent(Status::OnChain, 4.0)),
    ];
    for (replica, row) in writes {
        let mut store = pg::open(&db, replica).unwrap();
        store.write(&batch(vec![(id('a'), Some(row))])).unwrap();
    }
    let saved = pg::open(&db, &holder).unwrap().load().unwrap();
    assert_eq!(saved.stores["main"].intents, [(id('a'), failed)]);
    // A final row still replaces a final one (a detail counted later, say).
    let confirmed = intent(Status::Confirmed, 6.0);
    let mut store = pg::open(&db, &late).unwrap();
    store
        .write(&batch(vec![(id('a'), Some(confirmed.clone()))]))
        .unwrap();
    drop(store);
    let saved = pg::open(&db, &holder).unwrap().load().unwrap();
    assert_eq!(saved.stores["main"].intents, [(id('a'), confirmed)]);
}
