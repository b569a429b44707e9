//! A store's counters, twice: the live ones, as observations change them, and the
//! exported ones, what `/metrics` shows with a state file: the live ones as of the last
//! commit (write-ahead), so a value Prometheus has scraped is never above what a restart
//! restores.

use std::collections::BTreeMap;

use super::{DropReason, Money, TimeToOutcome, WebhookCounts};
use crate::api::{Outcome, StatusClass};
use crate::clock::UnixTime;

/// A store's outcome, time-to-outcome, transition, expiry, drop, webhook and money
/// counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub terminal_total: BTreeMap<Outcome, u64>,
    pub transitions: BTreeMap<(StatusClass, StatusClass), u64>,
    pub expired_total: u64,
    pub dropped_total: BTreeMap<DropReason, u64>,
    pub webhooks: WebhookCounts,
    pub money: Money,
    pub time_to_outcome: TimeToOutcome,
}

impl Counts {
    /// Every outcome and drop reason at 0.
    fn zero() -> Self {
        Self {
            terminal_total: Outcome::ALL.into_iter().map(|o| (o, 0)).collect(),
            dropped_total: DropReason::ALL.into_iter().map(|r| (r, 0)).collect(),
            time_to_outcome: TimeToOutcome::zero(),
            ..Self::default()
        }
    }

    /// An intent created at `created` reached `outcome` at `at`: counted, and its time
    /// to outcome observed, once in its life.
    pub(super) fn outcome(&mut self, outcome: Outcome, created: UnixTime, at: UnixTime) {
        *self.terminal_total.entry(outcome).or_insert(0) += 1;
        self.time_to_outcome.record(outcome, created, at);
    }

    pub(super) fn transition(&mut self, from: StatusClass, to: StatusClass) {
        *self.transitions.entry((from, to)).or_insert(0) += 1;
    }

    pub(super) fn dropped(&mut self, reason: DropReason) {
        *self.dropped_total.entry(reason).or_insert(0) += 1;
    }
}

/// The live counters and the exported ones.
#[derive(Debug, Clone, PartialEq)]
pub struct Counters {
    live: Counts,
    exported: Counts,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            live: Counts::zero(),
            exported: Counts::zero(),
        }
    }
}

impl Counters {
    /// As observations change them.
    pub fn live(&self) -> &Counts {
        &self.live
    }

    /// As last committed.
    #[cfg(test)]
    pub(super) fn exported(&self) -> &Counts {
        &self.exported
    }

    /// What `/metrics` shows: the exported counters when they are written ahead (a state
    /// file is written), else the live ones.
    pub fn shown(&self, write_ahead: bool) -> &Counts {
        if write_ahead {
            &self.exported
        } else {
            &self.live
        }
    }

    pub(super) fn live_mut(&mut self) -> &mut Counts {
        &mut self.live
    }

    /// `counts` (taken live for a batch) are committed: they are exported now.
    pub(super) fn committed(&mut self, counts: Counts) {
        self.exported = counts;
    }

    /// The live counters are exported as they are (write-ahead turned on).
    pub(super) fn export_live(&mut self) {
        self.exported = self.live.clone();
    }

    /// Restores saved counters, live and exported.
    pub(super) fn restore(&mut self, saved: Counts) {
        let live = &mut self.live;
        live.terminal_total.extend(saved.terminal_total);
        live.transitions.extend(saved.transitions);
        live.expired_total = saved.expired_total;
        live.dropped_total.extend(saved.dropped_total);
        live.webhooks = saved.webhooks;
        live.money = saved.money;
        live.time_to_outcome.extend(saved.time_to_outcome);
        self.export_live();
    }
}
