//! How replicas sharing one PostgreSQL split the work: the id space is cut into a fixed
//! number of [`PARTITIONS`] (an intent's partition is the FNV-1a hash of its lowercase
//! id, as `--shard` computes it, modulo [`PARTITIONS`]), and each partition is leased in
//! the database to at most one live replica at a time. The holder polls the partition's
//! intents and commits their changes; the others leave them alone.
//!
//! - **Expiry on the database's clock.** A lease runs until `now() + lease` of the
//!   database; the holder renews it every round (a third of the lease time). A replica
//!   that dies loses its share within the lease time, and the others take it at their
//!   next round. The holder's own deadline is the monotonic time it *sent* the renewal plus
//!   the lease, minus a margin, so it stops before the database would let another take it.
//! - **Fencing.** Every acquisition raises the partition's token, and a lease belongs to
//!   one incarnation of a replica (a process; its name survives restarts, its incarnation
//!   does not). A commit checks, in its own transaction, which leases it still holds
//!   ([`fence`], `FOR SHARE`, so none can change hands before it commits): a replica
//!   paused past its lease finds it has none and commits nothing for them.
//! - **A fair share.** Each round counts the live replicas (those whose heartbeat is
//!   younger than the lease time) and takes `PARTITIONS / live` partitions, one more for
//!   the first `PARTITIONS % live` names in order, so the shares add up to every partition.
//!   A replica over its share hands the surplus back ([`Round::surplus`], then
//!   [`Member::release`], after it stopped that work); one under takes free or expired
//!   ones. A replica that stops releases everything ([`Member::leave`]), so a rolling
//!   restart hands over at the others' next round instead of after the lease time.
//! - **Restarts under the same name.** A new incarnation takes its name over at once
//!   (a restarted pod does not wait for its old leases to expire): it takes back, with new
//!   tokens, the leases its name held. The old incarnation, if it still runs, finds its
//!   name taken at its next round ([`LeaseError::Replaced`]) and must stop.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;
use tokio_postgres::{Client, GenericClient, Transaction};

use crate::replica::ReplicaName;
use crate::shard::fnv1a64;

/// How many partitions the id space is cut into: fixed, because an intent's partition
/// must be the same for every replica of every version. 256 keeps every share of a group
/// of up to 25 replicas within 4 % of the others'.
pub const PARTITIONS: u16 = 256;

/// The partition of an intent id.
pub fn partition_of(intent_id: &str) -> Partition {
    let hash = fnv1a64(intent_id.to_ascii_lowercase().as_bytes());
    // Below PARTITIONS, so it fits.
    Partition((hash % u64::from(PARTITIONS)) as u16)
}

/// One part of the id space, `0..PARTITIONS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Partition(u16);

impl Partition {
    /// The partition numbered `n`, if there is one.
    pub fn new(n: u16) -> Option<Partition> {
        (n < PARTITIONS).then_some(Partition(n))
    }

    pub fn get(self) -> u16 {
        self.0
    }

    fn from_db(n: i32) -> Option<Partition> {
        u16::try_from(n).ok().and_then(Partition::new)
    }
}

/// A lease's fencing token: raised at every acquisition of its partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Token(i64);

impl Token {
    pub fn get(self) -> i64 {
        self.0
    }
}

/// What the leases of a group run on.
#[derive(Debug, Clone, Copy)]
pub struct LeaseSettings {
    /// How long a lease runs unless renewed; also how long a heartbeat counts a replica
    /// as live.
    pub lease: Duration,
    /// How much earlier than the database the holder gives a lease up: room for the
    /// clocks of the two to drift and for a round trip.
    pub margin: Duration,
}

impl LeaseSettings {
    /// Leases of `lease`, given up 2/15 of it early (2 s of 15 s).
    pub fn of(lease: Duration) -> LeaseSettings {
        LeaseSettings {
            lease,
            margin: lease * 2 / 15,
        }
    }

    /// A round every third of the lease: two rounds can fail before a lease expires.
    pub fn round_every(&self) -> Duration {
        self.lease / 3
    }
}

impl Default for LeaseSettings {
    fn default() -> Self {
        LeaseSettings::of(Duration::from_secs(15))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Another process took this replica's name (a restart that did not wait for this one
    /// to stop, or two replicas given one name): this one holds nothing any more.
    #[error("another process took over the replica name {0}; this one stops")]
    Replaced(String),
    #[error("the state database: {0}")]
    Database(#[from] tokio_postgres::Error),
    #[error("the state database did not answer within {0:?}")]
    Timeout(Duration),
}

/// What one round changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// Live replicas, this one included.
    pub live: usize,
    /// Leases this replica did not hold before the round.
    pub gained: Vec<(Partition, Token)>,
    /// Leases it held that expired or went to another replica: stop their work now.
    pub lost: Vec<Partition>,
    /// Leases over its fair share: stop their work, then [`Member::release`] them.
    pub surplus: Vec<Partition>,
}

#[derive(Debug, Clone, Copy)]
struct Held {
    token: Token,
    until: Instant,
}

/// One replica's membership of the group and the leases it holds.
#[derive(Debug)]
pub struct Member {
    name: ReplicaName,
    /// This process: a random id, so a restart under the same name is told apart.
    incarnation: String,
    settings: LeaseSettings,
    joined: bool,
    held: BTreeMap<Partition, Held>,
}

/// The tables, made if missing. Partitions are rows from the start, free.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS replica_members (
    name text PRIMARY KEY,
    incarnation text NOT NULL,
    heartbeat_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS replica_leases (
    partition integer PRIMARY KEY,
    holder text,
    incarnation text,
    token bigint NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL DEFAULT '-infinity'
);
";

/// Makes the tables and the partition rows (idempotent).
pub async fn ensure_schema(client: &Client) -> Result<(), LeaseError> {
    client.batch_execute(SCHEMA).await?;
    client
        .execute(
            "INSERT INTO replica_leases (partition) SELECT generate_series(0, $1 - 1) \
             ON CONFLICT DO NOTHING",
            &[&i32::from(PARTITIONS)],
        )
        .await?;
    Ok(())
}

/// The leases `name`'s `incarnation` holds now, locked until `tx` ends so that none
/// changes hands before it commits: what a commit may write for.
pub async fn fence(
    tx: &Transaction<'_>,
    name: &ReplicaName,
    incarnation: &str,
) -> Result<BTreeMap<Partition, Token>, LeaseError> {
    let rows = tx
        .query(
            "SELECT partition, token FROM replica_leases \
             WHERE holder = $1 AND incarnation = $2 AND expires_at > now() FOR SHARE",
            &[&name.as_str(), &incarnation],
        )
        .await?;
    Ok(leases(&rows).into_iter().collect())
}

/// `(partition, token)` of each row.
fn leases(rows: &[tokio_postgres::Row]) -> Vec<(Partition, Token)> {
    rows.iter()
        .filter_map(|r| Some((Partition::from_db(r.get(0))?, Token(r.get(1)))))
        .collect()
}

/// This replica's fair share of the partitions among the live ones (sorted by name).
fn share(live: &[String], me: &str) -> usize {
    let n = usize::from(PARTITIONS);
    let count = live.len().max(1);
    let rank = live.iter().position(|l| l == me).unwrap_or(count - 1);
    n / count + usize::from(rank < n % count)
}

impl Member {
    pub fn new(name: ReplicaName, settings: LeaseSettings) -> Member {
        Member {
            name,
            incarnation: uuid::Uuid::new_v4().to_string(),
            settings,
            joined: false,
            held: BTreeMap::new(),
        }
    }

    pub fn incarnation(&self) -> &str {
        &self.incarnation
    }

    /// The lease of `partition`, if this replica holds it and its own deadline has not
    /// passed at `now`.
    pub fn holds(&self, partition: Partition, now: Instant) -> Option<Token> {
        self.held
            .get(&partition)
            .filter(|h| now < h.until)
            .map(|h| h.token)
    }

    /// Every partition held, whatever its deadline.
    pub fn held(&self) -> impl Iterator<Item = Partition> + '_ {
        self.held.keys().copied()
    }

    /// Every partition held, with the deadline this replica trusts it until.
    pub fn held_until(&self) -> impl Iterator<Item = (Partition, Instant)> + '_ {
        self.held.iter().map(|(p, h)| (*p, h.until))
    }

    /// One round: heartbeat, renew, take the leases its name held before a restart,
    /// count the live replicas, then take free or expired partitions up to its share (or
    /// name the surplus), in one transaction.
    pub async fn round(&mut self, client: &mut Client) -> Result<Round, LeaseError> {
        let sent = Instant::now();
        let secs = self.settings.lease.as_secs_f64();
        let tx = client.transaction().await?;
        self.heartbeat(&tx).await?;
        let live: Vec<String> = tx
            .query(
                "SELECT name FROM replica_members \
                 WHERE heartbeat_at > now() - make_interval(secs => $1) ORDER BY name",
                &[&secs],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut now_held: BTreeMap<Partition, Token> = self.renew(&tx, secs).await?;
        let mut gained = self.take_back(&tx, secs).await?;
        now_held.extend(gained.iter().copied());
        let target = share(&live, self.name.as_str());
        let mut surplus = Vec::new();
        if now_held.len() < target {
            let more = self.acquire(&tx, secs, target - now_held.len()).await?;
            now_held.extend(more.iter().copied());
            gained.extend(more);
        } else {
            surplus = now_held
                .keys()
                .rev()
                .take(now_held.len() - target)
                .copied()
                .collect();
            surplus.sort();
        }
        tx.commit().await?;
        let lost = self
            .held
            .keys()
            .filter(|p| !now_held.contains_key(p))
            .copied()
            .collect();
        let until = sent + self.settings.lease.saturating_sub(self.settings.margin);
        self.held = now_held
            .into_iter()
            .map(|(p, token)| (p, Held { token, until }))
            .collect();
        Ok(Round {
            live: live.len(),
            gained,
            lost,
            surplus,
        })
    }

    /// Marks this incarnation live; the first round takes the name over.
    async fn heartbeat(&mut self, tx: &Transaction<'_>) -> Result<(), LeaseError> {
        let name = self.name.as_str();
        if !self.joined {
            tx.execute(
                "INSERT INTO replica_members (name, incarnation, heartbeat_at) \
                 VALUES ($1, $2, now()) ON CONFLICT (name) DO UPDATE \
                 SET incarnation = excluded.incarnation, heartbeat_at = now()",
                &[&name, &self.incarnation],
            )
            .await?;
            self.joined = true;
            return Ok(());
        }
        let kept = tx
            .execute(
                "UPDATE replica_members SET heartbeat_at = now() \
                 WHERE name = $1 AND incarnation = $2",
                &[&name, &self.incarnation],
            )
            .await?;
        if kept == 0 {
            self.held.clear();
            return Err(LeaseError::Replaced(name.to_owned()));
        }
        Ok(())
    }

    /// Renews every lease this incarnation holds that has not expired.
    async fn renew(
        &self,
        tx: &Transaction<'_>,
        secs: f64,
    ) -> Result<BTreeMap<Partition, Token>, LeaseError> {
        let rows = tx
            .query(
                "UPDATE replica_leases SET expires_at = now() + make_interval(secs => $3) \
                 WHERE holder = $1 AND incarnation = $2 AND expires_at > now() \
                 RETURNING partition, token",
                &[&self.name.as_str(), &self.incarnation, &secs],
            )
            .await?;
        Ok(leases(&rows).into_iter().collect())
    }

    /// Takes over, with new tokens, the live leases an earlier incarnation of this name
    /// held (a restart): they are this replica's, and waiting for them to expire would
    /// leave their intents unpolled for the lease time.
    async fn take_back(
        &self,
        tx: &Transaction<'_>,
        secs: f64,
    ) -> Result<Vec<(Partition, Token)>, LeaseError> {
        let rows = tx
            .query(
                "UPDATE replica_leases SET incarnation = $2, token = token + 1, \
                 expires_at = now() + make_interval(secs => $3) \
                 WHERE holder = $1 AND incarnation <> $2 AND expires_at > now() \
                 RETURNING partition, token",
                &[&self.name.as_str(), &self.incarnation, &secs],
            )
            .await?;
        Ok(leases(&rows))
    }

    /// Takes up to `count` free or expired partitions, skipping those another replica is
    /// taking at the same moment.
    async fn acquire(
        &self,
        tx: &Transaction<'_>,
        secs: f64,
        count: usize,
    ) -> Result<Vec<(Partition, Token)>, LeaseError> {
        let limit = i64::try_from(count).unwrap_or(i64::MAX);
        let rows = tx
            .query(
                "UPDATE replica_leases SET holder = $1, incarnation = $2, token = token + 1, \
                 expires_at = now() + make_interval(secs => $3) \
                 WHERE partition IN (SELECT partition FROM replica_leases \
                   WHERE holder IS NULL OR expires_at <= now() \
                   ORDER BY partition LIMIT $4 FOR UPDATE SKIP LOCKED) \
                 RETURNING partition, token",
                &[&self.name.as_str(), &self.incarnation, &secs, &limit],
            )
            .await?;
        Ok(leases(&rows))
    }

    /// Hands `partitions` back (free at once); call it once their work has stopped.
    pub async fn release(
        &mut self,
        client: &impl GenericClient,
        partitions: &[Partition],
    ) -> Result<(), LeaseError> {
        let numbers: Vec<i32> = partitions.iter().map(|p| i32::from(p.get())).collect();
        client
            .execute(
                "UPDATE replica_leases SET holder = NULL, incarnation = NULL, \
                 expires_at = '-infinity' \
                 WHERE holder = $1 AND incarnation = $2 AND partition = ANY($3)",
                &[&self.name.as_str(), &self.incarnation, &numbers],
            )
            .await?;
        for p in partitions {
            self.held.remove(p);
        }
        Ok(())
    }

    /// Leaves the group (a clean stop): every lease released, the heartbeat gone, so the
    /// others count one replica fewer and take its share at their next round.
    pub async fn leave(&mut self, client: &impl GenericClient) -> Result<(), LeaseError> {
        let all: Vec<Partition> = self.held().collect();
        self.release(client, &all).await?;
        client
            .execute(
                "DELETE FROM replica_members WHERE name = $1 AND incarnation = $2",
                &[&self.name.as_str(), &self.incarnation],
            )
            .await?;
        self.joined = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_follow_the_documented_hash() {
        let id = "65f0a1b2c3d4e5f6a7b8c901";
        // FNV-1a 64 of the lowercase id, modulo 256: its low byte.
        let expected = fnv1a64(id.as_bytes()) & 0xff;
        assert_eq!(u64::from(partition_of(id).get()), expected);
        assert_eq!(partition_of(id), partition_of(&id.to_ascii_uppercase()));
        assert_eq!(Partition::new(PARTITIONS), None);
        assert_eq!(Partition::from_db(-1), None);
    }

    #[test]
    fn ids_spread_over_the_partitions() {
        let mut counts = vec![0u32; usize::from(PARTITIONS)];
        for i in 0..100_000u64 {
            counts[usize::from(partition_of(&format!("6700{i:020x}")).get())] += 1;
        }
        // 390.6 per partition expected; each within a quarter of it.
        let (min, max) = (counts.iter().min(), counts.iter().max());
        assert!(min >= Some(&293) && max <= Some(&488), "{min:?} {max:?}");
    }

    #[test]
    fn shares_add_up_to_every_partition() {
        for n in 1..=30usize {
            let live: Vec<String> = (0..n).map(|i| format!("r{i:02}")).collect();
            let shares: Vec<usize> = live.iter().map(|me| share(&live, me)).collect();
            assert_eq!(shares.iter().sum::<usize>(), usize::from(PARTITIONS), "{n}");
            let (min, max) = (shares.iter().min(), shares.iter().max());
            assert!(
                max.zip(min).is_some_and(|(a, b)| a - b <= 1),
                "{n}: {shares:?}"
            );
        }
        // Not (yet) counted live: the last rank's share, never more than a live one's.
        assert_eq!(share(&["a".into(), "b".into()], "c"), 128);
    }
}
