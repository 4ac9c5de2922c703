//! Media pipelines against the real fixtures (folder `$VYLUX_FIXTURES`, by default the `shared/fixtures`
//! folder beside the repository).
//!
//! Each test prints a notice and returns early when the fixture folder, a fixture, a GStreamer
//! element or a command-line tool it needs (ffprobe, ffmpeg, openssl) is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use vylux_common::jobs::{CoverOptions, PreviewSettings};
use vylux_common::layout::PreviewFormat;
use vylux_origin::media::{self, ContentKey, ErrorCode, HlsPackage, Orientation, TranscodeConfig};

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
    // An HLS playlist lists the stream twice (once per program), so only the first line counts.
    let first_line = text.lines().map(str::trim).find(|line| !line.is_empty()).unwrap_or_default();
    let fields: Vec<&str> = first_line.split(',').collect();
    assert!(fields.len() >= 4, "unexpected ffprobe output {text:?}");
    (
        fields[0].to_owned(),
        fields[1].parse().unwrap(),
        fields[2].parse().unwrap(),
        fields[3].parse().unwrap_or(0),
    )
}

/// File, display width, height, orientation, frame rate, video codec, audio codec.
type ProbeCase = (&'static str, u32, u32, Orientation, (u32, u32), &'static str, Option<&'static str>);

#[test]
fn probe_reads_fixture_properties() {
    let cases: [ProbeCase; 7] = [
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
        ("truncated-png.png", ErrorCode::StillImage),
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

/// A fast configuration for tests: x264 `ultrafast` and 2 s segments, so that a 5 s fixture
/// makes several segments.
fn quick_config(encryption: Option<ContentKey>) -> TranscodeConfig {
    TranscodeConfig {
        encryption,
        x264_preset: "ultrafast".to_owned(),
        segment_duration: std::time::Duration::from_secs(2),
        ..TranscodeConfig::default()
    }
}

/// Returns the `(file name, duration in seconds)` entries of a media playlist.
fn playlist_segments(path: &Path) -> Vec<(String, f64)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut segments = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some(value) = line.strip_prefix("#EXTINF:") {
            let duration: f64 = value.trim_end_matches(',').parse().unwrap();
            segments.push((lines.next().unwrap().to_owned(), duration));
        }
    }
    segments
}

/// Runs `ffmpeg -v error -i <input> -map 0 -f null -` and returns whether it succeeded and its
/// error output.
fn ffmpeg_decode(input: &str) -> (bool, String) {
    let output = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i", input, "-map", "0", "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// Returns whether the first video frame of `init + segment` is a keyframe, as ffprobe reads it.
fn segment_starts_with_keyframe(init: &[u8], segment: &[u8], scratch: &Path) -> bool {
    let joined = scratch.join("joined.mp4");
    std::fs::write(&joined, [init, segment].concat()).unwrap();
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "frame=key_frame", "-of", "csv=p=0"])
        .args(["-read_intervals", "%+#1"])
        .arg(&joined)
        .output()
        .expect("ffprobe runs");
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines().next().and_then(|line| line.split(',').next()) == Some("1")
}

fn check_layout(package: &HlsPackage, renditions: &[&str], audio: bool) {
    let out = &package.out_dir;
    assert!(out.join("master.m3u8").is_file());
    for id in renditions {
        assert!(out.join(format!("video/{id}/init.mp4")).is_file(), "{id} init");
        assert!(out.join(format!("video/{id}/playlist.m3u8")).is_file(), "{id} playlist");
        assert!(out.join(format!("video/{id}/seg_1.m4s")).is_file(), "{id} first segment");
    }
    assert_eq!(out.join("audio/und_aac_2ch/playlist.m3u8").is_file(), audio, "audio rendition");
    let ids: Vec<&str> = package.video.iter().map(|track| track.id.as_str()).collect();
    assert_eq!(ids, renditions);
    for file in &package.files {
        assert_eq!(std::fs::metadata(&file.path).unwrap().len(), file.size, "{}", file.relative_path);
    }
    assert_eq!(package.files.last().map(|file| file.relative_path.as_str()), Some("master.m3u8"));
}

#[test]
fn transcode_clear_package_plays_end_to_end() {
    if !has_tool("ffmpeg") || !has_tool("ffprobe") {
        return;
    }
    let Some(path) = fixture("h264-aac-640x360-25fps-5s.mp4") else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("package");
    let reported = std::cell::RefCell::new(Vec::new());
    let package = media::transcode_hls(&path, &out, &quick_config(None), &|percent| reported.borrow_mut().push(percent))
        .unwrap();

    check_layout(&package, &["r360_h264", "r240_h264"], true);
    assert_eq!(reported.borrow().last(), Some(&100), "progress ends at 100");
    assert!(reported.borrow().windows(2).all(|pair| pair[0] < pair[1]), "progress rises: {:?}", reported.borrow());

    // Renditions are cut at the same times, every segment starts on a keyframe, and the
    // durations add up to the source's 5.0 s of video within half a frame (20 ms): the last
    // frame is kept.
    let reference = playlist_segments(&out.join("video/r360_h264/playlist.m3u8"));
    assert!(reference.len() >= 3, "2 s segments of a 5 s clip: {reference:?}");
    for track in &package.video {
        let folder = out.join(format!("video/{}", track.id));
        let segments = playlist_segments(&folder.join("playlist.m3u8"));
        assert_eq!(segments, reference, "{} is not aligned with r360_h264", track.id);
        let init = std::fs::read(folder.join("init.mp4")).unwrap();
        for (name, _) in &segments {
            let segment = std::fs::read(folder.join(name)).unwrap();
            assert!(segment_starts_with_keyframe(&init, &segment, dir.path()), "{}/{name} starts without a keyframe", track.id);
        }
        let total: f64 = segments.iter().map(|(_, duration)| duration).sum();
        assert!((total - 5.0).abs() <= 0.02, "{} lasts {total} s", track.id);
    }

    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    for attribute in ["BANDWIDTH=", "AVERAGE-BANDWIDTH=", "RESOLUTION=640x360", "RESOLUTION=426x240", "FRAME-RATE=25.000", "AUDIO=\"audio\"", "mp4a.40.2\""] {
        assert!(master.contains(attribute), "master playlist lacks {attribute}:\n{master}");
    }
    assert!(master.contains("CODECS=\"avc1."), "{master}");

    let (ok, errors) = ffmpeg_decode(out.join("master.m3u8").to_str().unwrap());
    assert!(ok && errors.is_empty(), "ffmpeg failed: {errors}");
}

#[test]
fn transcode_rotated_phone_video_is_upright() {
    if !has_tool("ffprobe") {
        return;
    }
    let Some(path) = fixture("phone-iphone12promax-hevc10-hlg-rot90.mp4") else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("package");
    let package = media::transcode_hls(&path, &out, &quick_config(None), &|_| {}).unwrap();
    let expected = [("r1080_h264", 608, 1080), ("r720_h264", 406, 720), ("r480_h264", 270, 480), ("r360_h264", 202, 360), ("r240_h264", 136, 240)];
    check_layout(&package, &expected.map(|(id, _, _)| id), true);
    for (id, width, height) in expected {
        let playlist = out.join(format!("video/{id}/playlist.m3u8"));
        let (codec, file_width, file_height, frames) = ffprobe_video(&playlist);
        assert_eq!(codec, "h264", "{id}");
        assert_eq!((file_width, file_height), (width, height), "{id} size");
        assert!(frames > 0, "{id} has no frames");
    }
}

#[test]
fn transcode_of_damaged_source_fails_with_code() {
    let cases = [
        ("corrupt-mkv-bad-ebml-header.mkv", ErrorCode::DamagedSource),
        ("audio-wav-pcm16-44.1k-mono.wav", ErrorCode::NoVideoStream),
        ("webp-lossy-128x128.webp", ErrorCode::StillImage),
    ];
    for (name, code) in cases {
        let Some(path) = fixture(name) else { continue };
        let dir = tempfile::tempdir().unwrap();
        let error = media::transcode_hls(&path, dir.path(), &quick_config(None), &|_| {}).unwrap_err();
        assert_eq!(error.code, code, "{name}: {error}");
        assert!(!dir.path().join("master.m3u8").exists(), "{name} left a master playlist");
    }
}

/// Serves `root` over HTTP on 127.0.0.1 with the current value of `key` at `/key` (404 when
/// `None`). Returns the base URL. The server thread lives until the test process ends.
fn serve(root: PathBuf, key: std::sync::Arc<std::sync::Mutex<Option<[u8; 16]>>>) -> String {
    use std::io::{BufRead, BufReader, Write};

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut header = String::new();
            while reader.read_line(&mut header).map(|read| read > 2).unwrap_or(false) {
                header.clear();
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let body = if path == "/key" {
                key.lock().unwrap().map(|key| key.to_vec())
            } else if path.contains("..") {
                None
            } else {
                std::fs::read(root.join(path.trim_start_matches('/'))).ok()
            };
            let response = match body {
                Some(body) => [format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).into_bytes(), body].concat(),
                None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
            };
            let _ = stream.write_all(&response);
        }
    });
    base
}

#[test]
fn transcode_encrypted_package_needs_key() {
    if !has_tool("ffmpeg") || !has_tool("openssl") {
        return;
    }
    let Some(path) = fixture("h264-aac-640x360-25fps-5s.mp4") else { return };
    let key: [u8; 16] = *b"vylux-test-key16";
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("package");

    // The server starts first so that the package can name its key URI.
    let served_key = std::sync::Arc::new(std::sync::Mutex::new(Some(key)));
    let base = serve(out.clone(), served_key.clone());
    let content_key = ContentKey { key, key_uri: format!("{base}/key") };
    let package = media::transcode_hls(&path, &out, &quick_config(Some(content_key)), &|_| {}).unwrap();
    assert!(package.encrypted());

    // Every media segment is AES-128-CBC ciphertext that openssl decrypts into an fMP4 fragment.
    let mut checked = 0;
    for folder in ["video/r360_h264", "video/r240_h264", "audio/und_aac_2ch"] {
        let playlist = std::fs::read_to_string(out.join(folder).join("playlist.m3u8")).unwrap();
        let mut iv = None;
        for line in playlist.lines() {
            if let Some(attributes) = line.strip_prefix("#EXT-X-KEY:") {
                assert!(attributes.starts_with("METHOD=AES-128,URI=\""), "{attributes}");
                iv = attributes.split("IV=0x").nth(1).map(str::to_owned);
            } else if line.ends_with(".m4s") {
                let iv = iv.take().expect("a key tag before each segment");
                let segment = out.join(folder).join(line);
                let ciphertext = std::fs::read(&segment).unwrap();
                assert_eq!(ciphertext.len() % 16, 0, "{folder}/{line} is not whole AES blocks");
                let output = Command::new("openssl")
                    .args(["aes-128-cbc", "-d", "-K", &hex::encode(key), "-iv", &iv, "-in"])
                    .arg(&segment)
                    .output()
                    .unwrap();
                assert!(output.status.success(), "openssl failed on {folder}/{line}: {}", String::from_utf8_lossy(&output.stderr));
                let plaintext = output.stdout;
                assert!(plaintext.len() > 8 && matches!(&plaintext[4..8], b"moof" | b"styp"), "{folder}/{line} is no fMP4 fragment");
                assert!(!matches!(&ciphertext[4..8], b"moof" | b"styp"), "{folder}/{line} is stored in clear");
                checked += 1;
            }
        }
    }
    assert!(checked >= 9, "only {checked} segments checked");

    let (ok, errors) = ffmpeg_decode(&format!("{base}/master.m3u8"));
    assert!(ok && errors.is_empty(), "ffmpeg failed with the key: {errors}");

    *served_key.lock().unwrap() = None;
    let (ok, _) = ffmpeg_decode(&format!("{base}/master.m3u8"));
    assert!(!ok, "ffmpeg decoded the package without the key");
}

/// Opt-in (`VYLUX_MEDIA_ALL=1`): cover, preview and transcode of every video fixture, printed as
/// a table of file, result and time. Slow, so CI does not run it.
#[test]
fn every_video_fixture_opt_in() {
    if std::env::var_os("VYLUX_MEDIA_ALL").is_none() {
        eprintln!("skipped: set VYLUX_MEDIA_ALL=1 to run every video fixture");
        return;
    }
    let Some(probe_path) = fixture("MANIFEST.md") else { return };
    let folder = probe_path.parent().unwrap().to_path_buf();
    let mut names: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| [".mp4", ".mov", ".mkv", ".webm", ".avi", ".ts", ".flv", ".wmv", ".3gp"].iter().any(|ext| name.ends_with(ext)))
        .collect();
    names.sort();
    println!("| file | cover | preview | transcode | time |\n| --- | --- | --- | --- | --- |");
    let summarize = |result: Result<String, media::MediaError>| match result {
        Ok(text) => text,
        Err(error) => format!("{}: {}", error.code, error.message.chars().take(80).collect::<String>()),
    };
    for name in names {
        let path = folder.join(&name);
        let dir = tempfile::tempdir().unwrap();
        let started = std::time::Instant::now();
        let cover = media::extract_cover(&path, &CoverOptions::default(), &dir.path().join("cover.jpg"))
            .map(|image| format!("{}x{}", image.width, image.height));
        let settings = PreviewSettings { start_sec: 2.0, duration_sec: 3.0, width: 480, fps: 10, format: PreviewFormat::Webp };
        let preview = media::make_preview(&path, &settings, &dir.path().join("preview.webp"))
            .map(|preview| format!("{}x{} {} frames", preview.width, preview.height, preview.frames));
        let config = TranscodeConfig { x264_preset: "veryfast".to_owned(), ..TranscodeConfig::default() };
        let transcode = media::transcode_hls(&path, &dir.path().join("hls"), &config, &|_| {}).map(|package| {
            let decoded = ffmpeg_decode(dir.path().join("hls/master.m3u8").to_str().unwrap());
            let rungs: Vec<String> = package.video.iter().map(|track| format!("{}x{}", track.width, track.height)).collect();
            format!("{} ({:.2} s, ffmpeg {})", rungs.join(" "), package.video[0].duration_sec, if decoded.0 { "ok" } else { "FAILED" })
        });
        println!(
            "| {name} | {} | {} | {} | {:.1} s |",
            summarize(cover),
            summarize(preview),
            summarize(transcode),
            started.elapsed().as_secs_f64()
        );
    }
}

/// Returns the display-matrix rotation ffprobe reads from a file's first video stream, 0 if none.
fn display_rotation(path: &Path) -> i64 {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "stream_side_data=rotation", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    let text = String::from_utf8(output.stdout).unwrap();
    text.split(|c: char| !(c.is_ascii_digit() || c == '-')).find_map(|part| part.parse().ok()).unwrap_or(0)
}

/// Returns the mean luma of an image as ffmpeg's `signalstats` reports it.
fn mean_luma(path: &Path) -> f64 {
    let movie = format!("movie={},signalstats", path.display());
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-f", "lavfi", &movie, "-show_entries", "frame_tags=lavfi.signalstats.YAVG", "-of", "csv=p=0"])
        .output()
        .expect("ffprobe runs");
    let text = String::from_utf8(output.stdout).unwrap();
    text.trim().lines().next().and_then(|line| line.trim().parse().ok()).unwrap_or_else(|| panic!("no YAVG in {text:?}"))
}

#[test]
fn rotated_renditions_carry_no_display_rotation() {
    if !has_tool("ffprobe") {
        return;
    }
    let Some(path) = fixture("phone-ipad2-h264-aac-568x320-rot180.mov") else { return };
    assert_ne!(display_rotation(&path), 0, "the fixture itself should carry a rotation");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("package");
    media::transcode_hls(&path, &out, &quick_config(None), &|_| {}).unwrap();
    // The frames are already turned upright, so a display matrix would make players turn them again.
    let init = out.join("video/r240_h264/init.mp4");
    assert_eq!(display_rotation(&init), 0, "{} carries a rotation", init.display());
}

#[test]
fn cover_luma_matches_ffmpeg_frame() {
    if !has_tool("ffmpeg") || !has_tool("ffprobe") {
        return;
    }
    let Some(path) = fixture("h264-aac-640x360-25fps-5s.mp4") else { return };
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("cover.jpg");
    media::extract_cover(&path, &CoverOptions::default(), &ours).unwrap();
    let reference = dir.path().join("reference.jpg");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-ss", "1", "-i"])
        .arg(&path)
        .args(["-frames:v", "1"])
        .arg(&reference)
        .status()
        .unwrap();
    assert!(status.success());
    // A cover written without expanding limited-range video is about 18 levels brighter here.
    let difference = (mean_luma(&ours) - mean_luma(&reference)).abs();
    assert!(difference < 4.0, "cover luma differs from ffmpeg's frame by {difference:.1}");
}

#[test]
fn probe_reports_images_as_still() {
    // These include formats the discoverer cannot read and an animated GIF that never ends in
    // GStreamer 1.22, so each must be recognised before discovery.
    let names = [
        "avif-alpha.avif",
        "heic-libheif-example.heic",
        "tiff-lzw-rgb.tif",
        "bmp-24bit.bmp",
        "cmyk-jpeg-adobe-no-icc-100x100.jpg",
        "gif-animated-42frames.gif",
        "webp-animated-42frames.webp",
        "png-rgba-alpha.png",
    ];
    for name in names {
        let Some(path) = fixture(name) else { continue };
        let error = media::probe(&path).expect_err(name);
        assert_eq!(error.code, ErrorCode::StillImage, "{name}: {error}");
    }
}

#[test]
fn transcode_ignores_false_container_duration() {
    // This fragmented MP4 has 30 frames at 29.97 fps, shown from 0.067 s (its audio starts at 0)
    // to 1.068 s, but its header claims 143165 s.
    let Some(path) = fixture("fmp4-h264-aac-1080x720.mp4") else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("package");
    media::transcode_hls(&path, &out, &quick_config(None), &|_| {}).unwrap();
    let total: f64 = playlist_segments(&out.join("video/r720_h264/playlist.m3u8")).iter().map(|(_, seconds)| seconds).sum();
    // Within one frame (33.4 ms); repeating the last frame up to the stated end added a second.
    assert!((total - 1.068).abs() <= 0.0334, "r720 lasts {total:.3} s, the source ends at 1.068 s");
}

#[test]
fn preview_of_short_stream_without_duration() {
    // A 1 s MPEG-TS whose duration the discoverer cannot tell: the default 2 s start lies past its end.
    let Some(path) = fixture("odd-dims-hevc-854x480.ts") else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("preview.webp");
    let preview = media::make_preview(&path, &preview_settings(PreviewFormat::Webp, 160, 2.0, 3.0), &out).unwrap();
    assert!(preview.frames > 0, "no frames");
    assert_eq!(preview.size, std::fs::metadata(&out).unwrap().len());
}

#[test]
fn audio_rendition_is_48_khz() {
    if !has_tool("ffprobe") {
        return;
    }
    // The source's audio is 8 kHz unsigned PCM.
    let Some(path) = fixture("mov-mjpeg-pcm_u8-640x480.mov") else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("package");
    media::transcode_hls(&path, &out, &quick_config(None), &|_| {}).unwrap();
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "a:0", "-show_entries", "stream=codec_name,sample_rate,channels", "-of", "csv=p=0"])
        .arg(out.join("audio/und_aac_2ch/playlist.m3u8"))
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    let first_line = text.lines().next().unwrap_or_default().trim().to_owned();
    assert_eq!(first_line, "aac,48000,2", "ffprobe read {text:?}");
}

#[test]
fn audio_priming_is_hidden_by_edit_list() {
    // 2.000 s of 1080p50 video with PCM audio: a 21 ms AAC priming would be more than one frame.
    let Some(path) = fixture("mov-h264-1080p50-pcm_s16le.mov") else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("package");
    media::transcode_hls(&path, &out, &quick_config(None), &|_| {}).unwrap();
    let audio = out.join("audio/und_aac_2ch");
    let total: f64 = playlist_segments(&audio.join("playlist.m3u8")).iter().map(|(_, seconds)| seconds).sum();
    assert!((total - 2.0).abs() <= 0.02, "audio lasts {total:.4} s, the source 2.000 s");
    let init = std::fs::read(audio.join("init.mp4")).unwrap();
    assert!(init.windows(4).any(|window| window == b"elst"), "the audio init segment has no edit list");
}

#[test]
fn edit_list_after_the_only_keyframe_decodes() {
    if !has_tool("ffmpeg") {
        return;
    }
    // 0.099 s shown from the middle of a 0.717 s track whose only keyframe is its first sample.
    let Some(path) = fixture("vfr-apple-h264-268x156-0.1s-noaudio.mov") else { return };
    let info = media::probe(&path).unwrap();
    assert_eq!(info.access, media::SourceAccess::Sequential, "{info:?}");
    let dir = tempfile::tempdir().unwrap();
    let cover = media::extract_cover(&path, &CoverOptions::default(), &dir.path().join("cover.jpg")).unwrap();
    assert_eq!((cover.width, cover.height), (268, 156));

    let out = dir.path().join("package");
    let package = media::transcode_hls(&path, &out, &quick_config(None), &|_| {}).unwrap();
    let frame = 1.0 / info.fps().expect("a measured frame rate");
    for track in &package.video {
        assert!((track.duration_sec - 0.099).abs() <= frame + 1e-6, "{} lasts {:.4} s", track.id, track.duration_sec);
    }
    let (ok, errors) = ffmpeg_decode(out.join("master.m3u8").to_str().unwrap());
    assert!(ok, "ffmpeg failed: {errors}");
    assert!(errors.is_empty(), "ffmpeg reported errors: {errors}");
}

/// Returns the container duration ffprobe reads, in seconds.
fn ffprobe_duration(path: &Path) -> f64 {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&output.stdout).trim().parse().expect("ffprobe prints a duration")
}

#[test]
fn irregular_frame_timing_keeps_the_duration() {
    if !has_tool("ffprobe") {
        return;
    }
    // 36 VP8 frames over 4.24 s with gaps of up to 1.4 s, the last one at 4.218 s.
    let Some(path) = fixture("vp8-1080p30-noaudio.webm") else { return };
    let expected = ffprobe_duration(&path);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("package");
    let package = media::transcode_hls(&path, &out, &quick_config(None), &|_| {}).unwrap();
    for track in &package.video {
        let total: f64 = playlist_segments(&out.join(format!("video/{}/playlist.m3u8", track.id))).iter().map(|(_, seconds)| seconds).sum();
        assert!((total - expected).abs() <= 1.0 / 30.0 + 1e-6, "{} lasts {total:.4} s, the source {expected:.4} s", track.id);
    }
}

#[test]
fn bench_measures_both_ladders() {
    if !has_tool("ffmpeg") {
        return;
    }
    let Some(path) = fixture("h264-aac-640x360-25fps-5s.mp4") else { return };
    let dir = tempfile::tempdir().unwrap();
    // Two runs, so that each side also runs second once.
    let report = media::bench::bench_transcode(&path, dir.path(), &quick_config(None), 2).unwrap();
    assert_eq!(report.rungs, ["r360_h264 640x360", "r240_h264 426x240"]);
    assert_eq!(report.runs, 2);
    for (name, cost) in [("ours", report.ours), ("ffmpeg", report.ffmpeg)] {
        assert!(cost.wall > std::time::Duration::ZERO, "{name}: {cost:?}");
        assert!(cost.cpu > std::time::Duration::ZERO, "{name}: {cost:?}");
        assert!(cost.peak_memory > 1 << 20, "{name}: {cost:?}");
    }
    // Both sides wrote the same rungs.
    for rung in ["r360_h264", "r240_h264"] {
        assert!(dir.path().join(format!("vylux/video/{rung}/playlist.m3u8")).is_file(), "ours lacks {rung}");
        assert!(dir.path().join(format!("ffmpeg/{rung}/playlist.m3u8")).is_file(), "ffmpeg lacks {rung}");
    }
    let table = report.to_string();
    assert!(table.contains("| ratio vylux/ffmpeg |"), "{table}");
    assert!(table.contains("runs: 2 each"), "{table}");
    assert!(report.retained_memory > 1 << 20, "{report:?}");
    assert!(table.contains("resident memory after a run"), "{table}");

    let error = media::bench::bench_transcode(&path, dir.path(), &quick_config(None), 0).unwrap_err();
    assert!(error.message.contains("got 0"), "{}", error.message);
}

#[test]
fn last_frame_without_duration_is_kept() {
    // The container's track duration ends at the last frame's timestamp (0.968 s), so that frame
    // is cut, and the decoder gives the frame before it no duration.
    let Some(path) = fixture("two-video-tracks-one-empty-h264-aac.mp4") else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("package");
    media::transcode_hls(&path, &out, &quick_config(None), &|_| {}).unwrap();
    let total: f64 = playlist_segments(&out.join("video/r720_h264/playlist.m3u8")).iter().map(|(_, seconds)| seconds).sum();
    assert!((total - 0.968).abs() <= 0.002, "r720 lasts {total:.4} s; the frame at 0.934 s must be shown until 0.968 s");
}
