//! The intent families rendered from [`State`] at scrape time: the per-intent series
//! (as many as `per_intent_metrics` asks for) and the per-store aggregates, copied out
//! under each store's lock and written without it.

use std::fmt::Write as _;
use std::time::Duration;

use super::attention;
use super::collector::{Collector, Scrape};
use super::{Family, escape, header, store_sample};
use crate::api::{Outcome, StatusClass};
use crate::clock::UnixTime;
use crate::config::{IntentId, PerIntentMetrics};
use crate::replica::owned::Owned;
use crate::state::{Board, DropReason, IntentState, State, StoreState};

const INTENT_STATUS: Family = Family {
    name: "allscale_checkout_intent_status",
    kind: "gauge",
    help: "Current status of the checkout intent, the integer the API returned (-5..20; absent until a well-formed answer).",
};
const INTENT_STATUS_CHANGE: Family = Family {
    name: "allscale_checkout_intent_status_change_timestamp_seconds",
    kind: "gauge",
    help: "Unix time when the exporter first saw the intent's current status.",
};
const INTENT_LAST_SUCCESS: Family = Family {
    name: "allscale_checkout_intent_last_success_timestamp_seconds",
    kind: "gauge",
    help: "Unix time of the last successful status poll of the intent.",
};
const INTENT_INFO: Family = Family {
    name: "allscale_checkout_intent_info",
    kind: "gauge",
    help: "Always 1; carries the order_id configured for the intent.",
};
const INTENTS_BY_STATUS: Family = Family {
    name: "allscale_checkout_intents",
    kind: "gauge",
    help: "Watched intents per current status (not_found = API error 50001; unknown = an undocumented status).",
};
const TERMINAL_TOTAL: Family = Family {
    name: "allscale_checkout_intent_terminal_total",
    kind: "counter",
    help: "Intents that reached a terminal status, by outcome; each intent is counted once in its life.",
};
const TRANSITIONS_TOTAL: Family = Family {
    name: "allscale_checkout_intent_transitions_total",
    kind: "counter",
    help: "Status changes seen by the exporter, by previous and new status.",
};
const EXPIRED_TOTAL: Family = Family {
    name: "allscale_checkout_intent_expired_total",
    kind: "counter",
    help: "Intents that were not terminal max_watch_age after they were added, and are no longer polled; each intent is counted once.",
};
const DROPPED_TOTAL: Family = Family {
    name: "allscale_exporter_intents_dropped_total",
    kind: "counter",
    help: "Intents dropped from polling, by reason (not_found = still API error 50001 not_found_ttl after they were added); each intent is counted once.",
};
const STATE_SAVE_OK: Family = Family {
    name: "allscale_exporter_state_file_last_save_successful",
    kind: "gauge",
    help: "1 when the last attempt to save the state file succeeded (outcome and transition counters are exported only once saved); absent without state_file.",
};
const STATE_READ_ONLY: Family = Family {
    name: "allscale_exporter_state_file_read_only",
    kind: "gauge",
    help: "1 when the state file could only be opened read-only: it was restored, but nothing is saved this run (last_save_successful is 0); absent without state_file.",
};
const STATE_SAVE_TIME: Family = Family {
    name: "allscale_exporter_state_file_last_save_success_timestamp_seconds",
    kind: "gauge",
    help: "Unix time of the last successful save of the state file; absent until one.",
};
const OLDEST_STATUS_CHANGE: Family = Family {
    name: "allscale_checkout_oldest_status_change_timestamp_seconds",
    kind: "gauge",
    help: "Unix time the longest-waiting watched non-terminal intent entered its current status, per status (absent for a status no such intent is in): the stuck-intent alerts without per-intent series.",
};
const WATCHED_INTENTS: Family = Family {
    name: "allscale_exporter_watched_intents",
    kind: "gauge",
    help: "Intents in the watch list of the store.",
};

/// One intent's per-intent series, copied out of the store so rendering the text holds
/// no lock (a scrape of 100k intents must not stall polling). Kept small and without a
/// heap copy of the id (hex digits: nothing to escape): one is made per watched intent
/// at every scrape.
struct Row {
    id: IntentId,
    /// `None` when the intent has no status or is not_found.
    status: Option<i64>,
    changed: Option<UnixTime>,
    success: Option<UnixTime>,
    order_id: Option<String>,
}

/// A store's part of the page: its rows and the aggregate lines, taken under its lock.
struct StoreSnapshot {
    store: String,
    rows: Vec<Row>,
    /// From the store's board, which keeps them as intents change.
    by_status: [u64; StatusClass::ALL.len()],
    /// The earliest status change of the non-terminal intents in each status.
    oldest: [Option<f64>; StatusClass::ALL.len()],
    terminal: Vec<(Outcome, u64)>,
    transitions: Vec<((StatusClass, StatusClass), u64)>,
    expired: u64,
    dropped: Vec<(DropReason, u64)>,
    watched: usize,
}

/// Intents per status, the oldest status change per status and the watched intents: from
/// the store's board, or in a group (`claims`) from the intents of the partitions this
/// replica holds.
type Aggregates = (
    [u64; StatusClass::ALL.len()],
    [Option<f64>; StatusClass::ALL.len()],
    usize,
);

fn aggregates(s: &StoreState, claims: Option<&Owned>) -> Aggregates {
    let intents = s.intents();
    let of = |board: &Board, watched| {
        let oldest = board.oldest().map(|at| at.map(UnixTime::as_secs_f64));
        (board.counts(), oldest, watched)
    };
    match claims {
        None => of(intents.board(), intents.len()),
        Some(claims) => {
            let mine = || intents.iter().filter(|(id, _)| claims.claims(id.as_str()));
            of(&Board::of(mine()), mine().count())
        }
    }
}

/// `write_ahead`: export the counters as last saved, not as live. In a group (`claims`):
/// only the intents of the partitions this replica holds, in the rows and in the
/// aggregates (its counters are its own already).
fn snapshot(
    name: &str,
    s: &StoreState,
    now: f64,
    retention: Duration,
    write_ahead: bool,
    claims: Option<&Owned>,
) -> StoreSnapshot {
    let counts = s.counters().shown(write_ahead);
    let intents = s.intents();
    let mode = s.per_intent_metrics();
    let full = mode != PerIntentMetrics::StatusOnly;
    let after = s.attention_after();
    let now_at = UnixTime::from_secs_f64(now);
    let shown = |intent: &IntentState| {
        // Expired or dropped: counted, no longer shown; past terminal_retention: only
        // with `all`; with `attention`, only while someone must look.
        !intent.is_given_up()
            && match mode {
                PerIntentMetrics::All => true,
                PerIntentMetrics::Attention => {
                    attention::needs_attention(intent, now_at, retention, &after)
                }
                _ => !intent
                    .terminal_at()
                    .is_some_and(|t| now - t.as_secs_f64() >= retention.as_secs_f64()),
            }
    };
    // The aggregates come from the board: with `none` the intents are not walked at all.
    let mut rows = Vec::new();
    if mode != PerIntentMetrics::None {
        if mode != PerIntentMetrics::Attention {
            // With `attention` a few rows of many: no room for every intent.
            rows.reserve(intents.len());
        }
        rows.extend(
            intents
                .iter()
                .filter(|(id, i)| shown(i) && claims.is_none_or(|c| c.claims(id.as_str())))
                .map(|(id, intent)| Row {
                    id: id.clone(),
                    status: intent
                        .status()
                        .filter(|_| !intent.not_found())
                        .map(|st| st.code()),
                    changed: intent.status_changed_at().filter(|_| full),
                    success: intent.last_success_at().filter(|_| full),
                    order_id: intent.order_id().filter(|_| full).map(escape),
                }),
        );
    }
    let (by_status, oldest, watched) = aggregates(s, claims);
    StoreSnapshot {
        store: escape(name),
        rows,
        by_status,
        oldest,
        terminal: Outcome::ALL
            .iter()
            .map(|o| (*o, counts.terminal_total.get(o).copied().unwrap_or(0)))
            .collect(),
        transitions: counts.transitions.iter().map(|(k, n)| (*k, *n)).collect(),
        expired: counts.expired_total,
        dropped: DropReason::ALL
            .iter()
            .map(|r| (*r, counts.dropped_total.get(r).copied().unwrap_or(0)))
            .collect(),
        watched,
    }
}

/// The intent families.
pub(super) struct IntentCollector;

impl Collector for IntentCollector {
    fn collect(&self, scrape: &Scrape<'_>, out: &mut String) {
        render_state(out, scrape.state, scrape.now, scrape.claims.as_ref());
    }
}

fn render_state(out: &mut String, state: &State, now: f64, claims: Option<&Owned>) {
    let retention = state.terminal_retention();
    let write_ahead = state.write_ahead();
    let stores: Vec<StoreSnapshot> = state
        .stores()
        .iter()
        .map(|handle| {
            let st = handle.lock();
            snapshot(&handle.name, &st, now, retention, write_ahead, claims)
        })
        .collect();
    out.reserve(stores.iter().map(|s| s.rows.len() * 360).sum());
    type Value = fn(&Row) -> Option<Sample>;
    let per_intent: [(&Family, Value); 3] = [
        (&INTENT_STATUS, |r| r.status.map(Sample::Int)),
        (&INTENT_STATUS_CHANGE, |r| r.changed.map(Sample::at)),
        (&INTENT_LAST_SUCCESS, |r| r.success.map(Sample::at)),
    ];
    for (family, value) in per_intent {
        header(out, family);
        for s in &stores {
            for row in &s.rows {
                if let Some(v) = value(row) {
                    intent_sample(out, family, &s.store, row, None, v);
                }
            }
        }
    }
    header(out, &INTENT_INFO);
    for s in &stores {
        for row in &s.rows {
            if let Some(order_id) = &row.order_id {
                intent_sample(
                    out,
                    &INTENT_INFO,
                    &s.store,
                    row,
                    Some(order_id),
                    Sample::Int(1),
                );
            }
        }
    }
    render_aggregates(out, &stores);
    if let Some(saves) = state.saves() {
        header(out, &STATE_SAVE_OK);
        let _ = writeln!(out, "{} {}", STATE_SAVE_OK.name, u8::from(saves.ok));
        header(out, &STATE_READ_ONLY);
        let _ = writeln!(
            out,
            "{} {}",
            STATE_READ_ONLY.name,
            u8::from(saves.read_only)
        );
        if let Some(t) = saves.last_success {
            header(out, &STATE_SAVE_TIME);
            let _ = writeln!(out, "{} {t}", STATE_SAVE_TIME.name);
        }
    }
}

fn render_aggregates(out: &mut String, stores: &[StoreSnapshot]) {
    header(out, &INTENTS_BY_STATUS);
    for s in stores {
        for (class, n) in StatusClass::ALL.iter().zip(s.by_status) {
            let status = [("status", class.as_str())];
            store_sample(out, &INTENTS_BY_STATUS, &s.store, &status, n);
        }
    }
    header(out, &OLDEST_STATUS_CHANGE);
    for s in stores {
        for (class, at) in StatusClass::ALL.iter().zip(s.oldest) {
            if let Some(at) = at {
                let status = [("status", class.as_str())];
                store_sample(
                    out,
                    &OLDEST_STATUS_CHANGE,
                    &s.store,
                    &status,
                    Sample::Time(at),
                );
            }
        }
    }
    header(out, &TERMINAL_TOTAL);
    for s in stores {
        for (outcome, n) in &s.terminal {
            let outcome = [("outcome", outcome.as_str())];
            store_sample(out, &TERMINAL_TOTAL, &s.store, &outcome, n);
        }
    }
    header(out, &TRANSITIONS_TOTAL);
    for s in stores {
        for ((from, to), n) in &s.transitions {
            let labels = [("from", from.as_str()), ("to", to.as_str())];
            store_sample(out, &TRANSITIONS_TOTAL, &s.store, &labels, n);
        }
    }
    header(out, &EXPIRED_TOTAL);
    for s in stores {
        store_sample(out, &EXPIRED_TOTAL, &s.store, &[], s.expired);
    }
    header(out, &DROPPED_TOTAL);
    for s in stores {
        for (reason, n) in &s.dropped {
            let reason = [("reason", reason.as_str())];
            store_sample(out, &DROPPED_TOTAL, &s.store, &reason, n);
        }
    }
    header(out, &WATCHED_INTENTS);
    for s in stores {
        store_sample(out, &WATCHED_INTENTS, &s.store, &[], s.watched);
    }
}

/// A sample value: integers as they are, unix times with millisecond precision (written
/// with integer formatting, several times faster than `f64`'s).
#[derive(Clone, Copy)]
enum Sample {
    Int(i64),
    Time(f64),
}

fn intent_sample(
    out: &mut String,
    family: &Family,
    store: &str,
    row: &Row,
    order_id: Option<&str>,
    value: Sample,
) {
    out.push_str(family.name);
    out.push_str("{store=\"");
    out.push_str(store);
    out.push_str("\",intent_id=\"");
    out.push_str(row.id.as_str());
    if let Some(order_id) = order_id {
        out.push_str("\",order_id=\"");
        out.push_str(order_id);
    }
    out.push_str("\"} ");
    let _ = writeln!(out, "{value}");
}

impl Sample {
    fn at(t: UnixTime) -> Sample {
        Sample::Time(t.as_secs_f64())
    }
}

impl std::fmt::Display for Sample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Sample::Int(n) => write!(f, "{n}"),
            Sample::Time(t) => {
                let ms = (t * 1000.0).round() as i64;
                write!(f, "{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
            }
        }
    }
}
