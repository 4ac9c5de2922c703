//! The job queue: claiming jobs under a lease, progress, completion, failure with retries and
//! release.
//!
//! Worker ids must be unique per process run, for example the host name plus a random UUID. A lease
//! belongs to a worker id, so a restarted worker that reused an id would count as the holder of its
//! predecessor's leases.

use std::time::Duration;

use serde_json::Value;
use sqlx::{Row, SqliteConnection};
use time::OffsetDateTime;
use vylux_common::jobs::JobType;

use super::clock::{after, from_millis, now_millis};
use super::outbox::enqueue_webhook;
use super::record::{JobRecord, JOB_COLUMNS};
use super::{JobStore, StoreError};

/// Condition that `$1` (job id) is processing under a lease owned by `$2` (worker id). An expired
/// lease still counts until another worker claims the job.
const HELD_BY_WORKER: &str = "id = $1 AND status = 'processing' AND lease_owner = $2";

/// Error text stored on a job whose worker stopped renewing its lease during the last attempt.
const LEASE_EXPIRED_ERROR: &str = "worker lease expired during the final attempt";

/// Returns the SQL condition for a claimable job, with `now` as the placeholder of the current time:
/// queued and due, or processing under an expired lease with attempts left.
fn claimable_condition(now: &str) -> String {
    format!(
        "((status = 'queued' AND next_attempt_at <= {now}) \
          OR (status = 'processing' AND lease_expires_at <= {now} AND attempts < max_attempts))"
    )
}

impl JobStore {
    /// Claims the oldest claimable job of any type, see [`JobStore::claim_next_of_types`].
    pub async fn claim_next(&self, worker_id: &str, lease: Duration) -> Result<Option<JobRecord>, StoreError> {
        self.claim(worker_id, lease, None).await
    }

    /// Claims the oldest claimable job of one of `job_types`.
    ///
    /// Claimable means queued with `next_attempt_at` reached, or processing under an expired lease
    /// (its worker died) with attempts left. The job becomes `processing` under a lease of
    /// `worker_id` that expires after `lease`. Its attempt count goes up by one, its progress
    /// returns to 0 and its error is cleared. Before claiming, jobs whose lease expired during
    /// their final attempt are failed for good, with a webhook when they have a callback URL.
    pub async fn claim_next_of_types(
        &self,
        worker_id: &str,
        lease: Duration,
        job_types: &[JobType],
    ) -> Result<Option<JobRecord>, StoreError> {
        if job_types.is_empty() {
            return Ok(None);
        }
        self.claim(worker_id, lease, Some(job_types)).await
    }

    async fn claim(
        &self,
        worker_id: &str,
        lease: Duration,
        job_types: Option<&[JobType]>,
    ) -> Result<Option<JobRecord>, StoreError> {
        let now = now_millis();
        let mut transaction = self.begin_write().await?;
        fail_expired_final_attempts(&mut transaction, now).await?;

        // Pick the candidate first, so that the previous lease owner of a reclaimed job can be logged.
        let mut select = format!("SELECT id, status, lease_owner FROM jobs WHERE {}", claimable_condition("$1"));
        if let Some(job_types) = job_types {
            let placeholders: Vec<String> = (0..job_types.len()).map(|index| format!("${}", index + 2)).collect();
            select.push_str(&format!(" AND type IN ({})", placeholders.join(", ")));
        }
        // NOTE: on PostgreSQL this select needs `FOR UPDATE SKIP LOCKED`, or concurrent workers pick the
        // same candidate and all but one return no job for this poll.
        select.push_str(" ORDER BY created_at, id LIMIT 1");
        let mut query = sqlx::query(&select).bind(now);
        for job_type in job_types.unwrap_or_default() {
            query = query.bind(job_type.as_str());
        }
        let Some(candidate) = query.fetch_optional(&mut *transaction).await? else {
            // Commit anyway, to keep the jobs that failed above.
            transaction.commit().await?;
            return Ok(None);
        };
        let id: String = candidate.try_get("id")?;
        let previous_status: String = candidate.try_get("status")?;
        let previous_owner: Option<String> = candidate.try_get("lease_owner")?;

        let update = format!(
            "UPDATE jobs SET status = 'processing', lease_owner = $2, lease_expires_at = $3, \
                 attempts = attempts + 1, progress = 0, error = NULL, updated_at = $4 \
             WHERE id = $1 AND {} RETURNING {JOB_COLUMNS}",
            claimable_condition("$4")
        );
        let row = sqlx::query(&update)
            .bind(&id)
            .bind(worker_id)
            .bind(after(now, lease))
            .bind(now)
            .fetch_optional(&mut *transaction)
            .await?;
        let Some(row) = row else {
            transaction.commit().await?;
            return Ok(None);
        };
        let job = JobRecord::from_row(&row)?;
        transaction.commit().await?;

        if previous_status == "processing" {
            tracing::warn!(
                job_id = %job.id,
                worker_id,
                previous_worker_id = previous_owner.as_deref().unwrap_or_default(),
                attempt = job.attempts,
                "job reclaimed after its worker lease expired"
            );
        }
        Ok(Some(job))
    }

    /// Extends the lease of a job this worker holds to `lease` from now and returns the new expiry.
    pub async fn renew_lease(&self, id: &str, worker_id: &str, lease: Duration) -> Result<OffsetDateTime, StoreError> {
        let expires_at = after(now_millis(), lease);
        let query = format!("UPDATE jobs SET lease_expires_at = $3 WHERE {HELD_BY_WORKER}");
        let updated =
            sqlx::query(&query).bind(id).bind(worker_id).bind(expires_at).execute(&self.pool).await?.rows_affected();
        if updated == 0 {
            let mut connection = self.pool.acquire().await?;
            return Err(lease_error(&mut connection, id, worker_id).await);
        }
        from_millis(expires_at).ok_or_else(|| StoreError::InvalidRow {
            id: id.to_owned(),
            column: "lease_expires_at",
            message: format!("timestamp {expires_at} ms is out of range"),
        })
    }

    /// Sets the progress (0 to 100) of a job this worker holds.
    pub async fn set_progress(&self, id: &str, worker_id: &str, progress: u8) -> Result<(), StoreError> {
        if progress > 100 {
            return Err(StoreError::InvalidProgress(progress));
        }
        let query = format!("UPDATE jobs SET progress = $3, updated_at = $4 WHERE {HELD_BY_WORKER}");
        let updated = sqlx::query(&query)
            .bind(id)
            .bind(worker_id)
            .bind(i64::from(progress))
            .bind(now_millis())
            .execute(&self.pool)
            .await?
            .rows_affected();
        if updated == 0 {
            let mut connection = self.pool.acquire().await?;
            return Err(lease_error(&mut connection, id, worker_id).await);
        }
        Ok(())
    }

    /// Marks a job this worker holds `completed` with `results`, progress 100 and no error, and
    /// enqueues its webhook when it has a callback URL, in one transaction.
    ///
    /// A job completes at most once: afterwards no worker holds it, so a repeated call fails with
    /// [`StoreError::LeaseNotHeld`] and enqueues nothing.
    pub async fn complete(&self, id: &str, worker_id: &str, results: &Value) -> Result<JobRecord, StoreError> {
        let now = now_millis();
        let mut transaction = self.begin_write().await?;

        let update = format!(
            "UPDATE jobs SET status = 'completed', progress = 100, error = NULL, results = $3, \
                 lease_owner = NULL, lease_expires_at = NULL, updated_at = $4 \
             WHERE {HELD_BY_WORKER} RETURNING {JOB_COLUMNS}"
        );
        let row = sqlx::query(&update)
            .bind(id)
            .bind(worker_id)
            .bind(results.to_string())
            .bind(now)
            .fetch_optional(&mut *transaction)
            .await?;
        let Some(row) = row else {
            return Err(lease_error(&mut transaction, id, worker_id).await);
        };
        let job = JobRecord::from_row(&row)?;

        enqueue_webhook(&mut transaction, &job, now).await?;
        transaction.commit().await?;
        Ok(job)
    }

    /// Records a failed attempt of a job this worker holds and returns the updated job.
    ///
    /// When `retryable` and attempts remain, the job returns to `queued` and may be claimed again
    /// after the backoff delay of [`StoreConfig::retry_delay`](super::StoreConfig::retry_delay); the
    /// error and results stay visible meanwhile. Otherwise it becomes `failed` for good and its
    /// webhook is enqueued when it has a callback URL, in the same transaction.
    pub async fn fail(
        &self,
        id: &str,
        worker_id: &str,
        error: &str,
        results: Option<&Value>,
        retryable: bool,
    ) -> Result<JobRecord, StoreError> {
        let now = now_millis();
        let mut transaction = self.begin_write().await?;

        let select = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE {HELD_BY_WORKER}");
        let row = sqlx::query(&select).bind(id).bind(worker_id).fetch_optional(&mut *transaction).await?;
        let Some(row) = row else {
            return Err(lease_error(&mut transaction, id, worker_id).await);
        };
        let current = JobRecord::from_row(&row)?;
        let results_text = results.map(Value::to_string);

        if retryable && current.attempts < current.max_attempts {
            let next_attempt_at = after(now, self.config.retry_delay(current.attempts));
            let update = format!(
                "UPDATE jobs SET status = 'queued', error = $3, results = $4, next_attempt_at = $5, \
                     lease_owner = NULL, lease_expires_at = NULL, updated_at = $6 \
                 WHERE {HELD_BY_WORKER} RETURNING {JOB_COLUMNS}"
            );
            let row = sqlx::query(&update)
                .bind(id)
                .bind(worker_id)
                .bind(error)
                .bind(results_text)
                .bind(next_attempt_at)
                .bind(now)
                .fetch_optional(&mut *transaction)
                .await?;
            let Some(row) = row else {
                return Err(lease_error(&mut transaction, id, worker_id).await);
            };
            let job = JobRecord::from_row(&row)?;
            transaction.commit().await?;
            return Ok(job);
        }

        let update = format!(
            "UPDATE jobs SET status = 'failed', error = $3, results = $4, \
                 lease_owner = NULL, lease_expires_at = NULL, updated_at = $5 \
             WHERE {HELD_BY_WORKER} RETURNING {JOB_COLUMNS}"
        );
        let row = sqlx::query(&update)
            .bind(id)
            .bind(worker_id)
            .bind(error)
            .bind(results_text)
            .bind(now)
            .fetch_optional(&mut *transaction)
            .await?;
        let Some(row) = row else {
            return Err(lease_error(&mut transaction, id, worker_id).await);
        };
        let job = JobRecord::from_row(&row)?;
        enqueue_webhook(&mut transaction, &job, now).await?;
        transaction.commit().await?;
        Ok(job)
    }

    /// Returns a job this worker holds to `queued`, claimable at once, without using up an attempt.
    /// Meant for graceful shutdown; progress returns to 0.
    pub async fn release(&self, id: &str, worker_id: &str) -> Result<JobRecord, StoreError> {
        let now = now_millis();
        let update = format!(
            "UPDATE jobs SET status = 'queued', \
                 attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, progress = 0, \
                 next_attempt_at = $3, lease_owner = NULL, lease_expires_at = NULL, updated_at = $3 \
             WHERE {HELD_BY_WORKER} RETURNING {JOB_COLUMNS}"
        );
        let row = sqlx::query(&update).bind(id).bind(worker_id).bind(now).fetch_optional(&self.pool).await?;
        match row {
            Some(row) => JobRecord::from_row(&row),
            None => {
                let mut connection = self.pool.acquire().await?;
                Err(lease_error(&mut connection, id, worker_id).await)
            }
        }
    }
}

/// Fails, for good, every processing job whose lease expired during its final attempt, and
/// enqueues their webhooks. Such a job would otherwise stay `processing` forever.
async fn fail_expired_final_attempts(connection: &mut SqliteConnection, now: i64) -> Result<(), StoreError> {
    let select = format!(
        "SELECT {JOB_COLUMNS} FROM jobs \
         WHERE status = 'processing' AND lease_expires_at <= $1 AND attempts >= max_attempts"
    );
    let rows = sqlx::query(&select).bind(now).fetch_all(&mut *connection).await?;

    for row in rows {
        let expired = JobRecord::from_row(&row)?;
        let update = format!(
            "UPDATE jobs SET status = 'failed', error = $3, lease_owner = NULL, lease_expires_at = NULL, \
                 updated_at = $4 \
             WHERE {HELD_BY_WORKER} RETURNING {JOB_COLUMNS}"
        );
        let row = sqlx::query(&update)
            .bind(&expired.id)
            .bind(expired.lease_owner.as_deref())
            .bind(LEASE_EXPIRED_ERROR)
            .bind(now)
            .fetch_optional(&mut *connection)
            .await?;
        let Some(row) = row else {
            continue;
        };
        let job = JobRecord::from_row(&row)?;
        enqueue_webhook(&mut *connection, &job, now).await?;
        tracing::error!(
            job_id = %job.id,
            worker_id = expired.lease_owner.as_deref().unwrap_or_default(),
            attempts = job.attempts,
            "job failed: worker lease expired during the final attempt"
        );
    }
    Ok(())
}

/// Explains why a lease-guarded update matched no row: the job is gone, or this worker does not
/// hold it. A failing lookup returns its own error.
async fn lease_error(connection: &mut SqliteConnection, id: &str, worker_id: &str) -> StoreError {
    let row = sqlx::query("SELECT status, lease_owner FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *connection)
        .await;
    let row = match row {
        Ok(Some(row)) => row,
        Ok(None) => return StoreError::JobNotFound(id.to_owned()),
        Err(error) => return error.into(),
    };
    let status = row.try_get::<String, _>("status");
    let owner = row.try_get::<Option<String>, _>("lease_owner");
    match (status, owner) {
        (Ok(status), Ok(owner)) => {
            StoreError::LeaseNotHeld { job_id: id.to_owned(), worker_id: worker_id.to_owned(), status, owner }
        }
        (Err(error), _) | (_, Err(error)) => error.into(),
    }
}
