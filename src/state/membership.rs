//! The watch list: an intent is watched while at least one source names it (the config,
//! a file, the HTTP list, a registration through the API). Each source replaces or edits
//! only its own part; an intent no source names any more leaves the watch list (retired
//! when final, so that put back it is neither polled nor counted again).
//!
//! Every change marks the intent dirty for the state database, and is queued for the
//! store's poller (which schedules new intents without rescanning the watch list).

use std::collections::HashMap;
use std::time::Duration;

use super::StoreState;
use crate::clock::UnixTime;
use crate::config::{IntentConfig, IntentId};

/// Where a watched intent comes from: the `source` label of the source metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// The `intents` list of the store in the config file.
    Config,
    /// A file of `intent_sources.files`.
    File,
    /// The list `intent_sources.http` serves.
    Http,
    /// A registration through `POST /api/v1/intents`.
    Api,
    /// A verified webhook for an intent no other source named.
    Webhook,
}

impl Source {
    pub const ALL: [Source; 5] = [
        Source::Config,
        Source::File,
        Source::Http,
        Source::Api,
        Source::Webhook,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Config => "config",
            Source::File => "file",
            Source::Http => "http",
            Source::Api => "api",
            Source::Webhook => "webhook",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// The sources that name an intent (a bit set; kept as an integer in the database).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sources(u8);

impl Sources {
    pub fn contains(self, source: Source) -> bool {
        self.0 & source.bit() != 0
    }

    pub fn insert(&mut self, source: Source) {
        self.0 |= source.bit();
    }

    pub fn remove(&mut self, source: Source) {
        self.0 &= !source.bit();
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Source> {
        Source::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    pub fn bits(self) -> u8 {
        self.0
    }

    /// The set stored as `bits`; unknown bits (a later version's sources) are dropped.
    pub fn from_bits(bits: i64) -> Self {
        let known = Source::ALL.iter().fold(0, |all, s| all | s.bit());
        Self(u8::try_from(bits & i64::from(known)).unwrap_or(0))
    }

    /// The names, comma-separated (`config,api`), for answers and logs.
    pub fn names(self) -> String {
        self.iter()
            .map(Source::as_str)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// What a registration did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Registered {
    /// Intents that were not watched before.
    pub registered: usize,
    /// Intents some source (this API included) already watched.
    pub already_watched: usize,
}

/// What removing a registration found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unregistered {
    /// The registration is gone; `still_watched` by the other sources that name it.
    Removed { still_watched: Sources },
    /// Watched, but not through the API: only those sources can remove it.
    NotRegistered(Sources),
    /// Not watched at all.
    NotWatched,
}

/// Changes to the watch list the store's poller has not taken yet. Past
/// [`Delta::MAX`] entries it collapses into "rescan everything", so a store whose poller
/// is not running (or is slow to take them) does not grow it without bound.
#[derive(Debug, Default)]
pub enum Delta {
    #[default]
    Empty,
    Changed(Vec<IntentId>),
    Rescan,
}

impl Delta {
    const MAX: usize = 100_000;

    pub(super) fn push(&mut self, id: &IntentId) {
        match self {
            Delta::Empty => *self = Delta::Changed(vec![id.clone()]),
            Delta::Changed(ids) if ids.len() < Self::MAX => ids.push(id.clone()),
            Delta::Changed(_) => *self = Delta::Rescan,
            Delta::Rescan => {}
        }
    }
}

impl StoreState {
    /// Makes `source`'s part of the watch list exactly `intents`: intents it no longer
    /// names lose it (and leave the watch list if no other source names them), new ones
    /// are added `now`. Retired intents past `retention` are forgotten.
    pub fn set_source(
        &mut self,
        source: Source,
        intents: &[IntentConfig],
        retention: Duration,
        now: UnixTime,
    ) {
        let wanted: HashMap<&IntentId, Option<&String>> = intents
            .iter()
            .map(|i| (&i.id, i.order_id.as_ref()))
            .collect();
        for id in self.intents.named_by(source, |id| wanted.contains_key(id)) {
            self.intents.leave(&id, source);
        }
        for (id, order_id) in wanted {
            self.intents
                .watch(id, source, order_id.map(String::as_str), now);
        }
        self.intents.forget_retired(retention, now);
    }

    /// Adds `intents` through the API, all or none: refused (`Err(watched)`) when the new
    /// ones would take the store past `max_intents` watched.
    pub fn register(
        &mut self,
        intents: &[IntentConfig],
        max_intents: usize,
        now: UnixTime,
    ) -> Result<Registered, usize> {
        let mut new: Vec<&IntentId> = intents
            .iter()
            .map(|i| &i.id)
            .filter(|id| self.intents.get(id.as_str()).is_none())
            .collect();
        new.sort_unstable();
        new.dedup();
        let watched = self.intents.len();
        if watched.saturating_add(new.len()) > max_intents {
            return Err(watched);
        }
        for intent in intents {
            let order_id = intent.order_id.as_deref();
            self.intents.watch(&intent.id, Source::Api, order_id, now);
        }
        Ok(Registered {
            registered: new.len(),
            already_watched: intents.len() - new.len(),
        })
    }

    /// Removes the API's registration of `id`.
    pub fn unregister(&mut self, id: &IntentId) -> Unregistered {
        let Some(intent) = self.intents.get(id.as_str()) else {
            return Unregistered::NotWatched;
        };
        if !intent.sources.contains(Source::Api) {
            return Unregistered::NotRegistered(intent.sources);
        }
        self.intents.leave(id, Source::Api);
        let still_watched = self
            .intents
            .get(id.as_str())
            .map(|i| i.sources)
            .unwrap_or_default();
        Unregistered::Removed { still_watched }
    }

    /// Watched intents named by `source`.
    pub fn source_count(&self, source: Source) -> usize {
        self.intents
            .iter()
            .filter(|(_, i)| i.sources.contains(source))
            .count()
    }

    /// Takes the watch-list changes queued for the poller.
    pub fn take_delta(&mut self) -> Delta {
        self.intents.take_delta()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Status;
    use crate::state::tests::{A, B, HOUR, at, intents};

    fn id(text: &str) -> IntentId {
        IntentId::parse(text).unwrap()
    }

    #[test]
    fn an_intent_is_watched_while_any_source_names_it() {
        let mut s = StoreState::default();
        s.set_source(Source::Config, &intents(&[A, B]), HOUR, at(0.0));
        s.set_source(Source::File, &intents(&[A]), HOUR, at(1.0));
        assert_eq!(s.intent(A).unwrap().sources.names(), "config,file");
        assert_eq!(
            s.intent(A).unwrap().added_at(),
            Some(at(0.0)),
            "added once, by the first"
        );
        s.observe_status(B, Status::Failed, at(2.0));
        s.set_source(Source::Config, &[], HOUR, at(3.0));
        assert_eq!(s.intents.len(), 1, "A stays, named by the file");
        assert_eq!(s.intents.retired_len(), 1, "B is final: retired");
        s.set_source(Source::File, &[], HOUR, at(4.0));
        assert!(s.intents.is_empty());
        assert!(s.intents.retired(B).is_some() && s.intents.retired(A).is_none());
        assert_eq!(s.source_count(Source::File), 0);
        assert!(s.intents.is_dirty(A) && s.intents.is_dirty(B));
    }

    #[test]
    fn a_registration_is_all_or_none_and_counts_what_was_already_watched() {
        let mut s = StoreState::default();
        s.set_source(Source::Config, &intents(&[A]), HOUR, at(0.0));
        let c = "cccccccccccccccccccccccc";
        assert_eq!(s.register(&intents(&[A, B, c]), 2, at(1.0)), Err(1));
        assert_eq!(s.intents.len(), 1, "nothing applied");
        let got = s.register(&intents(&[A, B, B]), 2, at(1.0)).unwrap();
        assert_eq!(
            got,
            Registered {
                registered: 1,
                already_watched: 2
            }
        );
        assert_eq!(s.intent(A).unwrap().sources.names(), "config,api");
        assert_eq!(
            s.register(&intents(&[B]), 2, at(2.0)).unwrap().registered,
            0
        );
        assert_eq!(
            s.intent(B).unwrap().added_at(),
            Some(at(1.0)),
            "a second registration is a no-op"
        );
    }

    #[test]
    fn unregistering_removes_only_the_api_s_part() {
        let mut s = StoreState::default();
        s.set_source(Source::Config, &intents(&[A]), HOUR, at(0.0));
        s.register(&intents(&[A, B]), 10, at(0.0)).unwrap();
        assert_eq!(
            s.unregister(&id(A)),
            Unregistered::Removed {
                still_watched: Sources::from_bits(1)
            }
        );
        assert_eq!(
            s.unregister(&id(A)),
            Unregistered::NotRegistered(Sources::from_bits(1))
        );
        assert!(
            matches!(s.unregister(&id(B)), Unregistered::Removed { still_watched } if still_watched.is_empty())
        );
        assert_eq!(s.unregister(&id(B)), Unregistered::NotWatched);
        assert!(s.intent(B).is_none());
    }

    #[test]
    fn the_poller_s_delta_collapses_into_a_rescan_when_it_grows_too_long() {
        let mut s = StoreState::default();
        s.set_source(Source::Api, &intents(&[A]), HOUR, at(0.0));
        assert!(matches!(s.take_delta(), Delta::Changed(ids) if ids == [id(A)]));
        assert!(matches!(s.take_delta(), Delta::Empty));
        let mut d = Delta::Empty;
        for _ in 0..=Delta::MAX {
            d.push(&id(A));
        }
        assert!(matches!(d, Delta::Rescan));
    }

    #[test]
    fn unknown_source_bits_are_dropped() {
        assert_eq!(
            Sources::from_bits(0xff).names(),
            "config,file,http,api,webhook"
        );
        assert!(Sources::from_bits(-1).bits() != 0);
        assert!(Sources::from_bits(0x100).is_empty());
        assert!(Sources::from_bits(0x40).is_empty());
    }
}
