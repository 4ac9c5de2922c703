//! Operation counters for `vylux_storage_operations_total`.
//!
//! [`MeteredStore`] wraps any [`ObjectStore`] and counts each call in a shared [`StorageMetrics`]
//! by bucket role, driver, operation and result. The server reads them with
//! [`StorageMetrics::snapshot`] when it renders its metrics.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use vylux_common::ObjectKey;

use super::{BucketRole, ByteRange, Driver, ObjectBody, ObjectMeta, ObjectStore, StorageError};

/// A storage operation, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Head,
    Get,
    Put,
    Download,
    List,
    Delete,
    DeletePrefix,
    Check,
}

impl Operation {
    pub const ALL: [Operation; 8] = [
        Operation::Head,
        Operation::Get,
        Operation::Put,
        Operation::Download,
        Operation::List,
        Operation::Delete,
        Operation::DeletePrefix,
        Operation::Check,
    ];

    /// Returns the metric label, such as `get` or `delete_prefix`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Head => "head",
            Self::Get => "get",
            Self::Put => "put",
            Self::Download => "download",
            Self::List => "list",
            Self::Delete => "delete",
            Self::DeletePrefix => "delete_prefix",
            Self::Check => "check",
        }
    }
}

/// Outcome of a storage operation, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Ok,
    /// The object was missing. Counted apart from errors, because a missing object is often an
    /// expected result (an existence check, a request for a key that was never stored).
    NotFound,
    Error,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Ok, Outcome::NotFound, Outcome::Error];

    /// Returns the metric label: `ok`, `not_found` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::NotFound => "not_found",
            Self::Error => "error",
        }
    }

    fn of<T>(result: &Result<T, StorageError>) -> Self {
        match result {
            Ok(_) => Self::Ok,
            Err(StorageError::NotFound { .. }) => Self::NotFound,
            Err(_) => Self::Error,
        }
    }
}

const DRIVERS: [Driver; 2] = [Driver::Local, Driver::S3];
const COUNTER_LEN: usize = BucketRole::ALL.len() * DRIVERS.len() * Operation::ALL.len() * Outcome::ALL.len();

/// One counter value of [`StorageMetrics::snapshot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationCount {
    pub role: BucketRole,
    pub driver: Driver,
    pub operation: Operation,
    pub outcome: Outcome,
    pub count: u64,
}

/// Counters of storage operations, shared by the stores of both roles.
// NOTE: only counts are kept, no durations, so `vylux_storage_operation_duration_seconds` cannot
// be exported from this struct yet.
#[derive(Debug)]
pub struct StorageMetrics {
    counters: Vec<AtomicU64>,
}

impl Default for StorageMetrics {
    fn default() -> Self {
        Self { counters: (0..COUNTER_LEN).map(|_| AtomicU64::new(0)).collect() }
    }
}

impl StorageMetrics {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn index(role: BucketRole, driver: Driver, operation: Operation, outcome: Outcome) -> usize {
        let role = BucketRole::ALL.iter().position(|r| *r == role).unwrap_or(0);
        let driver = DRIVERS.iter().position(|d| *d == driver).unwrap_or(0);
        let operation = Operation::ALL.iter().position(|o| *o == operation).unwrap_or(0);
        let outcome = Outcome::ALL.iter().position(|o| *o == outcome).unwrap_or(0);
        ((role * DRIVERS.len() + driver) * Operation::ALL.len() + operation) * Outcome::ALL.len() + outcome
    }

    /// Adds one to a counter.
    pub fn record(&self, role: BucketRole, driver: Driver, operation: Operation, outcome: Outcome) {
        self.counters[Self::index(role, driver, operation, outcome)].fetch_add(1, Ordering::Relaxed);
    }

    /// Returns one counter's current value.
    pub fn count(&self, role: BucketRole, driver: Driver, operation: Operation, outcome: Outcome) -> u64 {
        self.counters[Self::index(role, driver, operation, outcome)].load(Ordering::Relaxed)
    }

    /// Returns every counter that is above zero.
    pub fn snapshot(&self) -> Vec<OperationCount> {
        let mut counts = Vec::new();
        for role in BucketRole::ALL {
            for driver in DRIVERS {
                for operation in Operation::ALL {
                    for outcome in Outcome::ALL {
                        let count = self.count(role, driver, operation, outcome);
                        if count > 0 {
                            counts.push(OperationCount { role, driver, operation, outcome, count });
                        }
                    }
                }
            }
        }
        counts
    }
}

/// An [`ObjectStore`] that counts every call of the store it wraps.
///
/// A `get` is counted when the stream is opened; errors while the stream is read are not counted.
#[derive(Debug)]
pub struct MeteredStore {
    inner: Arc<dyn ObjectStore>,
    role: BucketRole,
    metrics: Arc<StorageMetrics>,
}

impl MeteredStore {
    pub fn new(inner: Arc<dyn ObjectStore>, role: BucketRole, metrics: Arc<StorageMetrics>) -> Self {
        Self { inner, role, metrics }
    }

    fn record<T>(&self, operation: Operation, result: Result<T, StorageError>) -> Result<T, StorageError> {
        self.metrics.record(self.role, self.inner.driver(), operation, Outcome::of(&result));
        result
    }
}

#[async_trait]
impl ObjectStore for MeteredStore {
    fn driver(&self) -> Driver {
        self.inner.driver()
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, StorageError> {
        self.record(Operation::Head, self.inner.head(key).await)
    }

    async fn get(&self, key: &ObjectKey, range: Option<ByteRange>) -> Result<ObjectBody, StorageError> {
        self.record(Operation::Get, self.inner.get(key, range).await)
    }

    async fn put_file(&self, key: &ObjectKey, path: &Path, content_type: Option<&str>) -> Result<(), StorageError> {
        self.record(Operation::Put, self.inner.put_file(key, path, content_type).await)
    }

    async fn put_bytes(&self, key: &ObjectKey, bytes: Bytes, content_type: Option<&str>) -> Result<(), StorageError> {
        self.record(Operation::Put, self.inner.put_bytes(key, bytes, content_type).await)
    }

    async fn download_to_file(&self, key: &ObjectKey, path: &Path) -> Result<u64, StorageError> {
        self.record(Operation::Download, self.inner.download_to_file(key, path).await)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StorageError> {
        self.record(Operation::List, self.inner.list(prefix).await)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        self.record(Operation::Delete, self.inner.delete(key).await)
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64, StorageError> {
        self.record(Operation::DeletePrefix, self.inner.delete_prefix(prefix).await)
    }

    async fn check(&self) -> Result<(), StorageError> {
        self.record(Operation::Check, self.inner.check().await)
    }

    async fn exists(&self, key: &ObjectKey) -> Result<bool, StorageError> {
        let result = self.inner.exists(key).await;
        let outcome = match result {
            Ok(true) => Outcome::Ok,
            Ok(false) => Outcome::NotFound,
            Err(_) => Outcome::Error,
        };
        self.metrics.record(self.role, self.inner.driver(), Operation::Head, outcome);
        result
    }
}
