//! A store's intents with the indexes kept over them: the watched and the retired ones,
//! the board (`board`), the dirty set (rows the state database has yet to get) and the
//! poller's delta (watch-list changes it has yet to take). Every change goes through the
//! methods here, which keep the indexes in step; nothing else reaches the maps.

use std::collections::hash_map::Entry;
use std::time::Duration;

use super::board::{Board, Place};
use super::membership::Delta;
use super::{IntentMap, IntentSet, IntentState, Source};
use crate::clock::UnixTime;
use crate::config::IntentId;

/// The intents of one store and their indexes.
#[derive(Debug, Default)]
pub struct Intents {
    watched: IntentMap<IntentState>,
    /// Final (terminal or given-up) intents removed from the watch list, remembered for
    /// `terminal_retention`.
    retired: IntentMap<IntentState>,
    board: Board,
    /// Intents (watched, retired or forgotten) whose saved row is out of date.
    dirty: IntentSet,
    delta: Delta,
}

/// Whether a change makes the intent's saved row out of date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Save {
    Row,
    Skip,
}

impl Intents {
    /// A watched intent.
    pub fn get(&self, id: &str) -> Option<&IntentState> {
        self.watched.get(id)
    }

    /// A watched intent with its id.
    pub(super) fn get_key_value(&self, id: &str) -> Option<(&IntentId, &IntentState)> {
        self.watched.get_key_value(id)
    }

    /// A retired intent (final, no source names it any more).
    pub fn retired(&self, id: &str) -> Option<&IntentState> {
        self.retired.get(id)
    }

    /// Watched intents.
    pub fn len(&self) -> usize {
        self.watched.len()
    }

    pub fn is_empty(&self) -> bool {
        self.watched.is_empty()
    }

    #[cfg(test)]
    pub(super) fn retired_len(&self) -> usize {
        self.retired.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&IntentId, &IntentState)> {
        self.watched.iter()
    }

    pub fn board(&self) -> &Board {
        &self.board
    }

    /// Whether `id`'s saved row is out of date.
    #[cfg(test)]
    pub(super) fn is_dirty(&self, id: &str) -> bool {
        self.dirty.contains(id)
    }

    /// The intents whose saved row is out of date.
    #[cfg(test)]
    pub(super) fn dirty(&self) -> &IntentSet {
        &self.dirty
    }

    /// How many saved rows are out of date.
    #[cfg(test)]
    pub(super) fn dirty_len(&self) -> usize {
        self.dirty.len()
    }

    /// Changes the watched intent `id` through `change`, keeping the board in step and
    /// marking its row dirty when `change` says so; `None` when it is not watched.
    pub(super) fn update<R>(
        &mut self,
        id: &str,
        change: impl FnOnce(&mut IntentState) -> (R, Save),
    ) -> Option<R> {
        let intent = self.watched.get_mut(id)?;
        let before = Place::of(intent);
        let (result, save) = change(intent);
        let after = Place::of(intent);
        if before != after || save == Save::Row {
            let key = self.watched.get_key_value(id).map(|(k, _)| k.clone())?;
            self.board.shift(&key, before, after);
            if save == Save::Row {
                self.dirty.insert(key);
            }
        }
        Some(result)
    }

    /// Changes every watched intent through `change` (the board does not move: only
    /// what it does not show may change); marks the poller's delta for a rescan.
    pub(super) fn update_all(&mut self, mut change: impl FnMut(&mut IntentState)) {
        for intent in self.watched.values_mut() {
            change(intent);
        }
        self.delta = Delta::Rescan;
    }

    /// Queues `id` for the poller (its pollability changed outside a status answer).
    pub(super) fn touch(&mut self, id: &IntentId) {
        self.delta.push(id);
    }

    /// Adds `source` to `id` (watching it if it was not): from the retired intents when
    /// it is one, else new and added `now`. A source that gives an order id sets it.
    pub(super) fn watch(
        &mut self,
        id: &IntentId,
        source: Source,
        order_id: Option<&str>,
        now: UnixTime,
    ) {
        let mut joined = false;
        let intent = match self.watched.entry(id.clone()) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                self.delta.push(id);
                joined = true;
                e.insert(
                    self.retired
                        .remove(id.as_str())
                        .unwrap_or_else(|| IntentState::added(now)),
                )
            }
        };
        let changed = !intent.sources.contains(source)
            || (order_id.is_some() && intent.order_id() != order_id);
        intent.sources.insert(source);
        if let Some(order_id) = order_id {
            intent.set_order_id(order_id);
        }
        if joined {
            self.board.shift(id, Place::NONE, Place::of(intent));
        }
        if changed {
            self.dirty.insert(id.clone());
        }
    }

    /// Takes `source` off `id`; with no source left it leaves the watch list (retired
    /// when final, forgotten otherwise).
    pub(super) fn leave(&mut self, id: &IntentId, source: Source) {
        let Some(intent) = self.watched.get_mut(id) else {
            return;
        };
        intent.sources.remove(source);
        self.dirty.insert(id.clone());
        if !intent.sources.is_empty() {
            return;
        }
        self.delta.push(id);
        let Some(intent) = self.watched.remove(id) else {
            return;
        };
        self.board.shift(id, Place::of(&intent), Place::NONE);
        if intent.is_final() {
            self.retired.insert(id.clone(), intent);
        }
    }

    /// The watched intents `source` names and `keep` does not.
    pub(super) fn named_by(
        &self,
        source: Source,
        keep: impl Fn(&IntentId) -> bool,
    ) -> Vec<IntentId> {
        self.watched
            .iter()
            .filter(|(id, i)| i.sources.contains(source) && !keep(id))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Forgets retired intents that became final `retention` or longer before `now`.
    pub(super) fn forget_retired(&mut self, retention: Duration, now: UnixTime) {
        let dirty = &mut self.dirty;
        self.retired.retain(|id, i| {
            let keep = i.final_at().is_some_and(|t| now.since(t) < retention);
            if !keep {
                dirty.insert(id.clone());
            }
            keep
        });
    }

    /// Takes the watch-list changes queued for the poller.
    pub(super) fn take_delta(&mut self) -> Delta {
        std::mem::take(&mut self.delta)
    }

    /// Takes the dirty rows: each intent as it is now (`None`: forgotten).
    pub(super) fn take_dirty(&mut self) -> Vec<(IntentId, Option<IntentState>)> {
        std::mem::take(&mut self.dirty)
            .into_iter()
            .map(|id| {
                let row = self.watched.get(&id).or_else(|| self.retired.get(&id));
                let row = row.cloned();
                (id, row)
            })
            .collect()
    }

    /// Marks rows dirty again (a commit that failed).
    pub(super) fn mark_dirty(&mut self, ids: impl IntoIterator<Item = IntentId>) {
        self.dirty.extend(ids);
    }

    /// Every row dirty: a new database gets the whole state.
    pub(super) fn mark_all_dirty(&mut self) {
        let all = self.watched.keys().chain(self.retired.keys()).cloned();
        self.dirty.extend(all);
    }

    /// Nothing will take the dirty rows (no database to write).
    pub(super) fn discard_dirty(&mut self) {
        self.dirty = IntentSet::default();
    }

    /// Restores a saved intent as watched; its row is dirty unless it comes back as saved.
    pub(super) fn restore_watched(&mut self, id: IntentId, intent: IntentState, unchanged: bool) {
        if unchanged {
            self.dirty.remove(&id);
        } else {
            self.dirty.insert(id.clone());
        }
        self.watched.insert(id, intent);
    }

    /// Restores a saved final intent as retired.
    pub(super) fn restore_retired(&mut self, id: IntentId, intent: IntentState, unchanged: bool) {
        if !unchanged {
            self.dirty.insert(id.clone());
        }
        self.retired.insert(id, intent);
    }

    /// A saved intent nobody names any more: its row goes.
    pub(super) fn forget_saved(&mut self, id: IntentId) {
        self.dirty.insert(id);
    }

    /// The board made again from every watched intent (after a restore).
    pub(super) fn rebuild_board(&mut self) {
        self.board = Board::of(self.watched.iter());
    }

    /// Watched and retired intents, for what is derived from them after a restore.
    pub(super) fn all(&self) -> impl Iterator<Item = (&IntentId, &IntentState)> {
        self.watched.iter().chain(self.retired.iter())
    }
}
