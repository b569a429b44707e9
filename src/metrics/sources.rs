//! Source metrics (issue #13 point 6): per store and `source` (config, file, http, api),
//! the watched intents each names, its last success and its errors.
//!
//! Which series exist: `config` for every store of the running config; `file` and `http`
//! while the store has that source configured (its task holds a [`SourceRecorder`]);
//! `api` once the registration API answered a request for the store (accepted or
//! refused after naming it) or while some intent of the store is registered. A recorder's counts are kept when it is dropped and continue if
//! one is made again, so `allscale_exporter_source_errors_total` never goes backwards.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Family, escape, header, store_sample};
use crate::state::{Source, State};

const SOURCE_INTENTS: Family = Family {
    name: "allscale_exporter_source_intents",
    kind: "gauge",
    help: "Watched intents the source names (config, file, http, api); an intent named by several counts under each.",
};
const SOURCE_LAST_SUCCESS: Family = Family {
    name: "allscale_exporter_source_last_success_timestamp_seconds",
    kind: "gauge",
    help: "Unix time the source last read cleanly (config: a load; file: every file of the store; http: a 200 or 304; api: an accepted registration); absent until then.",
};
const SOURCE_ERRORS: Family = Family {
    name: "allscale_exporter_source_errors_total",
    kind: "counter",
    help: "Failed reads of the source (config: failed config loads; file: a file read or parsed with a problem; http: a failed fetch); the last good list stays.",
};

/// One (store, source)'s success time (`f64` bits, NaN for none) and error count; kept
/// with the store's series (and while it is out of the config).
#[derive(Debug)]
pub(super) struct SourceCell {
    last_success: AtomicU64,
    errors: AtomicU64,
}

impl Default for SourceCell {
    fn default() -> Self {
        Self {
            last_success: AtomicU64::new(f64::NAN.to_bits()),
            errors: AtomicU64::new(0),
        }
    }
}

impl SourceCell {
    fn last_success(&self) -> Option<f64> {
        let t = f64::from_bits(self.last_success.load(Ordering::Relaxed));
        (!t.is_nan()).then_some(t)
    }
}

/// Records how a source of a store goes; cheap to clone. While one is held the store's
/// series for the source are exported.
#[derive(Debug, Clone)]
pub struct SourceRecorder {
    cell: Arc<SourceCell>,
}

impl SourceRecorder {
    /// The source read cleanly at `unix_secs`.
    pub fn succeeded(&self, unix_secs: f64) {
        self.cell
            .last_success
            .store(unix_secs.to_bits(), Ordering::Relaxed);
    }

    /// A read of the source failed (counted; the last good list stays).
    pub fn failed(&self) {
        self.cell.errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// The config source's cell (shared by all stores); the others are the stores'.
#[derive(Debug, Default)]
pub(super) struct ConfigSource(SourceCell);

/// What a store's part of the page shows, copied out before any store lock is taken.
struct Row {
    source: Source,
    intents: usize,
    last_success: Option<f64>,
    errors: u64,
}

/// A store's source cells as its series keep them, indexed by `Source as usize`: a
/// source's cell once it was recorded for the store.
pub(super) type Slots = [Option<Arc<SourceCell>>; Source::ALL.len()];

/// The recorder of a store's source in `slot`, continuing its cell if it had one.
pub(super) fn recorder(slot: &mut Option<Arc<SourceCell>>) -> SourceRecorder {
    SourceRecorder {
        cell: Arc::clone(slot.get_or_insert_default()),
    }
}

impl ConfigSource {
    /// A config load: `ok` or not (counted for every store), at `now`.
    pub(super) fn loaded(&self, ok: bool, now: f64) {
        if ok {
            self.0.last_success.store(now.to_bits(), Ordering::Relaxed);
        } else {
            self.0.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A store's source cells, each with whether a recorder holds it.
pub(super) type Cells = [Option<(Arc<SourceCell>, bool)>; Source::ALL.len()];

/// A store's cells, copied where its series are kept (under their lock).
pub(super) fn cells(slots: &Slots) -> Cells {
    slots.each_ref().map(|cell| {
        // Counted before this copy: held means a recorder besides the store's.
        let cell = cell.as_ref()?;
        let held = Arc::strong_count(cell) > 1;
        Some((Arc::clone(cell), held))
    })
}

/// The source families of every store in the config: `cells` gives a store's, by name
/// (also while it is out of the config), each taken before any store's lock.
pub(super) fn write(
    out: &mut String,
    state: &State,
    config: &ConfigSource,
    cells: impl Fn(&str) -> Cells,
) {
    let handles = state.stores();
    let cells: Vec<Cells> = handles.iter().map(|h| cells(&h.name)).collect();
    let stores: Vec<(String, Vec<Row>)> = handles
        .iter()
        .zip(&cells)
        .map(|(handle, cells)| {
            let counts = count_by_source(&handle.lock());
            let rows = Source::ALL
                .into_iter()
                .filter_map(|source| {
                    let cell = cells[source as usize].as_ref();
                    let held = cell.is_some_and(|(_, held)| *held);
                    let intents = counts[source as usize];
                    let shown = match source {
                        Source::Config => true,
                        Source::File | Source::Http => held,
                        // Once the registration API (or the webhook receiver) was
                        // used for the store.
                        Source::Api | Source::Webhook => cell.is_some() || intents > 0,
                    };
                    let cell = match source {
                        Source::Config => Some(&config.0),
                        _ => cell.map(|(cell, _)| cell.as_ref()),
                    };
                    shown.then(|| Row {
                        source,
                        intents,
                        last_success: cell.and_then(SourceCell::last_success),
                        errors: cell.map_or(0, |c| c.errors.load(Ordering::Relaxed)),
                    })
                })
                .collect();
            (escape(&handle.name), rows)
        })
        .collect();
    type Value = fn(&Row) -> Option<String>;
    let families: [(&Family, Value); 3] = [
        (&SOURCE_INTENTS, |r| Some(r.intents.to_string())),
        (&SOURCE_LAST_SUCCESS, |r| {
            r.last_success.map(|t| t.to_string())
        }),
        (&SOURCE_ERRORS, |r| Some(r.errors.to_string())),
    ];
    for (family, value) in families {
        header(out, family);
        for (store, rows) in &stores {
            for row in rows {
                if let Some(v) = value(row) {
                    let source = [("source", row.source.as_str())];
                    store_sample(out, family, store, &source, v);
                }
            }
        }
    }
}

/// Watched intents per source, in one pass.
fn count_by_source(store: &crate::state::StoreState) -> [usize; Source::ALL.len()] {
    let mut counts = [0; Source::ALL.len()];
    for (_, intent) in store.intents().iter() {
        for source in intent.sources().iter() {
            counts[source as usize] += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, IntentConfig, IntentId};

    fn state() -> Arc<State> {
        let yaml = "stores:\n  - name: main\n    api_key: k\n    api_secret_env: S\n    \
                    intents: [650000000000000000000001]\n";
        let config = Config::parse(yaml, std::path::Path::new("."), &|_| Some("s".into()));
        State::new(&config.unwrap())
    }

    /// The source families, the one store's cells taken from `slots`.
    fn render(state: &State, config: &ConfigSource, slots: &Slots) -> String {
        let mut out = String::new();
        write(&mut out, state, config, |_| cells(slots));
        out
    }

    #[test]
    fn series_exist_while_a_recorder_is_held_and_errors_continue() {
        let (state, config) = (state(), ConfigSource::default());
        let mut slots = Slots::default();
        let file_slot = Source::File as usize;
        config.loaded(true, 100.0);
        config.loaded(false, 101.0);
        let file = recorder(&mut slots[file_slot]);
        file.failed();
        file.succeeded(7.5);
        let out = render(&state, &config, &slots);
        for line in [
            r#"allscale_exporter_source_intents{store="main",source="config"} 1"#,
            r#"allscale_exporter_source_intents{store="main",source="file"} 0"#,
            r#"allscale_exporter_source_last_success_timestamp_seconds{store="main",source="config"} 100"#,
            r#"allscale_exporter_source_last_success_timestamp_seconds{store="main",source="file"} 7.5"#,
            r#"allscale_exporter_source_errors_total{store="main",source="config"} 1"#,
            r#"allscale_exporter_source_errors_total{store="main",source="file"} 1"#,
        ] {
            assert!(out.lines().any(|l| l == line), "{line} in\n{out}");
        }
        assert!(
            !out.contains(r#"source="http""#) && !out.contains(r#"source="api""#),
            "{out}"
        );
        drop(file);
        let out = render(&state, &config, &slots);
        assert!(!out.contains(r#"source="file""#), "{out}");
        recorder(&mut slots[file_slot]).failed();
        let again = recorder(&mut slots[file_slot]);
        let out = render(&state, &config, &slots);
        assert!(
            out.contains(r#"allscale_exporter_source_errors_total{store="main",source="file"} 2"#),
            "{out}"
        );
        drop(again);
        // A registered intent shows the api source without a recorder.
        let id = IntentId::parse("650000000000000000000002").unwrap();
        let handle = state.store("main").unwrap();
        let registered = [IntentConfig { id, order_id: None }];
        let now = state.clock().now();
        handle.lock().register(&registered, 10, now).unwrap();
        let out = render(&state, &config, &slots);
        assert!(
            out.contains(r#"allscale_exporter_source_intents{store="main",source="api"} 1"#),
            "{out}"
        );
    }
}
