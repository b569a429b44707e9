//! Verified AllScale webhooks in the state: a confirmation counted once with polling
//! (whichever sees it first counts it), the nonces and webhook ids already seen (kept
//! across restarts, so a replay right after one is still refused), the relay queue, and
//! the confirmations polling saw that no webhook followed.
//!
//! The receiver checks signatures and hands over a [`WebhookEvent`]; everything here
//! happens under the store's lock and is committed by the writer before the webhook is
//! answered.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use super::intents::Save;
use super::{Confirmation, IntentState, Source, StoreState};
use crate::api::{Outcome, Status, StatusClass};
use crate::clock::UnixTime;
use crate::config::{Config, IntentConfig, IntentId, StoreConfig};

/// Who saw an intent's confirmation first: the `source` label of
/// `allscale_checkout_intent_confirmations_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConfirmedBy {
    Webhook,
    Poll,
}

impl ConfirmedBy {
    pub const ALL: [ConfirmedBy; 2] = [ConfirmedBy::Webhook, ConfirmedBy::Poll];

    pub fn as_str(self) -> &'static str {
        match self {
            ConfirmedBy::Webhook => "webhook",
            ConfirmedBy::Poll => "poll",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

/// A store's webhook counters (write-ahead, like the outcomes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookCounts {
    pub confirmed_by_webhook: u64,
    pub confirmed_by_poll: u64,
    /// Confirmations polling saw with no webhook within the grace.
    pub missing: u64,
    /// Webhook confirmations the following status poll did not agree with.
    pub disagreements: u64,
}

/// The request as AllScale sent it, relayed unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardRequest {
    /// Path and query, as received.
    pub path_and_query: String,
    /// The headers to relay (`Content-Type`, `X-API-Key`, `X-Webhook-*`), as received.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

/// A verified webhook, as the receiver hands it over.
#[derive(Debug, Clone)]
pub struct WebhookEvent {
    pub webhook_id: String,
    pub nonce: String,
    pub intent: IntentConfig,
    /// Set when the store relays its webhooks (`forward_url`).
    pub forward: Option<ForwardRequest>,
    /// This replica owns the intent (`--shard`): only then is the confirmation recorded.
    pub owned: bool,
}

/// What a webhook did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// The intent's confirmation was counted now.
    Confirmed,
    /// Already confirmed (or final otherwise): nothing counted again.
    AlreadyFinal,
    /// Another replica's intent: only relayed.
    NotOwned,
    /// A webhook id already seen (AllScale's retry): answered, neither counted nor relayed.
    Duplicate,
}

/// Why a verified webhook was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    ReplayedNonce,
    /// The relay queue is at its limit: AllScale should retry later.
    QueueFull,
}

/// An event waiting in the relay queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    pub seq: u64,
    pub webhook_id: String,
    pub intent_id: IntentId,
    pub received_at: UnixTime,
    pub request: ForwardRequest,
    /// Committed to the database: only then may it be relayed.
    pub durable: bool,
}

/// A store's webhook memory.
#[derive(Debug, Default)]
pub struct Webhooks {
    /// Nonces and webhook ids seen, with when; oldest first in the queues.
    nonces: Seen,
    ids: Seen,
    queue: VecDeque<Queued>,
    next_seq: u64,
    /// Changes the database has not got yet.
    pending: Vec<WebhookWrite>,
    /// As the receiver last said (the writer forgets old nonces and ids by it).
    memory: Memory,
    /// The webhook id of each confirmation a poll has yet to check.
    confirmed: HashMap<IntentId, String>,
    /// Confirmations polling saw first, oldest first, whose webhook is awaited
    /// (`webhook.expected`): popped once their grace passed.
    awaiting: VecDeque<(UnixTime, IntentId)>,
}

/// Which memory a seen value is in: a request's nonce, or a webhook's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeenKind {
    Nonce,
    Id,
}

/// A change to the webhook tables.
#[derive(Debug, Clone, PartialEq)]
pub enum WebhookWrite {
    Nonce(String, UnixTime),
    Id(String, UnixTime),
    Queued(Queued),
    Delivered(u64),
}

/// Values seen, remembered for a while, oldest first.
#[derive(Debug, Default)]
struct Seen {
    at: HashMap<String, UnixTime>,
    order: VecDeque<(UnixTime, String)>,
}

impl Seen {
    fn contains(&self, value: &str) -> bool {
        self.at.contains_key(value)
    }

    fn insert(&mut self, value: String, at: UnixTime) {
        self.order.push_back((at, value.clone()));
        self.at.insert(value, at);
    }

    /// Forgets what was seen before `horizon`.
    fn forget_before(&mut self, horizon: UnixTime) {
        while let Some((at, _)) = self.order.front() {
            if *at >= horizon {
                break;
            }
            if let Some((at, value)) = self.order.pop_front()
                && self.at.get(&value) == Some(&at)
            {
                self.at.remove(&value);
            }
        }
    }
}

/// How long nonces and webhook ids are remembered, and the relay queue's limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Memory {
    pub nonce_ttl: Duration,
    pub id_ttl: Duration,
    pub queue_limit: usize,
    /// The store relays its webhooks (`forward_url`).
    pub forwarding: bool,
    /// AllScale sends the store webhooks (`webhook.expected`): a poll confirmation awaits one.
    pub expect_webhooks: bool,
}

/// AllScale's suggested nonce TTL.
const MIN_NONCE_TTL: Duration = Duration::from_secs(600);

impl Memory {
    /// From the config: nonces for twice `max_skew` (at least AllScale's 600 s), ids for
    /// `terminal_retention`.
    pub fn of(config: &Config, store: &StoreConfig) -> Self {
        Self {
            nonce_ttl: config.webhook.max_skew.saturating_mul(2).max(MIN_NONCE_TTL),
            id_ttl: config.terminal_retention,
            queue_limit: config.webhook.forward_queue_limit,
            forwarding: store.webhook.forward_url.is_some(),
            expect_webhooks: store.webhook.expected,
        }
    }
}

impl Default for Memory {
    /// AllScale's suggested nonce TTL (600 s), ids for a day, 10,000 queued events.
    fn default() -> Self {
        Self {
            nonce_ttl: MIN_NONCE_TTL,
            id_ttl: Duration::from_secs(86_400),
            queue_limit: 10_000,
            forwarding: false,
            expect_webhooks: false,
        }
    }
}

impl Webhooks {
    /// Restores what the database held.
    pub(super) fn restore(
        &mut self,
        nonces: Vec<(String, UnixTime)>,
        ids: Vec<(String, UnixTime)>,
        queue: Vec<Queued>,
    ) {
        for (nonce, at) in nonces {
            self.nonces.insert(nonce, at);
        }
        for (id, at) in ids {
            self.ids.insert(id, at);
        }
        self.next_seq = queue.iter().map(|q| q.seq + 1).max().unwrap_or(0);
        self.queue = queue.into();
    }

    /// Nonces and webhook ids another replica saw (`nonce` or `id` each), remembered as
    /// seen here too: AllScale's retry landing here is then a duplicate.
    pub(super) fn seen_elsewhere(&mut self, seen: &[(SeenKind, String, UnixTime)]) {
        for (kind, value, at) in seen {
            let memory = match kind {
                SeenKind::Nonce => &mut self.nonces,
                SeenKind::Id => &mut self.ids,
            };
            if !memory.contains(value) {
                memory.insert(value.clone(), *at);
            }
        }
    }

    /// Takes the store's settings; without `webhook.expected` nothing awaits a webhook.
    fn set_memory(&mut self, memory: Memory) {
        if !memory.expect_webhooks {
            self.awaiting.clear();
        }
        self.memory = memory;
    }

    pub fn memory(&self) -> Memory {
        self.memory
    }

    /// Events in the relay queue.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// The oldest durable event in the relay queue.
    pub fn next_to_forward(&self) -> Option<&Queued> {
        self.queue.front().filter(|q| q.durable)
    }

    /// The event `seq` was relayed: it leaves the queue (and the database).
    fn delivered(&mut self, seq: u64) {
        if self.queue.front().is_some_and(|q| q.seq == seq) {
            self.queue.pop_front();
            self.pending.push(WebhookWrite::Delivered(seq));
        }
    }

    /// Marks the events the database now holds as durable.
    pub(super) fn committed(&mut self, seqs: &[u64]) {
        for q in self.queue.iter_mut().filter(|q| seqs.contains(&q.seq)) {
            q.durable = true;
        }
    }

    /// Takes the changes the database has not got yet.
    pub(super) fn take_pending(&mut self) -> Vec<WebhookWrite> {
        std::mem::take(&mut self.pending)
    }

    /// Puts back changes a commit failed to write, in front of the later ones.
    pub(super) fn put_back(&mut self, writes: Vec<WebhookWrite>) {
        let later = std::mem::replace(&mut self.pending, writes);
        self.pending.extend(later);
    }

    /// Notes a confirmation polling saw first, to look for its webhook once the grace
    /// passed.
    pub(super) fn await_webhook(&mut self, id: &str, at: UnixTime) {
        if let Some(id) = IntentId::parse(id) {
            self.awaiting.push_back((at, id));
        }
    }

    /// Takes a verified webhook's nonce and id: refuses a replayed nonce (and, when the
    /// relay queue is full, the whole event); remembers them and queues the event for
    /// the relay. `Ok(true)`: a webhook id already seen.
    fn remember(
        &mut self,
        event: &mut WebhookEvent,
        memory: Memory,
        now: UnixTime,
    ) -> Result<bool, Refused> {
        self.set_memory(memory);
        self.nonces.forget_before(now.before(memory.nonce_ttl));
        self.ids.forget_before(now.before(memory.id_ttl));
        if self.nonces.contains(&event.nonce) {
            return Err(Refused::ReplayedNonce);
        }
        let duplicate = self.ids.contains(&event.webhook_id);
        if !duplicate && event.forward.is_some() && self.queue.len() >= memory.queue_limit {
            return Err(Refused::QueueFull);
        }
        self.nonces.insert(event.nonce.clone(), now);
        self.pending
            .push(WebhookWrite::Nonce(std::mem::take(&mut event.nonce), now));
        if duplicate {
            return Ok(true);
        }
        self.ids.insert(event.webhook_id.clone(), now);
        self.pending
            .push(WebhookWrite::Id(event.webhook_id.clone(), now));
        if let Some(request) = event.forward.take() {
            let queued = Queued {
                seq: self.next_seq,
                webhook_id: event.webhook_id.clone(),
                intent_id: event.intent.id.clone(),
                received_at: now,
                request,
                durable: false,
            };
            self.next_seq += 1;
            self.pending.push(WebhookWrite::Queued(queued.clone()));
            self.queue.push_back(queued);
        }
        Ok(false)
    }
}

impl StoreState {
    /// Takes a verified webhook: refuses a replayed nonce (and, when the relay queue is
    /// full, the whole event); remembers its nonce and id; queues it for the relay; and,
    /// for an intent this replica owns, counts its confirmation unless it was final
    /// already, watching it (source `webhook`) if no source did. A webhook-confirmed
    /// intent is polled once more, to check the claim.
    /// Nonces and webhook ids another replica committed (see [`Webhooks::seen_elsewhere`]).
    pub fn seen_elsewhere(&mut self, seen: &[(SeenKind, String, UnixTime)]) {
        self.webhooks.seen_elsewhere(seen);
    }

    pub fn accept_webhook(
        &mut self,
        mut event: WebhookEvent,
        memory: Memory,
        now: UnixTime,
    ) -> Result<Accepted, Refused> {
        if self.webhooks.remember(&mut event, memory, now)? {
            return Ok(Accepted::Duplicate);
        }
        if !event.owned {
            return Ok(Accepted::NotOwned);
        }
        Ok(self.confirm_by_webhook(&event.intent, &event.webhook_id, now))
    }

    /// The store's webhook settings (from the config).
    pub(super) fn set_webhook_memory(&mut self, memory: Memory) {
        self.webhooks.set_memory(memory);
    }

    /// The relay delivered event `seq`: it leaves the queue (and the database).
    pub fn delivered(&mut self, seq: u64) {
        self.webhooks.delivered(seq);
    }

    fn confirm_by_webhook(
        &mut self,
        intent: &IntentConfig,
        webhook_id: &str,
        now: UnixTime,
    ) -> Accepted {
        if self.intents.get(intent.id.as_str()).is_none() {
            let order_id = intent.order_id.as_deref();
            self.intents
                .watch(&intent.id, Source::Webhook, order_id, now);
        }
        let confirmed = self.intents.update(intent.id.as_str(), |state| {
            state.note_webhook(now);
            if state.is_final() {
                return (None, Save::Row);
            }
            let before = state.class();
            state.confirm_by_webhook(now);
            (Some(before), Save::Row)
        });
        let Some(Some(before)) = confirmed else {
            return Accepted::AlreadyFinal;
        };
        // The outcome's time is the verified webhook's, which came first.
        let outcome_at = self
            .intents
            .get(intent.id.as_str())
            .and_then(IntentState::webhook_at)
            .unwrap_or(now);
        let counts = self.counters.live_mut();
        if let Some(from) = before {
            counts.transition(from, StatusClass::Confirmed);
        }
        counts.outcome(Outcome::Confirmed, intent.id.created_at(), outcome_at);
        counts.webhooks.confirmed_by_webhook += 1;
        self.intents.touch(&intent.id);
        self.webhooks
            .confirmed
            .insert(intent.id.clone(), webhook_id.to_owned());
        self.want_detail(intent.id.as_str());
        self.remember_outcome(intent.id.as_str(), Outcome::Confirmed, now);
        Accepted::Confirmed
    }

    /// The id of the webhook whose confirmation of `intent` its poll disagreed with, for
    /// the log (known in this process only).
    pub fn webhook_id_of(&mut self, intent: &str) -> Option<String> {
        self.webhooks.confirmed.remove(intent)
    }

    /// After a restore: the confirmations polling saw that still wait for their webhook.
    pub(super) fn await_restored_webhooks(&mut self) {
        if !self.webhooks.memory.expect_webhooks {
            return;
        }
        let mut waiting: Vec<(UnixTime, IntentId)> = self
            .intents
            .iter()
            .filter(|(_, i)| awaits_webhook(i))
            .filter_map(|(id, i)| Some((i.terminal_at()?, id.clone())))
            .collect();
        waiting.sort();
        for (at, id) in waiting {
            self.webhooks.awaiting.push_back((at, id));
        }
    }

    /// Counts, once each, the intents polling saw CONFIRMED `grace` or longer ago with no
    /// webhook since (`webhook.expected`); returns how many it counted now. Looks only at
    /// the confirmations whose grace just ended, oldest first, not the whole watch list.
    pub fn count_missing_webhooks(&mut self, grace: Duration, now: UnixTime) -> u64 {
        let mut counted = 0;
        while let Some((at, _)) = self.webhooks.awaiting.front() {
            if now.since(*at) < grace {
                break;
            }
            let Some((_, id)) = self.webhooks.awaiting.pop_front() else {
                break;
            };
            let missing = self.intents.update(id.as_str(), |intent| {
                if !awaits_webhook(intent) {
                    return (false, Save::Skip);
                }
                if let Some(t) = intent.terminal_mut() {
                    t.confirmation = Confirmation::Poll {
                        webhook_missing_at: Some(now),
                    };
                }
                (true, Save::Row)
            });
            counted += u64::from(missing == Some(true));
        }
        self.counters.live_mut().webhooks.missing += counted;
        counted
    }

    /// Whether an answer to a request sent at `sent_at` is older than the webhook that
    /// confirmed the intent: such an answer cannot check that confirmation.
    pub fn predates_webhook(&self, id: &str, sent_at: UnixTime) -> bool {
        self.intents
            .get(id)
            .filter(|i| i.verify_pending())
            .and_then(IntentState::webhook_at)
            .is_some_and(|webhook_at| sent_at < webhook_at)
    }

    /// The status poll after a webhook confirmation answered: counts a disagreement
    /// (anything but CONFIRMED); returns whether there was one.
    pub(super) fn verify_webhook(&mut self, id: &str, status: Option<Status>) -> bool {
        let checked = self.intents.update(id, |intent| {
            let Some(t) = intent.terminal_mut() else {
                return (false, Save::Skip);
            };
            if t.confirmation
                != (Confirmation::Webhook {
                    verify_pending: true,
                })
            {
                return (false, Save::Skip);
            }
            t.confirmation = Confirmation::Webhook {
                verify_pending: false,
            };
            (true, Save::Row)
        });
        if checked != Some(true) {
            return false;
        }
        let disagrees = status != Some(Status::Confirmed);
        if disagrees {
            self.counters.live_mut().webhooks.disagreements += 1;
        } else {
            self.webhooks.confirmed.remove(id);
        }
        disagrees
    }
}

/// Confirmed by a poll with no webhook seen, and not counted missing yet.
fn awaits_webhook(intent: &IntentState) -> bool {
    intent.webhook_at().is_none()
        && intent.terminal().is_some_and(|t| {
            t.confirmation
                == Confirmation::Poll {
                    webhook_missing_at: None,
                }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::{A, B, HOUR, at, intents};

    fn event(id: &str, webhook_id: &str, nonce: &str, forward: bool) -> WebhookEvent {
        WebhookEvent {
            webhook_id: webhook_id.into(),
            nonce: nonce.into(),
            intent: IntentConfig {
                id: IntentId::parse(id).unwrap(),
                order_id: None,
            },
            forward: forward.then(|| ForwardRequest {
                path_and_query: "/webhooks/allscale".into(),
                headers: vec![],
                body: b"{}".to_vec(),
            }),
            owned: true,
        }
    }

    fn store() -> StoreState {
        let mut s = StoreState::default();
        s.set_source(Source::Config, &intents(&[A]), HOUR, at(0.0));
        s
    }

    const M: Memory = Memory {
        nonce_ttl: Duration::from_secs(600),
        id_ttl: Duration::from_secs(3600),
        queue_limit: 2,
        forwarding: true,
        expect_webhooks: true,
    };

    #[test]
    fn a_webhook_confirms_once_and_the_poll_after_it_counts_nothing_again() {
        let mut s = store();
        s.observe_status(A, Status::OnChain, at(1.0));
        assert_eq!(
            s.accept_webhook(event(A, "w1", "n1", false), M, at(2.0)),
            Ok(Accepted::Confirmed)
        );
        assert_eq!(s.counters.live().terminal_total[&Outcome::Confirmed], 1);
        assert_eq!(s.counters.live().webhooks.confirmed_by_webhook, 1);
        assert_eq!(
            s.counters.live().transitions[&(StatusClass::OnChain, StatusClass::Confirmed)],
            1
        );
        let counts = s.intents.board().counts();
        assert_eq!(
            (
                counts[StatusClass::Confirmed as usize],
                counts[StatusClass::OnChain as usize]
            ),
            (1, 0),
            "the landing page's board follows the webhook"
        );
        assert_eq!(
            s.intents.board().longest_waiting(5).count(),
            0,
            "confirmed: not waiting"
        );
        assert_eq!(
            s.pollable().collect::<Vec<_>>(),
            [A],
            "polled once to check"
        );
        let c = s.observe_status(A, Status::Confirmed, at(3.0));
        assert!(!c.webhook_disagreement && c.newly_terminal.is_none());
        assert_eq!(s.pollable().count(), 0);
        assert_eq!(s.counters.live().terminal_total[&Outcome::Confirmed], 1);
        assert_eq!(s.counters.live().webhooks.confirmed_by_poll, 0);
        // AllScale's retry of the same webhook (new nonce): answered, not counted.
        assert_eq!(
            s.accept_webhook(event(A, "w1", "n2", false), M, at(4.0)),
            Ok(Accepted::Duplicate)
        );
        assert_eq!(s.counters.live().terminal_total[&Outcome::Confirmed], 1);
    }

    /// The time to outcome runs to the webhook that came first, not to the poll that
    /// checked it later; observed once.
    #[test]
    fn the_time_to_outcome_ends_at_the_webhook_that_came_first() {
        // Created 100 s before `at(0.0)`.
        const C: &str = "6553f09c9999999999999999";
        let mut s = StoreState::default();
        s.set_source(Source::Config, &intents(&[C]), HOUR, at(0.0));
        s.observe_status(C, Status::OnChain, at(1.0));
        let accepted = s.accept_webhook(event(C, "w1", "n1", false), M, at(2.5));
        assert_eq!(accepted, Ok(Accepted::Confirmed));
        s.observe_status(C, Status::Confirmed, at(3000.0));
        let h = &s.counters.live().time_to_outcome.observed[&Outcome::Confirmed];
        assert_eq!((h.count, h.sum_ms), (1, 102_500));
        assert_eq!(h.buckets[..3], [0, 0, 1], "in le=120, not le=60");
    }

    #[test]
    fn a_poll_first_then_the_webhook_counts_once_under_poll() {
        let mut s = store();
        s.webhooks.set_memory(M);
        s.observe_status(A, Status::Confirmed, at(1.0));
        assert_eq!(
            s.accept_webhook(event(A, "w1", "n1", false), M, at(2.0)),
            Ok(Accepted::AlreadyFinal)
        );
        assert_eq!(s.counters.live().terminal_total[&Outcome::Confirmed], 1);
        assert_eq!(s.counters.live().webhooks.confirmed_by_poll, 1);
        assert_eq!(s.counters.live().webhooks.confirmed_by_webhook, 0);
        assert_eq!(s.intent(A).unwrap().webhook_at(), Some(at(2.0)));
        assert_eq!(
            s.count_missing_webhooks(Duration::from_secs_f64(0.0), at(100.0)),
            0,
            "the webhook came"
        );
    }

    #[test]
    fn replays_and_a_full_queue_are_refused_and_change_nothing() {
        let mut s = store();
        assert_eq!(
            s.accept_webhook(event(A, "w1", "n1", true), M, at(1.0)),
            Ok(Accepted::Confirmed)
        );
        assert_eq!(
            s.accept_webhook(event(B, "w2", "n1", true), M, at(2.0)),
            Err(Refused::ReplayedNonce)
        );
        assert!(s.intent(B).is_none());
        assert_eq!(
            s.accept_webhook(event(B, "w2", "n2", true), M, at(2.0)),
            Ok(Accepted::Confirmed)
        );
        assert_eq!(
            s.intent(B).unwrap().sources.names(),
            "webhook",
            "added by the webhook"
        );
        let c = "cccccccccccccccccccccccc";
        assert_eq!(
            s.accept_webhook(event(c, "w3", "n3", true), M, at(3.0)),
            Err(Refused::QueueFull)
        );
        assert!(s.intent(c).is_none());
        assert_eq!(s.webhooks.queue.len(), 2);
        // The nonce is forgotten after its TTL: the same nonce later is a new webhook.
        s.webhooks.delivered(0);
        assert_eq!(
            s.accept_webhook(event(c, "w3", "n1", true), M, at(700.0)),
            Ok(Accepted::Confirmed)
        );
    }

    #[test]
    fn another_replica_s_intent_is_relayed_not_recorded() {
        let mut s = store();
        let mut e = event(B, "w1", "n1", true);
        e.owned = false;
        assert_eq!(s.accept_webhook(e, M, at(1.0)), Ok(Accepted::NotOwned));
        assert!(s.intent(B).is_none());
        assert_eq!(s.webhooks.queue.len(), 1);
        assert!(s.webhooks.next_to_forward().is_none(), "not durable yet");
        s.webhooks.committed(&[0]);
        assert_eq!(s.webhooks.next_to_forward().map(|q| q.seq), Some(0));
    }

    #[test]
    fn a_poll_that_disagrees_is_counted_and_the_confirmation_stays() {
        let mut s = store();
        s.accept_webhook(event(A, "w1", "n1", false), M, at(1.0))
            .unwrap();
        let c = s.observe_status(A, Status::OnChain, at(2.0));
        assert!(c.webhook_disagreement);
        assert_eq!(s.counters.live().webhooks.disagreements, 1);
        assert_eq!(s.intent(A).unwrap().status(), Some(Status::Confirmed));
        assert_eq!(s.webhook_id_of(A).as_deref(), Some("w1"));
        assert_eq!(s.pollable().count(), 0);
    }

    #[test]
    fn a_poll_confirmation_without_a_webhook_is_missing_after_the_grace_once() {
        let mut s = store();
        s.webhooks.set_memory(M);
        s.observe_status(A, Status::Confirmed, at(100.0));
        assert_eq!(
            s.count_missing_webhooks(Duration::from_secs_f64(600.0), at(699.0)),
            0
        );
        assert_eq!(
            s.count_missing_webhooks(Duration::from_secs_f64(600.0), at(700.0)),
            1
        );
        assert_eq!(
            s.count_missing_webhooks(Duration::from_secs_f64(600.0), at(800.0)),
            0,
            "once"
        );
        assert_eq!(s.counters.live().webhooks.missing, 1);
    }

    /// Only confirmations awaiting their webhook are looked at: none without
    /// `webhook.expected`; after a restore, those the database says still wait.
    #[test]
    fn only_awaited_confirmations_are_checked_and_a_restore_awaits_them_again() {
        let mut s = store();
        s.observe_status(A, Status::Confirmed, at(100.0));
        assert_eq!(
            s.count_missing_webhooks(Duration::from_secs_f64(600.0), at(10_000.0)),
            0,
            "not expected"
        );
        assert!(s.webhooks.awaiting.is_empty());
        s.webhooks.set_memory(M);
        s.await_restored_webhooks();
        assert_eq!(s.webhooks.awaiting.len(), 1);
        assert_eq!(
            s.count_missing_webhooks(Duration::from_secs_f64(600.0), at(10_000.0)),
            1
        );
        assert!(s.webhooks.awaiting.is_empty());
    }
}
