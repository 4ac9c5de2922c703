//! Job contracts: request decoding, canonical internal jobs, fingerprints, and the status, result
//! and webhook types.

mod options;
mod request;
mod response;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::key::ObjectKey;
use crate::layout::MediaHash;

pub use options::*;
pub use request::{parse_legacy_request, parse_video_request, RequestError};
pub use response::*;

/// Internal job type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobType {
    #[serde(rename = "image:thumbnail")]
    ImageThumbnail,
    #[serde(rename = "video:cover")]
    VideoCover,
    #[serde(rename = "video:preview")]
    VideoPreview,
    #[serde(rename = "video:transcode")]
    VideoTranscode,
    #[serde(rename = "video:full")]
    VideoFull,
}

impl JobType {
    pub const ALL: [JobType; 5] =
        [Self::ImageThumbnail, Self::VideoCover, Self::VideoPreview, Self::VideoTranscode, Self::VideoFull];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ImageThumbnail => "image:thumbnail",
            Self::VideoCover => "video:cover",
            Self::VideoPreview => "video:preview",
            Self::VideoTranscode => "video:transcode",
            Self::VideoFull => "video:full",
        }
    }
}

impl fmt::Display for JobType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobType {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|job_type| job_type.as_str() == text)
            .ok_or_else(|| format!("unsupported job type: {text:?}"))
    }
}

/// Job status. `cancelled` is reserved: cleanup deletes jobs instead of cancelling them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Processing,
    Completed,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Whether a job in this status is the one an identical request reuses.
    pub fn is_active(self) -> bool {
        !matches!(self, Self::Failed | Self::Cancelled)
    }
}

impl FromStr for JobStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(Value::String(text.to_owned())).map_err(|_| format!("unknown job status {text:?}"))
    }
}

/// Webhook delivery status of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackStatus {
    Pending,
    Sent,
    CallbackFailed,
}

impl CallbackStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::CallbackFailed => "callback_failed",
        }
    }
}

impl FromStr for CallbackStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(Value::String(text.to_owned()))
            .map_err(|_| format!("unknown callback status {text:?}"))
    }
}

/// Canonical options of one job, by type.
#[derive(Debug, Clone, PartialEq)]
pub enum JobOptions {
    Thumbnail(ThumbnailOptions),
    Cover(CoverOptions),
    Preview(PreviewOptions),
    Transcode(TranscodeOptions),
    Full(FullOptions),
}

impl JobOptions {
    pub fn job_type(&self) -> JobType {
        match self {
            Self::Thumbnail(_) => JobType::ImageThumbnail,
            Self::Cover(_) => JobType::VideoCover,
            Self::Preview(_) => JobType::VideoPreview,
            Self::Transcode(_) => JobType::VideoTranscode,
            Self::Full(_) => JobType::VideoFull,
        }
    }

    /// Returns the options as stored and fingerprinted; zero-valued fields are omitted.
    pub fn to_json(&self) -> Value {
        let value = match self {
            Self::Thumbnail(options) => serde_json::to_value(options),
            Self::Cover(options) => serde_json::to_value(options),
            Self::Preview(options) => serde_json::to_value(options),
            Self::Transcode(options) => serde_json::to_value(options),
            Self::Full(options) => serde_json::to_value(options),
        };
        value.expect("option structs always serialize")
    }

    /// Decodes and canonicalizes stored or requested options for `job_type`, rejecting unknown
    /// fields and out-of-range values. A missing or `null` value means "all defaults".
    pub fn from_json(job_type: JobType, value: Option<&Value>) -> Result<Self, String> {
        let empty = Value::Object(Default::default());
        let value = match value {
            None | Some(Value::Null) => &empty,
            Some(value) => value,
        };
        fn decode<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, String> {
            T::deserialize(value).map_err(|error| error.to_string())
        }
        let options = match job_type {
            JobType::ImageThumbnail => Self::Thumbnail(decode::<ThumbnailOptions>(value)?.canonicalize()?),
            JobType::VideoCover => {
                let cover: CoverOptions = decode(value)?;
                cover.validate()?;
                Self::Cover(cover.canonicalize())
            }
            JobType::VideoPreview => {
                let preview: PreviewOptions = decode(value)?;
                preview.validate()?;
                Self::Preview(preview.canonicalize())
            }
            JobType::VideoTranscode => Self::Transcode(decode(value)?),
            JobType::VideoFull => {
                let full: FullOptions = decode(value)?;
                full.validate()?;
                Self::Full(full.canonicalize())
            }
        };
        Ok(options)
    }
}

/// A validated job in canonical internal form, whichever route created it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    pub hash: MediaHash,
    pub source: ObjectKey,
    pub options: JobOptions,
    pub callback_url: Option<String>,
}

impl JobSpec {
    pub fn job_type(&self) -> JobType {
        self.options.job_type()
    }

    /// Returns the idempotency fingerprint: hex SHA-256 of the compact JSON object
    /// `{"type","hash","source","options"}` with option keys sorted. The callback URL is not part of it.
    pub fn fingerprint(&self) -> String {
        let mut text = String::new();
        text.push_str("{\"type\":");
        write_canonical_json(&Value::String(self.job_type().as_str().to_owned()), &mut text);
        text.push_str(",\"hash\":");
        write_canonical_json(&Value::String(self.hash.as_str().to_owned()), &mut text);
        text.push_str(",\"source\":");
        write_canonical_json(&Value::String(self.source.as_str().to_owned()), &mut text);
        text.push_str(",\"options\":");
        write_canonical_json(&self.options.to_json(), &mut text);
        text.push('}');
        hex::encode(Sha256::digest(text.as_bytes()))
    }
}

/// Writes compact JSON with object keys sorted at every level and integral floats printed without
/// a fraction (`2.0` as `2`), the way Go's encoder prints a `float64`.
fn write_canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|left, right| left.0.cmp(right.0));
            out.push('{');
            for (index, (key, value)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical_json(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical_json(item, out);
            }
            out.push(']');
        }
        Value::Number(number) => match number.as_f64() {
            Some(float) if number.is_f64() && float.fract() == 0.0 && float.abs() < 1e15 => {
                out.push_str(&(float as i64).to_string())
            }
            _ => out.push_str(&number.to_string()),
        },
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn canonical_json_sorts_and_prints_go_floats() {
        let value = serde_json::json!({"b": 2.0, "a": {"d": 3.5, "c": [1, true, null]}});
        let mut text = String::new();
        write_canonical_json(&value, &mut text);
        assert_eq!(text, r#"{"a":{"c":[1,true,null],"d":3.5},"b":2}"#);
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn job_type_round_trip() {
        for job_type in JobType::ALL {
            assert_eq!(job_type.as_str().parse::<JobType>().unwrap(), job_type);
        }
        assert_eq!("video:bogus".parse::<JobType>().unwrap_err(), "unsupported job type: \"video:bogus\"");
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn full_options_drop_empty_stages() {
        let value = serde_json::json!({"cover": {}, "preview": {}, "transcode": {"encrypt": false}});
        let options = JobOptions::from_json(JobType::VideoFull, Some(&value)).unwrap();
        assert_eq!(options.to_json(), serde_json::json!({}));
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn full_options_reject_flat_form() {
        let value = serde_json::json!({"timestamp_sec": 1});
        assert!(JobOptions::from_json(JobType::VideoFull, Some(&value)).is_err());
    }
}
