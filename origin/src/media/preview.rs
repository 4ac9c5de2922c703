//! `video:preview`: a short, upright, looping animation of a video as WebP or GIF.

use std::path::Path;
use std::time::Duration;

use gst::prelude::*;
use vylux_common::jobs::PreviewSettings;
use vylux_common::layout::PreviewFormat;

use super::error::{ErrorCode, MediaError};
use super::pipeline::{
    caps_filter, decode_bin, first_bus_error, link_decoded_pads, make, stream_time, upright_flip, wait_for_state,
    SourceAccess,
};
use super::probe::probe;

/// Lossy WebP quality (0 to 100) of previews.
pub const DEFAULT_WEBP_QUALITY: f32 = 70.0;

/// libwebp compression effort (0 fastest to 6 smallest).
pub const DEFAULT_WEBP_METHOD: usize = 4;

/// How long one preview frame may take to decode or encode before the preview fails.
const FRAME_TIMEOUT: Duration = Duration::from_secs(60);

/// Size of a written preview.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreviewOutput {
    pub width: u32,
    pub height: u32,
    /// Number of frames in the animation.
    pub frames: u32,
    /// File size in bytes.
    pub size: u64,
}

/// Writes an animation of `settings.duration_sec` seconds of `src` from `settings.start_sec` to
/// `out_path`: upright, `settings.width` pixels wide with the height following the display aspect
/// ratio (rounded to an even number), at `settings.fps` frames per second, looping forever.
///
/// The window is clamped to the clip: it is shortened to the clip's length, and a start too late
/// for the whole window moves back (to 0 at the earliest). Animated WebP is encoded with libwebp's
/// animation encoder, GIF with `gifenc`.
pub fn make_preview(src: &Path, settings: &PreviewSettings, out_path: &Path) -> Result<PreviewOutput, MediaError> {
    check_settings(settings)?;
    let info = probe(src)?;

    let clip = info.duration.map(|duration| duration.as_secs_f64());
    let (start, duration) = clamp_window(settings.start_sec, settings.duration_sec, clip);
    let width = settings.width;
    let height = even_height(width, info.width, info.height);

    let mut encoder = FrameEncoder::new(settings.format, width, height, settings.fps)?;
    let mut frames = decode_frames(src, &info, width, height, settings.fps, start, duration, &mut encoder)?;
    if frames == 0 && start > 0.0 {
        // A source without a known duration (some MPEG-TS files) cannot be clamped in advance, so a
        // start past its end yields nothing. The preview then starts at the beginning instead.
        encoder = FrameEncoder::new(settings.format, width, height, settings.fps)?;
        frames = decode_frames(src, &info, width, height, settings.fps, 0.0, duration, &mut encoder)?;
    }
    if frames == 0 {
        return Err(MediaError::new(
            ErrorCode::DamagedSource,
            format!("no video frame could be decoded from {} after {start:.3} s", src.display()),
        ));
    }

    let bytes = encoder.finish(frames)?;
    std::fs::write(out_path, &bytes).map_err(|error| MediaError::output(out_path, error))?;
    Ok(PreviewOutput { width, height, frames, size: bytes.len() as u64 })
}

fn check_settings(settings: &PreviewSettings) -> Result<(), MediaError> {
    if settings.width < 2 || settings.fps == 0 {
        return Err(MediaError::new(
            ErrorCode::InvalidOptions,
            format!("preview width must be at least 2 and fps at least 1, got {} and {}", settings.width, settings.fps),
        ));
    }
    let window_valid = settings.start_sec.is_finite()
        && settings.start_sec >= 0.0
        && settings.duration_sec.is_finite()
        && settings.duration_sec > 0.0;
    if !window_valid {
        return Err(MediaError::new(
            ErrorCode::InvalidOptions,
            format!(
                "preview start must be >= 0 s and duration > 0 s, got {} and {}",
                settings.start_sec, settings.duration_sec
            ),
        ));
    }
    Ok(())
}

/// Fits the window `(start, duration)` into a clip of `clip` seconds: the duration is cut to the
/// clip's length and the start moves back so that the window ends by the clip's end.
pub(crate) fn clamp_window(start: f64, duration: f64, clip: Option<f64>) -> (f64, f64) {
    let Some(clip) = clip.filter(|clip| *clip > 0.0) else {
        return (start, duration);
    };
    let duration = duration.min(clip);
    let start = start.min(clip - duration).max(0.0);
    (start, duration)
}

/// Returns the even height that keeps the display aspect ratio at `width`, at least 2.
pub(crate) fn even_height(width: u32, display_width: u32, display_height: u32) -> u32 {
    let exact = f64::from(width) * f64::from(display_height) / f64::from(display_width);
    (((exact / 2.0).round() as u32) * 2).max(2)
}

/// Decodes the window as upright RGBA frames at a constant rate and hands each to `encoder`.
/// Returns the number of frames.
#[allow(clippy::too_many_arguments)]
fn decode_frames(
    src: &Path,
    info: &super::ProbeInfo,
    width: u32,
    height: u32,
    fps: u32,
    start: f64,
    duration: f64,
    encoder: &mut FrameEncoder,
) -> Result<u32, MediaError> {
    let pipeline = gst::Pipeline::new();
    let decode = decode_bin(src, "video/x-raw(ANY)", info.access)?;
    let convert = make("videoconvert")?;
    let flip = upright_flip(info.orientation)?;
    let scale = make("videoscale")?;
    let rate = make("videorate")?;
    let output = caps_filter(
        gst::Caps::builder("video/x-raw")
            .field("format", "RGBA")
            .field("width", width as i32)
            .field("height", height as i32)
            .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
            .field("framerate", gst::Fraction::new(fps as i32, 1))
            .build(),
    )?;
    let appsink = gst_app::AppSink::builder().sync(false).max_buffers(4).build();
    pipeline.add_many([&decode, &convert, &flip, &scale, &rate, &output, appsink.upcast_ref()])?;
    gst::Element::link_many([&convert, &flip, &scale, &rate, &output, appsink.upcast_ref()])?;
    link_decoded_pads(&decode, &pipeline, convert.static_pad("sink"), None);

    let result = (|| {
        pipeline.set_state(gst::State::Paused)?;
        wait_for_state(&pipeline, FRAME_TIMEOUT)?;

        let start_time = gst::ClockTime::from_nseconds((start * 1e9) as u64);
        let stop_time = gst::ClockTime::from_nseconds(((start + duration) * 1e9) as u64);
        // Seeking a file that is pushed to the demuxer loses its segment, so such a file is
        // read from the start.
        let seeked = info.access == SourceAccess::Random
            && pipeline
                .seek(
                    1.0,
                    gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE,
                    gst::SeekType::Set,
                    start_time,
                    gst::SeekType::Set,
                    stop_time,
                )
                .is_ok();
        if seeked {
            wait_for_state(&pipeline, FRAME_TIMEOUT)?;
        }
        pipeline.set_state(gst::State::Playing)?;

        // Without a seek the frames before the window are skipped here instead.
        let max_frames = (duration * f64::from(fps)).round().max(1.0) as u32;
        let timeout = gst::ClockTime::from_nseconds(FRAME_TIMEOUT.as_nanos() as u64);
        let mut frames = 0;
        while frames < max_frames {
            let Some(sample) = appsink.try_pull_sample(timeout) else {
                break;
            };
            let Some(buffer) = sample.buffer() else { continue };
            if !seeked && stream_time(&sample).is_some_and(|time| time < start_time) {
                continue;
            }
            let map = buffer.map_readable().map_err(|_| MediaError::pipeline("preview frame cannot be read"))?;
            encoder.push(map.as_slice(), frames)?;
            frames += 1;
        }
        if let Some(error) = first_bus_error(&pipeline.bus().expect("a pipeline has a bus")) {
            return Err(error);
        }
        Ok(frames)
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result
}

/// Encoder of the animation, fed one RGBA frame at a time.
enum FrameEncoder {
    Webp { encoder: Box<webp_animation::Encoder>, fps: u32 },
    Gif { pipeline: gst::Pipeline, appsrc: gst_app::AppSrc, appsink: gst_app::AppSink, fps: u32 },
}

impl FrameEncoder {
    fn new(format: PreviewFormat, width: u32, height: u32, fps: u32) -> Result<Self, MediaError> {
        match format {
            PreviewFormat::Webp => {
                let options = webp_animation::EncoderOptions {
                    anim_params: webp_animation::AnimParams { loop_count: 0 },
                    encoding_config: Some(webp_animation::EncodingConfig {
                        quality: DEFAULT_WEBP_QUALITY,
                        method: DEFAULT_WEBP_METHOD,
                        ..webp_animation::EncodingConfig::new_lossy(DEFAULT_WEBP_QUALITY)
                    }),
                    ..Default::default()
                };
                let encoder = webp_animation::Encoder::new_with_options((width, height), options)
                    .map_err(|error| MediaError::pipeline(format!("WebP encoder failed to start: {error:?}")))?;
                Ok(Self::Webp { encoder: Box::new(encoder), fps })
            }
            PreviewFormat::Gif => {
                let caps = gst::Caps::builder("video/x-raw")
                    .field("format", "RGBA")
                    .field("width", width as i32)
                    .field("height", height as i32)
                    .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
                    .field("framerate", gst::Fraction::new(fps as i32, 1))
                    .build();
                let pipeline = gst::Pipeline::new();
                let appsrc = gst_app::AppSrc::builder().caps(&caps).format(gst::Format::Time).build();
                let encoder = make("gifenc")?;
                encoder.set_property("repeat", -1i32);
                let appsink = gst_app::AppSink::builder().sync(false).build();
                pipeline.add_many([appsrc.upcast_ref(), &encoder, appsink.upcast_ref()])?;
                gst::Element::link_many([appsrc.upcast_ref(), &encoder, appsink.upcast_ref()])?;
                pipeline.set_state(gst::State::Playing)?;
                Ok(Self::Gif { pipeline, appsrc, appsink, fps })
            }
        }
    }

    /// Adds frame number `index` (counted from 0).
    fn push(&mut self, rgba: &[u8], index: u32) -> Result<(), MediaError> {
        match self {
            Self::Webp { encoder, fps } => encoder
                .add_frame(rgba, frame_time_ms(index, *fps))
                .map_err(|error| MediaError::pipeline(format!("WebP encoder rejected frame {index}: {error:?}"))),
            Self::Gif { appsrc, fps, .. } => {
                let mut buffer = gst::Buffer::from_slice(rgba.to_vec());
                {
                    let buffer = buffer.get_mut().expect("a new buffer is writable");
                    let frame = gst::ClockTime::SECOND.mul_div_floor(1, u64::from(*fps)).unwrap_or_default();
                    buffer.set_pts(frame * u64::from(index));
                    buffer.set_duration(frame);
                }
                appsrc
                    .push_buffer(buffer)
                    .map(|_| ())
                    .map_err(|flow| MediaError::pipeline(format!("GIF encoder rejected frame {index}: {flow:?}")))
            }
        }
    }

    /// Finishes the animation after `frames` frames and returns the file's bytes.
    fn finish(self, frames: u32) -> Result<Vec<u8>, MediaError> {
        match self {
            Self::Webp { encoder, fps } => {
                let data = encoder
                    .finalize(frame_time_ms(frames, fps))
                    .map_err(|error| MediaError::pipeline(format!("WebP encoder failed: {error:?}")))?;
                Ok(data.to_vec())
            }
            Self::Gif { pipeline, appsrc, appsink, .. } => {
                let result = (|| {
                    appsrc.end_of_stream().map_err(|flow| MediaError::pipeline(format!("GIF encoder failed: {flow:?}")))?;
                    let timeout = gst::ClockTime::from_nseconds(FRAME_TIMEOUT.as_nanos() as u64);
                    let mut bytes = Vec::new();
                    while let Some(sample) = appsink.try_pull_sample(timeout) {
                        if let Some(buffer) = sample.buffer() {
                            let map = buffer.map_readable().map_err(|_| MediaError::pipeline("GIF data cannot be read"))?;
                            bytes.extend_from_slice(map.as_slice());
                        }
                    }
                    if let Some(error) = first_bus_error(&pipeline.bus().expect("a pipeline has a bus")) {
                        return Err(error);
                    }
                    if !appsink.is_eos() {
                        return Err(MediaError::new(ErrorCode::TimedOut, "GIF encoder did not finish in time"));
                    }
                    Ok(bytes)
                })();
                let _ = pipeline.set_state(gst::State::Null);
                result
            }
        }
    }
}

/// Returns the display time of frame `index` in milliseconds.
fn frame_time_ms(index: u32, fps: u32) -> i32 {
    (u64::from(index) * 1000 / u64::from(fps)) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_inside_clip_is_kept() {
        assert_eq!(clamp_window(2.0, 3.0, Some(10.0)), (2.0, 3.0));
        assert_eq!(clamp_window(2.0, 3.0, None), (2.0, 3.0));
    }

    #[test]
    fn window_past_end_moves_back() {
        assert_eq!(clamp_window(8.0, 3.0, Some(10.0)), (7.0, 3.0));
        assert_eq!(clamp_window(20.0, 3.0, Some(10.0)), (7.0, 3.0));
    }

    #[test]
    fn window_longer_than_clip_is_cut() {
        assert_eq!(clamp_window(2.0, 3.0, Some(1.5)), (0.0, 1.5));
    }

    #[test]
    fn height_is_even_and_keeps_aspect() {
        assert_eq!(even_height(480, 1920, 1080), 270);
        assert_eq!(even_height(480, 1080, 1920), 854);
        assert_eq!(even_height(480, 518, 488), 452);
        assert_eq!(even_height(16, 1920, 100), 2);
    }
}
