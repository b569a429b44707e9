//! A store's request budget: `max_requests_per_second`, spread evenly, never above the
//! budget in any wall-clock second.
//!
//! Two limits work together. A GCRA limiter (governor) spaces requests evenly and, with a
//! burst allowance of 60 ms worth of requests, makes up for timer lateness so the achieved
//! rate stays at the budget; a cap per wall-clock second makes sure that allowance never
//! pushes a second above the budget. Waits are at least [`MIN_WAIT`], so at high rates
//! requests go out in small batches rather than one timer wake-up each.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// The shortest sleep between permits: coarser pacing costs far less CPU at thousands of
/// requests per second and is still even at the scale of a second.
pub const MIN_WAIT: Duration = Duration::from_millis(50);

/// The longest single wait: whatever the limiter says, look again this soon.
const MAX_WAIT: Duration = Duration::from_secs(1);

/// How much timer lateness the limiter makes up for, as time.
const CATCH_UP: Duration = Duration::from_millis(60);

/// The longest spacing between two requests, at the config's lowest rate
/// ([`crate::config::MIN_REQUESTS_PER_SECOND`]). Validation keeps rates at or above it;
/// [`Budget::new`] still clamps, because governor panics on a period over 584 years and
/// `Duration::from_secs_f64` on one that does not fit a `Duration`.
const MAX_PERIOD: Duration = Duration::from_secs(1000);

/// From this rate on, each second keeps [`RESERVE_TIME`] worth of its budget (at least one
/// request) in reserve: the server counts a request in the second it arrives, and
/// requests granted at the end of one second can arrive in the next.
const RESERVE_FROM: f64 = 50.0;

/// How late on the wire a request granted at the end of a second may arrive and still be
/// within the budget of the second that counts it. One request of reserve covered 0.3 ms
/// at 3,500/s, and the benchmark saw seconds of 3,519 and 3,549 against 3,500 (a batch
/// granted before a second ended, written after a stall); 20 ms covers those, for 2 % of
/// the rate.
const RESERVE_TIME: Duration = Duration::from_millis(20);

pub struct Budget {
    per_second: f64,
    limiter: DefaultDirectRateLimiter,
    /// Requests allowed per wall-clock second, when the budget is at least 1/s.
    cap: Option<u32>,
    second: u64,
    used: u32,
}

impl Budget {
    pub fn new(per_second: f64) -> Self {
        let quota = Quota::with_period(period(per_second))
            .expect("period is at least 1 ns")
            .allow_burst(burst(per_second));
        let cap = (per_second >= 1.0).then(|| {
            // `as` saturates: any rate gives a count, and the reserve is below `whole`.
            let whole = per_second.floor() as u32;
            whole - reserve(per_second, whole)
        });
        Self {
            per_second,
            limiter: RateLimiter::direct(quota),
            cap,
            second: 0,
            used: 0,
        }
    }

    /// The rate asked for, even where [`MAX_PERIOD`] paces faster.
    pub fn per_second(&self) -> f64 {
        self.per_second
    }

    /// The rate requests are granted at: the budget, or its per-second cap when that is
    /// lower (the reserve, and the fraction of a rate that is not a whole number).
    pub fn usable(&self) -> f64 {
        self.cap
            .map_or(self.per_second, |cap| self.per_second.min(f64::from(cap)))
    }

    /// Takes one request from the budget, or says when to ask again (never sooner than
    /// [`MIN_WAIT`], so requests go out in small batches at high rates).
    pub fn try_acquire(&mut self) -> Result<(), tokio::time::Instant> {
        let now = tokio::time::Instant::now();
        if let Some(wait) = self.second_is_full() {
            return Err(now + wait);
        }
        match self.limiter.check() {
            Ok(()) => {
                self.used += 1;
                Ok(())
            }
            Err(not_until) => {
                // The limiter's own clock: another clock instance need not share its origin.
                let wait = not_until.wait_time_from(self.limiter.clock().now());
                Err(now + wait.clamp(MIN_WAIT, MAX_WAIT))
            }
        }
    }

    /// When this second's cap is used up: the time until the next second starts. The
    /// second is the wall clock's, not the exporter's `Clock`: the API counts requests per
    /// its own real second, and the waits are real (tokio) time.
    fn second_is_full(&mut self) -> Option<Duration> {
        let cap = self.cap?;
        let now = crate::api::clock::since_epoch();
        if now.as_secs() != self.second {
            self.second = now.as_secs();
            self.used = 0;
        }
        (self.used >= cap)
            .then(|| Duration::from_nanos(1_000_000_000 - u64::from(now.subsec_nanos())))
    }
}

/// The time between two requests at `per_second`, between 1 ns and [`MAX_PERIOD`]; a
/// rate that is not a positive number gets the longest.
fn period(per_second: f64) -> Duration {
    if per_second.is_nan() || per_second <= 0.0 {
        return MAX_PERIOD;
    }
    Duration::try_from_secs_f64(1.0 / per_second)
        .map_or(MAX_PERIOD, |p| p.clamp(Duration::from_nanos(1), MAX_PERIOD))
}

/// Requests of each second kept back at `per_second`, `whole` of them a second (see
/// [`RESERVE_TIME`]): at least one, and fewer than `whole`.
fn reserve(per_second: f64, whole: u32) -> u32 {
    if per_second < RESERVE_FROM {
        return 0;
    }
    // A fraction of at most 2 % of `whole`, so the product fits and stays below it.
    let share = (RESERVE_TIME.as_secs_f64() * f64::from(whole)).ceil() as u32;
    share.clamp(1, whole - 1)
}

/// Requests the limiter lets through at once to make up for [`CATCH_UP`] of timer lateness.
fn burst(per_second: f64) -> NonZeroU32 {
    // `as` saturates (and NaN becomes 0): any f64 gives a valid count.
    let catch_up = (CATCH_UP.as_secs_f64() * per_second).ceil() as u32;
    NonZeroU32::new(catch_up.saturating_add(1)).unwrap_or(NonZeroU32::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_keep_a_reserve_at_high_rates_only() {
        assert_eq!(Budget::new(10.0).cap, Some(10));
        assert_eq!(Budget::new(49.5).cap, Some(49));
        assert_eq!(Budget::new(50.0).cap, Some(49));
        assert_eq!(Budget::new(200.0).cap, Some(196));
        assert_eq!(Budget::new(375.0).cap, Some(367));
        assert_eq!(Budget::new(3500.0).cap, Some(3430));
        assert_eq!(Budget::new(0.5).cap, None);
        assert_eq!(Budget::new(1e300).cap, Some(u32::MAX - 85_899_346));
    }

    #[test]
    fn the_usable_rate_is_what_the_cap_lets_through() {
        assert_eq!(Budget::new(0.5).usable(), 0.5);
        assert_eq!(Budget::new(10.0).usable(), 10.0);
        assert_eq!(Budget::new(10.5).usable(), 10.0);
        assert_eq!(Budget::new(3500.0).usable(), 3430.0);
    }

    #[test]
    fn any_rate_makes_a_limiter_without_panicking() {
        for rate in [
            1e-12,
            1e-300,
            f64::MIN_POSITIVE,
            0.0,
            -1.0,
            f64::NAN,
            f64::INFINITY,
            1e300,
            // The lowest valid rate split over the most `--shard` replicas.
            crate::config::MIN_REQUESTS_PER_SECOND / f64::from(u32::MAX),
        ] {
            let mut budget = Budget::new(rate);
            assert!(
                budget.try_acquire().is_ok(),
                "{rate}: the first request waits"
            );
            let _ = budget.try_acquire();
        }
        assert_eq!(period(1e-12), MAX_PERIOD);
        assert_eq!(period(0.001), MAX_PERIOD);
        assert_eq!(period(4.0), Duration::from_millis(250));
        assert_eq!(period(1e300), Duration::from_nanos(1));
    }

    /// Takes requests from a budget of `rate` as fast as it allows for `millis`; counts
    /// them per unix second.
    async fn drain(rate: f64, millis: u64) -> std::collections::BTreeMap<u64, u32> {
        let mut budget = Budget::new(rate);
        let mut per_second = std::collections::BTreeMap::new();
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(millis) {
            if let Err(at) = budget.try_acquire() {
                tokio::time::sleep_until(at).await;
                continue;
            }
            let s = crate::api::clock::unix_secs();
            *per_second.entry(s).or_insert(0u32) += 1;
        }
        per_second
    }

    /// The budget (200), never more, in any second. The cap is 196: the reserve is for
    /// permits taken just before a second ends and counted (here, as on the server) in
    /// the next one; asserting the cap here failed now and then in CI (95, 200, 199, 12)
    /// for exactly that reason.
    #[tokio::test]
    async fn never_more_than_the_budget_in_a_second() {
        let per_second = drain(200.0, 2500).await;
        assert!(per_second.values().all(|&n| n <= 200), "{per_second:?}");
        let total: u32 = per_second.values().sum();
        assert!(total >= 300, "too slow: {per_second:?}");
    }

    /// A full second waits only for the rest of that second: waiting a whole second
    /// from wherever the cap was reached left the next second a fraction of its budget
    /// (10, 2, 10, 2, … at 10/s: 6/s achieved).
    #[tokio::test]
    async fn every_whole_second_gets_most_of_the_budget() {
        let per_second = drain(10.0, 4500).await;
        // The first and last seconds are partial.
        let whole: Vec<u32> = per_second.values().copied().collect();
        let whole = &whole[1..whole.len() - 1];
        assert!(
            whole.iter().all(|&n| (6..=10).contains(&n)),
            "{per_second:?}"
        );
    }
}
