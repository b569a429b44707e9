//! Time as a dependency: [`UnixTime`], the exporter's one timestamp type, and [`Clock`],
//! the handle every part that needs "now" is given. The composition root makes a
//! [`Clock::system`]; tests make a [`Clock::manual`] they move by hand, or a
//! [`Clock::tokio`] that follows tokio's (paused) time, so timer-bound tests need not
//! wait on the wall clock.
//!
//! Signing and clock skew in the API crate read the wall clock themselves
//! (`allscale_api::clock`): a request is signed with the real time whatever the tests do.

use std::fmt;
use std::num::NonZeroU64;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use allscale_api::clock::since_epoch;

/// A point in unix time, to the millisecond: what the exporter records about intents,
/// requests and saves. 8 bytes, and an `Option<UnixTime>` too (0 ms is never a time
/// anything happened here, so it is the niche).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(NonZeroU64);

impl UnixTime {
    /// The earliest time there is: 1 ms after the epoch.
    pub const MIN: UnixTime = UnixTime(NonZeroU64::MIN);

    /// From milliseconds since the epoch; 0 reads as [`UnixTime::MIN`].
    pub fn from_millis(ms: u64) -> Self {
        Self(NonZeroU64::new(ms).unwrap_or(NonZeroU64::MIN))
    }

    /// From seconds since the epoch, rounded to the millisecond. Not-a-number, negative
    /// and zero read as [`UnixTime::MIN`]; a time past year 292 million saturates.
    pub fn from_secs_f64(secs: f64) -> Self {
        let ms = (secs * 1000.0).round();
        // `as` saturates: NaN → 0, negative → 0, huge → u64::MAX.
        Self::from_millis(ms as u64)
    }

    /// From whole seconds since the epoch.
    pub fn from_secs(secs: u64) -> Self {
        Self::from_millis(secs.saturating_mul(1000))
    }

    /// Milliseconds since the epoch.
    pub fn as_millis(self) -> u64 {
        self.0.get()
    }

    /// Seconds since the epoch, as `/metrics` and the state database write them.
    pub fn as_secs_f64(self) -> f64 {
        self.0.get() as f64 / 1000.0
    }

    /// Whole seconds since the epoch (rounded down).
    pub fn as_secs(self) -> u64 {
        self.0.get() / 1000
    }

    /// How long after `earlier` this is (zero if it is not after it).
    pub fn since(self, earlier: UnixTime) -> Duration {
        Duration::from_millis(self.0.get().saturating_sub(earlier.0.get()))
    }

    /// `d` later (saturating).
    pub fn after(self, d: Duration) -> Self {
        Self::from_millis(self.0.get().saturating_add(millis(d)))
    }

    /// `d` earlier (saturating at [`UnixTime::MIN`]).
    pub fn before(self, d: Duration) -> Self {
        Self::from_millis(self.0.get().saturating_sub(millis(d)))
    }
}

/// A duration in whole milliseconds, saturating.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl fmt::Debug for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UnixTime({})", self.as_secs_f64())
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.as_secs_f64(), f)
    }
}

/// Where "now" comes from. Cheap to clone; every clone reads the same time.
#[derive(Clone)]
pub struct Clock(Source);

#[derive(Clone)]
enum Source {
    System,
    /// Milliseconds since the epoch, moved by a [`ManualHand`].
    Manual(Arc<AtomicU64>),
    /// `start` plus how far tokio's clock has moved since `origin`.
    Tokio {
        start: UnixTime,
        origin: tokio::time::Instant,
    },
}

impl Clock {
    /// The wall clock: what the binary runs on.
    pub fn system() -> Self {
        Self(Source::System)
    }

    /// A clock that stands at `start` until its hand moves it.
    pub fn manual(start: UnixTime) -> (Self, ManualHand) {
        let ms = Arc::new(AtomicU64::new(start.as_millis()));
        (Self(Source::Manual(Arc::clone(&ms))), ManualHand(ms))
    }

    /// A clock that reads `start` now and then moves with tokio's time, paused or not
    /// (`tokio::time::pause`, `advance`, `#[tokio::test(start_paused = true)]`).
    pub fn tokio(start: UnixTime) -> Self {
        Self(Source::Tokio {
            start,
            origin: tokio::time::Instant::now(),
        })
    }

    /// Now.
    pub fn now(&self) -> UnixTime {
        match &self.0 {
            Source::System => UnixTime::from_millis(millis(since_epoch())),
            Source::Manual(ms) => UnixTime::from_millis(ms.load(Ordering::Relaxed)),
            Source::Tokio { start, origin } => start.after(origin.elapsed()),
        }
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.0 {
            Source::System => "system",
            Source::Manual(_) => "manual",
            Source::Tokio { .. } => "tokio",
        };
        write!(f, "Clock({kind})")
    }
}

/// Moves a [`Clock::manual`].
#[derive(Clone, Debug)]
pub struct ManualHand(Arc<AtomicU64>);

impl ManualHand {
    /// Moves the clock `d` forward.
    pub fn advance(&self, d: Duration) {
        self.0.fetch_add(millis(d), Ordering::Relaxed);
    }

    /// Sets the clock to `t` (backwards too: a wall clock can be stepped back).
    pub fn set(&self, t: UnixTime) {
        self.0.store(t.as_millis(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_trip_to_the_millisecond() {
        let t = UnixTime::from_secs_f64(1_765_000_000.123_4);
        assert_eq!(t.as_millis(), 1_765_000_000_123);
        assert_eq!(t.as_secs_f64(), 1_765_000_000.123);
        assert_eq!(t.as_secs(), 1_765_000_000);
        assert_eq!(t.to_string(), "1765000000.123");
    }

    #[test]
    fn nonsense_reads_as_the_earliest_time() {
        for s in [0.0, -5.0, f64::NAN, f64::NEG_INFINITY] {
            assert_eq!(UnixTime::from_secs_f64(s), UnixTime::MIN, "{s}");
        }
        assert_eq!(UnixTime::from_secs_f64(f64::INFINITY).as_millis(), u64::MAX);
        assert_eq!(std::mem::size_of::<Option<UnixTime>>(), 8);
    }

    #[test]
    fn arithmetic_saturates() {
        let t = UnixTime::from_secs(100);
        assert_eq!(t.after(Duration::from_millis(1500)).as_millis(), 101_500);
        assert_eq!(t.before(Duration::from_secs(1000)), UnixTime::MIN);
        assert_eq!(t.since(t.after(Duration::from_secs(1))), Duration::ZERO);
        assert_eq!(
            t.after(Duration::from_secs(5)).since(t),
            Duration::from_secs(5)
        );
        assert_eq!(
            UnixTime::from_millis(u64::MAX)
                .after(Duration::MAX)
                .as_millis(),
            u64::MAX
        );
    }

    #[test]
    fn a_manual_clock_moves_only_by_its_hand() {
        let (clock, hand) = Clock::manual(UnixTime::from_secs(1000));
        let copy = clock.clone();
        assert_eq!(clock.now(), UnixTime::from_secs(1000));
        hand.advance(Duration::from_secs(30));
        assert_eq!(copy.now(), UnixTime::from_secs(1030));
        hand.set(UnixTime::from_secs(10));
        assert_eq!(clock.now(), UnixTime::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn a_tokio_clock_follows_paused_time() {
        let clock = Clock::tokio(UnixTime::from_secs(1000));
        tokio::time::sleep(Duration::from_secs(90)).await;
        assert_eq!(clock.now(), UnixTime::from_secs(1090));
    }

    #[test]
    fn the_system_clock_reads_the_wall_clock() {
        let wall = allscale_api::clock::unix_secs;
        let before = wall();
        let now = Clock::system().now().as_secs();
        assert!(now >= before && now <= wall(), "{before} {now}");
    }
}
