//! Polls every non-terminal intent once per `poll_interval`, spread evenly, within each
//! store's rate and concurrency budget; backs off on errors; stops at terminal statuses.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use rand::Rng;
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until, timeout_at};

mod budget;
mod calendar;
pub(crate) mod detail;
mod share;

use crate::api::client::{ApiClient, ClientError, Endpoint, Fetch, FetchError, RequestResult};
use crate::api::{ApiCode, Detail, Outcome};
use crate::clock::{Clock, UnixTime};
use crate::config::{Config, StoreConfig};
use crate::metrics::{Metrics, StoreRecorder};
use crate::reconcile::{Kind, Specs, Wanted};
use crate::replica::owned::Ownership;
use crate::shard::IdHasher;
use crate::state::{Change, Delta, GiveUp, StoreHandle, WatchLimits};
use crate::supervise::Task;
use budget::Budget;
use calendar::Calendar;
use share::Share;

/// New intents from a reload are spread over this window (or the poll interval if shorter).
const NEW_INTENT_WINDOW: Duration = Duration::from_secs(1);

/// How often a store with `webhook.expected` looks for confirmations without a webhook.
const MISSING_WEBHOOK_CHECK: Duration = Duration::from_secs(1);

/// First retry delay after a failure; doubles per failure, capped at the poll interval.
const BACKOFF_BASE: Duration = Duration::from_secs(1);

/// Detail fetches back off up to this (or the poll interval, if longer): a detail that
/// keeps failing is tried for `terminal_retention`, not every interval.
const DETAIL_BACKOFF_CAP: Duration = Duration::from_secs(300);

/// Retries back off exponentially from [`BACKOFF_BASE`], capped at `cap`.
fn backoff(failures: u32, cap: Duration) -> Duration {
    let exp = failures.saturating_sub(1).min(20);
    BACKOFF_BASE.saturating_mul(1 << exp).min(cap)
}

/// A delay scaled by a random factor in [0.5, 1.0], so retries do not synchronise.
fn jitter(delay: Duration) -> Duration {
    delay.mul_f64(rand::rng().random_range(0.5..=1.0))
}

/// What kind of failure an intent is in, so each kind is logged once, not every poll.
type FailureKind = (RequestResult, Option<i64>);

fn failure_kind(error: &FetchError) -> FailureKind {
    let code = match error {
        FetchError::Api { code, .. } => Some(code.code()),
        FetchError::Http { status, .. } => Some(i64::from(*status)),
        _ => None,
    };
    (error.result(), code)
}

/// Scheduling facts about one pollable intent.
#[derive(Debug)]
struct Sched {
    /// The nominal time of its current poll; the next regular one is one interval later.
    slot: Instant,
    /// When its queued poll is late from, for the lag: one interval after its last
    /// answer, or its retry time after a failure. (Its queue time can be earlier: a poll
    /// more than an interval behind is queued at once.)
    due: Instant,
    /// Stamps the one valid queue entry; older entries are skipped.
    ticket: u64,
    failures: u32,
    logged_failure: Option<FailureKind>,
    /// Malformed detail answers so far: given up at [`detail::MALFORMED_DETAIL_TRIES`].
    malformed: u32,
}

/// A finished request: a status poll (and when it was sent, unix seconds) or a detail
/// fetch.
enum Completion {
    Status(Arc<str>, Fetch, f64),
    Detail(Arc<str>, Fetch<Detail>),
}

/// What a due intent is asked: its status, or (terminal) the detail of its outcome.
#[derive(Debug, Clone, Copy)]
enum Ask {
    Status,
    Detail(Outcome),
}

/// One request, as a future the poller drives itself.
async fn request(client: ApiClient, clock: Clock, id: Arc<str>, ask: Ask) -> Completion {
    match ask {
        Ask::Status => {
            let sent_at = clock.now().as_secs_f64();
            let fetch = client.fetch_status(&id).await;
            Completion::Status(id, fetch, sent_at)
        }
        Ask::Detail(outcome) => {
            let fetch = client.fetch_detail(&id, outcome).await;
            Completion::Detail(id, fetch)
        }
    }
}

/// The poller of one store.
pub struct StorePoller {
    name: String,
    client: ApiClient,
    /// `max_requests_per_second` and `max_concurrency`, of which this process takes its
    /// [`Share`].
    rate: f64,
    max_concurrency: usize,
    share: Share,
    budget: Budget,
    /// Requests in flight at most (this process's part of max_concurrency).
    concurrency: usize,
    /// When the budget allows the next request, if it said "not yet".
    budget_ready_at: Option<Instant>,
    interval: Duration,
    /// `max_watch_age` and `not_found_ttl`, checked before each poll.
    limits: WatchLimits,
    /// `webhook.grace` of a store with `webhook.expected: true`.
    webhook_grace: Option<Duration>,
    /// A detail is fetched until `terminal_retention` after the intent finished.
    retention: Duration,
    drain_timeout: Duration,
    state: StoreHandle,
    recorder: StoreRecorder,
    /// Due polls; polls due within one [`calendar::SLOT`] go out at one wake-up.
    queue: Calendar,
    sched: HashMap<Arc<str>, Sched, IdHasher>,
    next_ticket: u64,
    paused_until: Option<Instant>,
    store_failures: u32,
    /// Unix time for the state and the metrics (scheduling runs on tokio's `Instant`).
    clock: Clock,
}

impl StorePoller {
    /// A poller for `settings`, scheduling every pollable intent of the store's state (a
    /// restarted poller picks up where the state is).
    fn new(
        settings: &Settings,
        state: StoreHandle,
        metrics: &Arc<Metrics>,
        clock: Clock,
        share: Share,
    ) -> Self {
        let store = &settings.store;
        let mut poller = Self {
            name: store.name.clone(),
            client: settings.client.clone(),
            rate: store.max_requests_per_second,
            max_concurrency: store.max_concurrency,
            budget: Budget::new(store.max_requests_per_second * share.fraction()),
            concurrency: share.concurrency(store.max_concurrency),
            share,
            budget_ready_at: None,
            interval: settings.poll_interval,
            limits: WatchLimits::from(store),
            webhook_grace: webhook_grace(store),
            retention: settings.retention,
            drain_timeout: drain_timeout(settings.request_timeout),
            state,
            recorder: metrics.store_recorder(&store.name),
            queue: Calendar::new(),
            sched: HashMap::default(),
            next_ticket: 0,
            paused_until: None,
            store_failures: 0,
            clock,
        };
        poller.state.lock().take_delta(); // the scan below sees every change
        let ids = poller.unscheduled();
        poller.spread(ids, poller.interval);
        poller.publish_plan();
        poller
    }

    /// Publishes the budget plan: demand, budget and effective interval of the intents
    /// scheduled now, and when the earliest queued poll is due (for the lag).
    fn publish_plan(&self) {
        let plan = self.recorder.plan();
        // In a group: this process's part of the store's intents (estimated by its share).
        let intents = (self.sched.len() as f64 * self.share.fraction()).round() as usize;
        plan.set(
            intents,
            self.interval,
            self.budget.per_second(),
            self.budget.usable(),
        );
        let first_due = self.first_due().map(|at| {
            let now = Instant::now();
            let ahead = at.saturating_duration_since(now).as_secs_f64();
            let behind = now.saturating_duration_since(at).as_secs_f64();
            self.clock.now().as_secs_f64() + ahead - behind
        });
        plan.set_first_due(first_due);
    }

    /// Pollable intents (non-terminal, in the watch list) that have no schedule yet, sorted.
    fn unscheduled(&self) -> Vec<Arc<str>> {
        let st = self.state.lock();
        let mut ids: Vec<Arc<str>> = st
            .pollable()
            .filter(|id| !self.sched.contains_key(*id))
            .map(Arc::from)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Applies a reloaded config: budget, interval, client, and the watch list (which
    /// the state already reflects).
    fn update(&mut self, settings: Settings) {
        let Settings {
            store,
            poll_interval,
            retention,
            request_timeout,
            client,
        } = settings;
        self.retention = retention;
        self.client = client;
        self.rate = store.max_requests_per_second;
        self.max_concurrency = store.max_concurrency;
        self.rebudget();
        self.limits = WatchLimits::from(&store);
        self.webhook_grace = webhook_grace(&store);
        self.drain_timeout = drain_timeout(request_timeout);
        self.state.lock().take_delta(); // the rescan sees every change
        let new = self.rescan();
        if poll_interval != self.interval {
            self.interval = poll_interval;
            let mut all: Vec<Arc<str>> = self.sched.keys().cloned().chain(new).collect();
            all.sort_unstable();
            self.spread(all, poll_interval);
        } else {
            self.spread(new, NEW_INTENT_WINDOW.min(poll_interval));
        }
    }

    /// The budget and concurrency of this process's share of the store (a new budget only
    /// when its rate changed: the limiter's history goes with it).
    fn rebudget(&mut self) {
        let rate = self.rate * self.share.fraction();
        if rate != self.budget.per_second() {
            self.budget = Budget::new(rate);
            self.budget_ready_at = None;
        }
        self.concurrency = self.share.concurrency(self.max_concurrency);
    }

    /// Drops the schedules of intents no longer pollable; returns the pollable intents
    /// without one.
    fn rescan(&mut self) -> Vec<Arc<str>> {
        {
            let st = self.state.lock();
            self.sched.retain(|id, _| st.is_pollable(id));
        }
        self.unscheduled()
    }

    /// Takes the watch-list changes a source or a registration made: schedules the new
    /// intents within [`NEW_INTENT_WINDOW`] and forgets the removed ones, touching only
    /// the intents that changed.
    fn take_watch_list_changes(&mut self) {
        let mut st = self.state.lock();
        let new = match st.take_delta() {
            Delta::Empty => return,
            Delta::Rescan => {
                drop(st);
                self.rescan()
            }
            Delta::Changed(ids) => {
                let mut new = Vec::new();
                for id in ids {
                    let pollable = st.is_pollable(id.as_str());
                    if !pollable {
                        self.sched.remove(id.as_str());
                    } else if !self.sched.contains_key(id.as_str()) {
                        new.push(Arc::from(id.as_str()));
                    }
                }
                drop(st);
                new.sort_unstable();
                new.dedup();
                new
            }
        };
        self.spread(new, NEW_INTENT_WINDOW.min(self.interval));
    }

    /// Schedules intents evenly over `window`, starting now.
    fn spread(&mut self, ids: Vec<Arc<str>>, window: Duration) {
        let start = Instant::now();
        let n = ids.len().max(1) as u32;
        for (i, id) in ids.into_iter().enumerate() {
            let at = start + window.mul_f64(f64::from(i as u32) / f64::from(n));
            self.schedule(id, at, at, at);
        }
    }

    /// Queues the intent's next poll at `at`, late from `due` on.
    fn schedule(&mut self, id: Arc<str>, at: Instant, slot: Instant, due: Instant) {
        self.next_ticket += 1;
        let ticket = self.next_ticket;
        let entry = self.sched.entry(id.clone()).or_insert(Sched {
            slot,
            due,
            ticket,
            failures: 0,
            logged_failure: None,
            malformed: 0,
        });
        entry.slot = slot;
        entry.due = due;
        entry.ticket = ticket;
        self.queue.push(at, (ticket, id));
    }

    /// When the next poll in line is due: its intent's `due`, or its slot's start for an
    /// entry a newer schedule superseded (skipped as soon as its slot starts).
    fn first_due(&self) -> Option<Instant> {
        let (ticket, id) = self.queue.first()?;
        self.sched
            .get(id)
            .filter(|s| s.ticket == *ticket)
            .map(|s| s.due)
            .or_else(|| self.queue.first_start())
    }

    /// When to try dispatching next: the first due poll, but not before a store pause or
    /// the budget allow it. `None` while nothing is queued or every slot is in flight.
    fn next_dispatch_at(&self, in_flight: usize) -> Option<Instant> {
        if in_flight >= self.concurrency {
            return None;
        }
        let at = self.queue.first_start()?;
        [self.paused_until, self.budget_ready_at]
            .into_iter()
            .flatten()
            .chain([at])
            .max()
    }

    /// Runs until `stop` flips, then waits for in-flight requests. Requests run inside
    /// this task (no task or channel per request): the loop polls them, takes reload
    /// updates, and sends new requests when they are due and the budget allows.
    async fn run(
        mut self,
        mut settings: watch::Receiver<Settings>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut in_flight = FuturesUnordered::new();
        let mut webhook_check = tokio::time::interval(MISSING_WEBHOOK_CHECK);
        webhook_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            self.publish_plan();
            let next = self.next_dispatch_at(in_flight.len());
            tokio::select! {
                biased;
                _ = crate::stopped(&mut stop) => break,
                Some(done) = in_flight.next(), if !in_flight.is_empty() => self.complete(done),
                Ok(()) = settings.changed() => {
                    let update = settings.borrow_and_update().clone();
                    self.update(update);
                }
                _ = self.state.watch_list_changed() => self.take_watch_list_changes(),
                () = self.share.changed() => self.rebudget(),
                _ = webhook_check.tick(), if self.webhook_grace.is_some() => self.count_missing_webhooks(),
                _ = sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => {
                    while in_flight.len() < self.concurrency {
                        let Some((id, ask)) = self.take_due() else { break };
                        in_flight.push(request(self.client.clone(), self.clock.clone(), id, ask));
                    }
                }
            }
        }
        let deadline = Instant::now() + self.drain_timeout;
        while let Ok(Some(done)) = timeout_at(deadline, in_flight.next()).await {
            self.complete(done);
        }
    }

    /// The next intent to poll and what to ask, if one is due, the store is not paused
    /// and the budget has room; otherwise notes when to look again.
    fn take_due(&mut self) -> Option<(Arc<str>, Ask)> {
        let now = Instant::now();
        if self.paused_until.is_some_and(|p| p > now) {
            return None;
        }
        // Polls of a started slot go now: one wake-up sends them all, instead of one
        // wake-up per poll (still even at the scale of the interval).
        loop {
            let (ticket, id) = self.queue.peek_started(now)?;
            if self.sched.get(id).is_some_and(|s| s.ticket == *ticket) {
                let id = id.clone();
                if !self.share.covers(&id, now) {
                    self.queue.pop_started(now);
                    self.pass(id);
                    continue;
                }
                if let Some(ask) = self.ask_if_due(&id) {
                    if let Err(ready_at) = self.budget.try_acquire() {
                        self.budget_ready_at = Some(ready_at);
                        return None;
                    }
                    self.budget_ready_at = None;
                    self.queue.pop_started(now);
                    return Some((id, ask));
                }
            }
            self.queue.pop_started(now); // superseded, or given up
        }
    }

    /// Saves and logs an intent expired or dropped instead of polled (the caller takes it
    /// off the schedule).
    fn gave_up(&mut self, id: &Arc<str>, given_up: GiveUp) {
        self.state.record_change(false);
        let (limit, message) = match given_up {
            GiveUp::Expired => (
                self.limits.max_watch_age,
                "intent expired: not terminal within max_watch_age; no longer polled",
            ),
            GiveUp::Dropped(_) => (
                self.limits.not_found_ttl,
                "intent dropped: still not found after not_found_ttl; no longer polled",
            ),
        };
        tracing::warn!(store = %self.name, intent_id = %id, limit = %humantime::format_duration(limit), "{message}");
    }

    /// Counts (once each, and logs) the confirmations polling saw more than
    /// `webhook.grace` ago for which no webhook came.
    fn count_missing_webhooks(&mut self) {
        let Some(grace) = self.webhook_grace else {
            return;
        };
        let missing = self
            .state
            .lock()
            .count_missing_webhooks(grace, self.clock.now());
        if missing > 0 {
            self.state.record_change(false);
            tracing::warn!(store = %self.name, missing, grace = %humantime::format_duration(grace), "confirmed intents without a webhook within webhook.grace: is AllScale's webhook URL right, and its secret current?");
        }
    }

    /// Counts every answer as a request, then applies it. An answer for an intent this
    /// replica no longer holds (its leases ran out or moved while the request was out)
    /// changes nothing else: the holder polls the intent.
    fn complete(&mut self, done: Completion) {
        self.recorder.record(&match &done {
            Completion::Status(_, fetch, _) => detail::answered(Endpoint::Status, fetch),
            Completion::Detail(_, fetch) => detail::answered(Endpoint::Detail, fetch),
        });
        let (Completion::Status(id, ..) | Completion::Detail(id, ..)) = &done;
        if !self.share.covers(id, Instant::now()) {
            let id = Arc::clone(id);
            self.pass(id);
            return;
        }
        match done {
            Completion::Status(id, fetch, sent_at) => self.complete_status(id, fetch, sent_at),
            Completion::Detail(id, fetch) => self.complete_detail(id, fetch),
        }
    }

    /// Applies a status answer (one sent before the webhook that confirmed the intent is
    /// ignored: the poll after it checks the confirmation).
    fn complete_status(&mut self, id: Arc<str>, fetch: Fetch, sent_at: f64) {
        let now = self.clock.now();
        let (change, pollable) = {
            let mut st = self.state.lock();
            detail::report(&mut st, Endpoint::Status, &fetch, now.as_secs_f64());
            let change = match &fetch.outcome {
                _ if st.predates_webhook(&id, UnixTime::from_secs_f64(sent_at)) => None,
                Ok(status) => Some(st.observe_status(&id, *status, now)),
                Err(FetchError::Api {
                    code: ApiCode::NotFound,
                    ..
                }) => Some(st.observe_not_found(&id, now)),
                Err(_) => None,
            };
            (change, st.is_pollable(&id))
        };
        if change.is_some_and(|c| c.is_significant()) {
            self.state.record_change(false);
        }
        if let Some(change) = change {
            self.log_change(&id, &change, &fetch);
        }
        if !self.sched.contains_key(&id) {
            return; // removed from the watch list while in flight
        }
        match &fetch.outcome {
            // Final now (or a webhook confirmation checked): not polled again.
            Ok(_)
            | Err(FetchError::Api {
                code: ApiCode::NotFound,
                ..
            }) if !pollable => {
                self.sched.remove(&id);
            }
            Ok(_) => self.on_answer(id, &fetch),
            Err(FetchError::Api {
                code: ApiCode::NotFound,
                ..
            }) => self.on_answer(id, &fetch),
            Err(error) => self.on_failure(id, error, &fetch, Endpoint::Status),
        }
    }

    /// Another replica polls the intent now: it keeps its slot, one interval on, so it is
    /// polled in time if this one holds it by then.
    fn pass(&mut self, id: Arc<str>) {
        let Some(s) = self.sched.get(&id) else {
            return;
        };
        let slot = (s.slot + self.interval).max(Instant::now());
        self.schedule(id, slot, slot, slot);
    }

    /// A usable answer: reset back-offs and keep the intent's regular slot.
    fn on_answer<T>(&mut self, id: Arc<str>, fetch: &Fetch<T>) {
        self.store_failures = 0;
        let now = Instant::now();
        let interval = self.interval;
        let Some(s) = self.sched.get_mut(&id) else {
            return;
        };
        if s.logged_failure.take().is_some() && fetch.outcome.is_ok() {
            tracing::info!(store = %self.name, intent_id = %id, "polling recovered");
        }
        if fetch.outcome.is_ok() {
            s.failures = 0;
        }
        let slot = (s.slot + interval).max(now);
        self.schedule(id, slot, slot, now + interval);
    }

    fn on_failure<T>(
        &mut self,
        id: Arc<str>,
        error: &FetchError,
        fetch: &Fetch<T>,
        endpoint: Endpoint,
    ) {
        let now = Instant::now();
        let kind = failure_kind(error);
        let Some(s) = self.sched.get_mut(&id) else {
            return;
        };
        // A malformed detail is logged once, when it is given up (detail.rs).
        if s.logged_failure != Some(kind) && !detail::is_malformed_detail(error) {
            s.logged_failure = Some(kind);
            tracing::warn!(
                store = %self.name,
                intent_id = %id,
                request_id = fetch.request_id.as_deref().unwrap_or("-"),
                result = kind.0.as_str(),
                error = %error,
                "{} failed (logged once per intent until it changes)",
                match endpoint {
                    Endpoint::Status => "status poll",
                    Endpoint::Detail => "detail fetch",
                }
            );
        }
        let slot = s.slot;
        let cap = match endpoint {
            Endpoint::Status => self.interval,
            Endpoint::Detail => self.interval.max(DETAIL_BACKOFF_CAP),
        };
        let retry_at = if fetch.is_rate_limited() {
            self.pause_store(fetch)
        } else {
            s.failures += 1;
            self.store_failures = 0;
            now + jitter(backoff(s.failures, cap))
        };
        self.schedule(id, retry_at, slot, retry_at);
    }

    /// 40001 / HTTP 429: hold every request of the store until the pause ends.
    fn pause_store<T>(&mut self, fetch: &Fetch<T>) -> Instant {
        self.store_failures += 1;
        let delay = fetch
            .retry_after()
            .unwrap_or_else(|| jitter(backoff(self.store_failures, self.interval)));
        let until = Instant::now() + delay;
        if self.paused_until.is_none_or(|p| p < until) {
            if self.paused_until.is_none_or(|p| p <= Instant::now()) {
                tracing::warn!(
                    store = %self.name,
                    request_id = fetch.request_id.as_deref().unwrap_or("-"),
                    pause_ms = delay.as_millis() as u64,
                    "rate limited by the API; pausing the store"
                );
            }
            self.paused_until = Some(until);
        }
        until
    }

    fn log_change(&self, id: &str, change: &Change, fetch: &Fetch) {
        let request_id = fetch.request_id.as_deref().unwrap_or("-");
        if let Some((from, to)) = change.transition {
            tracing::debug!(store = %self.name, intent_id = %id, %from, %to, request_id, "status changed");
        }
        if let Some(outcome) = change.newly_terminal {
            tracing::info!(store = %self.name, intent_id = %id, outcome = outcome.as_str(), request_id, "intent reached a terminal status");
        }
        if change.webhook_disagreement {
            let webhook_id = self.state.lock().webhook_id_of(id);
            let answer = match &fetch.outcome {
                Ok(status) => status.class().as_str(),
                Err(_) => "not_found",
            };
            tracing::warn!(store = %self.name, intent_id = %id, request_id, webhook_id = webhook_id.as_deref().unwrap_or("-"), answer, "a webhook confirmed this intent but its status poll does not say CONFIRMED");
        }
    }
}

fn webhook_grace(store: &StoreConfig) -> Option<Duration> {
    store.webhook.expected.then_some(store.webhook.grace)
}

/// What a store's poller runs with; a reload sends new settings.
#[derive(Clone)]
pub(crate) struct Settings {
    store: StoreConfig,
    poll_interval: Duration,
    /// `terminal_retention`: how long a detail is fetched for.
    retention: Duration,
    request_timeout: Duration,
    /// Replaced only when its settings changed, so the poller keeps its connections.
    client: ApiClient,
}

/// How long a stopping poller waits for its requests in flight.
fn drain_timeout(request_timeout: Duration) -> Duration {
    request_timeout + Duration::from_secs(1)
}

/// Settings that need a new HTTP client when they change.
fn client_settings(store: &StoreConfig, request_timeout: Duration) -> impl PartialEq + use<'_> {
    (
        &store.base_url,
        &store.api_key,
        &store.api_secret,
        store.verify_response_signature,
        store.http_version,
        store.max_concurrency,
        request_timeout,
    )
}

/// The pollers' part of the task set: one poller per store. Every change is applied in
/// place (budget, interval, client, limits; the watch list the state already reflects),
/// so a poller keeps its schedule, its queue and its connections across reloads.
pub(crate) struct Pollers {
    metrics: Arc<Metrics>,
    clock: Clock,
    /// In a group sharing a state database: what this replica holds.
    ownership: Option<Ownership>,
}

impl Pollers {
    pub(crate) fn new(metrics: Arc<Metrics>, clock: Clock, ownership: Option<Ownership>) -> Self {
        Self {
            metrics,
            clock,
            ownership,
        }
    }
}

impl Kind for Pollers {
    type Key = String;
    type Spec = Settings;
    type Error = ClientError;
    const TASK: Task = Task::Poller;

    /// Every new client is built here, before anything changes: a failure changes nothing.
    fn wanted(
        &self,
        config: &Config,
        running: &Specs<'_, Self>,
    ) -> Result<Wanted<Self>, ClientError> {
        let settings = |store: &StoreConfig| {
            let kept = running
                .spec(&store.name)
                .filter(|r| {
                    client_settings(&r.store, r.request_timeout)
                        == client_settings(store, config.request_timeout)
                })
                .map(|r| r.client.clone());
            let client = match kept {
                Some(client) => client,
                None => ApiClient::new(&store.client_config(config.request_timeout))?,
            };
            let settings = Settings {
                store: store.clone(),
                poll_interval: config.poll_interval,
                retention: config.terminal_retention,
                request_timeout: config.request_timeout,
                client,
            };
            Ok((store.name.clone(), settings))
        };
        config.stores.iter().map(settings).collect()
    }

    fn needs_restart(&self, _running: &Settings, _wanted: &Settings) -> bool {
        false
    }

    /// A poller that panicked is built again from the latest settings and the store's
    /// state.
    fn run(
        &self,
        _key: &String,
        store: &StoreHandle,
        mut settings: watch::Receiver<Settings>,
        stop: watch::Receiver<bool>,
    ) -> impl Future<Output = ()> + Send + use<> {
        let current = settings.borrow_and_update().clone();
        let clock = self.clock.clone();
        let share = Share::new(self.ownership.clone());
        StorePoller::new(&current, store.clone(), &self.metrics, clock, share).run(settings, stop)
    }

    /// Its in-flight requests were counted before the store's request metrics go.
    fn gone(&self, name: &String, _store: &StoreHandle) {
        self.metrics.remove_store(name);
        tracing::info!(store = %name, "store removed from the config; its poller stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps_at_interval() {
        let cap = Duration::from_secs(30);
        let got: Vec<u64> = (1..=7).map(|f| backoff(f, cap).as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(backoff(100, cap), cap);
        assert_eq!(
            backoff(1, Duration::from_millis(200)),
            Duration::from_millis(200)
        );
    }

    #[test]
    fn jitter_stays_within_half_to_full() {
        for _ in 0..1000 {
            let d = jitter(Duration::from_secs(10));
            assert!(d >= Duration::from_secs(5) && d <= Duration::from_secs(10));
        }
    }
}
