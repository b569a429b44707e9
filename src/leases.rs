//! This replica's part of a group sharing one state database (issue #24): one supervised
//! task keeps its leases ([`crate::replica::lease`]) and publishes what it holds
//! ([`Owned`]) for the pollers, which poll only those intents.
//!
//! A round runs every third of the lease time. A surplus (another replica joined) is
//! withdrawn from the pollers first, then handed back; a lost lease is withdrawn at once.
//! While the database cannot be reached, nothing is renewed: the published deadline
//! passes and the pollers stop on their own, before another replica may take the
//! partitions. A stop hands every lease back, so a rolling restart moves the work at the
//! others' next round.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_postgres::Client;

use crate::metrics::ReplicaGauges;
use crate::replica::ReplicaName;
use crate::replica::lease::{self, LeaseError, LeaseSettings, Member, Partition, partition_of};
use crate::replica::owned::Owned;
use crate::state::pg::{Connector, written_by_others};
use crate::state::{IntentState, State};
use crate::supervise::{Supervisor, Task};

/// How long leaving the group at a stop may take before the leases are left to expire.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the lease task works with.
#[derive(Clone)]
pub struct Leases {
    pub connector: Arc<Connector>,
    pub name: ReplicaName,
    pub settings: LeaseSettings,
    pub publish: Arc<watch::Sender<Owned>>,
    pub gauges: ReplicaGauges,
    /// Where a gained partition's intents are taken over.
    pub state: Arc<State>,
}

impl Leases {
    /// Keeps the leases until `stop` flips, then leaves the group. A process that lost its
    /// name to another fails (the supervisor's reason says why) and holds nothing.
    pub async fn run(self, supervisor: Supervisor, mut stop: watch::Receiver<bool>) {
        let mut member = Member::new(self.name.clone(), self.settings);
        let mut client: Option<Client> = None;
        let mut ticks = tokio::time::interval(self.settings.round_every());
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                biased;
                _ = crate::stopped(&mut stop) => break,
                _ = ticks.tick() => {}
            }
            match self.round(&mut member, &mut client).await {
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
                    client = None;
                    self.publish(owned(&member, &[]));
                }
            }
        }
        self.publish(Owned::default());
        if let Some(client) = client {
            let left = tokio::time::timeout(LEAVE_TIMEOUT, member.leave(&client)).await;
            if !matches!(left, Ok(Ok(()))) {
                tracing::warn!(
                    "could not hand the leases back at the stop; the others take them when they expire"
                );
            }
        }
    }

    /// One round on a connection (made first if there is none), bounded by the round
    /// time; publishes what is held and hands a surplus back.
    async fn round(
        &self,
        member: &mut Member,
        client: &mut Option<Client>,
    ) -> Result<(), LeaseError> {
        let bound = self.settings.round_every();
        let timed_out = || LeaseError::Timeout(bound);
        if client.as_ref().is_none_or(Client::is_closed) {
            let connected = tokio::time::timeout(bound, self.connector.connect())
                .await
                .map_err(|_| timed_out())??;
            lease::ensure_schema(&connected).await?;
            *client = Some(connected);
        }
        let Some(db) = client.as_mut() else {
            return Ok(());
        };
        let round = tokio::time::timeout(bound, member.round(db))
            .await
            .map_err(|_| timed_out())??;
        if !round.gained.is_empty() {
            let gained: HashSet<Partition> = round.gained.iter().map(|(p, _)| *p).collect();
            // Not published before its intents are taken over: a finished one is not
            // polled again. A failure here leaves them unpublished until the next round.
            let rows = tokio::time::timeout(bound, written_by_others(db, self.name.as_str()))
                .await
                .map_err(|_| timed_out())??;
            self.take_over(rows, &gained);
        }
        self.publish(owned(member, &round.surplus));
        if !round.gained.is_empty() || !round.lost.is_empty() {
            tracing::info!(
                gained = round.gained.len(),
                lost = round.lost.len(),
                live = round.live,
                "replica leases changed"
            );
        }
        if !round.surplus.is_empty() {
            member.release(&*db, &round.surplus).await?;
        }
        self.gauges.live.set(round.live as i64);
        Ok(())
    }

    /// Takes over, per store, the rows of intents in `gained` partitions that another
    /// replica wrote last.
    fn take_over(&self, rows: Vec<(String, String, IntentState)>, gained: &HashSet<Partition>) {
        let mut by_store: HashMap<String, Vec<(String, IntentState)>> = HashMap::new();
        for (store, id, intent) in rows {
            if gained.contains(&partition_of(&id)) {
                by_store.entry(store).or_default().push((id, intent));
            }
        }
        for (store, intents) in by_store {
            let Some(handle) = self.state.store(&store) else {
                continue;
            };
            let (taken, _) = handle.edit_watch_list(false, |st| {
                intents
                    .into_iter()
                    .filter(|(id, theirs)| st.adopt(id, theirs))
                    .count()
            });
            if taken > 0 {
                tracing::info!(store = %store, taken, "took over intents another replica had moved on");
            }
        }
    }

    fn publish(&self, owned: Owned) {
        self.gauges.held.set(i64::from(owned.count()));
        self.publish.send_if_modified(|now| {
            let changed = *now != owned;
            *now = owned;
            changed
        });
    }
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
