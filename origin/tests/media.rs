//! Media pipelines against the real fixtures (folder `$VYLUX_FIXTURES`, by default the `shared/fixtures`
//! folder beside the repository).
//!
//! Each test prints a notice and returns early when the fixture folder, a fixture, a GStreamer
//! element or a command-line tool it needs (ffprobe, ffmpeg, openssl) is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use vylux_common::jobs::{CoverOptions, PreviewSettings};
use vylux_common::layout::PreviewFormat;
use vylux_origin::media::{self, ErrorCode, Orientation};

/// Returns the fixture path, or `None` after printing why the test is skipped.
fn fixture(name: &str) -> Option<PathBuf> {
    let folder = std::env::var_os("VYLUX_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"));
    let path = folder.join(name);
    if !path.is_file() {
        eprintln!("skipped: fixture {} is missing", path.display());
        return None;
    }
    if media::init().is_err() || !media::missing_elements().is_empty() {
        eprintln!("skipped: GStreamer elements missing: {:?}", media::missing_elements());
        return None;
    }
    Some(path)
}

/// Checks that `tool` runs, printing a skip notice when it does not.
fn has_tool(tool: &str) -> bool {
    let found = Command::new(tool).arg("-version").output().is_ok();
    if !found {
        eprintln!("skipped: {tool} is not installed");
    }
    found
}

/// Returns `(codec, width, height, frame count)` of the first video stream, as ffprobe reads it.
fn ffprobe_video(path: &Path) -> (String, u32, u32, u64) {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-count_frames"])
        .args(["-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    assert!(output.status.success(), "ffprobe failed on {}: {}", path.display(), String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    let fields: Vec<&str> = text.trim().split(',').collect();
    assert!(fields.len() >= 4, "unexpected ffprobe output {text:?}");
    (
        fields[0].to_owned(),
        fields[1].parse().unwrap(),
        fields[2].parse().unwrap(),
        fields[3].parse().unwrap_or(0),
    )
}

#[test]
fn probe_reads_fixture_properties() {
    // (file, display width, height, orientation, frame rate, video codec, audio codec)
    let cases: [(&str, u32, u32, Orientation, (u32, u32), &str, Option<&str>); 7] = [
        ("h264-aac-640x360-25fps-5s.mp4", 640, 360, Orientation::Rotate0, (25, 1), "h264", Some("aac")),
        ("phone-ipad2-h264-aac-568x320-rot180.mov", 568, 320, Orientation::Rotate180, (30, 1), "h264", Some("aac")),
        ("phone-android-h264-4k60-rot90-jitter.mp4", 2160, 3840, Orientation::Rotate90, (60, 1), "h264", Some("aac")),
        ("noaudio-h264-1080x720-bt709.mp4", 1080, 720, Orientation::Rotate0, (30000, 1001), "h264", None),
        ("fps23.976-mpeg4-mp3-960x400.avi", 960, 400, Orientation::Rotate0, (24000, 1001), "mpeg4", Some("mp3")),
        ("bframes-pyramid-h264-800x640-noaudio.mp4", 1138, 640, Orientation::Rotate0, (30, 1), "h264", None),
        ("odd-dims-h264-518x488-vfr.mp4", 518, 488, Orientation::Rotate0, (30000, 1001), "h264", Some("aac")),
    ];
    for (name, width, height, orientation, frame_rate, video_codec, audio_codec) in cases {
        let Some(path) = fixture(name) else { continue };
        let info = media::probe(&path).unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!((info.width, info.height), (width, height), "{name} display size");
        assert_eq!(info.orientation, orientation, "{name} orientation");
        assert_eq!(info.frame_rate, Some(frame_rate), "{name} frame rate");
        assert_eq!(info.video_codec, video_codec, "{name} video codec");
        assert_eq!(info.audio_codec.as_deref(), audio_codec, "{name} audio codec");
    }
}

#[test]
fn probe_duration_of_five_second_clip() {
    let Some(path) = fixture("h264-aac-640x360-25fps-5s.mp4") else { return };
    let duration = media::probe(&path).unwrap().duration.expect("an MP4 states its duration");
    assert!((duration.as_secs_f64() - 5.039).abs() < 0.01, "duration {duration:?}");
}

#[test]
fn probe_rejects_sources_that_are_not_videos() {
    let cases = [
        ("audio-flac-44.1k-stereo.flac", ErrorCode::NoVideoStream),
        ("audio-mp3-48k-id3-cover-art.mp3", ErrorCode::NoVideoStream),
        ("exif-orientation-6-landscape.jpg", ErrorCode::StillImage),
        ("png-rgba-alpha.png", ErrorCode::StillImage),
        ("truncated-png.png", ErrorCode::DamagedSource),
        ("corrupt-mkv-bad-ebml-header.mkv", ErrorCode::DamagedSource),
    ];
    for (name, code) in cases {
        let Some(path) = fixture(name) else { continue };
        let error = media::probe(&path).expect_err(name);
        assert_eq!(error.code, code, "{name}: {error}");
        assert!(error.message.contains(name), "{name}: message {:?} does not name the file", error.message);
    }
}

#[test]
fn cover_of_rotated_phone_video_is_upright() {
    if !has_tool("ffprobe") {
        return;
    }
    let cases = [
        ("phone-android-hevc-1080p-rot90-metadata-track.mp4", 1080, 1920),
        ("phone-ipad2-h264-aac-568x320-rot180.mov", 568, 320),
        ("h264-aac-640x360-25fps-5s.mp4", 640, 360),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (name, width, height) in cases {
        let Some(path) = fixture(name) else { continue };
        let out = dir.path().join(format!("{name}.jpg"));
        let image = media::extract_cover(&path, &CoverOptions::default(), &out).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((image.width, image.height), (width, height), "{name} cover size");
        assert_eq!(image.size, std::fs::metadata(&out).unwrap().len(), "{name} reported size");
        let (codec, file_width, file_height, _) = ffprobe_video(&out);
        assert_eq!(codec, "mjpeg", "{name}");
        assert_eq!((file_width, file_height), (width, height), "{name} JPEG size");
    }
}

#[test]
fn cover_past_the_end_uses_last_frame() {
    let Some(path) = fixture("very-short-imovie-h264-aac-0.07s.mp4") else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cover.jpg");
    let options = CoverOptions { timestamp_sec: Some(30.0) };
    let image = media::extract_cover(&path, &options, &out).unwrap();
    assert_eq!((image.width, image.height), (640, 356));
    assert!(image.size > 1000, "cover of {} bytes", image.size);
}

#[test]
fn cover_of_audio_file_fails_with_code() {
    let Some(path) = fixture("audio-opus-48k.opus") else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cover.jpg");
    let error = media::extract_cover(&path, &CoverOptions::default(), &out).unwrap_err();
    assert_eq!(error.code, ErrorCode::NoVideoStream);
    assert!(!out.exists(), "no cover file is written on failure");
}

/// Returns `(canvas width, canvas height, frame count)` of an animated WebP, read by `webpmux`.
fn webp_animation_info(path: &Path) -> (u32, u32, u32) {
    let output = Command::new("webpmux").arg("-info").arg(path).output().expect("webpmux runs");
    assert!(output.status.success(), "webpmux failed on {}: {}", path.display(), String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    let canvas = text.lines().find_map(|line| line.strip_prefix("Canvas size: ")).expect("canvas size line");
    let (width, height) = canvas.split_once(" x ").expect("W x H");
    let frames = text
        .lines()
        .find_map(|line| line.strip_prefix("Number of frames: "))
        .map(|count| count.trim().parse().unwrap())
        .unwrap_or(1);
    assert!(text.contains("animation"), "{} is not an animation: {text}", path.display());
    (width.trim().parse().unwrap(), height.trim().parse().unwrap(), frames)
}

fn preview_settings(format: PreviewFormat, width: u32, start_sec: f64, duration_sec: f64) -> PreviewSettings {
    PreviewSettings { start_sec, duration_sec, width, fps: 10, format }
}

#[test]
fn preview_webp_of_rotated_video_is_upright() {
    if !has_tool("webpmux") {
        return;
    }
    // (file, width, expected height, start, duration, expected frames)
    let cases = [
        ("phone-ipad2-h264-aac-568x320-rot180.mov", 284, 160, 0.5, 2.0, 20),
        ("phone-iphone12promax-hevc10-hlg-rot90.mp4", 240, 426, 2.0, 3.0, 3),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (name, width, height, start, duration, frames) in cases {
        let Some(path) = fixture(name) else { continue };
        let out = dir.path().join(format!("{name}.webp"));
        let settings = preview_settings(PreviewFormat::Webp, width, start, duration);
        let preview = media::make_preview(&path, &settings, &out).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((preview.width, preview.height), (width, height), "{name} preview size");
        assert_eq!(preview.frames, frames, "{name} frame count");
        assert_eq!(webp_animation_info(&out), (width, height, frames), "{name} WebP file");
    }
}

#[test]
fn preview_gif_decodes_with_ffprobe() {
    if !has_tool("ffprobe") {
        return;
    }
    let Some(path) = fixture("h264-aac-640x360-25fps-5s.mp4") else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("preview.gif");
    let settings = preview_settings(PreviewFormat::Gif, 320, 1.0, 2.0);
    let preview = media::make_preview(&path, &settings, &out).unwrap();
    assert_eq!((preview.width, preview.height, preview.frames), (320, 180, 20));
    assert_eq!(ffprobe_video(&out), ("gif".to_owned(), 320, 180, 20));
}

#[test]
fn preview_of_image_fails_with_code() {
    let Some(path) = fixture("exif-orientation-1-landscape.jpg") else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("preview.webp");
    let settings = preview_settings(PreviewFormat::Webp, 480, 0.0, 3.0);
    let error = media::make_preview(&path, &settings, &out).unwrap_err();
    assert_eq!(error.code, ErrorCode::StillImage);
}
