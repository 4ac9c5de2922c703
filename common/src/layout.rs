//! Media hashes and the media-bucket layout.
//!
//! ```text
//! videos/{p}/{hash}/cover.jpg
//! videos/{p}/{hash}/preview.webp | preview.gif
//! videos/{p}/{hash}/master.m3u8
//! videos/{p}/{hash}/audio/{track}/{init.mp4, playlist.m3u8, seg_N.m4s}
//! videos/{p}/{hash}/video/{rung}/{init.mp4, playlist.m3u8, seg_N.m4s}
//! images/{p}/{hash}/{variant}.{ext}
//! cache/{sha256}.{ext}
//! ```
//!
//! `{p}` is the first two characters of the hash, or the whole hash when it is shorter.

use std::fmt;

use crate::image::ImageFormat;
use crate::key::{percent_decode_strict, ObjectKey};

/// Longest accepted media hash, in bytes.
pub const MAX_HASH_LEN: usize = 128;

/// Reason a media hash or a `/stream` path was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    #[error("hash is required")]
    EmptyHash,
    #[error(
        "invalid hash {0:?}: use 1 to {MAX_HASH_LEN} characters from A-Z, a-z, 0-9, '-', '_' and '.', starting with a letter or digit"
    )]
    InvalidHash(String),
    #[error("invalid variant {0:?}: use 1 to 64 characters from A-Z, a-z, 0-9, '-' and '_'")]
    InvalidVariant(String),
    #[error("invalid path {0:?}")]
    InvalidPath(String),
    #[error("unsupported file type {0:?}")]
    UnsupportedFileType(String),
}

/// A caller's media hash, such as `movie-2026-04-01` or a hex SHA-256.
///
/// Allowed: 1 to [`MAX_HASH_LEN`] ASCII letters, digits, `-`, `_` and `.`, starting with a letter or
/// digit. A hash is therefore always one safe path segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MediaHash(String);

impl MediaHash {
    pub fn parse(text: &str) -> Result<Self, LayoutError> {
        if text.is_empty() {
            return Err(LayoutError::EmptyHash);
        }
        let first_ok = text.as_bytes()[0].is_ascii_alphanumeric();
        let rest_ok = text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if text.len() > MAX_HASH_LEN || !first_ok || !rest_ok {
            let shown: String = text.chars().take(MAX_HASH_LEN + 1).collect();
            return Err(LayoutError::InvalidHash(shown));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns the folder prefix `{p}`: the first two characters, or the whole hash if shorter.
    pub fn prefix(&self) -> &str {
        &self.0[..self.0.len().min(2)]
    }

    /// Returns `videos/{p}/{hash}`.
    pub fn video_folder(&self) -> String {
        format!("videos/{}/{}", self.prefix(), self.0)
    }

    /// Returns `images/{p}/{hash}`.
    pub fn image_folder(&self) -> String {
        format!("images/{}/{}", self.prefix(), self.0)
    }

    pub fn cover_key(&self) -> ObjectKey {
        self.video_object("cover.jpg")
    }

    pub fn preview_key(&self, format: PreviewFormat) -> ObjectKey {
        self.video_object(&format!("preview.{}", format.extension()))
    }

    pub fn master_playlist_key(&self) -> ObjectKey {
        self.video_object("master.m3u8")
    }

    /// Returns the key of a file inside the video folder; `relative` must be a valid key itself.
    pub fn video_object(&self, relative: &str) -> ObjectKey {
        ObjectKey::parse(&format!("{}/{relative}", self.video_folder()))
            .expect("a valid hash and a valid relative key make a valid key")
    }

    /// Returns `images/{p}/{hash}/{variant}.{ext}`. A variant name is 1 to 64 ASCII letters,
    /// digits, `-` and `_`.
    pub fn image_variant_key(&self, variant: &str, format: ImageFormat) -> Result<ObjectKey, LayoutError> {
        let valid = !variant.is_empty()
            && variant.len() <= 64
            && variant.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
        if !valid {
            return Err(LayoutError::InvalidVariant(printable(variant)));
        }
        Ok(self.image_object(&format!("{variant}.{}", format.extension())))
    }

    fn image_object(&self, relative: &str) -> ObjectKey {
        ObjectKey::parse(&format!("{}/{relative}", self.image_folder()))
            .expect("a valid hash and a valid variant make a valid key")
    }
}

impl fmt::Display for MediaHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Animated preview format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PreviewFormat {
    #[default]
    Webp,
    Gif,
}

impl PreviewFormat {
    pub fn extension(self) -> &'static str {
        match self {
            Self::Webp => "webp",
            Self::Gif => "gif",
        }
    }

    pub fn mime_type(self) -> &'static str {
        match self {
            Self::Webp => "image/webp",
            Self::Gif => "image/gif",
        }
    }
}

/// Returns `cache/{processing_hash}.{ext}`, the `/img` storage-cache object.
pub fn image_cache_key(processing_hash: &str, format: ImageFormat) -> ObjectKey {
    ObjectKey::parse(&format!("cache/{processing_hash}.{}", format.extension()))
        .expect("a hex digest and an extension make a valid key")
}

/// A `/stream/{hash}/{path}` request resolved to a media-bucket object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamObject {
    pub hash: MediaHash,
    pub key: ObjectKey,
    pub content_type: &'static str,
}

/// Content type of a file `/stream` may serve, by extension; `None` for anything else.
pub fn stream_content_type(extension: &str) -> Option<&'static str> {
    match extension {
        "m3u8" => Some("application/vnd.apple.mpegurl"),
        "m4s" => Some("video/iso.segment"),
        "mp4" => Some("video/mp4"),
        "jpg" | "jpeg" => Some("image/jpeg"),
        "webp" => Some("image/webp"),
        _ => None,
    }
}

/// Resolves the raw (still percent-encoded) tail of a `/stream/` URL, `{hash}/{path}`, to an object
/// under `videos/{p}/{hash}/`.
///
/// The path is decoded once and must be a valid key with no `..` anywhere, and its extension must
/// be one `/stream` serves.
pub fn resolve_stream_path(raw: &str) -> Result<StreamObject, LayoutError> {
    let invalid = || LayoutError::InvalidPath(printable(raw));
    let (raw_hash, raw_path) = raw.split_once('/').ok_or_else(invalid)?;
    let hash_text = percent_decode_strict(raw_hash).map_err(|_| invalid())?;
    let hash = MediaHash::parse(&hash_text)?;
    let path = percent_decode_strict(raw_path).map_err(|_| invalid())?;
    if path.is_empty() || path.contains("..") {
        return Err(invalid());
    }
    let relative = ObjectKey::parse(&path).map_err(|_| invalid())?;
    let extension = relative.extension().unwrap_or_default();
    let content_type =
        stream_content_type(&extension).ok_or_else(|| LayoutError::UnsupportedFileType(printable(&path)))?;
    let key = hash.video_object(relative.as_str());
    Ok(StreamObject { hash, key, content_type })
}

fn printable(text: &str) -> String {
    text.chars().take(256).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn prefix_of_short_hash() {
        assert_eq!(MediaHash::parse("a").unwrap().prefix(), "a");
        assert_eq!(MediaHash::parse("movie-2026-04-01").unwrap().video_folder(), "videos/mo/movie-2026-04-01");
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn hash_rules() {
        for good in ["a", "movie-2026-04-01", "A_b.c", &"f".repeat(64)] {
            assert!(MediaHash::parse(good).is_ok(), "{good:?}");
        }
        for bad in ["", ".", "..", ".hidden", "-x", "a/b", "a b", "a%2f", "é", &"a".repeat(MAX_HASH_LEN + 1)] {
            assert!(MediaHash::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn stream_paths() {
        let object = resolve_stream_path("abcdef1234567890/master.m3u8").unwrap();
        assert_eq!(object.key.as_str(), "videos/ab/abcdef1234567890/master.m3u8");
        assert_eq!(object.content_type, "application/vnd.apple.mpegurl");
        let segment = resolve_stream_path("abc/video/r720_h264/seg_1.m4s").unwrap();
        assert_eq!(segment.content_type, "video/iso.segment");
        assert!(matches!(resolve_stream_path("abc/../secret.m3u8"), Err(LayoutError::InvalidPath(_))));
        assert!(matches!(resolve_stream_path("abc/a.txt"), Err(LayoutError::UnsupportedFileType(_))));
        assert!(resolve_stream_path("abc/").is_err());
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn image_variant_rejects_slash() {
        let hash = MediaHash::parse("ab12").unwrap();
        assert_eq!(hash.image_variant_key("thumb", ImageFormat::Webp).unwrap().as_str(), "images/ab/ab12/thumb.webp");
        assert!(hash.image_variant_key("a/b", ImageFormat::Webp).is_err());
        assert!(hash.image_variant_key("..", ImageFormat::Webp).is_err());
    }
}
