//! The time-to-outcome histogram (issue #25) and its unobserved counter, rendered from
//! each store's counts (exported write-ahead with a state file, like the outcome
//! counters): every outcome and reason of every store, from 0.

use super::collector::{Collector, Scrape};
use super::histogram::write_lines;
use super::{Family, escape, header, store_sample};
use crate::api::Outcome;
use crate::state::{BOUNDS_SECS, TimeToOutcome, Unobserved};

const TIME_TO_OUTCOME: Family = Family {
    name: "allscale_checkout_intent_time_to_outcome_seconds",
    kind: "histogram",
    help: "Time from the intent's creation (the time its id carries) to its outcome (a verified webhook's time when it came first, else the poll's), by outcome; each intent observed once in its life.",
};
const UNOBSERVED: Family = Family {
    name: "allscale_checkout_intent_time_to_outcome_unobserved_total",
    kind: "counter",
    help: "Outcomes whose time to outcome was not observed: the id's creation time is more than 60 s after the outcome (future) or more than 30 days before it (too_old).",
};

/// Every store's time-to-outcome families.
pub(super) struct TimeToOutcomeCollector;

impl Collector for TimeToOutcomeCollector {
    fn collect(&self, scrape: &Scrape<'_>, out: &mut String) {
        let write_ahead = scrape.state.write_ahead();
        let stores: Vec<(String, TimeToOutcome)> = scrape
            .state
            .stores()
            .iter()
            .map(|handle| {
                let counts = handle
                    .lock()
                    .counters()
                    .shown(write_ahead)
                    .time_to_outcome
                    .clone();
                (escape(&handle.name), counts)
            })
            .collect();
        render(out, &stores);
    }
}

fn render(out: &mut String, stores: &[(String, TimeToOutcome)]) {
    header(out, &TIME_TO_OUTCOME);
    for (store, counts) in stores {
        for outcome in Outcome::ALL {
            let h = counts.observed.get(&outcome).cloned().unwrap_or_default();
            let labels = format!("store=\"{store}\",outcome=\"{}\"", outcome.as_str());
            let buckets = BOUNDS_SECS.iter().zip(h.buckets);
            let sum = h.sum_ms as f64 / 1000.0;
            write_lines(out, TIME_TO_OUTCOME.name, &labels, buckets, sum, h.count);
        }
    }
    header(out, &UNOBSERVED);
    for (store, counts) in stores {
        for reason in Unobserved::ALL {
            let n = counts.unobserved.get(&reason).copied().unwrap_or(0);
            store_sample(out, &UNOBSERVED, store, &[("reason", reason.as_str())], n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Histogram;

    /// Bounds print as integers (`le="900"`, the SLO's selector), buckets cumulative,
    /// the sum in seconds; every outcome and reason from 0.
    #[test]
    fn renders_a_classic_histogram_with_integer_bounds() {
        let mut counts = TimeToOutcome::default();
        let mut buckets = [1; BOUNDS_SECS.len()];
        buckets[..5].fill(0);
        let h = Histogram {
            buckets,
            count: 2,
            sum_ms: 700_500,
        };
        counts.observed.insert(Outcome::Confirmed, h);
        counts.unobserved.insert(Unobserved::Future, 3);
        let mut out = String::new();
        render(&mut out, &[("main".into(), counts)]);
        let name = TIME_TO_OUTCOME.name;
        let confirmed = "store=\"main\",outcome=\"confirmed\"";
        for line in [
            format!("{name}_bucket{{{confirmed},le=\"600\"}} 0"),
            format!("{name}_bucket{{{confirmed},le=\"900\"}} 1"),
            format!("{name}_bucket{{{confirmed},le=\"86400\"}} 1"),
            format!("{name}_bucket{{{confirmed},le=\"+Inf\"}} 2"),
            format!("{name}_sum{{{confirmed}}} 700.5"),
            format!("{name}_count{{{confirmed}}} 2"),
            format!("{name}_count{{store=\"main\",outcome=\"failed\"}} 0"),
            format!("{}{{store=\"main\",reason=\"future\"}} 3", UNOBSERVED.name),
            format!("{}{{store=\"main\",reason=\"too_old\"}} 0", UNOBSERVED.name),
        ] {
            assert!(out.lines().any(|l| l == line), "{line} not in\n{out}");
        }
        let series = out.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(series, Outcome::ALL.len() * 15 + 2);
    }
}
