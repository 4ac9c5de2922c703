//! Content types derived from object key extensions.
//!
//! The local backend stores no metadata besides the file, so it reports these types. The S3
//! backend sends them on upload when the caller gives none. The HLS and image entries are the
//! types Vylux stores its artifacts with.

use vylux_common::ObjectKey;

/// Extension (lower case) to content type.
const TYPES: &[(&str, &str)] = &[
    // HLS playlists and CMAF media.
    ("m3u8", "application/vnd.apple.mpegurl"),
    ("m4s", "video/iso.segment"),
    ("mp4", "video/mp4"),
    ("m4a", "audio/mp4"),
    ("m4v", "video/mp4"),
    ("ts", "video/mp2t"),
    ("vtt", "text/vtt"),
    // Images.
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("png", "image/png"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("avif", "image/avif"),
    ("heic", "image/heic"),
    ("heif", "image/heif"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("bmp", "image/bmp"),
    ("svg", "image/svg+xml"),
    // Other video and audio sources.
    ("mov", "video/quicktime"),
    ("webm", "video/webm"),
    ("mkv", "video/x-matroska"),
    ("avi", "video/x-msvideo"),
    ("mp3", "audio/mpeg"),
    ("flac", "audio/flac"),
    ("wav", "audio/wav"),
    ("ogg", "audio/ogg"),
    ("opus", "audio/opus"),
    ("aac", "audio/aac"),
    // Documents.
    ("json", "application/json"),
    ("txt", "text/plain; charset=utf-8"),
];

/// Returns the content type for an extension, compared without regard to case.
pub fn from_extension(extension: &str) -> Option<&'static str> {
    TYPES.iter().find(|(known, _)| known.eq_ignore_ascii_case(extension)).map(|(_, content_type)| *content_type)
}

/// Returns the content type for a key's extension, such as `video/iso.segment` for `seg_1.m4s`.
pub fn from_key(key: &ObjectKey) -> Option<&'static str> {
    from_extension(&key.extension()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hls_and_image_keys_have_types() {
        let cases = [
            ("videos/mo/movie/master.m3u8", Some("application/vnd.apple.mpegurl")),
            ("videos/mo/movie/video/r720_h264/seg_1.m4s", Some("video/iso.segment")),
            ("videos/mo/movie/video/r720_h264/init.mp4", Some("video/mp4")),
            ("uploads/Photo.JPG", Some("image/jpeg")),
            ("audio/so/song/waveform/waveform.json", Some("application/json")),
            ("uploads/archive.zip", None),
            ("uploads/no-extension", None),
        ];
        for (key, expected) in cases {
            assert_eq!(from_key(&ObjectKey::parse(key).unwrap()), expected, "{key}");
        }
    }
}
