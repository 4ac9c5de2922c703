//! A bucket on an S3-compatible server, through aws-sdk-s3.
//!
//! The client uses path-style addressing, the configured endpoint and static credentials only, so
//! it never consults the AWS default credential chain, profile files or an instance metadata
//! service. Files larger than the multipart threshold are uploaded in parts read straight from
//! disk, and reads stream the response body, so no object is ever held in memory whole.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream as SdkByteStream, DateTime, Length};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use aws_sdk_s3::Client;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use bytes::Bytes;
use futures_util::{stream, StreamExt, TryStreamExt};
use tokio::io::AsyncWriteExt;
use vylux_common::ObjectKey;

use super::{
    content_type, ByteRange, ContentRange, Driver, ObjectBody, ObjectMeta, ObjectStore, StorageConfig, StorageError,
};

/// Files larger than this are uploaded with a multipart upload.
pub const DEFAULT_MULTIPART_THRESHOLD: u64 = 32 * 1024 * 1024;

/// Size of each part of a multipart upload, unless a file needs larger parts to stay within
/// [`MAX_PARTS`].
pub const DEFAULT_PART_SIZE: u64 = 16 * 1024 * 1024;

/// Smallest part S3 accepts, except for the last part of an upload.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// Most parts S3 accepts in one multipart upload.
pub const MAX_PARTS: u64 = 10_000;

/// Parts uploaded at the same time. Each part is streamed from disk, so this bounds open
/// connections, not memory.
const PART_CONCURRENCY: usize = 4;

/// Most keys one `DeleteObjects` request may name.
const DELETE_BATCH: usize = 1000;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed from the start of a request to the first byte of the response. The SDK counts it
/// from the start, so it includes sending the body: a 32 MiB single PUT needs about 2.2 Mbit/s.
const READ_TIMEOUT: Duration = Duration::from_secs(120);
const MAX_ATTEMPTS: u32 = 3;
const INITIAL_BACKOFF: Duration = Duration::from_millis(200);

/// Opens an S3 bucket as an [`ObjectStore`].
pub(crate) fn open(config: &StorageConfig) -> Result<Arc<dyn ObjectStore>, StorageError> {
    Ok(Arc::new(S3Store::new(config)?))
}

/// A bucket on an S3-compatible server.
#[derive(Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    endpoint: String,
    multipart_threshold: u64,
    part_size: u64,
    list_page_size: Option<i32>,
}

impl fmt::Debug for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Store")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("multipart_threshold", &self.multipart_threshold)
            .field("part_size", &self.part_size)
            .finish_non_exhaustive()
    }
}

impl S3Store {
    /// Builds a client for the bucket in `config`, which must be [`StorageConfig::S3`]. No request
    /// is sent.
    pub fn new(config: &StorageConfig) -> Result<Self, StorageError> {
        let StorageConfig::S3 { endpoint, region, bucket, access_key, secret_key } = config else {
            return Err(StorageError::unavailable("open", "s3", "the configuration is not an S3 bucket"));
        };

        let http_client =
            aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build_https();
        let timeouts = TimeoutConfig::builder().connect_timeout(CONNECT_TIMEOUT).read_timeout(READ_TIMEOUT).build();
        let retries = RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS).with_initial_backoff(INITIAL_BACKOFF);
        let sdk_config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .force_path_style(true)
            .region(Region::new(region.clone()))
            .credentials_provider(Credentials::new(access_key, secret_key, None, None, "vylux-static"))
            .http_client(http_client)
            .timeout_config(timeouts)
            .retry_config(retries)
            .build();

        Ok(Self {
            client: Client::from_conf(sdk_config),
            bucket: bucket.clone(),
            endpoint: endpoint.clone(),
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
            part_size: DEFAULT_PART_SIZE,
            list_page_size: None,
        })
    }

    /// Sets when [`ObjectStore::put_file`] switches to a multipart upload and the size of each
    /// part, in bytes. `part_size` is raised to [`MIN_PART_SIZE`] when smaller.
    pub fn with_multipart(mut self, threshold: u64, part_size: u64) -> Self {
        self.multipart_threshold = threshold;
        self.part_size = part_size.max(MIN_PART_SIZE);
        self
    }

    /// Sets the `max-keys` parameter of each `ListObjectsV2` request. Servers cap it at 1000,
    /// which is also their default.
    pub fn with_list_page_size(mut self, keys: i32) -> Self {
        self.list_page_size = Some(keys.max(1));
        self
    }

    /// Returns the name of the bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Lists raw keys under `prefix`, following continuation tokens.
    async fn list_raw(&self, operation: &'static str, prefix: &str) -> Result<Vec<String>, StorageError> {
        let mut keys = Vec::new();
        let mut continuation = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_max_keys(self.list_page_size)
                .set_continuation_token(continuation.take())
                .send()
                .await
                .map_err(|error| map_error(operation, prefix, error))?;

            keys.extend(page.contents().iter().filter_map(|object| object.key().map(str::to_owned)));
            match page.next_continuation_token() {
                Some(token) if page.is_truncated() == Some(true) => continuation = Some(token.to_owned()),
                _ => break,
            }
        }
        Ok(keys)
    }

    async fn put_body(
        &self,
        key: &ObjectKey,
        body: SdkByteStream,
        length: u64,
        content_type: Option<&str>,
    ) -> Result<(), StorageError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .body(body)
            .content_length(to_i64(length))
            .set_content_type(resolve_content_type(key, content_type))
            .send()
            .await
            .map_err(|error| map_error("put", key.as_str(), error))?;
        Ok(())
    }

    /// Uploads a file in parts of `self.part_size` bytes (or more for very large files), each
    /// read from disk as it is sent. The upload is aborted when a part fails.
    async fn put_multipart(
        &self,
        key: &ObjectKey,
        path: &Path,
        size: u64,
        content_type: Option<&str>,
    ) -> Result<(), StorageError> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .set_content_type(resolve_content_type(key, content_type))
            .send()
            .await
            .map_err(|error| map_error("put", key.as_str(), error))?;
        let Some(upload_id) = created.upload_id().map(str::to_owned) else {
            return Err(StorageError::unavailable("put", key.as_str(), "CreateMultipartUpload returned no upload id"));
        };

        let result = self.upload_parts(key, path, size, &upload_id).await;
        let parts = match result {
            Ok(parts) => parts,
            Err(error) => {
                // Best effort: a failed abort leaves parts that the bucket's lifecycle rules reclaim.
                let _ = self
                    .client
                    .abort_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key.as_str())
                    .upload_id(&upload_id)
                    .send()
                    .await;
                return Err(error);
            }
        };

        let completed = CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
        let finished = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .upload_id(&upload_id)
            .multipart_upload(completed)
            .send()
            .await;
        if let Err(error) = finished {
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(key.as_str())
                .upload_id(&upload_id)
                .send()
                .await;
            return Err(map_error("put", key.as_str(), error));
        }
        Ok(())
    }

    async fn upload_parts(
        &self,
        key: &ObjectKey,
        path: &Path,
        size: u64,
        upload_id: &str,
    ) -> Result<Vec<CompletedPart>, StorageError> {
        let part_size = self.part_size.max(size.div_ceil(MAX_PARTS));
        let part_count = size.div_ceil(part_size).max(1);

        let uploads = (0..part_count).map(|index| {
            let offset = index * part_size;
            let length = part_size.min(size - offset);
            let part_number = i32::try_from(index + 1).unwrap_or(i32::MAX);
            async move {
                let body = SdkByteStream::read_from()
                    .path(path)
                    .offset(offset)
                    .length(Length::Exact(length))
                    .build()
                    .await
                    .map_err(|error| {
                        StorageError::unavailable(
                            "put",
                            key.as_str(),
                            format!("cannot read {}: {error}", path.display()),
                        )
                    })?;
                let uploaded = self
                    .client
                    .upload_part()
                    .bucket(&self.bucket)
                    .key(key.as_str())
                    .upload_id(upload_id)
                    .part_number(part_number)
                    .content_length(to_i64(length))
                    .body(body)
                    .send()
                    .await
                    .map_err(|error| map_error("put", key.as_str(), error))?;
                Ok::<_, StorageError>(
                    CompletedPart::builder()
                        .part_number(part_number)
                        .set_e_tag(uploaded.e_tag().map(str::to_owned))
                        .build(),
                )
            }
        });
        stream::iter(uploads).buffered(PART_CONCURRENCY).try_collect().await
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    fn driver(&self) -> Driver {
        Driver::S3
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, StorageError> {
        let output = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(|error| map_error("head", key.as_str(), error))?;
        Ok(ObjectMeta {
            size: to_u64(output.content_length()),
            content_type: output.content_type().map(str::to_owned),
            etag: quote_etag(output.e_tag()),
            last_modified: output.last_modified().and_then(to_system_time),
        })
    }

    async fn get(&self, key: &ObjectKey, range: Option<ByteRange>) -> Result<ObjectBody, StorageError> {
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .set_range(range.map(ByteRange::to_header))
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(error) if status_of(&error) == Some(416) => {
                let size = self.head(key).await?.size;
                return Err(StorageError::InvalidRange { key: key.to_string(), size });
            }
            Err(error) => return Err(map_error("get", key.as_str(), error)),
        };

        let content_length = to_u64(output.content_length());
        let served = output.content_range().and_then(ContentRange::from_header);
        let size = served.map_or(content_length, |served| served.complete_length);
        let meta = ObjectMeta {
            size,
            content_type: output.content_type().map(str::to_owned),
            etag: quote_etag(output.e_tag()),
            last_modified: output.last_modified().and_then(to_system_time),
        };

        // A server that ignores the Range header sends the whole object with status 200. That is
        // only acceptable when the range happens to cover the whole object.
        let range = match (range, served) {
            (None, _) => None,
            (Some(_), Some(served)) => Some(served),
            (Some(requested), None) => match requested.resolve(size) {
                Some(whole) if whole.first == 0 && whole.len() == size => Some(whole),
                _ => {
                    return Err(StorageError::unavailable("get", key.as_str(), "the server ignored the Range header"));
                }
            },
        };

        let stream = stream::try_unfold(output.body, |mut body| async move {
            match body.try_next().await {
                Ok(Some(bytes)) => Ok(Some((bytes, body))),
                Ok(None) => Ok(None),
                Err(error) => Err(io::Error::other(error)),
            }
        });
        Ok(ObjectBody { meta, range, stream: Box::pin(stream) })
    }

    async fn put_file(&self, key: &ObjectKey, path: &Path, content_type: Option<&str>) -> Result<(), StorageError> {
        let size = tokio::fs::metadata(path)
            .await
            .map_err(|error| {
                StorageError::unavailable("put", key.as_str(), format!("cannot read {}: {error}", path.display()))
            })?
            .len();
        if size > self.multipart_threshold {
            return self.put_multipart(key, path, size, content_type).await;
        }

        let body = SdkByteStream::from_path(path).await.map_err(|error| {
            StorageError::unavailable("put", key.as_str(), format!("cannot read {}: {error}", path.display()))
        })?;
        self.put_body(key, body, size, content_type).await
    }

    async fn put_bytes(&self, key: &ObjectKey, bytes: Bytes, content_type: Option<&str>) -> Result<(), StorageError> {
        let length = bytes.len() as u64;
        self.put_body(key, SdkByteStream::from(bytes), length, content_type).await
    }

    async fn download_to_file(&self, key: &ObjectKey, path: &Path) -> Result<u64, StorageError> {
        let mut body = self.get(key, None).await.map_err(|error| rename_operation(error, "download"))?;
        let expected = body.meta.size;

        let written = async {
            let mut file = tokio::fs::File::create(path).await?;
            let mut written = 0u64;
            while let Some(chunk) = body.stream.next().await {
                let chunk = chunk?;
                file.write_all(&chunk).await?;
                written += chunk.len() as u64;
            }
            file.flush().await?;
            if written != expected {
                let message = format!("the response ended after {written} of {expected} bytes");
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, message));
            }
            Ok(written)
        }
        .await;

        written.map_err(|error| {
            let _ = std::fs::remove_file(path);
            StorageError::unavailable("download", key.as_str(), format!("cannot write {}: {error}", path.display()))
        })
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StorageError> {
        let raw = self.list_raw("list", prefix).await?;
        // NOTE: keys that are not valid object keys (written by other tools, such as `a//b`) are
        // left out, and `delete_prefix` is the only method that still reaches them.
        let mut keys: Vec<ObjectKey> = raw.iter().filter_map(|key| ObjectKey::parse(key).ok()).collect();
        keys.sort_unstable();
        Ok(keys)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        let result = self.client.delete_object().bucket(&self.bucket).key(key.as_str()).send().await;
        match result.map_err(|error| map_error("delete", key.as_str(), error)) {
            Ok(_) | Err(StorageError::NotFound { .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64, StorageError> {
        if prefix.is_empty() {
            return Err(StorageError::invalid_key(
                prefix,
                "an empty prefix would delete the whole bucket: pass a prefix such as videos/ab/abc/",
            ));
        }
        let keys = self.list_raw("delete_prefix", prefix).await?;

        let mut deleted = 0;
        for batch in keys.chunks(DELETE_BATCH) {
            let objects = batch
                .iter()
                .map(|key| ObjectIdentifier::builder().key(key).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| StorageError::unavailable("delete_prefix", prefix, error.to_string()))?;
            let request = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|error| StorageError::unavailable("delete_prefix", prefix, error.to_string()))?;
            let output = self
                .client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(request)
                .send()
                .await
                .map_err(|error| map_error("delete_prefix", prefix, error))?;

            if let Some(failed) = output.errors().first() {
                let detail = format!(
                    "{} of {} keys were not deleted, first {:?}: {} {}",
                    output.errors().len(),
                    batch.len(),
                    failed.key().unwrap_or_default(),
                    failed.code().unwrap_or_default(),
                    failed.message().unwrap_or_default()
                );
                return Err(StorageError::unavailable("delete_prefix", prefix, detail));
            }
            deleted += batch.len() as u64;
        }
        Ok(deleted)
    }

    async fn check(&self) -> Result<(), StorageError> {
        let result = self.client.head_bucket().bucket(&self.bucket).send().await;
        result.map(drop).map_err(|error| {
            let detail = match status_of(&error) {
                Some(404) => "the bucket does not exist".to_owned(),
                Some(403) => "access to the bucket is denied: check the access key and secret key".to_owned(),
                _ => describe(&error),
            };
            StorageError::unavailable("check", format!("{}/{}", self.endpoint, self.bucket), detail)
        })
    }
}

/// Returns the HTTP status of a response error, if a response arrived.
fn status_of<E>(error: &SdkError<E>) -> Option<u16> {
    error.raw_response().map(|response| response.status().as_u16())
}

/// Maps an SDK error for an object or prefix. A 404 is [`StorageError::NotFound`] unless the
/// server names another cause, such as a missing bucket, which is a configuration problem.
fn map_error<E>(operation: &'static str, target: &str, error: SdkError<E>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let SdkError::ServiceError(service) = &error {
        let code = service.err().code();
        let missing_key = matches!(code, Some("NoSuchKey") | Some("NotFound") | None);
        if service.raw().status().as_u16() == 404 && missing_key {
            return StorageError::not_found(target);
        }
    }
    StorageError::unavailable(operation, target, describe(&error))
}

/// Describes an SDK error in one line: the status, code and message of an error response, or the
/// chain of causes of a network failure. The request, and so its signature, is never included.
fn describe<E>(error: &SdkError<E>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let SdkError::ServiceError(service) = error {
        let status = service.raw().status().as_u16();
        let code = service.err().code().unwrap_or("no error code");
        return match service.err().message() {
            Some(message) => format!("HTTP {status} {code}: {message}"),
            None => format!("HTTP {status} {code}"),
        };
    }
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(current) = cause {
        text.push_str(": ");
        text.push_str(&current.to_string());
        cause = current.source();
    }
    text
}

fn rename_operation(error: StorageError, operation: &'static str) -> StorageError {
    match error {
        StorageError::Unavailable { target, detail, .. } => StorageError::Unavailable { operation, target, detail },
        other => other,
    }
}

fn resolve_content_type(key: &ObjectKey, content_type: Option<&str>) -> Option<String> {
    content_type.or_else(|| content_type::from_key(key)).map(str::to_owned)
}

/// Returns the ETag in double quotes, as HTTP requires. Servers normally send it quoted already.
fn quote_etag(etag: Option<&str>) -> String {
    match etag {
        Some(etag) if etag.starts_with('"') || etag.starts_with("W/\"") => etag.to_owned(),
        Some(etag) => format!("\"{etag}\""),
        None => "\"\"".to_owned(),
    }
}

fn to_system_time(time: &DateTime) -> Option<SystemTime> {
    SystemTime::try_from(*time).ok()
}

fn to_u64(length: Option<i64>) -> u64 {
    length.and_then(|length| u64::try_from(length).ok()).unwrap_or(0)
}

fn to_i64(length: u64) -> i64 {
    i64::try_from(length).unwrap_or(i64::MAX)
}
