//! Money metrics (issue #15): what terminal intents asked, were paid, fell short, cost in
//! fees and netted, from each intent's detail, counted once per intent in its life.
//!
//! The sums are exact decimals, written as their exact text (`0.3`, not
//! `0.30000000000000004`); exported write-ahead with a state file, like the outcome
//! counters. A coin/chain series appears with the first intent counted under it.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::collector::{Collector, Scrape};
use super::{Family, header, store_sample};
use crate::state::{CoinKey, Money, State};

/// Picks one of a store's sums.
type Sums<K> = fn(&Money) -> &BTreeMap<K, Decimal>;

const AMOUNT: Family = Family {
    name: "allscale_checkout_amount_coins_total",
    kind: "counter",
    help: "Requested amount (amount_coins) of terminal intents, in coins, by outcome, coin and chain (EIP-155 id); each intent counted once, from its detail.",
};
const PAID: Family = Family {
    name: "allscale_checkout_paid_coins_total",
    kind: "counter",
    help: "Amount actually paid (actual_paid_amount) of terminal intents, in coins, by outcome, coin and chain; each intent counted once.",
};
const SHORTFALL: Family = Family {
    name: "allscale_checkout_shortfall_coins_total",
    kind: "counter",
    help: "Requested minus paid amount of underpaid intents and of confirmed intents paid less than asked, in coins, by coin and chain.",
};
const FEE: Family = Family {
    name: "allscale_checkout_fee_coins_total",
    kind: "counter",
    help: "Service fees (service_fee_amount) of terminal intents, in coins, by coin.",
};
const NET: Family = Family {
    name: "allscale_checkout_net_income_coins_total",
    kind: "counter",
    help: "Net income (net_income_amount) of terminal intents, in coins, by coin.",
};
const FIAT: Family = Family {
    name: "allscale_checkout_amount_fiat_total",
    kind: "counter",
    help: "Order amount (amount_cents / 100) of terminal intents, in the order's currency, by outcome and currency.",
};
const CONFIRMED_SHORT: Family = Family {
    name: "allscale_checkout_confirmed_short_total",
    kind: "counter",
    help: "Confirmed intents whose paid amount is below the requested amount (hold the order); each intent counted once.",
};

const DETAILS_GIVEN_UP: Family = Family {
    name: "allscale_checkout_details_given_up_total",
    kind: "counter",
    help: "Terminal intents whose detail stayed malformed for 5 tries and was given up: their money is not counted; each intent counted once.",
};

/// Every store's money families.
pub(super) struct MoneyCollector;

impl Collector for MoneyCollector {
    fn collect(&self, scrape: &Scrape<'_>, out: &mut String) {
        render_state(out, scrape.state);
    }
}

fn render_state(out: &mut String, state: &State) {
    let write_ahead = state.write_ahead();
    let stores: Vec<(String, Money)> = state
        .stores()
        .iter()
        .map(|handle| {
            let money = handle.lock().counters().shown(write_ahead).money.clone();
            (handle.name.clone(), money)
        })
        .collect();
    let by_coin_and_chain: [(&Family, Sums<CoinKey>); 2] =
        [(&AMOUNT, |m| &m.amount), (&PAID, |m| &m.paid)];
    for (family, amounts) in by_coin_and_chain {
        header(out, family);
        for (store, m) in &stores {
            for ((outcome, coin, chain), v) in amounts(m) {
                let labels = [
                    ("outcome", outcome.as_str()),
                    ("coin", coin),
                    ("chain", chain),
                ];
                store_sample(out, family, store, &labels, v);
            }
        }
    }
    header(out, &SHORTFALL);
    for (store, m) in &stores {
        for ((coin, chain), v) in &m.shortfall {
            store_sample(
                out,
                &SHORTFALL,
                store,
                &[("coin", coin), ("chain", chain)],
                v,
            );
        }
    }
    let by_coin: [(&Family, Sums<String>); 2] = [(&FEE, |m| &m.fee), (&NET, |m| &m.net)];
    for (family, by_coin) in by_coin {
        header(out, family);
        for (store, m) in &stores {
            for (coin, v) in by_coin(m) {
                store_sample(out, family, store, &[("coin", coin)], v);
            }
        }
    }
    header(out, &FIAT);
    for (store, m) in &stores {
        for ((outcome, currency), v) in &m.fiat {
            let labels = [("outcome", outcome.as_str()), ("currency", currency)];
            store_sample(out, &FIAT, store, &labels, v);
        }
    }
    header(out, &CONFIRMED_SHORT);
    for (store, m) in &stores {
        store_sample(out, &CONFIRMED_SHORT, store, &[], m.confirmed_short);
    }
    header(out, &DETAILS_GIVEN_UP);
    for (store, m) in &stores {
        store_sample(out, &DETAILS_GIVEN_UP, store, &[], m.details_given_up);
    }
}
