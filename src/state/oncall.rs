//! What the landing page shows beyond counts, kept as it happens so a page request reads
//! a few dozen values instead of walking the intents: each store's latest terminal
//! outcomes and its API health (up, the last error with its `request_id`, clock skew).

use std::collections::VecDeque;

use crate::api::Outcome;
use crate::api::detail::Detail;
use crate::clock::UnixTime;
use crate::config::IntentId;

use super::{IntentState, StoreState};

/// Terminal outcomes remembered per store.
pub const RECENT_OUTCOMES: usize = 50;

/// One terminal outcome, for the page.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub id: IntentId,
    pub order_id: Option<String>,
    pub outcome: Outcome,
    pub at: UnixTime,
    /// A confirmation paid less than asked, as the page says it ("paid 24.50 of 25.00
    /// USDT"): the order must be held although the outcome reads `confirmed`.
    pub short: Option<String>,
}

/// The last failed request of a store.
#[derive(Debug, Clone, PartialEq)]
pub struct LastError {
    /// Unix seconds.
    pub at: f64,
    pub endpoint: &'static str,
    pub result: &'static str,
    /// The error as logged (no secrets: API messages and transport errors only).
    pub detail: String,
    pub request_id: Option<String>,
    /// An answer about one intent (50001, not found), not about the API: the page shows
    /// it apart, so a typo'd id does not read as an outage.
    pub not_found: bool,
}

/// How the store's requests to the API go.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiHealth {
    /// As `allscale_api_up`: `None` before the first request.
    pub up: Option<bool>,
    /// The last error about the API itself (not a not-found intent).
    pub last_error: Option<LastError>,
    /// The last answer that an intent is not found.
    pub last_not_found: Option<LastError>,
    /// The API's clock minus the exporter's, seconds (the latest reading).
    pub clock_skew: Option<f64>,
}

/// The on-call view of a store: its latest outcomes, its API health, and whether it has
/// been polled (readiness).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OnCall {
    /// Oldest first, at most [`RECENT_OUTCOMES`].
    recent: VecDeque<Finished>,
    api: ApiHealth,
    polled_once: bool,
}

impl OnCall {
    /// The latest terminal outcomes, oldest first.
    pub fn recent(&self) -> &VecDeque<Finished> {
        &self.recent
    }

    pub fn api(&self) -> &ApiHealth {
        &self.api
    }

    /// At least one request of the store got an answer or failed.
    pub(super) fn polled_once(&self) -> bool {
        self.polled_once
    }

    /// Remembers a terminal outcome (the oldest of [`RECENT_OUTCOMES`] goes).
    fn push(&mut self, finished: Finished) {
        if self.recent.len() >= RECENT_OUTCOMES {
            self.recent.pop_front();
        }
        self.recent.push_back(finished);
    }

    /// The latest outcomes of `intents` (after a restore).
    fn restore<'a>(&mut self, intents: impl Iterator<Item = (&'a IntentId, &'a IntentState)>) {
        let mut finished: Vec<Finished> = intents
            .filter_map(|(id, i)| {
                let outcome = i.status()?.outcome()?;
                let terminal = i.terminal()?;
                let detail = match &terminal.detail {
                    super::DetailPhase::Fetched(f) => Some(&f.detail),
                    _ => None,
                };
                let short = detail.filter(|_| outcome == Outcome::Confirmed);
                Some(Finished {
                    id: id.clone(),
                    order_id: i.order_id().map(str::to_owned),
                    outcome,
                    at: terminal.at,
                    short: short.and_then(shortfall_note),
                })
            })
            .collect();
        finished.sort_by_key(|f| f.at);
        let skip = finished.len().saturating_sub(RECENT_OUTCOMES);
        self.recent = finished.into_iter().skip(skip).collect();
    }

    /// Marks the remembered outcome of `id` as a confirmation paid short.
    fn mark_short(&mut self, id: &str, detail: &Detail) {
        let latest = self.recent.iter_mut().rev().find(|f| f.id.as_str() == id);
        if let Some(finished) = latest {
            finished.short = shortfall_note(detail);
        }
    }

    /// A request ended: polled, and the API health follows the answer.
    fn record_request(&mut self, up: bool, error: Option<LastError>, clock_skew: Option<f64>) {
        self.polled_once = true;
        self.api.up = Some(up);
        match error {
            Some(e) if e.not_found => self.api.last_not_found = Some(e),
            Some(e) => self.api.last_error = Some(e),
            None => {}
        }
        if clock_skew.is_some() {
            self.api.clock_skew = clock_skew;
        }
    }
}

impl StoreState {
    /// Remembers a terminal outcome of a watched intent.
    pub(super) fn remember_outcome(&mut self, id: &str, outcome: Outcome, at: UnixTime) {
        let Some((id, intent)) = self.intents.get_key_value(id) else {
            return;
        };
        let finished = Finished {
            id: id.clone(),
            order_id: intent.order_id().map(str::to_owned),
            outcome,
            at,
            short: None,
        };
        self.oncall.push(finished);
    }

    /// After a restore: the latest terminal outcomes of the restored intents.
    pub(super) fn remember_restored_outcomes(&mut self) {
        self.oncall.restore(self.intents.all());
    }

    /// A request of the store ended: the store has been polled (readiness), and the
    /// API health follows the answer.
    pub fn record_request(&mut self, up: bool, error: Option<LastError>, clock_skew: Option<f64>) {
        self.oncall.record_request(up, error, clock_skew);
    }

    /// Marks the remembered outcome of `id` as a confirmation paid short.
    pub(super) fn mark_short(&mut self, id: &str, detail: &Detail) {
        self.oncall.mark_short(id, detail);
    }
}

/// "paid 24.50 of 25.00 USDT" when less was paid than asked.
fn shortfall_note(detail: &Detail) -> Option<String> {
    (detail.paid < detail.amount)
        .then(|| format!("paid {} of {} {}", detail.paid, detail.amount, detail.coin))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Status;
    use crate::state::Source;
    use crate::state::tests::{A, HOUR, at, intents};

    #[test]
    fn the_latest_outcomes_are_kept_fifty_at_most() {
        let mut s = StoreState::default();
        s.set_source(Source::Config, &intents(&[A]), HOUR, at(0.0));
        s.observe_status(A, Status::Failed, at(5.0));
        let recent = s.oncall().recent();
        assert_eq!(recent.len(), 1);
        assert_eq!(
            (recent[0].outcome, recent[0].at),
            (Outcome::Failed, at(5.0))
        );
        for n in 0..60 {
            s.remember_outcome(A, Outcome::Confirmed, at(f64::from(n)));
        }
        let recent = s.oncall().recent();
        assert_eq!(recent.len(), RECENT_OUTCOMES);
        assert_eq!(recent.back().unwrap().at, at(59.0));
        s.remember_restored_outcomes();
        let recent = s.oncall().recent();
        assert_eq!(recent.len(), 1, "one intent, one outcome");
        assert_eq!(recent[0].at, at(5.0));
    }
}
