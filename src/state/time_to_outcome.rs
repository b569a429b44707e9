//! Time from an intent's creation (the time its id carries) to its outcome, counted
//! once per intent where its outcome is counted: a histogram per outcome, kept as
//! integers (cumulative bucket counts, the sum in milliseconds) so it persists as the
//! other counters do and never goes back across a restart.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::api::Outcome;
use crate::clock::UnixTime;

/// Upper bounds in seconds, 30 s to 24 h; 900 (15 min) is the time-to-confirm SLO's.
pub const BOUNDS_SECS: [u64; 12] = [
    30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400,
];

/// How far after the outcome a creation time may be and still be clock skew.
const SKEW: Duration = Duration::from_secs(60);
/// An older creation time is taken for a wrong id, not a slow payment.
const MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);

/// Why a time to outcome was not observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Unobserved {
    /// Created more than [`SKEW`] after its outcome.
    Future,
    /// Created more than [`MAX_AGE`] before its outcome.
    TooOld,
}

impl Unobserved {
    pub const ALL: [Unobserved; 2] = [Unobserved::Future, Unobserved::TooOld];

    pub fn as_str(self) -> &'static str {
        match self {
            Unobserved::Future => "future",
            Unobserved::TooOld => "too_old",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// The time from `created` to `outcome_at`, or why it is not plausible. A creation
/// within the skew after the outcome reads as no time at all.
pub fn classify(created: UnixTime, outcome_at: UnixTime) -> Result<Duration, Unobserved> {
    if created > outcome_at.after(SKEW) {
        Err(Unobserved::Future)
    } else if outcome_at.since(created) > MAX_AGE {
        Err(Unobserved::TooOld)
    } else {
        Ok(outcome_at.since(created))
    }
}

/// One outcome's histogram.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Per bound of [`BOUNDS_SECS`], cumulative (observations at or below it).
    pub buckets: [u64; BOUNDS_SECS.len()],
    pub count: u64,
    pub sum_ms: u64,
}

impl Histogram {
    fn observe(&mut self, took: Duration) {
        let ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        for (bound, n) in BOUNDS_SECS.iter().zip(&mut self.buckets) {
            if ms <= bound * 1000 {
                *n += 1;
            }
        }
        self.count += 1;
        self.sum_ms = self.sum_ms.saturating_add(ms);
    }
}

/// A store's histograms per outcome and its unobserved counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimeToOutcome {
    pub observed: BTreeMap<Outcome, Histogram>,
    pub unobserved: BTreeMap<Unobserved, u64>,
}

/// The counter rows' names.
const OBSERVED: &str = "time_to_outcome";
const UNOBSERVED: &str = "time_to_outcome_unobserved";

impl TimeToOutcome {
    /// Every outcome and reason at 0, so a first observation is an increase.
    pub(super) fn zero() -> Self {
        Self {
            observed: Outcome::ALL
                .into_iter()
                .map(|o| (o, Histogram::default()))
                .collect(),
            unobserved: Unobserved::ALL.into_iter().map(|r| (r, 0)).collect(),
        }
    }

    /// An intent created at `created` reached `outcome` at `outcome_at`.
    pub(super) fn record(&mut self, outcome: Outcome, created: UnixTime, outcome_at: UnixTime) {
        match classify(created, outcome_at) {
            Ok(took) => self.observed.entry(outcome).or_default().observe(took),
            Err(reason) => *self.unobserved.entry(reason).or_insert(0) += 1,
        }
    }

    /// Takes the saved values in (restore): what `saved` names replaces.
    pub(super) fn extend(&mut self, saved: TimeToOutcome) {
        self.observed.extend(saved.observed);
        self.unobserved.extend(saved.unobserved);
    }

    /// As the store's `(name, label)` → value counter rows: `confirmed:le=900`,
    /// `confirmed:count`, `confirmed:sum_ms`; `future`.
    pub(super) fn rows(&self) -> Vec<((&'static str, String), u64)> {
        let mut rows = Vec::new();
        for (outcome, h) in &self.observed {
            let o = outcome.as_str();
            for (bound, n) in BOUNDS_SECS.iter().zip(h.buckets) {
                rows.push(((OBSERVED, format!("{o}:le={bound}")), n));
            }
            rows.push(((OBSERVED, format!("{o}:count")), h.count));
            rows.push(((OBSERVED, format!("{o}:sum_ms")), h.sum_ms));
        }
        for (reason, n) in &self.unobserved {
            rows.push(((UNOBSERVED, reason.as_str().to_string()), *n));
        }
        rows
    }

    /// Takes in one saved counter row; `None` for a name or label this build does not
    /// know.
    pub(super) fn add_row(&mut self, name: &str, label: &str, v: u64) -> Option<&'static str> {
        match name {
            OBSERVED => {
                let (outcome, field) = label.split_once(':')?;
                let h = self.observed.entry(Outcome::parse(outcome)?).or_default();
                match field {
                    "count" => h.count = v,
                    "sum_ms" => h.sum_ms = v,
                    _ => {
                        let bound: u64 = field.strip_prefix("le=")?.parse().ok()?;
                        let i = BOUNDS_SECS.iter().position(|b| *b == bound)?;
                        h.buckets[i] = v;
                    }
                }
                Some(OBSERVED)
            }
            UNOBSERVED => {
                self.unobserved.insert(Unobserved::parse(label)?, v);
                Some(UNOBSERVED)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_700_000_000;

    fn secs(s: u64) -> UnixTime {
        UnixTime::from_secs(s)
    }

    #[test]
    fn plausible_times_are_observed_skew_reads_as_zero() {
        assert_eq!(
            classify(secs(T), secs(T + 600)),
            Ok(Duration::from_secs(600))
        );
        assert_eq!(classify(secs(T + 60), secs(T)), Ok(Duration::ZERO));
        let thirty_days = 30 * 24 * 3600;
        assert_eq!(
            classify(secs(T), secs(T + thirty_days)),
            Ok(Duration::from_secs(thirty_days))
        );
    }

    #[test]
    fn future_and_too_old_creations_are_not_observed() {
        assert_eq!(classify(secs(T + 61), secs(T)), Err(Unobserved::Future));
        assert_eq!(
            classify(secs(T), secs(T + 30 * 24 * 3600 + 1)),
            Err(Unobserved::TooOld)
        );
        let mut t = TimeToOutcome::zero();
        t.record(Outcome::Failed, secs(T + 3600), secs(T));
        t.record(Outcome::Failed, secs(1), secs(T));
        assert_eq!(t.unobserved[&Unobserved::Future], 1);
        assert_eq!(t.unobserved[&Unobserved::TooOld], 1);
        assert_eq!(t.observed[&Outcome::Failed], Histogram::default());
    }

    #[test]
    fn buckets_are_cumulative_with_the_bound_inclusive() {
        let mut t = TimeToOutcome::zero();
        t.record(Outcome::Confirmed, secs(T), secs(T + 600));
        t.record(
            Outcome::Confirmed,
            secs(T),
            UnixTime::from_millis((T + 601) * 1000 + 500),
        );
        t.record(Outcome::Confirmed, secs(T), secs(T + 100_000));
        let h = &t.observed[&Outcome::Confirmed];
        assert_eq!(h.buckets, [0, 0, 0, 0, 1, 2, 2, 2, 2, 2, 2, 2]);
        assert_eq!((h.count, h.sum_ms), (3, 600_000 + 601_500 + 100_000_000));
    }

    /// Rows read back as the histograms they came from; unknown rows are refused.
    #[test]
    fn rows_read_back() {
        let mut t = TimeToOutcome::zero();
        t.record(Outcome::Timeout, secs(T), secs(T + 45));
        t.record(Outcome::Confirmed, secs(T + 100), secs(T));
        let mut back = TimeToOutcome::default();
        for ((name, label), v) in t.rows() {
            assert_eq!(back.add_row(name, &label, v), Some(name), "{label}");
        }
        assert_eq!(back, t);
        for (name, label) in [
            (OBSERVED, "confirmed:le=901"),
            (OBSERVED, "nope:count"),
            (OBSERVED, "confirmed"),
            (UNOBSERVED, "later"),
            ("other", "future"),
        ] {
            assert_eq!(back.add_row(name, label, 1), None, "{name} {label}");
        }
    }
}
