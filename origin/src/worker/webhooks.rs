//! The webhook sender: drains the persisted outbox, signing each body with `WEBHOOK_SECRET`.
//!
//! Policy: at most [`MAX_ATTEMPTS`] attempts, each with a [`ATTEMPT_TIMEOUT`] limit; the wait after
//! attempt `n` is 1 s × 2^(n-1), capped at [`MAX_RETRY_DELAY`]. Any 2xx answer is success;
//! redirects are not followed and count as failures. Deliveries live in the job store, so they
//! survive a restart.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, USER_AGENT};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use vylux_common::webhook::{sign_webhook, SIGNATURE_HEADER};
use vylux_common::Secret;

use crate::metrics::Metrics;
use crate::store::{Delivery, JobStore};

/// Attempts per delivery, the first included.
pub const MAX_ATTEMPTS: u32 = 8;
/// Time one attempt may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Maximum wait between two attempts.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);
/// How long a claimed delivery stays reserved for this sender.
const DELIVERY_LEASE: Duration = Duration::from_secs(30);
const IDLE_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Sends webhooks until `shutdown` is cancelled.
pub async fn run_sender(store: JobStore, secret: Secret, metrics: Metrics, shutdown: CancellationToken) {
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(ATTEMPT_TIMEOUT)
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(error = %error, "building the webhook HTTP client failed; webhooks will not be sent");
            return;
        }
    };
    while !shutdown.is_cancelled() {
        match store.claim_webhook(DELIVERY_LEASE).await {
            Ok(Some(delivery)) => deliver(&store, &client, &secret, &metrics, delivery).await,
            Ok(None) => {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(IDLE_POLL_INTERVAL) => {}
                }
            }
            Err(error) => {
                tracing::error!(error = %error, "claiming a webhook delivery failed");
                tokio::time::sleep(IDLE_POLL_INTERVAL).await;
            }
        }
    }
}

async fn deliver(store: &JobStore, client: &reqwest::Client, secret: &Secret, metrics: &Metrics, delivery: Delivery) {
    let outcome = client
        .post(&delivery.url)
        .header(CONTENT_TYPE, "application/json")
        .header(USER_AGENT, "Vylux-Webhook/1.0")
        .header(SIGNATURE_HEADER, sign_webhook(secret, &delivery.body))
        .body(delivery.body.clone())
        .send()
        .await;
    let error = match outcome {
        Ok(response) if response.status().is_success() => {
            metrics.webhook_deliveries.with_label_values(&["sent"]).inc();
            if let Err(error) = store.webhook_sent(&delivery.id).await {
                tracing::error!(job_id = %delivery.job_id, error = %error, "recording a sent webhook failed");
            } else {
                tracing::info!(job_id = %delivery.job_id, attempt = delivery.attempts, "webhook delivered");
            }
            return;
        }
        Ok(response) => format!("callback answered HTTP {}", response.status().as_u16()),
        Err(error) if error.is_timeout() => format!("callback timed out after {} s", ATTEMPT_TIMEOUT.as_secs()),
        Err(error) => format!("callback request failed: {}", without_url(&error)),
    };

    if delivery.attempts >= MAX_ATTEMPTS {
        metrics.webhook_deliveries.with_label_values(&["failed"]).inc();
        tracing::error!(job_id = %delivery.job_id, attempts = delivery.attempts, error = %error, "webhook delivery failed for good");
        if let Err(store_error) = store.webhook_failed(&delivery.id, &error).await {
            tracing::error!(job_id = %delivery.job_id, error = %store_error, "recording a failed webhook failed");
        }
        return;
    }
    metrics.webhook_deliveries.with_label_values(&["retry"]).inc();
    let delay = retry_delay(delivery.attempts);
    tracing::warn!(job_id = %delivery.job_id, attempt = delivery.attempts, retry_in_secs = delay.as_secs(), error = %error, "webhook attempt failed");
    let next = OffsetDateTime::now_utc() + delay;
    if let Err(store_error) = store.webhook_retry(&delivery.id, &error, next).await {
        tracing::error!(job_id = %delivery.job_id, error = %store_error, "scheduling a webhook retry failed");
    }
}

/// Returns the wait after attempt number `attempt` (1-based) failed.
pub fn retry_delay(attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(16);
    Duration::from_secs(1u64 << doublings).min(MAX_RETRY_DELAY)
}

/// Describes a request error without the URL, which may carry a token in its query.
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "<callback URL>");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_to_cap() {
        let delays: Vec<u64> = (1..=8).map(|attempt| retry_delay(attempt).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
    }
}
