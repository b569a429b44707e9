//! The refresh loop every pull source shares: fetch a round, apply the list when it
//! changed (this replica's shard of it, as the source's part of the watch list), count
//! and log problems, record successes; then wait for the next round. Each source
//! implements only [`Fetch`]: how to wait and how to fetch (in the style of vector's
//! sources).

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::IntentConfig;
use crate::metrics::SourceRecorder;
use crate::shard::Shard;
use crate::state::{Source, State, StoreHandle};

/// Distinct problems remembered as logged; past this the memory is cleared (and a
/// problem that persists is logged once more).
const MAX_LOGGED: usize = 10_000;

/// A problem found in a round. Each is counted in `allscale_exporter_source_errors_total`;
/// problems with the same `key` are the same problem, logged once until the source is
/// clean again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub key: String,
    pub message: String,
}

/// What one round found.
#[derive(Debug, Default)]
pub(crate) struct Round {
    /// The source's whole list, when it may have changed (not yet filtered by shard).
    pub list: Option<Vec<IntentConfig>>,
    pub problems: Vec<Problem>,
    /// Every part of the source read cleanly: its last success is now.
    pub clean: bool,
}

/// A source's own part: waiting for the next round and fetching it.
pub(crate) trait Fetch: Send {
    /// Resolves when the next round is due (a timer, a file event).
    fn next(&mut self) -> impl Future<Output = ()> + Send;
    /// Fetches a round.
    fn fetch(&mut self) -> impl Future<Output = Round> + Send;
}

/// Where a source's list goes: one store's watch list, as `source`.
#[derive(Clone)]
pub(crate) struct Target {
    pub handle: StoreHandle,
    pub source: Source,
    pub shard: Shard,
    pub recorder: SourceRecorder,
    pub state: Arc<State>,
    pub clock: Clock,
}

impl Target {
    /// Makes `list` (this replica's shard of it) the source's part of the watch list.
    pub(crate) fn apply(&self, list: &[IntentConfig]) {
        let owned: Vec<IntentConfig>;
        let list = if self.shard.count > 1 {
            owned = list
                .iter()
                .filter(|i| self.shard.owns(i.id.as_str()))
                .cloned()
                .collect();
            &owned
        } else {
            list
        };
        let retention = self.state.terminal_retention();
        let now = self.clock.now();
        self.handle
            .edit_watch_list(false, |st| st.set_source(self.source, list, retention, now));
    }

    fn scope(&self) -> (&str, &'static str) {
        (&self.handle.name, self.source.as_str())
    }
}

/// Runs rounds until `stop` flips: the first at once, then whenever `fetch` says.
pub(crate) async fn run<F: Fetch>(mut fetch: F, target: &Target, mut stop: watch::Receiver<bool>) {
    let mut logged: HashSet<String> = HashSet::new();
    let mut applied: Option<Vec<IntentConfig>> = None;
    loop {
        let round = tokio::select! {
            _ = crate::stopped(&mut stop) => return,
            round = fetch.fetch() => round,
        };
        if let Some(list) = round.list
            && applied.as_ref() != Some(&list)
        {
            target.apply(&list);
            applied = Some(list);
        }
        report(target, &round.problems, round.clean, &mut logged);
        tokio::select! {
            _ = crate::stopped(&mut stop) => return,
            () = fetch.next() => {}
        }
    }
}

/// Counts the round's problems, logs the new ones, and records a clean round.
fn report(target: &Target, problems: &[Problem], clean: bool, logged: &mut HashSet<String>) {
    let (store, source) = target.scope();
    if logged.len() > MAX_LOGGED {
        logged.clear();
    }
    for problem in problems {
        target.recorder.failed();
        if logged.insert(problem.key.clone()) {
            tracing::warn!(
                store,
                source,
                problem = %problem.message,
                "intent source problem; its last good list stays watched"
            );
        }
    }
    if clean {
        target.recorder.succeeded(target.clock.now().as_secs_f64());
        if !logged.is_empty() {
            tracing::info!(store, source, "intent source recovered");
            logged.clear();
        }
    }
}
