//! Supervision of the long-lived tasks (each store's poller, the reloader, the state-file
//! writer, the HTTP server, the intent sources, the webhook relay): a task that ends
//! before it was asked to stop, or panics, is logged at error level with its name,
//! counted in `allscale_exporter_task_restarts_total{task}`, and run again after a
//! backoff. A task that keeps failing, or that cannot be run again, marks the process
//! failed: `/healthz` answers 503 and the process exits non-zero, so systemd or
//! Kubernetes restarts it.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use prometheus::IntCounterVec;
use tokio::sync::watch;
use tokio::time::Instant;

/// The supervised tasks, as the `task` label names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    Poller,
    Reloader,
    StateWriter,
    HttpServer,
    /// Each store's file or HTTP intent source.
    IntentSource,
    /// Each store's webhook relay.
    WebhookRelay,
    /// The replica's leases in a shared state database.
    ReplicaLeases,
}

impl Task {
    pub const ALL: [Task; 7] = [
        Task::Poller,
        Task::Reloader,
        Task::StateWriter,
        Task::HttpServer,
        Task::IntentSource,
        Task::WebhookRelay,
        Task::ReplicaLeases,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Task::Poller => "poller",
            Task::Reloader => "reloader",
            Task::StateWriter => "state_writer",
            Task::HttpServer => "http_server",
            Task::IntentSource => "intent_source",
            Task::WebhookRelay => "webhook_relay",
            Task::ReplicaLeases => "replica_leases",
        }
    }
}

/// First restart delay; doubles per failure in a row, capped at [`MAX_BACKOFF`].
pub const BASE_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A run this long resets the count of failures in a row.
pub const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// After this many failures in a row the task is given up and the process fails.
pub const MAX_FAILURES_IN_A_ROW: u32 = 5;

/// Counts restarts and holds the process's health; cheap to clone.
#[derive(Clone)]
pub struct Supervisor {
    /// `allscale_exporter_task_restarts_total`, by `task`.
    restarts: IntCounterVec,
    failed: Arc<watch::Sender<Option<String>>>,
}

impl Supervisor {
    pub fn new(restarts: IntCounterVec) -> Self {
        Self {
            restarts,
            failed: Arc::new(watch::channel(None).0),
        }
    }

    /// Why the process has failed, if it has.
    pub fn failure(&self) -> Option<String> {
        self.failed.borrow().clone()
    }

    /// Resolves once the process has failed, with the reason.
    pub async fn failed(&self) -> String {
        let mut rx = self.failed.subscribe();
        match rx.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone().unwrap_or_default(),
            Err(_) => std::future::pending().await,
        }
    }

    /// Marks the process failed (the first reason is kept).
    pub fn fail(&self, task: Task, scope: &str, why: &str) {
        let reason = format!("task {} ({scope}) {why}", task.as_str());
        tracing::error!(
            task = task.as_str(),
            scope,
            "{reason}; the exporter must be restarted"
        );
        self.failed.send_if_modified(|failed| {
            let first = failed.is_none();
            if first {
                *failed = Some(reason);
            }
            first
        });
    }

    /// Runs `run` until `stop` flips, running it again whenever it ends early or panics.
    /// `scope` says which instance it is in logs (a store's name, or the task's name).
    pub async fn supervise<F, Fut>(
        self,
        task: Task,
        scope: String,
        mut stop: watch::Receiver<bool>,
        mut run: F,
    ) where
        F: FnMut(watch::Receiver<bool>) -> Fut,
        Fut: Future<Output = ()>,
    {
        let mut in_a_row = 0u32;
        loop {
            let started = Instant::now();
            let result = AssertUnwindSafe(run(stop.clone())).catch_unwind().await;
            // Asked to stop, or its owner is gone: a normal end.
            if *stop.borrow() || stop.has_changed().is_err() {
                return;
            }
            if started.elapsed() >= HEALTHY_RUN {
                in_a_row = 0;
            }
            in_a_row += 1;
            self.log_end(task, &scope, &result);
            if in_a_row > MAX_FAILURES_IN_A_ROW {
                return self.fail(task, &scope, "kept failing");
            }
            self.restarts.with_label_values(&[task.as_str()]).inc();
            let delay = BASE_BACKOFF
                .saturating_mul(1 << (in_a_row - 1).min(16))
                .min(MAX_BACKOFF);
            tokio::select! {
                _ = crate::stopped(&mut stop) => return,
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// Runs one unit of a task's work (one config reload) and catches a panic in it: the
    /// panic is logged and counted as a restart of `task`, and the task goes on with its
    /// next unit instead of dying with everything it owns.
    pub async fn guard<T>(
        &self,
        task: Task,
        scope: &str,
        work: impl Future<Output = T>,
    ) -> Option<T> {
        let result = AssertUnwindSafe(work).catch_unwind().await;
        match result {
            Ok(value) => Some(value),
            Err(panic) => {
                self.log_end(task, scope, &Err(panic));
                self.restarts.with_label_values(&[task.as_str()]).inc();
                None
            }
        }
    }

    fn log_end(&self, task: Task, scope: &str, result: &Result<(), Box<dyn Any + Send>>) {
        let how = match result {
            Ok(()) => "ended unexpectedly".to_string(),
            Err(panic) => format!("panicked: {}", panic_message(panic.as_ref())),
        };
        tracing::error!(task = task.as_str(), scope, "task {how}; restarting it");
    }
}

/// The text of a panic payload (`panic!` with a literal or a formatted message).
fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::metrics::Metrics;

    fn restarts(metrics: &Metrics, task: Task) -> u64 {
        metrics
            .task_restarts()
            .with_label_values(&[task.as_str()])
            .get()
    }

    /// A task that panics on its first run and ends early on its second is run a third
    /// time, each restart counted; it is not restarted once asked to stop.
    #[tokio::test(start_paused = true)]
    async fn a_panicking_or_ending_task_is_restarted_and_counted() {
        let metrics = Arc::new(Metrics::new());
        let supervisor = Supervisor::new(metrics.task_restarts());
        let (stop_tx, stop) = watch::channel(false);
        let runs = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&runs);
        let task = tokio::spawn(supervisor.clone().supervise(
            Task::Poller,
            "main".into(),
            stop,
            move |mut stop| {
                let run = counted.fetch_add(1, Ordering::SeqCst);
                async move {
                    match run {
                        0 => panic!("boom"),
                        1 => {}
                        _ => crate::stopped(&mut stop).await,
                    }
                }
            },
        ));
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        assert_eq!(restarts(&metrics, Task::Poller), 2);
        stop_tx.send(true).unwrap();
        task.await.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 3, "not restarted after stop");
        assert_eq!(supervisor.failure(), None);
    }

    /// A task that fails every time is given up after MAX_FAILURES_IN_A_ROW restarts, and
    /// the process is marked failed.
    #[tokio::test(start_paused = true)]
    async fn a_task_that_keeps_failing_fails_the_process() {
        let metrics = Arc::new(Metrics::new());
        let supervisor = Supervisor::new(metrics.task_restarts());
        let (_stop_tx, stop) = watch::channel(false);
        let supervised = supervisor.clone().supervise(
            Task::StateWriter,
            "state_writer".into(),
            stop,
            |_| async { panic!("always") },
        );
        supervised.await;
        let failure = supervisor.failure().expect("failed");
        assert!(failure.contains("state_writer"), "{failure}");
        assert_eq!(supervisor.failed().await, failure);
        assert_eq!(
            restarts(&metrics, Task::StateWriter),
            u64::from(MAX_FAILURES_IN_A_ROW)
        );
    }

    /// A panic in one unit of work is caught and counted; the next unit runs.
    #[tokio::test]
    async fn a_guarded_panic_is_counted_and_the_task_goes_on() {
        let metrics = Metrics::new();
        let supervisor = Supervisor::new(metrics.task_restarts());
        let panicked = supervisor
            .guard(Task::Reloader, "reloader", async { panic!("bad reload") })
            .await;
        assert_eq!(panicked, None::<()>);
        let next = supervisor
            .guard(Task::Reloader, "reloader", async { 7 })
            .await;
        assert_eq!(next, Some(7));
        assert_eq!(restarts(&metrics, Task::Reloader), 1);
        assert_eq!(supervisor.failure(), None);
    }
}
