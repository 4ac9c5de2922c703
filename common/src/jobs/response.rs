//! Job API responses, job results and webhook payloads.
//!
//! Every type rejects unknown fields when decoded, so a client built on these types notices a
//! contract change instead of silently dropping data.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{CallbackStatus, JobStatus, JobType};

/// Body of every JSON error response: `{"message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub message: String,
}

/// Body of `202` (new job) and `200` (idempotency hit) responses to a create request.
///
/// `job_id` is `null` when the hit is a completed job, as in Vylux; `results` is present only then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateJobResponse {
    pub job_id: Option<String>,
    pub hash: String,
    pub status: JobStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<Value>,
}

/// Body of `GET /api/jobs/{id}`. Times are RFC 3339 UTC with second precision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobStatusResponse {
    pub job_id: String,
    #[serde(rename = "type")]
    pub job_type: JobType,
    pub hash: String,
    pub status: JobStatus,
    pub callback_status: CallbackStatus,
    pub progress: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of_job_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<Value>,
    pub created_at: String,
    pub updated_at: String,
}

/// Retry strategy: the whole job again, or only the failed stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryStrategy {
    None,
    RetryJob,
    RetryTasks,
}

/// One job created by `POST /api/jobs/{id}/retry`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryJob {
    pub job_id: String,
    #[serde(rename = "type")]
    pub job_type: JobType,
    pub status: JobStatus,
    pub retry_of_job_id: String,
}

/// Body of a `202` response to `POST /api/jobs/{id}/retry`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryResponse {
    pub source_job_id: String,
    pub strategy: RetryStrategy,
    pub jobs: Vec<RetryJob>,
}

/// Body of a webhook `POST`, signed with `X-Signature`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookPayload {
    pub job_id: String,
    #[serde(rename = "type")]
    pub job_type: JobType,
    pub hash: String,
    pub status: JobStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<Value>,
}

/// Result of `video:cover` and `video:preview`, and the cover and preview artifacts of `video:full`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileResult {
    pub key: String,
    pub format: String,
    pub size: u64,
}

/// One entry of the `image:thumbnail` result array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThumbnailResult {
    pub variant: String,
    pub key: String,
    pub format: String,
    pub size: u64,
}

/// Result of `video:transcode`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranscodeResult {
    pub streaming: Streaming,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audio_tracks: Vec<AudioTrack>,
    pub video_tracks: Vec<VideoTrack>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<EncryptionInfo>,
    pub uploaded_keys: Vec<String>,
}

/// The `streaming` object of a transcode result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Streaming {
    pub protocol: String,
    pub container: String,
    pub encrypted: bool,
    pub master_playlist: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_audio_track_id: Option<String>,
}

/// The shared audio rendition of an HLS package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioTrack {
    pub id: String,
    pub role: String,
    pub language: String,
    pub codec: String,
    pub channels: u32,
    pub bitrate: u64,
    pub playlist: String,
    pub init: String,
    pub segment_count: u32,
}

/// One video rendition of an HLS package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VideoTrack {
    pub id: String,
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub bitrate: u64,
    pub playlist: String,
    pub init: String,
    pub segment_count: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audio_track_ids: Vec<String>,
}

/// Protection of an encrypted package. `scheme` is `aes-128` for this project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionInfo {
    pub scheme: String,
    pub key_endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
}

/// Status of one stage of a `video:full` job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageStatus {
    Pending,
    Ready,
    Failed,
    Skipped,
}

/// State of one stage of a `video:full` job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageState {
    pub status: StageStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
}

impl StageState {
    pub fn with_status(status: StageStatus) -> Self {
        Self { status, error_code: None, error: None, reason: None, retryable: None }
    }
}

/// The four stages of a `video:full` job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FullStages {
    pub source: StageState,
    pub cover: StageState,
    pub preview: StageState,
    pub transcode: StageState,
}

/// Artifacts a `video:full` job produced so far.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FullArtifacts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cover: Option<FileResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<FileResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcode: Option<TranscodeResult>,
}

/// Retry plan of a failed `video:full` job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPlan {
    pub allowed: bool,
    pub strategy: RetryStrategy,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub job_types: Vec<JobType>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Result envelope of `video:full`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FullResult {
    pub stages: FullStages,
    pub artifacts: FullArtifacts,
    pub retry_plan: RetryPlan,
}
