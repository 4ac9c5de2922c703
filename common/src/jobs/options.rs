//! Per-type job options in their canonical internal form, with validation and defaults.

use serde::{Deserialize, Serialize};

use crate::image::ImageFormat;
use crate::layout::PreviewFormat;

/// Cover frame time used when none is given, in seconds.
pub const DEFAULT_COVER_TIMESTAMP_SEC: f64 = 1.0;
/// Preview start used when none is given, in seconds, for both `video:preview` and `video:full`.
pub const DEFAULT_PREVIEW_START_SEC: f64 = 2.0;
/// Preview length used when none is given, in seconds.
pub const DEFAULT_PREVIEW_DURATION_SEC: f64 = 3.0;
/// Preview width used when none is given, in pixels; the height follows the aspect ratio.
pub const DEFAULT_PREVIEW_WIDTH: u32 = 480;
/// Preview frame rate used when none is given.
pub const DEFAULT_PREVIEW_FPS: u32 = 10;

/// Latest cover time or preview start accepted, in seconds (24 hours).
pub const MAX_TIMESTAMP_SEC: f64 = 86_400.0;
/// Maximum preview length, in seconds.
pub const MAX_PREVIEW_DURATION_SEC: f64 = 30.0;
/// Preview width range, in pixels.
pub const PREVIEW_WIDTH_RANGE: std::ops::RangeInclusive<u32> = 16..=1920;
/// Preview frame-rate range.
pub const PREVIEW_FPS_RANGE: std::ops::RangeInclusive<u32> = 1..=30;
/// Largest thumbnail width or height, in pixels.
pub const MAX_THUMBNAIL_DIMENSION: u32 = 8192;
/// Most outputs one `image:thumbnail` job may ask for.
pub const MAX_THUMBNAIL_OUTPUTS: usize = 16;

fn is_false(value: &bool) -> bool {
    !*value
}

/// One output of an `image:thumbnail` job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThumbnailOutput {
    pub variant: String,
    pub width: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    pub format: String,
}

/// Options of `image:thumbnail`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThumbnailOptions {
    #[serde(default)]
    pub outputs: Vec<ThumbnailOutput>,
}

/// Options of `video:cover`, and the cover stage of `video:full`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_sec: Option<f64>,
}

/// Options of `video:preview`, and the preview stage of `video:full`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_sec: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<PreviewFormat>,
}

/// Options of `video:transcode`, and the transcode stage of `video:full`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranscodeOptions {
    #[serde(default, skip_serializing_if = "is_false")]
    pub encrypt: bool,
}

/// Options of `video:full`: one object per stage, each optional.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FullOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cover: Option<CoverOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<PreviewOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcode: Option<TranscodeOptions>,
}

/// Preview settings with every default filled in, as the pipeline uses them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreviewSettings {
    pub start_sec: f64,
    pub duration_sec: f64,
    pub width: u32,
    pub fps: u32,
    pub format: PreviewFormat,
}

impl CoverOptions {
    pub fn validate(&self) -> Result<(), String> {
        if let Some(timestamp) = self.timestamp_sec {
            if !timestamp.is_finite() || !(0.0..=MAX_TIMESTAMP_SEC).contains(&timestamp) {
                return Err(format!(
                    "timestamp_sec must be a number of seconds between 0 and {MAX_TIMESTAMP_SEC}, got {timestamp}"
                ));
            }
        }
        Ok(())
    }

    /// Drops a zero timestamp, which means "use the default", so equal requests fingerprint alike.
    pub fn canonicalize(mut self) -> Self {
        if self.timestamp_sec == Some(0.0) {
            self.timestamp_sec = None;
        }
        self
    }

    pub fn timestamp_or_default(&self) -> f64 {
        self.timestamp_sec.unwrap_or(DEFAULT_COVER_TIMESTAMP_SEC)
    }

    pub fn is_empty(&self) -> bool {
        self.timestamp_sec.is_none()
    }
}

impl PreviewOptions {
    pub fn validate(&self) -> Result<(), String> {
        if let Some(start) = self.start_sec {
            if !start.is_finite() || !(0.0..=MAX_TIMESTAMP_SEC).contains(&start) {
                return Err(format!(
                    "preview start_sec must be a number of seconds between 0 and {MAX_TIMESTAMP_SEC}, got {start}"
                ));
            }
        }
        if let Some(duration) = self.duration {
            if !duration.is_finite() || !(0.0..=MAX_PREVIEW_DURATION_SEC).contains(&duration) {
                return Err(format!(
                    "preview duration must be between 0 and {MAX_PREVIEW_DURATION_SEC} seconds, got {duration}"
                ));
            }
        }
        if let Some(width) = self.width {
            if width != 0 && !PREVIEW_WIDTH_RANGE.contains(&width) {
                return Err(format!(
                    "preview width must be between {} and {} pixels, got {width}",
                    PREVIEW_WIDTH_RANGE.start(),
                    PREVIEW_WIDTH_RANGE.end()
                ));
            }
        }
        if let Some(fps) = self.fps {
            if fps != 0 && !PREVIEW_FPS_RANGE.contains(&fps) {
                return Err(format!(
                    "preview fps must be between {} and {}, got {fps}",
                    PREVIEW_FPS_RANGE.start(),
                    PREVIEW_FPS_RANGE.end()
                ));
            }
        }
        Ok(())
    }

    /// Drops zero values, which mean "use the default".
    pub fn canonicalize(mut self) -> Self {
        if self.start_sec == Some(0.0) {
            self.start_sec = None;
        }
        if self.duration == Some(0.0) {
            self.duration = None;
        }
        if self.width == Some(0) {
            self.width = None;
        }
        if self.fps == Some(0) {
            self.fps = None;
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    pub fn settings(&self) -> PreviewSettings {
        PreviewSettings {
            start_sec: self.start_sec.unwrap_or(DEFAULT_PREVIEW_START_SEC),
            duration_sec: self.duration.unwrap_or(DEFAULT_PREVIEW_DURATION_SEC),
            width: self.width.unwrap_or(DEFAULT_PREVIEW_WIDTH),
            fps: self.fps.unwrap_or(DEFAULT_PREVIEW_FPS),
            format: self.format.unwrap_or_default(),
        }
    }
}

impl ThumbnailOptions {
    /// Checks every output and returns the canonical form: the default output when none is given,
    /// and `jpeg` spelled `jpg`.
    pub fn canonicalize(self) -> Result<Self, String> {
        if self.outputs.is_empty() {
            return Ok(Self {
                outputs: vec![ThumbnailOutput {
                    variant: "thumb".to_owned(),
                    width: 300,
                    height: None,
                    format: "webp".to_owned(),
                }],
            });
        }
        if self.outputs.len() > MAX_THUMBNAIL_OUTPUTS {
            return Err(format!("at most {MAX_THUMBNAIL_OUTPUTS} outputs are allowed, got {}", self.outputs.len()));
        }
        let mut outputs = Vec::with_capacity(self.outputs.len());
        for output in self.outputs {
            let valid_variant = !output.variant.is_empty()
                && output.variant.len() <= 64
                && output.variant.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
            if !valid_variant {
                return Err(format!(
                    "output variant {:?} must be 1 to 64 characters from A-Z, a-z, 0-9, '-' and '_'",
                    output.variant
                ));
            }
            if output.width == 0 || output.width > MAX_THUMBNAIL_DIMENSION {
                return Err(format!(
                    "output {:?} width must be between 1 and {MAX_THUMBNAIL_DIMENSION}, got {}",
                    output.variant, output.width
                ));
            }
            if output.height.is_some_and(|height| height > MAX_THUMBNAIL_DIMENSION) {
                return Err(format!("output {:?} height must be at most {MAX_THUMBNAIL_DIMENSION}", output.variant));
            }
            let format: ImageFormat = output
                .format
                .parse()
                .map_err(|_| format!("output {:?} has unsupported format {:?}", output.variant, output.format))?;
            if outputs.iter().any(|existing: &ThumbnailOutput| existing.variant == output.variant) {
                return Err(format!("output variant {:?} appears twice", output.variant));
            }
            outputs.push(ThumbnailOutput {
                variant: output.variant,
                width: output.width,
                height: output.height.filter(|height| *height > 0),
                format: format.extension().to_owned(),
            });
        }
        Ok(Self { outputs })
    }
}

impl FullOptions {
    pub fn validate(&self) -> Result<(), String> {
        if let Some(cover) = &self.cover {
            cover.validate()?;
        }
        if let Some(preview) = &self.preview {
            preview.validate()?;
        }
        Ok(())
    }

    /// Canonicalizes each stage and drops stage objects left empty, so `transcode` with
    /// `encrypt: false` disappears.
    pub fn canonicalize(self) -> Self {
        Self {
            cover: self.cover.map(CoverOptions::canonicalize).filter(|cover| !cover.is_empty()),
            preview: self.preview.map(PreviewOptions::canonicalize).filter(|preview| !preview.is_empty()),
            transcode: self.transcode.filter(|transcode| transcode.encrypt),
        }
    }
}
