//! The pipeline seam: what a worker calls to run one job.
//!
//! [`MediaRunner`] downloads the source into a per-job scratch directory, runs the GStreamer
//! pipelines of [`crate::media`], uploads the outputs to the media bucket and returns the results
//! JSON. The scratch directory is removed when the job ends, failed or not.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use tokio::sync::watch;
use vylux_common::jobs::{CoverOptions, FileResult, JobOptions, JobType};
use vylux_common::ObjectKey;

use crate::media::MediaError;
use crate::storage::{ObjectStore, StorageError};
use crate::store::JobRecord;

/// A failed job attempt: a stable code, a message naming the cause, whether another attempt could
/// succeed, and any partial results.
#[derive(Debug, Clone, PartialEq)]
pub struct JobFailure {
    pub code: String,
    pub message: String,
    pub retryable: bool,
    pub results: Option<Value>,
}

impl JobFailure {
    pub fn new(code: impl Into<String>, message: impl Into<String>, retryable: bool) -> Self {
        Self { code: code.into(), message: message.into(), retryable, results: None }
    }

    /// A media failure. Only time-outs and output errors may pass on another attempt; a source that
    /// cannot be decoded will not decode next time either.
    pub fn from_media(error: MediaError) -> Self {
        let retryable = matches!(error.code, crate::media::ErrorCode::TimedOut | crate::media::ErrorCode::OutputFailed);
        Self::new(error.code.as_str(), error.message, retryable)
    }

    fn download(key: &ObjectKey, error: StorageError) -> Self {
        if error.is_not_found() {
            Self::new("source_not_found", format!("source object {key} not found"), false)
        } else {
            Self::new("download_failed", format!("downloading source {key} failed: {error}"), true)
        }
    }

    fn upload(key: &ObjectKey, error: StorageError) -> Self {
        Self::new("upload_failed", format!("uploading {key} failed: {error}"), true)
    }
}

impl fmt::Display for JobFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// Progress reporter handed to a running job: 0 to 100, written to the store by the worker.
#[derive(Debug, Clone)]
pub struct Progress(watch::Sender<u8>);

impl Progress {
    pub fn new(sender: watch::Sender<u8>) -> Self {
        Self(sender)
    }

    /// Records progress; values only ever go up, and values above 100 count as 100.
    pub fn set(&self, value: u8) {
        let value = value.min(100);
        self.0.send_if_modified(|current| {
            let raise = value > *current;
            if raise {
                *current = value;
            }
            raise
        });
    }
}

/// Runs one job and returns its results JSON.
#[async_trait]
pub trait JobRunner: Send + Sync {
    async fn run(&self, job: &JobRecord, progress: Progress) -> Result<Value, JobFailure>;
}

/// Runs jobs with the GStreamer pipelines, reading from the source bucket and writing to the media
/// bucket.
pub struct MediaRunner {
    pub source: Arc<dyn ObjectStore>,
    pub media: Arc<dyn ObjectStore>,
    /// Folder that holds one scratch directory per running job.
    pub scratch_root: PathBuf,
}

#[async_trait]
impl JobRunner for MediaRunner {
    async fn run(&self, job: &JobRecord, progress: Progress) -> Result<Value, JobFailure> {
        let scratch = self.scratch_dir()?;
        let result = match (&job.options, job.job_type) {
            (JobOptions::Cover(options), _) => self.cover_job(job, options, scratch.path(), &progress).await,
            (_, JobType::ImageThumbnail) => Err(JobFailure::new(
                "unsupported_job_type",
                "image:thumbnail jobs need an image pipeline, which this build does not have",
                false,
            )),
            (_, other) => Err(JobFailure::new(
                "pipeline_unavailable",
                format!("{other} jobs are not available in this build"),
                false,
            )),
        };
        // Dropping the directory removes it and everything in it, on success and failure alike.
        drop(scratch);
        result
    }
}

impl MediaRunner {
    fn scratch_dir(&self) -> Result<tempfile::TempDir, JobFailure> {
        std::fs::create_dir_all(&self.scratch_root)
            .and_then(|()| tempfile::Builder::new().prefix("job-").tempdir_in(&self.scratch_root))
            .map_err(|error| {
                JobFailure::new(
                    "prepare_failed",
                    format!("creating a scratch directory in {} failed: {error}", self.scratch_root.display()),
                    true,
                )
            })
    }

    /// Downloads the job's source into `scratch` and returns its path.
    async fn download_source(&self, job: &JobRecord, scratch: &Path) -> Result<PathBuf, JobFailure> {
        let path = scratch.join("source");
        self.source.download_to_file(&job.source, &path).await.map_err(|error| JobFailure::download(&job.source, error))?;
        Ok(path)
    }

    async fn cover_job(
        &self,
        job: &JobRecord,
        options: &CoverOptions,
        scratch: &Path,
        progress: &Progress,
    ) -> Result<Value, JobFailure> {
        let source = self.download_source(job, scratch).await?;
        progress.set(30);
        let result = self.make_cover(job, options, &source, scratch).await?;
        progress.set(100);
        Ok(serde_json::to_value(result).expect("results serialize"))
    }

    /// Extracts and uploads the cover; shared by `video:cover` and `video:full`.
    pub async fn make_cover(
        &self,
        job: &JobRecord,
        options: &CoverOptions,
        source: &Path,
        scratch: &Path,
    ) -> Result<FileResult, JobFailure> {
        let output = scratch.join("cover.jpg");
        let (source, options, target) = (source.to_owned(), options.clone(), output.clone());
        let image = tokio::task::spawn_blocking(move || crate::media::extract_cover(&source, &options, &target))
            .await
            .map_err(|error| JobFailure::new("extract_failed", format!("the cover task panicked: {error}"), false))?
            .map_err(JobFailure::from_media)?;
        let key = job.hash.cover_key();
        self.media.put_file(&key, &output, Some("image/jpeg")).await.map_err(|error| JobFailure::upload(&key, error))?;
        Ok(FileResult { key: key.into_string(), format: "jpg".to_owned(), size: image.size })
    }
}
