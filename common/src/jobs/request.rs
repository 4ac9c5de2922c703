//! Decoding of the two job-creation contracts into [`JobSpec`].
//!
//! - `POST /api/jobs`: `{"type", "hash", "source", "options", "callback_url"}`.
//! - `POST /api/video/jobs`: `{"source": {"hash", "key"}, "pipeline": {...}, "delivery": {...}}`.
//!
//! Both reject unknown fields at every level. Every error becomes a 400 whose message is the
//! error's text.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{CoverOptions, FullOptions, JobOptions, JobSpec, JobType, PreviewOptions, TranscodeOptions};
use crate::key::ObjectKey;
use crate::layout::{MediaHash, PreviewFormat};

/// The only HLS profile the video contract accepts besides an empty one.
pub const VIDEO_HLS_PROFILE: &str = "stream_video_standard";

/// A job request that cannot be accepted; the message is sent to the client with status 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RequestError {
    pub message: String,
}

impl RequestError {
    fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }

    fn invalid_json(detail: impl std::fmt::Display) -> Self {
        Self::new(format!("invalid JSON body: {detail}"))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyRequest {
    #[serde(rename = "type")]
    job_type: String,
    #[serde(default)]
    hash: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    options: Option<Value>,
    #[serde(default)]
    callback_url: Option<String>,
}

/// Decodes a legacy `POST /api/jobs` body.
pub fn parse_legacy_request(body: &[u8]) -> Result<JobSpec, RequestError> {
    let request: LegacyRequest = serde_json::from_slice(body).map_err(RequestError::invalid_json)?;
    let job_type: JobType = request.job_type.parse().map_err(RequestError::new)?;
    let hash = parse_hash(&request.hash)?;
    let source = parse_source(&request.source)?;
    let callback_url = validate_callback_url(request.callback_url.as_deref())?;
    let options = JobOptions::from_json(job_type, request.options.as_ref())
        .map_err(|detail| RequestError::new(format!("invalid options: {detail}")))?;
    Ok(JobSpec { hash, source, options, callback_url })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VideoRequest {
    source: SourceRef,
    #[serde(default)]
    pipeline: Option<Pipeline>,
    #[serde(default)]
    delivery: Option<Delivery>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceRef {
    #[serde(default)]
    hash: String,
    #[serde(default)]
    key: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Delivery {
    #[serde(default)]
    callback_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Pipeline {
    #[serde(default)]
    cover: Option<CoverStage>,
    #[serde(default)]
    preview: Option<PreviewStage>,
    #[serde(default)]
    package: Option<PackageStage>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CoverStage {
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    timestamp_sec: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewStage {
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    start_sec: Option<f64>,
    #[serde(default)]
    duration: Option<f64>,
    #[serde(default)]
    width: Option<u32>,
    #[serde(default)]
    fps: Option<u32>,
    #[serde(default)]
    format: Option<PreviewFormat>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackageStage {
    #[serde(default)]
    hls: Option<HlsStage>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HlsStage {
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    profile: String,
    #[serde(default)]
    encryption: Option<Encryption>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Encryption {
    #[serde(default)]
    enabled: bool,
}

const LEGACY_FIELDS: [&str; 6] = ["type", "hash", "options", "callback_url", "media_kind", "operation"];
const NON_VIDEO_STAGES: [&str; 3] = ["downloads", "waveform", "normalize"];

/// Decodes a `POST /api/video/jobs` body.
///
/// The enabled stages choose the internal job: cover only, preview only, HLS only, or all three
/// (`video:full`). A body without `pipeline` is a `video:full` job with default options.
pub fn parse_video_request(body: &[u8]) -> Result<JobSpec, RequestError> {
    let value: Value = serde_json::from_slice(body).map_err(RequestError::invalid_json)?;
    let Value::Object(object) = &value else {
        return Err(RequestError::invalid_json("expected a JSON object"));
    };
    reject_foreign_fields(object)?;
    let request = VideoRequest::deserialize(&value).map_err(RequestError::invalid_json)?;

    let hash = parse_hash(request.source.hash.trim())?;
    if request.source.key.trim().is_empty() {
        return Err(RequestError::new("source.key is required"));
    }
    let source = parse_source(&request.source.key)?;
    let callback_url = validate_callback_url(request.delivery.and_then(|delivery| delivery.callback_url).as_deref())?;
    let options = match request.pipeline {
        None => JobOptions::Full(FullOptions::default()),
        Some(pipeline) => options_from_pipeline(pipeline)?,
    };
    Ok(JobSpec { hash, source, options, callback_url })
}

fn reject_foreign_fields(object: &Map<String, Value>) -> Result<(), RequestError> {
    if let Some(field) = LEGACY_FIELDS.iter().find(|field| object.contains_key(**field)) {
        return Err(RequestError::new(format!(
            "video create requests must use the /api/video/jobs contract (source, pipeline, delivery); field {field:?} is not accepted"
        )));
    }
    let Some(Value::Object(pipeline)) = object.get("pipeline") else {
        return Ok(());
    };
    if pipeline.contains_key("transcode") {
        return Err(RequestError::new(
            "pipeline.transcode is not part of the public contract; use pipeline.package.hls",
        ));
    }
    if let Some(stage) = NON_VIDEO_STAGES.iter().find(|stage| pipeline.contains_key(**stage)) {
        return Err(RequestError::new(format!("pipeline.{stage} is not supported for video jobs")));
    }
    Ok(())
}

fn options_from_pipeline(pipeline: Pipeline) -> Result<JobOptions, RequestError> {
    let cover = pipeline.cover.filter(|stage| stage.enabled).map(|stage| CoverOptions {
        timestamp_sec: stage.timestamp_sec,
    });
    let preview = pipeline.preview.filter(|stage| stage.enabled).map(|stage| PreviewOptions {
        start_sec: stage.start_sec,
        duration: stage.duration,
        width: stage.width,
        fps: stage.fps,
        format: stage.format,
    });
    let hls = pipeline.package.and_then(|package| package.hls).filter(|hls| hls.enabled);
    if let Some(hls) = &hls {
        if !hls.profile.is_empty() && hls.profile != VIDEO_HLS_PROFILE {
            return Err(RequestError::new(format!(
                "unsupported pipeline.package.hls.profile {:?} (expected {VIDEO_HLS_PROFILE:?})",
                hls.profile
            )));
        }
    }
    let transcode = hls.map(|hls| TranscodeOptions {
        encrypt: hls.encryption.is_some_and(|encryption| encryption.enabled),
    });

    let invalid = |detail: String| RequestError::new(format!("invalid options: {detail}"));
    let options = match (cover, preview, transcode) {
        (None, None, None) => return Err(RequestError::new("no deliverables enabled")),
        (Some(cover), None, None) => {
            cover.validate().map_err(invalid)?;
            JobOptions::Cover(cover.canonicalize())
        }
        (None, Some(preview), None) => {
            preview.validate().map_err(invalid)?;
            JobOptions::Preview(preview.canonicalize())
        }
        (None, None, Some(transcode)) => JobOptions::Transcode(transcode),
        (Some(cover), Some(preview), Some(transcode)) => {
            let full = FullOptions { cover: Some(cover), preview: Some(preview), transcode: Some(transcode) };
            full.validate().map_err(invalid)?;
            JobOptions::Full(full.canonicalize())
        }
        _ => {
            return Err(RequestError::new(
                "supported combinations are cover only, preview only, package.hls only, or cover+preview+package.hls",
            ))
        }
    };
    Ok(options)
}

fn parse_hash(text: &str) -> Result<MediaHash, RequestError> {
    if text.trim().is_empty() {
        return Err(RequestError::new("hash is required"));
    }
    MediaHash::parse(text).map_err(|error| RequestError::new(error.to_string()))
}

fn parse_source(text: &str) -> Result<ObjectKey, RequestError> {
    if text.trim().is_empty() {
        return Err(RequestError::new("source is required"));
    }
    ObjectKey::parse(text).map_err(|error| RequestError::new(format!("invalid source: {error}")))
}

/// Checks a callback URL: empty means none; otherwise an absolute `http` or `https` URL with a host.
pub fn validate_callback_url(url: Option<&str>) -> Result<Option<String>, RequestError> {
    let Some(text) = url.map(str::trim).filter(|text| !text.is_empty()) else {
        return Ok(None);
    };
    let lower = text.to_ascii_lowercase();
    if !lower.starts_with("http://") && !lower.starts_with("https://") {
        return Err(RequestError::new("callback_url must use http:// or https://"));
    }
    // The WHATWG parser reads `https:///x` as host `x`, so an empty authority is caught here first.
    let authority = text.split_once("://").map(|(_, rest)| rest).unwrap_or_default();
    if authority.is_empty() || authority.starts_with(['/', '?', '#']) {
        return Err(RequestError::new("callback_url must include a host"));
    }
    let parsed = url::Url::parse(text);
    match parsed {
        Ok(parsed) if parsed.host_str().is_some_and(|host| !host.is_empty()) => Ok(Some(text.to_owned())),
        Ok(_) | Err(url::ParseError::EmptyHost) => Err(RequestError::new("callback_url must include a host")),
        Err(_) => Err(RequestError::new("callback_url must be a valid URL")),
    }
}
