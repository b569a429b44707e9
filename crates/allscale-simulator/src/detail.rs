//! The intent detail endpoint's payload (`GET /v1/checkout_intents/{id}`): the amounts an
//! intent sets in the scenario, their exact defaults, and the broken payloads of
//! `detail.malformed`.
//!
//! Amounts are decimal strings and every default is computed exactly, on integers scaled
//! by a power of ten (never `f64`).

use serde::Serialize;
use serde_json::Value;

use super::{DetailMalformed, SimIntent};

/// The status the API calls UNDERPAID: an intent ending there defaults to paying less.
const UNDERPAID: i64 = -3;

/// CANCELED and TIMEOUT: nothing was paid, so the API (as the independent mock models
/// it) answers `actual_paid_amount`, `service_fee_amount` and `net_income_amount` null.
const UNPAID: [i64; 2] = [-4, -5];

/// A non-negative decimal: `units / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dec {
    units: u128,
    scale: u32,
}

impl Dec {
    /// `12`, `12.50`: digits with at most one dot (checked by `scenario::is_decimal`).
    fn parse(s: &str) -> Result<Dec, String> {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let mut units: u128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            if !b.is_ascii_digit() {
                return Err(format!("{s:?} is not a decimal"));
            }
            units = units
                .checked_mul(10)
                .and_then(|u| u.checked_add(u128::from(b - b'0')))
                .ok_or_else(|| format!("{s:?} has too many digits"))?;
        }
        Ok(Dec {
            units,
            scale: frac.len() as u32,
        })
    }

    /// `self / 10^n`, exactly.
    fn shift(self, n: u32) -> Dec {
        Dec {
            units: self.units,
            scale: self.scale + n,
        }
    }

    fn times(self, k: u128) -> Option<Dec> {
        Some(Dec {
            units: self.units.checked_mul(k)?,
            scale: self.scale,
        })
    }

    fn rescale(self, scale: u32) -> Option<u128> {
        self.units
            .checked_mul(10u128.checked_pow(scale - self.scale)?)
    }

    /// `self - other`, `None` when negative or too large.
    fn minus(self, other: Dec) -> Option<Dec> {
        let scale = self.scale.max(other.scale);
        let units = self.rescale(scale)?.checked_sub(other.rescale(scale)?)?;
        Some(Dec { units, scale })
    }

    /// `floor(self × 100)`, as an integer (cents of a 1:1 stablecoin).
    fn cents(self) -> Option<u64> {
        let hundred = self.times(100)?;
        let whole = hundred.units / 10u128.checked_pow(hundred.scale)?;
        u64::try_from(whole).ok()
    }

    /// The exact value with trailing zeros trimmed, but never below `min_scale` places.
    fn render(mut self, min_scale: u32) -> String {
        while self.scale > min_scale && self.units.is_multiple_of(10) {
            self.units /= 10;
            self.scale -= 1;
        }
        let digits = format!("{:0>width$}", self.units, width = self.scale as usize + 1);
        if self.scale == 0 {
            return digits;
        }
        let (int, frac) = digits.split_at(digits.len() - self.scale as usize);
        format!("{int}.{frac}")
    }
}

/// An intent's detail fields, resolved once (scenario values, else the defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Detail {
    pub(super) amount_coins: String,
    pub(super) coin_symbol: String,
    pub(super) chain_id: u64,
    pub(super) currency_symbol: String,
    pub(super) amount_cents: u64,
    /// `None`: answered as JSON `null` (nothing paid).
    pub(super) paid_coins: Option<String>,
    pub(super) fee_coins: Option<String>,
    pub(super) net_coins: Option<String>,
    pub(super) malformed: Option<DetailMalformed>,
}

impl Detail {
    /// The defaults: amount `12.50` USDT on chain 1, currency USD, amount_cents =
    /// floor(amount × 100), paid = the amount (90 % of it when the lifecycle ends in -3,
    /// UNDERPAID; null when it ends in -4 CANCELED or -5 TIMEOUT), fee = 1 % of paid,
    /// net = paid − fee (null when paid is). The reason when the scenario's values do not
    /// allow them (too many digits, a fee above what was paid).
    pub(super) fn resolve(i: &SimIntent) -> Result<Detail, String> {
        let amount_coins = i.amount_coins.clone().unwrap_or_else(|| "12.50".to_owned());
        let amount = Dec::parse(&amount_coins).map_err(|e| format!("amount_coins {e}"))?;
        let amount_cents = match i.amount_cents {
            Some(c) => c,
            None => amount.cents().ok_or_else(|| {
                format!("amount_coins {amount_coins:?} is too large for a default amount_cents")
            })?,
        };
        let last = i.lifecycle.last();
        let paid_coins = match &i.paid_coins {
            Some(p) => Some(p.clone()),
            None if last.is_some_and(|s| UNPAID.contains(s)) => None,
            None if last == Some(&UNDERPAID) => Some(
                amount
                    .times(9)
                    .ok_or_else(|| format!("amount_coins {amount_coins:?} has too many digits"))?
                    .shift(1)
                    .render(amount.scale),
            ),
            None => Some(amount_coins.clone()),
        };
        let (fee_coins, net_coins) = match &paid_coins {
            Some(paid_coins) => {
                let (fee, net) = Self::fee_and_net(i, paid_coins)?;
                (Some(fee), Some(net))
            }
            None => (i.fee_coins.clone(), i.net_coins.clone()),
        };
        Ok(Detail {
            amount_coins,
            coin_symbol: i.coin_symbol.clone().unwrap_or_else(|| "USDT".to_owned()),
            chain_id: i.chain_id.unwrap_or(1),
            currency_symbol: i
                .currency_symbol
                .clone()
                .unwrap_or_else(|| "USD".to_owned()),
            amount_cents,
            paid_coins,
            fee_coins,
            net_coins,
            malformed: i.detail.as_ref().map(|d| d.malformed),
        })
    }

    /// The fee and net of a paid amount: the scenario's, else 1 % and the rest.
    fn fee_and_net(i: &SimIntent, paid_coins: &str) -> Result<(String, String), String> {
        let paid = Dec::parse(paid_coins).map_err(|e| format!("paid_coins {e}"))?;
        let fee_coins = match &i.fee_coins {
            Some(f) => f.clone(),
            None => paid.shift(2).render(paid.scale),
        };
        let net_coins = match &i.net_coins {
            Some(n) => n.clone(),
            None => {
                let fee = Dec::parse(&fee_coins).map_err(|e| format!("fee_coins {e}"))?;
                paid.minus(fee)
                    .ok_or_else(|| {
                        format!(
                            "fee_coins {fee_coins:?} is more than paid_coins {paid_coins:?} \
                             (set net_coins to say what the store nets)"
                        )
                    })?
                    .render(paid.scale)
            }
        };
        Ok((fee_coins, net_coins))
    }

    /// Whether the intent sets any field the detail answer carries.
    pub(super) fn sets_any(i: &SimIntent) -> bool {
        i.amount_coins.is_some()
            || i.coin_symbol.is_some()
            || i.chain_id.is_some()
            || i.currency_symbol.is_some()
            || i.amount_cents.is_some()
            || i.paid_coins.is_some()
            || i.fee_coins.is_some()
            || i.net_coins.is_some()
            || i.detail.is_some()
    }

    /// [`Detail::resolve`], or the defaults when an unvalidated scenario's values do not
    /// resolve.
    pub(super) fn resolve_or_default(i: &SimIntent) -> Detail {
        Detail::resolve(i).unwrap_or_else(|_| Detail::default_for(i.lifecycle.last().copied()))
    }

    /// The defaults of an intent that sets no detail field and whose lifecycle ends at
    /// `last`.
    pub(super) fn default_for(last: Option<i64>) -> Detail {
        let mut i = SimIntent::new("", "");
        i.lifecycle = last.into_iter().collect();
        Detail::resolve(&i).expect("the defaults resolve")
    }

    /// The payload for intent `id` at `status`: the documented object, or the broken one
    /// of `detail.malformed`.
    pub(super) fn payload(&self, id: &str, status: i64) -> DetailPayload {
        let mut body = DetailBody {
            all_scale_checkout_intent_id: id.to_owned(),
            status,
            amount_coins: self.amount_coins.clone(),
            coin_symbol: Value::from(self.coin_symbol.as_str()),
            chain_id: self.chain_id,
            currency_symbol: self.currency_symbol.clone(),
            amount_cents: self.amount_cents,
            actual_paid_amount: Some(decimal_or_null(self.paid_coins.as_deref())),
            service_fee_amount: decimal_or_null(self.fee_coins.as_deref()),
            net_income_amount: decimal_or_null(self.net_coins.as_deref()),
        };
        // A broken amount is made from what was paid, or the amount asked when nothing was.
        let broken = self.paid_coins.as_deref().unwrap_or(&self.amount_coins);
        let mut in_array = false;
        match self.malformed {
            None => {}
            Some(DetailMalformed::NegativeAmount) => {
                body.actual_paid_amount = Some(Value::from(format!("-{broken}")));
            }
            Some(DetailMalformed::FloatAmount) => {
                // A decimal string is valid JSON number text: the same value, unquoted.
                body.actual_paid_amount = serde_json::from_str(broken).ok();
            }
            Some(DetailMalformed::MissingField) => body.actual_paid_amount = None,
            Some(DetailMalformed::NotAnObject) => in_array = true,
            Some(DetailMalformed::BadCoin) => body.coin_symbol = Value::from(12345),
        }
        DetailPayload {
            body,
            in_array,
            malformed: self.malformed.is_some(),
        }
    }
}

/// A decimal string, or JSON `null` for `None`.
fn decimal_or_null(amount: Option<&str>) -> Value {
    amount.map_or(Value::Null, Value::from)
}

/// The documented detail object, in this field order.
#[derive(Debug, Serialize)]
pub(super) struct DetailBody {
    all_scale_checkout_intent_id: String,
    status: i64,
    amount_coins: String,
    coin_symbol: Value,
    chain_id: u64,
    currency_symbol: String,
    amount_cents: u64,
    /// `None`: the field is left out (`missing_field`); `null` is `Some(Value::Null)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    actual_paid_amount: Option<Value>,
    service_fee_amount: Value,
    net_income_amount: Value,
}

/// A detail payload as answered: the object, or (`not_an_object`) an array holding it.
#[derive(Debug)]
pub(super) struct DetailPayload {
    body: DetailBody,
    in_array: bool,
    /// Broken on purpose (`detail.malformed`): counted as a malformed answer.
    pub(super) malformed: bool,
}

impl Serialize for DetailPayload {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.in_array {
            [&self.body].serialize(s)
        } else {
            self.body.serialize(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Dec {
        Dec::parse(s).unwrap()
    }

    #[test]
    fn decimal_arithmetic_is_exact() {
        assert_eq!(dec("0.3").shift(2).render(1), "0.003");
        assert_eq!(dec("0.3").minus(dec("0.003")).unwrap().render(1), "0.297");
        assert_eq!(dec("12.50").shift(2).render(2), "0.125");
        assert_eq!(dec("10.00").shift(2).render(2), "0.10");
        assert_eq!(dec("10.00").minus(dec("0.10")).unwrap().render(2), "9.90");
        assert_eq!(dec("12.50").times(9).unwrap().shift(1).render(2), "11.25");
        assert_eq!(dec("7").shift(2).render(0), "0.07");
        assert_eq!(dec("7").render(0), "7");
        assert_eq!(dec("0.1").minus(dec("0.2")), None);
        assert_eq!(dec("12.509").cents(), Some(1250));
        assert_eq!(dec("0").cents(), Some(0));
        assert!(Dec::parse(&"9".repeat(40)).is_err());
    }

    /// `(paid, fee, net)` as served (`None`: null).
    fn amounts(d: &Detail) -> (Option<&str>, Option<&str>, Option<&str>) {
        (
            d.paid_coins.as_deref(),
            d.fee_coins.as_deref(),
            d.net_coins.as_deref(),
        )
    }

    #[test]
    fn defaults() {
        let mut i = SimIntent::new("65b2f3d0d2d9c0a1b2c3d4e5", "k");
        let d = Detail::resolve(&i).unwrap();
        assert_eq!(
            (d.amount_coins.as_str(), d.coin_symbol.as_str(), d.chain_id),
            ("12.50", "USDT", 1)
        );
        assert_eq!((d.currency_symbol.as_str(), d.amount_cents), ("USD", 1250));
        assert_eq!(amounts(&d), (Some("12.50"), Some("0.125"), Some("12.375")));
        i.lifecycle = vec![2, -3];
        let d = Detail::resolve(&i).unwrap();
        assert_eq!(
            amounts(&d),
            (Some("11.25"), Some("0.1125"), Some("11.1375"))
        );
        i.paid_coins = Some("0.3".into());
        let d = Detail::resolve(&i).unwrap();
        assert_eq!(amounts(&d), (Some("0.3"), Some("0.003"), Some("0.297")));
        i.fee_coins = Some("0.5".into());
        assert!(
            Detail::resolve(&i)
                .unwrap_err()
                .contains("more than paid_coins")
        );
        i.net_coins = Some("0".into());
        assert_eq!(Detail::resolve(&i).unwrap().net_coins.as_deref(), Some("0"));
    }

    #[test]
    fn canceled_and_timed_out_intents_paid_nothing_unless_the_scenario_says() {
        for last in [-4, -5] {
            let mut i = SimIntent::new("65b2f3d0d2d9c0a1b2c3d4e5", "k");
            i.lifecycle = vec![2, last];
            let d = Detail::resolve(&i).unwrap();
            assert_eq!(amounts(&d), (None, None, None), "{last}");
            assert_eq!((d.amount_coins.as_str(), d.amount_cents), ("12.50", 1250));
            i.paid_coins = Some("1".into());
            let d = Detail::resolve(&i).unwrap();
            assert_eq!(amounts(&d), (Some("1"), Some("0.01"), Some("0.99")));
        }
        for last in [-2, -1] {
            let mut i = SimIntent::new("65b2f3d0d2d9c0a1b2c3d4e5", "k");
            i.lifecycle = vec![2, last];
            assert_eq!(
                amounts(&Detail::resolve(&i).unwrap()).0,
                Some("12.50"),
                "{last}"
            );
        }
    }
}

#[cfg(test)]
mod http_tests {
    use crate::testkit::*;
    use crate::{MALFORMED_STATS_CODE, Scenario, ScenarioError};
    use serde_json::{Value, json};

    const FULL: &str = "d00000000000000000000001";
    const DEFAULTS: &str = "d00000000000000000000002";
    const SMALL: &str = "d00000000000000000000003";
    const UNDERPAID: &str = "d00000000000000000000004";
    const FAILING: &str = "d00000000000000000000005";
    const CANCELED: &str = "d00000000000000000000006";
    const TIMEOUT_NEGATIVE: &str = "d00000000000000000000007";
    const NEGATIVE: &str = "d00000000000000000000010";
    const FLOAT: &str = "d00000000000000000000011";
    const MISSING: &str = "d00000000000000000000012";
    const NOT_OBJECT: &str = "d00000000000000000000013";
    const BAD_COIN: &str = "d00000000000000000000014";
    const OTHERS: &str = "d00000000000000000000020";

    const DETAIL_SCENARIO: &str = r#"
sign_responses: true
keys:
  - {api_key: st_key_a, api_secret: st_secret_a}
  - {api_key: st_key_b, api_secret: st_secret_b}
intents:
  - id: d00000000000000000000001
    key: st_key_a
    lifecycle: [10]
    amount_coins: "99.90"
    coin_symbol: USDC
    chain_id: 56
    currency_symbol: EUR
    amount_cents: 9990
    paid_coins: "99.95"
    fee_coins: "0.95"
    net_coins: "99.00"
  - {id: d00000000000000000000002, key: st_key_a, lifecycle: [20]}
  - {id: d00000000000000000000003, key: st_key_a, paid_coins: "0.3"}
  - {id: d00000000000000000000004, key: st_key_a, lifecycle: [2, -3], amount_coins: "10.00"}
  - {id: d00000000000000000000005, key: st_key_a, fail: {code: 90000, http_status: 500, first: 1}}
  - {id: d00000000000000000000006, key: st_key_a, lifecycle: [-4], amount_coins: "49.90"}
  - {id: d00000000000000000000007, key: st_key_a, lifecycle: [-5], detail: {malformed: negative_amount}}
  - {id: d00000000000000000000010, key: st_key_a, detail: {malformed: negative_amount}}
  - {id: d00000000000000000000011, key: st_key_a, paid_coins: "12.5", detail: {malformed: float_amount}}
  - {id: d00000000000000000000012, key: st_key_a, detail: {malformed: missing_field}}
  - {id: d00000000000000000000013, key: st_key_a, detail: {malformed: not_an_object}}
  - {id: d00000000000000000000014, key: st_key_a, detail: {malformed: bad_coin}}
  - {id: d00000000000000000000020, key: st_key_b}
"#;

    async fn detail(t: &TestSim, id: &str) -> Reply {
        t.get_as(KEY_A, SECRET_A, &detail_path(id)).await
    }

    #[tokio::test]
    async fn detail_payload_has_the_scenario_values() {
        let t = start(DETAIL_SCENARIO).await;
        let path = detail_path(FULL);
        let nonce = fresh_nonce();
        let r = t
            .send(&path, &signed(KEY_A, SECRET_A, &path, unix_secs(), &nonce))
            .await;
        assert_eq!((r.status, r.code()), (200, 0));
        assert!(response_signature_ok(&r, SECRET_A, &path, &nonce));
        let v = r.json();
        assert_eq!(v["error"], Value::Null);
        assert_eq!(r.header("x-request-id"), v["request_id"].as_str());
        assert_eq!(
            v["payload"],
            json!({
                "all_scale_checkout_intent_id": FULL,
                "status": 10,
                "amount_coins": "99.90",
                "coin_symbol": "USDC",
                "chain_id": 56,
                "currency_symbol": "EUR",
                "amount_cents": 9990,
                "actual_paid_amount": "99.95",
                "service_fee_amount": "0.95",
                "net_income_amount": "99.00",
            })
        );
        // Field order as documented.
        let text = String::from_utf8(r.body.clone()).unwrap();
        let expected = format!(
            r#"{{"code":0,"payload":{{"all_scale_checkout_intent_id":"{FULL}","status":10,"#
        );
        assert!(text.starts_with(&expected), "{text}");
    }

    #[tokio::test]
    async fn detail_defaults_are_exact() {
        let t = start(DETAIL_SCENARIO).await;
        let p = detail(&t, DEFAULTS).await.json()["payload"].clone();
        assert_eq!(
            p,
            json!({
                "all_scale_checkout_intent_id": DEFAULTS,
                "status": 20,
                "amount_coins": "12.50",
                "coin_symbol": "USDT",
                "chain_id": 1,
                "currency_symbol": "USD",
                "amount_cents": 1250,
                "actual_paid_amount": "12.50",
                "service_fee_amount": "0.125",
                "net_income_amount": "12.375",
            })
        );
        let p = detail(&t, SMALL).await.json()["payload"].clone();
        assert_eq!(p["actual_paid_amount"], "0.3");
        assert_eq!(p["service_fee_amount"], "0.003");
        assert_eq!(p["net_income_amount"], "0.297");
        // UNDERPAID: 90 % of the amount arrived.
        let p = detail(&t, UNDERPAID).await.json()["payload"].clone();
        assert_eq!(p["amount_coins"], "10.00");
        assert_eq!(p["amount_cents"], 1000);
        assert_eq!(p["actual_paid_amount"], "9.00");
        assert_eq!(p["service_fee_amount"], "0.09");
        assert_eq!(p["net_income_amount"], "8.91");
        // CANCELED (and TIMEOUT): nothing paid, the three amounts are present and null.
        let p = detail(&t, CANCELED).await.json()["payload"].clone();
        assert_eq!(
            (p["status"].as_i64(), p["amount_coins"].as_str()),
            (Some(-4), Some("49.90"))
        );
        assert_eq!(p["amount_cents"], 4990);
        for key in [
            "actual_paid_amount",
            "service_fee_amount",
            "net_income_amount",
        ] {
            assert_eq!(p.get(key), Some(&Value::Null), "{key}: {p}");
        }
    }

    #[tokio::test]
    async fn detail_status_follows_the_lifecycle() {
        let t = start(
            "keys: [{api_key: st_key_a, api_secret: st_secret_a}]\nintents: [{id: d00000000000000000000001, key: st_key_a, lifecycle: [1, 20], step: 100ms}]",
        )
        .await;
        // A detail request starts the lifecycle like a status poll.
        assert_eq!(detail(&t, FULL).await.json()["payload"]["status"], 1);
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        assert_eq!(detail(&t, FULL).await.json()["payload"]["status"], 20);
        assert_eq!(t.poll(FULL).await.json()["payload"], 20);
    }

    #[tokio::test]
    async fn malformed_detail_payloads() {
        let t = start(DETAIL_SCENARIO).await;
        let payload = |r: Reply| {
            assert_eq!((r.status, r.code()), (200, 0));
            r.json()["payload"].clone()
        };
        let p = payload(detail(&t, NEGATIVE).await);
        assert_eq!(p["actual_paid_amount"], "-12.50");
        assert_eq!(p["amount_coins"], "12.50");
        // Nothing paid: the negative amount is made from the amount asked.
        let p = payload(detail(&t, TIMEOUT_NEGATIVE).await);
        assert_eq!(p["actual_paid_amount"], "-12.50");
        assert_eq!(p["service_fee_amount"], Value::Null);
        let p = payload(detail(&t, FLOAT).await);
        assert_eq!(p["actual_paid_amount"], json!(12.5));
        assert!(p["actual_paid_amount"].is_f64());
        let p = payload(detail(&t, MISSING).await);
        assert!(p.get("actual_paid_amount").is_none(), "{p}");
        assert_eq!(p["service_fee_amount"], "0.125");
        let p = payload(detail(&t, NOT_OBJECT).await);
        assert!(p.is_array(), "{p}");
        assert_eq!(p[0]["all_scale_checkout_intent_id"], NOT_OBJECT);
        let p = payload(detail(&t, BAD_COIN).await);
        assert_eq!(p["coin_symbol"], 12345);
        // The status route of such an intent is unaffected.
        assert_eq!(payload(t.poll(BAD_COIN).await), 1);
        let s = t.sim.stats();
        assert_eq!(s.answers_by_code[&MALFORMED_STATS_CODE], 6);
        assert_eq!(s.answers_by_code[&0], 1);
    }

    #[tokio::test]
    async fn detail_errors_and_faults_as_on_the_status_route() {
        let t = start(DETAIL_SCENARIO).await;
        let r = detail(&t, "ffffffffffffffffffffffff").await;
        assert_eq!((r.status, r.code()), (404, 50001));
        assert_eq!(r.json()["payload"], Value::Null);
        let r = detail(&t, OTHERS).await;
        assert_eq!((r.status, r.code()), (403, 30001));
        let r = t.get_as(KEY_B, SECRET_B, &detail_path(OTHERS)).await;
        assert_eq!((r.status, r.code()), (200, 0));
        let r = t.send(&detail_path(FULL), &[]).await;
        assert_eq!((r.status, r.code()), (401, 20001));
        let r = t.get_as(KEY_A, SECRET_B, &detail_path(FULL)).await;
        assert_eq!((r.status, r.code()), (401, 20002));
        // fail.first counts each route's requests apart.
        let r = detail(&t, FAILING).await;
        assert_eq!((r.status, r.code()), (500, 90000));
        assert_eq!(detail(&t, FAILING).await.code(), 0);
        assert_eq!(t.poll(FAILING).await.code(), 90000);
        assert_eq!(t.poll(FAILING).await.code(), 0);
    }

    #[tokio::test]
    async fn detail_requests_share_the_rate_limit() {
        let t = start(
            "keys: [{api_key: st_key_a, api_secret: st_secret_a, rate_limit_per_second: 2}]\nintents: [{id: d00000000000000000000001, key: st_key_a}]",
        )
        .await;
        // Retry the burst if it straddles a second boundary.
        for _ in 0..3 {
            let second = unix_secs();
            let a = t.poll(FULL).await.code();
            let b = detail(&t, FULL).await;
            let c = detail(&t, FULL).await;
            if unix_secs() != second {
                tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
                continue;
            }
            assert_eq!((a, b.code()), (0, 0));
            assert_eq!((c.status, c.code()), (429, 40001));
            assert_eq!(c.header("retry-after"), Some("1"));
            return;
        }
        panic!("no burst fitted in one second");
    }

    #[tokio::test]
    async fn fail_malformed_carries_the_detail_payload() {
        let t = start(
            "keys: [{api_key: st_key_a, api_secret: st_secret_a}]\nintents:\n  - {id: d00000000000000000000001, key: st_key_a, fail: {malformed: string_payload}}\n  - {id: d00000000000000000000002, key: st_key_a, fail: {malformed: no_code}}",
        )
        .await;
        let v = detail(&t, FULL).await.json();
        let inner: Value = serde_json::from_str(v["payload"].as_str().unwrap()).unwrap();
        assert_eq!(inner["all_scale_checkout_intent_id"], FULL);
        let v = detail(&t, DEFAULTS).await.json();
        assert!(v.get("code").is_none());
        assert_eq!(v["payload"]["amount_coins"], "12.50");
    }

    #[tokio::test]
    async fn stats_count_detail_requests_apart() {
        let t = start(DETAIL_SCENARIO).await;
        detail(&t, FULL).await;
        detail(&t, FULL).await;
        detail(&t, OTHERS).await;
        t.send(&detail_path(FULL), &[]).await;
        t.poll(FULL).await;
        let s = t.sim.stats();
        assert_eq!(s.detail_requests_by_key[KEY_A], 3);
        assert_eq!(s.detail_requests_by_key[""], 1);
        assert_eq!(s.detail_requests_by_key.len(), 2);
        assert_eq!(s.detail_authenticated_by_intent[FULL], 2);
        assert_eq!(s.detail_authenticated_by_intent[OTHERS], 1);
        // The existing counters: every request by key, status polls by intent.
        assert_eq!(s.requests_by_key[KEY_A], 4);
        assert_eq!(s.authenticated_by_intent[FULL], 1);
        assert_eq!(s.authenticated_by_intent.len(), 1);
        assert_eq!(s.per_second_by_key[KEY_A].values().sum::<u64>(), 4);
        let v: Value = t
            .client
            .get(format!("{}/-/stats", t.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["detail_requests_by_key"][KEY_A], 3);
        assert_eq!(v["detail_authenticated_by_intent"][FULL], 2);
    }

    #[test]
    fn detail_values_are_validated_and_named() {
        let err = |yaml: &str| match Scenario::from_yaml_str(yaml) {
            Err(ScenarioError::Invalid(msg)) => msg,
            other => panic!("expected an error, got {other:?}"),
        };
        let msg = err(r#"
keys: [{api_key: a, api_secret: b}]
intents:
  - {id: d00000000000000000000001, key: a}
  - {id: d00000000000000000000002, key: a}
  - {id: d00000000000000000000003, key: a}
  - {id: d00000000000000000000004, key: a, paid_coins: "1,5", fee_coins: "-1", net_coins: "x"}
  - {id: d00000000000000000000005, key: a, paid_coins: "1", fee_coins: "2"}
  - {id: d00000000000000000000006, key: a, currency_symbol: ""}
  - {id: d00000000000000000000007, key: a, amount_coins: "99999999999999999999999999999999999999999"}
"#);
        for expected in [
            r#"intents[3]: paid_coins "1,5" is not a decimal"#,
            r#"intents[3]: fee_coins "-1" is not a decimal"#,
            r#"intents[3]: net_coins "x" is not a decimal"#,
            r#"intents[4]: fee_coins "2" is more than paid_coins "1""#,
            "intents[5]: currency_symbol must be 1 to 256 bytes",
            "intents[6]: amount_coins",
        ] {
            assert!(msg.contains(expected), "missing {expected:?} in {msg}");
        }
        assert!(!msg.contains("intents[0]"), "{msg}");
        assert!(err("keys: [{api_key: a, api_secret: b}]\nintents: [{id: d00000000000000000000001, key: a, detail: {malformed: weird}}]").contains("weird"));
        assert!(err("keys: [{api_key: a, api_secret: b}]\nintents: [{id: d00000000000000000000001, key: a, amount_cents: -1}]").contains("amount_cents"));
    }
}
