//! `/img` transformation options, output formats and the processed-image cache key.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::key::{percent_decode_strict, KeyError, ObjectKey};

/// Largest width or height an `/img` URL may ask for, in pixels.
pub const MAX_IMAGE_DIMENSION: u32 = 8192;

/// Reason an `/img` option string, format or source path was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    #[error("bad options: {0:?} is not a letter followed by an integer")]
    MalformedOption(String),
    #[error("bad options: unknown option {0:?} (expected w, h or q)")]
    UnknownOption(String),
    #[error("bad options: width and height must be between 0 and {MAX_IMAGE_DIMENSION}, got {0:?}")]
    DimensionOutOfRange(String),
    #[error("bad options: quality must be between 1 and 100, got {0:?}")]
    QualityOutOfRange(String),
    #[error("bad options: no options given")]
    EmptyOptions,
    #[error("unsupported output format {0:?} (expected webp, avif, jpg, jpeg, png or gif)")]
    UnsupportedFormat(String),
    #[error("image source path {0:?} has no output format extension")]
    MissingFormat(String),
    #[error("invalid source encoding: {0}")]
    Source(#[from] KeyError),
}

/// Output format of an `/img` request or an image job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    Webp,
    Avif,
    Jpg,
    Png,
    Gif,
}

impl ImageFormat {
    /// Canonical file extension; JPEG is always `jpg`.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Webp => "webp",
            Self::Avif => "avif",
            Self::Jpg => "jpg",
            Self::Png => "png",
            Self::Gif => "gif",
        }
    }

    pub fn mime_type(self) -> &'static str {
        match self {
            Self::Webp => "image/webp",
            Self::Avif => "image/avif",
            Self::Jpg => "image/jpeg",
            Self::Png => "image/png",
            Self::Gif => "image/gif",
        }
    }

    /// Quality used when the URL gives none. PNG and GIF ignore quality, so theirs is 0.
    pub fn default_quality(self) -> u32 {
        match self {
            Self::Webp | Self::Jpg => 80,
            Self::Avif => 50,
            Self::Png | Self::Gif => 0,
        }
    }
}

impl FromStr for ImageFormat {
    type Err = ImageError;

    /// Parses a format name case-insensitively, with or without a leading dot.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let name = text.strip_prefix('.').unwrap_or(text).to_ascii_lowercase();
        match name.as_str() {
            "webp" => Ok(Self::Webp),
            "avif" => Ok(Self::Avif),
            "jpg" | "jpeg" => Ok(Self::Jpg),
            "png" => Ok(Self::Png),
            "gif" => Ok(Self::Gif),
            _ => Err(ImageError::UnsupportedFormat(text.to_owned())),
        }
    }
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

/// Parsed `/img` options: width, height (0 means "auto") and quality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImageOptions {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub quality: Option<u32>,
}

impl ImageOptions {
    /// Parses an option string such as `q80_h200_w300`.
    ///
    /// Tokens are separated by `_`; each is `w`, `h` or `q` followed by decimal digits. A repeated
    /// option keeps its last value. The empty string parses to no options; callers that need at
    /// least one use [`ImageOptions::parse_required`].
    pub fn parse(text: &str) -> Result<Self, ImageError> {
        let mut options = Self::default();
        if text.is_empty() {
            return Ok(options);
        }
        for token in text.split('_') {
            let mut chars = token.chars();
            let prefix = chars.next().ok_or_else(|| ImageError::MalformedOption(token.to_owned()))?;
            let digits = chars.as_str();
            if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(ImageError::MalformedOption(token.to_owned()));
            }
            let value: u64 = digits.parse().map_err(|_| ImageError::MalformedOption(token.to_owned()))?;
            match prefix {
                'w' | 'h' => {
                    if value > u64::from(MAX_IMAGE_DIMENSION) {
                        return Err(ImageError::DimensionOutOfRange(token.to_owned()));
                    }
                    let value = value as u32;
                    if prefix == 'w' {
                        options.width = Some(value);
                    } else {
                        options.height = Some(value);
                    }
                }
                'q' => {
                    if !(1..=100).contains(&value) {
                        return Err(ImageError::QualityOutOfRange(token.to_owned()));
                    }
                    options.quality = Some(value as u32);
                }
                _ => return Err(ImageError::UnknownOption(token.to_owned())),
            }
        }
        Ok(options)
    }

    /// Parses an option string that must name at least one option, as `/img` requires.
    pub fn parse_required(text: &str) -> Result<Self, ImageError> {
        if text.is_empty() {
            return Err(ImageError::EmptyOptions);
        }
        Self::parse(text)
    }

    /// Returns the canonical option string: `w`, `h`, `q` in that order, present options only.
    pub fn canonical(&self) -> String {
        let mut parts = Vec::with_capacity(3);
        if let Some(width) = self.width {
            parts.push(format!("w{width}"));
        }
        if let Some(height) = self.height {
            parts.push(format!("h{height}"));
        }
        if let Some(quality) = self.quality {
            parts.push(format!("q{quality}"));
        }
        parts.join("_")
    }

    /// Quality that will be used for `format`: the explicit one, else the format's default.
    pub fn effective_quality(&self, format: ImageFormat) -> u32 {
        self.quality.unwrap_or_else(|| format.default_quality())
    }
}

/// Source key and output format taken from the tail of an `/img` URL, such as
/// `photos%2Fcat.jpg.webp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSource {
    pub key: ObjectKey,
    pub format: ImageFormat,
}

impl ImageSource {
    /// Splits an encoded source path at its last `.`, checking the format before decoding the key.
    pub fn parse(encoded: &str) -> Result<Self, ImageError> {
        let Some((encoded_key, format)) = encoded.rsplit_once('.') else {
            return Err(ImageError::MissingFormat(encoded.to_owned()));
        };
        if format.is_empty() || format.contains('/') {
            return Err(ImageError::MissingFormat(encoded.to_owned()));
        }
        let format = format.parse()?;
        let key = ObjectKey::from_url_path(encoded_key)?;
        Ok(Self { key, format })
    }

    /// Builds the source from a decoded key and a format name.
    pub fn new(key: ObjectKey, format: ImageFormat) -> Self {
        Self { key, format }
    }

    /// Returns the signed payload: the decoded key, a dot and the canonical format.
    pub fn canonical(&self) -> String {
        format!("{}.{}", self.key, self.format.extension())
    }
}

/// Hex SHA-256 naming a processed image in the media bucket's `cache/` folder.
///
/// The hashed text is `{key}/w{W}_h{H}_q{Q}.{ext}`, with 0 for an absent width or height and the
/// effective quality, so equivalent requests share one cached object.
pub fn processing_hash(source: &ImageSource, options: &ImageOptions) -> String {
    let text = format!(
        "{}/w{}_h{}_q{}.{}",
        source.key,
        options.width.unwrap_or(0),
        options.height.unwrap_or(0),
        options.effective_quality(source.format),
        source.format.extension()
    );
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Percent-decodes the option segment of an `/img` URL, which may be escaped by some clients.
pub fn decode_options_segment(raw: &str) -> Result<String, ImageError> {
    percent_decode_strict(raw).map_err(|_| ImageError::MalformedOption(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn options_canonical_order() {
        assert_eq!(ImageOptions::parse("w300_h200_q80").unwrap().canonical(), "w300_h200_q80");
        assert_eq!(ImageOptions::parse("q80_h200_w300").unwrap().canonical(), "w300_h200_q80");
        assert_eq!(ImageOptions::parse("h200_w300").unwrap().canonical(), "w300_h200");
        assert_eq!(ImageOptions::parse("").unwrap().canonical(), "");
        assert_eq!(ImageOptions::parse("w1_w2").unwrap().canonical(), "w2");
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn options_rejected() {
        for text in ["x100", "w-1", "qabc", "q0", "q101", "w", "w+5", "w300__h2", "w99999", "_"] {
            assert!(ImageOptions::parse(text).is_err(), "{text:?} should be rejected");
        }
        for text in ["w300", "w300_h200", "w300_h200_q80", "q50", "w0"] {
            assert!(ImageOptions::parse(text).is_ok(), "{text:?} should be accepted");
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn format_aliases() {
        for text in ["webp", ".webp", "WEBP", "avif", "png", "gif", ".gif"] {
            assert!(text.parse::<ImageFormat>().is_ok(), "{text:?}");
        }
        assert_eq!("jpeg".parse::<ImageFormat>().unwrap().extension(), "jpg");
        assert_eq!(".jpeg".parse::<ImageFormat>().unwrap(), ImageFormat::Jpg);
        assert!("bmp".parse::<ImageFormat>().is_err());
        assert!("".parse::<ImageFormat>().is_err());
        assert_eq!(ImageFormat::Avif.mime_type(), "image/avif");
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn source_path_canonical() {
        let encoded = ImageSource::parse("uploads/My%20Image.png.webp").unwrap();
        let plain = ImageSource::parse("uploads/My Image.png.webp").unwrap();
        assert_eq!(encoded.canonical(), "uploads/My Image.png.webp");
        assert_eq!(plain.canonical(), encoded.canonical());
        assert_eq!(ImageSource::parse("uploads/demo.jpg.jpeg").unwrap().canonical(), "uploads/demo.jpg.jpg");
        assert!(ImageSource::parse("uploads/demo").is_err());
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn quality_defaults() {
        let options = ImageOptions::parse("w300").unwrap();
        assert_eq!(options.effective_quality(ImageFormat::Webp), 80);
        assert_eq!(ImageOptions::parse("q42").unwrap().effective_quality(ImageFormat::Webp), 42);
    }
}
