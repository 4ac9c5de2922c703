//! Creating and reusing jobs, lookups, deletion by media hash and queue counts.

use sqlx::Row;
use uuid::Uuid;
use vylux_common::jobs::{JobSpec, JobStatus};
use vylux_common::MediaHash;

use super::clock::now_millis;
use super::record::{JobRecord, JOB_COLUMNS};
use super::{JobStore, StoreError};

/// Statuses of an active job, the one an identical request reuses, as an SQL list. It must match
/// `JobStatus::is_active` and the partial index `jobs_active_fingerprint_idx`.
pub(crate) const ACTIVE_STATUSES_SQL: &str = "('queued', 'processing', 'completed')";

/// Rows removed by [`JobStore::delete_by_hash`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeletedMedia {
    pub jobs: u64,
    pub webhook_deliveries: u64,
    pub content_keys: u64,
}

/// Number of jobs per status and of webhook deliveries per status, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueCounts {
    /// Queued jobs, both runnable now and waiting for a retry delay.
    pub queued: u64,
    pub processing: u64,
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub webhooks_pending: u64,
    pub webhooks_sent: u64,
    pub webhooks_failed: u64,
}

impl JobStore {
    /// Returns the active job with the fingerprint of `spec`, or inserts a new `queued` job.
    ///
    /// Returns `(job, true)` when the job was created. Active means not failed and not cancelled;
    /// a completed job is reused too. Two concurrent identical requests get the same job, because
    /// the lookup and insert run in one write transaction and a unique index allows one active job
    /// per fingerprint. `retry_of` links a manual retry to its source job, which must exist.
    pub async fn create_or_reuse(
        &self,
        spec: &JobSpec,
        retry_of: Option<&str>,
    ) -> Result<(JobRecord, bool), StoreError> {
        // On SQLite the first try always decides. On PostgreSQL a concurrent insert can win the
        // index race and commit after this lookup, which the insert reports as no row.
        for _ in 0..3 {
            if let Some(outcome) = self.try_create_or_reuse(spec, retry_of).await? {
                return Ok(outcome);
            }
        }
        Err(StoreError::Database(sqlx::Error::RowNotFound))
    }

    async fn try_create_or_reuse(
        &self,
        spec: &JobSpec,
        retry_of: Option<&str>,
    ) -> Result<Option<(JobRecord, bool)>, StoreError> {
        let fingerprint = spec.fingerprint();
        let mut transaction = self.begin_write().await?;

        if let Some(source_id) = retry_of {
            let exists = sqlx::query("SELECT 1 FROM jobs WHERE id = $1")
                .bind(source_id)
                .fetch_optional(&mut *transaction)
                .await?
                .is_some();
            if !exists {
                return Err(StoreError::JobNotFound(source_id.to_owned()));
            }
        }

        if let Some(job) = find_active_in(&mut transaction, &fingerprint).await? {
            transaction.commit().await?;
            return Ok(Some((job, false)));
        }

        let now = now_millis();
        let insert = format!(
            "INSERT INTO jobs (id, type, hash, source, options, request_fingerprint, status, progress, \
                 callback_url, callback_status, retry_of_job_id, attempts, max_attempts, next_attempt_at, \
                 created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'queued', 0, $7, 'pending', $8, 0, $9, $10, $10, $10) \
             ON CONFLICT (request_fingerprint) WHERE status IN {ACTIVE_STATUSES_SQL} DO NOTHING \
             RETURNING {JOB_COLUMNS}"
        );
        let row = sqlx::query(&insert)
            .bind(Uuid::now_v7().to_string())
            .bind(spec.job_type().as_str())
            .bind(spec.hash.as_str())
            .bind(spec.source.as_str())
            .bind(spec.options.to_json().to_string())
            .bind(&fingerprint)
            .bind(spec.callback_url.as_deref())
            .bind(retry_of)
            .bind(i64::from(self.config.max_attempts.max(1)))
            .bind(now)
            .fetch_optional(&mut *transaction)
            .await?;
        if let Some(row) = row {
            let job = JobRecord::from_row(&row)?;
            transaction.commit().await?;
            return Ok(Some((job, true)));
        }

        let existing = find_active_in(&mut transaction, &fingerprint).await?;
        transaction.commit().await?;
        Ok(existing.map(|job| (job, false)))
    }

    /// Returns the active job with this fingerprint, if any, without creating one.
    ///
    /// The API uses it to respond to a repeated request before it runs any source preflight.
    pub async fn find_active(&self, fingerprint: &str) -> Result<Option<JobRecord>, StoreError> {
        let mut connection = self.pool.acquire().await?;
        find_active_in(&mut connection, fingerprint).await
    }

    /// Returns the job with this id, or `None`.
    pub async fn get(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        let query = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        let row = sqlx::query(&query).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(JobRecord::from_row).transpose()
    }

    /// Returns every job of a media hash, oldest first.
    pub async fn list_by_hash(&self, hash: &MediaHash) -> Result<Vec<JobRecord>, StoreError> {
        let query = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE hash = $1 ORDER BY created_at, id");
        let rows = sqlx::query(&query).bind(hash.as_str()).fetch_all(&self.pool).await?;
        rows.iter().map(JobRecord::from_row).collect()
    }

    /// Deletes every job of a media hash with its webhook deliveries, and the hash's content key,
    /// in one transaction.
    ///
    /// A worker still processing a deleted job learns of it at its next update, which fails with
    /// [`StoreError::JobNotFound`]. Deleting a hash that has no rows succeeds with zero counts.
    pub async fn delete_by_hash(&self, hash: &MediaHash) -> Result<DeletedMedia, StoreError> {
        let mut transaction = self.begin_write().await?;

        let webhook_deliveries =
            sqlx::query("DELETE FROM webhook_deliveries WHERE job_id IN (SELECT id FROM jobs WHERE hash = $1)")
                .bind(hash.as_str())
                .execute(&mut *transaction)
                .await?
                .rows_affected();
        let content_keys = sqlx::query("DELETE FROM content_keys WHERE hash = $1")
            .bind(hash.as_str())
            .execute(&mut *transaction)
            .await?
            .rows_affected();
        let jobs = sqlx::query("DELETE FROM jobs WHERE hash = $1")
            .bind(hash.as_str())
            .execute(&mut *transaction)
            .await?
            .rows_affected();

        transaction.commit().await?;
        Ok(DeletedMedia { jobs, webhook_deliveries, content_keys })
    }

    /// Counts jobs and webhook deliveries by status.
    pub async fn queue_counts(&self) -> Result<QueueCounts, StoreError> {
        let mut counts = QueueCounts::default();

        let rows =
            sqlx::query("SELECT status, COUNT(*) AS count FROM jobs GROUP BY status").fetch_all(&self.pool).await?;
        for row in rows {
            let status: String = row.try_get("status")?;
            let count = count_column(&row)?;
            match status.parse::<JobStatus>() {
                Ok(JobStatus::Queued) => counts.queued = count,
                Ok(JobStatus::Processing) => counts.processing = count,
                Ok(JobStatus::Completed) => counts.completed = count,
                Ok(JobStatus::Failed) => counts.failed = count,
                Ok(JobStatus::Cancelled) => counts.cancelled = count,
                Err(message) => {
                    return Err(StoreError::InvalidRow { id: "jobs".to_owned(), column: "status", message })
                }
            }
        }

        let rows = sqlx::query("SELECT status, COUNT(*) AS count FROM webhook_deliveries GROUP BY status")
            .fetch_all(&self.pool)
            .await?;
        for row in rows {
            let status: String = row.try_get("status")?;
            let count = count_column(&row)?;
            match status.as_str() {
                "pending" => counts.webhooks_pending = count,
                "sent" => counts.webhooks_sent = count,
                "failed" => counts.webhooks_failed = count,
                _ => {
                    return Err(StoreError::InvalidRow {
                        id: "webhook_deliveries".to_owned(),
                        column: "status",
                        message: format!("unknown delivery status {status:?}"),
                    })
                }
            }
        }

        Ok(counts)
    }
}

/// Returns the most recent active job with this fingerprint.
async fn find_active_in(
    connection: &mut sqlx::SqliteConnection,
    fingerprint: &str,
) -> Result<Option<JobRecord>, StoreError> {
    let query = format!(
        "SELECT {JOB_COLUMNS} FROM jobs \
         WHERE request_fingerprint = $1 AND status IN {ACTIVE_STATUSES_SQL} \
         ORDER BY created_at DESC, id DESC LIMIT 1"
    );
    let row = sqlx::query(&query).bind(fingerprint).fetch_optional(&mut *connection).await?;
    row.as_ref().map(JobRecord::from_row).transpose()
}

fn count_column(row: &sqlx::sqlite::SqliteRow) -> Result<u64, StoreError> {
    let count: i64 = row.try_get("count")?;
    Ok(u64::try_from(count).unwrap_or(0))
}
