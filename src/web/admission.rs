//! Who holds the server's connection slots. At the cap a newcomer is not refused (that let
//! one client that holds every slot keep scrapers and probes out for as long as it liked):
//! it takes the slot of a connection of the client (IP address) that holds most, and
//! only when every held connection is in the middle of a request is the newcomer
//! refused. Of that client's connections the one worth least goes: one that has not
//! completed a request head yet, oldest first (a silent or slow-header client), then one
//! idle between requests, idle longest first. A request in progress is never cut here;
//! its head and body have deadlines of their own.
//!
//! A per-peer cap (one IP address) keeps one client from holding most of the slots at
//! all: past it, the peer's own least-worth connection makes room, or the newcomer is
//! refused.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

use crate::lock;

/// Why a connection was closed to make room, or a newcomer refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Displaced {
    /// The server was full: the least-worth connection made room.
    Evicted,
    /// The newcomer's peer was at its cap: the peer's own least-worth connection made room.
    PeerEvicted,
    /// Every candidate was mid-request: the newcomer was closed.
    Refused,
}

impl Displaced {
    pub fn as_str(self) -> &'static str {
        match self {
            Displaced::Evicted => "evicted",
            Displaced::PeerEvicted => "peer_evicted",
            Displaced::Refused => "refused",
        }
    }
}

/// What a connection has done, as its requests begin and end.
#[derive(Debug)]
pub struct Activity {
    epoch: Instant,
    in_flight: AtomicUsize,
    /// Requests whose head arrived.
    begun: AtomicU64,
    /// When the last request ended, as nanoseconds since `epoch`.
    last_end: AtomicU64,
}

impl Activity {
    fn new(epoch: Instant) -> Self {
        Self {
            epoch,
            in_flight: AtomicUsize::new(0),
            begun: AtomicU64::new(0),
            last_end: AtomicU64::new(0),
        }
    }

    /// A request's head arrived; the request is in progress until the guard is dropped.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.begun.fetch_add(1, Ordering::SeqCst);
        InFlight(Arc::clone(self))
    }

    /// Sort key, least worth first: `None` while a request is in progress.
    fn worth(&self, accepted: Instant) -> Option<(bool, u64)> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        if self.begun.load(Ordering::SeqCst) == 0 {
            let since = accepted.saturating_duration_since(self.epoch);
            return Some((false, since.as_nanos() as u64));
        }
        Some((true, self.last_end.load(Ordering::SeqCst)))
    }
}

/// A request in progress; ends when dropped (also when its future is cancelled).
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let since = self.0.epoch.elapsed().as_nanos() as u64;
        self.0.last_end.store(since, Ordering::SeqCst);
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The notice that closes an evicted connection.
#[derive(Debug, Default)]
pub struct Eviction {
    fired: AtomicBool,
    notify: Notify,
}

impl Eviction {
    fn fire(&self) {
        self.fired.store(true, Ordering::SeqCst);
        self.notify.notify_one();
    }

    /// Resolves once the connection is evicted (at once if it already was).
    pub async fn fired(&self) {
        self.notify.notified().await;
    }

    pub fn has_fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}

struct Held {
    peer: IpAddr,
    accepted: Instant,
    activity: Arc<Activity>,
    eviction: Arc<Eviction>,
}

#[derive(Default)]
struct Table {
    next: u64,
    held: HashMap<u64, Held>,
    per_peer: HashMap<IpAddr, usize>,
}

impl Table {
    /// The connection to close, among those of `peer` when given: of the peer holding
    /// most, the least-worth one. A client holding one connection (a scraper, a probe)
    /// is never the one to make room for a client holding many.
    fn least_worth(&self, peer: Option<IpAddr>) -> Option<u64> {
        self.held
            .iter()
            .filter(|(_, h)| peer.is_none_or(|p| p == h.peer))
            .filter_map(|(id, h)| {
                let holds = self.per_peer.get(&h.peer).copied().unwrap_or(0);
                Some((Reverse(holds), h.activity.worth(h.accepted)?, *id))
            })
            .min()
            .map(|(_, _, id)| id)
    }

    fn remove(&mut self, id: u64) -> Option<Held> {
        let held = self.held.remove(&id)?;
        if let Some(n) = self.per_peer.get_mut(&held.peer) {
            *n -= 1;
            if *n == 0 {
                self.per_peer.remove(&held.peer);
            }
        }
        Some(held)
    }

    /// Closes `victim` (its task sees the notice and drops the connection).
    fn evict(&mut self, victim: Option<u64>) -> bool {
        match victim.and_then(|id| self.remove(id)) {
            Some(held) => {
                held.eviction.fire();
                true
            }
            None => false,
        }
    }
}

/// The connection slots; see the module docs.
pub struct Admission {
    epoch: Instant,
    max: usize,
    /// 0: no per-peer cap.
    per_peer: usize,
    table: Mutex<Table>,
}

/// A held slot: its connection watches `eviction`, its requests report to `activity`;
/// dropping it frees the slot.
pub struct Slot {
    id: u64,
    admission: Arc<Admission>,
    pub activity: Arc<Activity>,
    pub eviction: Arc<Eviction>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        lock(&self.admission.table).remove(self.id);
    }
}

impl Admission {
    pub fn new(max: usize, per_peer: usize) -> Arc<Self> {
        Arc::new(Self {
            epoch: Instant::now(),
            max: max.max(1),
            per_peer,
            table: Mutex::new(Table::default()),
        })
    }

    /// A slot for a connection from `peer`, with what was displaced to make room; `Err`
    /// when the newcomer itself is refused.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<(Slot, Option<Displaced>), Displaced> {
        let mut table = lock(&self.table);
        let mut displaced = None;
        let held_by_peer = table.per_peer.get(&peer).copied().unwrap_or(0);
        if self.per_peer > 0 && held_by_peer >= self.per_peer {
            let victim = table.least_worth(Some(peer));
            if !table.evict(victim) {
                return Err(Displaced::Refused);
            }
            displaced = Some(Displaced::PeerEvicted);
        }
        if table.held.len() >= self.max {
            let victim = table.least_worth(None);
            if !table.evict(victim) {
                return Err(Displaced::Refused);
            }
            displaced = Some(Displaced::Evicted);
        }
        let id = table.next;
        table.next += 1;
        let activity = Arc::new(Activity::new(self.epoch));
        let eviction = Arc::new(Eviction::default());
        let held = Held {
            peer,
            accepted: Instant::now(),
            activity: Arc::clone(&activity),
            eviction: Arc::clone(&eviction),
        };
        table.held.insert(id, held);
        *table.per_peer.entry(peer).or_default() += 1;
        let slot = Slot {
            id,
            admission: Arc::clone(self),
            activity,
            eviction,
        };
        Ok((slot, displaced))
    }

    /// Connections held now.
    pub fn held(&self) -> usize {
        lock(&self.table).held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
    }

    fn was_evicted(slot: &Slot) -> bool {
        slot.eviction.has_fired()
    }

    #[test]
    fn at_the_cap_the_oldest_connection_without_a_request_makes_room() {
        let admission = Admission::new(3, 0);
        let (served, _) = admission.admit(ip(1)).unwrap();
        drop(served.activity.begin());
        let (silent_old, _) = admission.admit(ip(2)).unwrap();
        let (silent_new, _) = admission.admit(ip(2)).unwrap();
        let (newcomer, displaced) = admission.admit(ip(3)).unwrap();
        assert_eq!(displaced, Some(Displaced::Evicted));
        assert!(was_evicted(&silent_old));
        assert!(!was_evicted(&silent_new) && !was_evicted(&served));
        assert!(!was_evicted(&newcomer));
        assert_eq!(admission.held(), 3);
    }

    #[test]
    fn without_silent_connections_the_one_idle_longest_makes_room_and_busy_ones_never() {
        let admission = Admission::new(3, 0);
        let slots: Vec<_> = (0..3).map(|i| admission.admit(ip(i)).unwrap().0).collect();
        drop(slots[1].activity.begin());
        std::thread::sleep(std::time::Duration::from_millis(2));
        drop(slots[0].activity.begin());
        let _busy = slots[2].activity.begin();
        let (_, displaced) = admission.admit(ip(9)).unwrap();
        assert_eq!(displaced, Some(Displaced::Evicted));
        assert!(was_evicted(&slots[1]), "idle longest");
        assert!(!was_evicted(&slots[0]) && !was_evicted(&slots[2]));
    }

    #[test]
    fn the_client_holding_most_makes_room_not_a_lone_scraper() {
        let admission = Admission::new(4, 0);
        let (scraper, _) = admission.admit(ip(1)).unwrap();
        let flood: Vec<_> = (0..3).map(|_| admission.admit(ip(2)).unwrap().0).collect();
        let (_, displaced) = admission.admit(ip(3)).unwrap();
        assert_eq!(displaced, Some(Displaced::Evicted));
        assert!(
            !was_evicted(&scraper),
            "the oldest, but its client holds one"
        );
        assert!(was_evicted(&flood[0]));
    }

    #[test]
    fn a_newcomer_is_refused_only_when_every_connection_is_mid_request() {
        let admission = Admission::new(2, 0);
        let slots: Vec<_> = (0..2).map(|i| admission.admit(ip(i)).unwrap().0).collect();
        let _busy: Vec<_> = slots.iter().map(|s| s.activity.begin()).collect();
        assert!(matches!(admission.admit(ip(5)), Err(Displaced::Refused)));
        drop(_busy);
        assert!(admission.admit(ip(5)).is_ok());
    }

    #[test]
    fn a_peer_at_its_cap_makes_room_from_its_own_connections() {
        let admission = Admission::new(10, 2);
        let (other, _) = admission.admit(ip(1)).unwrap();
        let (first, _) = admission.admit(ip(2)).unwrap();
        let (second, _) = admission.admit(ip(2)).unwrap();
        let (third, displaced) = admission.admit(ip(2)).unwrap();
        assert_eq!(displaced, Some(Displaced::PeerEvicted));
        assert!(was_evicted(&first));
        assert!(!was_evicted(&other) && !was_evicted(&second) && !was_evicted(&third));
        let _busy = (second.activity.begin(), third.activity.begin());
        assert!(matches!(admission.admit(ip(2)), Err(Displaced::Refused)));
        assert!(admission.admit(ip(3)).is_ok(), "other peers still get in");
    }

    #[test]
    fn a_dropped_slot_frees_its_place() {
        let admission = Admission::new(1, 1);
        let (slot, _) = admission.admit(ip(1)).unwrap();
        let _busy = slot.activity.begin();
        drop(slot);
        assert_eq!(admission.held(), 0);
        let (_, displaced) = admission.admit(ip(1)).unwrap();
        assert_eq!(displaced, None);
    }
}
