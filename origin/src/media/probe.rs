//! Source inspection with GStreamer's discoverer: duration, upright display size, frame rate,
//! codecs and audio presence.

use std::path::Path;
use std::time::Duration;

use gst::prelude::*;
use gst_pbutils::prelude::*;

use super::error::{ErrorCode, MediaError};
use super::pipeline::{check_source, decode_bin, file_uri, link_decoded_pads};
pub use super::pipeline::SourceAccess;
use super::setup::init;

/// Longest time the discoverer may spend on one source. A healthy file is read in well under a
/// second; some damaged files make the discoverer wait for data that never comes.
const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(8);

/// Video packets whose timestamps [`measure_frame_rate`] looks at.
const FRAME_RATE_SAMPLE_PACKETS: usize = 120;

/// Common frame rates that a measured rate within 1 % snaps to.
const STANDARD_FRAME_RATES: [(u32, u32); 9] =
    [(24000, 1001), (24, 1), (25, 1), (30000, 1001), (30, 1), (48, 1), (50, 1), (60000, 1001), (60, 1)];

/// How a video's stored frames must be turned to display upright, from the `image-orientation`
/// tag (which GStreamer derives from the MP4/MOV display matrix, among others).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Orientation {
    #[default]
    Rotate0,
    /// Rotate 90 degrees clockwise.
    Rotate90,
    Rotate180,
    /// Rotate 270 degrees clockwise (90 counter-clockwise).
    Rotate270,
    /// Mirror horizontally, then rotate by the given clockwise angle.
    FlipRotate0,
    FlipRotate90,
    FlipRotate180,
    FlipRotate270,
}

impl Orientation {
    /// Parses an `image-orientation` tag value such as `rotate-90` or `flip-rotate-180`.
    pub fn from_tag(value: &str) -> Option<Self> {
        let orientation = match value {
            "rotate-0" => Self::Rotate0,
            "rotate-90" => Self::Rotate90,
            "rotate-180" => Self::Rotate180,
            "rotate-270" => Self::Rotate270,
            "flip-rotate-0" => Self::FlipRotate0,
            "flip-rotate-90" => Self::FlipRotate90,
            "flip-rotate-180" => Self::FlipRotate180,
            "flip-rotate-270" => Self::FlipRotate270,
            _ => return None,
        };
        Some(orientation)
    }

    /// Whether turning the frames upright swaps width and height.
    pub fn swaps_dimensions(self) -> bool {
        matches!(self, Self::Rotate90 | Self::Rotate270 | Self::FlipRotate90 | Self::FlipRotate270)
    }

    /// Returns the `videoflip` `video-direction` value that turns frames upright.
    pub fn flip_method(self) -> &'static str {
        match self {
            Self::Rotate0 => "identity",
            Self::Rotate90 => "90r",
            Self::Rotate180 => "180",
            Self::Rotate270 => "90l",
            Self::FlipRotate0 => "horiz",
            Self::FlipRotate90 => "ul-lr",
            Self::FlipRotate180 => "vert",
            Self::FlipRotate270 => "ur-ll",
        }
    }
}

/// What [`probe`] found out about a source.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeInfo {
    /// Container duration; `None` when the source does not state one.
    pub duration: Option<Duration>,
    /// Display width in pixels, with square pixels and the rotation applied.
    pub width: u32,
    /// Display height in pixels, with square pixels and the rotation applied.
    pub height: u32,
    /// Width and height of the stored frames.
    pub coded_width: u32,
    pub coded_height: u32,
    pub orientation: Orientation,
    /// Frame rate as `(numerator, denominator)`; `None` for a variable or unknown rate.
    pub frame_rate: Option<(u32, u32)>,
    /// Video codec, in ffprobe's names where one exists (`h264`, `hevc`, `av1`, `vp9`, ...).
    pub video_codec: String,
    /// Audio codec of the first audio stream; `None` when the source has no audio.
    pub audio_codec: Option<String>,
    /// The way pipelines must read the file.
    pub access: SourceAccess,
}

impl ProbeInfo {
    pub fn has_audio(&self) -> bool {
        self.audio_codec.is_some()
    }

    /// Frame rate as a float, or `None` when unknown.
    pub fn fps(&self) -> Option<f64> {
        self.frame_rate.map(|(numerator, denominator)| f64::from(numerator) / f64::from(denominator))
    }
}

/// Inspects `path` and describes its first video stream and its audio.
///
/// Fails with [`ErrorCode::SourceNotFound`], [`ErrorCode::DamagedSource`] (unreadable or
/// unrecognised data), [`ErrorCode::NoVideoStream`], [`ErrorCode::StillImage`],
/// [`ErrorCode::UnsupportedCodec`] (no decoder for the video stream) or [`ErrorCode::TimedOut`].
pub fn probe(path: &Path) -> Result<ProbeInfo, MediaError> {
    init()?;
    check_source(path)?;
    if let Some(format) = image_format(path) {
        return Err(MediaError::new(
            ErrorCode::StillImage,
            format!("source {} is an image ({format}), not a video", path.display()),
        ));
    }

    let timeout = gst::ClockTime::from_nseconds(DEFAULT_PROBE_TIMEOUT.as_nanos() as u64);
    let discoverer = gst_pbutils::Discoverer::new(timeout)
        .map_err(|error| MediaError::pipeline(format!("failed to create the discoverer: {error}")))?;
    let info = discoverer.discover_uri(&file_uri(path)?).map_err(|error| discover_error(path, &error))?;
    match info.result() {
        gst_pbutils::DiscovererResult::Ok | gst_pbutils::DiscovererResult::MissingPlugins => {}
        gst_pbutils::DiscovererResult::Timeout => {
            return Err(MediaError::new(
                ErrorCode::DamagedSource,
                format!(
                    "source {} could not be read within {} s: it is damaged or not a video",
                    path.display(),
                    DEFAULT_PROBE_TIMEOUT.as_secs()
                ),
            ))
        }
        other => {
            return Err(MediaError::new(
                ErrorCode::DamagedSource,
                format!("source {} could not be read ({other:?})", path.display()),
            ))
        }
    }

    let video_streams = info.video_streams();
    let Some(video) = video_streams.first() else {
        return Err(MediaError::new(
            ErrorCode::NoVideoStream,
            format!("source {} has no video stream", path.display()),
        ));
    };
    if video.is_image() {
        return Err(MediaError::new(
            ErrorCode::StillImage,
            format!("source {} is a still image, not a video", path.display()),
        ));
    }

    let caps = video.caps().ok_or_else(|| {
        MediaError::new(ErrorCode::DamagedSource, format!("video stream of {} has no caps", path.display()))
    })?;
    let video_codec = codec_name(&caps);
    if !has_decoder(&caps) {
        return Err(MediaError::new(
            ErrorCode::UnsupportedCodec,
            format!("no decoder for the {video_codec} video of {} ({caps})", path.display()),
        ));
    }

    let coded_width = video.width();
    let coded_height = video.height();
    if coded_width == 0 || coded_height == 0 {
        return Err(MediaError::new(
            ErrorCode::DamagedSource,
            format!("video stream of {} has no frame size", path.display()),
        ));
    }

    let orientation = video
        .tags()
        .into_iter()
        .find_map(|tags| tags.get::<gst::tags::ImageOrientation>().and_then(|tag| Orientation::from_tag(tag.get())))
        .unwrap_or_default();

    // Non-square pixels widen (or narrow) the picture; the display size uses square pixels. A
    // ratio outside 1:2 to 2:1 is taken as a bogus header value and ignored.
    let par = video.par();
    let par_usable = par.numer() > 0 && par.denom() > 0 && {
        let ratio = f64::from(par.numer()) / f64::from(par.denom());
        (0.5..=2.0).contains(&ratio)
    };
    let square_width = if par_usable && par.numer() != par.denom() {
        ((u64::from(coded_width) * par.numer() as u64 + par.denom() as u64 / 2) / par.denom() as u64) as u32
    } else {
        coded_width
    };
    let (width, height) = if orientation.swaps_dimensions() {
        (coded_height, square_width)
    } else {
        (square_width, coded_height)
    };

    // Containers often state a time base instead of a frame rate (600 or 90000 fps), so the rate
    // comes from the packet timestamps, with the stated rate as the fallback.
    let stated = video.framerate();
    let stated_rate = (stated.numer() > 0 && stated.denom() > 0).then(|| (stated.numer() as u32, stated.denom() as u32));
    let (access, timestamps) = choose_access(path, &caps);
    let frame_rate = measure_frame_rate(&timestamps).or(stated_rate);

    let audio_codec = info
        .audio_streams()
        .first()
        .map(|audio| audio.caps().map(|caps| codec_name(&caps)).unwrap_or_else(|| "unknown".to_owned()));

    Ok(ProbeInfo {
        duration: info.duration().map(|duration| Duration::from_nanos(duration.nseconds())).filter(|d| !d.is_zero()),
        width,
        height,
        coded_width,
        coded_height,
        orientation,
        frame_rate,
        video_codec,
        audio_codec,
        access,
    })
}

/// Reads the timestamps of the first [`FRAME_RATE_SAMPLE_PACKETS`] video packets, without
/// decoding them, sorted and without repeats.
fn packet_timestamps(path: &Path, caps: &gst::CapsRef, access: SourceAccess) -> Vec<u64> {
    let mut timestamps = Vec::with_capacity(FRAME_RATE_SAMPLE_PACKETS);
    let Some(name) = caps.structure(0).map(|structure| structure.name().to_string()) else {
        return timestamps;
    };
    let pipeline = gst::Pipeline::new();
    let Ok(decode) = decode_bin(path, &format!("{name}(ANY)"), access) else {
        return timestamps;
    };
    let appsink = gst_app::AppSink::builder().sync(false).build();
    if pipeline.add_many([&decode, appsink.upcast_ref()]).is_err() {
        return timestamps;
    }
    link_decoded_pads(&decode, &pipeline, appsink.static_pad("sink"), None);

    if pipeline.set_state(gst::State::Playing).is_ok() {
        let timeout = gst::ClockTime::from_seconds(2);
        while timestamps.len() < FRAME_RATE_SAMPLE_PACKETS {
            let Some(sample) = appsink.try_pull_sample(timeout) else {
                break;
            };
            if let Some(pts) = sample.buffer().and_then(|buffer| buffer.pts()) {
                timestamps.push(pts.nseconds());
            }
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    timestamps.sort_unstable();
    timestamps.dedup();
    timestamps
}

/// Chooses how pipelines read `path`: randomly, unless the demuxer yields at most one packet that
/// way and more when the file is pushed through it (see [`SourceAccess::Sequential`]). Returns the
/// packet timestamps read the chosen way.
fn choose_access(path: &Path, caps: &gst::CapsRef) -> (SourceAccess, Vec<u64>) {
    let random = packet_timestamps(path, caps, SourceAccess::Random);
    if random.len() >= 2 || gst::ElementFactory::find("pushfilesrc").is_none() {
        return (SourceAccess::Random, random);
    }
    let sequential = packet_timestamps(path, caps, SourceAccess::Sequential);
    match sequential.len() > random.len() {
        true => (SourceAccess::Sequential, sequential),
        false => (SourceAccess::Random, random),
    }
}

/// Measures the frame rate from the median gap between packet timestamps and snaps it to a
/// common rate within 1 %. Returns `None` for fewer than two timestamps.
fn measure_frame_rate(timestamps: &[u64]) -> Option<(u32, u32)> {
    let mut gaps: Vec<u64> = timestamps.windows(2).map(|pair| pair[1] - pair[0]).collect();
    if gaps.is_empty() {
        return None;
    }
    gaps.sort_unstable();
    let median = gaps[gaps.len() / 2];
    Some(snap_frame_rate(1e9 / median as f64))
}

/// Returns the closest common frame rate within 1 % of `fps`, or `fps` rounded to a whole number.
pub(crate) fn snap_frame_rate(fps: f64) -> (u32, u32) {
    let distance = |(numerator, denominator): (u32, u32)| (fps - f64::from(numerator) / f64::from(denominator)).abs();
    STANDARD_FRAME_RATES
        .into_iter()
        .filter(|&rate| distance(rate) <= fps * 0.01)
        .min_by(|&left, &right| distance(left).total_cmp(&distance(right)))
        .unwrap_or(((fps.round() as u32).max(1), 1))
}

fn discover_error(path: &Path, error: &gst::glib::Error) -> MediaError {
    let code = if error.matches(gst::CoreError::MissingPlugin) || error.matches(gst::StreamError::CodecNotFound) {
        ErrorCode::UnsupportedCodec
    } else if error.matches(gst::ResourceError::NotFound) || error.matches(gst::ResourceError::OpenRead) {
        ErrorCode::SourceNotFound
    } else if error.matches(gst::StreamError::TypeNotFound) {
        return MediaError::new(
            ErrorCode::DamagedSource,
            format!("source {} is in no recognised media format", path.display()),
        );
    } else {
        ErrorCode::DamagedSource
    };
    MediaError::new(code, format!("source {} could not be read: {error}", path.display()))
}

/// Whether some installed decoder accepts `caps`.
fn has_decoder(caps: &gst::CapsRef) -> bool {
    let decoders = gst::ElementFactory::factories_with_type(gst::ElementFactoryType::DECODER, gst::Rank::MARGINAL);
    decoders.iter().any(|factory| factory.can_sink_any_caps(caps))
}

/// Returns a short codec name for encoded caps, in ffprobe's spelling where one exists.
fn codec_name(caps: &gst::CapsRef) -> String {
    let Some(structure) = caps.structure(0) else {
        return "unknown".to_owned();
    };
    let version = |field: &str| structure.get::<i32>(field).ok();
    let name = match structure.name().as_str() {
        "video/x-h264" => "h264",
        "video/x-h265" => "hevc",
        "video/x-av1" => "av1",
        "video/x-vp8" => "vp8",
        "video/x-vp9" => "vp9",
        "video/x-h263" => "h263",
        "video/x-theora" => "theora",
        "image/jpeg" => "mjpeg",
        "video/x-wmv" => match version("wmvversion") {
            Some(1) => "wmv1",
            Some(2) => "wmv2",
            _ => "wmv3",
        },
        "video/mpeg" => match version("mpegversion") {
            Some(1) => "mpeg1video",
            Some(2) => "mpeg2video",
            _ => "mpeg4",
        },
        "video/x-divx" | "video/x-xvid" => "mpeg4",
        "video/x-raw" => "rawvideo",
        "audio/mpeg" => match (version("mpegversion"), version("layer")) {
            (Some(1), Some(3)) => "mp3",
            (Some(1), Some(2)) => "mp2",
            (Some(1), _) => "mp1",
            _ => "aac",
        },
        "audio/x-ac3" | "audio/ac3" => "ac3",
        "audio/x-eac3" => "eac3",
        "audio/x-opus" => "opus",
        "audio/x-vorbis" => "vorbis",
        "audio/x-flac" => "flac",
        "audio/x-alac" => "alac",
        "audio/x-raw" => "pcm",
        "audio/AMR" => "amr_nb",
        "audio/AMR-WB" => "amr_wb",
        "audio/x-wma" => "wmav2",
        other => return other.rsplit('/').next().unwrap_or(other).trim_start_matches("x-").to_owned(),
    };
    name.to_owned()
}


/// Returns the image format a file's first bytes identify, or `None` for anything else.
///
/// The discoverer reports some images (AVIF, HEIC, TIFF, CMYK JPEG) as unreadable and takes its
/// whole time-out on others, and an animated GIF never reaches end of stream in GStreamer 1.22's
/// `avdec_gif`. Checking the signature first gives every image a clear `still_image` at once.
pub(crate) fn image_format(path: &Path) -> Option<&'static str> {
    use std::io::Read;

    let mut head = [0u8; 32];
    let mut file = std::fs::File::open(path).ok()?;
    let read = file.read(&mut head).ok()?;
    let head = &head[..read];
    let starts = |magic: &[u8]| head.starts_with(magic);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Some("JPEG");
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Some("PNG");
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Some("GIF");
    }
    if starts(b"BM") && head.len() >= 14 {
        return Some("BMP");
    }
    if starts(b"II*\0") || starts(b"MM\0*") {
        return Some("TIFF");
    }
    if starts(b"RIFF") && head.get(8..12) == Some(b"WEBP") {
        return Some("WebP");
    }
    // ISO-BMFF: `ftyp` at offset 4, then the major brand.
    if head.get(4..8) == Some(b"ftyp") {
        return match head.get(8..12)? {
            b"avif" | b"avis" => Some("AVIF"),
            b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" | b"mif1" | b"msf1" => Some("HEIF"),
            _ => None,
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orientation_tags() {
        assert_eq!(Orientation::from_tag("rotate-90"), Some(Orientation::Rotate90));
        assert_eq!(Orientation::from_tag("flip-rotate-270"), Some(Orientation::FlipRotate270));
        assert_eq!(Orientation::from_tag("rotate-45"), None);
        assert!(Orientation::Rotate270.swaps_dimensions());
        assert!(!Orientation::Rotate180.swaps_dimensions());
        assert_eq!(Orientation::Rotate90.flip_method(), "90r");
    }

    #[test]
    fn codec_names_follow_ffprobe() {
        init().unwrap();
        let cases = [
            ("video/x-h264", "h264"),
            ("video/x-h265", "hevc"),
            ("video/mpeg, mpegversion=(int)2", "mpeg2video"),
            ("video/mpeg, mpegversion=(int)4", "mpeg4"),
            ("audio/mpeg, mpegversion=(int)1, layer=(int)3", "mp3"),
            ("audio/mpeg, mpegversion=(int)4", "aac"),
            ("video/x-wmv, wmvversion=(int)2", "wmv2"),
            ("video/x-something-new", "something-new"),
        ];
        for (caps, expected) in cases {
            let caps: gst::Caps = caps.parse().unwrap();
            assert_eq!(codec_name(&caps), expected, "{caps}");
        }
    }

    #[test]
    fn frame_rates_snap_to_common_values() {
        assert_eq!(snap_frame_rate(29.88), (30000, 1001));
        assert_eq!(snap_frame_rate(30.0), (30, 1));
        assert_eq!(snap_frame_rate(59.9), (60000, 1001));
        assert_eq!(snap_frame_rate(23.9), (24000, 1001));
        assert_eq!(snap_frame_rate(10.0), (10, 1));
        assert_eq!(snap_frame_rate(27.5), (28, 1));
        assert_eq!(snap_frame_rate(0.2), (1, 1));
    }

    #[test]
    fn missing_file_is_source_not_found() {
        let error = probe(Path::new("/nonexistent/clip.mp4")).unwrap_err();
        assert_eq!(error.code, ErrorCode::SourceNotFound);
        assert!(error.message.contains("/nonexistent/clip.mp4"), "{}", error.message);
    }
}
