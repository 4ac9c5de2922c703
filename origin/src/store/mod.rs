//! Durable job store and queue: jobs, worker leases, the webhook outbox and wrapped content keys.
//!
//! - [`JobStore`]: the handle, cheap to clone because clones share one connection pool.
//! - [`record`]: [`JobRecord`], a stored job, and its API and webhook forms.
//! - jobs: creating and reusing jobs by fingerprint, lookups, deletion by hash, queue counts.
//! - queue: claiming jobs with leases, progress, completion, failure with retries, release.
//! - [`outbox`]: persisted webhook deliveries for the sender.
//! - [`keys`]: wrapped content keys, stored as bytes.
//!
//! The backend is SQLite (a file under the data directory, WAL mode). The SQL is written to run on
//! PostgreSQL too; the few SQLite-only parts carry a `NOTE:` where they sit.
//!
//! Job lifecycle: `queued` → `processing` (claimed by a worker, which holds a lease) → `completed`,
//! or back to `queued` after a retryable failure while attempts remain, or `failed` for good. A job
//! whose worker stops renewing its lease becomes claimable again once the lease expires. Every
//! final outcome of a job with a callback URL enqueues one webhook delivery in the same transaction.

mod clock;
mod error;
mod jobs;
pub mod keys;
pub mod outbox;
mod queue;
pub mod record;
mod schema;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Sqlite, Transaction};

pub use error::StoreError;
pub use jobs::{DeletedMedia, QueueCounts};
pub use keys::ContentKey;
pub use outbox::Delivery;
pub use record::JobRecord;

/// File name of the SQLite database inside the data directory.
pub const DATABASE_FILE_NAME: &str = "vylux.db";

/// Default number of attempts a job gets before it fails for good.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// Default delay before the second attempt of a job. Each later retry waits twice as long.
pub const DEFAULT_RETRY_BASE_DELAY: Duration = Duration::from_secs(10);

/// Default maximum delay between two attempts of a job.
pub const DEFAULT_RETRY_MAX_DELAY: Duration = Duration::from_secs(600);

/// Default time a connection waits for a lock held by another connection before it fails.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Default maximum number of pooled connections.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 8;

/// Store settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// Attempts a new job gets, the first one included. Default [`DEFAULT_MAX_ATTEMPTS`] (3).
    pub max_attempts: u32,
    /// Delay after the first failed attempt: attempt `n` failing waits `base × 2^(n-1)`, capped at
    /// `retry_max_delay`. Default [`DEFAULT_RETRY_BASE_DELAY`] (10 s).
    pub retry_base_delay: Duration,
    /// Cap on the delay between attempts. Default [`DEFAULT_RETRY_MAX_DELAY`] (10 min).
    pub retry_max_delay: Duration,
    /// SQLite busy timeout. Default [`DEFAULT_BUSY_TIMEOUT`] (5 s).
    pub busy_timeout: Duration,
    /// Maximum pooled connections. Default [`DEFAULT_MAX_CONNECTIONS`] (8).
    pub max_connections: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            retry_base_delay: DEFAULT_RETRY_BASE_DELAY,
            retry_max_delay: DEFAULT_RETRY_MAX_DELAY,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl StoreConfig {
    /// Returns the delay before the next attempt after attempt number `attempt` (1-based) failed.
    pub fn retry_delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        let delay = self.retry_base_delay.saturating_mul(1u32 << doublings);
        delay.min(self.retry_max_delay)
    }
}

/// Handle to the job store. Clones share one connection pool.
#[derive(Debug, Clone)]
pub struct JobStore {
    pool: SqlitePool,
    config: StoreConfig,
}

impl JobStore {
    /// Returns the default database URL for a data directory: `sqlite://{data_dir}/vylux.db`.
    pub fn default_database_url(data_dir: &Path) -> String {
        format!("sqlite://{}", data_dir.join(DATABASE_FILE_NAME).display())
    }

    /// Opens the default database file under `data_dir`, creating the directory and file if they
    /// are missing, and applies pending migrations.
    pub async fn open_in_data_dir(data_dir: &Path, config: StoreConfig) -> Result<Self, StoreError> {
        Self::open(&Self::default_database_url(data_dir), config).await
    }

    /// Opens a `sqlite:` database URL, creating the file and its parent directory if they are
    /// missing, and applies pending migrations.
    ///
    /// Connections use WAL journaling, `synchronous = FULL`, enforced foreign keys and the
    /// configured busy timeout.
    pub async fn open(database_url: &str, config: StoreConfig) -> Result<Self, StoreError> {
        if !database_url.starts_with("sqlite:") {
            // Only the scheme is shown, because a server URL can contain a password.
            let scheme = database_url.split(':').next().unwrap_or_default().to_owned();
            return Err(StoreError::UnsupportedDatabase { scheme });
        }
        let options = SqliteConnectOptions::from_str(database_url)
            .map_err(|source| StoreError::InvalidDatabaseUrl { url: database_url.to_owned(), source })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(config.busy_timeout);

        create_parent_dir(options.get_filename())?;

        let pool =
            SqlitePoolOptions::new().max_connections(config.max_connections.max(1)).connect_with(options).await?;
        schema::migrate(&pool).await?;
        Ok(Self { pool, config })
    }

    /// Returns the settings this store was opened with.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Runs a trivial query, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every pooled connection and waits until they are closed. Clones of this handle
    /// fail afterwards.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts a transaction that takes the database write lock at once.
    ///
    /// NOTE: `BEGIN IMMEDIATE` is SQLite syntax. It keeps a read-then-write transaction from failing
    /// with `SQLITE_BUSY` when another connection committed in between. On PostgreSQL a plain
    /// `BEGIN` is enough, because every write here is also guarded by its `WHERE` clause or an index.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// Creates the directory that will hold the database file. In-memory databases have no file.
fn create_parent_dir(file: &Path) -> Result<(), StoreError> {
    let text = file.to_string_lossy();
    if text.is_empty() || text.starts_with(':') {
        return Ok(());
    }
    match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => std::fs::create_dir_all(parent)
            .map_err(|source| StoreError::CreateDirectory { path: PathBuf::from(parent), source }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_doubles_up_to_cap() {
        let config = StoreConfig {
            retry_base_delay: Duration::from_secs(10),
            retry_max_delay: Duration::from_secs(60),
            ..StoreConfig::default()
        };
        assert_eq!(config.retry_delay(1), Duration::from_secs(10));
        assert_eq!(config.retry_delay(2), Duration::from_secs(20));
        assert_eq!(config.retry_delay(3), Duration::from_secs(40));
        assert_eq!(config.retry_delay(4), Duration::from_secs(60));
        assert_eq!(config.retry_delay(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn default_url_names_file_in_data_dir() {
        let url = JobStore::default_database_url(Path::new("data"));
        assert_eq!(url, "sqlite://data/vylux.db");
    }
}
