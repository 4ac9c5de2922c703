//! Object storage for the source and media buckets.
//!
//! The origin reads uploads from a read-only *source* bucket and writes results to a read/write
//! *media* bucket. Each bucket is either a folder on local disk ([`local`]) or an S3 bucket
//! ([`s3`]). Both implement [`ObjectStore`], so routes and workers need not know which one they use.
//!
//! - [`config`]: [`StorageConfig`] and the `SOURCE_*` / `MEDIA_*` environment variables.
//! - [`error`]: [`StorageError`], split into not found, invalid range, invalid key and unavailable.
//! - [`range`]: HTTP byte ranges ([`ByteRange`]) and the range actually served ([`ContentRange`]).
//! - [`content_type`]: content types derived from key extensions.
//! - [`local`]: a bucket as a folder, with atomic writes.
//! - [`s3`]: a bucket on an S3-compatible server through aws-sdk-s3.
//! - [`metrics`]: operation counters by role, driver, operation and result.

use std::fmt;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;
use vylux_common::ObjectKey;

pub mod config;
pub mod content_type;
pub mod error;
pub mod local;
pub mod metrics;
pub mod range;
pub mod s3;

pub use config::{BucketConfigs, BucketRole, StorageConfig};
pub use error::StorageError;
pub use metrics::{MeteredStore, StorageMetrics};
pub use range::{ByteRange, ContentRange};

/// A stream of object bytes, read from disk or the network as the consumer polls it.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// Storage backend behind a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Driver {
    Local,
    S3,
}

impl Driver {
    /// Returns the metric label: `local` or `s3`.
    pub fn as_str(self) -> &'static str {
        match self {
            Driver::Local => "local",
            Driver::S3 => "s3",
        }
    }
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Metadata of a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Size of the whole object in bytes.
    pub size: u64,
    /// Content type stored with the object (S3) or derived from the key's extension (local).
    pub content_type: Option<String>,
    /// Strong validator in double quotes, such as `"9b2cf535f27731c974343645a3985328"`, ready for
    /// an `ETag` header. It changes whenever the content changes.
    pub etag: String,
    /// Last modification time, when the backend reports one.
    pub last_modified: Option<SystemTime>,
}

/// An object being read: its metadata, the range served and the byte stream.
pub struct ObjectBody {
    pub meta: ObjectMeta,
    /// The bytes the stream yields, or `None` when it yields the whole object.
    pub range: Option<ContentRange>,
    pub stream: ByteStream,
}

impl ObjectBody {
    /// Returns the number of bytes the stream yields.
    pub fn content_length(&self) -> u64 {
        match &self.range {
            Some(range) => range.len(),
            None => self.meta.size,
        }
    }
}

impl fmt::Debug for ObjectBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectBody").field("meta", &self.meta).field("range", &self.range).finish_non_exhaustive()
    }
}

/// A bucket of objects addressed by [`ObjectKey`].
///
/// Every method names the key or prefix in its error. Reads return [`StorageError::NotFound`] for
/// a missing object; network, permission and server failures are [`StorageError::Unavailable`].
#[async_trait]
pub trait ObjectStore: Send + Sync + fmt::Debug {
    /// Returns which backend this is.
    fn driver(&self) -> Driver;

    /// Returns an object's metadata without its content.
    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, StorageError>;

    /// Opens an object for streaming, whole or in part.
    ///
    /// A `range` that starts past the end of the object fails with
    /// [`StorageError::InvalidRange`], which carries the object size for a `Content-Range:
    /// bytes */{size}` header. A range that ends past the end is shortened to the object.
    async fn get(&self, key: &ObjectKey, range: Option<ByteRange>) -> Result<ObjectBody, StorageError>;

    /// Stores the content of a local file under `key`, replacing any object there.
    ///
    /// The file is streamed, never read into memory whole. `content_type` of `None` means the type
    /// derived from the key's extension by [`content_type::from_key`].
    async fn put_file(&self, key: &ObjectKey, path: &Path, content_type: Option<&str>) -> Result<(), StorageError>;

    /// Stores `bytes` under `key`, replacing any object there. `content_type` as in [`put_file`].
    ///
    /// [`put_file`]: ObjectStore::put_file
    async fn put_bytes(&self, key: &ObjectKey, bytes: Bytes, content_type: Option<&str>) -> Result<(), StorageError>;

    /// Streams an object into a local file, creating or truncating it, and returns the number of
    /// bytes written. On failure the partial file is removed.
    async fn download_to_file(&self, key: &ObjectKey, path: &Path) -> Result<u64, StorageError>;

    /// Lists every key that starts with `prefix`, in ascending byte order.
    ///
    /// `prefix` is plain text, not a folder: `videos/mo/movie` matches `videos/mo/movie-2/x.jpg`.
    /// The empty prefix lists the whole bucket.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StorageError>;

    /// Deletes an object. Deleting a missing object succeeds.
    async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError>;

    /// Deletes every object whose key starts with `prefix` and returns how many were deleted.
    ///
    /// The empty prefix is rejected with [`StorageError::InvalidKey`], so that a bug cannot empty
    /// a whole bucket.
    async fn delete_prefix(&self, prefix: &str) -> Result<u64, StorageError>;

    /// Checks that the bucket is usable: the S3 bucket responds to `HeadBucket`, or the folder exists
    /// and a file can be created in it.
    async fn check(&self) -> Result<(), StorageError>;

    /// Returns whether an object exists.
    async fn exists(&self, key: &ObjectKey) -> Result<bool, StorageError> {
        match self.head(key).await {
            Ok(_) => Ok(true),
            Err(StorageError::NotFound { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }
}

/// Opens the bucket that `config` describes.
///
/// A local bucket's folder is created when it is missing. An S3 bucket is not contacted here; call
/// [`ObjectStore::check`] to find out whether it is reachable.
pub fn open(config: &StorageConfig) -> Result<Arc<dyn ObjectStore>, StorageError> {
    match config {
        StorageConfig::Local { root } => Ok(Arc::new(local::LocalStore::open(root)?)),
        StorageConfig::S3 { .. } => s3::open(config),
    }
}
