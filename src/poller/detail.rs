//! The poller's detail fetches (`fetch_details`), chosen at dispatch, and the per-request
//! bookkeeping shared with status polls (metrics, API health, rescheduling).

use std::sync::Arc;

use super::StorePoller;
use crate::api::Detail;
use crate::api::client::{Endpoint, Fetch};
use crate::clock::unix_now;
use crate::state::{DetailRecorded, LastError};

impl StorePoller {
    /// What to ask about a due intent: its status, or (terminal) its detail; `None` when
    /// it is given up instead (past its limits, or its detail past `terminal_retention`).
    pub(super) fn endpoint_if_due(&mut self, id: &Arc<str>) -> Option<Endpoint> {
        let asks = {
            let st = self.state.lock();
            let Some(intent) = st.intents.get(&**id) else {
                drop(st);
                self.sched.remove(id); // left while queued; a return reschedules it
                return None;
            };
            let past_retention = intent
                .terminal_at
                .is_some_and(|t| unix_now() - t >= self.retention.as_secs_f64());
            (intent.needs_status(), past_retention)
        };
        match asks {
            (true, _) if self.give_up_if_due(id) => None,
            (true, _) => Some(Endpoint::Status),
            (false, false) => Some(Endpoint::Detail),
            (false, true) => {
                self.state.lock().abandon_detail(id);
                self.sched.remove(id);
                tracing::warn!(store = %self.name, intent_id = %id, "intent detail not fetched within terminal_retention; its money is not counted");
                None
            }
        }
    }

    /// Records a request in the metrics and in the store's API health (the landing page).
    pub(super) fn record<T>(&mut self, endpoint: Endpoint, fetch: &Fetch<T>) {
        self.recorder.record(endpoint, fetch);
        let error = fetch.outcome.as_ref().err().map(|e| LastError {
            at: unix_now(),
            endpoint: endpoint.as_str(),
            result: e.result().as_str(),
            detail: crate::text::prefix(&e.to_string(), 300).to_owned(),
            request_id: fetch.request_id.clone(),
        });
        self.state
            .lock()
            .record_api(fetch.api_reachable(), error, fetch.clock_skew);
    }

    /// Counts a fetched detail's money (once), or retries it with backoff.
    pub(super) fn complete_detail(&mut self, id: Arc<str>, fetch: Fetch<Detail>) {
        self.record(Endpoint::Detail, &fetch);
        let detail = match &fetch.outcome {
            Ok(detail) => detail.clone(),
            Err(error) => {
                self.state.lock().polled_once = true;
                if self.sched.contains_key(&id) {
                    self.on_failure(id, error, &fetch, Endpoint::Detail);
                }
                return;
            }
        };
        let request_id = fetch.request_id.as_deref().unwrap_or("-");
        let recorded = {
            let mut st = self.state.lock();
            st.polled_once = true;
            st.record_detail(&id, detail, unix_now())
        };
        match recorded {
            DetailRecorded::Counted { short: true, .. } => {
                tracing::warn!(store = %self.name, intent_id = %id, request_id, "confirmed intent paid less than asked: hold the order");
            }
            DetailRecorded::Counted { outcome, .. } => {
                tracing::debug!(store = %self.name, intent_id = %id, outcome = outcome.as_str(), request_id, "intent detail counted");
            }
            DetailRecorded::Refused(e) => {
                tracing::warn!(store = %self.name, intent_id = %id, request_id, error = %e, "intent detail not counted");
            }
            DetailRecorded::Ignored => {}
        }
        if matches!(recorded, DetailRecorded::Counted { .. }) {
            self.state.record_change(false);
        }
        self.reschedule_if_pollable(id, &fetch);
    }

    /// After an answer: the intent's next regular slot, or off the schedule when there is
    /// nothing more to ask.
    fn reschedule_if_pollable<T>(&mut self, id: Arc<str>, fetch: &Fetch<T>) {
        let pollable = {
            let st = self.state.lock();
            st.intents.get(&*id).is_some_and(|i| i.is_pollable())
        };
        if !self.sched.contains_key(&id) {
            return; // removed from the watch list while in flight
        }
        if pollable {
            self.on_answer(id, fetch);
        } else {
            self.sched.remove(&id);
        }
    }
}
