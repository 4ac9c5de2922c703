//! A limit on how many HLS ladders run at once in one process.
//!
//! A ladder keeps every core busy and a 1080p one peaks at about 1 GiB of memory, while
//! `WORKER_CONCURRENCY` (10 by default, as in Vylux) also counts light jobs such as covers. Ten
//! ladders at once on a small machine would only share the same cores and could run it out of
//! memory, and a process killed for memory would meet the same jobs again after its restart. So
//! ladders take a slot first, and a job without one waits with its lease still renewed.

use prometheus::IntGauge;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::metrics::Metrics;

/// The slots for HLS ladders (`TRANSCODE_CONCURRENCY`).
pub struct TranscodeSlots {
    semaphore: Semaphore,
    slots: usize,
    running: IntGauge,
    waiting: IntGauge,
}

/// One taken slot, given back when dropped.
pub struct TranscodeSlot<'a> {
    _permit: SemaphorePermit<'a>,
    running: IntGauge,
}

impl TranscodeSlots {
    /// Creates `slots` slots (at least one) that report to the `vylux_transcodes` gauge.
    pub fn new(slots: usize, metrics: &Metrics) -> Self {
        let slots = slots.max(1);
        Self {
            semaphore: Semaphore::new(slots),
            slots,
            running: metrics.transcodes.with_label_values(&["running"]),
            waiting: metrics.transcodes.with_label_values(&["waiting"]),
        }
    }

    /// Takes a slot for the job `job_id`, waiting while every slot is taken.
    pub async fn acquire(&self, job_id: &str) -> TranscodeSlot<'_> {
        let permit = match self.semaphore.try_acquire() {
            Ok(permit) => permit,
            Err(_) => {
                tracing::info!(job_id, slots = self.slots, "transcode waiting for a free slot (TRANSCODE_CONCURRENCY)");
                // Counted down on drop, so a job cancelled while it waits leaves the gauge right.
                let _waiting = GaugeGuard::increment(&self.waiting);
                self.semaphore.acquire().await.expect("the semaphore is never closed")
            }
        };
        self.running.inc();
        TranscodeSlot { _permit: permit, running: self.running.clone() }
    }
}

/// One unit of a gauge, taken back when dropped.
struct GaugeGuard<'a>(&'a IntGauge);

impl<'a> GaugeGuard<'a> {
    fn increment(gauge: &'a IntGauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Drop for TranscodeSlot<'_> {
    fn drop(&mut self) {
        self.running.dec();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn second_ladder_waits_for_the_first() {
        let metrics = Metrics::new();
        let slots = TranscodeSlots::new(1, &metrics);
        let running = metrics.transcodes.with_label_values(&["running"]);
        let waiting = metrics.transcodes.with_label_values(&["waiting"]);

        let first = slots.acquire("first").await;
        assert_eq!(running.get(), 1);

        let second = slots.acquire("second");
        tokio::pin!(second);
        let waited = tokio::time::timeout(Duration::from_millis(50), &mut second).await;
        assert!(waited.is_err(), "the second ladder started while the only slot was taken");
        assert_eq!(waiting.get(), 1);

        drop(first);
        let _second = tokio::time::timeout(Duration::from_secs(5), second).await.expect("the freed slot was not passed on");
        assert_eq!(running.get(), 1);
        assert_eq!(waiting.get(), 0);
    }

    #[tokio::test]
    async fn cancelled_wait_leaves_no_waiter() {
        let metrics = Metrics::new();
        let slots = TranscodeSlots::new(1, &metrics);
        let waiting = metrics.transcodes.with_label_values(&["waiting"]);

        let _first = slots.acquire("first").await;
        let second = tokio::time::timeout(Duration::from_millis(50), slots.acquire("second")).await;
        assert!(second.is_err(), "the second ladder got the only slot");
        assert_eq!(waiting.get(), 0, "the cancelled wait is still counted");
    }

    #[tokio::test]
    async fn zero_slots_still_allow_one() {
        let metrics = Metrics::new();
        let slots = TranscodeSlots::new(0, &metrics);
        let only = tokio::time::timeout(Duration::from_secs(5), slots.acquire("only")).await;
        assert!(only.is_ok(), "no ladder could start with zero slots");
    }
}
