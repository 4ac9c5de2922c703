//! GStreamer initialisation and the check for required elements.

use std::sync::OnceLock;

use super::error::{ErrorCode, MediaError};

/// Elements the pipelines in this module create. Decoders are not listed because they depend on
/// the source: a source without a decoder fails with [`ErrorCode::UnsupportedCodec`].
pub const REQUIRED_ELEMENTS: &[&str] = &[
    "uridecodebin",
    "appsink",
    "appsrc",
    "queue",
    "tee",
    "capsfilter",
    "videoconvert",
    "videoscale",
    "videoflip",
    "videorate",
    "audioconvert",
    "audioresample",
    "jpegenc",
    "gifenc",
    "x264enc",
    "h264parse",
    "avenc_aac",
    "aacparse",
    "cmafmux",
];

static INIT: OnceLock<Result<(), MediaError>> = OnceLock::new();

/// Initialises GStreamer and registers the statically linked plugins (`cmafmux` from
/// gst-plugin-fmp4, `gifenc` from gst-plugin-gif). Safe to call any number of times from any
/// thread; only the first call does the work, and later calls return its result.
pub fn init() -> Result<(), MediaError> {
    INIT.get_or_init(|| {
        gst::init().map_err(|error| {
            MediaError::new(ErrorCode::MissingElement, format!("failed to initialise GStreamer: {error}"))
        })?;
        gstfmp4::plugin_register_static().map_err(|error| {
            MediaError::new(ErrorCode::MissingElement, format!("failed to register the fmp4 plugin: {error}"))
        })?;
        gstgif::plugin_register_static().map_err(|error| {
            MediaError::new(ErrorCode::MissingElement, format!("failed to register the gif plugin: {error}"))
        })?;
        Ok(())
    })
    .clone()
}

/// Lists the [`REQUIRED_ELEMENTS`] that are not available; all of them when GStreamer itself
/// fails to initialise. An empty list means every pipeline of this module can be built.
pub fn missing_elements() -> Vec<String> {
    if init().is_err() {
        return REQUIRED_ELEMENTS.iter().map(|name| (*name).to_owned()).collect();
    }
    REQUIRED_ELEMENTS
        .iter()
        .filter(|name| gst::ElementFactory::find(name).is_none())
        .map(|name| (*name).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_is_idempotent() {
        assert_eq!(init(), Ok(()));
        assert_eq!(init(), Ok(()));
    }

    #[test]
    fn static_plugins_are_registered() {
        init().unwrap();
        assert!(gst::ElementFactory::find("cmafmux").is_some());
        assert!(gst::ElementFactory::find("gifenc").is_some());
    }
}
