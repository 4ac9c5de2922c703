//! Errors of the job store.

use std::path::PathBuf;

/// Failure of a job store operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL names a backend this build does not support.
    #[error("unsupported database URL scheme {scheme:?}: only sqlite: URLs are supported")]
    UnsupportedDatabase { scheme: String },

    /// The `sqlite:` URL could not be parsed.
    #[error("invalid database URL {url:?}: {source}")]
    InvalidDatabaseUrl { url: String, source: sqlx::Error },

    /// The directory for the database file could not be created.
    #[error("failed to create database directory {path}: {source}")]
    CreateDirectory { path: PathBuf, source: std::io::Error },

    /// Applying the schema migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    /// A query failed.
    #[error("database query failed: {0}")]
    Database(#[from] sqlx::Error),

    /// No job has this id.
    #[error("job {0} not found")]
    JobNotFound(String),

    /// The worker does not hold the lease of a processing job, so it may not change the job. Either
    /// another worker claimed the job after this worker's lease expired, or the job already ended or
    /// was released.
    #[error("job {job_id} is not leased by worker {worker_id:?} (status {status}, lease owner {owner:?})")]
    LeaseNotHeld { job_id: String, worker_id: String, status: String, owner: Option<String> },

    /// A progress value above 100.
    #[error("invalid progress {0}: expected 0 to 100")]
    InvalidProgress(u8),

    /// No pending webhook delivery has this id: it is unknown, already sent or already failed.
    #[error("webhook delivery {0} not found or no longer pending")]
    DeliveryNotPending(String),

    /// A stored row contains a value this build cannot read.
    #[error("stored row {id} has an invalid {column}: {message}")]
    InvalidRow { id: String, column: &'static str, message: String },
}
