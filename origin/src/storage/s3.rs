//! A bucket on an S3-compatible server.

use std::sync::Arc;

use super::{ObjectStore, StorageConfig, StorageError};

// TODO: the S3 backend is not written yet, so opening an S3 bucket fails.
pub(crate) fn open(config: &StorageConfig) -> Result<Arc<dyn ObjectStore>, StorageError> {
    let _ = config;
    Err(StorageError::unavailable("open", "s3", "the S3 backend is not available in this build"))
}
