//! The webhook body: the documented JSON, filled from the intent's scenario fields.

use serde::Serialize;

use crate::SimIntent;
use allscale_api::signing::sha256_hex;

/// The webhook body fields an intent sets in the scenario (absent: the defaults of
/// [`WebhookBody`]).
#[derive(Debug, Default)]
pub(crate) struct BodyDetails {
    order_id: Option<String>,
    amount_coins: Option<String>,
    coin_symbol: Option<String>,
    chain_id: Option<u64>,
}

impl BodyDetails {
    /// `None` when the intent sets none of them, which is the common case.
    pub(crate) fn from_intent(i: &SimIntent) -> Option<BodyDetails> {
        let d = BodyDetails {
            order_id: i.order_id.clone(),
            amount_coins: i.amount_coins.clone(),
            coin_symbol: i.coin_symbol.clone(),
            chain_id: i.chain_id,
        };
        let none = d.order_id.is_none()
            && d.amount_coins.is_none()
            && d.coin_symbol.is_none()
            && d.chain_id.is_none();
        (!none).then_some(d)
    }
}

/// The documented body, in this field order.
#[derive(Serialize)]
pub(super) struct WebhookBody<'a> {
    allscale_checkout_intent_id: &'a str,
    order_id: String,
    amount_coins: &'a str,
    coin_symbol: &'a str,
    chain_id: u64,
    /// Made up but stable per intent: `0x` and the SHA-256 of its id.
    tx_hash: String,
}

impl<'a> WebhookBody<'a> {
    /// The intent's body: its scenario fields, else `order_<id>`, `12.50`, `USDT`, 1.
    pub(super) fn new(id: &'a str, d: Option<&'a BodyDetails>) -> Self {
        WebhookBody {
            allscale_checkout_intent_id: id,
            order_id: d
                .and_then(|d| d.order_id.clone())
                .unwrap_or_else(|| format!("order_{id}")),
            amount_coins: d.and_then(|d| d.amount_coins.as_deref()).unwrap_or("12.50"),
            coin_symbol: d.and_then(|d| d.coin_symbol.as_deref()).unwrap_or("USDT"),
            chain_id: d.and_then(|d| d.chain_id).unwrap_or(1),
            tx_hash: format!("0x{}", sha256_hex(id.as_bytes())),
        }
    }
}
