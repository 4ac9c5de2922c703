//! Job workers: claim jobs from the store, run them, record the outcome.
//!
//! - [`runner`]: the pipeline seam, [`JobRunner`], and the GStreamer-backed [`MediaRunner`].
//! - [`webhooks`]: the sender that drains the persisted webhook outbox.
//! - [`slots`]: the limit on HLS ladders running at once.
//!
//! A worker holds a lease on the job it runs and renews it while the job runs. If the process
//! dies, the lease expires and another worker takes the job up again. At shutdown a worker stops
//! claiming, lets its job finish within `WORKER_SHUTDOWN_TIMEOUT`, and otherwise releases it.

pub mod runner;
pub mod slots;
pub mod webhooks;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

pub use runner::{JobFailure, JobRunner, MediaRunner, Progress};
pub use slots::TranscodeSlots;

use crate::metrics::Metrics;
use crate::store::{JobRecord, JobStore};

/// Maximum wait between two polls of an empty queue.
const IDLE_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// State every worker of a process shares.
#[derive(Clone)]
pub struct WorkerContext {
    pub store: JobStore,
    pub runner: Arc<dyn JobRunner>,
    pub metrics: Metrics,
    /// Woken when a job is created, so an idle worker need not wait for its next poll.
    pub wakeup: Arc<Notify>,
    pub shutdown: CancellationToken,
    pub shutdown_timeout: Duration,
    /// Lease length; the lease is renewed every third of it.
    pub lease: Duration,
}

/// Runs one worker until `context.shutdown` is cancelled.
pub async fn run_worker(context: WorkerContext, worker_id: String) {
    tracing::info!(worker_id = %worker_id, "worker started");
    while !context.shutdown.is_cancelled() {
        let job = match context.store.claim_next(&worker_id, context.lease).await {
            Ok(Some(job)) => job,
            Ok(None) => {
                tokio::select! {
                    _ = context.shutdown.cancelled() => break,
                    _ = context.wakeup.notified() => {}
                    _ = tokio::time::sleep(IDLE_POLL_INTERVAL) => {}
                }
                continue;
            }
            Err(error) => {
                tracing::error!(worker_id = %worker_id, error = %error, "claiming a job failed");
                tokio::time::sleep(IDLE_POLL_INTERVAL).await;
                continue;
            }
        };
        run_claimed(&context, &worker_id, job).await;
    }
    tracing::info!(worker_id = %worker_id, "worker stopped");
}

async fn run_claimed(context: &WorkerContext, worker_id: &str, job: JobRecord) {
    let job_id = job.id.clone();
    let job_type = job.job_type;
    tracing::info!(job_id = %job_id, job_type = %job_type, attempt = job.attempts, worker_id, "job started");
    let started = Instant::now();

    let (progress_sender, progress_receiver) = watch::channel(job.progress);
    let keeper = tokio::spawn(keep_job(context.store.clone(), job_id.clone(), worker_id.to_owned(), context.lease, progress_receiver));

    let run = context.runner.run(&job, Progress::new(progress_sender));
    tokio::pin!(run);
    let outcome = tokio::select! {
        outcome = &mut run => Some(outcome),
        _ = context.shutdown.cancelled() => {
            tracing::info!(job_id = %job_id, "shutdown requested; waiting for the running job");
            tokio::time::timeout(context.shutdown_timeout, &mut run).await.ok()
        }
    };
    keeper.abort();

    let elapsed = started.elapsed().as_secs_f64();
    let Some(outcome) = outcome else {
        match context.store.release(&job_id, worker_id).await {
            Ok(_) => tracing::warn!(job_id = %job_id, "job released for another worker at shutdown"),
            Err(error) => tracing::error!(job_id = %job_id, error = %error, "releasing the job failed"),
        }
        return;
    };

    let result_label = if outcome.is_ok() { "success" } else { "error" };
    context.metrics.worker_tasks.with_label_values(&[job_type.as_str(), result_label]).inc();
    context.metrics.worker_duration.with_label_values(&[job_type.as_str(), result_label]).observe(elapsed);

    match outcome {
        Ok(results) => match context.store.complete(&job_id, worker_id, &results).await {
            Ok(_) => tracing::info!(job_id = %job_id, job_type = %job_type, seconds = elapsed, "job completed"),
            Err(error) => tracing::error!(job_id = %job_id, error = %error, "recording the completion failed"),
        },
        Err(failure) => {
            let message = failure.to_string();
            match context.store.fail(&job_id, worker_id, &message, failure.results.as_ref(), failure.retryable).await {
                Ok(record) if record.status == vylux_common::jobs::JobStatus::Queued => {
                    tracing::warn!(job_id = %job_id, attempt = record.attempts, error = %message, "job attempt failed; retry scheduled")
                }
                Ok(_) => tracing::error!(job_id = %job_id, job_type = %job_type, error = %message, "job failed"),
                Err(error) => tracing::error!(job_id = %job_id, error = %error, "recording the failure failed"),
            }
        }
    }
}

/// Renews the lease of a running job and writes its progress, until aborted.
async fn keep_job(store: JobStore, job_id: String, worker_id: String, lease: Duration, mut progress: watch::Receiver<u8>) {
    let mut renewal = tokio::time::interval(lease / 3);
    renewal.tick().await;
    loop {
        tokio::select! {
            _ = renewal.tick() => {
                if let Err(error) = store.renew_lease(&job_id, &worker_id, lease).await {
                    tracing::warn!(job_id = %job_id, error = %error, "lease renewal failed");
                }
            }
            changed = progress.changed() => {
                if changed.is_err() {
                    return;
                }
                let value = *progress.borrow_and_update();
                if let Err(error) = store.set_progress(&job_id, &worker_id, value).await {
                    tracing::warn!(job_id = %job_id, error = %error, "progress update failed");
                }
            }
        }
    }
}

/// Returns a worker id unique to this process and slot.
pub fn worker_id(slot: usize) -> String {
    format!("worker-{}-{slot}", uuid::Uuid::new_v4().simple())
}

impl std::fmt::Debug for WorkerContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerContext").finish_non_exhaustive()
    }
}
