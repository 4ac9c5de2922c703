//! The error type of every media function.

use std::fmt;

/// Category of a media failure, stable enough for callers to branch on and to show in job results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The source file does not exist or cannot be read.
    SourceNotFound,
    /// The source is truncated, corrupt or in no container GStreamer recognises.
    DamagedSource,
    /// The source's video codec has no decoder here.
    UnsupportedCodec,
    /// The source has no video stream (an audio file, for example).
    NoVideoStream,
    /// The source is a still image, not a video.
    StillImage,
    /// A GStreamer element the pipeline needs is not installed.
    MissingElement,
    /// An option is outside what the pipeline can produce.
    InvalidOptions,
    /// The pipeline failed while decoding, encoding or muxing.
    PipelineFailed,
    /// The pipeline made no progress for too long.
    TimedOut,
    /// An output file could not be written.
    OutputFailed,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SourceNotFound => "source_not_found",
            Self::DamagedSource => "damaged_source",
            Self::UnsupportedCodec => "unsupported_codec",
            Self::NoVideoStream => "no_video_stream",
            Self::StillImage => "still_image",
            Self::MissingElement => "missing_element",
            Self::InvalidOptions => "invalid_options",
            Self::PipelineFailed => "pipeline_failed",
            Self::TimedOut => "timed_out",
            Self::OutputFailed => "output_failed",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A media failure: a [`ErrorCode`] for callers and a message naming the cause for people.
///
/// Messages never contain key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct MediaError {
    pub code: ErrorCode,
    pub message: String,
}

impl MediaError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    pub(crate) fn pipeline(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::PipelineFailed, message)
    }

    pub(crate) fn output(path: &std::path::Path, error: std::io::Error) -> Self {
        Self::new(ErrorCode::OutputFailed, format!("failed to write {}: {error}", path.display()))
    }
}

impl From<gst::glib::BoolError> for MediaError {
    fn from(error: gst::glib::BoolError) -> Self {
        Self::pipeline(error.to_string())
    }
}

impl From<gst::StateChangeError> for MediaError {
    fn from(_: gst::StateChangeError) -> Self {
        Self::pipeline("pipeline state change failed")
    }
}
