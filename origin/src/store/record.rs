//! A stored job and its API and webhook forms.

use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use vylux_common::jobs::{CallbackStatus, JobOptions, JobSpec, JobStatus, JobStatusResponse, JobType, WebhookPayload};
use vylux_common::{MediaHash, ObjectKey};

use super::clock::from_millis;
use super::StoreError;

/// Columns of `jobs` in the order [`JobRecord::from_row`] reads them.
pub(crate) const JOB_COLUMNS: &str = "id, type, hash, source, options, request_fingerprint, status, progress, \
     callback_url, callback_status, retry_of_job_id, error, results, attempts, max_attempts, \
     next_attempt_at, lease_owner, lease_expires_at, created_at, updated_at";

/// One row of the `jobs` table.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    /// UUID (version 7, so ids sort by creation time).
    pub id: String,
    pub job_type: JobType,
    pub hash: MediaHash,
    /// Key of the source object in the source bucket.
    pub source: ObjectKey,
    pub options: JobOptions,
    /// Idempotency fingerprint, see [`JobSpec::fingerprint`].
    pub fingerprint: String,
    pub status: JobStatus,
    /// Percent done, 0 to 100.
    pub progress: u8,
    pub callback_url: Option<String>,
    pub callback_status: CallbackStatus,
    /// Job that a manual retry created this one from.
    pub retry_of_job_id: Option<String>,
    pub error: Option<String>,
    /// Results as stored, also for a failed job that produced partial results.
    pub results: Option<Value>,
    /// Attempts started so far, the running one included.
    pub attempts: u32,
    pub max_attempts: u32,
    /// Earliest time a queued job may be claimed.
    pub next_attempt_at: OffsetDateTime,
    /// Worker that holds the lease while the job is processing.
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl JobRecord {
    /// Returns the job request in canonical form, for a worker or a manual retry.
    pub fn spec(&self) -> JobSpec {
        JobSpec {
            hash: self.hash.clone(),
            source: self.source.clone(),
            options: self.options.clone(),
            callback_url: self.callback_url.clone(),
        }
    }

    /// Returns the body of `GET /api/jobs/{id}`, with times in RFC 3339 UTC to the second.
    pub fn to_status_response(&self) -> JobStatusResponse {
        JobStatusResponse {
            job_id: self.id.clone(),
            job_type: self.job_type,
            hash: self.hash.as_str().to_owned(),
            status: self.status,
            callback_status: self.callback_status,
            progress: self.progress,
            retry_of_job_id: self.retry_of_job_id.clone(),
            error: self.error.clone(),
            results: self.results.clone(),
            created_at: format_api_time(self.created_at),
            updated_at: format_api_time(self.updated_at),
        }
    }

    /// Returns the webhook payload for the job's current status.
    pub fn webhook_payload(&self) -> WebhookPayload {
        WebhookPayload {
            job_id: self.id.clone(),
            job_type: self.job_type,
            hash: self.hash.as_str().to_owned(),
            status: self.status,
            error: self.error.clone(),
            results: self.results.clone(),
        }
    }

    /// Returns the webhook body: the payload serialized once. These exact bytes are stored, signed
    /// and sent.
    pub fn webhook_body(&self) -> Vec<u8> {
        serde_json::to_vec(&self.webhook_payload()).expect("a webhook payload always serializes")
    }

    /// Decodes a row selected with [`JOB_COLUMNS`].
    pub(crate) fn from_row(row: &SqliteRow) -> Result<Self, StoreError> {
        let id: String = row.try_get("id")?;
        let invalid =
            |column: &'static str, message: String| StoreError::InvalidRow { id: id.clone(), column, message };

        let job_type: JobType =
            row.try_get::<String, _>("type")?.parse().map_err(|message| invalid("type", message))?;
        let hash =
            MediaHash::parse(&row.try_get::<String, _>("hash")?).map_err(|error| invalid("hash", error.to_string()))?;
        let source = ObjectKey::parse(&row.try_get::<String, _>("source")?)
            .map_err(|error| invalid("source", error.to_string()))?;
        let options_text: String = row.try_get("options")?;
        let options_value: Value =
            serde_json::from_str(&options_text).map_err(|error| invalid("options", error.to_string()))?;
        let options =
            JobOptions::from_json(job_type, Some(&options_value)).map_err(|message| invalid("options", message))?;
        let status: JobStatus =
            row.try_get::<String, _>("status")?.parse().map_err(|message| invalid("status", message))?;
        let callback_status: CallbackStatus = row
            .try_get::<String, _>("callback_status")?
            .parse()
            .map_err(|message| invalid("callback_status", message))?;
        let results = match row.try_get::<Option<String>, _>("results")? {
            Some(text) => Some(serde_json::from_str(&text).map_err(|error| invalid("results", error.to_string()))?),
            None => None,
        };

        let progress: i64 = row.try_get("progress")?;
        let attempts: i64 = row.try_get("attempts")?;
        let max_attempts: i64 = row.try_get("max_attempts")?;
        let time = |column: &'static str, millis: i64| {
            from_millis(millis).ok_or_else(|| invalid(column, format!("timestamp {millis} ms is out of range")))
        };
        let lease_expires_at = match row.try_get::<Option<i64>, _>("lease_expires_at")? {
            Some(millis) => Some(time("lease_expires_at", millis)?),
            None => None,
        };

        Ok(Self {
            job_type,
            hash,
            source,
            options,
            fingerprint: row.try_get("request_fingerprint")?,
            status,
            progress: u8::try_from(progress).map_err(|_| invalid("progress", progress.to_string()))?,
            callback_url: row.try_get("callback_url")?,
            callback_status,
            retry_of_job_id: row.try_get("retry_of_job_id")?,
            error: row.try_get("error")?,
            results,
            attempts: u32::try_from(attempts).map_err(|_| invalid("attempts", attempts.to_string()))?,
            max_attempts: u32::try_from(max_attempts).map_err(|_| invalid("max_attempts", max_attempts.to_string()))?,
            next_attempt_at: time("next_attempt_at", row.try_get("next_attempt_at")?)?,
            lease_owner: row.try_get("lease_owner")?,
            lease_expires_at,
            created_at: time("created_at", row.try_get("created_at")?)?,
            updated_at: time("updated_at", row.try_get("updated_at")?)?,
            id,
        })
    }
}

/// Formats a time as RFC 3339 in UTC to the second, such as `2026-04-01T08:00:00Z`.
pub fn format_api_time(time: OffsetDateTime) -> String {
    let whole_seconds = time.to_offset(time::UtcOffset::UTC).replace_nanosecond(0).expect("0 is a valid nanosecond");
    whole_seconds.format(&Rfc3339).expect("a UTC time within years 0 to 9999 formats as RFC 3339")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_time_drops_fraction() {
        let time = from_millis(1_775_030_400_789).unwrap();
        assert_eq!(format_api_time(time), "2026-04-01T08:00:00Z");
    }
}
