//! What every [`Store`] must do, written against the trait alone: a backend runs the
//! whole suite with [`conformance_tests!`] and a [`Fixture`] that opens its storage
//! (SQLite does in `state::db::tests`; PostgreSQL in the integration tests, `tests/it`,
//! which start a throwaway server: so this module is public under the `conformance`
//! feature, which only the tests enable). The sample rows, counters and relay events
//! here are shared with the backends' own tests.

use std::collections::BTreeMap;

use super::{Batch, Failure, Saved, SavedStore, Store, StoreBatch};
use crate::api::{Outcome, Status, StatusClass};
use crate::clock::UnixTime;
use crate::config::IntentId;
use crate::state::{
    BOUNDS_SECS, ConfirmedBy, Counts, DetailGivenUp, DropReason, Dropped, Fetched, ForwardRequest,
    Histogram, IntentRow, IntentState, Money, Queued, Source, Sources, TimeToOutcome, Unobserved,
    WebhookCounts, WebhookWrite,
};

/// Opens one backend's storage, the same stored state on every call, fresh for each
/// test.
pub trait Fixture {
    /// Opens it for writing (the caller drops the one opened before).
    fn open(&self) -> Box<dyn Store>;
    /// Opens it read-only.
    fn open_read_only(&self) -> Box<dyn Store>;
}

/// A module `store_conformance` with one `#[test]` per conformance test, each with a
/// fresh `$fixture`; or, as `conformance_tests!(maybe $fixture)`, with an `Option` of one,
/// `None` skipping the test (a backend whose server is not installed here).
#[macro_export]
macro_rules! conformance_tests {
    (maybe $fixture:expr) => {
        $crate::conformance_tests!(@tests $fixture;
            an_empty_store_loads_empty,
            a_committed_batch_loads_back_exactly,
            webhook_nonces_ids_and_the_relay_queue_read_back,
            later_batches_override_and_forget_rows,
            counters_never_go_backwards_across_a_reopen,
            a_store_no_longer_kept_is_deleted,
            a_read_only_store_loads_and_refuses_writes,
        );
    };
    (@tests $fixture:expr; $($test:ident,)*) => {
        mod store_conformance {
            use super::*;
            $(
                #[test]
                fn $test() {
                    if let Some(fixture) = $fixture {
                        $crate::state::store::conformance::$test(&fixture);
                    }
                }
            )*
        }
    };
    ($fixture:expr) => {
        $crate::conformance_tests!(maybe Some($fixture));
    };
}
pub use conformance_tests;

pub fn id(c: char) -> IntentId {
    IntentId::parse(&c.to_string().repeat(24)).unwrap()
}

/// `secs` seconds after the epoch.
pub fn t(secs: f64) -> UnixTime {
    UnixTime::from_secs_f64(secs)
}

/// The row of an intent registered through the API, with `status` since `at` (terminal
/// then, if `status` is).
pub fn row(status: Status, at: f64) -> IntentRow {
    let mut sources = Sources::default();
    sources.insert(Source::Api);
    IntentRow {
        sources,
        order_id: Some("order-1".into()),
        status: Some(status),
        status_changed_at: Some(t(at)),
        last_success_at: Some(t(at + 0.5)),
        terminal_at: status.is_terminal().then_some(t(at)),
        added_at: Some(t(1.0)),
        ..IntentRow::default()
    }
}

/// The intent of [`row`].
pub(crate) fn intent(status: Status, at: f64) -> IntentState {
    IntentState::from_row(row(status, at))
}

/// Every counter with a value, and money.
pub fn counts() -> Counts {
    Counts {
        terminal_total: BTreeMap::from([(Outcome::Confirmed, 2), (Outcome::Failed, 0)]),
        transitions: BTreeMap::from([((StatusClass::OnChain, StatusClass::Confirmed), 2)]),
        expired_total: 1,
        dropped_total: BTreeMap::from([(DropReason::NotFound, 3)]),
        webhooks: WebhookCounts {
            confirmed_by_webhook: 4,
            confirmed_by_poll: 5,
            missing: 6,
            disagreements: 7,
        },
        money: money(),
        time_to_outcome: time_to_outcome(),
    }
}

/// One observation in a bucket and one above every bound, and one unobserved.
fn time_to_outcome() -> TimeToOutcome {
    let mut buckets = [1; BOUNDS_SECS.len()];
    buckets[..4].fill(0);
    TimeToOutcome {
        observed: BTreeMap::from([(
            Outcome::Confirmed,
            Histogram {
                buckets,
                count: 2,
                sum_ms: 100_300_250,
            },
        )]),
        unobserved: BTreeMap::from([(Unobserved::Future, 1), (Unobserved::TooOld, 0)]),
    }
}

pub fn dec(s: &str) -> rust_decimal::Decimal {
    rust_decimal::Decimal::from_str_exact(s).unwrap()
}

/// Money sums of every kind, with trailing zeros that must be kept.
pub fn money() -> Money {
    let coin = |o| (o, "USDT".to_string(), "1".to_string());
    Money {
        amount: BTreeMap::from([
            (coin(Outcome::Confirmed), dec("0.30")),
            (coin(Outcome::Underpaid), dec("10")),
        ]),
        paid: BTreeMap::from([(coin(Outcome::Confirmed), dec("0.3"))]),
        shortfall: BTreeMap::from([(("USDT".into(), "1".into()), dec("2.5"))]),
        fee: BTreeMap::from([("USDT".into(), dec("0.003"))]),
        net: BTreeMap::from([("USDT".into(), dec("0.297"))]),
        fiat: BTreeMap::from([((Outcome::Confirmed, "EUR".into()), dec("0.30"))]),
        confirmed_short: 8,
        details_given_up: 3,
    }
}

/// A fetched detail, as the intent keeps it.
pub fn fetched() -> Box<Fetched> {
    Box::new(Fetched {
        detail: crate::api::Detail {
            coin: "USDC.e".into(),
            chain: 137,
            currency: "EUR".into(),
            amount: dec("12.50"),
            paid: dec("11.25"),
            fee: dec("0.1125"),
            net: dec("11.1375"),
            amount_cents: 1250,
        },
        at: t(5.25),
    })
}

/// A batch of store `main` with `rows` and [`counts`].
pub fn batch(rows: Vec<(IntentId, Option<IntentState>)>) -> Batch {
    Batch {
        stores: vec![StoreBatch {
            name: "main".into(),
            rows,
            counts: counts(),
            ..StoreBatch::default()
        }],
        kept: vec!["main".into()],
    }
}

/// A relay event with bytes that are not UTF-8 in a header.
pub fn queued(seq: u64) -> Queued {
    Queued {
        seq,
        webhook_id: format!("whk_{seq}"),
        intent_id: id('a'),
        received_at: t(10.0 + seq as f64),
        request: ForwardRequest {
            path_and_query: "/webhooks/allscale?x=1".into(),
            headers: vec![
                ("x-webhook-id".into(), format!("whk_{seq}").into_bytes()),
                ("x-odd".into(), vec![0xff, 0x00, 0x41]),
            ],
            body: b"{\"allscale_checkout_intent_id\": \"aaaa\"}".to_vec(),
        },
        durable: true,
    }
}

/// An intent in every phase the state knows, each with the facts of that phase.
fn every_phase() -> Vec<(IntentId, IntentState)> {
    let mut all_sources = Sources::default();
    Source::ALL.iter().for_each(|s| all_sources.insert(*s));
    let state = IntentState::from_row;
    let not_found = IntentRow {
        not_found: true,
        status: None,
        last_success_at: None,
        ..row(Status::Created, 2.0)
    };
    let unknown = state(IntentRow {
        sources: all_sources,
        order_id: None,
        ..row(Status::Unknown(-9), 2.0)
    });
    let by_poll = state(IntentRow {
        fetched: Some(fetched()),
        confirmed_by: Some(ConfirmedBy::Poll),
        ..row(Status::Confirmed, 4.0)
    });
    let by_webhook = state(IntentRow {
        confirmed_by: Some(ConfirmedBy::Webhook),
        webhook_at: Some(t(3.75)),
        verify_pending: true,
        ..row(Status::Confirmed, 3.5)
    });
    let webhook_missing = state(IntentRow {
        confirmed_by: Some(ConfirmedBy::Poll),
        webhook_missing_at: Some(t(8.0)),
        ..row(Status::Confirmed, 4.0)
    });
    let failed = state(IntentRow {
        webhook_at: Some(t(8.5)),
        ..row(Status::Failed, 4.0)
    });
    let given_up = state(IntentRow {
        detail_given_up: Some(Box::new(DetailGivenUp {
            at: t(6.5),
            request_id: Some("req_\"x".into()),
        })),
        ..row(Status::Canceled, 5.0)
    });
    let given_up_without_id = state(IntentRow {
        detail_given_up: Some(Box::new(DetailGivenUp {
            at: t(7.0),
            request_id: None,
        })),
        ..row(Status::Underpaid, 5.0)
    });
    let expired = state(IntentRow {
        expired_at: Some(t(9.5)),
        ..row(Status::Viewed, 2.0)
    });
    let dropped = state(IntentRow {
        dropped: Some(Dropped {
            reason: DropReason::NotFound,
            at: t(9.0),
        }),
        ..not_found.clone()
    });
    let not_found = state(not_found);
    let retired = state(IntentRow {
        sources: Sources::default(),
        ..row(Status::Timeout, 1_764_050_000.123_456_7)
    });
    let fresh = state(IntentRow {
        status: None,
        status_changed_at: None,
        last_success_at: None,
        ..row(Status::Created, 0.0)
    });
    let on_chain = intent(Status::OnChain, 2.0);
    let phases = [
        fresh,
        on_chain,
        not_found,
        unknown,
        by_poll,
        by_webhook,
        webhook_missing,
        failed,
        given_up,
        given_up_without_id,
        expired,
        dropped,
        retired,
    ];
    phases
        .into_iter()
        .enumerate()
        .map(|(i, intent)| (IntentId::parse(&format!("{i:024x}")).unwrap(), intent))
        .collect()
}

/// What `store` loads after a reopen, in an order every backend can give: intents by
/// id, nonces and ids by value (the relay queue keeps its order).
fn reloaded(fixture: &dyn Fixture) -> Saved {
    let mut saved = fixture.open().load().unwrap();
    for store in saved.stores.values_mut() {
        store.intents.sort_by(|a, b| a.0.cmp(&b.0));
        store.nonces.sort_by(|a, b| a.0.cmp(&b.0));
        store.webhook_ids.sort_by(|a, b| a.0.cmp(&b.0));
    }
    saved
}

fn write(store: &mut dyn Store, batch: &Batch) {
    store.write(batch).expect("the batch is committed");
}

pub fn an_empty_store_loads_empty(fixture: &dyn Fixture) {
    let mut store = fixture.open();
    assert!(!store.read_only());
    assert_eq!(store.load().unwrap(), Saved::default());
    drop(store);
    assert_eq!(reloaded(fixture), Saved::default());
}

/// Every field of every phase, every counter and money sum (their decimal scale too),
/// and webhook facts, of two stores that share an intent id, come back exactly.
pub fn a_committed_batch_loads_back_exactly(fixture: &dyn Fixture) {
    let intents = every_phase();
    let mut other_counts = counts();
    other_counts.expired_total = 99;
    other_counts.money = Money::default();
    let other_intent = intent(Status::Rejected, 3.0);
    let webhooks = vec![
        WebhookWrite::Nonce("n2".into(), t(101.5)),
        WebhookWrite::Nonce("n1".into(), t(100.25)),
        WebhookWrite::Id("whk_1".into(), t(100.0)),
        WebhookWrite::Queued(queued(1)),
        WebhookWrite::Queued(queued(2)),
    ];
    let batch = Batch {
        stores: vec![
            StoreBatch {
                name: "main".into(),
                rows: intents
                    .iter()
                    .map(|(i, s)| (i.clone(), Some(s.clone())))
                    .collect(),
                counts: counts(),
                webhooks,
                ..StoreBatch::default()
            },
            StoreBatch {
                name: "other".into(),
                rows: vec![(intents[0].0.clone(), Some(other_intent.clone()))],
                counts: other_counts.clone(),
                ..StoreBatch::default()
            },
        ],
        kept: vec!["main".into(), "other".into()],
    };
    write(&mut *fixture.open(), &batch);
    let expected = Saved {
        stores: BTreeMap::from([
            (
                "main".to_string(),
                SavedStore {
                    counts: counts(),
                    intents,
                    nonces: vec![("n1".into(), t(100.25)), ("n2".into(), t(101.5))],
                    webhook_ids: vec![("whk_1".into(), t(100.0))],
                    queue: vec![queued(1), queued(2)],
                },
            ),
            (
                "other".to_string(),
                SavedStore {
                    counts: other_counts,
                    intents: vec![(id('0'), other_intent)],
                    ..SavedStore::default()
                },
            ),
        ]),
    };
    assert_eq!(reloaded(fixture), expected);
}

/// Nonces and ids seen come back (those past remembering do not), and so does the
/// relay queue in order, byte for byte, without what was delivered.
pub fn webhook_nonces_ids_and_the_relay_queue_read_back(fixture: &dyn Fixture) {
    let mut b = batch(vec![]);
    b.stores[0].webhooks = vec![
        WebhookWrite::Nonce("old".into(), t(1.0)),
        WebhookWrite::Nonce("n1".into(), t(100.0)),
        WebhookWrite::Id("whk_0".into(), t(100.0)),
        WebhookWrite::Queued(queued(0)),
        WebhookWrite::Queued(queued(1)),
        WebhookWrite::Queued(queued(2)),
        WebhookWrite::Delivered(0),
    ];
    b.stores[0].forget_nonces_before = t(50.0);
    b.stores[0].forget_ids_before = t(0.0);
    write(&mut *fixture.open(), &b);
    let saved = reloaded(fixture);
    let main = &saved.stores["main"];
    assert_eq!(main.nonces, [("n1".to_string(), t(100.0))]);
    assert_eq!(main.webhook_ids, [("whk_0".to_string(), t(100.0))]);
    assert_eq!(main.queue, [queued(1), queued(2)]);
    assert_eq!(main.counts, counts());
    // Later: one more delivered, ids forgotten too, a new event behind the rest.
    let mut b = batch(vec![]);
    b.stores[0].webhooks = vec![WebhookWrite::Delivered(1), WebhookWrite::Queued(queued(3))];
    b.stores[0].forget_nonces_before = t(50.0);
    b.stores[0].forget_ids_before = t(150.0);
    write(&mut *fixture.open(), &b);
    let saved = reloaded(fixture);
    let main = &saved.stores["main"];
    assert_eq!(main.nonces, [("n1".to_string(), t(100.0))]);
    assert_eq!(main.webhook_ids, []);
    assert_eq!(main.queue, [queued(2), queued(3)]);
}

/// A later row replaces the earlier one, `None` forgets it, and rows a batch does not
/// name stay; in one open store and across reopens alike.
pub fn later_batches_override_and_forget_rows(fixture: &dyn Fixture) {
    let mut store = fixture.open();
    write(
        &mut *store,
        &batch(vec![
            (id('a'), Some(intent(Status::OnChain, 2.0))),
            (id('b'), Some(intent(Status::Created, 2.0))),
            (id('c'), Some(intent(Status::Created, 2.0))),
        ]),
    );
    let confirmed = IntentState::from_row(IntentRow {
        fetched: Some(fetched()),
        ..row(Status::Confirmed, 4.0)
    });
    write(
        &mut *store,
        &batch(vec![
            (id('a'), Some(confirmed.clone())),
            (id('b'), None),
            (id('d'), Some(intent(Status::Viewed, 3.0))),
            (id('e'), None), // never written: forgetting it is harmless
        ]),
    );
    drop(store);
    let expected = vec![
        (id('a'), confirmed.clone()),
        (id('c'), intent(Status::Created, 2.0)),
        (id('d'), intent(Status::Viewed, 3.0)),
    ];
    assert_eq!(reloaded(fixture).stores["main"].intents, expected);
    // After a reopen: a forgotten row can come back, and is forgotten again.
    let mut store = fixture.open();
    write(
        &mut *store,
        &batch(vec![(id('b'), Some(intent(Status::Failed, 5.0)))]),
    );
    write(&mut *store, &batch(vec![(id('c'), None)]));
    drop(store);
    let expected = vec![
        (id('a'), confirmed),
        (id('b'), intent(Status::Failed, 5.0)),
        (id('d'), intent(Status::Viewed, 3.0)),
    ];
    assert_eq!(reloaded(fixture).stores["main"].intents, expected);
}

/// Each reopen loads the counters and money of the last commit; a counter or money sum
/// a later batch does not name keeps its value instead of starting again from 0.
pub fn counters_never_go_backwards_across_a_reopen(fixture: &dyn Fixture) {
    write(&mut *fixture.open(), &batch(vec![]));
    assert_eq!(reloaded(fixture).stores["main"].counts, counts());
    let mut more = counts();
    more.terminal_total.insert(Outcome::Confirmed, 3);
    more.terminal_total.insert(Outcome::Timeout, 1);
    more.transitions
        .insert((StatusClass::Created, StatusClass::OnChain), 5);
    more.expired_total = 2;
    more.dropped_total.insert(DropReason::NotFound, 4);
    more.webhooks.confirmed_by_poll = 6;
    more.money.confirmed_short = 9;
    more.time_to_outcome
        .unobserved
        .insert(Unobserved::TooOld, 2);
    more.money.fee.insert("USDT".into(), dec("0.0040"));
    more.money.fee.insert("ETH".into(), dec("0.000000001"));
    let mut b = batch(vec![]);
    b.stores[0].counts = more.clone();
    write(&mut *fixture.open(), &b);
    assert_eq!(reloaded(fixture).stores["main"].counts, more);
    let mut fewer = more.clone();
    fewer.transitions.clear();
    fewer.terminal_total.remove(&Outcome::Timeout);
    fewer.money.fee.remove("ETH");
    fewer.money.amount.clear();
    b.stores[0].counts = fewer;
    write(&mut *fixture.open(), &b);
    assert_eq!(
        reloaded(fixture).stores["main"].counts,
        more,
        "what a batch leaves out keeps its committed value"
    );
}

/// A store missing from `kept` goes with everything it held; the stores kept are left
/// as they were, and a name that comes back starts empty.
pub fn a_store_no_longer_kept_is_deleted(fixture: &dyn Fixture) {
    let mut store = fixture.open();
    let mut b = batch(vec![(id('a'), Some(intent(Status::OnChain, 2.0)))]);
    let mut other = batch(vec![(id('a'), Some(intent(Status::Failed, 3.0)))])
        .stores
        .remove(0);
    other.name = "other".into();
    other.webhooks = vec![
        WebhookWrite::Nonce("n".into(), t(1.0)),
        WebhookWrite::Id("i".into(), t(1.0)),
        WebhookWrite::Queued(queued(0)),
    ];
    b.stores.push(other);
    b.kept.push("other".into());
    write(&mut *store, &b);
    write(
        &mut *store,
        &Batch {
            stores: vec![],
            kept: vec!["main".into()],
        },
    );
    drop(store);
    let saved = reloaded(fixture);
    assert_eq!(saved.stores.keys().collect::<Vec<_>>(), ["main"]);
    assert_eq!(
        saved.stores["main"].intents,
        [(id('a'), intent(Status::OnChain, 2.0))]
    );
    assert_eq!(saved.stores["main"].counts, counts());
    let mut back = batch(vec![]);
    back.stores[0].name = "other".into();
    back.stores[0].counts = Counts::default();
    back.kept.push("other".into());
    write(&mut *fixture.open(), &back);
    assert_eq!(reloaded(fixture).stores["other"], SavedStore::default());
    write(&mut *fixture.open(), &Batch::default());
    assert_eq!(reloaded(fixture), Saved::default());
}

/// Read-only, a store loads what was committed and refuses to write, changing nothing.
pub fn a_read_only_store_loads_and_refuses_writes(fixture: &dyn Fixture) {
    let rows = every_phase()
        .into_iter()
        .map(|(i, s)| (i, Some(s)))
        .collect();
    write(&mut *fixture.open(), &batch(rows));
    let before = reloaded(fixture);
    let mut read_only = fixture.open_read_only();
    assert!(read_only.read_only());
    let mut loaded = read_only.load().unwrap();
    loaded
        .stores
        .values_mut()
        .for_each(|s| s.intents.sort_by(|a, b| a.0.cmp(&b.0)));
    assert_eq!(loaded, before);
    let mut change = batch(vec![(id('a'), None)]);
    change.stores[0].counts.expired_total = 50;
    change.kept.clear();
    let error = read_only.write(&change).unwrap_err();
    assert_eq!(error.failure(), Failure::ReadOnly, "{error}");
    drop(read_only);
    assert_eq!(reloaded(fixture), before, "nothing was written");
}
