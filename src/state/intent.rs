//! One watched intent: what the API last said of it and where it is in its life, as a
//! [`Phase`] that cannot hold a contradiction (a terminal intent that also expired, a
//! detail both fetched and given up, a webhook check pending on an intent no webhook
//! confirmed). Times are [`UnixTime`]s, milliseconds in 8 bytes.
//!
//! What crosses the storage boundary is the flat [`IntentRow`] (one field per database
//! column): the one place where the typed intent and its stored form meet.

use crate::api::{Status, StatusClass};
use crate::clock::UnixTime;

use super::expiry::{DropReason, Dropped};
use super::money::{DetailGivenUp, Fetched};
use super::{ConfirmedBy, Sources};

/// One watched (or retired) intent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IntentState {
    order_id: Option<Box<str>>,
    /// The last status from a well-formed answer (kept while `not_found`).
    status: Option<Status>,
    added_at: Option<UnixTime>,
    /// When the current status (or not_found) was first seen.
    status_changed_at: Option<UnixTime>,
    last_success_at: Option<UnixTime>,
    /// When the first verified webhook for it arrived (any final phase may have one).
    webhook_at: Option<UnixTime>,
    phase: Phase,
    /// The sources that name it; empty once it left the watch list (retired).
    pub(super) sources: Sources,
    /// The API answered 50001 for the latest poll.
    not_found: bool,
}

/// Where an intent is in its life.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Phase {
    /// Not final: polled for its status.
    #[default]
    Watching,
    /// A terminal status was seen (or a webhook confirmed it); its outcome is counted.
    Terminal(Terminal),
    /// Not terminal `max_watch_age` after it was added; counted once, not polled.
    Expired { at: UnixTime },
    /// Still not found `not_found_ttl` after it was added; counted once, not polled.
    Dropped { reason: DropReason, at: UnixTime },
}

/// A terminal intent: when, who saw the confirmation first, and its detail.
#[derive(Debug, Clone, PartialEq)]
pub struct Terminal {
    pub at: UnixTime,
    pub confirmation: Confirmation,
    pub detail: DetailPhase,
}

/// Who saw a confirmation first (counted then, once).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum Confirmation {
    /// Not recorded: an outcome other than a confirmation, or a build before webhooks.
    #[default]
    Unrecorded,
    /// A status poll; `webhook_missing_at`: when its missing webhook was counted.
    Poll {
        webhook_missing_at: Option<UnixTime>,
    },
    /// A verified webhook; `verify_pending` until a status poll checked it.
    Webhook { verify_pending: bool },
}

/// A terminal intent's detail (`fetch_details`).
#[derive(Debug, Clone, PartialEq)]
pub enum DetailPhase {
    /// Neither counted nor given up; `pending`: to be fetched (not saved: derived again
    /// at start).
    Open { pending: bool },
    /// Fetched and its money counted.
    Fetched(Box<Fetched>),
    /// Given up as malformed: its money is not counted.
    GivenUp(Box<DetailGivenUp>),
}

/// An intent as the storage boundary keeps it: one field per column, every combination
/// representable. [`IntentState::from_row`] reads any row (a contradiction resolves as
/// the first final phase the row names: terminal, expired, dropped).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IntentRow {
    pub sources: Sources,
    pub order_id: Option<String>,
    pub status: Option<Status>,
    pub not_found: bool,
    pub status_changed_at: Option<UnixTime>,
    pub last_success_at: Option<UnixTime>,
    pub terminal_at: Option<UnixTime>,
    pub added_at: Option<UnixTime>,
    pub expired_at: Option<UnixTime>,
    pub dropped: Option<Dropped>,
    pub confirmed_by: Option<ConfirmedBy>,
    pub webhook_at: Option<UnixTime>,
    pub verify_pending: bool,
    pub webhook_missing_at: Option<UnixTime>,
    pub fetched: Option<Box<Fetched>>,
    pub detail_given_up: Option<Box<DetailGivenUp>>,
}

impl IntentState {
    /// A new intent, added `now`.
    pub(super) fn added(now: UnixTime) -> Self {
        Self {
            added_at: Some(now),
            ..Self::default()
        }
    }

    /// Takes what another replica committed of this intent (`theirs`) where it is further
    /// along: it reached a final phase while this one still watches it, or it saw a newer
    /// status. The sources stay this process's own. Nothing is counted: the replica that
    /// saw it counted it. Whether it was taken.
    pub(super) fn adopt(&mut self, theirs: &IntentState) -> bool {
        let further = match (&self.phase, &theirs.phase) {
            (Phase::Watching, Phase::Watching) => theirs.status_changed_at > self.status_changed_at,
            (Phase::Watching, _) => true,
            _ => false,
        };
        if further {
            let sources = self.sources;
            *self = IntentState {
                sources,
                ..theirs.clone()
            };
        }
        further
    }

    /// The intent a stored row describes.
    pub fn from_row(row: IntentRow) -> Self {
        let phase = if let Some(at) = row.terminal_at {
            let confirmation = match row.confirmed_by {
                None => Confirmation::Unrecorded,
                Some(ConfirmedBy::Poll) => Confirmation::Poll {
                    webhook_missing_at: row.webhook_missing_at,
                },
                Some(ConfirmedBy::Webhook) => Confirmation::Webhook {
                    verify_pending: row.verify_pending,
                },
            };
            let detail = match (row.fetched, row.detail_given_up) {
                (Some(fetched), _) => DetailPhase::Fetched(fetched),
                (None, Some(given_up)) => DetailPhase::GivenUp(given_up),
                (None, None) => DetailPhase::Open { pending: false },
            };
            Phase::Terminal(Terminal {
                at,
                confirmation,
                detail,
            })
        } else if let Some(at) = row.expired_at {
            Phase::Expired { at }
        } else if let Some(Dropped { reason, at }) = row.dropped {
            Phase::Dropped { reason, at }
        } else {
            Phase::Watching
        };
        Self {
            order_id: row.order_id.map(String::into_boxed_str),
            status: row.status,
            added_at: row.added_at,
            status_changed_at: row.status_changed_at,
            last_success_at: row.last_success_at,
            webhook_at: row.webhook_at.filter(|_| phase != Phase::Watching),
            phase,
            sources: row.sources,
            not_found: row.not_found,
        }
    }

    /// The intent as a stored row.
    pub fn row(&self) -> IntentRow {
        let mut row = IntentRow {
            sources: self.sources,
            order_id: self.order_id.as_deref().map(str::to_owned),
            status: self.status,
            not_found: self.not_found,
            status_changed_at: self.status_changed_at,
            last_success_at: self.last_success_at,
            added_at: self.added_at,
            webhook_at: self.webhook_at,
            ..IntentRow::default()
        };
        match &self.phase {
            Phase::Watching => {}
            Phase::Expired { at } => row.expired_at = Some(*at),
            Phase::Dropped { reason, at } => {
                row.dropped = Some(Dropped {
                    reason: *reason,
                    at: *at,
                });
            }
            Phase::Terminal(t) => {
                row.terminal_at = Some(t.at);
                match t.confirmation {
                    Confirmation::Unrecorded => {}
                    Confirmation::Poll { webhook_missing_at } => {
                        row.confirmed_by = Some(ConfirmedBy::Poll);
                        row.webhook_missing_at = webhook_missing_at;
                    }
                    Confirmation::Webhook { verify_pending } => {
                        row.confirmed_by = Some(ConfirmedBy::Webhook);
                        row.verify_pending = verify_pending;
                    }
                }
                match &t.detail {
                    DetailPhase::Open { .. } => {}
                    DetailPhase::Fetched(f) => row.fetched = Some(f.clone()),
                    DetailPhase::GivenUp(g) => row.detail_given_up = Some(g.clone()),
                }
            }
        }
        row
    }

    /// The sources that name it; empty once it left the watch list (retired).
    pub fn sources(&self) -> Sources {
        self.sources
    }

    pub fn order_id(&self) -> Option<&str> {
        self.order_id.as_deref()
    }

    pub fn status(&self) -> Option<Status> {
        self.status
    }

    pub fn not_found(&self) -> bool {
        self.not_found
    }

    pub fn added_at(&self) -> Option<UnixTime> {
        self.added_at
    }

    pub fn status_changed_at(&self) -> Option<UnixTime> {
        self.status_changed_at
    }

    pub fn last_success_at(&self) -> Option<UnixTime> {
        self.last_success_at
    }

    pub fn webhook_at(&self) -> Option<UnixTime> {
        self.webhook_at
    }

    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// When a terminal status was first seen (the outcome was counted then).
    pub fn terminal_at(&self) -> Option<UnixTime> {
        self.terminal().map(|t| t.at)
    }

    pub fn terminal(&self) -> Option<&Terminal> {
        match &self.phase {
            Phase::Terminal(t) => Some(t),
            _ => None,
        }
    }

    pub(super) fn terminal_mut(&mut self) -> Option<&mut Terminal> {
        match &mut self.phase {
            Phase::Terminal(t) => Some(t),
            _ => None,
        }
    }

    /// The aggregate label this intent counts under, if it has had an answer.
    pub fn class(&self) -> Option<StatusClass> {
        if self.not_found {
            Some(StatusClass::NotFound)
        } else {
            self.status.map(Status::class)
        }
    }

    pub fn is_terminal(&self) -> bool {
        matches!(self.phase, Phase::Terminal(_))
    }

    /// Expired or dropped: not polled again, like a terminal intent.
    pub fn is_given_up(&self) -> bool {
        matches!(self.phase, Phase::Expired { .. } | Phase::Dropped { .. })
    }

    /// Terminal or given up: never polled again.
    pub fn is_final(&self) -> bool {
        self.phase != Phase::Watching
    }

    /// When the intent became final, if it did (retirement counts from then).
    pub fn final_at(&self) -> Option<UnixTime> {
        match &self.phase {
            Phase::Watching => None,
            Phase::Terminal(t) => Some(t.at),
            Phase::Expired { at } | Phase::Dropped { at, .. } => Some(*at),
        }
    }

    /// The status class `/metrics` and `/` count it under: none once given up.
    pub fn shown_class(&self) -> Option<StatusClass> {
        self.class().filter(|_| !self.is_given_up())
    }

    /// Confirmed by a webhook and not yet checked by a status poll.
    pub fn verify_pending(&self) -> bool {
        self.terminal().is_some_and(|t| {
            t.confirmation
                == Confirmation::Webhook {
                    verify_pending: true,
                }
        })
    }

    /// Terminal and its detail still to be fetched.
    pub fn detail_pending(&self) -> bool {
        self.terminal()
            .is_some_and(|t| t.detail == DetailPhase::Open { pending: true })
    }

    /// Polled: not final, or confirmed by a webhook and not yet checked by a poll, or
    /// its detail still to be fetched.
    pub fn is_pollable(&self) -> bool {
        self.needs_status() || self.detail_pending()
    }

    /// Its next request is a status poll (else, if pollable, its detail fetch).
    pub fn needs_status(&self) -> bool {
        !self.is_final() || self.verify_pending()
    }

    /// Terminal, its detail neither counted nor given up yet: one is to be fetched.
    pub fn wants_detail(&self) -> bool {
        self.terminal()
            .is_some_and(|t| matches!(t.detail, DetailPhase::Open { .. }))
    }

    /// Records a status answer (`None`: not found) seen `now`.
    pub(super) fn answer(&mut self, status: Option<Status>, now: UnixTime) {
        match status {
            Some(status) => {
                self.not_found = false;
                self.status = Some(status);
                self.last_success_at = Some(now);
            }
            None => self.not_found = true,
        }
    }

    pub(super) fn set_status_changed_at(&mut self, at: UnixTime) {
        self.status_changed_at = Some(at);
    }

    pub(super) fn set_order_id(&mut self, order_id: &str) {
        self.order_id = Some(order_id.into());
    }

    /// Becomes final as `phase` (only from [`Phase::Watching`]).
    pub(super) fn finish(&mut self, phase: Phase) {
        debug_assert!(self.phase == Phase::Watching);
        self.phase = phase;
    }

    /// A webhook confirmed it `now`: terminal, confirmed, to be checked by a poll.
    pub(super) fn confirm_by_webhook(&mut self, now: UnixTime) {
        self.not_found = false;
        self.status = Some(Status::Confirmed);
        self.status_changed_at = Some(now);
        self.phase = Phase::Terminal(Terminal {
            at: now,
            confirmation: Confirmation::Webhook {
                verify_pending: true,
            },
            detail: DetailPhase::Open { pending: false },
        });
    }

    pub(super) fn note_webhook(&mut self, now: UnixTime) {
        self.webhook_at.get_or_insert(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every phase goes through its row and back unchanged.
    #[test]
    fn rows_read_back_as_the_intent() {
        let t = UnixTime::from_secs(1_000);
        let mut sources = Sources::default();
        sources.insert(super::super::Source::Api);
        let base = IntentState {
            order_id: Some("o-1".into()),
            status: Some(Status::Confirmed),
            added_at: Some(t),
            status_changed_at: Some(t),
            last_success_at: Some(t),
            sources,
            ..IntentState::default()
        };
        let phases = [
            Phase::Watching,
            Phase::Expired { at: t },
            Phase::Dropped {
                reason: DropReason::NotFound,
                at: t,
            },
            Phase::Terminal(Terminal {
                at: t,
                confirmation: Confirmation::Poll {
                    webhook_missing_at: Some(t),
                },
                detail: DetailPhase::GivenUp(Box::new(DetailGivenUp {
                    at: t,
                    request_id: Some("r".into()),
                })),
            }),
            Phase::Terminal(Terminal {
                at: t,
                confirmation: Confirmation::Webhook {
                    verify_pending: true,
                },
                detail: DetailPhase::Open { pending: false },
            }),
        ];
        for phase in phases {
            let intent = IntentState {
                webhook_at: (phase != Phase::Watching).then_some(t),
                phase,
                ..base.clone()
            };
            assert_eq!(IntentState::from_row(intent.row()), intent);
        }
    }

    /// A row naming two final phases reads as the first; a watching intent has no
    /// webhook time.
    #[test]
    fn contradictory_rows_read_as_one_phase() {
        let t = UnixTime::from_secs(5);
        let row = IntentRow {
            terminal_at: Some(t),
            expired_at: Some(t),
            ..IntentRow::default()
        };
        assert!(IntentState::from_row(row).is_terminal());
        let row = IntentRow {
            webhook_at: Some(t),
            verify_pending: true,
            ..IntentRow::default()
        };
        let intent = IntentState::from_row(row);
        assert_eq!((intent.webhook_at(), intent.needs_status()), (None, true));
        assert!(!intent.verify_pending());
    }

    /// What an intent costs in memory: it is held once per watched intent.
    #[test]
    fn an_intent_stays_small() {
        assert!(
            std::mem::size_of::<IntentState>() <= 112,
            "{}",
            std::mem::size_of::<IntentState>()
        );
    }
}
