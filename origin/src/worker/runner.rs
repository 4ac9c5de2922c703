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
use vylux_common::jobs::{
    CoverOptions, FileResult, FullArtifacts, FullOptions, FullResult, FullStages, JobOptions, JobType, PreviewOptions,
    RetryPlan, RetryStrategy, StageState, StageStatus, TranscodeOptions, TranscodeResult,
};
use vylux_common::ObjectKey;

use crate::config::Config;
use crate::media::MediaError;
use crate::storage::{ObjectStore, StorageError};
use crate::store::{JobRecord, JobStore};

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

    /// Converts a media failure. Only time-outs and output errors may pass on another attempt,
    /// because a source that cannot be decoded will not decode next time either.
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
    /// Stores the wrapped content keys of encrypted packages.
    pub store: JobStore,
    /// Supplies the key-encryption keys and the key URI.
    pub config: Arc<Config>,
    /// Folder that contains one scratch directory per running job.
    pub scratch_root: PathBuf,
    /// Limits the HLS ladders running at once.
    pub transcodes: Arc<super::TranscodeSlots>,
}

#[async_trait]
impl JobRunner for MediaRunner {
    async fn run(&self, job: &JobRecord, progress: Progress) -> Result<Value, JobFailure> {
        let scratch = self.scratch_dir()?;
        let result = match &job.options {
            JobOptions::Cover(options) => self.cover_job(job, options, scratch.path(), &progress).await,
            JobOptions::Preview(options) => self.preview_job(job, options, scratch.path(), &progress).await,
            JobOptions::Transcode(options) => self.transcode_job(job, options, scratch.path(), &progress).await,
            JobOptions::Full(options) => self.full_job(job, options, scratch.path(), &progress).await,
            // TODO: resize and encode image variants; until then thumbnail jobs fail with this code.
            JobOptions::Thumbnail(_) => Err(JobFailure::new(
                "unsupported_job_type",
                "image:thumbnail jobs need an image pipeline, which this build does not have",
                false,
            )),
        };
        // Media errors name the files they read, which are scratch paths. Clients read the job
        // error, so the paths become the source object key and a placeholder.
        let result = result.map_err(|failure| hide_scratch_paths(failure, scratch.path(), &job.source));
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

    async fn preview_job(
        &self,
        job: &JobRecord,
        options: &PreviewOptions,
        scratch: &Path,
        progress: &Progress,
    ) -> Result<Value, JobFailure> {
        let source = self.download_source(job, scratch).await?;
        progress.set(30);
        let result = self.make_preview(job, options, &source, scratch).await?;
        progress.set(100);
        Ok(serde_json::to_value(result).expect("results serialize"))
    }

    async fn transcode_job(
        &self,
        job: &JobRecord,
        options: &TranscodeOptions,
        scratch: &Path,
        progress: &Progress,
    ) -> Result<Value, JobFailure> {
        let source = self.download_source(job, scratch).await?;
        progress.set(5);
        let result = self.make_package(job, options, &source, scratch, progress, (10, 95)).await?;
        progress.set(100);
        Ok(serde_json::to_value(result).expect("results serialize"))
    }

    /// Runs `video:full`: one download, then cover and preview side by side, then the HLS package.
    /// The results are the stage envelope, also on failure, so a retry can target failed stages.
    async fn full_job(
        &self,
        job: &JobRecord,
        options: &FullOptions,
        scratch: &Path,
        progress: &Progress,
    ) -> Result<Value, JobFailure> {
        let mut envelope = FullEnvelope::new();
        let source = match self.download_source(job, scratch).await {
            Ok(source) => source,
            Err(failure) => {
                envelope.fail("source", "download_failed", &failure);
                for stage in ["cover", "preview", "transcode"] {
                    envelope.skip(stage, "blocked_by_source_failure");
                }
                envelope.plan(RetryStrategy::RetryJob, vec![JobType::VideoFull], vec!["source"], "source download failed");
                return Err(envelope.into_failure(failure.retryable));
            }
        };
        envelope.ready("source");
        progress.set(5);

        let cover_options = options.cover.clone().unwrap_or_default();
        let preview_options = options.preview.clone().unwrap_or_default();
        let (cover, preview) = tokio::join!(
            self.make_cover(job, &cover_options, &source, scratch),
            self.make_preview(job, &preview_options, &source, scratch),
        );
        progress.set(25);
        let mut retry_types = Vec::new();
        let mut retryable = false;
        match cover {
            Ok(result) => {
                envelope.ready("cover");
                envelope.result.artifacts.cover = Some(result);
            }
            Err(failure) => {
                envelope.fail("cover", stage_code(&failure, "extract_failed"), &failure);
                retry_types.push(JobType::VideoCover);
                retryable |= failure.retryable;
            }
        }
        match preview {
            Ok(result) => {
                envelope.ready("preview");
                envelope.result.artifacts.preview = Some(result);
            }
            Err(failure) => {
                envelope.fail("preview", stage_code(&failure, "generate_failed"), &failure);
                retry_types.push(JobType::VideoPreview);
                retryable |= failure.retryable;
            }
        }
        if !retry_types.is_empty() {
            envelope.skip("transcode", "blocked_by_failed_dependencies");
            retry_types.push(JobType::VideoTranscode);
            envelope.plan(RetryStrategy::RetryTasks, retry_types, vec![], "cover/preview stage failed");
            return Err(envelope.into_failure(retryable));
        }

        let transcode_options = options.transcode.clone().unwrap_or_default();
        match self.make_package(job, &transcode_options, &source, scratch, progress, (30, 95)).await {
            Ok(result) => {
                envelope.ready("transcode");
                envelope.result.artifacts.transcode = Some(result);
            }
            Err(failure) => {
                envelope.fail("transcode", stage_code(&failure, "transcode_failed"), &failure);
                let reason = if failure.code == "upload_failed" { "transcode upload failed" } else { "transcode stage failed" };
                envelope.plan(RetryStrategy::RetryTasks, vec![JobType::VideoTranscode], vec![], reason);
                return Err(envelope.into_failure(failure.retryable));
            }
        }
        progress.set(100);
        Ok(serde_json::to_value(envelope.result).expect("results serialize"))
    }

    /// Encodes and uploads the animated preview; shared by `video:preview` and `video:full`.
    pub async fn make_preview(
        &self,
        job: &JobRecord,
        options: &PreviewOptions,
        source: &Path,
        scratch: &Path,
    ) -> Result<FileResult, JobFailure> {
        let settings = options.settings();
        let extension = settings.format.extension();
        let output = scratch.join(format!("preview.{extension}"));
        let (source, target) = (source.to_owned(), output.clone());
        let preview = tokio::task::spawn_blocking(move || crate::media::make_preview(&source, &settings, &target))
            .await
            .map_err(|error| JobFailure::new("generate_failed", format!("the preview task panicked: {error}"), false))?
            .map_err(JobFailure::from_media)?;
        let key = job.hash.preview_key(settings.format);
        self.media
            .put_file(&key, &output, Some(settings.format.mime_type()))
            .await
            .map_err(|error| JobFailure::upload(&key, error))?;
        Ok(FileResult { key: key.into_string(), format: extension.to_owned(), size: preview.size })
    }

    /// Packages the source as HLS, stores the wrapped content key when encrypting, uploads every
    /// file and returns the transcode result. Progress moves across `range` while it runs.
    async fn make_package(
        &self,
        job: &JobRecord,
        options: &TranscodeOptions,
        source: &Path,
        scratch: &Path,
        progress: &Progress,
        range: (u8, u8),
    ) -> Result<TranscodeResult, JobFailure> {
        let hash = job.hash.clone();
        let key_endpoint = self.config.key_uri(hash.as_str());
        let encryption = if options.encrypt {
            let key = crate::keys::ContentKeyBytes::generate().map_err(|error| {
                JobFailure::new("encryption_setup_failed", format!("generating a content key failed: {error}"), true)
            })?;
            let wrapped = self.config.keks.wrap(hash.as_str(), &key).map_err(|error| {
                JobFailure::new("encryption_setup_failed", format!("wrapping the content key failed: {error}"), true)
            })?;
            Some((key, wrapped))
        } else {
            None
        };
        progress.set(range.0);

        let key = encryption.as_ref().map(|(key, _)| key);
        let slot = self.transcodes.acquire(&job.id).await;
        let package = package_hls(source, &scratch.join("hls"), key, &key_endpoint, progress, range).await?;
        drop(slot);

        // The key is stored before any playlist is visible, so a player never meets a missing key.
        if let Some((_, wrapped)) = &encryption {
            self.store.put_key(&hash, &wrapped.ciphertext, &wrapped.nonce, &wrapped.kek_version).await.map_err(
                |error| JobFailure::new("encryption_setup_failed", format!("storing the content key failed: {error}"), true),
            )?;
        }
        // The package lists the master playlist last, so a reader that finds it finds every segment.
        for file in &package.files {
            let key = hash.video_object(&file.relative_path);
            self.media
                .put_file(&key, &file.path, Some(file.content_type))
                .await
                .map_err(|error| JobFailure::upload(&key, error))?;
        }
        progress.set(range.1);
        Ok(package.transcode_result(&hash))
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

/// Replaces scratch paths in a failure's message and results.
fn hide_scratch_paths(mut failure: JobFailure, scratch: &Path, source: &ObjectKey) -> JobFailure {
    let source_path = scratch.join("source").display().to_string();
    let scratch_path = scratch.display().to_string();
    let scrub = |text: &str| text.replace(&source_path, source.as_str()).replace(&scratch_path, "<scratch>");
    failure.message = scrub(&failure.message);
    if let Some(results) = &failure.results {
        if let Ok(cleaned) = serde_json::from_str(&scrub(&results.to_string())) {
            failure.results = Some(cleaned);
        }
    }
    failure
}

/// Returns the stage error code for a failure: upload failures keep their code, and everything
/// else gets the stage's own code.
fn stage_code<'a>(failure: &'a JobFailure, stage_default: &'a str) -> &'a str {
    if failure.code == "upload_failed" || failure.code == "encryption_setup_failed" {
        &failure.code
    } else {
        stage_default
    }
}

/// The `video:full` result envelope while the job runs.
struct FullEnvelope {
    result: FullResult,
    failed: Vec<&'static str>,
    first_failure: Option<String>,
}

impl FullEnvelope {
    fn new() -> Self {
        let pending = || StageState::with_status(StageStatus::Pending);
        Self {
            result: FullResult {
                stages: FullStages { source: pending(), cover: pending(), preview: pending(), transcode: pending() },
                artifacts: FullArtifacts::default(),
                retry_plan: RetryPlan {
                    allowed: false,
                    strategy: RetryStrategy::None,
                    job_types: Vec::new(),
                    stages: Vec::new(),
                    reason: None,
                },
            },
            failed: Vec::new(),
            first_failure: None,
        }
    }

    fn stage(&mut self, name: &str) -> &mut StageState {
        match name {
            "source" => &mut self.result.stages.source,
            "cover" => &mut self.result.stages.cover,
            "preview" => &mut self.result.stages.preview,
            _ => &mut self.result.stages.transcode,
        }
    }

    fn ready(&mut self, name: &str) {
        *self.stage(name) = StageState::with_status(StageStatus::Ready);
    }

    fn skip(&mut self, name: &str, reason: &str) {
        let mut state = StageState::with_status(StageStatus::Skipped);
        state.reason = Some(reason.to_owned());
        *self.stage(name) = state;
    }

    fn fail(&mut self, name: &'static str, code: &str, failure: &JobFailure) {
        let mut state = StageState::with_status(StageStatus::Failed);
        state.error_code = Some(code.to_owned());
        state.error = Some(failure.message.clone());
        state.retryable = Some(true);
        *self.stage(name) = state;
        self.failed.push(name);
        self.first_failure.get_or_insert_with(|| failure.to_string());
    }

    fn plan(&mut self, strategy: RetryStrategy, job_types: Vec<JobType>, stages: Vec<&str>, reason: &str) {
        self.result.retry_plan = RetryPlan {
            allowed: true,
            strategy,
            job_types,
            stages: stages.into_iter().map(str::to_owned).collect(),
            reason: Some(reason.to_owned()),
        };
    }

    /// Ends the job as failed with the message `video:full failed: [<failed stages, sorted>]`.
    fn into_failure(mut self, retryable: bool) -> JobFailure {
        self.failed.sort_unstable();
        let message = format!("[{}]", self.failed.join(", "));
        let detail = self.first_failure.take().unwrap_or_default();
        JobFailure {
            code: "video:full failed".to_owned(),
            message: format!("{message} ({detail})"),
            retryable,
            results: Some(serde_json::to_value(&self.result).expect("results serialize")),
        }
    }
}

/// Runs the HLS packager on a blocking thread, mapping its 0–100 progress onto `range`.
async fn package_hls(
    source: &Path,
    out_dir: &Path,
    key: Option<&crate::keys::ContentKeyBytes>,
    key_uri: &str,
    progress: &Progress,
    range: (u8, u8),
) -> Result<crate::media::HlsPackage, JobFailure> {
    let config = crate::media::TranscodeConfig {
        encryption: key.map(|key| crate::media::ContentKey { key: *key.as_bytes(), key_uri: key_uri.to_owned() }),
        ..crate::media::TranscodeConfig::default()
    };
    let (source, out_dir, progress) = (source.to_owned(), out_dir.to_owned(), progress.clone());
    let span = f64::from(range.1.saturating_sub(range.0));
    tokio::task::spawn_blocking(move || {
        let report = |percent: u8| progress.set(range.0 + (f64::from(percent.min(100)) / 100.0 * span) as u8);
        let package = crate::media::transcode_hls(&source, &out_dir, &config, &report);
        crate::media::release_freed_memory();
        package
    })
    .await
    .map_err(|error| JobFailure::new("transcode_failed", format!("the transcode task panicked: {error}"), false))?
    .map_err(JobFailure::from_media)
}
