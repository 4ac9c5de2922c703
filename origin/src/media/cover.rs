//! `video:cover`: one upright frame of a video as a JPEG.

use std::path::Path;
use std::time::Duration;

use gst::prelude::*;
use vylux_common::jobs::CoverOptions;

use super::error::{ErrorCode, MediaError};
use super::pipeline::{
    caps_filter, decode_bin, link_decoded_pads, make, stream_time, upright_flip, wait_for_state, SourceAccess,
};
use super::probe::{probe, ProbeInfo};

/// JPEG quality of covers (0 to 100).
pub const DEFAULT_JPEG_QUALITY: i32 = 90;

/// How long one preroll or frame may take to decode before the cover fails.
const FRAME_TIMEOUT: Duration = Duration::from_secs(60);

/// How far before the stated end the search for the last frame starts.
const LAST_FRAME_WINDOW: Duration = Duration::from_secs(3);

/// Size of a written image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageOutput {
    pub width: u32,
    pub height: u32,
    /// File size in bytes.
    pub size: u64,
}

/// Writes the frame shown at `options.timestamp_sec` (default 1 s) of `src` to `out_path` as an
/// upright JPEG with square pixels.
///
/// The frame is the first one whose timestamp is at or after the requested time. When the time is
/// past the last frame (a 0.5 s clip with the default 1 s, for example), the last frame is used.
pub fn extract_cover(src: &Path, options: &CoverOptions, out_path: &Path) -> Result<ImageOutput, MediaError> {
    let info = probe(src)?;
    let seconds = options.timestamp_or_default();
    let timestamp = Duration::try_from_secs_f64(seconds).map_err(|_| {
        MediaError::new(super::ErrorCode::InvalidOptions, format!("cover time {seconds} s is not a valid duration"))
    })?;

    let frame = grab_frame(src, &info, timestamp)?;
    let jpeg = encode_jpeg(&frame, DEFAULT_JPEG_QUALITY)?;

    let video_info = frame_info(&frame)?;
    std::fs::write(out_path, &jpeg).map_err(|error| MediaError::output(out_path, error))?;
    Ok(ImageOutput { width: video_info.width(), height: video_info.height(), size: jpeg.len() as u64 })
}

/// Decodes the upright frame at `timestamp`, or the last frame when `timestamp` is past the end.
fn grab_frame(src: &Path, info: &ProbeInfo, timestamp: Duration) -> Result<gst::Sample, MediaError> {
    let (pipeline, appsink) = frame_pipeline(src, info)?;
    let result = seek_frame(&pipeline, &appsink, info, timestamp);
    let _ = pipeline.set_state(gst::State::Null);
    result
}

fn frame_pipeline(src: &Path, info: &ProbeInfo) -> Result<(gst::Pipeline, gst_app::AppSink), MediaError> {
    let pipeline = gst::Pipeline::new();
    let decode = decode_bin(src, "video/x-raw(ANY)", info.access)?;
    let convert = make("videoconvert")?;
    let flip = upright_flip(info.orientation)?;
    let scale = make("videoscale")?;
    // The probed display size, not the decoder's pixel aspect ratio, decides the shape, so that
    // covers, previews and renditions agree.
    let square = caps_filter(
        gst::Caps::builder("video/x-raw")
            .field("width", info.width as i32)
            .field("height", info.height as i32)
            .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
            .build(),
    )?;
    let appsink = gst_app::AppSink::builder().sync(false).max_buffers(2).build();

    pipeline.add_many([&decode, &convert, &flip, &scale, &square, appsink.upcast_ref()])?;
    gst::Element::link_many([&convert, &flip, &scale, &square, appsink.upcast_ref()])?;
    link_decoded_pads(&decode, &pipeline, convert.static_pad("sink"), None);
    Ok((pipeline, appsink))
}

fn seek_frame(
    pipeline: &gst::Pipeline,
    appsink: &gst_app::AppSink,
    info: &ProbeInfo,
    timestamp: Duration,
) -> Result<gst::Sample, MediaError> {
    let timeout = gst::ClockTime::from_nseconds(FRAME_TIMEOUT.as_nanos() as u64);
    let target = gst::ClockTime::from_nseconds(timestamp.as_nanos() as u64);
    pipeline.set_state(gst::State::Paused).map_err(|_| preroll_error(pipeline))?;
    wait_for_state(pipeline, FRAME_TIMEOUT)?;

    // An accurate seek prerolls the first frame at or after the target. Seeking a file that is
    // pushed to the demuxer loses its segment, so such a file is decoded from the start.
    let sequential = info.access == SourceAccess::Sequential;
    if !sequential && pipeline.seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE, target).is_ok() {
        wait_for_state(pipeline, FRAME_TIMEOUT)?;
        if let Some(sample) = appsink.try_pull_preroll(timeout) {
            return Ok(sample);
        }
    }

    // Past the end, or not seekable: decode up to the end and keep the last frame. Start a few
    // seconds before the stated end, and from the beginning if that finds nothing (a container
    // may state a duration longer than its video).
    let near_end = match sequential {
        true => Duration::ZERO,
        false => info.duration.map(|duration| duration.saturating_sub(LAST_FRAME_WINDOW)).unwrap_or_default(),
    };
    let mut starts = vec![near_end];
    if !near_end.is_zero() {
        starts.push(Duration::ZERO);
    }
    for start in starts {
        let start = gst::ClockTime::from_nseconds(start.as_nanos() as u64);
        let flags = gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT | gst::SeekFlags::SNAP_BEFORE;
        if !sequential && pipeline.seek_simple(flags, start).is_err() && !start.is_zero() {
            continue;
        }
        pipeline.set_state(gst::State::Playing).map_err(|_| preroll_error(pipeline))?;
        let mut last = None;
        while let Some(sample) = appsink.try_pull_sample(timeout) {
            let reached = stream_time(&sample).is_some_and(|time| time >= target);
            last = Some(sample);
            if reached {
                break;
            }
        }
        if let Some(sample) = last {
            return Ok(sample);
        }
        if let Some(error) = super::pipeline::first_bus_error(&pipeline.bus().expect("a pipeline has a bus")) {
            return Err(error);
        }
        pipeline.set_state(gst::State::Paused).map_err(|_| preroll_error(pipeline))?;
    }
    Err(MediaError::new(ErrorCode::DamagedSource, "no video frame could be decoded"))
}

fn preroll_error(pipeline: &gst::Pipeline) -> MediaError {
    let bus = pipeline.bus().expect("a pipeline has a bus");
    super::pipeline::first_bus_error(&bus).unwrap_or_else(|| MediaError::pipeline("pipeline failed to start"))
}

fn frame_info(sample: &gst::Sample) -> Result<gst_video::VideoInfo, MediaError> {
    let caps = sample.caps().ok_or_else(|| MediaError::pipeline("decoded frame has no caps"))?;
    gst_video::VideoInfo::from_caps(caps).map_err(|error| MediaError::pipeline(format!("decoded frame caps: {error}")))
}

/// Encodes one raw frame as a JPEG of the given quality.
fn encode_jpeg(frame: &gst::Sample, quality: i32) -> Result<Vec<u8>, MediaError> {
    let caps = frame.caps_owned().ok_or_else(|| MediaError::pipeline("decoded frame has no caps"))?;
    let buffer = frame.buffer_owned().ok_or_else(|| MediaError::pipeline("decoded frame has no data"))?;

    let pipeline = gst::Pipeline::new();
    let appsrc = gst_app::AppSrc::builder().caps(&caps).format(gst::Format::Time).build();
    // jpegenc writes YUV samples as they are, and JFIF means full range, so limited-range video
    // must be expanded first or the cover comes out washed out. Going through RGB makes
    // videoconvert apply the range; a direct I420 to I420 link passes the samples through.
    let to_rgb = make("videoconvert")?;
    let rgb = caps_filter(gst::Caps::builder("video/x-raw").field("format", "RGB").build())?;
    let to_yuv = make("videoconvert")?;
    let full_range_yuv = caps_filter(
        gst::Caps::builder("video/x-raw").field("format", "I420").field("colorimetry", "1:4:0:0").build(),
    )?;
    let encoder = make("jpegenc")?;
    encoder.set_property("quality", quality);
    let appsink = gst_app::AppSink::builder().sync(false).build();
    let chain = [appsrc.upcast_ref(), &to_rgb, &rgb, &to_yuv, &full_range_yuv, &encoder, appsink.upcast_ref()];
    pipeline.add_many(chain)?;
    gst::Element::link_many(chain)?;

    let result = (|| {
        pipeline.set_state(gst::State::Playing)?;
        let mut buffer = buffer;
        {
            let buffer = buffer.make_mut();
            buffer.set_pts(gst::ClockTime::ZERO);
            buffer.set_dts(gst::ClockTime::NONE);
        }
        appsrc.push_buffer(buffer).map_err(|flow| MediaError::pipeline(format!("JPEG encoder rejected the frame: {flow:?}")))?;
        appsrc.end_of_stream().map_err(|flow| MediaError::pipeline(format!("JPEG encoder failed: {flow:?}")))?;
        let timeout = gst::ClockTime::from_nseconds(FRAME_TIMEOUT.as_nanos() as u64);
        let sample = appsink.try_pull_sample(timeout).ok_or_else(|| {
            super::pipeline::first_bus_error(&pipeline.bus().expect("a pipeline has a bus"))
                .unwrap_or_else(|| MediaError::pipeline("JPEG encoder produced no image"))
        })?;
        let buffer = sample.buffer().ok_or_else(|| MediaError::pipeline("JPEG encoder produced no data"))?;
        let map = buffer.map_readable().map_err(|_| MediaError::pipeline("JPEG data cannot be read"))?;
        Ok(map.as_slice().to_vec())
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result
}
