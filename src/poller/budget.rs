//! A store's request budget: `max_requests_per_second`, spread evenly, never above the
//! budget in any second the server counts.
//!
//! Two limits work together. A GCRA limiter (governor) spaces requests evenly and, with a
//! burst allowance of 60 ms worth of requests, makes up for timer lateness so the achieved
//! rate stays at the budget; a sliding window makes sure that allowance never pushes any
//! [`WINDOW`] (a second and a little more) above the budget. Waits are at least
//! [`MIN_WAIT`], so at high rates requests go out in small batches rather than one timer
//! wake-up each.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;

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

/// No span this long holds more than the budget's whole requests a second. The server
/// counts a request in the second it arrives, and the time from grant to arrival varies:
/// a second's worth granted within any second let one second on the server see 21 at
/// 20/s (granted at the end of one second, arriving in the next, while the exporter
/// shared its two cores with a test suite). A span of a second plus [`JITTER`] keeps
/// every server second within the budget while the delays differ by less than that, for
/// 2 % of the rate (the benchmark saw 3,519 and 3,549 against 3,500 with a reserve that
/// covered only 0.3 ms).
pub const WINDOW: Duration = Duration::from_millis(1000 + JITTER_MS);

const JITTER_MS: u64 = 20;

/// The window is kept as counts of grants in buckets this many ms wide: fixed memory
/// whatever the rate.
const BUCKET_MS: u64 = 10;

/// Buckets in the window, the newest (still filling) one included: the window covers at
/// least [`WINDOW`].
const BUCKETS: usize = ((1000 + JITTER_MS) / BUCKET_MS) as usize + 1;

pub struct Budget {
    per_second: f64,
    limiter: DefaultDirectRateLimiter,
    /// Requests allowed within any [`WINDOW`], when the budget is at least 1/s.
    cap: Option<u32>,
    window: Window,
}

impl Budget {
    pub fn new(per_second: f64) -> Self {
        let quota = Quota::with_period(period(per_second))
            .expect("period is at least 1 ns")
            .allow_burst(burst(per_second));
        // `as` saturates: any rate gives a count.
        let cap = (per_second >= 1.0).then(|| per_second.floor() as u32);
        Self {
            per_second,
            limiter: RateLimiter::direct(quota),
            cap,
            window: Window::new(Instant::now()),
        }
    }

    /// The rate asked for, even where [`MAX_PERIOD`] paces faster.
    pub fn per_second(&self) -> f64 {
        self.per_second
    }

    /// The rate requests are granted at: the budget, or its per-second cap when that is
    /// lower (the reserve, and the fraction of a rate that is not a whole number).
    pub fn usable(&self) -> f64 {
        self.cap.map_or(self.per_second, |cap| {
            self.per_second.min(f64::from(cap) / WINDOW.as_secs_f64())
        })
    }

    /// Takes one request from the budget, or says when to ask again (never sooner than
    /// [`MIN_WAIT`], so requests go out in small batches at high rates).
    pub fn try_acquire(&mut self) -> Result<(), Instant> {
        let now = Instant::now();
        if let Some(cap) = self.cap
            && let Some(free) = self.window.full_until(now, cap)
        {
            return Err(free.max(now + MIN_WAIT));
        }
        match self.limiter.check() {
            Ok(()) => {
                self.window.add(now);
                Ok(())
            }
            Err(not_until) => {
                // The limiter's own clock: another clock instance need not share its origin.
                let wait = not_until.wait_time_from(self.limiter.clock().now());
                Err(now + wait.clamp(MIN_WAIT, MAX_WAIT))
            }
        }
    }
}

/// The grants of the last [`WINDOW`], counted per [`BUCKET`] in a ring.
struct Window {
    origin: Instant,
    counts: [u32; BUCKETS],
    /// The newest bucket's number since `origin`.
    newest: u64,
    total: u32,
}

impl Window {
    fn new(origin: Instant) -> Self {
        Self {
            origin,
            counts: [0; BUCKETS],
            newest: 0,
            total: 0,
        }
    }

    fn bucket_of(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.origin);
        (since.as_millis() / u128::from(BUCKET_MS)) as u64
    }

    /// Moves the window on to `now`, emptying the buckets it leaves behind.
    fn advance(&mut self, now: Instant) {
        let bucket = self.bucket_of(now);
        if bucket <= self.newest {
            return;
        }
        let steps = (bucket - self.newest).min(BUCKETS as u64);
        for step in 1..=steps {
            let slot = &mut self.counts[((self.newest + step) % BUCKETS as u64) as usize];
            self.total -= *slot;
            *slot = 0;
        }
        self.newest = bucket;
    }

    fn add(&mut self, now: Instant) {
        self.advance(now);
        self.counts[(self.newest % BUCKETS as u64) as usize] += 1;
        self.total += 1;
    }

    /// With `cap` grants in the window at `now`: when its oldest grant leaves it.
    fn full_until(&mut self, now: Instant, cap: u32) -> Option<Instant> {
        self.advance(now);
        if self.total < cap {
            return None;
        }
        let oldest = (0..BUCKETS as u64)
            .map(|age| self.newest.saturating_sub(BUCKETS as u64 - 1 - age))
            .find(|&b| self.counts[(b % BUCKETS as u64) as usize] > 0)
            .unwrap_or(self.newest);
        let leaves = (oldest + BUCKETS as u64).saturating_mul(BUCKET_MS);
        Some(self.origin + Duration::from_millis(leaves))
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
    fn the_cap_is_the_whole_requests_of_a_second_and_usable_spreads_it_over_the_window() {
        assert_eq!(Budget::new(10.0).cap, Some(10));
        assert_eq!(Budget::new(49.5).cap, Some(49));
        assert_eq!(Budget::new(3500.0).cap, Some(3500));
        assert_eq!(Budget::new(0.5).cap, None);
        assert_eq!(Budget::new(1e300).cap, Some(u32::MAX));
        assert_eq!(Budget::new(0.5).usable(), 0.5);
        assert!((Budget::new(10.5).usable() - 10.0 / 1.02).abs() < 1e-9);
        assert!((Budget::new(3500.0).usable() - 3500.0 / 1.02).abs() < 1e-9);
    }

    /// No span of a second holds more than the budget: the server counts by its own
    /// seconds, which the exporter's grants need not line up with. Counting per calendar
    /// second let a span of a second hold more at 20/s (the limiter's catch-up burst at
    /// the end of one second, then a full next one).
    #[tokio::test]
    async fn no_span_of_a_second_holds_more_than_the_budget() {
        let mut budget = Budget::new(20.0);
        let mut granted: Vec<Instant> = Vec::new();
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(3500) {
            match budget.try_acquire() {
                Ok(()) => granted.push(Instant::now()),
                Err(at) => tokio::time::sleep_until(at).await,
            }
        }
        let most = (0..granted.len())
            .map(|i| {
                let end = granted[i] + Duration::from_secs(1);
                granted[i..].iter().take_while(|&&t| t < end).count()
            })
            .max()
            .unwrap_or(0);
        assert!(most <= 20, "{most} in one second");
        assert!(granted.len() >= 60, "too slow: {}", granted.len());
    }

    #[test]
    fn the_window_forgets_what_left_it_and_says_when_its_oldest_leaves() {
        let t0 = Instant::now();
        let mut window = Window::new(t0);
        window.add(t0);
        window.add(t0 + Duration::from_millis(500));
        assert_eq!(window.full_until(t0 + Duration::from_millis(600), 3), None);
        let full = window.full_until(t0 + Duration::from_millis(600), 2);
        assert_eq!(full, Some(t0 + Duration::from_millis(1030)));
        // The first grant's bucket has left: one is left in the window.
        assert_eq!(window.full_until(t0 + Duration::from_millis(1030), 2), None);
        assert_eq!(window.total, 1);
        // Far later, everything has left, in bounded steps.
        assert_eq!(
            window.full_until(t0 + Duration::from_secs(86_400 * 365), 1),
            None
        );
        assert_eq!(window.total, 0);
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
