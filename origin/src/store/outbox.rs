//! The webhook outbox: deliveries written with a job's final outcome and sent later.
//!
//! Delivery is at least once. A sender claims a delivery under a lease. If the sender dies before
//! it reports the outcome, the lease expires, and the delivery is claimed and sent again. The
//! retry policy (attempts, delays, timeouts) belongs to the sender, which sees the attempt count.

use std::fmt;
use std::time::Duration;

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use time::OffsetDateTime;
use uuid::Uuid;

use super::clock::{after, from_millis, now_millis, to_millis};
use super::record::JobRecord;
use super::{JobStore, StoreError};

/// A webhook delivery claimed for sending.
#[derive(Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: String,
    pub job_id: String,
    pub url: String,
    /// Exact body bytes: sign and send them unchanged.
    pub body: Vec<u8>,
    /// Attempts claimed so far, this one included.
    pub attempts: u32,
    pub created_at: OffsetDateTime,
}

impl fmt::Debug for Delivery {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Delivery")
            .field("id", &self.id)
            .field("job_id", &self.job_id)
            .field("url", &self.url)
            .field("body", &String::from_utf8_lossy(&self.body))
            .field("attempts", &self.attempts)
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl JobStore {
    /// Claims the pending delivery that has been due longest, for `lease`, and counts the attempt.
    ///
    /// A claimed delivery is not handed out again until its lease expires or
    /// [`JobStore::webhook_retry`] schedules it again.
    pub async fn claim_webhook(&self, lease: Duration) -> Result<Option<Delivery>, StoreError> {
        let now = now_millis();
        let claimable = "status = 'pending' AND next_attempt_at <= $1 \
                         AND (lease_expires_at IS NULL OR lease_expires_at <= $1)";
        // NOTE: on PostgreSQL the inner select needs `FOR UPDATE SKIP LOCKED` so that concurrent
        // senders take different deliveries; the outer condition already keeps them from sharing one.
        let update = format!(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, lease_expires_at = $2, updated_at = $1 \
             WHERE id = (SELECT id FROM webhook_deliveries WHERE {claimable} \
                         ORDER BY next_attempt_at, created_at, id LIMIT 1) \
               AND {claimable} \
             RETURNING id, job_id, url, body, attempts, created_at"
        );
        let row = sqlx::query(&update).bind(now).bind(after(now, lease)).fetch_optional(&self.pool).await?;
        row.as_ref().map(delivery_from_row).transpose()
    }

    /// Records a successful delivery; the job's callback status becomes `sent`.
    pub async fn webhook_sent(&self, id: &str) -> Result<(), StoreError> {
        self.finish_delivery(id, "sent", None, "sent").await
    }

    /// Records a failed attempt and schedules the next one at `next_attempt_at`. The job's callback
    /// status stays `pending`.
    pub async fn webhook_retry(
        &self,
        id: &str,
        error: &str,
        next_attempt_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let updated = sqlx::query(
            "UPDATE webhook_deliveries SET last_error = $2, next_attempt_at = $3, lease_expires_at = NULL, \
                 updated_at = $4 \
             WHERE id = $1 AND status = 'pending'",
        )
        .bind(id)
        .bind(error)
        .bind(to_millis(next_attempt_at))
        .bind(now_millis())
        .execute(&self.pool)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::DeliveryNotPending(id.to_owned()));
        }
        Ok(())
    }

    /// Records that a delivery gave up; the job's callback status becomes `callback_failed`.
    pub async fn webhook_failed(&self, id: &str, error: &str) -> Result<(), StoreError> {
        self.finish_delivery(id, "failed", Some(error), "callback_failed").await
    }

    /// Ends a pending delivery with `delivery_status` and sets the job's callback status, in one
    /// transaction.
    async fn finish_delivery(
        &self,
        id: &str,
        delivery_status: &str,
        error: Option<&str>,
        callback_status: &str,
    ) -> Result<(), StoreError> {
        let now = now_millis();
        let mut transaction = self.begin_write().await?;

        let row = sqlx::query(
            "UPDATE webhook_deliveries \
             SET status = $2, last_error = COALESCE($3, last_error), lease_expires_at = NULL, updated_at = $4 \
             WHERE id = $1 AND status = 'pending' RETURNING job_id",
        )
        .bind(id)
        .bind(delivery_status)
        .bind(error)
        .bind(now)
        .fetch_optional(&mut *transaction)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::DeliveryNotPending(id.to_owned()));
        };
        let job_id: String = row.try_get("job_id")?;

        sqlx::query("UPDATE jobs SET callback_status = $2, updated_at = $3 WHERE id = $1")
            .bind(&job_id)
            .bind(callback_status)
            .bind(now)
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(())
    }
}

/// Inserts the webhook delivery of a job that just reached its final outcome, if it has a
/// callback URL. The unique index on `job_id` keeps it to one delivery per job.
pub(crate) async fn enqueue_webhook(
    connection: &mut SqliteConnection,
    job: &JobRecord,
    now: i64,
) -> Result<(), StoreError> {
    let Some(url) = job.callback_url.as_deref() else {
        return Ok(());
    };
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, job_id, url, body, status, attempts, next_attempt_at, \
             created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5, $5) \
         ON CONFLICT (job_id) DO NOTHING",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(&job.id)
    .bind(url)
    .bind(job.webhook_body())
    .bind(now)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

fn delivery_from_row(row: &SqliteRow) -> Result<Delivery, StoreError> {
    let id: String = row.try_get("id")?;
    let attempts: i64 = row.try_get("attempts")?;
    let created_at: i64 = row.try_get("created_at")?;
    let invalid = |column: &'static str, message: String| StoreError::InvalidRow { id: id.clone(), column, message };
    Ok(Delivery {
        job_id: row.try_get("job_id")?,
        url: row.try_get("url")?,
        body: row.try_get("body")?,
        attempts: u32::try_from(attempts).map_err(|_| invalid("attempts", attempts.to_string()))?,
        created_at: from_millis(created_at)
            .ok_or_else(|| invalid("created_at", format!("timestamp {created_at} ms is out of range")))?,
        id,
    })
}
