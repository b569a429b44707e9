//! Verified AllScale webhooks in the state: a confirmation counted once with polling
//! (whichever sees it first counts it), the nonces and webhook ids already seen (kept
//! across restarts, so a replay right after one is still refused), the relay queue, and
//! the confirmations polling saw that no webhook followed.
//!
//! The receiver checks signatures and hands over a [`WebhookEvent`]; everything here
//! happens under the store's lock and is committed by the writer before the webhook is
//! answered.

use std::collections::{HashMap, VecDeque};

use super::{IntentState, Source, StoreState};
use crate::api::{Outcome, Status, StatusClass};
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
    pub received_at: f64,
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
    pub queue: VecDeque<Queued>,
    next_seq: u64,
    /// Changes the database has not got yet.
    pub pending: Vec<WebhookWrite>,
    /// As the receiver last said (the writer forgets old nonces and ids by it).
    pub memory: Memory,
    /// The webhook id of each confirmation a poll has yet to check.
    confirmed: HashMap<IntentId, String>,
    /// Confirmations polling saw first, oldest first, whose webhook is awaited
    /// (`webhook.expected`): popped once their grace passed.
    awaiting: VecDeque<(f64, IntentId)>,
}

/// A change to the webhook tables.
#[derive(Debug, Clone, PartialEq)]
pub enum WebhookWrite {
    Nonce(String, f64),
    Id(String, f64),
    Queued(Queued),
    Delivered(u64),
}

/// Values seen, remembered for a while, oldest first.
#[derive(Debug, Default)]
struct Seen {
    at: HashMap<String, f64>,
    order: VecDeque<(f64, String)>,
}

impl Seen {
    fn contains(&self, value: &str) -> bool {
        self.at.contains_key(value)
    }

    fn insert(&mut self, value: String, at: f64) {
        self.order.push_back((at, value.clone()));
        self.at.insert(value, at);
    }

    /// Forgets what was seen before `horizon`.
    fn forget_before(&mut self, horizon: f64) {
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

/// How long nonces and webhook ids are remembered (seconds), and the relay queue's limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Memory {
    pub nonce_ttl: f64,
    pub id_ttl: f64,
    pub queue_limit: usize,
    /// The store relays its webhooks (`forward_url`).
    pub forwarding: bool,
    /// AllScale sends the store webhooks (`webhook.expected`): a poll confirmation awaits one.
    pub expect_webhooks: bool,
}

impl Memory {
    /// From the config: nonces for twice `max_skew` (at least AllScale's 600 s), ids for
    /// `terminal_retention`.
    pub fn of(config: &Config, store: &StoreConfig) -> Self {
        Self {
            nonce_ttl: (2.0 * config.webhook.max_skew.as_secs_f64()).max(600.0),
            id_ttl: config.terminal_retention.as_secs_f64(),
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
            nonce_ttl: 600.0,
            id_ttl: 86_400.0,
            queue_limit: 10_000,
            forwarding: false,
            expect_webhooks: false,
        }
    }
}

impl Webhooks {
    /// Restores what the database held.
    pub fn restore(
        &mut self,
        nonces: Vec<(String, f64)>,
        ids: Vec<(String, f64)>,
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

    /// Takes the store's settings; without `webhook.expected` nothing awaits a webhook.
    pub fn set_memory(&mut self, memory: Memory) {
        if !memory.expect_webhooks {
            self.awaiting.clear();
        }
        self.memory = memory;
    }

    /// The oldest durable event in the relay queue.
    pub fn next_to_forward(&self) -> Option<&Queued> {
        self.queue.front().filter(|q| q.durable)
    }

    /// The event `seq` was relayed: it leaves the queue (and the database).
    pub fn delivered(&mut self, seq: u64) {
        if self.queue.front().is_some_and(|q| q.seq == seq) {
            self.queue.pop_front();
            self.pending.push(WebhookWrite::Delivered(seq));
        }
    }

    /// Marks the events the database now holds as durable.
    pub fn committed(&mut self, seqs: &[u64]) {
        for q in self.queue.iter_mut().filter(|q| seqs.contains(&q.seq)) {
            q.durable = true;
        }
    }
}

impl StoreState {
    /// Takes a verified webhook: refuses a replayed nonce (and, when the relay queue is
    /// full, the whole event); remembers its nonce and id; queues it for the relay; and,
    /// for an intent this replica owns, counts its confirmation unless it was final
    /// already, watching it (source `webhook`) if no source did. A webhook-confirmed
    /// intent is polled once more, to check the claim.
    pub fn accept_webhook(
        &mut self,
        event: WebhookEvent,
        memory: Memory,
        now: f64,
    ) -> Result<Accepted, Refused> {
        let hooks = &mut self.webhooks;
        hooks.set_memory(memory);
        hooks.nonces.forget_before(now - memory.nonce_ttl);
        hooks.ids.forget_before(now - memory.id_ttl);
        if hooks.nonces.contains(&event.nonce) {
            return Err(Refused::ReplayedNonce);
        }
        let duplicate = hooks.ids.contains(&event.webhook_id);
        if !duplicate && event.forward.is_some() && hooks.queue.len() >= memory.queue_limit {
            return Err(Refused::QueueFull);
        }
        hooks.nonces.insert(event.nonce.clone(), now);
        hooks.pending.push(WebhookWrite::Nonce(event.nonce, now));
        if duplicate {
            return Ok(Accepted::Duplicate);
        }
        hooks.ids.insert(event.webhook_id.clone(), now);
        hooks
            .pending
            .push(WebhookWrite::Id(event.webhook_id.clone(), now));
        let webhook_id = event.webhook_id.clone();
        if let Some(request) = event.forward {
            let queued = Queued {
                seq: hooks.next_seq,
                webhook_id: event.webhook_id,
                intent_id: event.intent.id.clone(),
                received_at: now,
                request,
                durable: false,
            };
            hooks.next_seq += 1;
            hooks.pending.push(WebhookWrite::Queued(queued.clone()));
            hooks.queue.push_back(queued);
        }
        if !event.owned {
            return Ok(Accepted::NotOwned);
        }
        Ok(self.confirm_by_webhook(&event.intent, &webhook_id, now))
    }

    fn confirm_by_webhook(
        &mut self,
        intent: &IntentConfig,
        webhook_id: &str,
        now: f64,
    ) -> Accepted {
        if !self.intents.contains_key(&intent.id) {
            self.watch(&intent.id, Source::Webhook, intent.order_id.as_ref(), now);
        }
        let place = self.place(intent.id.as_str());
        let Some(state) = self.intents.get_mut(&intent.id) else {
            return Accepted::AlreadyFinal;
        };
        state.webhook_at.get_or_insert(now);
        let accepted = if state.is_final() {
            Accepted::AlreadyFinal
        } else {
            let before = state.class();
            state.not_found = false;
            state.status = Some(Status::Confirmed);
            state.status_changed_at = Some(now);
            state.terminal_at = Some(now);
            state.confirmed_by = Some(ConfirmedBy::Webhook);
            state.verify_pending = true;
            if let Some(from) = before {
                *self
                    .transitions
                    .entry((from, StatusClass::Confirmed))
                    .or_insert(0) += 1;
            }
            *self.terminal_total.entry(Outcome::Confirmed).or_insert(0) += 1;
            self.webhook_counts.confirmed_by_webhook += 1;
            self.delta.push(&intent.id);
            self.webhooks
                .confirmed
                .insert(intent.id.clone(), webhook_id.to_owned());
            self.want_detail(intent.id.as_str());
            self.remember_outcome(intent.id.as_str(), Outcome::Confirmed, now);
            Accepted::Confirmed
        };
        self.dirty.insert(intent.id.clone());
        self.replace_on_board(intent.id.as_str(), place);
        accepted
    }

    /// The id of the webhook whose confirmation of `intent` its poll disagreed with, for
    /// the log (known in this process only).
    pub fn webhook_id_of(&mut self, intent: &str) -> Option<String> {
        self.webhooks.confirmed.remove(intent)
    }

    /// Notes a confirmation polling saw first, to look for its webhook once the grace
    /// passed (stores with `webhook.expected` only).
    pub(super) fn await_webhook(&mut self, id: &str, at: f64) {
        if self.webhooks.memory.expect_webhooks
            && let Some(id) = IntentId::parse(id)
        {
            self.webhooks.awaiting.push_back((at, id));
        }
    }

    /// After a restore: the confirmations polling saw that still wait for their webhook.
    pub(super) fn await_restored_webhooks(&mut self) {
        let mut waiting: Vec<(f64, IntentId)> = self
            .intents
            .iter()
            .filter(|(_, i)| is_missing(i, 0.0, f64::INFINITY))
            .filter_map(|(id, i)| Some((i.terminal_at?, id.clone())))
            .collect();
        waiting.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (at, id) in waiting {
            self.await_webhook(id.as_str(), at);
        }
    }

    /// Counts, once each, the intents polling saw CONFIRMED more than `grace` ago with no
    /// webhook since (`webhook.expected`); returns how many it counted now. Looks only at
    /// the confirmations whose grace just ended, oldest first, not the whole watch list.
    pub fn count_missing_webhooks(&mut self, grace: f64, now: f64) -> u64 {
        let mut counted = 0;
        while let Some((at, _)) = self.webhooks.awaiting.front() {
            if now - at < grace {
                break;
            }
            let Some((_, id)) = self.webhooks.awaiting.pop_front() else {
                break;
            };
            if let Some(intent) = self
                .intents
                .get_mut(&id)
                .filter(|i| is_missing(i, grace, now))
            {
                intent.webhook_missing_at = Some(now);
                self.dirty.insert(id);
                counted += 1;
            }
        }
        self.webhook_counts.missing += counted;
        counted
    }

    /// Whether an answer to a request sent at `sent_at` (unix seconds) is older than the
    /// webhook that confirmed the intent: such an answer cannot check that confirmation.
    pub fn predates_webhook(&self, id: &str, sent_at: f64) -> bool {
        self.intents
            .get(id)
            .filter(|i| i.verify_pending)
            .and_then(|i| i.webhook_at)
            .is_some_and(|webhook_at| sent_at < webhook_at)
    }

    /// The status poll after a webhook confirmation answered: counts a disagreement
    /// (anything but CONFIRMED); returns whether there was one.
    pub(super) fn verify_webhook(&mut self, id: &str, status: Option<Status>) -> bool {
        let Some(intent) = self.intents.get_mut(id).filter(|i| i.verify_pending) else {
            return false;
        };
        intent.verify_pending = false;
        let disagrees = status != Some(Status::Confirmed);
        if disagrees {
            self.webhook_counts.disagreements += 1;
        } else {
            self.webhooks.confirmed.remove(id);
        }
        self.mark_dirty(id);
        disagrees
    }
}

fn is_missing(intent: &IntentState, grace: f64, now: f64) -> bool {
    intent.confirmed_by == Some(ConfirmedBy::Poll)
        && intent.webhook_at.is_none()
        && intent.webhook_missing_at.is_none()
        && intent.terminal_at.is_some_and(|t| now - t >= grace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::{A, B, HOUR, intents};

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
        let mut s = StoreState::new();
        s.set_source(Source::Config, &intents(&[A]), HOUR, 0.0);
        s
    }

    const M: Memory = Memory {
        nonce_ttl: 600.0,
        id_ttl: 3600.0,
        queue_limit: 2,
        forwarding: true,
        expect_webhooks: true,
    };

    #[test]
    fn a_webhook_confirms_once_and_the_poll_after_it_counts_nothing_again() {
        let mut s = store();
        s.observe_status(A, Status::OnChain, 1.0);
        assert_eq!(
            s.accept_webhook(event(A, "w1", "n1", false), M, 2.0),
            Ok(Accepted::Confirmed)
        );
        assert_eq!(s.terminal_total[&Outcome::Confirmed], 1);
        assert_eq!(s.webhook_counts.confirmed_by_webhook, 1);
        assert_eq!(
            s.transitions[&(StatusClass::OnChain, StatusClass::Confirmed)],
            1
        );
        let counts = s.board.counts();
        assert_eq!(
            (
                counts[StatusClass::Confirmed as usize],
                counts[StatusClass::OnChain as usize]
            ),
            (1, 0),
            "the landing page's board follows the webhook"
        );
        assert_eq!(
            s.board.longest_waiting(5).count(),
            0,
            "confirmed: not waiting"
        );
        assert_eq!(
            s.pollable().collect::<Vec<_>>(),
            [A],
            "polled once to check"
        );
        let c = s.observe_status(A, Status::Confirmed, 3.0);
        assert!(!c.webhook_disagreement && c.newly_terminal.is_none());
        assert_eq!(s.pollable().count(), 0);
        assert_eq!(s.terminal_total[&Outcome::Confirmed], 1);
        assert_eq!(s.webhook_counts.confirmed_by_poll, 0);
        // AllScale's retry of the same webhook (new nonce): answered, not counted.
        assert_eq!(
            s.accept_webhook(event(A, "w1", "n2", false), M, 4.0),
            Ok(Accepted::Duplicate)
        );
        assert_eq!(s.terminal_total[&Outcome::Confirmed], 1);
    }

    #[test]
    fn a_poll_first_then_the_webhook_counts_once_under_poll() {
        let mut s = store();
        s.webhooks.set_memory(M);
        s.observe_status(A, Status::Confirmed, 1.0);
        assert_eq!(
            s.accept_webhook(event(A, "w1", "n1", false), M, 2.0),
            Ok(Accepted::AlreadyFinal)
        );
        assert_eq!(s.terminal_total[&Outcome::Confirmed], 1);
        assert_eq!(s.webhook_counts.confirmed_by_poll, 1);
        assert_eq!(s.webhook_counts.confirmed_by_webhook, 0);
        assert_eq!(s.intents[A].webhook_at, Some(2.0));
        assert_eq!(s.count_missing_webhooks(0.0, 100.0), 0, "the webhook came");
    }

    #[test]
    fn replays_and_a_full_queue_are_refused_and_change_nothing() {
        let mut s = store();
        assert_eq!(
            s.accept_webhook(event(A, "w1", "n1", true), M, 1.0),
            Ok(Accepted::Confirmed)
        );
        assert_eq!(
            s.accept_webhook(event(B, "w2", "n1", true), M, 2.0),
            Err(Refused::ReplayedNonce)
        );
        assert!(!s.intents.contains_key(B));
        assert_eq!(
            s.accept_webhook(event(B, "w2", "n2", true), M, 2.0),
            Ok(Accepted::Confirmed)
        );
        assert_eq!(
            s.intents[B].sources.names(),
            "webhook",
            "added by the webhook"
        );
        let c = "cccccccccccccccccccccccc";
        assert_eq!(
            s.accept_webhook(event(c, "w3", "n3", true), M, 3.0),
            Err(Refused::QueueFull)
        );
        assert!(!s.intents.contains_key(c));
        assert_eq!(s.webhooks.queue.len(), 2);
        // The nonce is forgotten after its TTL: the same nonce later is a new webhook.
        s.webhooks.delivered(0);
        assert_eq!(
            s.accept_webhook(event(c, "w3", "n1", true), M, 700.0),
            Ok(Accepted::Confirmed)
        );
    }

    #[test]
    fn another_replica_s_intent_is_relayed_not_recorded() {
        let mut s = store();
        let mut e = event(B, "w1", "n1", true);
        e.owned = false;
        assert_eq!(s.accept_webhook(e, M, 1.0), Ok(Accepted::NotOwned));
        assert!(!s.intents.contains_key(B));
        assert_eq!(s.webhooks.queue.len(), 1);
        assert!(s.webhooks.next_to_forward().is_none(), "not durable yet");
        s.webhooks.committed(&[0]);
        assert_eq!(s.webhooks.next_to_forward().map(|q| q.seq), Some(0));
    }

    #[test]
    fn a_poll_that_disagrees_is_counted_and_the_confirmation_stays() {
        let mut s = store();
        s.accept_webhook(event(A, "w1", "n1", false), M, 1.0)
            .unwrap();
        let c = s.observe_status(A, Status::OnChain, 2.0);
        assert!(c.webhook_disagreement);
        assert_eq!(s.webhook_counts.disagreements, 1);
        assert_eq!(s.intents[A].status, Some(Status::Confirmed));
        assert_eq!(s.webhook_id_of(A).as_deref(), Some("w1"));
        assert_eq!(s.pollable().count(), 0);
    }

    #[test]
    fn a_poll_confirmation_without_a_webhook_is_missing_after_the_grace_once() {
        let mut s = store();
        s.webhooks.set_memory(M);
        s.observe_status(A, Status::Confirmed, 100.0);
        assert_eq!(s.count_missing_webhooks(600.0, 699.0), 0);
        assert_eq!(s.count_missing_webhooks(600.0, 700.0), 1);
        assert_eq!(s.count_missing_webhooks(600.0, 800.0), 0, "once");
        assert_eq!(s.webhook_counts.missing, 1);
    }

    /// Only confirmations awaiting their webhook are looked at: none without
    /// `webhook.expected`; after a restore, those the database says still wait.
    #[test]
    fn only_awaited_confirmations_are_checked_and_a_restore_awaits_them_again() {
        let mut s = store();
        s.observe_status(A, Status::Confirmed, 100.0);
        assert_eq!(s.count_missing_webhooks(600.0, 10_000.0), 0, "not expected");
        assert!(s.webhooks.awaiting.is_empty());
        s.webhooks.set_memory(M);
        s.await_restored_webhooks();
        assert_eq!(s.webhooks.awaiting.len(), 1);
        assert_eq!(s.count_missing_webhooks(600.0, 10_000.0), 1);
        assert!(s.webhooks.awaiting.is_empty());
    }
}
