//! Budget planning: what each store's poller needs (demand), may use (budget), gives each
//! intent (effective interval) and how far behind it is (lag).
//!
//! The poller publishes into one [`PlanCell`] per store with atomic stores only (no lock,
//! no label hashing on its hot path); the cell is kept with the store's series
//! (`stores`), and the page is written from the cells at scrape time ([`write`]), so the
//! lag is "now minus the earliest due poll" at the moment of the scrape.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{Family, escape, header};

const DEMAND: Family = Family {
    name: "allscale_exporter_poll_demand_requests_per_second",
    kind: "gauge",
    help: "Requests per second the store's pollable (non-terminal) intents need: active intents / poll_interval.",
};
const BUDGET: Family = Family {
    name: "allscale_exporter_poll_budget_requests_per_second",
    kind: "gauge",
    help: "The store's request budget on this replica: max_requests_per_second (divided by N with --shard K/N).",
};
const EFFECTIVE: Family = Family {
    name: "allscale_exporter_effective_poll_interval_seconds",
    kind: "gauge",
    help: "The interval each pollable intent gets, computed: max(poll_interval, active intents / usable rate), the usable rate being the budget less its per-second reserve.",
};
const LAG: Family = Family {
    name: "allscale_exporter_poll_lag_seconds",
    kind: "gauge",
    help: "How late the store's most overdue queued poll is at scrape time (0 when none is overdue).",
};

/// A store's published plan: `f64` bits in atomics.
#[derive(Debug)]
pub struct PlanCell {
    demand: AtomicU64,
    budget: AtomicU64,
    effective: AtomicU64,
    /// Unix time the earliest queued poll is due; NaN while nothing is queued.
    first_due: AtomicU64,
}

impl Default for PlanCell {
    fn default() -> Self {
        Self {
            demand: AtomicU64::new(0f64.to_bits()),
            budget: AtomicU64::new(0f64.to_bits()),
            effective: AtomicU64::new(0f64.to_bits()),
            first_due: AtomicU64::new(f64::NAN.to_bits()),
        }
    }
}

fn load(cell: &AtomicU64) -> f64 {
    f64::from_bits(cell.load(Ordering::Relaxed))
}

fn store(cell: &AtomicU64, value: f64) {
    cell.store(value.to_bits(), Ordering::Relaxed);
}

/// What the plan of `active` intents polled every `interval` within `budget` per second
/// comes to: (demand per second, effective interval in seconds).
pub fn plan(active: usize, interval: Duration, budget: f64) -> (f64, f64) {
    let interval = interval.as_secs_f64();
    let active = active as f64;
    let demand = if interval > 0.0 {
        active / interval
    } else {
        0.0
    };
    let needed = if budget > 0.0 { active / budget } else { 0.0 };
    (demand, interval.max(needed))
}

impl PlanCell {
    /// Publishes the plan of `active` pollable intents.
    /// `budget` is the configured rate; `usable` is the rate the poller's limiter grants
    /// (the budget less its per-second reserve), which the effective interval comes from.
    pub fn set(&self, active: usize, interval: Duration, budget: f64, usable: f64) {
        let (demand, effective) = plan(active, interval, usable);
        store(&self.demand, demand);
        store(&self.budget, budget);
        store(&self.effective, effective);
    }

    /// Publishes when the earliest queued poll is due (unix time), or that none is queued.
    pub fn set_first_due(&self, at: Option<f64>) {
        store(&self.first_due, at.unwrap_or(f64::NAN));
    }

    fn lag(&self, now: f64) -> f64 {
        let due = load(&self.first_due);
        if due.is_nan() {
            0.0
        } else {
            (now - due).max(0.0)
        }
    }
}

/// The four families, one series per store (by name, with its plan) whose poller
/// publishes one.
pub(super) fn write(out: &mut String, plans: Vec<(String, Arc<PlanCell>)>, now: f64) {
    let cells: Vec<(String, Arc<PlanCell>)> = plans
        .into_iter()
        .map(|(name, cell)| (escape(&name), cell))
        .collect();
    type Value = fn(&PlanCell, f64) -> f64;
    let families: [(&Family, Value); 4] = [
        (&DEMAND, |c, _| load(&c.demand)),
        (&BUDGET, |c, _| load(&c.budget)),
        (&EFFECTIVE, |c, _| load(&c.effective)),
        (&LAG, PlanCell::lag),
    ];
    for (family, value) in families {
        header(out, family);
        for (store, cell) in &cells {
            let v = value(cell, now);
            super::store_sample(out, family, store, &[], v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_interval_stretches_only_past_the_budget() {
        let second = Duration::from_secs(1);
        assert_eq!(plan(40, second, 10.0), (40.0, 4.0));
        assert_eq!(plan(5, second, 10.0), (5.0, 1.0));
        assert_eq!(plan(0, second, 10.0), (0.0, 1.0));
        assert_eq!(plan(30, Duration::from_secs(60), 0.25), (0.5, 120.0));
    }

    #[test]
    fn lag_is_zero_until_the_first_poll_is_due() {
        let cell = PlanCell::default();
        assert_eq!(cell.lag(100.0), 0.0);
        cell.set_first_due(Some(90.5));
        assert_eq!(cell.lag(100.0), 9.5);
        assert_eq!(cell.lag(80.0), 0.0);
        cell.set_first_due(None);
        assert_eq!(cell.lag(100.0), 0.0);
    }

    /// The page of `plans` (by store name) at unix time 10.
    fn render(plans: &[(&str, &Arc<PlanCell>)]) -> String {
        let plans = plans
            .iter()
            .map(|(name, cell)| (name.to_string(), Arc::clone(cell)))
            .collect();
        let mut out = String::new();
        write(&mut out, plans, 10.0);
        out
    }

    /// The budget shown is the configured one; the interval comes from what is granted.
    #[test]
    fn the_effective_interval_comes_from_the_usable_rate() {
        let cell = Arc::new(PlanCell::default());
        cell.set(3430, Duration::from_secs(1), 3500.0, 3430.0);
        let out = render(&[("a", &cell)]);
        assert!(
            out.contains("allscale_exporter_poll_budget_requests_per_second{store=\"a\"} 3500\n")
        );
        assert!(out.contains("allscale_exporter_effective_poll_interval_seconds{store=\"a\"} 1\n"));
        cell.set(3500, Duration::from_secs(1), 3500.0, 3430.0);
        let out = render(&[("a", &cell)]);
        let line = "allscale_exporter_effective_poll_interval_seconds{store=\"a\"} ";
        let value = out
            .split(line)
            .nth(1)
            .and_then(|r| r.lines().next())
            .unwrap();
        assert_eq!(value.parse::<f64>().unwrap(), 3500.0 / 3430.0, "{out}");
    }

    /// One series per store, under its escaped name. (That a store which left the config
    /// shows none is `stores`' part: the `Metrics` tests.)
    #[test]
    fn renders_one_series_per_store() {
        let (a, b) = (Arc::new(PlanCell::default()), Arc::new(PlanCell::default()));
        a.set(40, Duration::from_secs(1), 10.0, 10.0);
        b.set_first_due(Some(7.0));
        let out = render(&[("a", &a), ("b\"", &b)]);
        for line in [
            "allscale_exporter_poll_demand_requests_per_second{store=\"a\"} 40",
            "allscale_exporter_effective_poll_interval_seconds{store=\"a\"} 4",
            "allscale_exporter_poll_lag_seconds{store=\"a\"} 0",
            "allscale_exporter_poll_lag_seconds{store=\"b\\\"\"} 3",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} in\n{out}");
        }
        assert_eq!(
            out.lines().filter(|l| !l.starts_with('#')).count(),
            8,
            "{out}"
        );
    }
}
