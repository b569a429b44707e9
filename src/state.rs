//! What the exporter knows about every watched intent, per store: last status, when it
//! changed, whether its outcome was counted, and the outcome and transition counters.
//!
//! The poller, the sources and the registration API write here; `metrics` reads here at
//! scrape time; [`writer`] commits every change through the storage boundary ([`store`];
//! the SQLite state database, [`db`], or PostgreSQL, [`pg`]) so that a restart continues where the last run
//! stopped ([`persist`]).
//!
//! With a state file, counters are exported write-ahead: a store's `exported` counts are
//! the ones last committed, so a value Prometheus has scraped is never above what a
//! restart restores. Without one, the live counts are exported (a restart starts from 0).

mod board;
mod commit;
mod counters;
pub mod db;
mod expiry;
mod handover;
mod intent;
mod intents;
mod json;
mod membership;
mod money;
mod oncall;
pub mod persist;
pub mod pg;
mod process_lock;
pub mod store;
mod time_to_outcome;
mod webhook;
pub mod writer;

pub use board::Board;
pub use commit::Taken;
pub use counters::{Counters, Counts};
pub use expiry::{DropReason, Dropped, GiveUp, WatchLimits};
pub use intent::{Confirmation, DetailPhase, IntentRow, IntentState, Phase, Terminal};
pub use intents::Intents;
pub use membership::{Delta, Registered, Source, Sources, Unregistered};
pub use money::{
    CoinKey, DetailGivenUp, DetailRecorded, Fetched, MAX_LABEL_VALUES, Money, NotCounted, OTHER,
};
pub use oncall::{ApiHealth, Finished, LastError, OnCall, RECENT_OUTCOMES};
pub use time_to_outcome::{BOUNDS_SECS, Histogram, TimeToOutcome, Unobserved};
pub use webhook::{
    Accepted, ConfirmedBy, ForwardRequest, Memory, Queued, Refused, SeenKind, WebhookCounts,
    WebhookEvent, WebhookWrite, Webhooks,
};

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

use crate::api::{Outcome, Status, StatusClass};
use crate::clock::{Clock, UnixTime};
use crate::config::Config;
use crate::config::IntentId;
use crate::config::{AttentionAfter, PerIntentMetrics};
use crate::lock;
use crate::shard::IdHasher;
use intents::Save;

/// A map keyed by intent id.
pub type IntentMap<V> = HashMap<IntentId, V, IdHasher>;

/// A set of intent ids.
pub type IntentSet = HashSet<IntentId, IdHasher>;

/// What one observation changed, for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Change {
    pub transition: Option<(StatusClass, StatusClass)>,
    pub newly_terminal: Option<Outcome>,
    pub first_seen: bool,
    /// The poll after a webhook confirmation did not answer CONFIRMED.
    pub webhook_disagreement: bool,
}

impl Change {
    /// Worth saving to the state database (statuses, outcomes).
    pub fn is_significant(&self) -> bool {
        self.transition.is_some()
            || self.newly_terminal.is_some()
            || self.first_seen
            || self.webhook_disagreement
    }
}

/// Versions of the state the database writer follows: every recorded change gets a
/// version; the writer commits everything recorded up to a version at once (a group
/// commit), then marks it committed at the storage boundary ([`store::Durability`]).
/// An urgent change (a registration waiting for its answer) is committed at once, the
/// others within about a second.
#[derive(Debug, Default)]
pub struct Changes {
    version: AtomicU64,
    urgent: AtomicBool,
    notify: Notify,
}

impl Changes {
    /// Notes a change (made before this call); returns its version.
    pub fn record(&self, urgent: bool) -> u64 {
        let version = self.version.fetch_add(1, Ordering::AcqRel) + 1;
        if urgent {
            self.urgent.store(true, Ordering::Release);
        }
        self.notify.notify_one();
        version
    }

    /// The latest version: every change recorded so far is at or below it.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// Whether an urgent change came since the last call.
    pub fn take_urgent(&self) -> bool {
        self.urgent.swap(false, Ordering::AcqRel)
    }

    /// Resolves after the next recorded change.
    pub async fn changed(&self) {
        self.notify.notified().await;
    }
}

/// Everything known about one store, in parts that keep their own invariants: the
/// intents with their indexes, the counters (live and exported), the on-call view, the
/// webhook memory. Readers get the parts read-only; writers call the methods here.
#[derive(Debug, Default)]
pub struct StoreState {
    intents: Intents,
    counters: Counters,
    oncall: OnCall,
    webhooks: Webhooks,
    /// Terminal intents get their detail fetched (`fetch_details`).
    fetch_details: bool,
    /// Which per-intent series `/metrics` shows (`per_intent_metrics`).
    per_intent_metrics: PerIntentMetrics,
    /// When a waiting intent needs someone (`attention_after`).
    attention_after: AttentionAfter,
}

impl StoreState {
    /// The intents, the board and the dirty rows.
    pub fn intents(&self) -> &Intents {
        &self.intents
    }

    /// A watched intent.
    pub fn intent(&self, id: &str) -> Option<&IntentState> {
        self.intents.get(id)
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The landing page's latest outcomes and API health.
    pub fn oncall(&self) -> &OnCall {
        &self.oncall
    }

    pub fn webhooks(&self) -> &Webhooks {
        &self.webhooks
    }

    pub fn per_intent_metrics(&self) -> PerIntentMetrics {
        self.per_intent_metrics
    }

    pub fn attention_after(&self) -> AttentionAfter {
        self.attention_after
    }

    /// The store left the config: every source lets go of its intents.
    fn depart(&mut self, retention: Duration, now: UnixTime) {
        for source in Source::ALL {
            self.set_source(source, &[], retention, now);
        }
    }

    /// Records a well-formed status answer.
    pub fn observe_status(&mut self, id: &str, status: Status, now: UnixTime) -> Change {
        self.observe(id, Some(status), now)
    }

    /// Records a 50001 answer.
    pub fn observe_not_found(&mut self, id: &str, now: UnixTime) -> Change {
        self.observe(id, None, now)
    }

    /// Records an answer (`None`: not found): the status, its change, a newly terminal
    /// outcome (counted once). A webhook's confirmation is checked instead.
    fn observe(&mut self, id: &str, answer: Option<Status>, now: UnixTime) -> Change {
        if self
            .intents
            .get(id)
            .is_some_and(IntentState::verify_pending)
        {
            // Confirmed by a webhook: the answer is compared, not applied.
            return Change {
                webhook_disagreement: self.verify_webhook(id, answer),
                ..Change::default()
            };
        }
        let expect_webhooks = self.webhooks.memory().expect_webhooks;
        let change = self.intents.update(id, |intent| {
            if intent.is_given_up() {
                return (Change::default(), Save::Skip);
            }
            let before = intent.class();
            let status_before = intent.status();
            intent.answer(answer, now);
            let after = intent.class();
            let mut change = Change {
                first_seen: before.is_none(),
                ..Change::default()
            };
            if before != after || (!intent.not_found() && status_before != intent.status()) {
                intent.set_status_changed_at(now);
                if let (Some(from), Some(to)) = (before, after) {
                    change.transition = Some((from, to));
                }
            }
            if !intent.is_terminal()
                && !intent.not_found()
                && let Some(outcome) = intent.status().and_then(Status::outcome)
            {
                let confirmation = if outcome == Outcome::Confirmed {
                    Confirmation::Poll {
                        webhook_missing_at: None,
                    }
                } else {
                    Confirmation::Unrecorded
                };
                intent.finish(Phase::Terminal(Terminal {
                    at: now,
                    confirmation,
                    detail: DetailPhase::Open { pending: false },
                }));
                change.newly_terminal = Some(outcome);
            }
            let save = if change.is_significant() {
                Save::Row
            } else {
                Save::Skip
            };
            (change, save)
        });
        // Removed from the config while its request was in flight, or given up.
        let Some(change) = change else {
            return Change::default();
        };
        // Newly terminal by a poll: no webhook came first, the outcome is seen `now`. The
        // id is there (the update just found it): the fallback is never taken.
        let created = self
            .intents
            .get_key_value(id)
            .map_or(now, |(key, _)| key.created_at());
        let counts = self.counters.live_mut();
        if let Some((from, to)) = change.transition {
            counts.transition(from, to);
        }
        if let Some(outcome) = change.newly_terminal {
            counts.outcome(outcome, created, now);
            if outcome == Outcome::Confirmed {
                counts.webhooks.confirmed_by_poll += 1;
                if expect_webhooks {
                    self.webhooks.await_webhook(id, now);
                }
            }
            self.want_detail(id);
            self.remember_outcome(id, outcome, now);
        }
        change
    }

    /// Intents to poll: everything not yet final (terminal, expired or dropped), and
    /// webhook confirmations to check.
    pub fn pollable(&self) -> impl Iterator<Item = &str> {
        self.intents
            .iter()
            .filter(|(_, i)| i.is_pollable())
            .map(|(id, _)| id.as_str())
    }

    /// Whether `id` is watched and still to be asked about.
    pub fn is_pollable(&self, id: &str) -> bool {
        self.intents.get(id).is_some_and(IntentState::is_pollable)
    }
}

/// A store's state behind its own lock, so stores never wait on each other.
#[derive(Debug, Clone)]
pub struct StoreHandle {
    pub name: String,
    inner: Arc<Mutex<StoreState>>,
    changes: Arc<Changes>,
    /// Wakes the store's poller when the watch list changed outside a reload.
    watch_list: Arc<Notify>,
}

impl StoreHandle {
    /// Notes a change (already made) for the state database; returns its version.
    pub fn record_change(&self, urgent: bool) -> u64 {
        self.changes.record(urgent)
    }

    pub fn lock(&self) -> MutexGuard<'_, StoreState> {
        lock(&self.inner)
    }

    /// Edits the watch list (a source or a registration): runs `edit` under the store's
    /// lock, wakes the poller and records the change; returns what `edit` returned and
    /// the change's version (to wait for with [`store::Durability::durable`]).
    pub fn edit_watch_list<R>(
        &self,
        urgent: bool,
        edit: impl FnOnce(&mut StoreState) -> R,
    ) -> (R, u64) {
        let result = edit(&mut self.lock());
        self.watch_list.notify_one();
        (result, self.record_change(urgent))
    }

    /// Resolves once the watch list changed outside a reload (see `take_delta`).
    pub async fn watch_list_changed(&self) {
        self.watch_list.notified().await;
    }
}

/// A store that left the config, and when.
#[derive(Debug, Clone)]
struct Departed {
    handle: StoreHandle,
    left_at: UnixTime,
}

/// All stores, in config order, and the ones that left it lately.
#[derive(Debug)]
pub struct State {
    stores: Mutex<Vec<StoreHandle>>,
    /// Stores removed from the config, kept for `terminal_retention` with their retired
    /// terminal intents and counters: a store put back (a bad ConfigMap edit fixed a
    /// minute later) neither polls nor counts its finished intents again.
    departed: Mutex<Vec<Departed>>,
    retention: Mutex<Duration>,
    changes: Arc<Changes>,
    /// A state file is written: export counters only once saved.
    write_ahead: AtomicBool,
    saves: Mutex<Saves>,
    /// Where "now" comes from for what the state times itself (config changes, commits).
    clock: Clock,
}

/// How saving the state file goes, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Saves {
    /// The last attempt succeeded.
    pub ok: bool,
    /// When the last successful save was.
    pub last_success: Option<UnixTime>,
    /// The state database could only be opened read-only: nothing is saved this run.
    pub read_only: bool,
}

impl State {
    /// The state of `config`, on the wall clock.
    pub fn new(config: &Config) -> Arc<Self> {
        Self::with_clock(config, Clock::system())
    }

    /// The state of `config`, reading "now" from `clock`.
    pub fn with_clock(config: &Config, clock: Clock) -> Arc<Self> {
        let state = Arc::new(Self {
            stores: Mutex::new(Vec::new()),
            departed: Mutex::new(Vec::new()),
            retention: Mutex::new(config.terminal_retention),
            changes: Arc::new(Changes::default()),
            write_ahead: AtomicBool::new(false),
            saves: Mutex::new(Saves::default()),
            clock,
        });
        state.apply_config(config);
        state
    }

    /// A handle for a store of this state, not yet in the config.
    fn new_handle(&self, name: &str) -> StoreHandle {
        StoreHandle {
            name: name.to_string(),
            inner: Arc::new(Mutex::new(StoreState::default())),
            changes: Arc::clone(&self.changes),
            watch_list: Arc::new(Notify::new()),
        }
    }

    pub fn changes(&self) -> &Changes {
        &self.changes
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Whether counters are exported only once saved (a state file is written).
    pub fn write_ahead(&self) -> bool {
        self.write_ahead.load(Ordering::Acquire)
    }

    /// Records a save attempt: its time when it succeeded, `None` when it failed.
    pub fn record_save(&self, saved_at: Option<UnixTime>) {
        let mut saves = lock(&self.saves);
        saves.ok = saved_at.is_some();
        saves.last_success = saved_at.or(saves.last_success);
    }

    /// How saving goes; `None` without a state file.
    pub fn saves(&self) -> Option<Saves> {
        let saves = *lock(&self.saves);
        (self.write_ahead() || saves.read_only).then_some(saves)
    }

    /// Records whether the state database is open read-only (then nothing is saved).
    pub fn set_read_only(&self, on: bool) {
        let mut saves = lock(&self.saves);
        saves.read_only = on;
        saves.ok &= !on;
    }

    /// Turns write-ahead export on or off. Turned on, the live counts are taken as
    /// exported first: what was already served must not go back.
    pub fn set_write_ahead(&self, on: bool) {
        if on && !self.write_ahead() {
            for handle in self.all_stores() {
                handle.lock().counters.export_live();
            }
        }
        self.write_ahead.store(on, Ordering::Release);
    }

    /// Adds, keeps or drops stores and intents to match `config`; returns the handles.
    /// A removed store departs (its terminal intents retired, the rest dropped) and comes
    /// back as it was if the config names it again within `terminal_retention`.
    pub fn apply_config(&self, config: &Config) -> Vec<StoreHandle> {
        let retention = config.terminal_retention;
        *lock(&self.retention) = retention;
        let now = self.clock.now();
        let mut stores = lock(&self.stores);
        let mut departed = lock(&self.departed);
        let mut next = Vec::with_capacity(config.stores.len());
        for store_cfg in &config.stores {
            let kept = stores.iter().find(|h| h.name == store_cfg.name).cloned();
            let back = || {
                let i = departed
                    .iter()
                    .position(|d| d.handle.name == store_cfg.name)?;
                Some(departed.remove(i).handle)
            };
            let handle = kept
                .or_else(back)
                .unwrap_or_else(|| self.new_handle(&store_cfg.name));
            let mut st = handle.lock();
            st.set_source(Source::Config, &store_cfg.intents, retention, now);
            st.set_webhook_memory(Memory::of(config, store_cfg));
            st.set_fetch_details(store_cfg.fetch_details, retention, now);
            st.per_intent_metrics = store_cfg.per_intent_metrics;
            st.attention_after = store_cfg.attention_after;
            drop(st);
            next.push(handle);
        }
        for gone in stores
            .iter()
            .filter(|h| !next.iter().any(|n| n.name == h.name))
        {
            gone.lock().depart(retention, now);
            departed.push(Departed {
                handle: gone.clone(),
                left_at: now,
            });
        }
        departed.retain(|d| now.since(d.left_at) < retention);
        *stores = next.clone();
        self.changes.record(false);
        next
    }

    /// Remembers a store the state file knows but the config does not name: as if it had
    /// just departed, with what the file says of it.
    pub fn departed_from_file(&self, name: &str) -> StoreHandle {
        let handle = self.new_handle(name);
        lock(&self.departed).push(Departed {
            handle: handle.clone(),
            left_at: self.clock.now(),
        });
        handle
    }

    /// Marks every intent of every store dirty: a new database gets the whole state.
    pub fn mark_all_dirty(&self) {
        for handle in self.all_stores() {
            handle.lock().intents.mark_all_dirty();
        }
    }

    /// Every store the state keeps: those in the config, then the departed ones.
    pub fn all_stores(&self) -> Vec<StoreHandle> {
        let mut all = self.stores();
        all.extend(lock(&self.departed).iter().map(|d| d.handle.clone()));
        all
    }

    pub fn stores(&self) -> Vec<StoreHandle> {
        lock(&self.stores).clone()
    }

    /// The store of that name in the running config.
    pub fn store(&self, name: &str) -> Option<StoreHandle> {
        lock(&self.stores).iter().find(|h| h.name == name).cloned()
    }

    pub fn terminal_retention(&self) -> Duration {
        *lock(&self.retention)
    }

    /// Ready once every store has been polled at least once.
    pub fn ready(&self) -> bool {
        self.stores().iter().all(|s| {
            let s = s.lock();
            s.oncall.polled_once() || s.intents.iter().all(|(_, i)| i.is_final())
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::IntentConfig;
    pub(crate) fn intents(ids: &[&str]) -> Vec<IntentConfig> {
        ids.iter()
            .map(|id| IntentConfig {
                id: IntentId::parse(id).unwrap(),
                order_id: None,
            })
            .collect()
    }

    pub(crate) const HOUR: Duration = Duration::from_secs(3600);

    /// `secs` after a fixed start: test times, away from the epoch.
    pub(crate) fn at(secs: f64) -> UnixTime {
        UnixTime::from_secs_f64(1_700_000_000.0 + secs)
    }
    pub(crate) const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaa";
    pub(crate) const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn outcome_counted_once_and_transitions_counted() {
        let mut s = StoreState::default();
        s.set_source(Source::Config, &intents(&[A]), HOUR, at(0.0));
        let c = s.observe_status(A, Status::Created, at(1.0));
        assert!(c.first_seen && c.transition.is_none());
        let c = s.observe_status(A, Status::OnChain, at(2.0));
        assert_eq!(
            c.transition,
            Some((StatusClass::Created, StatusClass::OnChain))
        );
        let c = s.observe_status(A, Status::Confirmed, at(3.0));
        assert_eq!(c.newly_terminal, Some(Outcome::Confirmed));
        let c = s.observe_status(A, Status::Confirmed, at(4.0));
        assert_eq!(c, Change::default());
        assert_eq!(s.counters.live().terminal_total[&Outcome::Confirmed], 1);
        assert_eq!(s.counters.live().terminal_total[&Outcome::Failed], 0);
        assert_eq!(
            s.counters.live().transitions[&(StatusClass::OnChain, StatusClass::Confirmed)],
            1
        );
        let a = &s.intent(A).unwrap();
        assert_eq!(a.status_changed_at(), Some(at(3.0)));
        assert_eq!(a.last_success_at(), Some(at(4.0)));
        assert_eq!(a.terminal_at(), Some(at(3.0)));
        assert_eq!(s.pollable().count(), 0);
    }

    #[test]
    fn not_found_is_a_class_and_unknown_is_not_terminal() {
        let mut s = StoreState::default();
        s.set_source(Source::Config, &intents(&[A, B]), HOUR, at(0.0));
        s.observe_not_found(A, at(1.0));
        assert_eq!(s.intent(A).unwrap().class(), Some(StatusClass::NotFound));
        let c = s.observe_status(A, Status::Viewed, at(2.0));
        assert_eq!(
            c.transition,
            Some((StatusClass::NotFound, StatusClass::Viewed))
        );
        s.observe_status(B, Status::Unknown(-9), at(1.0));
        assert!(!s.intent(B).unwrap().is_terminal());
        assert_eq!(s.intent(B).unwrap().class(), Some(StatusClass::Unknown));
        let c = s.observe_status(B, Status::Unknown(7), at(2.0));
        assert_eq!(
            c.transition,
            Some((StatusClass::Unknown, StatusClass::Unknown))
        );
        assert_eq!(s.intent(B).unwrap().status_changed_at(), Some(at(2.0)));
    }

    #[test]
    fn sync_keeps_state_of_intents_that_stay() {
        let mut s = StoreState::default();
        s.set_source(Source::Config, &intents(&[A, B]), HOUR, at(0.0));
        s.observe_status(A, Status::Failed, at(1.0));
        s.set_source(Source::Config, &intents(&[A]), HOUR, at(2.0));
        assert_eq!(s.intents.len(), 1);
        assert_eq!(s.intent(A).unwrap().status(), Some(Status::Failed));
        assert_eq!(s.counters.live().terminal_total[&Outcome::Failed], 1);
        // An answer for a removed intent changes nothing.
        assert_eq!(
            s.observe_status(B, Status::Confirmed, at(2.0)),
            Change::default()
        );
        assert_eq!(s.counters.live().terminal_total[&Outcome::Confirmed], 0);
    }

    #[test]
    fn removed_terminal_intent_is_retired_for_the_retention_only() {
        let mut s = StoreState::default();
        s.set_source(Source::Config, &intents(&[A, B]), HOUR, at(0.0));
        s.observe_status(A, Status::Confirmed, at(10.0));
        s.observe_status(B, Status::OnChain, at(10.0));
        s.set_source(Source::Config, &intents(&[]), HOUR, at(20.0));
        assert!(s.intents.is_empty());
        assert_eq!(
            s.intents.retired_len(),
            1,
            "only the terminal one is remembered"
        );
        // Back within the retention: still terminal, not counted again, not pollable.
        s.set_source(Source::Config, &intents(&[A, B]), HOUR, at(30.0));
        assert_eq!(s.intent(A).unwrap().terminal_at(), Some(at(10.0)));
        assert_eq!(
            s.observe_status(A, Status::Confirmed, at(31.0)),
            Change::default()
        );
        assert_eq!(s.counters.live().terminal_total[&Outcome::Confirmed], 1);
        assert_eq!(
            s.intent(B).unwrap().status(),
            None,
            "a non-terminal intent starts afresh"
        );
        assert_eq!(s.pollable().count(), 1);
        // Removed again and kept out past the retention: forgotten.
        s.set_source(Source::Config, &intents(&[B]), HOUR, at(40.0));
        s.set_source(Source::Config, &intents(&[B]), HOUR, at(10.0 + 3600.0));
        assert_eq!(s.intents.retired_len(), 0);
    }

    /// A config with one store per `(name, intent ids)`.
    fn config(stores: &[(&str, &[&str])]) -> Config {
        let mut yaml = String::from("terminal_retention: 1h\nstores:\n");
        for (name, ids) in stores {
            yaml += &format!(
                "  - name: {name}\n    base_url: http://127.0.0.1:1\n    api_key: k\n    api_secret_env: S\n    intents: [{}]\n",
                ids.join(", ")
            );
        }
        Config::parse(&yaml, std::path::Path::new("."), &|_| Some("s".into())).unwrap()
    }

    /// A store removed from the config and put back keeps its terminal intents (not
    /// polled, not counted again) and its counters; its unfinished intents start afresh.
    #[test]
    fn a_store_that_leaves_and_comes_back_keeps_its_terminal_intents_and_counters() {
        let state = State::new(&config(&[("main", &[A, B]), ("other", &[A])]));
        let main = state.stores()[0].clone();
        let now = state.clock().now();
        main.lock().observe_status(A, Status::Failed, now);
        main.lock().observe_status(B, Status::OnChain, now);
        state.apply_config(&config(&[("other", &[A])]));
        assert_eq!(state.stores().len(), 1);
        assert_eq!(state.all_stores().len(), 2, "main is remembered");
        let back = state.apply_config(&config(&[("main", &[A, B]), ("other", &[A])]));
        let st = back[0].lock();
        assert!(st.intent(A).unwrap().is_terminal(), "still final");
        assert!(!st.intent(A).unwrap().needs_status(), "not polled again");
        assert!(
            st.intent(A).unwrap().detail_pending(),
            "its detail is still to be fetched"
        );
        let mut pollable: Vec<&str> = st.pollable().collect();
        pollable.sort_unstable();
        assert_eq!(pollable, [A, B]);
        assert_eq!(st.intent(B).unwrap().status(), None);
        assert_eq!(st.counters.live().terminal_total[&Outcome::Failed], 1);
        drop(st);
        assert_eq!(
            back[0]
                .lock()
                .observe_status(A, Status::Failed, now.after(Duration::from_secs(1))),
            Change::default(),
            "not counted again"
        );
        assert_eq!(state.all_stores().len(), 2);
    }

    /// Counters are exported as last committed, not as observed.
    #[test]
    fn exported_counts_change_only_when_committed() {
        let mut s = StoreState::default();
        s.set_source(Source::Config, &intents(&[A]), HOUR, at(0.0));
        s.observe_status(A, Status::Confirmed, at(1.0));
        assert_eq!(
            s.counters().exported().terminal_total[&Outcome::Confirmed],
            0
        );
        s.counters.committed(s.counters().live().clone());
        assert_eq!(
            s.counters().exported().terminal_total[&Outcome::Confirmed],
            1
        );
    }
}
