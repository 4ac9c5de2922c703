//! Prometheus metrics with Vylux's family names.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::storage::StorageMetrics;
use crate::store::QueueCounts;

/// Every metric the origin exports.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub worker_tasks: IntCounterVec,
    pub worker_duration: HistogramVec,
    pub readiness_failures: IntCounterVec,
    pub webhook_deliveries: IntCounterVec,
    /// HLS ladders running or waiting for a free slot (`TRANSCODE_CONCURRENCY`).
    pub transcodes: IntGaugeVec,
    queue_tasks: IntGaugeVec,
    storage_operations: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new("vylux_http_requests_total", "HTTP requests by method, route and status"),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let http_duration = HistogramVec::new(
            HistogramOpts::new("vylux_http_request_duration_seconds", "HTTP request duration in seconds"),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let worker_tasks = IntCounterVec::new(
            Opts::new("vylux_worker_tasks_total", "Job attempts by type and result"),
            &["task_type", "result"],
        )
        .expect("valid metric");
        let worker_duration = HistogramVec::new(
            HistogramOpts::new("vylux_worker_task_duration_seconds", "Job attempt duration in seconds")
                .buckets(vec![0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0]),
            &["task_type", "result"],
        )
        .expect("valid metric");
        let readiness_failures = IntCounterVec::new(
            Opts::new("vylux_readiness_failures_total", "Failed readiness checks by check"),
            &["check"],
        )
        .expect("valid metric");
        let webhook_deliveries = IntCounterVec::new(
            Opts::new("vylux_webhook_deliveries_total", "Webhook delivery attempts by result"),
            &["result"],
        )
        .expect("valid metric");
        let transcodes = IntGaugeVec::new(
            Opts::new("vylux_transcodes", "HLS ladders in this process by state (running, waiting)"),
            &["state"],
        )
        .expect("valid metric");
        let queue_tasks =
            IntGaugeVec::new(Opts::new("vylux_queue_tasks", "Jobs by queue and state"), &["queue", "state"])
                .expect("valid metric");
        let storage_operations = IntCounterVec::new(
            Opts::new("vylux_storage_operations_total", "Storage operations by role, driver, operation and result"),
            &["role", "driver", "operation", "result"],
        )
        .expect("valid metric");
        for collector in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_duration.clone()),
            Box::new(worker_tasks.clone()),
            Box::new(worker_duration.clone()),
            Box::new(readiness_failures.clone()),
            Box::new(webhook_deliveries.clone()),
            Box::new(transcodes.clone()),
            Box::new(queue_tasks.clone()),
            Box::new(storage_operations.clone()),
        ] {
            registry.register(collector).expect("metric names are unique");
        }
        Self {
            registry,
            http_requests,
            http_duration,
            worker_tasks,
            worker_duration,
            readiness_failures,
            webhook_deliveries,
            transcodes,
            queue_tasks,
            storage_operations,
        }
    }

    /// Renders every metric in the Prometheus text format, refreshing the gauges first.
    pub fn render(&self, queue: Option<&QueueCounts>, storage: &StorageMetrics) -> String {
        if let Some(counts) = queue {
            for (state, value) in [
                ("pending", counts.queued),
                ("active", counts.processing),
                ("completed", counts.completed),
                ("failed", counts.failed),
            ] {
                self.queue_tasks.with_label_values(&["default", state]).set(value as i64);
            }
            for (state, value) in [
                ("pending", counts.webhooks_pending),
                ("completed", counts.webhooks_sent),
                ("failed", counts.webhooks_failed),
            ] {
                self.queue_tasks.with_label_values(&["webhooks", state]).set(value as i64);
            }
        }
        // The storage layer keeps its own counters; copy what they gained since the last scrape.
        for count in storage.snapshot() {
            let counter = self.storage_operations.with_label_values(&[
                count.role.as_str(),
                count.driver.as_str(),
                count.operation.as_str(),
                count.outcome.as_str(),
            ]);
            counter.inc_by(count.count.saturating_sub(counter.get()));
        }
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer).expect("text encoding cannot fail");
        String::from_utf8(buffer).expect("the text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
