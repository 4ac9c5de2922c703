//! What a transcode wrote, and its translation into the job result.

use std::path::PathBuf;

use vylux_common::jobs::{AudioTrack, EncryptionInfo, Streaming, TranscodeResult, VideoTrack};
use vylux_common::layout::MediaHash;

/// Id of the shared audio rendition, and its folder under `audio/`.
pub const AUDIO_TRACK_ID: &str = "und_aac_2ch";
/// Bit rate of the shared audio rendition, in bits per second.
pub const AUDIO_BITRATE: u64 = 128_000;
/// Channels of the shared audio rendition.
pub const AUDIO_CHANNELS: u32 = 2;

/// One written file, for upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageFile {
    /// Path relative to the package folder, with `/` separators, such as `video/r720_h264/seg_1.m4s`.
    pub relative_path: String,
    /// Absolute path on disk.
    pub path: PathBuf,
    /// Content type to store the object with.
    pub content_type: &'static str,
    /// Size in bytes.
    pub size: u64,
}

/// One rendition of a written package.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackSummary {
    /// `r720_h264` or `und_aac_2ch`.
    pub id: String,
    /// RFC 6381 codec string, such as `avc1.64001f` or `mp4a.40.2`.
    pub codec: String,
    /// Width and height in pixels; 0 for audio.
    pub width: u32,
    pub height: u32,
    /// Nominal bit rate in bits per second: the ladder's bandwidth, or the AAC bit rate.
    pub nominal_bitrate: u64,
    /// Highest segment bit rate in bits per second, as written.
    pub peak_bitrate: u64,
    /// Bit rate over the whole track in bits per second, as written.
    pub average_bitrate: u64,
    pub segment_count: u32,
    /// Sum of the segment durations in seconds.
    pub duration_sec: f64,
}

/// A finished HLS package on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct HlsPackage {
    /// Folder that contains `master.m3u8`.
    pub out_dir: PathBuf,
    /// Video renditions from the highest to the lowest.
    pub video: Vec<TrackSummary>,
    /// The shared audio rendition; `None` when the source has no usable audio.
    pub audio: Option<TrackSummary>,
    /// Output frame rate of every video rendition.
    pub frame_rate: (u32, u32),
    /// Key URI written into the playlists; `None` for a clear package.
    pub key_uri: Option<String>,
    /// Every file, segments first, then init segments, media playlists, and `master.m3u8` last,
    /// so that uploading in this order never exposes a playlist whose files are missing.
    pub files: Vec<PackageFile>,
}

impl HlsPackage {
    pub fn encrypted(&self) -> bool {
        self.key_uri.is_some()
    }

    /// Builds the `video:transcode` result for the media hash: storage keys under
    /// `videos/{p}/{hash}/`, and `encryption.scheme = "aes-128"` with the key URI as the key
    /// endpoint when encrypted.
    pub fn transcode_result(&self, hash: &MediaHash) -> TranscodeResult {
        let key = |relative: &str| hash.video_object(relative).as_str().to_owned();
        let audio_tracks: Vec<AudioTrack> = self
            .audio
            .iter()
            .map(|audio| AudioTrack {
                id: audio.id.clone(),
                role: "main".to_owned(),
                language: "und".to_owned(),
                codec: "aac".to_owned(),
                channels: AUDIO_CHANNELS,
                bitrate: AUDIO_BITRATE,
                playlist: key(&format!("audio/{}/playlist.m3u8", audio.id)),
                init: key(&format!("audio/{}/init.mp4", audio.id)),
                segment_count: audio.segment_count,
            })
            .collect();
        let audio_ids: Vec<String> = audio_tracks.iter().map(|audio| audio.id.clone()).collect();
        let video_tracks = self
            .video
            .iter()
            .map(|video| VideoTrack {
                id: video.id.clone(),
                codec: "h264".to_owned(),
                width: video.width,
                height: video.height,
                bitrate: video.nominal_bitrate,
                playlist: key(&format!("video/{}/playlist.m3u8", video.id)),
                init: key(&format!("video/{}/init.mp4", video.id)),
                segment_count: video.segment_count,
                audio_track_ids: audio_ids.clone(),
            })
            .collect();

        TranscodeResult {
            streaming: Streaming {
                protocol: "hls".to_owned(),
                container: "cmaf".to_owned(),
                encrypted: self.encrypted(),
                master_playlist: hash.master_playlist_key().as_str().to_owned(),
                default_audio_track_id: audio_ids.first().cloned(),
            },
            audio_tracks,
            video_tracks,
            encryption: self.key_uri.as_ref().map(|uri| EncryptionInfo {
                scheme: "aes-128".to_owned(),
                key_endpoint: uri.clone(),
                kid: None,
            }),
            uploaded_keys: self.files.iter().map(|file| key(&file.relative_path)).collect(),
        }
    }
}

/// Returns the content type of a package file by extension.
pub(crate) fn content_type(relative_path: &str) -> &'static str {
    match relative_path.rsplit('.').next() {
        Some("m3u8") => "application/vnd.apple.mpegurl",
        Some("m4s") => "video/iso.segment",
        Some("mp4") => "video/mp4",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(id: &str, width: u32, height: u32) -> TrackSummary {
        TrackSummary {
            id: id.to_owned(),
            codec: "avc1.64001f".to_owned(),
            width,
            height,
            nominal_bitrate: 2_500_000,
            peak_bitrate: 1,
            average_bitrate: 1,
            segment_count: 2,
            duration_sec: 7.0,
        }
    }

    fn file(relative_path: &str) -> PackageFile {
        PackageFile {
            relative_path: relative_path.to_owned(),
            path: PathBuf::from("/tmp").join(relative_path),
            content_type: content_type(relative_path),
            size: 1,
        }
    }

    #[test]
    fn result_with_audio_and_encryption() {
        let package = HlsPackage {
            out_dir: PathBuf::from("/tmp/out"),
            video: vec![track("r720_h264", 1280, 720)],
            audio: Some(TrackSummary { id: AUDIO_TRACK_ID.to_owned(), codec: "mp4a.40.2".to_owned(), ..track("", 0, 0) }),
            frame_rate: (30, 1),
            key_uri: Some("https://media.example.com/api/key/abcdef123456".to_owned()),
            files: vec![file("video/r720_h264/seg_1.m4s"), file("master.m3u8")],
        };
        let hash = MediaHash::parse("abcdef123456").unwrap();
        let result = package.transcode_result(&hash);
        assert_eq!(result.streaming.master_playlist, "videos/ab/abcdef123456/master.m3u8");
        assert!(result.streaming.encrypted);
        assert_eq!(result.streaming.default_audio_track_id.as_deref(), Some("und_aac_2ch"));
        assert_eq!(result.audio_tracks[0].playlist, "videos/ab/abcdef123456/audio/und_aac_2ch/playlist.m3u8");
        assert_eq!(result.video_tracks[0].audio_track_ids, vec!["und_aac_2ch".to_owned()]);
        assert_eq!(result.video_tracks[0].init, "videos/ab/abcdef123456/video/r720_h264/init.mp4");
        let encryption = result.encryption.unwrap();
        assert_eq!(encryption.scheme, "aes-128");
        assert_eq!(encryption.key_endpoint, "https://media.example.com/api/key/abcdef123456");
        assert_eq!(
            result.uploaded_keys,
            vec!["videos/ab/abcdef123456/video/r720_h264/seg_1.m4s", "videos/ab/abcdef123456/master.m3u8"]
        );
    }

    #[test]
    fn result_without_audio_or_encryption() {
        let package = HlsPackage {
            out_dir: PathBuf::from("/tmp/out"),
            video: vec![track("r240_h264", 320, 180)],
            audio: None,
            frame_rate: (25, 1),
            key_uri: None,
            files: vec![],
        };
        let result = package.transcode_result(&MediaHash::parse("123456").unwrap());
        assert!(!result.streaming.encrypted);
        assert_eq!(result.streaming.default_audio_track_id, None);
        assert!(result.encryption.is_none());
        assert!(result.audio_tracks.is_empty());
        assert!(result.video_tracks[0].audio_track_ids.is_empty());
        assert_eq!(result.streaming.master_playlist, "videos/12/123456/master.m3u8");
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(content_type("master.m3u8"), "application/vnd.apple.mpegurl");
        assert_eq!(content_type("video/r720_h264/seg_1.m4s"), "video/iso.segment");
        assert_eq!(content_type("audio/und_aac_2ch/init.mp4"), "video/mp4");
    }
}
