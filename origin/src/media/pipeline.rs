//! Building blocks shared by the cover, preview and HLS pipelines: element creation, the decoding
//! source, and a bus loop that maps GStreamer errors to [`MediaError`].

use std::path::Path;
use std::time::{Duration, Instant};

use gst::prelude::*;

use super::error::{ErrorCode, MediaError};
use super::probe::Orientation;

/// How long a pipeline may go without its position advancing before it is stopped.
pub(crate) const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(120);

/// Interval between position checks in [`run_to_eos`].
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Creates an element, failing with [`ErrorCode::MissingElement`] when its factory is absent.
pub(crate) fn make(factory: &str) -> Result<gst::Element, MediaError> {
    gst::ElementFactory::make(factory).build().map_err(|_| {
        MediaError::new(ErrorCode::MissingElement, format!("GStreamer element {factory:?} is not installed"))
    })
}

/// Returns the `file://` URI of a local path.
pub(crate) fn file_uri(path: &Path) -> Result<String, MediaError> {
    let absolute = std::path::absolute(path).map_err(|error| {
        MediaError::new(ErrorCode::SourceNotFound, format!("invalid source path {}: {error}", path.display()))
    })?;
    gst::glib::filename_to_uri(&absolute, None).map(|uri| uri.to_string()).map_err(|error| {
        MediaError::new(ErrorCode::SourceNotFound, format!("invalid source path {}: {error}", path.display()))
    })
}

/// Fails with [`ErrorCode::SourceNotFound`] unless `path` is a readable file.
pub(crate) fn check_source(path: &Path) -> Result<(), MediaError> {
    match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_file() => Ok(()),
        Ok(_) => Err(MediaError::new(ErrorCode::SourceNotFound, format!("source {} is not a file", path.display()))),
        Err(error) => Err(MediaError::new(
            ErrorCode::SourceNotFound,
            format!("source {} cannot be read: {error}", path.display()),
        )),
    }
}

/// The way the demuxer reads the source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SourceAccess {
    /// The demuxer reads where it wants (pull mode). Right for almost every file.
    #[default]
    Random,
    /// The file is pushed to the demuxer from start to end, through `pushfilesrc`.
    ///
    /// GStreamer 1.22's `qtdemux` in pull mode outputs only the first sample of a track whose
    /// edit list starts after its only keyframe. Apple's tools write such tracks when they cut
    /// a 0.1 s clip from a longer recording. In push mode `qtdemux` outputs every sample.
    Sequential,
}

/// Creates a `uridecodebin` for `path` that exposes only decoded streams whose caps match `caps`.
///
/// `caps` must name the `(ANY)` feature, as in `video/x-raw(ANY)`: without it `uridecodebin`
/// reports a missing decoder for streams that only decode to other memory types.
pub(crate) fn decode_bin(path: &Path, caps: &str, access: SourceAccess) -> Result<gst::Element, MediaError> {
    let decode = make("uridecodebin")?;
    let uri = file_uri(path)?;
    let uri = match access {
        SourceAccess::Random => uri,
        SourceAccess::Sequential => format!("push{uri}"),
    };
    decode.set_property("uri", uri);
    let caps: gst::Caps = caps.parse().map_err(|_| MediaError::pipeline(format!("invalid caps {caps:?}")))?;
    decode.set_property("caps", caps);
    decode.set_property("expose-all-streams", false);
    // With direct rendering, libav decodes into buffers it keeps as reference frames, so GStreamer's
    // decoder base class copies every frame on its way out. Without it, the decoder makes that one
    // copy itself into buffers that only the pipeline holds, so upright frames need no further copy
    // (see upright_flip).
    if let Some(bin) = decode.downcast_ref::<gst::Bin>() {
        bin.connect_deep_element_added(|_, _, element| {
            if element.find_property("direct-rendering").is_some() {
                element.set_property("direct-rendering", false);
            }
        });
    }
    Ok(decode)
}

/// Links the first decoded video pad of `decode` to `video_sink` and the first audio pad to
/// `audio_sink`; every further pad goes to a `fakesink` so that it cannot stop the demuxer with
/// a not-linked flow.
pub(crate) fn link_decoded_pads(
    decode: &gst::Element,
    pipeline: &gst::Pipeline,
    video_sink: Option<gst::Pad>,
    audio_sink: Option<gst::Pad>,
) {
    let pipeline_weak = pipeline.downgrade();
    decode.connect_pad_added(move |_, pad| {
        let Some(pipeline) = pipeline_weak.upgrade() else {
            return;
        };
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let name = caps.structure(0).map(|structure| structure.name().as_str()).unwrap_or_default();
        let target = if name.starts_with("video/") {
            video_sink.as_ref()
        } else if name.starts_with("audio/") {
            audio_sink.as_ref()
        } else {
            None
        };
        if let Some(sink) = target.filter(|sink| !sink.is_linked()) {
            if let Err(error) = pad.link(sink) {
                gst::glib::g_warning!("vylux", "failed to link decoded {name} pad: {error:?}");
            }
            return;
        }
        if let Ok(fakesink) = gst::ElementFactory::make("fakesink").property("sync", false).build() {
            if pipeline.add(&fakesink).is_ok() {
                let _ = fakesink.sync_state_with_parent();
                if let Some(sink) = fakesink.static_pad("sink") {
                    let _ = pad.link(&sink);
                }
            }
        }
    });
}

/// Creates a `videoflip` that turns frames of the given orientation upright, or an `identity` when
/// they are upright already, because videoflip copies every frame even when it has nothing to turn.
///
/// The element also strips the `image-orientation` tag from the events it passes on. Otherwise
/// muxers downstream (`cmafmux` writes it as the track's display matrix) would tell players to
/// rotate frames that are already upright, and a 180° source would play upside down.
pub(crate) fn upright_flip(orientation: Orientation) -> Result<gst::Element, MediaError> {
    let flip = match orientation {
        Orientation::Rotate0 => make("identity")?,
        _ => {
            let flip = make("videoflip")?;
            flip.set_property_from_str("video-direction", orientation.flip_method());
            flip
        }
    };
    let src = flip.static_pad("src").ok_or_else(|| MediaError::pipeline("the upright flip has no src pad"))?;
    src.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, |_, info| {
        let replacement = match &info.data {
            Some(gst::PadProbeData::Event(event)) => match event.view() {
                gst::EventView::Tag(tag) if tag.tag().get::<gst::tags::ImageOrientation>().is_some() => {
                    let mut tags = tag.tag_owned();
                    tags.make_mut().remove::<gst::tags::ImageOrientation>();
                    Some(gst::event::Tag::new(tags))
                }
                _ => None,
            },
            _ => None,
        };
        if let Some(event) = replacement {
            info.data = Some(gst::PadProbeData::Event(event));
        }
        gst::PadProbeReturn::Ok
    });
    Ok(flip)
}

/// Returns the stream time of a sample's buffer: its position in the source as a player shows it,
/// which differs from the buffer timestamp when the container has an edit list.
pub(crate) fn stream_time(sample: &gst::Sample) -> Option<gst::ClockTime> {
    let pts = sample.buffer()?.pts()?;
    match sample.segment().and_then(|segment| segment.downcast_ref::<gst::ClockTime>()) {
        Some(segment) => segment.to_stream_time(pts),
        None => Some(pts),
    }
}

/// Creates a `capsfilter` with the given caps.
pub(crate) fn caps_filter(caps: gst::Caps) -> Result<gst::Element, MediaError> {
    let filter = make("capsfilter")?;
    filter.set_property("caps", caps);
    Ok(filter)
}

/// Maps an error message from the bus to a [`MediaError`], naming the element that raised it.
pub(crate) fn bus_error(message: &gst::message::Error) -> MediaError {
    let error = message.error();
    let source = message.src().map(|source| source.path_string().to_string()).unwrap_or_default();
    let code = if error.matches(gst::CoreError::MissingPlugin) || error.matches(gst::StreamError::CodecNotFound) {
        ErrorCode::UnsupportedCodec
    } else if error.matches(gst::StreamError::Decode)
        || error.matches(gst::StreamError::Demux)
        || error.matches(gst::StreamError::Format)
        || error.matches(gst::StreamError::TypeNotFound)
        || error.matches(gst::StreamError::WrongType)
    {
        ErrorCode::DamagedSource
    } else if error.matches(gst::ResourceError::NotFound) || error.matches(gst::ResourceError::OpenRead) {
        ErrorCode::SourceNotFound
    } else if error.matches(gst::ResourceError::Write)
        || error.matches(gst::ResourceError::OpenWrite)
        || error.matches(gst::ResourceError::NoSpaceLeft)
    {
        ErrorCode::OutputFailed
    } else {
        ErrorCode::PipelineFailed
    };
    let mut text = format!("{source}: {error}");
    if let Some(debug) = message.debug() {
        let debug = debug.as_str();
        let first_line = debug.lines().last().unwrap_or(debug);
        text.push_str(&format!(" ({first_line})"));
    }
    MediaError::new(code, text)
}

/// Plays `pipeline` until end of stream, calling `on_position` with the position that `position`
/// returns on every poll, and stops it on an error or when the position has not moved for
/// `stall_timeout`.
///
/// The pipeline is left in the `Null` state whatever the outcome.
pub(crate) fn run_to_eos(
    pipeline: &gst::Pipeline,
    stall_timeout: Duration,
    position: &dyn Fn() -> Option<gst::ClockTime>,
    mut on_position: impl FnMut(gst::ClockTime),
) -> Result<(), MediaError> {
    let result = play_until_eos(pipeline, stall_timeout, position, &mut on_position);
    let _ = pipeline.set_state(gst::State::Null);
    result
}

fn play_until_eos(
    pipeline: &gst::Pipeline,
    stall_timeout: Duration,
    position_of: &dyn Fn() -> Option<gst::ClockTime>,
    on_position: &mut dyn FnMut(gst::ClockTime),
) -> Result<(), MediaError> {
    let bus = pipeline.bus().expect("a pipeline has a bus");
    if pipeline.set_state(gst::State::Playing).is_err() {
        return Err(first_bus_error(&bus).unwrap_or_else(|| MediaError::pipeline("pipeline failed to start")));
    }

    let mut last_position = None;
    let mut last_progress = Instant::now();
    loop {
        let message = bus.timed_pop_filtered(
            gst::ClockTime::from_nseconds(POLL_INTERVAL.as_nanos() as u64),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
        match message.as_ref().map(|message| message.view()) {
            Some(gst::MessageView::Eos(_)) => return Ok(()),
            Some(gst::MessageView::Error(error)) => return Err(bus_error(error)),
            _ => {}
        }

        let position = position_of();
        if position.is_some() && position != last_position {
            last_position = position;
            last_progress = Instant::now();
            on_position(position.unwrap_or_default());
        } else if last_progress.elapsed() > stall_timeout {
            return Err(MediaError::new(
                ErrorCode::TimedOut,
                format!("pipeline made no progress for {} s", stall_timeout.as_secs()),
            ));
        }
    }
}

/// Returns the first error message waiting on `bus`, if any.
pub(crate) fn first_bus_error(bus: &gst::Bus) -> Option<MediaError> {
    while let Some(message) = bus.pop_filtered(&[gst::MessageType::Error]) {
        if let gst::MessageView::Error(error) = message.view() {
            return Some(bus_error(error));
        }
    }
    None
}

/// Waits for an asynchronous state change to finish, returning the first bus error if it fails.
pub(crate) fn wait_for_state(pipeline: &gst::Pipeline, timeout: Duration) -> Result<(), MediaError> {
    let (result, _, _) = pipeline.state(gst::ClockTime::from_nseconds(timeout.as_nanos() as u64));
    match result {
        Ok(gst::StateChangeSuccess::Async) => Err(MediaError::new(
            ErrorCode::TimedOut,
            format!("pipeline did not preroll within {} s", timeout.as_secs()),
        )),
        Ok(_) => Ok(()),
        Err(_) => {
            let bus = pipeline.bus().expect("a pipeline has a bus");
            Err(first_bus_error(&bus).unwrap_or_else(|| MediaError::pipeline("pipeline failed to preroll")))
        }
    }
}
