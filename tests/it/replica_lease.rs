//! Issue #24 points 1–3, the part in the database: partition leases split the work among
//! live replicas, hand it over when one leaves or dies, and fence one that was paused
//! past its lease or replaced by a restart under its name. Real PostgreSQL (the shared
//! throwaway server of `common::postgres`), one database per test; the passing of time is
//! the database's rows aged by SQL, so no test waits for a lease to run out.

use std::collections::{BTreeMap, BTreeSet};

use allscale_exporter::replica::ReplicaName;
use allscale_exporter::replica::lease::{
    self, LeaseError, LeaseSettings, Member, PARTITIONS, Partition, Token,
};
use tokio::time::Instant;
use tokio_postgres::{Client, NoTls};

use crate::common::postgres;

/// A fresh database on the shared server, and a way to open connections to it.
struct Db {
    url: String,
}

impl Db {
    fn new() -> Option<Db> {
        let server = postgres::server()?;
        let name = server.database();
        Some(Db {
            url: format!(
                "host=127.0.0.1 port={} user=postgres dbname={name}",
                server.port
            ),
        })
    }

    async fn connect(&self) -> Client {
        let (client, connection) = tokio_postgres::connect(&self.url, NoTls)
            .await
            .expect("connect to the test database");
        tokio::spawn(connection);
        client
    }

    async fn sql(&self, sql: &str) {
        self.connect().await.batch_execute(sql).await.expect(sql);
    }
}

/// A replica: its membership and its own connection.
struct Replica {
    member: Member,
    client: Client,
}

impl Replica {
    async fn new(db: &Db, name: &str) -> Replica {
        let client = db.connect().await;
        lease::ensure_schema(&client).await.expect("schema");
        let name: ReplicaName = name.parse().expect("a replica name");
        Replica {
            member: Member::new(name, LeaseSettings::default()),
            client,
        }
    }

    /// A round, with the surplus handed back as the poller would once it stopped it.
    async fn round(&mut self) -> lease::Round {
        let round = self.member.round(&mut self.client).await.expect("a round");
        let surplus = round.surplus.clone();
        self.member
            .release(&self.client, &surplus)
            .await
            .expect("release");
        round
    }

    fn held(&self) -> BTreeSet<Partition> {
        self.member.held().collect()
    }
}

/// Rounds of every replica until two passes in a row change nothing (a newcomer's first
/// round changes the others' shares only at their next one); at most 8 passes.
async fn settle(replicas: &mut [Replica]) {
    let mut quiet = 0;
    for _ in 0..8 {
        let mut changed = false;
        for r in replicas.iter_mut() {
            let round = r.round().await;
            changed |=
                !(round.gained.is_empty() && round.lost.is_empty() && round.surplus.is_empty());
        }
        quiet = if changed { 0 } else { quiet + 1 };
        if quiet == 2 {
            return;
        }
    }
    panic!("the leases did not settle in 8 passes");
}

/// Every partition held by exactly one of `replicas`; their share sizes.
fn assert_split(replicas: &[Replica]) -> Vec<usize> {
    let mut owner = BTreeMap::new();
    for r in replicas {
        for p in r.held() {
            assert!(
                owner.insert(p, r.member.incarnation().to_owned()).is_none(),
                "{p:?} held twice"
            );
        }
    }
    assert_eq!(owner.len(), usize::from(PARTITIONS), "every partition held");
    replicas.iter().map(|r| r.held().len()).collect()
}

/// The `(partition, token)` leases of `name` in the database.
async fn tokens(db: &Db, name: &str) -> BTreeMap<i32, i64> {
    db.connect()
        .await
        .query(
            "SELECT partition, token FROM replica_leases WHERE holder = $1 AND expires_at > now()",
            &[&name],
        )
        .await
        .expect("query")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[tokio::test]
async fn replicas_split_every_partition_once_and_rebalance_as_they_come_and_go() {
    let Some(db) = Db::new() else { return };
    let mut group = vec![Replica::new(&db, "a").await, Replica::new(&db, "b").await];
    settle(&mut group).await;
    assert_eq!(assert_split(&group), [128, 128]);

    group.push(Replica::new(&db, "c").await);
    settle(&mut group).await;
    assert_eq!(assert_split(&group), [86, 85, 85], "scaled to three");

    // c stops cleanly: the others take its share at their next round, not after the lease.
    let mut c = group.pop().expect("c");
    c.member.leave(&c.client).await.expect("leave");
    assert!(c.held().is_empty());
    for r in &mut group {
        r.round().await;
    }
    assert_eq!(
        assert_split(&group),
        [128, 128],
        "scaled back to two in one round"
    );
}

#[tokio::test]
async fn a_dead_replicas_share_moves_once_its_leases_expire_with_new_tokens() {
    let Some(db) = Db::new() else { return };
    let mut group = vec![Replica::new(&db, "a").await, Replica::new(&db, "b").await];
    settle(&mut group).await;
    let b = group.pop().expect("b");
    let before = tokens(&db, "b").await;
    assert_eq!(before.len(), 128);

    // b dies (no leave). Its heartbeat goes stale first: a counts itself alone but takes
    // nothing b's leases still cover.
    db.sql("UPDATE replica_members SET heartbeat_at = now() - interval '1 hour' WHERE name = 'b'")
        .await;
    let round = group[0].round().await;
    assert_eq!((round.live, round.gained.len()), (1, 0), "{round:?}");

    // Then its leases run out: a takes them, each with a higher token.
    db.sql("UPDATE replica_leases SET expires_at = now() - interval '1 second' WHERE holder = 'b'")
        .await;
    let round = group[0].round().await;
    assert_eq!(round.gained.len(), 128);
    for (p, token) in &round.gained {
        let old = before[&i32::from(p.get())];
        assert!(token.get() > old, "{p:?}: token {token:?} after {old}");
    }
    assert_eq!(assert_split(&group), [256]);
    drop(b);
}

#[tokio::test]
async fn a_replica_paused_past_its_lease_is_fenced_and_rejoins() {
    let Some(db) = Db::new() else { return };
    let mut group = vec![Replica::new(&db, "a").await, Replica::new(&db, "b").await];
    settle(&mut group).await;
    let b_held = group[1].held();
    let any = *b_held.first().expect("b holds some");

    // b's own deadline: a lease is not trusted past lease − margin after its renewal.
    let settings = LeaseSettings::default();
    let at = Instant::now() + settings.lease;
    assert_eq!(group[1].member.holds(any, at), None);
    assert!(group[1].member.holds(any, Instant::now()).is_some());

    // b stops (SIGSTOP) past its lease: no heartbeat, no renewal; a takes its partitions.
    db.sql(
        "UPDATE replica_members SET heartbeat_at = now() - interval '1 hour' WHERE name = 'b'; \
         UPDATE replica_leases SET expires_at = now() - interval '1 second' WHERE holder = 'b'",
    )
    .await;
    let round = group[0].round().await;
    assert_eq!(round.gained.len(), 128, "a took b's share");

    // b comes back: a commit of b's finds no lease to write for...
    let b = &mut group[1];
    let tx = b.client.transaction().await.expect("tx");
    let name: ReplicaName = "b".parse().expect("name");
    let fenced = lease::fence(&tx, &name, b.member.incarnation())
        .await
        .expect("fence");
    assert!(fenced.is_empty(), "{fenced:?}");
    drop(tx);
    // ...and its next round says what it lost, then it gets a share again.
    let round = b.round().await;
    assert_eq!(round.lost.into_iter().collect::<BTreeSet<_>>(), b_held);
    settle(&mut group).await;
    assert_eq!(assert_split(&group), [128, 128]);
}

#[tokio::test]
async fn a_restart_under_the_same_name_takes_its_leases_back_and_fences_the_old_process() {
    let Some(db) = Db::new() else { return };
    let mut group = vec![Replica::new(&db, "a").await, Replica::new(&db, "b").await];
    settle(&mut group).await;
    let before = tokens(&db, "b").await;

    // A new process named b starts while the old one still runs (or is not yet gone).
    let mut b2 = Replica::new(&db, "b").await;
    let round = b2.round().await;
    let gained: BTreeMap<i32, Token> = round
        .gained
        .iter()
        .map(|(p, t)| (i32::from(p.get()), *t))
        .collect();
    assert_eq!(gained.len(), 128, "its name's leases, at once");
    for (p, token) in &gained {
        assert!(token.get() > before[p], "partition {p}: a new token");
    }

    // The old process: fenced, and told at its next round.
    let old = &mut group[1];
    let tx = old.client.transaction().await.expect("tx");
    let name: ReplicaName = "b".parse().expect("name");
    assert!(
        lease::fence(&tx, &name, old.member.incarnation())
            .await
            .expect("fence")
            .is_empty()
    );
    drop(tx);
    let err = old
        .member
        .round(&mut old.client)
        .await
        .expect_err("replaced");
    assert!(
        matches!(err, LeaseError::Replaced(ref n) if n == "b"),
        "{err}"
    );
    assert!(old.held().is_empty());
}

#[tokio::test]
async fn concurrent_rounds_never_give_one_partition_to_two_replicas() {
    let Some(db) = Db::new() else { return };
    let mut group = Vec::new();
    for name in ["r0", "r1", "r2", "r3", "r4"] {
        group.push(Replica::new(&db, name).await);
    }
    for _ in 0..8 {
        let rounds = group.iter_mut().map(|r| async move {
            let round = r.member.round(&mut r.client).await.expect("round");
            r.member
                .release(&r.client, &round.surplus)
                .await
                .expect("release");
        });
        futures_util::future::join_all(rounds).await;
        let mut seen = BTreeSet::new();
        for r in &group {
            for p in r.held() {
                assert!(seen.insert(p), "{p:?} held by two replicas at once");
            }
        }
    }
    settle(&mut group).await;
    let mut shares = assert_split(&group);
    shares.sort();
    assert_eq!(shares, [51, 51, 51, 51, 52]);
}
