//! The request metrics: per store, what each API request gave (fed an [`Answered`] per
//! request through the store's [`StoreRecorder`]), written at scrape time in the order
//! and form the `prometheus` registry that used to hold them wrote them (families by
//! name; series by label values, labels by name). The series are kept with the store's
//! others (`stores`), which hands out the recorder and calls [`write`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use super::histogram::Histogram;
use super::plan::PlanCell;
use super::{Family, escape, header, sorted};
use crate::api::{ApiCode, Endpoint, RequestResult};
use crate::lock;

/// Undocumented codes get their own series up to this many per store, then `other`:
/// a misbehaving API must not blow up cardinality.
const MAX_EXTRA_ERROR_CODES: usize = 16;

const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

const CLOCK_SKEW: Family = Family {
    name: "allscale_api_clock_skew_seconds",
    kind: "gauge",
    help: "The API server's clock minus the exporter's, from the latest answer's X-Response-Timestamp or Date header (requests are refused beyond +-300 s).",
};
const ERRORS: Family = Family {
    name: "allscale_api_errors_total",
    kind: "counter",
    help: "Error codes in AllScale API envelopes (code != 0).",
};
const DURATION: Family = Family {
    name: "allscale_api_request_duration_seconds",
    kind: "histogram",
    help: "Time from sending a request to the AllScale API to reading its whole answer.",
};
const REQUESTS: Family = Family {
    name: "allscale_api_requests_total",
    kind: "counter",
    help: "Requests to the AllScale API by endpoint (status, detail) and result (ok, api_error, http_error, timeout, connect_error, decode_error, bad_response_signature).",
};
const UP: Family = Family {
    name: "allscale_api_up",
    kind: "gauge",
    help: "1 when the store's latest request got a well-formed answer that was neither an auth failure nor a server error.",
};

/// What one finished API request tells the request metrics. The poller makes it from the
/// client's answer, so the metrics know the label sets and nothing of the client.
#[derive(Debug, Clone, PartialEq)]
pub struct Answered {
    pub endpoint: Endpoint,
    pub result: RequestResult,
    pub elapsed: std::time::Duration,
    /// The envelope's error code, for an API error.
    pub api_code: Option<ApiCode>,
    /// `allscale_api_up`: reachable, authenticated, and not a server error.
    pub reachable: bool,
    /// The API's clock minus ours, seconds, when the answer said.
    pub clock_skew: Option<f64>,
}

/// A store's request series.
#[derive(Debug, Clone)]
pub(super) struct ApiSeries {
    /// A poller took a recorder since the store (last) came into the config: exported.
    shown: bool,
    /// Built from `Endpoint::ALL` and `RequestResult::ALL`, in declaration order.
    requests: [[u64; RequestResult::ALL.len()]; Endpoint::ALL.len()],
    duration: [Histogram; Endpoint::ALL.len()],
    /// `code` label → count: the documented codes from the first recorder on, the
    /// undocumented ones as they come, `other` once they are capped.
    errors: BTreeMap<String, u64>,
    extra_codes: BTreeSet<i64>,
    /// Set with the first request, so a store that never polls has no `api_up`.
    up: Option<bool>,
    skew: Option<f64>,
}

impl Default for ApiSeries {
    fn default() -> Self {
        Self {
            shown: false,
            requests: Default::default(),
            duration: Endpoint::ALL.map(|_| Histogram::new(&LATENCY_BUCKETS)),
            errors: BTreeMap::new(),
            extra_codes: BTreeSet::new(),
            up: None,
            skew: None,
        }
    }
}

impl ApiSeries {
    /// A poller records for the store: its series are exported, the documented error
    /// codes from 0 (so rates and alerts start from a sample).
    pub(super) fn start(&mut self) {
        self.shown = true;
        for code in ApiCode::DOCUMENTED {
            self.errors.entry(code.to_string()).or_insert(0);
        }
    }

    /// The store left the config: the counters stay, the rest starts afresh if it comes
    /// back.
    pub(super) fn depart(&mut self) {
        *self = Self {
            requests: self.requests,
            errors: std::mem::take(&mut self.errors),
            extra_codes: std::mem::take(&mut self.extra_codes),
            ..Self::default()
        };
    }

    fn record(&mut self, answered: &Answered) {
        let endpoint = answered.endpoint as usize;
        self.requests[endpoint][answered.result as usize] += 1;
        self.duration[endpoint].observe(answered.elapsed.as_secs_f64());
        if let Some(code) = answered.api_code {
            let label = self.error_code_label(code);
            *self.errors.entry(label).or_insert(0) += 1;
        }
        self.up = Some(answered.reachable);
        if let Some(skew) = answered.clock_skew {
            self.skew = Some(skew);
        }
    }

    /// The `code` label: a documented code as it is, an undocumented one as it is up to
    /// [`MAX_EXTRA_ERROR_CODES`] per store, then `other`.
    fn error_code_label(&mut self, code: ApiCode) -> String {
        let ApiCode::Other(code) = code else {
            return code.to_string();
        };
        let seen = &mut self.extra_codes;
        if seen.contains(&code) || seen.len() < MAX_EXTRA_ERROR_CODES {
            seen.insert(code);
            code.to_string()
        } else {
            "other".to_string()
        }
    }
}

/// A store's request series, resolved once: recording a request looks nothing up.
pub struct StoreRecorder {
    api: Arc<Mutex<ApiSeries>>,
    plan: Arc<PlanCell>,
}

impl StoreRecorder {
    /// The recorder of a store's started series and its new budget plan.
    pub(super) fn new(api: Arc<Mutex<ApiSeries>>, plan: Arc<PlanCell>) -> Self {
        Self { api, plan }
    }

    /// The store's budget plan, which the poller keeps current.
    pub fn plan(&self) -> &PlanCell {
        &self.plan
    }

    /// Records one finished request.
    pub fn record(&mut self, answered: &Answered) {
        lock(&self.api).record(answered);
    }
}

/// A store's request series as a scrape copied them: (raw name, escaped name, series).
type Shown = (String, String, ApiSeries);

/// The request families, from every store (by name, with its series) that a poller
/// records for.
pub(super) fn write(out: &mut String, series: Vec<(String, Arc<Mutex<ApiSeries>>)>) {
    let stores: Vec<Shown> = series
        .into_iter()
        .map(|(name, api)| {
            let escaped = escape(&name);
            (name, escaped, lock(&api).clone())
        })
        .filter(|(_, _, api)| api.shown)
        .collect();
    if stores.is_empty() {
        return;
    }
    write_gauges(out, &CLOCK_SKEW, &stores, |a| a.skew);
    write_errors(out, &stores);
    write_durations(out, &stores);
    write_requests(out, &stores);
    write_gauges(out, &UP, &stores, |a| {
        a.up.map(|up| f64::from(u8::from(up)))
    });
}

/// By code label, then store (the raw names, as the registry sorted them).
fn write_errors(out: &mut String, stores: &[Shown]) {
    let mut errors: Vec<(&str, &str, &str, u64)> = stores
        .iter()
        .flat_map(|(name, store, a)| {
            a.errors
                .iter()
                .map(|(code, n)| (code.as_str(), name.as_str(), store.as_str(), *n))
        })
        .collect();
    errors.sort_unstable();
    header(out, &ERRORS);
    for (code, _, store, n) in errors {
        let _ = writeln!(
            out,
            "{}{{code=\"{code}\",store=\"{store}\"}} {n}",
            ERRORS.name
        );
    }
}

fn write_durations(out: &mut String, stores: &[Shown]) {
    header(out, &DURATION);
    for endpoint in sorted(Endpoint::ALL, Endpoint::as_str) {
        for (_, store, a) in stores {
            let labels = format!("endpoint=\"{}\",store=\"{store}\"", endpoint.as_str());
            a.duration[endpoint as usize].write(out, DURATION.name, &labels);
        }
    }
}

fn write_requests(out: &mut String, stores: &[Shown]) {
    header(out, &REQUESTS);
    for endpoint in sorted(Endpoint::ALL, Endpoint::as_str) {
        for result in sorted(RequestResult::ALL, RequestResult::as_str) {
            for (_, store, a) in stores {
                let n = a.requests[endpoint as usize][result as usize];
                let _ = writeln!(
                    out,
                    "{}{{endpoint=\"{}\",result=\"{}\",store=\"{store}\"}} {n}",
                    REQUESTS.name,
                    endpoint.as_str(),
                    result.as_str()
                );
            }
        }
    }
}

/// A per-store gauge family, left out when no store has a value (as the registry did).
fn write_gauges(
    out: &mut String,
    family: &Family,
    stores: &[Shown],
    value: fn(&ApiSeries) -> Option<f64>,
) {
    let mut first = true;
    for (_, store, a) in stores {
        if let Some(v) = value(a) {
            if std::mem::take(&mut first) {
                header(out, family);
            }
            let _ = writeln!(out, "{}{{store=\"{store}\"}} {v}", family.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_error_codes_are_capped_per_store() {
        let mut s = ApiSeries::default();
        for code in 0..(MAX_EXTRA_ERROR_CODES as i64) {
            assert_eq!(
                s.error_code_label(ApiCode::from_code(70000 + code)),
                (70000 + code).to_string()
            );
        }
        let mut label = |code| s.error_code_label(ApiCode::from_code(code));
        assert_eq!(label(1), "other");
        assert_eq!(label(70000), "70000");
        assert_eq!(label(90000), "90000");
        let mut t = ApiSeries::default();
        assert_eq!(t.error_code_label(ApiCode::from_code(1)), "1");
    }
}
