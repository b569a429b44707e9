//! The poller's detail fetches (`fetch_details`), chosen at dispatch, and the per-request
//! bookkeeping shared with status polls (metrics, API health, rescheduling).

use std::sync::Arc;

use super::{Ask, StorePoller};
use crate::api::client::{Endpoint, Fetch, FetchError};
use crate::api::{ApiCode, DecodeError, Detail, Status};
use crate::metrics::Answered;
use crate::state::{DetailRecorded, GiveUp, LastError, StoreState};

/// A detail still malformed after this many answers is given up: a malformed answer is
/// rarely fixed by asking again, and each try spends the store's budget (until
/// `terminal_retention`, hundreds of tries a day).
pub(super) const MALFORMED_DETAIL_TRIES: u32 = 5;

/// A well-formed envelope whose detail payload is not a valid detail.
pub(super) fn is_malformed_detail(error: &FetchError) -> bool {
    matches!(error, FetchError::Decode(DecodeError::BadDetail(_)))
}

impl StorePoller {
    /// What to ask about a due intent: its status, or (terminal) its detail; `None` when
    /// it is given up instead (past its limits, or its detail past `terminal_retention`).
    /// One look under the store's lock decides.
    pub(super) fn ask_if_due(&mut self, id: &Arc<str>) -> Option<Ask> {
        let now = self.clock.now();
        let due = {
            let mut st = self.state.lock();
            let intent = st.intent(id);
            let needs_status = intent.map(|i| i.needs_status());
            let outcome = intent.and_then(|i| i.status()).and_then(Status::outcome);
            let too_late = intent
                .and_then(|i| i.terminal_at())
                .is_some_and(|t| now.since(t) >= self.retention);
            match (needs_status, outcome) {
                (None, _) => Due::Gone,
                (Some(true), _) => match st.give_up_if_due(id, now, self.limits) {
                    Some(given_up) => Due::GivenUp(given_up),
                    None => Due::Ask(Ask::Status),
                },
                (Some(false), Some(outcome)) if !too_late => Due::Ask(Ask::Detail(outcome)),
                // Too late, or (not expected: terminal means an outcome) no outcome to
                // read the detail for.
                (Some(false), _) => {
                    st.abandon_detail(id);
                    Due::TooLate
                }
            }
        };
        match due {
            Due::Ask(ask) => return Some(ask),
            Due::GivenUp(given_up) => self.gave_up(id, given_up),
            Due::TooLate => {
                tracing::warn!(store = %self.name, intent_id = %id, "intent detail not fetched within terminal_retention; its money is not counted");
            }
            Due::Gone => {} // left while queued; a return reschedules it
        }
        self.sched.remove(id);
        None
    }

    /// Counts a fetched detail's money (once), or retries it with backoff, or gives up a
    /// detail malformed [`MALFORMED_DETAIL_TRIES`] times.
    pub(super) fn complete_detail(&mut self, id: Arc<str>, fetch: Fetch<Detail>) {
        let now = self.clock.now();
        let recorded = {
            let mut st = self.state.lock();
            report(&mut st, Endpoint::Detail, &fetch, now.as_secs_f64());
            match &fetch.outcome {
                Ok(detail) => Ok(st.record_detail(&id, detail.clone(), now)),
                Err(error) => Err(error),
            }
        };
        let recorded = match recorded {
            Ok(recorded) => recorded,
            Err(error) => {
                if self.malformed_too_often(&id, error) {
                    self.give_up_detail(&id, error, &fetch);
                } else if self.sched.contains_key(&id) {
                    self.on_failure(id, error, &fetch, Endpoint::Detail);
                }
                return;
            }
        };
        let request_id = fetch.request_id.as_deref().unwrap_or("-");
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

    /// Counts a malformed detail answer; whether it was the last try.
    fn malformed_too_often(&mut self, id: &str, error: &FetchError) -> bool {
        let Some(s) = self
            .sched
            .get_mut(id)
            .filter(|_| is_malformed_detail(error))
        else {
            return false;
        };
        s.malformed += 1;
        s.malformed >= MALFORMED_DETAIL_TRIES
    }

    /// Gives up a detail that stayed malformed: counted, saved, logged once with the last
    /// answer's `request_id`, off the schedule.
    fn give_up_detail(&mut self, id: &Arc<str>, error: &FetchError, fetch: &Fetch<Detail>) {
        let request_id = fetch.request_id.as_deref();
        let now = self.clock.now();
        let given_up = self.state.lock().give_up_detail(id, request_id, now);
        self.sched.remove(id);
        if given_up {
            self.state.record_change(false);
            tracing::warn!(store = %self.name, intent_id = %id, request_id = request_id.unwrap_or("-"), tries = MALFORMED_DETAIL_TRIES, error = %error, "intent detail still malformed after its tries; given up, its money is not counted");
        }
    }

    /// After an answer: the intent's next regular slot, or off the schedule when there is
    /// nothing more to ask.
    fn reschedule_if_pollable<T>(&mut self, id: Arc<str>, fetch: &Fetch<T>) {
        let pollable = {
            let st = self.state.lock();
            st.is_pollable(&id)
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

/// What a due intent gets, decided under the store's lock.
enum Due {
    Ask(Ask),
    GivenUp(GiveUp),
    /// Its detail was not fetched within `terminal_retention`.
    TooLate,
    /// It left the watch list while queued.
    Gone,
}

/// What a finished request tells the request metrics (the one place that reads a
/// client's answer for them; public for the golden test, which records answers too).
pub fn answered<T>(endpoint: Endpoint, fetch: &Fetch<T>) -> Answered {
    let api_code = match &fetch.outcome {
        Err(FetchError::Api { code, .. }) => Some(*code),
        _ => None,
    };
    Answered {
        endpoint,
        result: fetch.result(),
        elapsed: fetch.elapsed,
        api_code,
        reachable: fetch.api_reachable(),
        clock_skew: fetch.clock_skew,
    }
}

/// Notes a request finished at `now` in the store's state: readiness and the API health
/// (the landing page). Called under the lock the completion takes anyway.
pub(super) fn report<T>(st: &mut StoreState, endpoint: Endpoint, fetch: &Fetch<T>, now: f64) {
    let error = fetch.outcome.as_ref().err().map(|e| LastError {
        at: now,
        endpoint: endpoint.as_str(),
        result: e.result().as_str(),
        detail: crate::text::prefix(&e.to_string(), 300).to_owned(),
        request_id: fetch.request_id.clone(),
        not_found: matches!(e, FetchError::Api { code, .. } if *code == ApiCode::NotFound),
    });
    st.record_request(fetch.api_reachable(), error, fetch.clock_skew);
}
