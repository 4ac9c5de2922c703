//! `video:transcode`: the H.264 ladder and a shared AAC rendition, packaged as HLS with CMAF
//! segments, optionally encrypted with `METHOD=AES-128`.
//!
//! One pipeline decodes the source once:
//!
//! ```text
//! uridecodebin ─video─ videoconvert ─ videoflip ─ videorate ─ tee ─┬ queue ─ videoscale ─ tee ─┬ queue ─ x264enc ─ cmafmux ─ appsink (r1080)
//!              │                                                  │                          └ queue ─ videoscale ─ ...r480, and so on
//!              │                                                  └ queue ─ videoscale ─ tee ─ ...r720, r360
//!              └audio─ audioconvert ─ audioresample ─ avenc_aac ─ cmafmux ─ appsink (und_aac_2ch)
//! ```
//!
//! `videoflip` is an `identity` for sources that are upright already. `videorate` makes the frame
//! rate constant so that a fixed GOP of whole segments (x264's `key-int-max`, scene cuts off) puts
//! the keyframes of every rendition on the same frames, and each `cmafmux` cuts its fragments there. The appsinks write the files (see [`track`]).

mod package;
mod playlist;
mod track;

use std::path::{Path, PathBuf};
use std::time::Duration;

use gst::prelude::*;

pub use package::{HlsPackage, PackageFile, TrackSummary, AUDIO_BITRATE, AUDIO_CHANNELS, AUDIO_TRACK_ID};
pub use playlist::{aac_codec_string, h264_codec_string};

/// Sample rate of the shared AAC rendition, in Hz.
pub const AUDIO_SAMPLE_RATE: i32 = 48_000;

use super::encryption::ContentKey;
use super::error::{ErrorCode, MediaError};
use super::ladder::{resolve_ladder, Rendition};
use super::pipeline::{caps_filter, decode_bin, make, run_to_eos, upright_flip, DEFAULT_STALL_TIMEOUT};
use super::probe::{probe, ProbeInfo};
use playlist::{master_playlist, media_playlist, AudioEntry, VariantEntry};
use track::{TrackState, TrackWriter};

/// Target segment length.
pub const DEFAULT_SEGMENT_DURATION: Duration = Duration::from_secs(6);
/// x264 speed preset of the renditions.
pub const DEFAULT_X264_PRESET: &str = "fast";
/// Highest output frame rate; faster sources are reduced to it.
const MAX_FRAME_RATE: f64 = 60.0;
/// Output frame rate when the source states none.
const FALLBACK_FRAME_RATE: (u32, u32) = (30, 1);

/// Settings of one transcode.
#[derive(Debug, Clone)]
pub struct TranscodeConfig {
    /// Content key; `None` writes a clear package.
    pub encryption: Option<ContentKey>,
    /// x264 speed preset (`ultrafast` to `placebo`). Default [`DEFAULT_X264_PRESET`].
    pub x264_preset: String,
    /// Target segment length. Default [`DEFAULT_SEGMENT_DURATION`].
    pub segment_duration: Duration,
    /// How long the pipeline may make no progress before it fails. Default 120 s.
    pub stall_timeout: Duration,
}

impl Default for TranscodeConfig {
    fn default() -> Self {
        Self {
            encryption: None,
            x264_preset: DEFAULT_X264_PRESET.to_owned(),
            segment_duration: DEFAULT_SEGMENT_DURATION,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
        }
    }
}

/// Transcodes `src` into an HLS package under `out_dir` (created if missing):
///
/// ```text
/// master.m3u8
/// audio/und_aac_2ch/{init.mp4, playlist.m3u8, seg_N.m4s}   when the source has audio
/// video/r{1080,720,480,360,240}_h264/{init.mp4, playlist.m3u8, seg_N.m4s}
/// ```
///
/// Segments are numbered from 1. With a content key every media segment is encrypted in memory
/// before it is written, so no clear segment touches the disk; the init segments stay clear
/// (they hold codec settings, no media samples). `progress` receives whole percentages as the
/// source is read, and 100 at the end.
pub fn transcode_hls(
    src: &Path,
    out_dir: &Path,
    config: &TranscodeConfig,
    progress: &dyn Fn(u8),
) -> Result<HlsPackage, MediaError> {
    if config.segment_duration < Duration::from_secs(1) {
        return Err(MediaError::new(
            ErrorCode::InvalidOptions,
            format!("segment duration must be at least 1 s, got {:?}", config.segment_duration),
        ));
    }
    let info = probe(src)?;
    let renditions = resolve_ladder(info.width, info.height);
    let frame_rate = output_frame_rate(&info);
    let key = config.encryption.as_ref().map(|content| content.key);

    std::fs::create_dir_all(out_dir).map_err(|error| MediaError::output(out_dir, error))?;
    let mut video_writers = Vec::with_capacity(renditions.len());
    for rendition in &renditions {
        video_writers.push(TrackWriter::new(out_dir.join("video").join(rendition.id()), key)?);
    }
    let audio_writer = match info.has_audio() {
        true => Some(TrackWriter::new(out_dir.join("audio").join(AUDIO_TRACK_ID), key)?.with_hidden_lead(priming_duration())),
        false => None,
    };

    let pipeline = build_pipeline(src, &info, &renditions, frame_rate, config, &video_writers, audio_writer.as_ref())?;

    // Progress is the timestamp of the last frame entering the tee: the muxers output only once
    // per segment, which can take minutes for a high rung on a small machine.
    let decoded = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX));
    let tee_sink = pipeline.by_name("split").and_then(|tee| tee.static_pad("sink")).expect("the pipeline has its tee");
    let decoded_probe = decoded.clone();
    tee_sink.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let Some(pts) = info.buffer().and_then(|buffer| buffer.pts()) {
            decoded_probe.store(pts.nseconds(), std::sync::atomic::Ordering::Relaxed);
        }
        gst::PadProbeReturn::Ok
    });
    let position = || match decoded.load(std::sync::atomic::Ordering::Relaxed) {
        u64::MAX => None,
        nanoseconds => Some(gst::ClockTime::from_nseconds(nanoseconds)),
    };
    let total = info.duration.map(|duration| duration.as_nanos() as u64).filter(|total| *total > 0);
    let last_percent = std::cell::Cell::new(0u8);
    let run = run_to_eos(&pipeline, config.stall_timeout, &position, |position| {
        if let Some(total) = total {
            let percent = (position.nseconds().saturating_mul(100) / total).min(99) as u8;
            if percent > last_percent.get() {
                last_percent.set(percent);
                progress(percent);
            }
        }
    });

    // A writer's own error explains a flow error better than the bus message it caused.
    let writer_error = video_writers
        .iter()
        .chain(audio_writer.as_ref())
        .find_map(|writer| writer.state.lock().unwrap().error.clone());
    if let Some(error) = writer_error {
        return Err(error);
    }
    run?;

    let package = write_playlists(out_dir, &renditions, frame_rate, config, &video_writers, audio_writer.as_ref())?;
    progress(100);
    Ok(package)
}

/// Returns the output frame rate: the probed rate, at most 60 fps, or 30 fps when unknown.
pub(crate) fn output_frame_rate(info: &ProbeInfo) -> (u32, u32) {
    match info.frame_rate {
        Some(rate) if info.fps().is_some_and(|fps| fps <= MAX_FRAME_RATE + 0.5) => rate,
        Some(_) => (MAX_FRAME_RATE as u32, 1),
        None => FALLBACK_FRAME_RATE,
    }
}

/// Returns the GOP length in frames: the fewest whole frames that last at least one segment.
pub(crate) fn gop_frames(frame_rate: (u32, u32), segment: Duration) -> u32 {
    let frames = segment.as_secs_f64() * f64::from(frame_rate.0) / f64::from(frame_rate.1);
    (frames - 1e-6).ceil().max(1.0) as u32
}

#[allow(clippy::too_many_arguments)]
fn build_pipeline(
    src: &Path,
    info: &ProbeInfo,
    renditions: &[Rendition],
    frame_rate: (u32, u32),
    config: &TranscodeConfig,
    video_writers: &[TrackWriter],
    audio_writer: Option<&TrackWriter>,
) -> Result<gst::Pipeline, MediaError> {
    let pipeline = gst::Pipeline::new();
    let decode = decode_bin(src, "video/x-raw(ANY);audio/x-raw(ANY)", info.access)?;
    pipeline.add(&decode)?;

    // Decoded video, upright and at a constant rate, split to every rendition.
    let convert = make("videoconvert")?;
    let flip = upright_flip(info.orientation)?;
    let rate = make("videorate")?;
    close_with_last_frame(&rate, frame_rate);
    let constant = caps_filter(
        gst::Caps::builder("video/x-raw")
            .field("format", "I420")
            .field("framerate", gst::Fraction::new(frame_rate.0 as i32, frame_rate.1 as i32))
            .build(),
    )?;
    let tee = gst::ElementFactory::make("tee").name("split").build().map_err(|_| {
        MediaError::new(ErrorCode::MissingElement, "GStreamer element \"tee\" is not installed")
    })?;
    pipeline.add_many([&convert, &flip, &rate, &constant, &tee])?;
    gst::Element::link_many([&convert, &flip, &rate, &constant, &tee])?;

    let gop = gop_frames(frame_rate, config.segment_duration);
    let mut scaled_outputs: Vec<gst::Element> = Vec::with_capacity(renditions.len());
    for (index, (rendition, writer)) in renditions.iter().zip(video_writers).enumerate() {
        let parent = scale_input(renditions, index, info.width);
        let (upstream, input_width) = match parent {
            Some(parent) => (&scaled_outputs[parent], renditions[parent].width),
            None => (&tee, info.width),
        };
        let scale_queue = make("queue")?;
        let scale = make("videoscale")?;
        scale.set_property_from_str("method", scale_method(input_width, rendition.width));
        let size = caps_filter(
            gst::Caps::builder("video/x-raw")
                .field("width", rendition.width as i32)
                .field("height", rendition.height as i32)
                .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
                .build(),
        )?;
        let encoder = x264_encoder(rendition, gop, &config.x264_preset)?;
        let profile = caps_filter(gst::Caps::builder("video/x-h264").field("profile", "high").build())?;
        let mux = cmaf_mux(config.segment_duration)?;
        let sink = writer.appsink();
        let scaled = make("tee")?;
        let encode_queue = make("queue")?;
        let chain = [&scale_queue, &scale, &size, &scaled, &encode_queue, &encoder, &profile, &mux, sink.upcast_ref()];
        pipeline.add_many(chain)?;
        upstream.link(&scale_queue)?;
        gst::Element::link_many(chain)?;
        writer.watch_codec(&profile.static_pad("src").expect("capsfilter has a src pad"), h264_codec_string);
        scaled_outputs.push(scaled);
    }

    // The shared AAC rendition.
    let audio_sink_pad = match audio_writer {
        Some(writer) => {
            let convert = make("audioconvert")?;
            let resample = make("audioresample")?;
            // Stereo at 48 kHz whatever the source has: AAC at 8 or 12 kHz sounds poor and some players
            // reject it.
            let stereo = caps_filter(
                gst::Caps::builder("audio/x-raw")
                    .field("channels", AUDIO_CHANNELS as i32)
                    .field("rate", AUDIO_SAMPLE_RATE)
                    .build(),
            )?;
            let encoder = make("avenc_aac")?;
            encoder.set_property("bitrate", AUDIO_BITRATE as i32);
            let mux = cmaf_mux(config.segment_duration)?;
            let sink = writer.appsink();
            pipeline.add_many([&convert, &resample, &stereo, &encoder, &mux, sink.upcast_ref()])?;
            gst::Element::link_many([&convert, &resample, &stereo, &encoder, &mux, sink.upcast_ref()])?;
            writer.watch_codec(&encoder.static_pad("src").expect("encoder has a src pad"), aac_codec_string);
            mark_priming(&encoder);
            convert.static_pad("sink")
        }
        None => None,
    };

    super::pipeline::link_decoded_pads(&decode, &pipeline, convert.static_pad("sink"), audio_sink_pad.clone());

    // Audio the probe saw but no decoder produced would keep its branch waiting forever, and
    // missing video is an error: both are settled once decodebin has exposed every stream.
    let video_sink_pad = convert.static_pad("sink").expect("videoconvert has a sink pad");
    let pipeline_weak = pipeline.downgrade();
    decode.connect("no-more-pads", false, move |_| {
        if let Some(pad) = audio_sink_pad.as_ref().filter(|pad| !pad.is_linked()) {
            pad.send_event(gst::event::Eos::new());
        }
        if !video_sink_pad.is_linked() {
            if let Some(pipeline) = pipeline_weak.upgrade() {
                let message = gst::message::Error::builder(gst::StreamError::CodecNotFound, "no decodable video stream")
                    .src(&pipeline)
                    .build();
                let _ = pipeline.post_message(message);
            }
        }
        None
    });
    Ok(pipeline)
}

/// Makes `rate` show the last frame for as long as the source does, and no longer.
///
/// At the end of the stream `videorate` repeats the last frame only when the segment has a stop
/// position, up to that stop but for at most `max-closing-segment-duplication-duration` (1 s by
/// default) after the frame's timestamp. Neither bound is right. Matroska segments have no stop,
/// so a WebM whose last frame comes 0.5 s after the one before lost most of that frame. A
/// fragmented MP4 whose header states 143165 s for 1 s of video got a second of repeated frames.
/// So segments without a stop get a distant one. Just before the end of the stream reaches
/// `rate`, the limit is set to the last frame's own duration less half an output frame, so that
/// rounding cannot add a frame.
fn close_with_last_frame(rate: &gst::Element, frame_rate: (u32, u32)) {
    const DISTANT_STOP: gst::ClockTime = gst::ClockTime::from_seconds(100 * 365 * 24 * 3600);
    let frame = gst::ClockTime::SECOND
        .mul_div_floor(u64::from(frame_rate.1), u64::from(frame_rate.0).max(1))
        .unwrap_or(gst::ClockTime::ZERO);
    let half_frame = frame / 2;
    rate.set_property("max-closing-segment-duplication-duration", gst::ClockTime::ZERO);
    let Some(sink) = rate.static_pad("sink") else {
        return;
    };
    let last_duration = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let rate_weak = rate.downgrade();
    sink.add_probe(gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
        let mut replacement = None;
        match &info.data {
            Some(gst::PadProbeData::Buffer(buffer)) => {
                // A frame without a duration (the decoder derives it from the next frame, and the
                // last one has none) counts as one output frame.
                let duration = buffer.duration().unwrap_or(frame);
                last_duration.store(duration.nseconds(), std::sync::atomic::Ordering::Relaxed);
            }
            Some(gst::PadProbeData::Event(event)) => match event.view() {
                gst::EventView::Segment(segment) => {
                    if let Some(time) = segment.segment().downcast_ref::<gst::ClockTime>().filter(|time| time.stop().is_none()) {
                        let mut time = time.clone();
                        time.set_stop(time.start().unwrap_or_default() + DISTANT_STOP);
                        replacement = Some(gst::event::Segment::builder(&time).seqnum(event.seqnum()).build());
                    }
                }
                gst::EventView::Eos(_) => {
                    if let Some(rate) = rate_weak.upgrade() {
                        let duration = gst::ClockTime::from_nseconds(last_duration.load(std::sync::atomic::Ordering::Relaxed));
                        let limit = duration.saturating_sub(half_frame).max(gst::ClockTime::from_nseconds(1));
                        rate.set_property("max-closing-segment-duplication-duration", limit);
                    }
                }
                _ => {}
            },
            _ => {}
        }
        if let Some(event) = replacement {
            info.data = Some(gst::PadProbeData::Event(event));
        }
        gst::PadProbeReturn::Ok
    });
}

/// Returns the rendition that rendition `index` is scaled from, or `None` for the source.
///
/// videoscale's bilinear filter has two taps. Down to half the size it averages neighbouring
/// pixels. Below that it skips source pixels, so the picture aliases: 1080 lines scaled straight
/// to 240 lose detail that a wider filter keeps. So each rendition is scaled from the largest
/// picture at most twice its width: r720 from a 1080p source, r480 and r360 from r720, r240
/// from r480. Smaller inputs also make the lower rungs cheaper. When no picture is that close,
/// the smallest larger one is used, and [`scale_method`] picks a wider filter.
fn scale_input(renditions: &[Rendition], index: usize, source_width: u32) -> Option<usize> {
    let width = renditions[index].width;
    // 1 % of slack, because even sides round 426 to 854 and 240 to 480 unequally.
    let within_twice = |candidate: u32| u64::from(candidate) * 100 <= u64::from(width) * 202;
    if within_twice(source_width) {
        return None;
    }
    // Renditions are ordered from the largest, so the first one within reach is the largest.
    let larger = 0..index;
    larger.clone().find(|&parent| within_twice(renditions[parent].width)).or_else(|| larger.last())
}

/// Returns the videoscale method for scaling `input_width` down to `output_width`.
///
/// Down to half the width, bilinear stays within 0.003 SSIM of Lanczos at 60 % of its CPU time. Beyond
/// half it skips source pixels, so Lanczos is used there. Measured on a 1080p50 fixture: r240
/// from r480 (854 to 426 pixels) reaches an SSIM of 0.945 against FFmpeg's Lanczos scale instead
/// of 0.929, for about 1 % more CPU time over the whole ladder.
fn scale_method(input_width: u32, output_width: u32) -> &'static str {
    if input_width > output_width * 2 {
        "lanczos"
    } else {
        "bilinear"
    }
}

fn x264_encoder(rendition: &Rendition, gop: u32, preset: &str) -> Result<gst::Element, MediaError> {
    let encoder = make("x264enc")?;
    encoder.set_property_from_str("speed-preset", preset);
    // Constant rate factor capped by a VBV at the rung's nominal bit rate, with a 2 s buffer.
    encoder.set_property_from_str("pass", "qual");
    encoder.set_property("quantizer", rendition.rung.crf);
    encoder.set_property("bitrate", (rendition.bandwidth / 1000) as u32);
    encoder.set_property("vbv-buf-capacity", 2000u32);
    encoder.set_property("key-int-max", gop);
    encoder.set_property("option-string", "scenecut=0:open-gop=0");
    Ok(encoder)
}

fn cmaf_mux(segment: Duration) -> Result<gst::Element, MediaError> {
    let mux = make("cmafmux")?;
    mux.set_property("fragment-duration", segment.as_nanos() as u64);
    mux.set_property("send-force-keyunit", false);
    Ok(mux)
}

/// Writes every media playlist and the master playlist, and describes the package.
fn write_playlists(
    out_dir: &Path,
    renditions: &[Rendition],
    frame_rate: (u32, u32),
    config: &TranscodeConfig,
    video_writers: &[TrackWriter],
    audio_writer: Option<&TrackWriter>,
) -> Result<HlsPackage, MediaError> {
    let key_uri = config.encryption.as_ref().map(|content| content.key_uri.clone());
    let mut segment_files = Vec::new();
    let mut init_files = Vec::new();
    let mut playlist_files = Vec::new();

    let mut write_track = |folder: String, state: &TrackState| -> Result<(), MediaError> {
        if state.init_size.is_none() || state.segments.is_empty() {
            return Err(MediaError::pipeline(format!("rendition {folder} produced no segments")));
        }
        for segment in &state.segments {
            segment_files.push(package_file(out_dir, &format!("{folder}/{}", segment.name))?);
        }
        init_files.push(package_file(out_dir, &format!("{folder}/init.mp4"))?);
        let playlist = format!("{folder}/playlist.m3u8");
        write_text(out_dir, &playlist, &media_playlist(&state.segments, key_uri.as_deref()))?;
        playlist_files.push(package_file(out_dir, &playlist)?);
        Ok(())
    };

    // Audio whose stream turned out undecodable ends with no segments and is left out.
    let mut audio = None;
    if let Some(writer) = audio_writer {
        let state = writer.state.lock().unwrap();
        if !state.segments.is_empty() {
            write_track(format!("audio/{AUDIO_TRACK_ID}"), &state)?;
            audio = Some(summary(AUDIO_TRACK_ID, &state, 0, 0, AUDIO_BITRATE, "mp4a.40.2"));
        }
    }
    let mut video = Vec::with_capacity(renditions.len());
    for (rendition, writer) in renditions.iter().zip(video_writers) {
        let state = writer.state.lock().unwrap();
        write_track(format!("video/{}", rendition.id()), &state)?;
        video.push(summary(&rendition.id(), &state, rendition.width, rendition.height, rendition.bandwidth, "avc1.640028"));
    }

    let audio_entry = audio.as_ref().map(|audio| AudioEntry {
        uri: format!("audio/{}/playlist.m3u8", audio.id),
        channels: AUDIO_CHANNELS,
    });
    let variants: Vec<VariantEntry> = video
        .iter()
        .map(|track| {
            let (audio_peak, audio_average, audio_codec) = match &audio {
                Some(audio) => (audio.peak_bitrate, audio.average_bitrate, format!(",{}", audio.codec)),
                None => (0, 0, String::new()),
            };
            VariantEntry {
                uri: format!("video/{}/playlist.m3u8", track.id),
                bandwidth: track.peak_bitrate + audio_peak,
                average_bandwidth: track.average_bitrate + audio_average,
                codecs: format!("{}{audio_codec}", track.codec),
                width: track.width,
                height: track.height,
                frame_rate: f64::from(frame_rate.0) / f64::from(frame_rate.1),
            }
        })
        .collect();
    write_text(out_dir, "master.m3u8", &master_playlist(&variants, audio_entry.as_ref()))?;

    let mut files = segment_files;
    files.append(&mut init_files);
    files.append(&mut playlist_files);
    files.push(package_file(out_dir, "master.m3u8")?);
    Ok(HlsPackage { out_dir: out_dir.to_path_buf(), video, audio, frame_rate, key_uri, files })
}

/// Summarises a written track; `fallback_codec` is used when the encoder caps gave none.
fn summary(id: &str, state: &TrackState, width: u32, height: u32, nominal: u64, fallback_codec: &str) -> TrackSummary {
    let total_ns: u64 = state.segments.iter().map(|segment| segment.duration_ns).sum();
    let total_bytes: u64 = state.segments.iter().map(|segment| segment.size).sum();
    let rate = |bytes: u64, nanoseconds: u64| match nanoseconds {
        0 => 0,
        _ => (bytes as f64 * 8.0 / (nanoseconds as f64 / 1e9)).round() as u64,
    };
    TrackSummary {
        id: id.to_owned(),
        codec: state.codec.clone().unwrap_or_else(|| fallback_codec.to_owned()),
        width,
        height,
        nominal_bitrate: nominal,
        peak_bitrate: state.segments.iter().map(|segment| rate(segment.size, segment.duration_ns)).max().unwrap_or(0),
        average_bitrate: rate(total_bytes, total_ns),
        segment_count: state.segments.len() as u32,
        duration_sec: total_ns as f64 / 1e9,
    }
}

fn write_text(out_dir: &Path, relative: &str, text: &str) -> Result<(), MediaError> {
    let path = out_dir.join(relative);
    std::fs::write(&path, text).map_err(|error| MediaError::output(&path, error))
}

fn package_file(out_dir: &Path, relative: &str) -> Result<PackageFile, MediaError> {
    let path: PathBuf = out_dir.join(relative);
    let size = std::fs::metadata(&path).map_err(|error| MediaError::output(&path, error))?.len();
    Ok(PackageFile { relative_path: relative.to_owned(), content_type: package::content_type(relative), path, size })
}


/// Samples of silence the AAC encoder (`avenc_aac`, FFmpeg's encoder) puts before the audio.
const AAC_PRIMING_SAMPLES: u64 = 1024;

/// Returns how long the AAC priming lasts at [`AUDIO_SAMPLE_RATE`].
fn priming_duration() -> gst::ClockTime {
    gst::ClockTime::SECOND.mul_div_round(AAC_PRIMING_SAMPLES, AUDIO_SAMPLE_RATE as u64).unwrap_or(gst::ClockTime::ZERO)
}

/// Marks the encoder's priming samples on its first buffer with an `AudioClippingMeta`, which
/// `cmafmux` turns into an edit list, so players skip them and audio stays in sync with video.
fn mark_priming(encoder: &gst::Element) {
    let Some(pad) = encoder.static_pad("src") else {
        return;
    };
    pad.add_probe(gst::PadProbeType::BUFFER, |_, info| {
        if let Some(gst::PadProbeData::Buffer(buffer)) = &mut info.data {
            let buffer = buffer.make_mut();
            if buffer.meta::<gst_audio::AudioClippingMeta>().is_none() {
                gst_audio::AudioClippingMeta::add(
                    buffer,
                    gst::format::Default::from_u64(AAC_PRIMING_SAMPLES),
                    gst::format::Default::ZERO,
                );
            }
        }
        // Only the first buffer carries the priming.
        gst::PadProbeReturn::Remove
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_input_within_twice_the_width() {
        let parents = |width, height| {
            let renditions = resolve_ladder(width, height);
            (0..renditions.len()).map(|index| scale_input(&renditions, index, width)).collect::<Vec<_>>()
        };
        // r1080, r720, r480, r360, r240 of a 1080p source.
        assert_eq!(parents(1920, 1080), [None, None, Some(1), Some(1), Some(2)]);
        // r720 to r240 of a 720p source: r480 and r360 are within twice the source.
        assert_eq!(parents(1280, 720), [None, None, None, Some(1)]);
        // A 4K source: r1080 is half its width, r720 comes from r1080.
        assert_eq!(parents(3840, 2160), [None, Some(0), Some(1), Some(1), Some(2)]);
        // A 5K source is more than twice r1080, so the top rendition still starts from it.
        assert_eq!(parents(5120, 2880)[0], None);
        // Portrait 1080x1920: 608x1080, 404x720, 270x480, 202x360, 134x240. The source is 2.7
        // times as wide as r720, so r720 comes from r1080.
        assert_eq!(parents(1080, 1920), [None, Some(0), Some(1), Some(1), Some(2)]);
    }

    #[test]
    fn lanczos_beyond_half_the_width() {
        // r720 from 1080p, r360 from r720: bilinear.
        assert_eq!(scale_method(1920, 1280), "bilinear");
        assert_eq!(scale_method(1280, 640), "bilinear");
        // r240 from r480: 854 is just over twice 426.
        assert_eq!(scale_method(854, 426), "lanczos");
        // r1080 straight from a 5K source.
        assert_eq!(scale_method(5120, 1920), "lanczos");
    }

    #[test]
    fn gop_covers_whole_segments() {
        assert_eq!(gop_frames((30, 1), DEFAULT_SEGMENT_DURATION), 180);
        assert_eq!(gop_frames((25, 1), DEFAULT_SEGMENT_DURATION), 150);
        assert_eq!(gop_frames((30000, 1001), DEFAULT_SEGMENT_DURATION), 180);
        assert_eq!(gop_frames((24000, 1001), DEFAULT_SEGMENT_DURATION), 144);
    }
}
