//! This replica's part of a group sharing one state database (issue #24): one supervised
//! task keeps its leases ([`crate::replica::lease`]) and publishes what it holds
//! ([`Owned`]) for the pollers, which poll only those intents.
//!
//! A round runs every third of the lease time. Partitions gained are taken over first
//! (the rows other replicas committed of their intents, [`StoreState::take_over`]), then
//! published; a surplus (another replica joined) is withdrawn from the pollers first,
//! then handed back; a lost lease is withdrawn at once. Every [`SYNC_EVERY`] a replica
//! also takes over what the others committed since its last look: the intents they added
//! to the watch list (a registration or a webhook that arrived there), which the holder
//! then polls, and the progress they saw, so every replica's view of the group (the
//! landing page, the intent JSON, a webhook's duplicate check) stays current. While the database cannot be reached,
//! nothing is renewed: the published deadline passes and the pollers stop on their own,
//! before another replica may take the partitions. A stop hands every lease back, so a
//! rolling restart moves the work at the others' next round.
//!
//! [`StoreState::take_over`]: crate::state::StoreState::take_over

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_postgres::Client;

use crate::clock::UnixTime;
use crate::config::IntentId;
use crate::metrics::ReplicaGauges;
use crate::replica::ReplicaName;
use crate::replica::lease::{self, LeaseError, LeaseSettings, Member, Partition};
use crate::replica::owned::Owned;
use crate::state::pg::{Connector, webhook_facts, written_by_others};
use crate::state::{IntentState, SeenKind, State, StoreHandle, WebhookEvent};
use crate::supervise::{Supervisor, Task};

/// How long leaving the group at a stop may take before the leases are left to expire.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the holder looks for intents other replicas added to its partitions: a
/// registration at any replica is polled by the holder within about this.
pub const SYNC_EVERY: Duration = Duration::from_secs(1);

/// How far back each look reaches before the last one: a row is stamped when its
/// transaction starts and seen when it commits (a group commit takes well under this).
const SYNC_OVERLAP: Duration = Duration::from_secs(5);

/// What the lease task works with.
#[derive(Clone)]
pub struct Leases {
    pub connector: Arc<Connector>,
    pub name: ReplicaName,
    pub settings: LeaseSettings,
    pub publish: Arc<watch::Sender<Owned>>,
    pub gauges: ReplicaGauges,
    /// Where other replicas' intents are taken over.
    pub state: Arc<State>,
}

/// One run's membership: the leases, the connection, and how far the sync has read.
pub struct Run {
    member: Member,
    client: Option<Client>,
    synced: Option<SystemTime>,
}

/// What one tick does.
enum Tick {
    Round,
    Sync,
}

impl Leases {
    /// Joins the group before the exporter polls or serves: one round (taking its name's
    /// leases back after a restart, or free ones), so the first scrape already shows the
    /// intents this replica holds. A failure is left to the task's next round.
    pub async fn join(&self) -> Run {
        let mut run = self.new_run();
        let joined = self.round(&mut run).await;
        self.gauges.database_up.set(i64::from(joined.is_ok()));
        if let Err(error) = joined {
            tracing::warn!(%error, "cannot join the replica group yet; trying again every round");
            run.client = None;
        }
        run
    }

    fn new_run(&self) -> Run {
        Run {
            member: Member::new(self.name.clone(), self.settings),
            client: None,
            synced: None,
        }
    }

    /// Keeps the leases of `joined` (a new membership if none, as after a restart of the
    /// task) until `stop` flips, then leaves the group. A process that lost its name to
    /// another fails (the supervisor's reason says why) and holds nothing.
    pub async fn run(
        self,
        joined: Option<Run>,
        supervisor: Supervisor,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut run = joined.unwrap_or_else(|| self.new_run());
        let mut rounds = tokio::time::interval(self.settings.round_every());
        rounds.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut syncs = tokio::time::interval(SYNC_EVERY);
        syncs.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            let tick = tokio::select! {
                biased;
                _ = crate::stopped(&mut stop) => break,
                _ = rounds.tick() => Tick::Round,
                _ = syncs.tick() => Tick::Sync,
            };
            let result = match tick {
                Tick::Round => self.round(&mut run).await,
                Tick::Sync => self.sync(&mut run).await,
            };
            self.gauges.database_up.set(i64::from(result.is_ok()));
            match result {
                Ok(()) => {
                    if std::mem::take(&mut failing) {
                        tracing::info!("replica leases are renewed again");
                    }
                }
                Err(LeaseError::Replaced(name)) => {
                    self.publish(Owned::default());
                    let why = format!("lost the replica name {name} to another process");
                    supervisor.fail(Task::ReplicaLeases, "replica_leases", &why);
                    crate::stopped(&mut stop).await;
                    return;
                }
                Err(error) => {
                    if !std::mem::replace(&mut failing, true) {
                        tracing::warn!(%error, "cannot renew the replica leases; polling stops when they run out, and resumes once the state database answers");
                    }
                    run.client = None;
                    self.publish(owned(&run.member, &[]));
                }
            }
        }
        self.leave(run).await;
    }

    /// A clean stop: nothing published, every lease handed back.
    async fn leave(&self, mut run: Run) {
        self.publish(Owned::default());
        if let Some(client) = run.client {
            let left = tokio::time::timeout(LEAVE_TIMEOUT, run.member.leave(&client)).await;
            if !matches!(left, Ok(Ok(()))) {
                tracing::warn!(
                    "could not hand the leases back at the stop; the others take them when they expire"
                );
            }
        }
    }

    /// The connection, made first if there is none (with the lease tables).
    async fn connected<'a>(
        &self,
        client: &'a mut Option<Client>,
    ) -> Result<&'a mut Client, LeaseError> {
        let bound = self.settings.round_every();
        let (db, new) = connection(&self.connector, client, bound).await?;
        if new {
            lease::ensure_schema(db).await?;
        }
        Ok(db)
    }

    /// One round, bounded by the round time: partitions gained are taken over, then what
    /// is held is published and a surplus handed back.
    async fn round(&self, run: &mut Run) -> Result<(), LeaseError> {
        let bound = self.settings.round_every();
        let db = self.connected(&mut run.client).await?;
        let round = tokio::time::timeout(bound, run.member.round(db))
            .await
            .map_err(|_| LeaseError::Timeout(bound))??;
        if !round.gained.is_empty() {
            // Not published before its intents are taken over: a finished one is not
            // polled again. A failure here leaves them unpublished until the next round.
            let read = written_by_others(db, self.name.as_str(), None);
            let (_, rows) = tokio::time::timeout(bound, read)
                .await
                .map_err(|_| LeaseError::Timeout(bound))??;
            let taken = self.take_over(rows);
            if taken > 0 {
                tracing::info!(taken, "took over intents other replicas moved on");
            }
        }
        self.publish(owned(&run.member, &round.surplus));
        if !round.gained.is_empty() || !round.lost.is_empty() {
            tracing::info!(
                gained = round.gained.len(),
                lost = round.lost.len(),
                live = round.live,
                "replica leases changed"
            );
        }
        if !round.surplus.is_empty() {
            run.member.release(&*db, &round.surplus).await?;
        }
        self.gauges.live.set(round.live as i64);
        Ok(())
    }

    /// Takes over what other replicas committed since the last look.
    async fn sync(&self, run: &mut Run) -> Result<(), LeaseError> {
        let since = run.synced.map(|t| {
            t.checked_sub(SYNC_OVERLAP)
                .unwrap_or(SystemTime::UNIX_EPOCH)
        });
        let db = self.connected(&mut run.client).await?;
        let read = written_by_others(db, self.name.as_str(), since);
        let (now, rows) = tokio::time::timeout(SYNC_EVERY, read)
            .await
            .map_err(|_| LeaseError::Timeout(SYNC_EVERY))??;
        // Every second, as other replicas commit: not worth a line each time.
        let taken = self.take_over(rows);
        tracing::debug!(taken, "took over what other replicas committed");
        run.synced = Some(now);
        Ok(())
    }

    /// Takes over, per store, what other replicas committed of these intents; how many
    /// changed here.
    fn take_over(&self, rows: Vec<(String, String, IntentState)>) -> usize {
        let mut by_store: HashMap<String, Vec<(IntentId, IntentState)>> = HashMap::new();
        for (store, id, intent) in rows {
            if let Some(id) = IntentId::parse(&id) {
                by_store.entry(store).or_default().push((id, intent));
            }
        }
        let now = self.state.clock().now();
        let mut taken = 0;
        for (store, intents) in by_store {
            let Some(handle) = self.state.store(&store) else {
                continue;
            };
            taken += handle
                .edit_watch_list(false, |st| {
                    intents
                        .iter()
                        .filter(|(id, theirs)| st.take_over(id, theirs, now))
                        .count()
                })
                .0;
        }
        taken
    }

    /// Publishes `owned` for the pollers; the gauge counts the leases whose deadline has
    /// not passed (0 once they ran out).
    fn publish(&self, owned: Owned) {
        let live = owned.until().is_some_and(|until| Instant::now() < until);
        self.gauges
            .held
            .set(if live { i64::from(owned.count()) } else { 0 });
        self.publish.send_if_modified(|now| {
            let changed = *now != owned;
            *now = owned;
            changed
        });
    }
}

/// `client` if it is open, else a new connection made within `bound` (and whether it is
/// new): the one way the lease task and the lookups connect.
async fn connection<'a>(
    connector: &Connector,
    client: &'a mut Option<Client>,
    bound: Duration,
) -> Result<(&'a mut Client, bool), LeaseError> {
    let (db, new) = match client.take().filter(|c| !c.is_closed()) {
        Some(open) => (open, false),
        None => {
            let connect = tokio::time::timeout(bound, connector.connect());
            (
                connect.await.map_err(|_| LeaseError::Timeout(bound))??,
                true,
            )
        }
    };
    Ok((client.insert(db), new))
}

/// What the pollers may work on: the partitions `member` holds, less `except` (a surplus
/// about to be handed back), until the earliest deadline among them.
fn owned(member: &Member, except: &[Partition]) -> Owned {
    let kept: Vec<_> = member
        .held_until()
        .filter(|(p, _)| !except.contains(p))
        .collect();
    match kept.iter().map(|(_, until)| *until).min() {
        Some(until) => Owned::new(kept.iter().map(|(p, _)| *p), until),
        None => Owned::default(),
    }
}

/// How long a webhook waits for the group's facts before it is taken on this replica's
/// own memory.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

/// The group's committed facts a handler needs at once (the once-a-second look is too
/// late for them), on a connection of its own.
pub struct Lookup {
    connector: Arc<Connector>,
    name: ReplicaName,
    client: tokio::sync::Mutex<Option<Client>>,
}

impl Lookup {
    pub fn new(leases: &Leases) -> Lookup {
        Lookup {
            connector: Arc::clone(&leases.connector),
            name: leases.name.clone(),
            client: tokio::sync::Mutex::new(None),
        }
    }

    /// Before a webhook is taken: what the group committed of its intent (a confirmation
    /// the holder saw by polling) and of its nonce and id (AllScale's retry of a webhook
    /// another replica answered), so that it is counted once in the group. Without an
    /// answer within [`LOOKUP_TIMEOUT`] the webhook is taken on this replica's memory (its
    /// answer then waits for the commit, which fails while the database is away).
    pub async fn before_webhook(&self, handle: &StoreHandle, event: &WebhookEvent, now: UnixTime) {
        let facts = tokio::time::timeout(LOOKUP_TIMEOUT, self.facts(&handle.name, event)).await;
        let (theirs, seen) = match facts {
            Ok(Ok(facts)) => facts,
            Ok(Err(error)) => {
                if let Some(count) = crate::log_limit::outside("webhook_lookup") {
                    tracing::warn!(%error, count, "cannot read the group's webhook facts; taken on this replica's memory");
                }
                *self.client.lock().await = None;
                return;
            }
            Err(_) => return,
        };
        let id = &event.intent.id;
        handle.edit_watch_list(false, |st| {
            if let Some(theirs) = &theirs {
                st.take_over(id, theirs, now);
            }
            st.seen_elsewhere(&seen);
        });
    }

    async fn facts(&self, store: &str, event: &WebhookEvent) -> Result<Facts, LeaseError> {
        let mut client = self.client.lock().await;
        let (db, _) = connection(&self.connector, &mut client, LOOKUP_TIMEOUT).await?;
        let (me, intent) = (self.name.as_str(), event.intent.id.as_str());
        Ok(webhook_facts(db, me, store, intent, &event.nonce, &event.webhook_id).await?)
    }
}

/// An intent's row another replica wrote last, and the nonces and ids the group saw.
type Facts = (Option<IntentState>, Vec<(SeenKind, String, UnixTime)>);
