//! At most one run of a blocking job at a time, shared by everyone who asks while it
//! runs: a burst of scrapes costs one `/metrics` render (and one copy of the page), not
//! one each.

use crate::lock;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};

/// The job panicked (or the runtime is shutting down): there is no result to share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the job panicked or was cancelled")]
pub struct JobFailed;

/// A run in progress; every clone resolves to the same result.
pub type Flight<T> = Shared<BoxFuture<'static, Result<T, JobFailed>>>;

/// See the module docs. Cheap to clone; clones share the run in progress.
pub struct SingleFlight<T> {
    running: Arc<Mutex<Option<Flight<T>>>>,
}

impl<T> Clone for SingleFlight<T> {
    fn clone(&self) -> Self {
        Self {
            running: Arc::clone(&self.running),
        }
    }
}

impl<T> Default for SingleFlight<T> {
    fn default() -> Self {
        Self {
            running: Arc::default(),
        }
    }
}

impl<T> std::fmt::Debug for SingleFlight<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SingleFlight").finish_non_exhaustive()
    }
}

impl<T: Clone + Send + Sync + 'static> SingleFlight<T> {
    /// The run in progress, or a new one of `job` on the blocking pool. A caller that
    /// arrives after a run finished gets a new run, never an old result.
    pub fn run(&self, job: impl FnOnce() -> T + Send + 'static) -> Flight<T> {
        let mut running = lock(&self.running);
        if let Some(flight) = running.as_ref() {
            return flight.clone();
        }
        // The job starts on the first poll, outside this lock, and its thread empties the
        // slot as soon as it ends (panics included): the slot never holds a finished run.
        let landed = Landed(Arc::clone(&self.running));
        let flight = async move {
            let job = move || {
                let _landed = landed;
                job()
            };
            tokio::task::spawn_blocking(job)
                .await
                .map_err(|_| JobFailed)
        }
        .boxed()
        .shared();
        *running = Some(flight.clone());
        flight
    }
}

/// Empties the slot when dropped.
struct Landed<T>(Arc<Mutex<Option<Flight<T>>>>);

impl<T> Drop for Landed<T> {
    fn drop(&mut self) {
        lock(&self.0).take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn a_run_after_the_last_one_finished_runs_again() {
        let flight = SingleFlight::default();
        assert_eq!(flight.run(|| 1).await, Ok(1));
        assert_eq!(flight.run(|| 2).await, Ok(2));
    }

    #[tokio::test]
    async fn a_panic_is_an_error_and_does_not_stick() {
        let flight = SingleFlight::<u8>::default();
        assert_eq!(flight.run(|| panic!("boom")).await, Err(JobFailed));
        assert_eq!(flight.run(|| 3).await, Ok(3));
    }

    #[tokio::test]
    async fn a_run_whose_callers_left_still_clears_its_slot() {
        let flight = SingleFlight::default();
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&runs);
        let slow = flight.run(move || {
            std::thread::sleep(Duration::from_millis(50));
            counted.fetch_add(1, Ordering::SeqCst)
        });
        let left = tokio::time::timeout(Duration::from_millis(5), slow).await;
        assert!(left.is_err(), "the caller gave up before the run ended");
        for _ in 0..400 {
            if lock(&flight.running).is_none() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(flight.run(|| 7).await, Ok(7));
    }
}
