//! The intent detail endpoint's payload (`GET /v1/checkout_intents/{id}`): amounts as
//! exact decimals, decoded strictly. A malformed or negative amount, a symbol that is not
//! a string, or a missing field is an error for the whole detail: no money is invented.
//! The one exception: on an outcome where nothing may have been paid (canceled, timeout,
//! failed, rejected) a null or missing paid, fee or net amount is 0, which is what it
//! says; on a paid outcome it stays an error.

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::envelope::DecodeError;
use super::status::Outcome;

/// The longest amount text accepted: 28 significant digits is all a decimal holds.
const MAX_AMOUNT_CHARS: usize = 40;

/// Coin and currency symbols longer than this are not symbols (kept, labelled `other`).
pub const MAX_SYMBOL_CHARS: usize = 32;

/// What the detail says about an intent's money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    /// `coin_symbol`, as sent (e.g. `USDT`).
    pub coin: String,
    /// `chain_id`, the EIP-155 id (1 = Ethereum).
    pub chain: u64,
    /// `currency_symbol`, the order's fiat currency (e.g. `USD`).
    pub currency: String,
    /// `amount_coins`: what was asked.
    pub amount: Decimal,
    /// `actual_paid_amount`.
    pub paid: Decimal,
    /// `service_fee_amount`.
    pub fee: Decimal,
    /// `net_income_amount`.
    pub net: Decimal,
    /// `amount_cents`: the order amount in the currency's cents.
    pub amount_cents: u64,
}

impl Detail {
    /// Decodes the payload of the detail of `intent_id`, which ended as `outcome`.
    pub fn from_payload(
        payload: &Value,
        intent_id: &str,
        outcome: Outcome,
    ) -> Result<Detail, DecodeError> {
        let Value::Object(fields) = payload else {
            return Err(bad("payload is not a JSON object"));
        };
        if let Some(id) = fields.get("all_scale_checkout_intent_id")
            && id.as_str() != Some(intent_id)
        {
            return Err(bad(
                "all_scale_checkout_intent_id is not the intent asked for",
            ));
        }
        Ok(Detail {
            coin: text(fields, "coin_symbol")?,
            chain: integer(fields, "chain_id")?,
            currency: text(fields, "currency_symbol")?,
            amount: amount(fields, "amount_coins")?,
            paid: paid_amount(fields, "actual_paid_amount", outcome)?,
            fee: paid_amount(fields, "service_fee_amount", outcome)?,
            net: paid_amount(fields, "net_income_amount", outcome)?,
            amount_cents: integer(fields, "amount_cents")?,
        })
    }

    /// The order amount in its currency: `amount_cents / 100`, exactly.
    pub fn fiat(&self) -> Decimal {
        Decimal::from_i128_with_scale(i128::from(self.amount_cents), 2)
    }

    /// How much less than asked was paid (0 when paid in full or more).
    pub fn shortfall(&self) -> Decimal {
        (self.amount - self.paid).max(Decimal::ZERO)
    }
}

fn bad(reason: impl Into<String>) -> DecodeError {
    DecodeError::BadDetail(reason.into())
}

fn field<'a>(fields: &'a Map<String, Value>, key: &str) -> Result<&'a Value, DecodeError> {
    fields
        .get(key)
        .ok_or_else(|| bad(format!("{key} is missing")))
}

fn text(fields: &Map<String, Value>, key: &str) -> Result<String, DecodeError> {
    match field(fields, key)? {
        Value::String(s) => Ok(s.clone()),
        _ => Err(bad(format!("{key} is not a string"))),
    }
}

fn integer(fields: &Map<String, Value>, key: &str) -> Result<u64, DecodeError> {
    field(fields, key)?
        .as_u64()
        .ok_or_else(|| bad(format!("{key} is not a non-negative integer")))
}

/// A non-negative decimal string: digits, at most one inner dot, nothing else (no sign,
/// exponent, space or JSON number: a float would already have lost digits).
fn amount(fields: &Map<String, Value>, key: &str) -> Result<Decimal, DecodeError> {
    let Value::String(s) = field(fields, key)? else {
        return Err(bad(format!("{key} is not a decimal string")));
    };
    parse_amount(s).ok_or_else(|| {
        let shown = crate::text::prefix(s, MAX_AMOUNT_CHARS);
        bad(format!("{key} {shown:?} is not a non-negative decimal"))
    })
}

/// A paid, fee or net amount: on an unpaid outcome null or missing is 0 (nothing was
/// paid); anything else present must be an [`amount`].
fn paid_amount(
    fields: &Map<String, Value>,
    key: &str,
    outcome: Outcome,
) -> Result<Decimal, DecodeError> {
    match fields.get(key) {
        None | Some(Value::Null) if !outcome.is_paid() => Ok(Decimal::ZERO),
        _ => amount(fields, key),
    }
}

/// `12`, `12.50`, `0.000001`; `None` for anything else or more digits than fit.
pub fn parse_amount(s: &str) -> Option<Decimal> {
    let (int, frac) = s.split_once('.').unwrap_or((s, "0"));
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if s.len() > MAX_AMOUNT_CHARS || !digits(int) || !digits(frac) {
        return None;
    }
    // Exact or nothing: a value with more digits than a decimal holds is refused, never
    // rounded.
    Decimal::from_str_exact(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "65b2f3d0d2d9c0a1b2c3d4e5";

    fn payload() -> Value {
        serde_json::json!({
            "all_scale_checkout_intent_id": ID,
            "status": 20,
            "amount_coins": "12.50",
            "coin_symbol": "USDT",
            "chain_id": 1,
            "currency_symbol": "USD",
            "amount_cents": 1250,
            "actual_paid_amount": "11.25",
            "service_fee_amount": "0.1125",
            "net_income_amount": "11.1375"
        })
    }

    fn dec(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    #[test]
    fn decodes_the_documented_payload_exactly() {
        let d = Detail::from_payload(&payload(), ID, Outcome::Confirmed).unwrap();
        assert_eq!(
            (d.coin.as_str(), d.chain, d.currency.as_str()),
            ("USDT", 1, "USD")
        );
        assert_eq!(d.amount, dec("12.50"));
        assert_eq!(d.paid.to_string(), "11.25");
        assert_eq!(d.net.to_string(), "11.1375");
        assert_eq!(d.shortfall().to_string(), "1.25");
        assert_eq!(d.fiat().to_string(), "12.50");
        assert_eq!(dec("0.1") + dec("0.2"), dec("0.3"));
    }

    #[test]
    fn amounts_must_be_non_negative_decimal_strings() {
        for good in ["0", "12", "12.50", "0.000001", "007.5"] {
            assert!(parse_amount(good).is_some(), "{good}");
        }
        for bad in [
            "",
            "-1",
            "+1",
            "1e3",
            "1.",
            ".5",
            " 1",
            "1 ",
            "1.2.3",
            "0x10",
            "NaN",
            "١",
            "99999999999999999999999999999999",
            "0.00000000000000000000000000001",
        ] {
            assert_eq!(parse_amount(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn malformed_payloads_are_decode_errors() {
        let cases: [(&str, Value); 7] = [
            ("actual_paid_amount", Value::from("-11.25")),
            ("actual_paid_amount", serde_json::json!(11.25)),
            ("coin_symbol", Value::from(12345)),
            ("chain_id", Value::from("1")),
            ("amount_cents", Value::from(-5)),
            ("service_fee_amount", Value::Null),
            ("all_scale_checkout_intent_id", Value::from("another")),
        ];
        for (key, value) in cases {
            let mut p = payload();
            p[key] = value;
            let e = Detail::from_payload(&p, ID, Outcome::Confirmed).unwrap_err();
            assert!(e.to_string().contains(key), "{key}: {e}");
        }
        let mut p = payload();
        p.as_object_mut().unwrap().remove("net_income_amount");
        assert!(Detail::from_payload(&p, ID, Outcome::Confirmed).is_err());
        let e = Detail::from_payload(&serde_json::json!([payload()]), ID, Outcome::Canceled)
            .unwrap_err();
        assert!(e.to_string().contains("not a JSON object"));
    }

    #[test]
    fn null_or_missing_amounts_are_zero_only_where_nothing_may_have_been_paid() {
        const AMOUNTS: [&str; 3] = [
            "actual_paid_amount",
            "service_fee_amount",
            "net_income_amount",
        ];
        let mut null = payload();
        let mut missing = payload();
        for key in AMOUNTS {
            null[key] = Value::Null;
            missing.as_object_mut().unwrap().remove(key);
        }
        for outcome in [
            Outcome::Canceled,
            Outcome::Timeout,
            Outcome::Failed,
            Outcome::Rejected,
        ] {
            for p in [&null, &missing] {
                let d = Detail::from_payload(p, ID, outcome).unwrap();
                assert_eq!(
                    (d.paid, d.fee, d.net),
                    (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO)
                );
                assert_eq!(d.amount, dec("12.50"), "the asked amount is kept");
            }
            // Sent amounts are read as they are.
            assert_eq!(
                Detail::from_payload(&payload(), ID, outcome).unwrap().paid,
                dec("11.25")
            );
            // A non-null malformed value stays malformed.
            for bad in [
                Value::from("-1"),
                serde_json::json!(1.5),
                serde_json::json!(["1"]),
            ] {
                for key in AMOUNTS {
                    let mut p = null.clone();
                    p[key] = bad.clone();
                    let e = Detail::from_payload(&p, ID, outcome).unwrap_err();
                    assert!(e.to_string().contains(key), "{outcome:?} {key}: {e}");
                }
            }
            // The asked amount is never optional.
            let mut p = null.clone();
            p["amount_coins"] = Value::Null;
            assert!(Detail::from_payload(&p, ID, outcome).is_err());
        }
        for outcome in [Outcome::Confirmed, Outcome::Underpaid] {
            for p in [&null, &missing] {
                let e = Detail::from_payload(p, ID, outcome).unwrap_err();
                assert!(
                    e.to_string().contains("actual_paid_amount"),
                    "{outcome:?}: {e}"
                );
            }
        }
    }

    #[test]
    fn an_overpayment_has_no_shortfall() {
        let mut p = payload();
        p["actual_paid_amount"] = Value::from("13");
        assert_eq!(
            Detail::from_payload(&p, ID, Outcome::Confirmed)
                .unwrap()
                .shortfall(),
            Decimal::ZERO
        );
    }
}
